"""Departments' pending-action tabs and overdue flags, on both backends."""

from __future__ import annotations

import pytest

from sheets_sync.schema import load_schema
from sheets_sync.sources import FileSource
from sheets_sync.sync import run_sync
from sheets_sync.timeutil import parse_timestamp
from tests.helpers import comment, post, write_export
from tests.trackers import records, shown_header

SCHEMA = load_schema()
NOW = parse_timestamp("2026-11-21T12:00:00+05:30")
SWM, WS, ROADS = "Solid Waste Management", "Water Supply", "Roads"


@pytest.fixture
def export(tmp_path):
    posts = [post("P1", "घंटागाडी #SwachhMahanagar"), post("P2", "जलवाहिनी काम", platform="instagram")]
    comments = [
        comment("C1", "P1", "घंटागाडी आली नाही", at="2026-11-20T09:00:00+05:30"),
        comment("C2", "P1", "कचरा कधी उचलणार?", at="2026-11-21T08:00:00+05:30"),
        comment("C3", "P1", "rude spam", at="2026-11-20T10:00:00+05:30"),
        comment("C4", "P2", "पाणी नाही", platform="instagram", at="2026-11-21T10:00:00+05:30"),
        comment("C5", "P2", "आम्ही पाहतो", platform="instagram", parent="C4", by_page=True,
                at="2026-11-21T11:00:00+05:30"),
    ]
    return write_export(tmp_path / "export", posts, comments)


def sync(harness, folder, roster_file, now=NOW, sources=True):
    return run_sync(harness.backend(), [FileSource(folder)] if sources else [], SCHEMA,
                    roster_path=roster_file, now=now)


def tab_ids(harness, title):
    return [r["Comment ID"] for r in records(harness.values(title))]


def test_each_department_sees_its_open_comments_most_urgent_first(harness, export, roster_file):
    sync(harness, export, roster_file)
    # C1 is 3 h late (a complaint, 24 h); C2 (a question, 24 h) is due before C3 (48 h).
    assert tab_ids(harness, SWM) == ["C1", "C2", "C3"]
    swm = {r["Comment ID"]: r for r in records(harness.values(SWM))}
    assert swm["C1"]["Overdue"] == "3 h late" and swm["C1"]["Post"] == "घंटागाडी #SwachhMahanagar"
    assert swm["C1"]["Comment"] == "घंटागाडी आली नाही" and swm["C1"]["Status"] == "Pending"
    # C4 was answered by the corporation's own reply (C5): not pending any more.
    assert records(harness.values(WS))[0]["Comment ID"] == ""
    # Said in Marathi first, then in English (the shipped language: mr+en).
    marathi, english = records(harness.values(WS))[0]["Comment"].split("\n")
    assert marathi.startswith("पाणीपुरवठा: काहीही प्रलंबित नाही")
    assert english.startswith("Nothing pending for Water Supply")
    assert records(harness.values(ROADS))[0]["Comment"].split("\n")[1].startswith("Nothing pending for Roads")
    master = {r["Comment ID"]: r for r in records(harness.values("Comments"))}
    assert master["C1"]["Overdue"] == "3 h late" and master["C2"]["Overdue"] == ""
    assert master["C4"]["Status"] == "Replied" and master["C4"]["Replied at (IST)"] == "2026-11-21 11:00"


def test_a_reply_typed_in_the_tab_reaches_the_master_and_leaves_the_tab(harness, export, roster_file):
    sync(harness, export, roster_file)
    harness.type_in(SWM, "Comment ID", "C1", "Reply", "उद्या सकाळी घंटागाडी येईल 🙏")
    harness.type_in(SWM, "Comment ID", "C1", "Replied by", "SWM nodal officer")
    harness.type_in(SWM, "Comment ID", "C3", "Status", "Not required")
    later = parse_timestamp("2026-11-21T13:00:00+05:30")
    result = sync(harness, export, roster_file, now=later, sources=False)
    assert result.summary()["values_carried"] == 3
    master = {r["Comment ID"]: r for r in records(harness.values("Comments"))}
    assert master["C1"]["Reply"] == "उद्या सकाळी घंटागाडी येईल 🙏"
    assert master["C1"]["Replied by"] == "SWM nodal officer"
    assert master["C1"]["Replied at (IST)"] == "2026-11-21 13:00" and master["C1"]["Overdue"] == ""
    assert master["C3"]["Status"] == "Not required"
    assert tab_ids(harness, SWM) == ["C2"]
    # Quiet afterwards.
    assert sync(harness, export, roster_file, now=later).plan.changes == []


