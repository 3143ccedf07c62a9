"""A person changes a request's Status, Draft link or Planned date between the mail run's read
and its write, on both backends (#15): what they typed stays, the job's now-stale decision is
not written but said (Sync notes, the run's warnings) and planned again by the next run, and
nothing is e-mailed on the strength of what the person had just changed.

Google: the spreadsheet's owner (whom the run's lock does not stop) types in the Content tab
right before the write request. Workbook: a person saves the file between the run's load and
its save."""

from __future__ import annotations

from datetime import date

import pytest

from sheets_sync import jobs
from sheets_sync.content_settings import ASKED
from sheets_sync.emailer import SmtpSettings
from tests.content_world import (
    HEAD,
    NOW,
    Mailbox,
    content_rows,
    later,
    mail_log,
    tracker_for,
    type_in_content,
)
from tests.fake_sheets_fixtures import JOB_EMAIL
from tests.test_email import server  # noqa: F401 - the aiosmtpd fixture

LINK = "https://drive.example/d/CR-0001"
NEW_LINK = "https://drive.example/d/CR-0001-v2"


@pytest.fixture
def world(harness, roster_file, monkeypatch, server):  # noqa: F811
    for name, value in harness.env.items():
        monkeypatch.setenv(name, value)
    tracker = tracker_for(harness, roster_file)
    box = Mailbox()
    box.deliver(subject="Health camp", planned=date(2026, 12, 20))
    run(tracker, box)
    return harness, tracker, box


def run(tracker, box, when=NOW):
    return jobs.mail(tracker, box.fetch, now=when, send=SmtpSettings.from_env())


def subjects(server):  # noqa: F811
    import email
    from email import policy

    return [str(email.message_from_bytes(c, policy=policy.default)["Subject"]) for _, _, c in server.messages]


def bodies(server):  # noqa: F811
    import email
    from email import policy

    messages = [email.message_from_bytes(c, policy=policy.default) for _, _, c in server.messages]
    return [m.get_body(preferencelist=("plain",)).get_content() for m in messages]


def typed_before_the_write(harness, monkeypatch, header: str, value: str, code: str = "CR-0001") -> list:
    """``value`` typed in ``code``'s ``header`` of the Content tab once, right before the mail
    run's write: by the spreadsheet's owner on Google, by a person saving the workbook."""
    done: list = []
    if harness.kind == "google":
        from tests.trackers import OWNER, _letter, _q

        owner = harness.server.as_user(OWNER)

        def hook(info, phase):
            if done or phase != "before" or info.identity != JOB_EMAIL or not isinstance(info.body, dict):
                return
            kinds = {k for r in info.body.get("requests") or [] for k in r}
            if kinds & {"appendCells", "updateCells"} and "addProtectedRange" not in kinds:
                done.append(True)
                row, col = harness._find("Content", "Request", code, header)
                owner.edit(harness.sid, f"{_q('Content')}!{_letter(col)}{row + 1}", [[value]], raw=True)

        monkeypatch.setattr(harness, "_unhook", harness.server.on_request(hook), raising=False)
        return done
    from sheets_sync.backends.xlsx import XlsxSession

    real = XlsxSession.apply

    def apply(self, changes):
        if not done:
            done.append(True)
            type_in_content(harness, code, header, value)  # saved by LibreOffice meanwhile
        return real(self, changes)

    monkeypatch.setattr(XlsxSession, "apply", apply)
    return done


def _unhook(harness):
    getattr(harness, "_unhook", lambda: None)()


def _sent_for_approval(harness, tracker, box, server):  # noqa: F811
    type_in_content(harness, "CR-0001", "Draft link", LINK)
    type_in_content(harness, "CR-0001", "Status", "Sent for approval")
    run(tracker, box, later(1))
    server.messages.clear()


