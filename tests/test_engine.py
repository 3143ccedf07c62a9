"""The engine's behaviour, on both backends: rows added per department, idempotent,
people's edits preserved, citizen text kept as text."""

from __future__ import annotations

import pytest

from sheets_sync.schema import load_schema
from sheets_sync.sources import FileSource
from sheets_sync.sync import init_tracker, run_sync
from sheets_sync.timeutil import parse_timestamp
from tests.helpers import comment, post, write_export
from tests.trackers import records

NOW = parse_timestamp("2026-11-26T12:00:00+05:30")
SCHEMA = load_schema()


def sync(harness, folder, roster_file, **kw):
    return run_sync(harness.backend(), [FileSource(folder)], SCHEMA, roster_path=roster_file,
                    now=kw.pop("now", NOW), **kw)


def comments_by_id(harness):
    return {r["Comment ID"]: r for r in records(harness.values("Comments"))}


@pytest.fixture
def export(tmp_path):
    posts = [
        post("P1", "घंटागाडी वेळापत्रक #SwachhMahanagar"),
        post("P2", "नवीन जलवाहिनी काम सुरू", platform="instagram"),
        post("P3", "Happy Diwali to all citizens 🪔", platform="x"),
        post("P4", "Notice", platform="youtube", department="ROADS"),
    ]
    comments = [
        comment("C1", "P1", "घंटागाडी ३ दिवस आली नाही 😡"),
        comment("C2", "P1", "धन्यवाद, आज आली 🙏", parent="C1", at="2026-11-21T09:00:00+05:30"),
        comment("C3", "P1", "आम्ही तपासतो आहोत", parent="C1", by_page=True,
                at="2026-11-20T12:00:00+05:30", author="Mahanagar Municipal Corporation"),
        comment("C4", "P2", "पानी कब आएगा? Ward 14 no water since Monday 🙏🏽", platform="instagram"),
        comment("C5", "P3", "=HYPERLINK(\"http://evil.example\",\"refund\")", platform="x"),
        comment("C6", "P4", "+91 98220 12345 call me", platform="youtube"),
        comment("C7", "P4", "", platform="youtube"),
        comment("C8", "P4", "-- still waiting\nline two \"quoted\"", platform="youtube"),
        comment("C9", "P4", "@MahanagarRoads 👨‍👩‍👧 🇮🇳 खड्डे", platform="youtube"),
    ]
    return write_export(tmp_path / "export", posts, comments)


def test_first_sync_creates_tabs_and_routes_rows(harness, export, roster_file):
    result = sync(harness, export, roster_file)
    summary = result.summary()
    assert summary["posts_added"] == 4 and summary["comments_added"] == 9
    assert summary["per_department"] == {
        "SWM": {"posts": 1, "comments": 3}, "WS": {"posts": 1, "comments": 1},
        "Unassigned": {"posts": 1, "comments": 1}, "ROADS": {"posts": 1, "comments": 4}}
    for title in ("Posts", "Comments", "Departments", "Sync Log", "Sync State"):
        assert title in harness.tab_titles()
    posts = {r["Post ID"]: r for r in records(harness.values("Posts"))}
    assert posts["P1"]["Department"] == "SWM" and posts["P1"]["Routed by"].startswith("hashtag")
    assert posts["P3"]["Department"] == "Unassigned"
    assert posts["P4"]["Routed by"] == "named in the export"
    rows = comments_by_id(harness)
    # The corporation's own reply (C3) under C1 closes it by itself, with its time.
    assert rows["C1"]["Status"] == "Replied" and rows["C1"]["Category"] == "complaint"
    assert rows["C1"]["Replied at (IST)"] == "2026-11-20 12:00"
    assert rows["C1"]["Replied by"] == "the corporation's facebook account"
    assert rows["C1"]["Reply due (IST)"] == "2026-11-21 11:00" and rows["C1"]["Overdue"] == ""
    assert rows["C4"]["Status"] == "Pending" and rows["C4"]["Overdue"] == "5 days late · escalated"
    assert rows["C3"]["Status"] == "Not required" and rows["C3"]["By corporation"] == "yes"
    assert rows["C3"]["Reply due (IST)"] == ""
    assert rows["C2"]["Reply to"] == "C1"
    assert rows["C4"]["Category"] == "complaint"
    log = records(harness.values("Sync Log"))
    assert log[-1]["Comments added"] == "9" and log[-1]["Command"] == "sync"
    departments = records(harness.values("Departments"))
    assert [d["Code"] for d in departments] == ["SWM", "WS", "ROADS"]


