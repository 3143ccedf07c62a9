"""Exactly once under faults, on both backends: a run killed at every step between deciding
and recording, an answer lost after the reply landed, two publishes at once, 200 replies
with one platform throttled midway (and the tracker's request count on Google)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sheets_sync import jobs
from sheets_sync.errors import Busy
from sheets_sync.publish.base import Reply
from sheets_sync.publishing import Action, Settings
from sheets_sync.publishing_run import perform
from sheets_sync.schema import load_schema
from sheets_sync.sources import FileSource
from sheets_sync.sync import run_sync
from tests.fake_publisher import fake_publishers
from tests.helpers import comment, post, write_export
from tests.test_publish import NOW, REPLY, SCHEMA, World, approve
from tests.trackers import records


class Killed(BaseException):
    """The process dies here: nothing after it runs (not an Exception: nothing catches it)."""


class Dying:
    """A backend whose session dies at its ``n``-th apply, before or after writing."""

    def __init__(self, backend, n: int, after: bool) -> None:
        self.backend, self.n, self.after = backend, n, after
        self.location = backend.location

    def open(self, schema, *, write):
        session = self.backend.open(schema, write=write)
        outer = self
        real_apply = session.apply
        count = [0]

        def apply(changes):
            count[0] += 1
            if count[0] == outer.n and not outer.after:
                raise Killed
            real_apply(changes)
            if count[0] == outer.n and outer.after:
                raise Killed
        session.apply = apply
        return session


@pytest.fixture
def world(harness, roster_file, tmp_path):
    return World(harness, roster_file, tmp_path)


def _publish(world, backend, minutes):
    world.now = NOW + timedelta(minutes=minutes)
    return run_sync(backend, [], SCHEMA, roster_path=world.roster_file, now=world.now, command="publish",
                    publishers=world.publishers, sleep=lambda s: None)


# Every step between deciding to post and recording it: (where the run dies, how).
STEPS = ["before the intent's write", "after the intent's write", "before the platform took it",
         "after the platform took it", "before the outcome's write", "after the outcome's write"]


@pytest.mark.parametrize("step", STEPS)
def test_killed_at_every_step_then_exactly_one_reply(world, step):
    approve(world)
    backend = world.harness.backend()
    fake = world.fakes["facebook"]
    if step == "before the intent's write":
        backend = Dying(backend, 1, after=False)
    elif step == "after the intent's write":
        backend = Dying(backend, 1, after=True)
    elif step == "before the outcome's write":
        backend = Dying(backend, 2, after=False)
    elif step == "after the outcome's write":
        backend = Dying(backend, 2, after=True)
    else:
        wanted = "post" if step == "before the platform took it" else "landed"

        def die(what, reply):
            if what == wanted:
                raise Killed
        fake.hook = die
    with pytest.raises(Killed):
        _publish(world, backend, 1)
    fake.hook = None
    landed = len(world.posted())
    # The next runs: one soon after (an intent that young waits if the reply is not seen),
    # one after the settle time; then every later run changes nothing.
    waits = step in ("after the intent's write", "before the platform took it")
    assert landed == (0 if waits or step == STEPS[0] else 1)
    for minutes in (2, 13, 14):
        world.publish(minutes)
        assert len(world.posted()) == (0 if waits and minutes == 2 else 1)
    held = world.posted()
    assert len(held) == 1 and held[0].text == REPLY
    row = world.row("C1")
    assert row["Reply id"] == held[0].posted.reply_id and row["Publish"].startswith("posted")
    assert row["Status"] == "Replied"
    posts = [c for c in fake.calls if c[0] == "post"]
    # One call to the platform, and a second only where the first never reached it.
    assert len(posts) == (2 if step == "before the platform took it" else 1)
    assert records(world.harness.values("Comments")).count(row) == 1


def test_uncertain_after_landing_is_recorded_from_the_platform_not_sent_again(world):
    approve(world)
    fake = world.fakes["facebook"]
    fake.uncertain_after.add("C1")
    result = world.publish(1)
    assert result.summary()["publishing"]["uncertain"]
    row = world.row("C1")
    assert row["Publish"].startswith("sending since") and "never sends it twice" in row["Sync notes"]
    fake.uncertain_after.clear()
    world.publish(2)  # young, but the platform shows it: recorded at once
    held = world.posted()
    assert len(held) == 1 and world.row("C1")["Reply id"] == held[0].posted.reply_id
    assert [c for c in fake.calls if c[0] == "post"] == [("post", "C1")]
    assert ("find", "C1") in fake.calls


def test_uncertain_before_landing_is_sent_again_only_after_the_settle_time(world):
    approve(world)
    fake = world.fakes["facebook"]
    fake.fail_before.add("C1")
    world.publish(1)
    fake.fail_before.clear()
    world.publish(5)
    assert world.posted() == [] and world.row("C1")["Publish"].startswith("sending since")
    world.publish(12)
    assert len(world.posted()) == 1 and world.row("C1")["Status"] == "Replied"


def test_a_broken_check_leaves_the_row_sending(world):
    approve(world)
    world.fakes["facebook"].uncertain_after.add("C1")
    world.publish(1)

    def broken(what, reply):
        if what == "find":
            raise ConnectionError("graph.facebook.com: connection reset")
    world.fakes["facebook"].hook = broken
    world.publish(20)
    row = world.row("C1")
    assert row["Publish"].startswith("sending since") and "could not check" in row["Sync notes"]
    world.fakes["facebook"].hook = None
    world.publish(21)
    assert len(world.posted()) == 1 and world.row("C1")["Reply id"]


def test_two_publishes_at_once_one_stops(world, monkeypatch, tmp_path):
    monkeypatch.setenv("SHEETS_SYNC_STATE_DIR", str(tmp_path / "state"))
    approve(world)
    tracker = jobs.Tracker(world.harness.tracker_arg, roster_path=str(world.roster_file),
                           credentials=world.harness.env.get("GOOGLE_APPLICATION_CREDENTIALS"))
    second = []

    def meanwhile(what, reply):
        if what == "post" and not second:
            try:
                jobs.publish(tracker, world.publishers, sleep=lambda s: None)
                second.append("ran")
            except Busy as exc:
                second.append(exc)
    world.fakes["facebook"].hook = meanwhile
    jobs.publish(tracker, world.publishers, sleep=lambda s: None)
    assert isinstance(second[0], Busy) and second[0].exit_code == 6
    assert len(world.posted()) == 1


def test_a_run_stops_sending_before_its_intents_could_look_lapsed():
    publishers, fakes = fake_publishers(lambda: NOW)
    ticks = iter(range(0, 10_000, 100))  # each clock reading 100 s later
    actions = [Action("post", ("x", f"C{i}"), Reply("x", f"C{i}", "P", "", "a", f"reply {i}"), "SWM")
               for i in range(10)]
    out = perform(actions, publishers, Settings(settle=timedelta(minutes=10)), sleep=lambda s: None,
                  clock=lambda: next(ticks))
    sent = [k for k, v in out.items() if not hasattr(v, "why")]
    assert 0 < len(sent) < 10 and len(fakes["x"].replies) == len(sent)


def _bulk_reply(harness, replies: dict[str, str]) -> None:
    """Type many replies at once, as a person pasting a column."""
    values = harness.values("Comments")
    head = values[0]
    k, r = head.index("Comment ID"), head.index("Reply")
    column = [[replies.get(row[k], row[r])] for row in values[1:]]
    if harness.kind == "xlsx":
        import openpyxl

        wb = openpyxl.load_workbook(harness.path)
        for i, (value,) in enumerate(column, start=2):
            wb["Comments"].cell(i, r + 1).value = value
        wb.save(harness.path)
    else:
        from tests.trackers import _letter, _q

        harness.person.edit(harness.sid, f"{_q('Comments')}!{_letter(r)}2:{_letter(r)}{len(column) + 1}",
                            column, raw=True)


def test_200_replies_one_platform_throttled_midway(harness, roster_file, tmp_path):
    platforms = ("facebook", "instagram", "youtube", "x")
    posts = [post(f"P{p}", "कचरा #SwachhMahanagar", platform=p) for p in platforms]
    comments = [comment(f"C{i:03}", f"P{platforms[i % 4]}", f"तक्रार {i} 😡", platform=platforms[i % 4])
                for i in range(200)]
    export = write_export(tmp_path / "export", posts, comments)
    text = SCHEMA.path.read_text(encoding="utf-8").replace("publish_without_approval: []",
                                                          "publish_without_approval: [SWM]")
    (tmp_path / "schema.yaml").write_text(text, encoding="utf-8")
    schema = load_schema(tmp_path / "schema.yaml")
    run_sync(harness.backend(), [FileSource(export)], schema, roster_path=roster_file, now=NOW)
    publishers, fakes = fake_publishers(lambda: NOW)

    def publish(minutes):
        return run_sync(harness.backend(), [], schema, roster_path=roster_file,
                        now=NOW + timedelta(minutes=minutes), command="publish", publishers=publishers,
                        sleep=lambda s: None)

    publish(1)  # nothing typed yet: the usual run, measured
    server = getattr(harness, "server", None)
    if server is not None:
        server.clear_requests()
        publish(2)
        usual = len(server.requests)
    _bulk_reply(harness, {c["comment_id"]: f"उत्तर {c['comment_id']} 🙏" for c in comments})
    fakes["x"].stop_after = 20  # X throttles after 20 of its 50
    if server is not None:
        server.clear_requests()
    result = publish(3)
    if server is not None:
        print("requests: usual", usual, "with 200 replies", len(server.requests))
        assert len(server.requests) <= usual + 1, [r.get("path") for r in server.requests]
    done = result.summary()["publishing"]
    assert done["posted"] == 170 and len(done["refused"]) == 1 and len(done["not_sent"]) == 29
    for name in ("facebook", "instagram", "youtube"):
        assert len(fakes[name].replies) == 50
    assert len(fakes["x"].replies) == 20
    rows = {r["Comment ID"]: r for r in records(harness.values("Comments"))}
    x_rows = [rows[f"C{i:03}"] for i in range(200) if i % 4 == 3]
    assert sum(r["Publish"].startswith("posted") for r in x_rows) == 20
    queued = ("approved: not sent yet", "refused (throttled)")
    assert sum(r["Publish"].startswith(queued) for r in x_rows) == 30
    fakes["x"].stop_after = None
    publish(20)
    assert len(fakes["x"].replies) == 50
    assert all(len(f.under(c["comment_id"])) == 1 for f in fakes.values() for c in comments
               if c["platform"] == f.name)
    assert sum(1 for r in records(harness.values("Comments")) if r["Reply id"]) == 200
