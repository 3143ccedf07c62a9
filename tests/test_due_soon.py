"""Due soon: an open comment past three quarters of its time to reply (``due_soon_at``)
and not yet due — in the deadlines, the Overdue column and the hidden "Due soon from"
column of the Comments tab and the departments' tabs, and in ``overdue --due-soon``."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import pytest
from click.testing import CliRunner

from cli import main
from sheets_sync.deadlines import DeadlineRules, deadline_rules, due_soon, evaluate
from sheets_sync.errors import ConfigError
from sheets_sync.flags import overdue_flag
from sheets_sync.schema import load_schema
from sheets_sync.sources import FileSource
from sheets_sync.sync import run_sync
from sheets_sync.table import Record
from sheets_sync.timeutil import IST, parse_timestamp
from tests.helpers import comment, post, write_export
from tests.trackers import records

SCHEMA = load_schema()
COMPLAINT = SCHEMA.category("complaint")  # 24 hours


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=IST)


def row(cid, *, at_="2026-11-20 11:00", category="complaint", status="Pending", reply=""):
    return Record(2, {"platform": "facebook", "comment_id": cid, "post_id": "P1", "parent_id": "",
                      "department": "SWM", "commented_at": at_, "author": "सुनीता", "text": "कचरा",
                      "url": "", "by_page": "", "category": category, "status": status, "reply": reply})


def state(as_of: str, **kw):
    return evaluate([row("C1", **kw)], SCHEMA, at(as_of))[0]


def test_due_soon_after_three_quarters_of_the_time_to_reply():
    # A complaint of 11:00 is due 24 h later; due soon from 18 h later (05:00 next day).
    assert state("2026-11-21 04:59").due_soon is False
    soon = state("2026-11-21 08:00")
    assert soon.due_soon and not soon.overdue and soon.due_soon_from == at("2026-11-21 05:00")
    assert soon.hours_left == 3.0 and overdue_flag(soon) == "due in 3 h"
    assert overdue_flag(state("2026-11-21 10:30")) == "due in 30 min"
    late = state("2026-11-21 12:00")
    assert late.overdue and not late.due_soon and overdue_flag(late) == "1 h late"
    # Answered, or needing no reply: never due soon.
    assert not state("2026-11-21 08:00", status="Replied").due_soon
    assert not state("2026-11-21 08:00", status="Not required").due_soon
    assert not state("2026-11-21 08:00", reply="उद्या येईल").due_soon
    assert [d.comment_id for d in due_soon([soon, late])] == ["C1"]
    assert soon.as_dict()["due_soon_at"] == "2026-11-21 05:00" and soon.as_dict()["due_soon"] is True


def test_due_soon_counts_office_hours_like_the_deadline():
    rules = DeadlineRules(office_hours_only=True, department_hours=(("SWM", (("complaint", 4.0),)),))
    # Friday 17:15 + 3 office hours (¾ of 4): one on Friday, two on Monday → Monday 11:45.
    friday = at("2026-11-20 17:15")
    assert rules.due_soon_from(friday, COMPLAINT, "SWM") == at("2026-11-23 11:45")
    assert rules.due_at(friday, COMPLAINT, "SWM") == at("2026-11-23 12:45")
    got = evaluate([row("C1", at_="2026-11-20 17:15")], SCHEMA, at("2026-11-22 10:00"), rules=rules)[0]
    assert not got.due_soon  # Sunday: no office time has passed since Friday evening
    got = evaluate([row("C1", at_="2026-11-20 17:15")], SCHEMA, at("2026-11-23 12:00"), rules=rules)[0]
    assert got.due_soon and overdue_flag(got) == "due in 45 min"


def _schema_with(tmp_path, line: str):
    text = SCHEMA.path.read_text(encoding="utf-8").replace("  due_soon_at: 0.75\n", line)
    path = tmp_path / "schema.yaml"
    path.write_text(text, encoding="utf-8")
    return load_schema(path), text


def test_due_soon_at_is_configurable_and_checked(tmp_path):
    assert deadline_rules(SCHEMA).due_soon_at == 0.75
    schema, _ = _schema_with(tmp_path, "  due_soon_at: 0.5\n")
    assert deadline_rules(schema).due_soon_at == 0.5
    assert evaluate([row("C1")], schema, at("2026-11-20 23:30"))[0].due_soon  # 12.5 h of 24
    schema, text = _schema_with(tmp_path, "  due_soon_at: 75%\n")
    line = text.count("\n", 0, text.index("  due_soon_at:")) + 1
    with pytest.raises(ConfigError, match=rf"schema.yaml:{line}: due_soon_at must be a share of the "
                                          "deadline between 0 and 1"):
        deadline_rules(schema)


# --- in the tracker, both backends --------------------------------------------------------------

NOW = parse_timestamp("2026-11-21T08:00:00+05:30")
SWM = "Solid Waste Management"


@pytest.fixture
def export(tmp_path):
    return write_export(tmp_path / "export", [post("P1")], [
        comment("C1", "P1", "घंटागाडी आली नाही", at="2026-11-20T11:00:00+05:30"),  # due 21st 11:00
        comment("C2", "P1", "कचरा कधी उचलणार?", at="2026-11-21T07:00:00+05:30"),  # due 22nd 07:00
        comment("C3", "P1", "घाण पसरली आहे", at="2026-11-20T06:00:00+05:30"),  # overdue at 06:00
    ])


def sync(harness, folder, roster_file, now=NOW):
    return run_sync(harness.backend(), [FileSource(folder)], SCHEMA, roster_path=roster_file, now=now)


def test_due_soon_is_shown_in_the_comments_tab_and_the_departments_tab(harness, export, roster_file):
    sync(harness, export, roster_file)
    master = {r["Comment ID"]: r for r in records(harness.values("Comments"))}
    assert master["C1"]["Overdue"] == "due in 3 h"
    assert master["C1"]["Due soon from (IST)"] == "2026-11-21 05:00"
    assert master["C2"]["Overdue"] == "" and master["C2"]["Due soon from (IST)"] == "2026-11-22 01:00"
    assert master["C3"]["Overdue"] == "2 h late"
    tab = {r["Comment ID"]: r for r in records(harness.values(SWM))}
    assert [r["Comment ID"] for r in records(harness.values(SWM))] == ["C3", "C1", "C2"]
    assert tab["C1"]["Overdue"] == "due in 3 h" and tab["C1"]["Due soon from (IST)"] == "2026-11-21 05:00"
    assert tab["C2"]["Due soon from (IST)"] == "2026-11-22 01:00"
    # An hour later the text follows; the same moment again writes nothing.
    later = parse_timestamp("2026-11-21T09:00:00+05:30")
    sync(harness, export, roster_file, now=later)
    assert {r["Comment ID"]: r for r in records(harness.values(SWM))}["C1"]["Overdue"] == "due in 2 h"
    assert sync(harness, export, roster_file, now=later).plan.changes == []
    # Answered: its Due soon from stays (the sheet's colour also reads the Status), the text goes.
    harness.type_in("Comments", "Comment ID", "C1", "Status", "Replied")
    sync(harness, export, roster_file, now=later)
    master = {r["Comment ID"]: r for r in records(harness.values("Comments"))}
    assert master["C1"]["Overdue"] == "" and master["C1"]["Due soon from (IST)"] == "2026-11-21 05:00"
    assert "C1" not in [r["Comment ID"] for r in records(harness.values(SWM))]


def test_overdue_due_soon_lists_them_marked(tmp_path, export, roster_file):
    from sheets_sync.backends.xlsx import XlsxBackend

    path = tmp_path / "tracker.xlsx"
    run_sync(XlsxBackend(path), [FileSource(export)], SCHEMA, roster_path=roster_file, now=NOW)
    runner = CliRunner()
    args = ["overdue", "--tracker", str(path), "--as-of", "2026-11-21T08:00:00+05:30", "--no-flags"]
    plain = runner.invoke(main, args)
    assert plain.exit_code == 0, plain.output
    assert "due soon" not in plain.output.casefold() and "C1" not in plain.output

    text = runner.invoke(main, [*args, "--due-soon"])
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0].startswith("Overdue at 2026-11-21 08:00 IST: 1 comment(s)")
    assert "Due soon at 2026-11-21 08:00 IST: 1 comment(s) in 1 department(s)" in lines
    soon = [line for line in lines if "facebook C1" in line]
    assert len(soon) == 1 and "due soon" in soon[0] and "due in 3 h" in soon[0]

    data = json.loads(runner.invoke(main, [*args, "--due-soon", "--json"]).output)
    assert [r["comment_id"] for r in data["overdue"]] == ["C3"]
    assert [(r["comment_id"], r["state"], r["due_soon_at"]) for r in data["due_soon"]] == [
        ("C1", "due soon", "2026-11-21 05:00")]

    rows = list(csv.DictReader(io.StringIO(runner.invoke(main, [*args, "--due-soon", "--csv"]).output)))
    assert [(r["comment_id"], r["state"]) for r in rows] == [("C3", "overdue"), ("C1", "due soon")]
    assert rows[1]["hours_left"] == "3.0"
