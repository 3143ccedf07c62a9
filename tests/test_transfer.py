"""Moving a single comment to another department from the Comments tab ("Move to
department"): it leaves the first department's tab, appears in the other's with its
Status, Reply and deadline, says where it came from, and stays when its post is
re-routed. Both backends."""

from __future__ import annotations

import pytest

from sheets_sync.schema import load_schema
from sheets_sync.sources import FileSource
from sheets_sync.sync import run_sync
from sheets_sync.timeutil import parse_timestamp
from tests.helpers import comment, post, write_export
from tests.trackers import records

SCHEMA = load_schema()
NOW = parse_timestamp("2026-11-21T12:00:00+05:30")
SWM, WS, ROADS = "Solid Waste Management", "Water Supply", "Roads"


@pytest.fixture
def export(tmp_path):
    return write_export(tmp_path / "export", [post("P1", "जलवाहिनी दुरुस्ती #PaniPuravatha")], [
        comment("C1", "P1", "इथे कचरा पडून आहे, घंटागाडी येत नाही 😡", at="2026-11-20T11:00:00+05:30"),
        comment("C2", "P1", "पाणी कधी येणार?", at="2026-11-21T09:00:00+05:30"),
    ])


def sync(harness, folder, roster_file, now=NOW):
    return run_sync(harness.backend(), [FileSource(folder)], SCHEMA, roster_path=roster_file, now=now)


def master(harness):
    return {r["Comment ID"]: r for r in records(harness.values("Comments"))}


def tab_ids(harness, title):
    return [r["Comment ID"] for r in records(harness.values(title))]


def test_a_moved_comment_changes_tabs_keeps_its_work_and_stays(harness, export, roster_file):
    sync(harness, export, roster_file)
    assert tab_ids(harness, WS) == ["C1", "C2"] and master(harness)["C1"]["Department"] == "WS"
    due = master(harness)["C1"]["Reply due (IST)"]
    # An officer of WS notes something in their tab just before the cell moves the comment.
    harness.type_in(WS, "Comment ID", "C1", "Notes", "हे घनकचरा विभागाचे आहे")
    harness.type_in("Comments", "Comment ID", "C1", "Status", "Escalated")
    harness.type_in("Comments", "Comment ID", "C1", "Move to department", "swm")
    later = parse_timestamp("2026-11-21T13:00:00+05:30")
    result = sync(harness, export, roster_file, now=later)
    assert result.plan.warnings == []
    row = master(harness)["C1"]
    assert row["Department"] == "SWM" and row["Move to department"] == "swm"
    assert row["Sync notes"] == "moved from WS"
    assert row["Status"] == "Escalated"
    assert row["Notes"] == "हे घनकचरा विभागाचे आहे"  # carried from the WS tab in the same run
    assert row["Reply due (IST)"] == due
    assert tab_ids(harness, WS) == ["C2"]
    swm = {r["Comment ID"]: r for r in records(harness.values(SWM))}
    assert list(swm) == ["C1"]
    assert swm["C1"]["Comment"] == "इथे कचरा पडून आहे, घंटागाडी येत नाही 😡"  # its words came along
    assert swm["C1"]["Status"] == "Escalated" and swm["C1"]["Notes"] == "हे घनकचरा विभागाचे आहे"
    assert sync(harness, export, roster_file, now=later).plan.changes == []  # quiet afterwards

    # The cell re-routes the post: its other comment follows, the moved one stays.
    harness.type_in("Posts", "Post ID", "P1", "Department", "ROADS")
    sync(harness, export, roster_file, now=later)
    rows = master(harness)
    assert rows["C2"]["Department"] == "ROADS" and rows["C1"]["Department"] == "SWM"
    assert tab_ids(harness, SWM) == ["C1"] and tab_ids(harness, ROADS) == ["C2"]
    assert rows["C1"]["Sync notes"] == "moved from WS"

    # Emptied: it follows its post again.
    harness.type_in("Comments", "Comment ID", "C1", "Move to department", "")
    sync(harness, export, roster_file, now=later)
    assert master(harness)["C1"]["Department"] == "ROADS"
    assert tab_ids(harness, ROADS) == ["C1", "C2"] and tab_ids(harness, SWM) == [""]


def test_an_unknown_code_is_a_warning_on_that_row(harness, export, roster_file):
    sync(harness, export, roster_file)
    harness.type_in("Comments", "Comment ID", "C1", "Move to department", "SWN")
    result = sync(harness, export, roster_file)
    text = "'Move to department' says 'SWN', which is not a department code (closest: SWM); " \
           "the comment stays with WS"
    assert len(result.plan.warnings) == 1
    assert result.plan.warnings[0].startswith("Comments row ") and result.plan.warnings[0].endswith(
        f", comment C1: {text}")
    row = master(harness)["C1"]
    assert row["Department"] == "WS" and row["Sync notes"] == text and row["Move to department"] == "SWN"
    assert tab_ids(harness, WS) == ["C1", "C2"]
    assert text in records(harness.values("Sync Log"))[-1]["Errors and warnings"]
    # Fixed: it moves.
    harness.type_in("Comments", "Comment ID", "C1", "Move to department", "SWM")
    sync(harness, export, roster_file)
    assert master(harness)["C1"]["Department"] == "SWM" and tab_ids(harness, SWM) == ["C1"]
    assert master(harness)["C1"]["Sync notes"].endswith("moved from WS")