def test_a_reply_typed_in_the_master_removes_the_comment_from_the_tab(harness, export, roster_file):
    sync(harness, export, roster_file)
    harness.type_in("Comments", "Comment ID", "C2", "Status", "Replied")
    sync(harness, export, roster_file)
    assert tab_ids(harness, SWM) == ["C1", "C3"]


def test_two_different_replies_are_both_kept_and_flagged(harness, export, roster_file):
    sync(harness, export, roster_file)
    harness.type_in("Comments", "Comment ID", "C1", "Reply", "master reply")
    harness.type_in(SWM, "Comment ID", "C1", "Reply", "tab reply")
    result = sync(harness, export, roster_file)
    assert result.summary()["conflicts"] == [f"{SWM}: comment C1: reply"]
    master = {r["Comment ID"]: r for r in records(harness.values("Comments"))}
    assert master["C1"]["Reply"] == "master reply"
    assert "'tab reply'" in master["C1"]["Sync notes"] and "The cell decides" in master["C1"]["Sync notes"]
    log = records(harness.values("Sync Log"))[-1]
    assert "conflict" in log["Errors and warnings"]


def test_the_same_value_typed_in_both_places_is_no_conflict(harness, export, roster_file):
    sync(harness, export, roster_file)
    harness.type_in("Comments", "Comment ID", "C1", "Reply", "same")
    harness.type_in(SWM, "Comment ID", "C1", "Reply", "same")
    assert sync(harness, export, roster_file).summary()["conflicts"] == []


def test_a_department_removed_from_the_roster_loses_its_tab_after_harvest(harness, export, roster_file):
    sync(harness, export, roster_file)
    harness.type_in("Posts", "Post ID", "P1", "Department", "WS")  # C1-C3 now belong to WS
    sync(harness, export, roster_file)
    harness.type_in(WS, "Comment ID", "C2", "Reply", "typed just before the change")
    rows = records(harness.values("Departments"))
    harness.delete_row("Departments", 2 + [r["Code"] for r in rows].index("ROADS"))
    sync(harness, export, roster_file)
    assert ROADS not in harness.tab_titles()
    assert SWM in harness.tab_titles() and WS in harness.tab_titles()
    master = {r["Comment ID"]: r for r in records(harness.values("Comments"))}
    assert master["C2"]["Reply"] == "typed just before the change"
    assert sync(harness, export, roster_file).plan.changes == []


def test_tabs_are_rewritten_only_when_their_content_changes(harness, export, roster_file):
    sync(harness, export, roster_file)
    result = sync(harness, export, roster_file)
    assert result.summary()["tabs_rewritten"] == []


def test_tabs_command(harness, export, roster_file, monkeypatch):
    from click.testing import CliRunner

    import cli

    for k, v in harness.env.items():
        monkeypatch.setenv(k, v)
    sync(harness, export, roster_file)
    harness.type_in(SWM, "Comment ID", "C2", "Status", "Replied")
    result = CliRunner().invoke(cli.main, ["tabs", "--tracker", harness.tracker_arg,
                                           "--roster", str(roster_file),
                                           "--as-of", "2026-11-21T12:30:00+05:30"])
    assert result.exit_code == 0, result.output
    assert "1 value(s) carried from the departments' tabs; 1 tab(s) updated" in result.output
    assert tab_ids(harness, SWM) == ["C1", "C3"]


