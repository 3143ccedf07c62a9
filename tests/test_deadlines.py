"""Deadlines and overdue: categories, department overrides, office hours, holidays,
answered by status, reply text or the corporation's own reply, escalation levels."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time, timedelta

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from cli import main
from sheets_sync.deadlines import DeadlineRules, deadline_rules, evaluate, is_public_holiday, overdue
from sheets_sync.errors import ConfigError
from sheets_sync.schema import load_schema
from sheets_sync.table import Record
from sheets_sync.timeutil import IST, parse_timestamp

SCHEMA = load_schema()
COMPLAINT = SCHEMA.category("complaint")  # 24 hours
OFFICE = DeadlineRules(office_hours_only=True)


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=IST)


def row(cid, *, at_="2026-11-20 11:00", category="complaint", status="Pending", reply="",
        by_page="", parent="", department="SWM", platform="facebook", number=2, **extra):
    values = {"platform": platform, "comment_id": cid, "post_id": "P1", "parent_id": parent,
              "department": department, "commented_at": at_, "author": "सुनीता", "text": "कचरा",
              "url": f"https://fb.example/{cid}", "by_page": by_page, "category": category,
              "status": status, "reply": reply}
    values.update(extra)
    return Record(number, values)


def one(records, as_of, **kw):
    return {d.comment_id: d for d in evaluate(records, SCHEMA, at(as_of), **kw)}


# --- the clock ---------------------------------------------------------------------


def test_due_on_the_clock_by_category():
    got = one([row("C1"), row("C2", category="remark"), row("C3", category="टिप्पणी")], "2026-11-20 12:00")
    assert got["C1"].due_at == at("2026-11-21 11:00")
    assert got["C2"].due_at == at("2026-11-23 11:00")  # remark: 72 h
    assert got["C3"].due_at == at("2026-11-22 11:00") and got["C3"].category == "comment"  # Marathi name


def test_unknown_category_counts_as_comment_with_a_note():
    got = one([row("C1", category="gossip")], "2026-11-20 12:00")["C1"]
    assert got.category == "comment" and got.due_at == at("2026-11-22 11:00")
    assert "'gossip' is not one of" in got.note


def test_department_override():
    rules = DeadlineRules(department_hours=(("SWM", (("complaint", 6.0),)),))
    got = one([row("C1"), row("C2", department="WS")], "2026-11-20 12:00", rules=rules)
    assert got["C1"].due_at == at("2026-11-20 17:00")
    assert got["C2"].due_at == at("2026-11-21 11:00")


def test_overdue_levels_and_hours_late():
    records = [row("C1", at_="2026-11-20 11:00"), row("C2", at_="2026-11-22 09:00"),
               row("C3", at_="2026-11-23 09:00")]
    got = one(records, "2026-11-23 12:00")
    assert (got["C1"].overdue, got["C1"].level, got["C1"].late_hours) == (True, 2, 49.0)
    assert (got["C2"].overdue, got["C2"].level, got["C2"].late_hours) == (True, 1, 3.0)
    assert (got["C3"].overdue, got["C3"].level, got["C3"].late_hours) == (False, 0, 0.0)
    assert got["C1"].escalates_at == at("2026-11-22 11:00")
    # exactly at the due time is not yet late
    assert not one([row("C1")], "2026-11-21 11:00")["C1"].overdue


def test_escalate_after_is_configurable():
    rules = DeadlineRules(escalate_after=3)
    got = one([row("C1")], "2026-11-23 10:00", rules=rules)["C1"]
    assert got.level == 1 and got.escalates_at == at("2026-11-23 11:00")
    assert one([row("C1")], "2026-11-23 11:01", rules=rules)["C1"].level == 2


# --- answered ------------------------------------------------------------------------


def test_answered_by_status_reply_text_or_page_reply():
    records = [
        row("C1", status="Replied"),
        row("C2", reply="आज गाडी पाठवली"),
        row("C3"),
        row("R3", parent="C3", by_page="yes", at_="2026-11-20 15:30", status="Not required"),
        row("C4", status="Escalated"),
        row("C5", status="Not required"),
        row("C6", reply="  "),
    ]
    got = one(records, "2026-11-25 12:00")
    assert got["C1"].answered and got["C1"].answered_how == "status" and got["C1"].answered_at is None
    assert got["C2"].answered and got["C2"].answered_how == "reply text"
    assert got["C3"].answered and got["C3"].answered_at == at("2026-11-20 15:30")
    assert got["C3"].reply_hours == 4.5 and got["C3"].on_time is True
    assert not got["R3"].needs_reply and not got["R3"].overdue  # the corporation's own comment
    assert got["C4"].overdue and got["C4"].level == 2  # Escalated is still open
    assert not got["C5"].needs_reply and not got["C5"].overdue  # Not required never goes overdue
    assert got["C6"].overdue  # a blank reply is no reply
    assert [d.comment_id for d in overdue(got.values())] == ["C4", "C6"]


def test_page_reply_on_another_platform_does_not_count_and_first_reply_wins():
    records = [row("C1"), row("R1", platform="x", parent="C1", by_page="yes", at_="2026-11-20 12:00"),
               row("R2", parent="C1", by_page="yes", at_="2026-11-22 12:00"),
               row("R3", parent="C1", by_page="yes", at_="2026-11-21 09:00")]
    got = one(records, "2026-11-25 12:00")["C1"]
    assert got.answered_at == at("2026-11-21 09:00") and got.on_time is True


def test_late_page_reply_is_answered_but_not_on_time():
    records = [row("C1"), row("R1", parent="C1", by_page="yes", at_="2026-11-22 12:00")]
    got = one(records, "2026-11-25 12:00")["C1"]
    assert got.answered and not got.overdue and got.on_time is False and got.reply_hours == 49.0


def test_replied_at_column_is_used_when_present():
    got = one([row("C1", status="Replied", replied_at="2026-11-20 13:00")], "2026-11-25 12:00")["C1"]
    assert got.answered_at == at("2026-11-20 13:00") and got.reply_hours == 2.0


def test_unknown_status_counts_as_open_with_a_note_and_bad_time_has_no_deadline():
    got = one([row("C1", status="done"), row("C2", at_="yesterday")], "2026-11-25 12:00")
    assert got["C1"].overdue and "'done' is not one of" in got["C1"].note
    assert got["C2"].due_at is None and not got["C2"].overdue and "not readable" in got["C2"].note


def test_duplicate_row_evaluated_once():
    got = evaluate([row("C1"), row("C1", number=9, status="Replied")], SCHEMA, at("2026-11-25 12:00"))
    assert len(got) == 1 and got[0].row == 2 and got[0].overdue


def test_department_resolved_through_roster(roster_file):
    from sheets_sync.roster import load_roster_file

    roster = load_roster_file(roster_file)
    got = one([row("C1", department="Solid Waste Management")], "2026-11-25 12:00", roster=roster)
    assert got["C1"].department == "SWM"


# --- office hours ----------------------------------------------------------------------


def test_maharashtra_holidays_are_known():
    assert is_public_holiday(date(2026, 5, 1))  # Maharashtra Day
    assert is_public_holiday(date(2026, 3, 19))  # Gudi Padwa
    assert not is_public_holiday(date(2026, 11, 25))


def test_office_hours_arithmetic():
    # Friday 20 Nov 2026, 17:15: one hour left that day, then Monday from 09:45.
    assert OFFICE.add_hours(at("2026-11-20 17:15"), 3) == at("2026-11-23 11:45")
    # Written on a Sunday night: the clock starts Monday morning.
    assert OFFICE.add_hours(at("2026-11-22 23:00"), 1) == at("2026-11-23 10:45")
    # 24 office hours = two full days (8.5 h each) and 7 h more.
    assert OFFICE.add_hours(at("2026-11-30 09:45"), 24) == at("2026-12-02 16:45")
    # Guru Nanak's birthday (Tue 24 Nov 2026) is a public holiday in Maharashtra.
    assert is_public_holiday(date(2026, 11, 24))
    assert OFFICE.add_hours(at("2026-11-23 18:00"), 1) == at("2026-11-25 10:30")
    assert DeadlineRules(office_hours_only=True, public_holidays=False).add_hours(
        at("2026-11-23 18:00"), 1) == at("2026-11-24 10:30")


def test_second_and_fourth_saturday_off_and_extra_holidays():
    rules = DeadlineRules(office_hours_only=True, working_days=frozenset(range(6)),
                          saturdays_off=frozenset({2, 4}), extra_holidays=frozenset({date(2026, 11, 23)}))
    assert rules.is_working_day(date(2026, 11, 7))  # 1st Saturday
    assert not rules.is_working_day(date(2026, 11, 14))  # 2nd Saturday
    assert not rules.is_working_day(date(2026, 11, 28))  # 4th Saturday
    assert not rules.is_working_day(date(2026, 11, 23))  # a declared local holiday
    # Friday 27 Nov 18:00 → Sat 28 (4th, off), Sun, Mon 30 Nov.
    assert rules.add_hours(at("2026-11-27 18:00"), 1) == at("2026-11-30 10:30")


when = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31)).map(
    lambda d: d.replace(second=0, microsecond=0, tzinfo=IST))
hours = st.floats(min_value=0.25, max_value=200, allow_nan=False).map(lambda h: round(h * 4) / 4)
rules_st = st.builds(
    DeadlineRules, office_hours_only=st.just(True),
    working_days=st.frozensets(st.integers(0, 6), min_size=1),
    saturdays_off=st.frozensets(st.integers(1, 5), max_size=2),
    public_holidays=st.booleans(),
    office_start=st.sampled_from([time(9, 45), time(10, 0), time(0, 0)]),
    office_end=st.sampled_from([time(18, 15), time(17, 30), time(23, 59)]))


@settings(max_examples=150, deadline=None)
@given(rules=rules_st, start=when, h=hours)
def test_due_is_always_in_office_time(rules, start, h):
    due = rules.add_hours(start, h)
    assert rules.is_office_time(due)
    assert due > start


@settings(max_examples=150, deadline=None)
@given(rules=rules_st, a=when, b=when, h=hours)
def test_due_is_monotonic_in_commented_at(rules, a, b, h):
    early, late = sorted([a, b])
    assert rules.add_hours(early, h) <= rules.add_hours(late, h)


@settings(max_examples=100, deadline=None)
@given(start=when, h=hours, more=hours)
def test_more_hours_never_due_sooner(start, h, more):
    assert OFFICE.add_hours(start, h) <= OFFICE.add_hours(start, h + more)


@settings(max_examples=100, deadline=None)
@given(start=when, h=hours)
def test_wall_clock_mode_is_plain_addition(start, h):
    assert DeadlineRules().add_hours(start, h) == start + timedelta(hours=h)


# --- configuration -------------------------------------------------------------------------


def test_schema_defaults():
    rules = deadline_rules(SCHEMA)
    assert rules == DeadlineRules()
    assert "on the clock" in rules.describe()


def _schema_with(tmp_path, deadlines_yaml: str):
    text = SCHEMA.path.read_text(encoding="utf-8")
    text = text[: text.index("\ndeadlines:")] + "\ndeadlines:\n" + deadlines_yaml
    path = tmp_path / "schema.yaml"
    path.write_text(text, encoding="utf-8")
    return load_schema(path), text


def test_schema_settings_are_read(tmp_path):
    schema, _ = _schema_with(tmp_path, (
        "  office_hours_only: true\n  working_days: [Mon, Tue, Wed, Thu, Fri, Sat]\n"
        "  saturdays_off: [2, 4]\n  office_hours: {start: \"10:00\", end: \"17:30\"}\n"
        "  extra_holidays: [2026-11-09]\n  escalate_after: 3\n"
        "  departments:\n    swm: {तक्रार: 10}\n"))
    rules = deadline_rules(schema)
    assert rules.office_hours_only and rules.working_days == frozenset(range(6))
    assert rules.office_start == time(10) and rules.extra_holidays == frozenset({date(2026, 11, 9)})
    assert rules.reply_within_hours(COMPLAINT, "SWM") == 10  # by its Marathi name
    assert "2nd, 4th Saturday" in rules.describe()


def test_bad_settings_name_their_lines(tmp_path):
    schema, text = _schema_with(tmp_path, (
        "  office_hours_only: yes please\n"
        "  office_hours: {start: 9:45, end: \"18:15\"}\n"
        "  escalate_after: 1\n"
        "  departments:\n    SWM: {complaints: 12, complaint: 10, तक्रार: 8}\n"
        "  overtime: true\n"))
    first = text.count("\n", 0, text.index("\ndeadlines:")) + 2  # the line of "deadlines:"
    with pytest.raises(ConfigError) as err:
        deadline_rules(schema)
    message = str(err.value)
    assert "6 problems in deadlines" in message
    assert f"schema.yaml:{first + 1}: office_hours_only must be true or false" in message
    assert f"schema.yaml:{first + 2}: office_hours start 585 must be a time in quotes" in message
    assert f"schema.yaml:{first + 3}: escalate_after must be a number above 1" in message
    assert f"schema.yaml:{first + 5}: SWM: 'complaints' is not a category" in message
    assert f"schema.yaml:{first + 5}: SWM: complaint is given twice" in message
    assert f"schema.yaml:{first + 6}: unknown setting 'overtime'" in message


def test_end_to_end_from_a_synced_tracker(tmp_path, roster_file):
    from sheets_sync.backends.xlsx import XlsxBackend
    from sheets_sync.sources import FileSource
    from sheets_sync.sync import run_sync
    from tests.helpers import comment, post, write_export

    folder = write_export(tmp_path / "export", [post("P1")], [
        comment("C1", "P1"), comment("C2", "P1", "कधी येणार?", at="2026-11-23T10:00:00+05:30"),
        comment("C3", "P1", "तपासतो", parent="C2", by_page=True, at="2026-11-23T11:00:00+05:30")])
    backend = XlsxBackend(tmp_path / "tracker.xlsx")
    run_sync(backend, [FileSource(folder)], SCHEMA, roster_path=roster_file,
             now=parse_timestamp("2026-11-23T12:00:00+05:30"))
    with backend.open(SCHEMA, write=False) as session:
        table = session.read(["comments"])["comments"]
    got = {d.comment_id: d for d in evaluate(table.records(SCHEMA.tab("comments")), SCHEMA,
                                             at("2026-11-23 12:00"))}
    assert got["C1"].overdue and got["C1"].level == 2 and got["C1"].department == "SWM"
    assert got["C2"].answered and got["C2"].reply_hours == 1.0
    assert not got["C3"].needs_reply


def test_page_reply_after_as_of_does_not_count_yet():
    records = [row("C1"), row("R1", parent="C1", by_page="yes", at_="2026-11-22 12:00")]
    assert one(records, "2026-11-22 11:00")["C1"].overdue
    assert one(records, "2026-11-22 13:00")["C1"].answered


# --- the overdue command ----------------------------------------------------------------------


@pytest.fixture
def synced(tmp_path, roster_file):
    from sheets_sync.backends.xlsx import XlsxBackend
    from sheets_sync.sources import FileSource
    from sheets_sync.sync import run_sync
    from tests.helpers import comment, post, write_export

    folder = write_export(tmp_path / "export", [post("P1"), post("P2", "नवीन जलवाहिनी काम सुरू")], [
        comment("C1", "P1"),
        comment("C2", "P2", "=HYPERLINK(\"http://evil.example\") पाणी कधी?", at="2026-11-25T10:00:00+05:30"),
        comment("C3", "P2", "धन्यवाद", at="2026-11-25T11:00:00+05:30"),
        comment("C4", "P1", "ok", at="2026-11-19T09:00:00+05:30")])
    path = tmp_path / "tracker.xlsx"
    run_sync(XlsxBackend(path), [FileSource(folder)], SCHEMA, roster_path=roster_file,
             now=parse_timestamp("2026-11-25T12:00:00+05:30"))
    return path


def test_overdue_command_lists_per_department_oldest_first(synced):
    runner = CliRunner()
    args = ["overdue", "--tracker", str(synced), "--as-of", "2026-11-26T12:00:00+05:30"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Overdue at 2026-11-26 12:00 IST: 3 comment(s) in 2 department(s)"
    assert lines[1].startswith("SWM — Solid Waste Management (घनकचरा व्यवस्थापन) (2)")
    # oldest first: C4 was due on the 21st (comment, 48 h), C1 on the 21st 11:00
    swm = [line for line in lines if "facebook C" in line]
    assert [line.split("facebook ")[1].split()[0] for line in swm] == ["C4", "C1", "C2"]
    assert "ESCALATED" in swm[0] and "overdue" in swm[2] and "2.0 h late" in swm[2]

    as_json = runner.invoke(main, [*args, "--json"])
    data = json.loads(as_json.output)
    assert [(r["department"], r["comment_id"], r["level"]) for r in data["overdue"]] == [
        ("SWM", "C4", 2), ("SWM", "C1", 2), ("WS", "C2", 1)]
    assert data["overdue"][2]["text"].startswith("=HYPERLINK")

    as_csv = runner.invoke(main, [*args, "--csv", "-d", "ws"])
    rows = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert [r["comment_id"] for r in rows] == ["C2"]
    assert rows[0]["text"].startswith("'=HYPERLINK")  # a spreadsheet opening the CSV sees text

    nothing = runner.invoke(main, ["overdue", "--tracker", str(synced),
                                   "--as-of", "2026-11-19T10:00:00+05:30"])
    assert nothing.exit_code == 0
    assert nothing.output.startswith("Overdue at 2026-11-19 10:00 IST: 0 comment(s)")


def test_overdue_command_errors_are_one_line(synced, tmp_path):
    from tests.trackers import XlsxHarness

    harness = XlsxHarness(tmp_path)
    harness.rename_header("Comments", "Status", "Staus")
    result = CliRunner().invoke(main, ["overdue", "--tracker", str(synced)])
    assert result.exit_code == 4
    assert result.output.strip() == ("Error: tab 'Comments': column 'स्थिती / Status' not found in row 1 "
                                     "(renamed or deleted?); restore the header, or run `python cli.py init` "
                                     "to add it back as a new column")
    bad = CliRunner().invoke(main, ["overdue", "--tracker", str(synced), "--json", "--csv"])
    assert bad.exit_code == 2 and "choose one of --json and --csv" in bad.output