def test_an_approval_filed_while_the_cell_withdraws_the_request_leaves_withdrawn(
        world, server, monkeypatch):  # noqa: F811
    harness, tracker, box = world
    _sent_for_approval(harness, tracker, box, server)
    box.deliver(sender=HEAD, subject="Re: CR-0001", codes=("CR-0001",), received=later(2), text="APPROVE")
    done = typed_before_the_write(harness, monkeypatch, "Status", "Withdrawn")
    got = run(tracker, box, later(2.5))
    _unhook(harness)
    assert done
    row = content_rows(harness)["CR-0001"]
    assert row["Status"] == "Withdrawn"  # what the person typed
    assert row["Approved by"] == "" and row["Approved at (IST)"] == "" and row["Approval message id"] == ""
    assert "Withdrawn" in row["Sync notes"] and "Approved" in row["Sync notes"]
    # The head's answer is not lost: its words, who and when, in the request's row.
    assert HEAD in row["Later e-mails"] and "approval" in row["Later e-mails"]
    assert mail_log(harness)[-1]["Filed as"] == "approval of CR-0001"
    assert any("CR-0001" in w and "Withdrawn" in w for w in got.warnings)
    assert server.messages == []
    run(tracker, box, later(3))
    row = content_rows(harness)["CR-0001"]
    assert row["Status"] == "Withdrawn" and row["Approved by"] == "" and server.messages == []
    assert HEAD in row["Later e-mails"]


def test_a_new_draft_link_typed_while_the_approval_is_asked_is_the_one_mailed(
        world, server, monkeypatch):  # noqa: F811
    harness, tracker, box = world
    type_in_content(harness, "CR-0001", "Draft link", LINK)
    type_in_content(harness, "CR-0001", "Status", "Sent for approval")
    server.messages.clear()
    done = typed_before_the_write(harness, monkeypatch, "Draft link", NEW_LINK)
    got = run(tracker, box, later(1))
    _unhook(harness)
    assert done
    row = content_rows(harness)["CR-0001"]
    assert row["Draft link"] == NEW_LINK and row["Approval asked at (IST)"] == ""
    assert "Draft link" in row["Sync notes"]
    assert server.messages == []  # not the old link
    assert any("CR-0001" in w for w in got.warnings)
    run(tracker, box, later(1.5))
    assert [s for s in subjects(server) if "Approval asked" in s] == [
        "[sheets-sync] Approval asked: CR-0001 — Health camp"]
    assert NEW_LINK in bodies(server)[0] and LINK not in bodies(server)[0].replace(NEW_LINK, "")
    row = content_rows(harness)["CR-0001"]
    assert row["Approval asked at (IST)"] and row["Sync notes"] == ""
    run(tracker, box, later(2))
    assert len(server.messages) == 1


def test_an_ask_the_cell_takes_back_during_the_run_is_not_mailed(world, server, monkeypatch):  # noqa: F811
    harness, tracker, box = world
    type_in_content(harness, "CR-0001", "Asked of the department", "फोटो मोठ्या आकारात पाठवा")
    type_in_content(harness, "CR-0001", "Status", ASKED)
    server.messages.clear()
    done = typed_before_the_write(harness, monkeypatch, "Status", "In design")
    run(tracker, box, later(1))
    _unhook(harness)
    assert done
    row = content_rows(harness)["CR-0001"]
    assert row["Status"] == "In design" and row["Department asked at (IST)"] == ""
    assert server.messages == []
    run(tracker, box, later(2))
    assert server.messages == [] and content_rows(harness)["CR-0001"]["Department asked at (IST)"] == ""


class Killed(Exception):
    """The process died here."""


@pytest.mark.parametrize("where", ["restore", "notes"])
def test_a_run_that_dies_after_the_persons_status_won_never_overwrites_it_nor_mails(
        world, server, monkeypatch, where):  # noqa: F811
    """Faults at the exact requests that follow a conflict: on Google the write that puts the
    row's job cells back (the connection drops), on both the write of the Sync notes (the
    process dies). The person's Status stays, and no e-mail goes out on the ask they took back."""
    harness, tracker, box = world
    if where == "restore" and harness.kind != "google":
        pytest.skip("the workbook writes nothing it must put back")
    type_in_content(harness, "CR-0001", "Asked of the department", "फोटो मोठ्या आकारात पाठवा")
    type_in_content(harness, "CR-0001", "Status", ASKED)
    server.messages.clear()
    done = typed_before_the_write(harness, monkeypatch, "Status", "In design")
    if where == "restore":
        from tests.test_faults import WRITE

        armed = []

        def arm(info, phase):  # right after the main write: the next write is the restore
            if done and not armed and phase == "after" and info.identity == JOB_EMAIL \
                    and info.path.endswith(":batchUpdate"):
                armed.append(True)
                harness.server.drop_next(method="POST", path=WRITE, when="before")
        remove = harness.server.on_request(arm)
    else:
        session_class = type(harness.backend().open(_schema(), write=False))
        real, calls = session_class.apply, []

        def apply(self, changes):
            calls.append(1)
            if len(calls) == 2:  # the run's write, then the one of its notes
                raise Killed("killed")
            return real(self, changes)

        monkeypatch.setattr(session_class, "apply", apply)
    with pytest.raises(Exception) as stopped:  # noqa: B017 - whatever the run made of it, it stopped
        run(tracker, box, later(1))
    _unhook(harness)
    if where == "restore":
        remove()
        harness.server.reset_knobs()
        assert armed and "connection to Google broke" in str(stopped.value)
    else:
        monkeypatch.setattr(session_class, "apply", real)
        assert isinstance(stopped.value, Killed) and len(calls) == 2
    assert done
    assert content_rows(harness)["CR-0001"]["Status"] == "In design"
    run(tracker, box, later(2))
    run(tracker, box, later(30))
    assert content_rows(harness)["CR-0001"]["Status"] == "In design"
    assert server.messages == []