def test_a_reopened_comment_comes_back_to_its_tab_with_its_words(harness, export, roster_file):
    sync(harness, export, roster_file)
    harness.type_in("Comments", "Comment ID", "C1", "Status", "Replied")
    sync(harness, export, roster_file)
    assert tab_ids(harness, SWM) == ["C2", "C3"]
    master = {r["Comment ID"]: r for r in records(harness.values("Comments"))}
    assert master["C1"]["Replied at (IST)"] == "2026-11-21 12:00"
    # Set back to Pending: open again, late again, its answer time gone.
    harness.type_in("Comments", "Comment ID", "C1", "Status", "Pending")
    later = parse_timestamp("2026-11-21T14:00:00+05:30")
    sync(harness, export, roster_file, now=later)
    assert tab_ids(harness, SWM) == ["C1", "C2", "C3"]
    swm = {r["Comment ID"]: r for r in records(harness.values(SWM))}
    # The comment's words are read back from the master for it (not kept in memory).
    assert swm["C1"]["Comment"] == "घंटागाडी आली नाही" and swm["C1"]["Overdue"] == "5 h late"
    assert swm["C1"]["Author"] and swm["C1"]["Link"]
    master = {r["Comment ID"]: r for r in records(harness.values("Comments"))}
    assert master["C1"]["Replied at (IST)"] == "" and master["C1"]["Overdue"] == "5 h late"
    assert sync(harness, export, roster_file, now=later).plan.changes == []


def test_escalated_keeps_a_comment_open_after_the_corporations_reply(harness, export, roster_file):
    sync(harness, export, roster_file)
    master = {r["Comment ID"]: r for r in records(harness.values("Comments"))}
    assert master["C4"]["Status"] == "Replied"  # closed by the corporation's reply C5
    harness.type_in("Comments", "Comment ID", "C4", "Status", "Escalated")
    sync(harness, export, roster_file)
    assert tab_ids(harness, WS) == ["C4"]
    master = {r["Comment ID"]: r for r in records(harness.values("Comments"))}
    assert master["C4"]["Status"] == "Escalated" and master["C4"]["Replied at (IST)"] == ""


def test_an_answered_comment_leaves_its_tab_without_moving_the_others(harness, export, roster_file):
    sync(harness, export, roster_file)
    before = {r["Comment ID"]: r for r in records(harness.values(SWM))}
    harness.type_in(SWM, "Comment ID", "C3", "Notes", "a note typed in the tab")
    harness.type_in("Comments", "Comment ID", "C1", "Reply", "answered in the master")
    sync(harness, export, roster_file)
    after = {r["Comment ID"]: r for r in records(harness.values(SWM))}
    assert list(after) == ["C2", "C3"]
    assert after["C2"] == before["C2"]
    assert after["C3"]["Notes"] == "a note typed in the tab" and after["C3"]["Comment"] == "rude spam"


# -- a job column holding something that is not a time ------------------------------------

COMMENTED, DUE, REPLIED = "Commented at (IST)", "Reply due (IST)", "Replied at (IST)"
SHOWN = {h: shown_header(h) for h in (COMMENTED, DUE, REPLIED)}  # as messages quote them


def master_rows(harness):
    return {r["Comment ID"]: r for r in records(harness.values("Comments"))}


def row_of(harness, cid):
    return 2 + [r["Comment ID"] for r in records(harness.values("Comments"))].index(cid)


@pytest.mark.parametrize("bad", ["tomorrow", "32/13/2026", "2026-11-20", "20/11/2026 10:15", ""])
def test_an_unreadable_comment_time_is_noted_listed_last_and_the_run_goes_on(harness, export, roster_file,
                                                                             bad):
    # C2 and C3 are both open and not yet late: sorting them compares their due times.
    sync(harness, export, roster_file)
    harness.type_in("Comments", "Comment ID", "C2", COMMENTED, bad)
    row = row_of(harness, "C2")
    result = sync(harness, export, roster_file, sources=False)
    assert tab_ids(harness, SWM) == ["C1", "C3", "C2"]  # still listed, after every dated one
    master = master_rows(harness)
    shown = f"holds {bad!r}, not a time" if bad else "is empty"
    assert master["C2"][COMMENTED] == bad  # nothing to repair it from in this run
    assert f"{SHOWN[COMMENTED]!r} {shown}" in master["C2"]["Sync notes"]
    assert "type the comment's time" in master["C2"]["Sync notes"]
    warning = next(w for w in result.plan.warnings if SHOWN[COMMENTED] in w)
    assert warning.startswith(f"Comments row {row}, comment C2: {SHOWN[COMMENTED]!r} {shown}")
    assert warning in records(harness.values("Sync Log"))[-1]["Errors and warnings"]
    # The note is written once; the warning stays while the cell is wrong.
    again = sync(harness, export, roster_file, sources=False)
    assert warning in again.plan.warnings
    assert master_rows(harness)["C2"]["Sync notes"] == master["C2"]["Sync notes"]


