"""The report: per-department measures over a period, the formats (table, CSV, JSON,
HTML with charts, all citizen text escaped), and the Report tab upserted by department."""

from __future__ import annotations

import base64
import csv
import io
import json
import re

import pytest
from click.testing import CliRunner

from cli import main
from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.deadlines import evaluate
from sheets_sync.report import build_report, run_report
from sheets_sync.report_html import report_html
from sheets_sync.roster import Roster
from sheets_sync.runlock import run_lock
from sheets_sync.schema import load_schema
from sheets_sync.sources import FileSource
from sheets_sync.sync import run_sync
from sheets_sync.table import Record
from sheets_sync.timeutil import parse_timestamp
from tests.helpers import comment, digest, post, write_export
from tests.trackers import XlsxHarness, records

SCHEMA = load_schema()
AS_OF = parse_timestamp("2026-11-26T12:00:00+05:30")
AS_OF_ARG = "2026-11-26T12:00:00+05:30"
SCRIPT = "<script>alert('x')</script> पाणी नाही"


@pytest.fixture
def tracker(tmp_path, roster_file):
    return build_tracker(tmp_path, roster_file)


def build_tracker(tmp_path, roster_file) -> XlsxHarness:
    """SWM: C1 and C6 long overdue, C2 answered by the page in 3 h, C3 closed by a person.
    WS: C4 overdue (level 1), C5 'Not required', C7 not due yet (the page answers after as_of)."""
    folder = write_export(tmp_path / "export", [post("P1"), post("P2", "नवीन जलवाहिनी काम सुरू")], [
        comment("C1", "P1", "घंटागाडी ३ दिवस आली नाही 😡"),
        comment("C2", "P1", "कधी येणार?", at="2026-11-25T10:00:00+05:30"),
        comment("R2", "P1", "उद्या सकाळी", parent="C2", by_page=True, at="2026-11-25T13:00:00+05:30"),
        comment("C3", "P1", "तक्रार: कचरा", at="2026-11-25T09:00:00+05:30"),
        comment("C4", "P2", SCRIPT, at="2026-11-25T08:00:00+05:30"),
        comment("C5", "P2", "धन्यवाद", at="2026-11-24T08:00:00+05:30"),
        comment("C6", "P1", "रस्ता खराब", at="2026-11-10T08:00:00+05:30"),
        comment("C7", "P2", "पानी कब?", at="2026-11-25T20:00:00+05:30"),
        comment("R7", "P2", "आज", parent="C7", by_page=True, at="2026-11-27T09:00:00+05:30"),
    ])
    harness = XlsxHarness(tmp_path)
    run_sync(harness.backend(), [FileSource(folder)], SCHEMA, roster_path=roster_file,
             now=parse_timestamp("2026-11-25T21:00:00+05:30"))
    harness.type_in("Comments", "Comment ID", "C3", "Status", "Replied")
    harness.type_in("Comments", "Comment ID", "C5", "Status", "Not required")
    return harness


def report_of(harness, **kw):
    return run_report(harness.backend(), SCHEMA, kw.pop("as_of", AS_OF), write_tab=kw.pop("write_tab", False),
                      **kw)[0]


def test_measures_per_department(tracker):
    report = report_of(tracker)
    assert report.period == "2026-11-19 12:00 – 2026-11-26 12:00"
    swm, ws, roads = (report.department(c) for c in ("SWM", "WS", "ROADS"))
    assert (swm.received, swm.answered, swm.open, swm.overdue_level_1, swm.overdue_level_2) == (3, 2, 2, 0, 2)
    assert swm.oldest_open.comment_id == "C6"  # written before the period, still open
    assert (swm.median_reply_hours, swm.p90_reply_hours, swm.reply_times_known) == (3.0, 3.0, 1)
    assert swm.on_time_share == 0.5  # C2 on time, C1 late; C3 closed at an unknown time
    assert (ws.received, ws.answered, ws.open, ws.overdue_level_1, ws.overdue_level_2) == (3, 0, 2, 1, 0)
    assert ws.on_time_share == 0.0 and ws.median_reply_hours is None
    assert (roads.received, roads.open, roads.oldest_open, roads.on_time_share) == (0, 0, None, None)
    total = report.total
    counts = (total.received, total.answered, total.open, total.overdue, total.overdue_level_2)
    assert counts == (6, 2, 4, 3, 2)
    assert round(total.on_time_share, 3) == 0.333
    assert [(d.department, d.comment_id) for d in report.overdue] == [
        ("SWM", "C6"), ("SWM", "C1"), ("WS", "C4")]


