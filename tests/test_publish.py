"""Publishing approved replies, on both backends: approval states, posted once and recorded,
refusals, hide and unhide, the commands."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from sheets_sync import jobs
from sheets_sync.publish.base import Refused
from sheets_sync.publishing import fingerprint
from sheets_sync.schema import load_schema
from sheets_sync.sources import FileSource
from sheets_sync.sync import run_sync
from sheets_sync.timeutil import parse_timestamp, to_sheet
from tests.fake_publisher import fake_publishers
from tests.helpers import comment, post, write_export
from tests.trackers import records

NOW = parse_timestamp("2026-11-26T12:00:00+05:30")
SCHEMA = load_schema()
REPLY = "नमस्कार, घंटागाडी उद्या सकाळी येईल 🙏 — SWM"


class World:
    """A tracker with four comments (one per platform), the fake platforms and a clock."""

    def __init__(self, harness, roster_file, tmp_path) -> None:
        self.harness, self.roster_file = harness, roster_file
        self.now = NOW
        self.publishers, self.fakes = fake_publishers(lambda: self.now + timedelta(seconds=5))
        posts = [post("P1", "घंटागाडी वेळापत्रक #SwachhMahanagar"),
                 post("P2", "कचरा #SwachhMahanagar", platform="instagram"),
                 post("P3", "कचरा #SwachhMahanagar", platform="youtube"),
                 post("P4", "कचरा #SwachhMahanagar", platform="x")]
        comments = [comment("C1", "P1"), comment("C2", "P2", platform="instagram"),
                    comment("C3", "P3", platform="youtube"), comment("C4", "P4", platform="x")]
        self.export = write_export(tmp_path / "export", posts, comments)
        run_sync(harness.backend(), [FileSource(self.export)], SCHEMA, roster_path=roster_file, now=NOW)

    def publish(self, minutes: float = 0, **kw):
        self.now = NOW + timedelta(minutes=minutes)
        return run_sync(self.harness.backend(), [], SCHEMA, roster_path=self.roster_file, now=self.now,
                        command="publish", publishers=kw.pop("publishers", self.publishers),
                        sleep=lambda s: None, **kw)

    def type(self, cid: str, header: str, value: str) -> None:
        self.harness.type_in("Comments", "Comment ID", cid, header, value)

    def row(self, cid: str) -> dict:
        return {r["Comment ID"]: r for r in records(self.harness.values("Comments"))}[cid]

    def posted(self, platform: str = "facebook", cid: str = "C1") -> list:
        return self.fakes[platform].under(cid)


@pytest.fixture
def world(harness, roster_file, tmp_path):
    return World(harness, roster_file, tmp_path)


def approve(world, cid="C1", text=REPLY, minutes=0):
    """Type the reply, let a run show it for approval, then tick Approve."""
    world.type(cid, "Reply", text)
    world.publish(minutes)
    assert world.row(cid)["Publish"] == "waiting for approval"
    world.type(cid, "Approve", "TRUE")


def test_approved_reply_is_posted_once_and_recorded(world):
    approve(world)
    result = world.publish(1)
    held = world.posted()
    assert [h.text for h in held] == [REPLY]  # exactly as typed: Marathi, emoji, dash
    row = world.row("C1")
    at = to_sheet(held[0].posted.posted_at)
    assert row["Publish"] == f"posted {at}"
    assert row["Reply id"] == held[0].posted.reply_id and row["Reply link"] == held[0].posted.url
    assert row["Status"] == "Replied" and row["Replied at (IST)"] == at
    assert row["Approved"].startswith(fingerprint(REPLY) + " approved ")
    assert result.summary()["publishing"]["posted"] == 1
    world.publish(2)
    world.publish(30)
    assert len(world.posted()) == 1 and ("post", "C1") in world.fakes["facebook"].calls
    assert [c for c in world.fakes["facebook"].calls if c[0] == "post"] == [("post", "C1")]


def test_not_approved_is_not_posted(world):
    world.type("C1", "Reply", REPLY)
    for minutes in (0, 5, 60):
        world.publish(minutes)
    assert world.posted() == [] and world.row("C1")["Publish"] == "waiting for approval"
    assert world.fakes["facebook"].calls == []


def test_approval_withdrawn_before_the_run_posts_nothing(world):
    approve(world)
    world.type("C1", "Approve", "FALSE")
    world.publish(1)
    assert world.posted() == [] and world.row("C1")["Publish"] == "waiting for approval"


def test_tick_before_the_reply_was_shown_needs_a_new_tick(world):
    world.type("C1", "Reply", REPLY)
    world.type("C1", "Approve", "TRUE")  # ticked before any run showed this text
    world.publish()
    row = world.row("C1")
    assert world.posted() == [] and row["Publish"].startswith("reply changed")
    assert row["Approve"] == ""  # the tick approved nothing: cleared, so the next one counts
    world.type("C1", "Approve", "TRUE")
    world.publish(1)
    assert [h.text for h in world.posted()] == [REPLY]


def test_reply_edited_after_approval_waits_for_a_new_approval(world):
    approve(world)
    world.type("C1", "Reply", REPLY + " (edited)")  # edited before the run saw the tick
    world.publish(1)
    assert world.posted() == [] and world.row("C1")["Publish"].endswith("approve again")
    world.type("C1", "Approve", "TRUE")
    world.fakes["facebook"].stop_after = 0  # throttled: the approval is recorded, not sent
    world.publish(2)
    assert world.row("C1")["Publish"].startswith("refused (throttled)")
    world.fakes["facebook"].stop_after = None
    world.type("C1", "Reply", REPLY + " (edited twice)")  # edited after the approval was recorded
    world.publish(3)
    row = world.row("C1")
    assert world.posted() == []
    assert row["Publish"] == "reply changed after approval: approve again" and row["Approve"] == ""
    world.type("C1", "Approve", "TRUE")
    world.publish(4)
    assert [h.text for h in world.posted()] == [REPLY + " (edited twice)"]


def test_too_long_is_refused_before_approval(world):
    long_reply = "क" * 281
    world.type("C4", "Reply", long_reply)
    world.type("C4", "Approve", "TRUE")
    world.publish()
    row = world.row("C4")
    assert row["Publish"] == "too long for X: 281 of 280" and row["Approve"] == ""
    world.type("C4", "Approve", "TRUE")
    world.publish(1)
    assert world.posted("x", "C4") == [] and world.row("C4")["Approve"] == ""
    world.type("C4", "Reply", "क" * 280)
    world.publish(2)
    assert world.row("C4")["Publish"] == "waiting for approval"
    world.type("C4", "Approve", "TRUE")
    world.publish(3)
    assert [h.text for h in world.posted("x", "C4")] == ["क" * 280]


def test_department_without_approval_goes_out_at_once(world, tmp_path):
    text = SCHEMA.path.read_text(encoding="utf-8").replace("publish_without_approval: []",
                                                          "publish_without_approval: [SWM]")
    (tmp_path / "schema.yaml").write_text(text, encoding="utf-8")
    schema = load_schema(tmp_path / "schema.yaml")
    world.type("C1", "Reply", REPLY)
    run_sync(world.harness.backend(), [], schema, roster_path=world.roster_file, now=NOW, command="publish",
             publishers=world.publishers, sleep=lambda s: None)
    assert [h.text for h in world.posted()] == [REPLY]


def test_refused_reply_is_said_and_stays_queued(world):
    world.fakes["facebook"].refuse["C1"] = Refused(
        "permission", "the token lacks pages_manage_engagement: renew SHEETS_SYNC_FACEBOOK_PUBLISH_TOKEN")
    approve(world)
    result = world.publish(1)
    row = world.row("C1")
    assert row["Publish"].startswith("refused (permission)") and "pages_manage_engagement" in row["Publish"]
    assert "pages_manage_engagement" in row["Sync notes"]
    log = records(world.harness.values("Sync Log"))[-1]
    assert "pages_manage_engagement" in log["Errors and warnings"] and log["Command"] == "publish"
    assert result.summary()["publishing"]["refused"]
    del world.fakes["facebook"].refuse["C1"]
    world.publish(2)  # a permission is fixed by the token: tried again next run
    assert len(world.posted()) == 1 and world.row("C1")["Status"] == "Replied"


def test_gone_comment_waits_for_a_new_approval(world):
    world.fakes["facebook"].refuse["C1"] = Refused("gone", "the comment was deleted on Facebook")
    approve(world)
    world.publish(1)
    world.publish(2)
    assert [c for c in world.fakes["facebook"].calls if c[0] == "post"] == [("post", "C1")]
    assert world.row("C1")["Publish"].startswith("refused (gone)")


def test_hide_and_unhide(world):
    world.type("C2", "Status", "Hide")
    world.publish()
    assert world.fakes["instagram"].hidden == {"C2": True}
    assert world.row("C2")["Publish"] == f"hidden {to_sheet(world.now)}"
    world.publish(1)
    assert world.fakes["instagram"].calls == [("hide", "C2")]  # recorded: not hidden again
    world.type("C2", "Status", "Pending")
    world.publish(2)
    assert world.fakes["instagram"].hidden == {"C2": False}
    assert world.row("C2")["Publish"].startswith("shown again")


def test_reply_edited_during_the_run_posts_what_was_approved(world):
    if world.harness.kind == "xlsx":
        pytest.skip("a workbook is not edited during a run: the job will not write one that is open")
    approve(world)

    def edit(step, reply):
        if step == "post":  # between the run's read and its last write
            world.type("C1", "Reply", "someone typed this during the run")
    world.fakes["facebook"].hook = edit
    world.publish(1)
    world.fakes["facebook"].hook = None
    assert [h.text for h in world.posted()] == [REPLY]
    assert world.row("C1")["Reply"] == "someone typed this during the run"
    world.publish(2)
    row = world.row("C1")
    assert "now differs from the reply posted" in row["Sync notes"] and row["Publish"].startswith("posted")
    assert len(world.posted()) == 1


def test_sync_without_publishers_leaves_publishing_alone(world):
    world.type("C1", "Reply", REPLY)
    world.type("C1", "Approve", "TRUE")
    result = run_sync(world.harness.backend(), [FileSource(world.export)], SCHEMA,
                      roster_path=world.roster_file, now=NOW)
    assert "publishing" not in result.summary() and world.row("C1")["Publish"] == ""


def test_publish_dry_run_lists_and_posts_nothing(world, monkeypatch):
    approve(world)
    monkeypatch.setattr(jobs, "open_publishers", lambda spec: world.publishers)
    args = ["publish", "--tracker", world.harness.tracker_arg, "--roster", str(world.roster_file),
            "--dry-run"]
    out = CliRunner().invoke(jobs_cli(), args, env=world.harness.env, catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert "1 call(s) to the platforms, nothing posted" in out.output and "facebook: 1" in out.output
    assert world.posted() == [] and world.row("C1")["Publish"] == "waiting for approval"
    out = CliRunner().invoke(jobs_cli(), args[:-1] + ["--json"], env=world.harness.env,
                             catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["posted"] == 1 and len(world.posted()) == 1
    out = CliRunner().invoke(jobs_cli(), ["replies", "--tracker", world.harness.tracker_arg, "--json",
                                          "--as-of", to_sheet(world.now)[:10]],
                             env=world.harness.env, catch_exceptions=False)
    queue = json.loads(out.output)
    assert [r["comment_id"] for r in queue["posted today"]] == ["C1"] and queue["refused"] == []


def test_expired_token_is_exit_5_and_stops_that_platform_only(world, monkeypatch):
    world.fakes["facebook"].refuse["C1"] = Refused(
        "token", "SHEETS_SYNC_FACEBOOK_PUBLISH_TOKEN has expired: renew it", stops_platform=True)
    for cid in ("C1", "C2"):
        approve(world, cid, "धन्यवाद, आम्ही पाहतो")
    monkeypatch.setattr(jobs, "open_publishers", lambda spec: world.publishers)
    out = CliRunner().invoke(jobs_cli(), ["publish", "--tracker", world.harness.tracker_arg],
                             env=world.harness.env, catch_exceptions=False)
    assert out.exit_code == 5
    assert "Error: facebook: SHEETS_SYNC_FACEBOOK_PUBLISH_TOKEN has expired" in out.output
    assert len(world.posted("instagram", "C2")) == 1 and world.posted() == []
    out = CliRunner().invoke(jobs_cli(), ["replies", "--tracker", world.harness.tracker_arg],
                             env=world.harness.env, catch_exceptions=False)
    assert "Refused: 1" in out.output


def jobs_cli():
    from sheets_sync.cli import main

    return main


def test_sync_with_publishers_publishes_after_its_own_work(world, monkeypatch, tmp_path):
    monkeypatch.setenv("SHEETS_SYNC_STATE_DIR", str(tmp_path / "state"))
    approve(world)
    log_rows = len(records(world.harness.values("Sync Log")))
    tracker = jobs.Tracker(world.harness.tracker_arg, roster_path=str(world.roster_file),
                           credentials=world.harness.env.get("GOOGLE_APPLICATION_CREDENTIALS"))
    result = jobs.sync(tracker, f"files:{world.export}", publishers=list(world.publishers.values()))
    assert result.summary()["publishing"]["posted"] == 1 and len(world.posted()) == 1
    log = records(world.harness.values("Sync Log"))
    assert len(log) == log_rows + 1 and log[-1]["Command"] == "sync"  # one row for the run
    assert "replies posted: 1" in log[-1]["Errors and warnings"]
