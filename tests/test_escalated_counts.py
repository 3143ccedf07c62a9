"""When every overdue comment is escalated, the report still reads as overdue: the
Overdue counts include the escalated ones (issue 12)."""

from __future__ import annotations

from datetime import datetime

from sheets_sync.deadlines import evaluate
from sheets_sync.report import build_report, report_text
from sheets_sync.report_html import summary_table_html
from sheets_sync.roster import load_roster_file
from sheets_sync.schema import load_schema
from sheets_sync.table import Record
from sheets_sync.timeutil import IST

SCHEMA = load_schema()
AS_OF = datetime(2026, 11, 26, 12, 0, tzinfo=IST)


def row(cid, at, status="Pending"):
    return Record(2, {"platform": "facebook", "comment_id": cid, "post_id": "P1", "parent_id": "",
                      "department": "SWM", "commented_at": at, "author": "सुनीता", "text": "कचरा नाही",
                      "url": "", "by_page": "", "category": "complaint", "status": status, "reply": ""})


def everything_escalated(roster_file):
    # Both past twice their 24 h deadline; one of them also set to Escalated by a person.
    deadlines = evaluate([row("C1", "2026-11-22 10:00"), row("C2", "2026-11-23 09:00", "Escalated")],
                         SCHEMA, AS_OF)
    assert [d.level for d in deadlines] == [2, 2]
    return build_report(deadlines, load_roster_file(roster_file), AS_OF,
                        since=datetime(2026, 11, 1, tzinfo=IST))


def test_the_report_table_counts_escalated_comments_as_overdue(roster_file):
    report = everything_escalated(roster_file)
    assert report.total.overdue == 2 and report.total.overdue_level_2 == 2
    lines = report_text(report).splitlines()
    head = lines[1].split()
    assert head[3:6] == ["Open", "Overdue", "Escalated"]
    swm = next(line.split() for line in lines if line.startswith("SWM "))
    total = next(line.split() for line in lines if line.startswith("ALL") or line.startswith("all"))
    assert swm[3:6] == ["2", "2", "2"] and total[3:6] == ["2", "2", "2"]


def test_the_html_summary_counts_escalated_comments_as_overdue(roster_file):
    html = summary_table_html(everything_escalated(roster_file))
    swm = next(line for line in html.splitlines() if "<b>SWM</b>" in line)
    cells = [c.split("<")[0] for c in swm.split("<td class=n>")[1:]]
    assert cells[:5] == ["2", "0", "2", "2", "2"]  # received, answered, open, overdue, escalated