def test_period_and_as_of_move_the_measures(tracker):
    later = report_of(tracker, as_of=parse_timestamp("2026-11-27T12:00:00+05:30"))
    ws = later.department("WS")
    # C7's page reply (27th 09:00) came after its due time (26th 20:00): answered, late.
    assert (ws.answered, ws.open, ws.median_reply_hours) == (1, 1, 37.0)
    old = report_of(tracker, since=parse_timestamp("2026-11-01T00:00:00+05:30"),
                    until=parse_timestamp("2026-11-15T00:00:00+05:30"))
    assert old.department("SWM").received == 1 and old.department("SWM").open == 2


def test_median_and_90th_percentile():
    rows = []
    for n in range(1, 11):
        rows.append(Record(n, {"platform": "x", "comment_id": f"C{n}", "department": "SWM",
                               "commented_at": "2026-11-20 10:00", "category": "complaint"}))
        rows.append(Record(n + 20, {"platform": "x", "comment_id": f"R{n}", "parent_id": f"C{n}",
                                    "by_page": "yes", "department": "SWM",
                                    "commented_at": f"2026-11-20 {10 + n}:00"}))
    deadlines = evaluate(rows, SCHEMA, AS_OF)
    report = build_report(deadlines, Roster([]), AS_OF)
    swm = report.department("SWM")
    assert (swm.received, swm.answered, swm.median_reply_hours, swm.p90_reply_hours) == (10, 10, 5.5, 9.1)
    assert swm.on_time_share == 1.0 and report.departments[0].code == "SWM"


def test_terminal_csv_and_json(tracker):
    runner = CliRunner()
    args = ["report", "--tracker", tracker.tracker_arg, "--as-of", AS_OF_ARG, "--no-tab"]
    text = runner.invoke(main, args)
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0].startswith("Report for 2026-11-19 12:00 – 2026-11-26 12:00 IST (as of 2026-11-26 12:00)")
    # Overdue counts the escalated ones (issue 12): SWM's 2 overdue are both escalated.
    assert re.match(r"SWM\s+3\s+2\s+2\s+2\s+2\s+2026-11-10 08:00\s+3\.0\s+3\.0\s+50%$", lines[3])
    assert re.match(r"ALL\s+6\s+2\s+4\s+3\s+2\s+2026-11-10 08:00", lines[7])
    c4 = [line for line in lines if "facebook C4:" in line]
    assert len(c4) == 1 and c4[0].split() == ["overdue", "4.0", "h", "late", "facebook", "C4:",
                                              "<script>alert('x')</script>", "पाणी", "नाही"]

    rows = list(csv.DictReader(io.StringIO(runner.invoke(main, [*args, "--csv"]).output)))
    assert [r["department"] for r in rows] == ["SWM", "WS", "ROADS", "ALL"]
    assert rows[0]["on_time_share"] == "0.5" and rows[0]["name_mr"] == "घनकचरा व्यवस्थापन"

    data = json.loads(runner.invoke(main, [*args, "--json"]).output)
    assert data["total"]["overdue"] == 3 and data["since"] == "2026-11-19 12:00"
    assert data["overdue"][2]["text"] == SCRIPT

    dated = json.loads(runner.invoke(main, [*args, "--json", "--since", "2026-11-25",
                                           "--until", "2026-11-25"]).output)
    assert (dated["since"], dated["until"]) == ("2026-11-25 00:00", "2026-11-26 00:00")
    assert dated["total"]["received"] == 4  # C2, C3, C4, C7 (C5 is on the 24th, R2 is the page's)
    bad = runner.invoke(main, [*args, "--since", "2026-11-26", "--until", "2026-11-20"])
    assert bad.exit_code == 2 and "--since must be before --until" in bad.output


def test_html_is_self_contained_and_escaped(tracker, tmp_path):
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["--quiet", "report", "--tracker", tracker.tracker_arg,
                                       "--as-of", AS_OF_ARG, "--no-tab", "--html", str(out)])
    assert result.exit_code == 0 and result.output == ""
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; पाणी नाही" in page
    assert "घंटागाडी ३ दिवस आली नाही 😡" in page  # Devanagari and emoji verbatim
    assert '"Noto Sans Devanagari"' in page and "<style>" in page
    assert not re.search(r'(src|href)="(?!data:|https://www\.facebook\.com/)', page)  # nothing fetched
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 6
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert page.count('<tr class="l2">') == 2 and page.count('<tr class="l1">') == 1


