"""The job's own figures are numbers in the sheet (people sum and chart them); citizens'
text that looks like a number stays text. On both backends."""

from __future__ import annotations

from sheets_sync.report import run_report
from sheets_sync.schema import load_schema
from sheets_sync.sources import FileSource
from sheets_sync.sync import run_sync
from sheets_sync.timeutil import parse_timestamp
from tests.helpers import comment, post, write_export
from tests.trackers import records

SCHEMA = load_schema()
NOW = parse_timestamp("2026-11-25T21:00:00+05:30")
AS_OF = parse_timestamp("2026-11-26T12:00:00+05:30")


def _export(tmp_path):
    return write_export(tmp_path / "export", [post("P1"), post("P2", "नवीन जलवाहिनी काम सुरू")], [
        comment("C1", "P1", "007"),
        comment("C2", "P1", "1e5", at="2026-11-25T10:00:00+05:30"),
        comment("C3", "P2", "+91 98765 43210", at="2026-11-25T11:00:00+05:30"),
        comment("C4", "NOPE", "held back"),
    ])


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def test_sync_log_counts_are_numbers_and_citizen_numbers_stay_text(harness, tmp_path, roster_file):
    run_sync(harness.backend(), [FileSource(_export(tmp_path))], SCHEMA, roster_path=roster_file, now=NOW)
    for header, expected in (("Posts added", 2), ("Comments added", 3), ("Rows updated", 0),
                             ("Held back", 1)):
        value, formula = harness.raw_cell("Sync Log", "Command", "sync", header)
        assert _is_number(value) and value == expected and not formula, (header, value)
    seconds, _ = harness.raw_cell("Sync Log", "Command", "sync", "Seconds")
    assert _is_number(seconds) and seconds >= 0
    for cid, text in (("C1", "007"), ("C2", "1e5"), ("C3", "+91 98765 43210")):
        assert harness.raw_cell("Comments", "Comment ID", cid, "Comment") == (text, False)
    # Read back, a count is the same text as before: nothing to compare differently.
    log = records(harness.values("Sync Log"))
    assert (log[-1]["Posts added"], log[-1]["Comments added"], log[-1]["Held back"]) == ("2", "3", "1")
    # The next run sees nothing changed.
    again = run_sync(harness.backend(), [FileSource(_export(tmp_path))], SCHEMA, roster_path=roster_file,
                     now=NOW)
    assert again.plan.rows_updated == 0 and not sum(again.plan.comments_added.values())


def test_report_tab_figures_are_numbers(harness, tmp_path, roster_file):
    run_sync(harness.backend(), [FileSource(_export(tmp_path))], SCHEMA, roster_path=roster_file, now=NOW)
    for _ in range(2):  # written, then updated in place
        run_report(harness.backend(), SCHEMA, AS_OF, write_tab=True, now=AS_OF)
    for header in ("Comments received", "Answered", "Open now", "Overdue now", "Overdue (department)"):
        value, formula = harness.raw_cell("Report", "Department", "ALL", header)
        assert _is_number(value) and not formula, (header, value)
    received, _ = harness.raw_cell("Report", "Department", "ALL", "Comments received")
    assert received == 3  # C1 to C3 fall in the seven days before as_of
    rows = {r["Department"]: r for r in records(harness.values("Report"))}
    assert rows["ALL"]["Comments received"] == "3" and rows["ALL"]["Open now"] == "3"
    assert list(rows).count("ALL") == 1
