"""A mail run that dies, on both backends: killed at its write (before or, on Google, after
Google applied it), or a message read twice (a crash, a UIDVALIDITY change) — the next run
files every message exactly once, loses none, and sends what the rows ask for."""

from __future__ import annotations

from datetime import date

import pytest

from sheets_sync import jobs
from sheets_sync.emailer import SmtpSettings
from tests.content_world import HEAD, NODAL, NOW, Mailbox, content_rows, later, mail_log, tracker_for
from tests.test_email import server  # noqa: F401 - the aiosmtpd fixture
from tests.trackers import records


class Killed(Exception):
    """The process died here."""


@pytest.fixture
def world(harness, roster_file, monkeypatch):
    for name, value in harness.env.items():
        monkeypatch.setenv(name, value)
    return harness, tracker_for(harness, roster_file), Mailbox()


def _mails(box):
    box.deliver(subject="Health camp in ward 5", planned=date(2026, 12, 3))
    box.deliver(subject="Tender notice", sender=HEAD)
    box.deliver(sender="stranger@gmail.example", subject="hello")


def _kill_writes(monkeypatch, harness, *, calls: int = 1):
    """The session's write raises, as a process killed at that instant would stop."""
    session_class = type(harness.backend().open(_schema(), write=False))
    real = session_class.apply
    seen = {"n": 0}

    def apply(self, changes):
        seen["n"] += 1
        if seen["n"] <= calls:
            raise Killed("killed at the write")
        return real(self, changes)

    monkeypatch.setattr(session_class, "apply", apply)
    return seen


def _schema():
    from sheets_sync.schema import load_schema

    return load_schema()


def _state(harness):
    return {r["Source"]: r["Checkpoint"] for r in records(harness.values("Sync State"))}


def test_a_run_killed_at_its_write_files_nothing_and_the_next_files_each_message_once(
        world, server, monkeypatch):  # noqa: F811
    harness, tracker, box = world
    _mails(box)
    _kill_writes(monkeypatch, harness)
    with pytest.raises(Killed):
        jobs.mail(tracker, box.fetch, now=NOW, send=SmtpSettings.from_env())
    assert content_rows(harness) == {} and mail_log(harness) == [] and "mail" not in _state(harness)
    assert server.messages == []
    jobs.mail(tracker, box.fetch, now=later(0.1), send=SmtpSettings.from_env())
    assert box.fetches == [None, None]  # the checkpoint did not move: the same messages again
    assert list(content_rows(harness)) == ["CR-0001", "CR-0002"]
    assert [r["Filed as"] for r in mail_log(harness)] == ["request CR-0001", "request CR-0002", "ignored"]
    assert _state(harness)["mail"] == "1700000000:3"
    # Each acknowledgement once; CR-0001's is late (to its head too).
    assert sorted(rcpts[0] for _, rcpts, _ in server.messages) == sorted([NODAL, HEAD, HEAD])


def test_a_run_killed_between_its_write_and_sending_sends_on_the_next_run(
        world, server, monkeypatch):  # noqa: F811
    harness, tracker, box = world
    _mails(box)
    import sheets_sync.content_run as content_run

    real = content_run.send_messages

    def killed(*args, **kwargs):
        raise Killed("killed before sending")

    monkeypatch.setattr(content_run, "send_messages", killed)
    with pytest.raises(Killed):
        jobs.mail(tracker, box.fetch, now=NOW, send=SmtpSettings.from_env())
    assert list(content_rows(harness)) == ["CR-0001", "CR-0002"] and server.messages == []
    monkeypatch.setattr(content_run, "send_messages", real)
    run = jobs.mail(tracker, box.fetch, now=later(0.5), send=SmtpSettings.from_env())
    assert run.plan.filed == []  # nothing read twice
    assert len(server.messages) == 3
    jobs.mail(tracker, box.fetch, now=later(1), send=SmtpSettings.from_env())
    assert len(server.messages) == 3  # the Sync Log says they were delivered


def test_a_message_read_again_files_nothing_twice(world, server):  # noqa: F811
    harness, tracker, box = world
    _mails(box)
    jobs.mail(tracker, box.fetch, now=NOW, send=SmtpSettings.from_env())
    box.renumber(1800000000)  # the server renumbered the folder: every message again, new UIDs
    run = jobs.mail(tracker, box.fetch, now=later(1), send=SmtpSettings.from_env())
    assert len(run.plan.skipped) == 3 and run.plan.filed == []
    assert len(mail_log(harness)) == 3 and list(content_rows(harness)) == ["CR-0001", "CR-0002"]
    assert _state(harness)["mail"] == "1800000000:102"
    # A fetcher that ignores the checkpoint altogether (a crash of the reader) changes nothing.
    jobs.mail(tracker, lambda checkpoint: (box.mails, "1800000000:102"), now=later(2),
              send=SmtpSettings.from_env())
    assert len(mail_log(harness)) == 3 and len(server.messages) == 3


@pytest.mark.parametrize("kind", ["503", "drop"])
def test_google_applied_a_request_but_the_answer_was_lost(google, roster_file, monkeypatch, kind):
    """Each Sheets write request of a mail run in turn (structure, lock, the write) lands and
    the run sees an error: the next run finds what landed and files nothing twice."""
    from tests.test_faults import WRITE

    for name, value in google.env.items():
        monkeypatch.setenv(name, value)
    tracker = tracker_for(google, roster_file)
    box = Mailbox()
    writes = []
    google.server.on_request(lambda info, phase: writes.append(info) if phase == "before" and
                             info.method == "POST" and info.path.endswith(":batchUpdate") else None)
    box.deliver(subject="Programme first", sender=NODAL)
    jobs.mail(tracker, box.fetch, now=NOW)  # makes the tabs; then count a plain run's writes
    writes.clear()
    box.deliver(subject="Programme counted", sender=NODAL)
    jobs.mail(tracker, box.fetch, now=NOW)
    count = len(writes)
    assert count >= 1  # the write (the lock and its removal travel with the requests around it)
    google.server.reset_knobs()
    expected = 2
    for skip in range(count):
        box.deliver(subject=f"Programme {skip}", sender=NODAL)
        expected += 1
        if kind == "503":
            google.server.fail_next(status=503, method="POST", path=WRITE, when="after", skip=skip)
        else:
            google.server.drop_next(method="POST", path=WRITE, when="after", skip=skip)
        try:
            jobs.mail(tracker, box.fetch, now=later(skip))
        except Exception:  # noqa: BLE001 - whatever the client made of it: the run stops
            pass
        google.server.reset_knobs()
        jobs.mail(tracker, box.fetch, now=later(skip + 0.5))
        assert len(content_rows(google)) == expected, skip
        assert [r["Filed as"] for r in mail_log(google)] == [f"request CR-{n:04d}" for n in
                                                             range(1, expected + 1)], skip


@pytest.fixture
def google(request, tmp_path):
    from tests.trackers import GoogleHarness

    return GoogleHarness.make(request, tmp_path)