def test_second_sync_changes_nothing(harness, export, roster_file):
    sync(harness, export, roster_file)
    before = {t: harness.values(t) for t in ("Posts", "Comments", "Departments", "Sync State")}
    result = sync(harness, export, roster_file)
    assert result.plan.changes == []
    assert {t: harness.values(t) for t in before} == before
    assert len(records(harness.values("Sync Log"))) == 2


def test_citizen_text_round_trips_as_text(harness, export, roster_file):
    sync(harness, export, roster_file)
    rows = comments_by_id(harness)
    assert rows["C5"]["Comment"] == "=HYPERLINK(\"http://evil.example\",\"refund\")"
    value, is_formula = harness.raw_cell("Comments", "Comment ID", "C5", "Comment")
    assert value == "=HYPERLINK(\"http://evil.example\",\"refund\")" and not is_formula
    assert rows["C6"]["Comment"] == "+91 98220 12345 call me"
    assert rows["C8"]["Comment"] == "-- still waiting\nline two \"quoted\""
    assert rows["C9"]["Comment"].encode() == "@MahanagarRoads 👨‍👩‍👧 🇮🇳 खड्डे".encode()
    assert rows["C4"]["Comment"].encode() == "पानी कब आएगा? Ward 14 no water since Monday 🙏🏽".encode()
    assert rows["C7"]["Comment"] == ""


def test_replies_survive_sorting_inserted_rows_and_moved_columns(harness, export, roster_file, tmp_path):
    sync(harness, export, roster_file)
    harness.type_in("Comments", "Comment ID", "C1", "Reply", "घंटागाडी उद्या येईल — SWM")
    harness.type_in("Comments", "Comment ID", "C1", "Status", "Replied")
    harness.type_in("Comments", "Comment ID", "C4", "Notes", "टँकर पाठवला")
    harness.sort("Comments", "Comment", descending=True)
    harness.move_column("Comments", "Reply", 1)
    harness.insert_rows("Comments", 3, 2)
    # The cell moves P4 to Water Supply by hand; its comments must follow.
    harness.type_in("Posts", "Post ID", "P4", "Department", "WS")
    posts = [post("P1"), post("P2", "नवीन जलवाहिनी", platform="instagram"),
             post("P3", "Happy Diwali", platform="x"), post("P4", "Notice", platform="youtube",
                                                              department="ROADS")]
    more = [comment("C1", "P1", "घंटागाडी ३ दिवस आली नाही 😡"),
            comment("C4", "P2", "x", platform="instagram"),
            comment("C10", "P4", "new one", platform="youtube"),
            comment("C11", "P1", "अजून एक तक्रार")]
    folder = write_export(tmp_path / "export2", posts, more)
    result = sync(harness, folder, roster_file)
    assert result.summary()["comments_added"] == 2
    rows = comments_by_id(harness)
    assert rows["C1"]["Reply"] == "घंटागाडी उद्या येईल — SWM" and rows["C1"]["Status"] == "Replied"
    assert rows["C4"]["Notes"] == "टँकर पाठवला"
    assert rows["C10"]["Department"] == "WS"
    assert all(rows[c]["Department"] == "WS" for c in ("C6", "C7", "C8", "C9"))
    assert sorted(rows) == sorted(f"C{i}" for i in range(1, 12))
    assert [r["Reply"] for r in rows.values() if r["Reply"]] == ["घंटागाडी उद्या येईल — SWM"]
    # And a run after that is quiet again.
    assert sync(harness, folder, roster_file).plan.changes == []


def test_cell_assignment_wins_over_rules_on_later_runs(harness, export, roster_file):
    sync(harness, export, roster_file)
    harness.type_in("Posts", "Post ID", "P1", "Department", "ROADS")
    result = sync(harness, export, roster_file)
    assert result.plan.rows_updated == 3  # C1-C3 follow P1
    rows = comments_by_id(harness)
    assert {rows[c]["Department"] for c in ("C1", "C2", "C3")} == {"ROADS"}
    posts = {r["Post ID"]: r for r in records(harness.values("Posts"))}
    assert posts["P1"]["Department"] == "ROADS"


