"""The publishing plan alone (no tracker): every approval state, recovery decisions, the
settings' checks; and a tracker made before the publishing columns."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner

from sheets_sync.errors import ConfigError, TrackerError
from sheets_sync.flags import CommentRows
from sheets_sync.publish.base import Posted
from sheets_sync.publishing import (
    CHANGED_AFTER,
    CHANGED_BEFORE,
    WAITING,
    Inputs,
    Platform,
    Settings,
    checks_needed,
    fingerprint,
    parse_intent,
    plan_publishing,
    publishing_settings,
)
from sheets_sync.publishing import FIELDS as PUBLISHING_FIELDS
from sheets_sync.schema import load_schema
from sheets_sync.sources import FileSource
from sheets_sync.sync import run_sync
from sheets_sync.timeutil import parse_timestamp, to_sheet
from tests.fake_publisher import fake_publishers
from tests.helpers import comment, post, write_export
from tests.trackers import records

NOW = parse_timestamp("2026-11-26T12:00:00+05:30")
SCHEMA = load_schema()
KEY = ("x", "C1")
PLATFORMS = {"x": Platform("x", 280, len)}


def plan(row: dict, *, found=None, attempt="run2", settings=None):
    base = {"platform": "x", "comment_id": "C1", "post_id": "P1", "department": "SWM", "status": "Pending",
            "reply": "", "approve": "", "approved": "", "publish": "", "reply_id": "", "sync_notes": ""}
    rows = CommentRows(SCHEMA.tab("comments"), {KEY: {**base, **row}}, [], {KEY: 2})
    inputs = Inputs(PLATFORMS, settings or Settings(), attempt, found or {})
    result = plan_publishing(rows, inputs, SCHEMA, NOW)
    return rows[KEY], result.actions


SHOWN = f"{fingerprint('ok')} shown 2026-11-26 11:00"
APPROVED = f"{fingerprint('ok')} approved 2026-11-26 11:00"


@pytest.mark.parametrize("row, publish, approved, approve, posts", [
    ({"reply": "ok"}, WAITING, f"{fingerprint('ok')} shown 2026-11-26 12:00", "", False),
    ({"reply": "ok", "approved": SHOWN}, WAITING, SHOWN, "", False),
    ({"reply": "ok", "approved": SHOWN, "approve": "TRUE"}, "sending",
     f"{fingerprint('ok')} approved 2026-11-26 12:00", "TRUE", True),
    ({"reply": "ok", "approve": "TRUE"}, CHANGED_BEFORE, None, "", False),  # never shown
    ({"reply": "ok!", "approved": SHOWN, "approve": "TRUE"}, CHANGED_BEFORE, None, "", False),
    ({"reply": "ok", "approved": APPROVED, "approve": "TRUE"}, "sending", APPROVED, "TRUE", True),
    ({"reply": "ok", "approved": APPROVED}, WAITING, None, "", False),  # tick withdrawn
    ({"reply": "ok!", "approved": APPROVED, "approve": "TRUE"}, CHANGED_AFTER, None, "", False),
    ({"reply": "x" * 281, "approve": "TRUE"}, "too long for X: 281 of 280", "", "", False),
    ({"reply": "", "approved": SHOWN, "publish": WAITING}, "", "", "", False),
    # Refused for good: waits for a new text or a new tick.
    ({"reply": "ok", "approved": APPROVED, "approve": "TRUE",
      "publish": "refused (gone) 2026-11-26 11:01: x"}, "refused (gone)", APPROVED, "TRUE", False),
    ({"reply": "ok", "approved": APPROVED, "approve": "TRUE",
      "publish": "refused (throttled) 2026-11-26 11:01: x"}, "sending", APPROVED, "TRUE", True),
    ({"reply": "ok", "reply_id": "r1", "publish": "posted 2026-11-26 11:01", "approved": APPROVED},
     "posted", APPROVED, "", False),
])
def test_approval_states(row, publish, approved, approve, posts):
    after, actions = plan(row)
    assert after["publish"].startswith(publish)
    if approved is not None:
        assert after["approved"] == approved
    assert after["approve"] == approve
    assert bool(actions) == posts and all(a.kind == "post" for a in actions)
    if posts:
        assert actions[0].reply.text == row["reply"] and parse_intent(after["publish"]).attempt == "run2"


def test_without_approval_goes_out_at_once():
    after, actions = plan({"reply": "ok"}, settings=Settings(without_approval=frozenset({"SWM"})))
    assert actions and after["approved"].startswith(fingerprint("ok") + " approved")


def sending(minutes_ago: float, attempt="run1"):
    return {"reply": "ok", "approved": APPROVED, "approve": "TRUE",
            "publish": f"sending since {to_sheet(NOW - timedelta(minutes=minutes_ago))} (attempt {attempt})"}


def test_an_earlier_intent_is_looked_up_never_sent_blindly():
    rows = {KEY: {"platform": "x", "comment_id": "C1", **sending(3)}}
    checks = checks_needed(rows, PLATFORMS, Settings(), "run2")
    assert [c.key for c in checks] == [KEY] and checks[0].since == NOW - timedelta(minutes=8)
    assert checks_needed(rows, PLATFORMS, Settings(), "run1") == []  # its own: not sent yet
    posted = Posted("r9", "https://x.example/r9", NOW - timedelta(minutes=2))
    after, actions = plan(sending(3), found={KEY: posted})
    assert actions == () and after["reply_id"] == "r9" and after["status"] == "Replied"
    assert after["replied_at"] == to_sheet(posted.posted_at) and after["publish"].startswith("posted")
    after, actions = plan(sending(3), found={KEY: None})  # young: wait
    assert actions == () and after["publish"].startswith("sending")
    after, actions = plan(sending(11), found={KEY: None})  # settled: it did not land
    assert [a.kind for a in actions] == ["post"] and "(attempt run2)" in after["publish"]
    after, actions = plan(sending(11), found={KEY: "timed out"})
    assert actions == () and "could not check" in after["sync_notes"]
    after, actions = plan({**sending(11), "reply": "ok, changed"})  # no look-up possible
    assert actions == () and "Reply cell changed while" in after["sync_notes"]


def test_hide_status():
    after, actions = plan({"status": "Hide", "reply": "ok", "approved": APPROVED, "approve": "TRUE"})
    assert [a.kind for a in actions] == ["hide"]  # hidden, not answered
    after, actions = plan({"status": "Hide", "publish": "hidden 2026-11-26 11:00"})
    assert actions == ()
    after, actions = plan({"status": "Pending", "publish": "hidden 2026-11-26 11:00"})
    assert [a.kind for a in actions] == ["show"]


def test_settings_are_checked(tmp_path):
    assert publishing_settings(SCHEMA) == Settings()
    for old, bad, message in (
            ("publish_without_approval: []", "publish_without_approval: SWM", "list of department codes"),
            ("settle_minutes: 10", "settle_minutes: soon", "settle_minutes must be a number"),
            ("pace_seconds: 2", "pace: 2", "unknown setting 'pace'")):
        text = SCHEMA.path.read_text(encoding="utf-8").replace(old, bad)
        line = text[:text.index(bad)].count("\n") + 1
        (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match=rf"s\.yaml:{line}: publishing: .*{message}"):
            publishing_settings(load_schema(tmp_path / "s.yaml"))


def test_a_tracker_made_before_publishing_still_syncs(harness, roster_file, tmp_path):
    """Made by a version without the five columns: sync works as before, publish says to run
    init, and init appends the columns at the end, moving nothing."""
    import yaml

    data = yaml.safe_load(SCHEMA.path.read_text(encoding="utf-8"))
    comments = data["tabs"]["comments"]
    comments["columns"] = [c for c in comments["columns"] if c["field"] not in PUBLISHING_FIELDS]
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                                       encoding="utf-8")
    old = load_schema(tmp_path / "old.yaml")
    export = write_export(tmp_path / "export", [post("P1")], [comment("C1", "P1")])
    run_sync(harness.backend(), [FileSource(export)], old, roster_path=roster_file, now=NOW)
    before = harness.values("Comments")[0]
    run_sync(harness.backend(), [FileSource(export)], SCHEMA, roster_path=roster_file, now=NOW)
    publishers, _ = fake_publishers(lambda: NOW)
    with pytest.raises(TrackerError, match="Approve'.*python cli.py init"):
        run_sync(harness.backend(), [], SCHEMA, roster_path=roster_file, now=NOW, publishers=publishers)
    import cli

    args = ["init", "--tracker", harness.tracker_arg, "--roster", str(roster_file)]
    assert CliRunner().invoke(cli.main, args, env=harness.env).exit_code == 0
    after = harness.values("Comments")[0]
    assert after[:len(before)] == before
    # In the schema's order (new tabs put Approve and Publish beside the reply).
    assert after[len(before):] == ["Approve", "Publish", "Reply link", "Approved", "Reply id"]
    harness.type_in("Comments", "Comment ID", "C1", "Reply", "ok")
    run_sync(harness.backend(), [], SCHEMA, roster_path=roster_file, now=NOW, publishers=publishers)
    assert records(harness.values("Comments"))[0]["Publish"] == "waiting for approval"
