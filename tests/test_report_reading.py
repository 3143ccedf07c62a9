"""The report reads the tracker as the sync does: a comment a person copied onto a second
row counts once (the first row), with the same warning, and the overdue flags agree."""

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


def _copy_row(harness, title: str, key: str) -> None:
    """What a person does with copy and paste: the row of ``key`` again below the last row."""
    rows = harness.values(title)
    row = next(r for r in rows[1:] if key in r)
    if harness.kind == "xlsx":
        harness._edit(lambda wb: wb[title].append(row))
    else:
        harness.person.edit(harness.sid, f"'{title}'!A{len(rows) + 1}", [row], raw=True)


def test_a_copied_comment_row_counts_once_in_the_report(harness, tmp_path, roster_file):
    folder = write_export(tmp_path / "export", [post("P1")], [
        comment("C1", "P1", "घंटागाडी आली नाही 😡"),
        comment("C2", "P1", "कधी येणार?", at="2026-11-25T10:00:00+05:30"),
    ])
    run_sync(harness.backend(), [FileSource(folder)], SCHEMA, roster_path=roster_file, now=NOW)
    _copy_row(harness, "Comments", "C1")
    assert [r["Comment ID"] for r in records(harness.values("Comments"))].count("C1") == 2
    report, snap = run_report(harness.backend(), SCHEMA, AS_OF, write_tab=False)
    assert report.total.received == 2 and report.total.open == 2
    assert sorted(d.comment_id for d in report.overdue) == ["C1", "C2"]
    assert any("id C1 (facebook) also on row" in w for w in report.warnings)
    # The sync's view of the same tracker: the same two comments, the same warning.
    result = run_sync(harness.backend(), [], SCHEMA, roster_path=roster_file, now=AS_OF)
    assert sorted(d.comment_id for d in result.plan.overdue) == ["C1", "C2"]
    assert any("id C1 (facebook) also on row" in w for w in result.plan.warnings)