def _schema():
    from sheets_sync.schema import load_schema

    return load_schema()


def test_a_departments_answer_filed_while_the_status_changes_keeps_its_words(
        world, server, monkeypatch):  # noqa: F811
    harness, tracker, box = world
    type_in_content(harness, "CR-0001", "Asked of the department", "the ward number?")
    type_in_content(harness, "CR-0001", "Status", ASKED)
    run(tracker, box, later(1))
    box.deliver(subject="Re: CR-0001", codes=("CR-0001",), text="प्रभाग ५ 🙏", received=later(2))
    done = typed_before_the_write(harness, monkeypatch, "Status", "In design")
    run(tracker, box, later(2.5))
    _unhook(harness)
    assert done
    row = content_rows(harness)["CR-0001"]
    assert row["Status"] == "In design" and row["Department answered at (IST)"] == ""
    assert "प्रभाग ५ 🙏" in row["Later e-mails"]  # the department's words are kept
    assert "In design" in row["Sync notes"]


def test_the_owner_sorting_the_content_tab_during_the_write_moves_no_decision_to_another_request(
        google, roster_file, monkeypatch, server):  # noqa: F811
    """Google only (a workbook saved meanwhile is written by key): the owner sorts the Content
    tab between the run's read and its write; no request gets another's Status or times."""
    from tests.trackers import OWNER

    for name, value in google.env.items():
        monkeypatch.setenv(name, value)
    tracker = tracker_for(google, roster_file)
    box = Mailbox()
    box.deliver(subject="Health camp", planned=date(2026, 12, 20))
    box.deliver(subject="Tree plantation", planned=date(2026, 12, 21))
    run(tracker, box)
    for code in ("CR-0001", "CR-0002"):
        type_in_content(google, code, "Draft link", f"https://drive.example/d/{code}")
        type_in_content(google, code, "Status", "Sent for approval")
    run(tracker, box, later(1))
    before = content_rows(google)
    box.deliver(sender=HEAD, subject="Re: CR-0001", codes=("CR-0001",), received=later(2), text="APPROVE")
    done = []

    def hook(info, phase):
        if done or phase != "before" or info.identity != JOB_EMAIL or not isinstance(info.body, dict):
            return
        kinds = {k for r in info.body.get("requests") or [] for k in r}
        if kinds & {"appendCells", "updateCells"} and "addProtectedRange" not in kinds:
            done.append(True)
            column = google.values("Content")[0].index("Request")
            google.server.as_user(OWNER).sort(google.sid, "Content", column, ascending=False)

    remove = google.server.on_request(hook)
    run(tracker, box, later(2.5))
    remove()
    assert done
    assert [r[0] for r in google.values("Content")[1:]] == ["CR-0002", "CR-0001"]  # sorted, really
    rows = content_rows(google)
    assert rows["CR-0002"] == before["CR-0002"]  # nothing of CR-0001's stayed on it
    # CR-0001: the approval written again on its own row, where it now is.
    row = rows["CR-0001"]
    assert row["Status"] == "Approved" and row["Approved by"] == HEAD and row["Head's answer"] == "APPROVE"
    assert row["Sync notes"] == "" and row["Later e-mails"] == ""
    assert run(tracker, box, later(3)).plan.changes == []  # and the next run is quiet


@pytest.fixture
def google(request, tmp_path):
    from tests.trackers import GoogleHarness

    return GoogleHarness.make(request, tmp_path)