def test_an_unreadable_comment_time_is_repaired_from_this_runs_export(harness, export, roster_file):
    sync(harness, export, roster_file)
    harness.type_in("Comments", "Comment ID", "C2", COMMENTED, "tomorrow")
    result = sync(harness, export, roster_file)
    master = master_rows(harness)
    assert master["C2"][COMMENTED] == "2026-11-21 08:00"
    assert master["C2"][DUE] == "2026-11-22 08:00"
    assert ("'tomorrow', not a time; rewritten from this run's export of the comment: 2026-11-21 08:00"
            in master["C2"]["Sync notes"])
    assert any(w.startswith(f"Comments row {row_of(harness, 'C2')}, comment C2: {SHOWN[COMMENTED]!r} holds "
                            "'tomorrow'") for w in result.plan.warnings)
    assert tab_ids(harness, SWM) == ["C1", "C2", "C3"]
    assert not any(SHOWN[COMMENTED] in w for w in sync(harness, export, roster_file).plan.warnings)


@pytest.mark.parametrize("bad", ["tomorrow", "2026-11-20", "32/13/2026"])
def test_an_unreadable_due_time_is_recomputed_and_noted(harness, export, roster_file, bad):
    sync(harness, export, roster_file)
    harness.type_in("Comments", "Comment ID", "C3", DUE, bad)
    result = sync(harness, export, roster_file, sources=False)
    master = master_rows(harness)
    assert master["C3"][DUE] == "2026-11-22 10:00"  # a comment: 48 h after 2026-11-20 10:00
    assert (f"{SHOWN[DUE]!r} holds {bad!r}, not a time; rewritten from the comment's time and "
            "category: 2026-11-22 10:00") in master["C3"]["Sync notes"]
    assert any(w.startswith(f"Comments row {row_of(harness, 'C3')}, comment C3: {SHOWN[DUE]!r}")
               for w in result.plan.warnings)
    assert tab_ids(harness, SWM) == ["C1", "C2", "C3"]


def test_an_unreadable_reply_time_is_noted_kept_when_answered_and_emptied_when_open(harness, export,
                                                                                   roster_file):
    sync(harness, export, roster_file)
    harness.type_in("Comments", "Comment ID", "C1", "Status", "Replied")
    sync(harness, export, roster_file)
    harness.type_in("Comments", "Comment ID", "C1", REPLIED, "yesterday")  # answered: when is unknown
    harness.type_in("Comments", "Comment ID", "C2", REPLIED, "soon")  # still open
    harness.type_in("Comments", "Comment ID", "C4", REPLIED, "32/13/2026")  # the corporation replied
    result = sync(harness, export, roster_file, sources=False)
    master = master_rows(harness)
    assert master["C1"][REPLIED] == "yesterday"
    assert "type when it was answered" in master["C1"]["Sync notes"]
    assert master["C2"][REPLIED] == "" and "emptied: the comment is still open" in master["C2"]["Sync notes"]
    assert master["C4"][REPLIED] == "2026-11-21 11:00"
    assert ("rewritten with the time of the corporation's reply on the platform: 2026-11-21 11:00"
            in master["C4"]["Sync notes"])
    assert sum(SHOWN[REPLIED] in w for w in result.plan.warnings) == 3
    assert tab_ids(harness, SWM) == ["C2", "C3"]


def test_tabs_command_with_an_unreadable_time_exits_0_with_a_warning(harness, export, roster_file,
                                                                    monkeypatch):
    from click.testing import CliRunner

    import cli

    for k, v in harness.env.items():
        monkeypatch.setenv(k, v)
    sync(harness, export, roster_file)
    harness.type_in("Comments", "Comment ID", "C2", COMMENTED, "tomorrow")
    result = CliRunner().invoke(cli.main, ["tabs", "--tracker", harness.tracker_arg,
                                           "--roster", str(roster_file),
                                           "--as-of", "2026-11-21T12:30:00+05:30"])
    assert result.exit_code == 0, result.output
    assert (f"Warning: Comments row {row_of(harness, 'C2')}, comment C2: {SHOWN[COMMENTED]!r} "
            "holds 'tomorrow'") in result.output
    assert "Traceback" not in result.output