def test_html_escapes_department_names_and_links():
    row = Record(2, {"platform": "x", "comment_id": "C1", "department": "<b>X</b>", "category": "complaint",
                     "commented_at": "2026-11-20 10:00", "url": "javascript:alert(1)",
                     "author": "<img src=x onerror=alert(1)>", "text": "a & b"})
    report = build_report(evaluate([row], SCHEMA, AS_OF), Roster([]), AS_OF)
    page = report_html(report, charts=False)
    assert "<b>X</b>" not in page and "&lt;b&gt;X&lt;/b&gt;" in page
    assert "<img src=x" not in page and "javascript:" not in page.split("<body>")[1].split("href=")[0]
    assert 'href="javascript' not in page and "a &amp; b" in page


def test_report_tab_is_upserted_by_department(tracker):
    backend = tracker.backend()
    run_report(backend, SCHEMA, AS_OF, now=AS_OF)
    first = {r["Department"]: r for r in records(tracker.values("Report"))}
    assert list(first) == ["SWM", "WS", "ROADS", "ALL"]
    assert first["SWM"]["Comments received"] == "3" and first["SWM"]["Answered within deadline"] == "50%"
    assert first["SWM"]["Oldest open comment"] == "2026-11-10 08:00 facebook C6"
    assert first["WS"]["Escalated (cell and Addl. Commissioner)"] == "0"
    # People sort the tab and add a note column of their own; the next report finds rows by code.
    tracker.sort("Report", "Department")
    later = parse_timestamp("2026-11-28T12:00:00+05:30")
    run_report(backend, SCHEMA, later, now=later)
    second = records(tracker.values("Report"))
    assert sorted(r["Department"] for r in second) == ["ALL", "ROADS", "SWM", "WS"]  # no doubles
    by_code = {r["Department"]: r for r in second}
    assert by_code["WS"]["Updated at (IST)"] == "2026-11-28 12:00"
    assert by_code["WS"]["Period (IST)"] == "2026-11-21 12:00 – 2026-11-28 12:00"
    assert by_code["WS"]["Escalated (cell and Addl. Commissioner)"] == "1"  # C4 is now past 2× its deadline


def test_report_tab_row_of_a_vanished_department_is_emptied(tracker):
    run_report(tracker.backend(), SCHEMA, AS_OF, now=AS_OF)
    tracker.type_in("Report", "Department", "ROADS", "Department", "OLD")
    run_report(tracker.backend(), SCHEMA, AS_OF, now=AS_OF)
    rows = {r["Department"]: r for r in records(tracker.values("Report"))}
    assert rows["OLD"]["Name"] == "(no longer in the roster or the comments)"
    assert rows["OLD"]["Open now"] == ""
    assert rows["ROADS"]["Open now"] == "0"


def test_report_recreates_a_missing_report_tab(tracker):
    tracker.delete_tab("Report")
    run_report(tracker.backend(), SCHEMA, AS_OF, now=AS_OF)
    assert "Report" in tracker.tab_titles()
    assert len(records(tracker.values("Report"))) == 4


def test_no_tab_writes_nothing_and_busy_when_locked(tracker):
    before = digest(tracker.path)
    result = CliRunner().invoke(main, ["report", "--tracker", tracker.tracker_arg, "--no-tab", "--json"])
    assert result.exit_code == 0 and digest(tracker.path) == before
    with run_lock(tracker.tracker_arg, "sync"):
        busy = CliRunner().invoke(main, ["report", "--tracker", tracker.tracker_arg])
    assert busy.exit_code == 6
    assert "another sheets-sync run holds the lock (sync, pid" in busy.output
    assert digest(tracker.path) == before


def test_report_of_an_empty_new_tracker(tmp_path, roster_file):
    backend = XlsxBackend(tmp_path / "new.xlsx")
    report, snap = run_report(backend, SCHEMA, AS_OF, roster_path=roster_file)
    assert report.total.received == 0 and [d.code for d in report.departments] == ["SWM", "WS", "ROADS"]
    assert "has no tabs yet; the Report tab was not written" in report.warnings[0]
    assert not (tmp_path / "new.xlsx").exists()