def test_unassigned_post_is_routed_once_the_roster_learns_a_rule(harness, export, roster_file):
    sync(harness, export, roster_file)
    harness.type_in("Departments", "Code", "SWM", "Hashtags", "#SwachhMahanagar, #Diwali")
    harness.type_in("Departments", "Code", "SWM", "Keywords (English)", "garbage, waste, diwali")
    result = sync(harness, export, roster_file)
    posts = {r["Post ID"]: r for r in records(harness.values("Posts"))}
    assert posts["P3"]["Department"] == "SWM"
    assert comments_by_id(harness)["C5"]["Department"] == "SWM"
    assert result.plan.rows_updated == 2


def test_dry_run_writes_nothing(harness, export, roster_file):
    sync(harness, export, roster_file)
    before = {t: harness.values(t) for t in ("Posts", "Comments", "Sync Log")}
    folder = write_export(export.parent / "more", [post("P9", "कचरा")], [comment("C99", "P9")])
    result = sync(harness, folder, roster_file, dry_run=True)
    assert result.summary()["comments_added"] == 1
    assert {t: harness.values(t) for t in before} == before


def test_comment_on_unknown_post_is_held_and_named(harness, export, roster_file, tmp_path):
    folder = write_export(tmp_path / "held", [post("P1")], [comment("C1", "P1"),
                                                             comment("C2", "NOPE")])
    result = sync(harness, folder, roster_file)
    assert result.summary()["comments_added"] == 1
    assert len(result.plan.held) == 1 and "NOPE" in result.plan.held[0]
    assert "comments.csv line 3" in result.plan.held[0]
    log = records(harness.values("Sync Log"))
    assert log[-1]["Held back"] == "1" and "NOPE" in log[-1]["Errors and warnings"]


def test_renamed_header_stops_with_a_way_out(harness, export, roster_file):
    from sheets_sync.errors import TrackerError

    sync(harness, export, roster_file)
    harness.rename_header("Comments", "Reply", "Reply text")
    before = harness.values("Comments")
    # The message names the header as the sheet showed it (Marathi and English).
    with pytest.raises(TrackerError, match="'उत्तर / Reply' not found in row 1.*cli.py init"):
        sync(harness, export, roster_file)
    assert harness.values("Comments") == before
    # init adds the column back at the end; nothing people typed moves.
    done = init_tracker(harness.backend(), SCHEMA, roster_file, now=NOW)
    assert any("added column(s) उत्तर / Reply" in d for d in done)
    assert harness.values("Comments")[0][-1] == "Reply"
    assert sync(harness, export, roster_file).plan.changes == []


def test_deleted_tab_stops_with_a_way_out(harness, export, roster_file):
    from sheets_sync.errors import TrackerError

    sync(harness, export, roster_file)
    harness.delete_tab("Posts")
    with pytest.raises(TrackerError, match="tab 'Posts' is missing"):
        sync(harness, export, roster_file)


def test_init_is_safe_to_run_again(harness, roster_file):
    first = init_tracker(harness.backend(), SCHEMA, roster_file)
    assert "created tab 'Comments'" in first
    snapshot = {t: harness.values(t) for t in ("Posts", "Comments", "Departments")}
    assert init_tracker(harness.backend(), SCHEMA, roster_file) == []
    assert {t: harness.values(t) for t in snapshot} == snapshot


def test_long_comment_is_kept_whole_up_to_the_cell_limit(harness, roster_file, tmp_path):
    long_text = ("रस्त्यावरील खड्ड्यांमुळे अपघात होत आहेत. Please fix. " * 400)[:20000]
    huge = "अ" * 60000
    folder = write_export(tmp_path / "long", [post("P1")],
                          [comment("C1", "P1", long_text), comment("C2", "P1", huge)])
    sync(harness, folder, roster_file)
    rows = comments_by_id(harness)
    assert rows["C1"]["Comment"] == long_text
    assert len(rows["C2"]["Comment"]) <= 50000
    assert rows["C2"]["Comment"].startswith("अ" * 1000) and "more characters" in rows["C2"]["Comment"]
