"""The publishing journal on its own: what it keeps of each outcome, how long, and an
unreadable one (said, then rewritten; the tracker's record alone decides meanwhile)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from sheets_sync.publish.base import Posted, Refused, Uncertain
from sheets_sync.publishing_journal import KEEP, Journal
from sheets_sync.publishing_run import NotTried
from tests.real_platforms import NOW, Fleet, comment_id

A, B, C, D = (("facebook", "c1"), ("x", "c2"), ("youtube", "c3"), ("instagram", "c4"))


def test_it_keeps_what_may_be_on_the_platform_and_drops_what_is_not(tmp_path):
    journal = Journal.beside(str(tmp_path / "tracker.xlsx"))
    assert journal.path == tmp_path / "tracker.xlsx.publish.json" and journal.entries == {}
    journal.sending([(A, "f1"), (B, "f2"), (C, "f3"), (D, "f4")], "a1b2c3", NOW)
    posted = Posted("r1", "https://www.facebook.com/r1", NOW + timedelta(seconds=3))
    journal.outcomes({A: posted, B: Uncertain("X: no answer"), C: Refused("throttled", "later"),
                      D: NotTried("instagram refused (token)")})
    again = Journal.beside(str(tmp_path / "tracker.xlsx"))
    assert set(again.entries) == {"facebook:c1", "x:c2"}
    assert again.get(A).posted() == posted and again.get(B).posted() is None
    assert again.get(B).attempt == "a1b2c3" and again.get(B).fp == "f2"


def test_entries_older_than_a_week_are_dropped(tmp_path):
    journal = Journal.beside(str(tmp_path / "tracker.xlsx"))
    journal.sending([(A, "f1")], "old", NOW - KEEP - timedelta(minutes=1))
    journal.sending([(B, "f2")], "new", NOW)
    assert set(Journal.beside(str(tmp_path / "tracker.xlsx")).entries) == {"x:c2"}


def test_an_unreadable_journal_is_said_and_publishing_goes_on(harness, roster_file, tmp_path, caplog,
                                                             monkeypatch):
    monkeypatch.setenv("SHEETS_SYNC_STATE_DIR", str(tmp_path / "state"))
    fleet = Fleet(harness, roster_file, tmp_path)
    try:
        cid = comment_id("facebook", 0)
        journal = Journal.beside(fleet.harness.backend().location)
        journal.path.parent.mkdir(parents=True, exist_ok=True)
        journal.path.write_text("{not json", encoding="utf-8")
        fleet.approve([cid])
        with caplog.at_level(logging.WARNING, logger="sheets_sync.publish"):
            fleet.publish(1)
        assert "the publishing journal is unreadable" in caplog.text
        assert fleet.posts_per_comment("facebook") == {cid: 1}
        assert fleet.row(cid)["Publish"].startswith("posted")
        assert json.loads(journal.path.read_text(encoding="utf-8"))[f"facebook:{cid}"]["reply_id"]
    finally:
        fleet.close()
