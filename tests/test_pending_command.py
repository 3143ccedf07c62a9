"""``python cli.py pending -d CODE``: one department's open comments, most urgent first
(the order of its tab), as text, --json and --csv; an unknown code is exit 2, here and
in ``overdue -d``, and leaves the tracker as it was."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from cli import main
from sheets_sync.schema import load_schema
from sheets_sync.sources import FileSource
from sheets_sync.sync import run_sync
from sheets_sync.timeutil import parse_timestamp
from tests.helpers import comment, digest, post, write_export
from tests.trackers import records

SCHEMA = load_schema()
NOW = "2026-11-21T08:00:00+05:30"


@pytest.fixture
def tracker(harness, tmp_path, roster_file):
    folder = write_export(tmp_path / "export", [post("P1"), post("P2", "जलवाहिनी काम")], [
        comment("C1", "P1", "घंटागाडी आली नाही", at="2026-11-20T11:00:00+05:30"),  # due soon at 08:00
        comment("C2", "P1", "कचरा कधी उचलणार?", at="2026-11-21T07:00:00+05:30"),  # open, due tomorrow
        comment("C3", "P1", "घाण पसरली आहे", at="2026-11-20T06:00:00+05:30"),  # 2 h late
        comment("C4", "P1", "=HYPERLINK(\"http://evil.example\") कचरा नाही उचलला",
                at="2026-11-19T06:00:00+05:30"),  # 26 h late: escalated
        comment("C5", "P1", "ok", at="2026-11-20T12:00:00+05:30"),  # answered below
        comment("C6", "P2", "पाणी नाही", at="2026-11-20T07:00:00+05:30"),  # WS, 1 h late
    ])
    run_sync(harness.backend(), [FileSource(folder)], SCHEMA, roster_path=roster_file,
             now=parse_timestamp(NOW))
    harness.type_in("Comments", "Comment ID", "C5", "Status", "Replied")
    return harness


def run(harness, *args):
    return CliRunner(env=harness.env).invoke(main, ["pending", "--tracker", harness.tracker_arg,
                                                    "--as-of", NOW, *args])


def test_pending_lists_open_comments_most_urgent_first_as_in_the_tab(tracker):
    result = run(tracker, "-d", "SWM")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == ("Pending at 2026-11-21 08:00 IST, SWM — Solid Waste Management "
                        "(घनकचरा व्यवस्थापन): 4 open comment(s), 2 overdue, 1 due soon")
    ids = [line.split("facebook ")[1].split()[0] for line in lines[1:]]
    assert ids == ["C4", "C3", "C1", "C2"]  # the order of the department's tab
    tab = [r["Comment ID"] for r in records(tracker.values("Solid Waste Management"))]
    assert ids == [i for i in tab if i != "C5"]
    assert lines[1].split()[0] == "escalated" and "26 h late" in lines[1]
    assert lines[1].count("escalated") == 1  # said once, in the state column
    assert lines[2].split()[0] == "overdue" and "due soon" in lines[3] and "due in 3 h" in lines[3]
    assert lines[4].split()[0] == "open" and "due 2026-11-22 07:00" in lines[4]


def test_pending_json_csv_and_several_departments(tracker):
    data = json.loads(run(tracker, "-d", "ws", "-d", "Solid Waste Management", "--json").output)
    assert data["departments"] == ["WS", "SWM"]
    assert [(r["department"], r["comment_id"], r["state"]) for r in data["pending"]] == [
        ("WS", "C6", "overdue"), ("SWM", "C4", "escalated"), ("SWM", "C3", "overdue"),
        ("SWM", "C1", "due soon"), ("SWM", "C2", "open")]
    assert data["pending"][1]["text"].startswith("=HYPERLINK")  # as written, in JSON
    rows = list(csv.DictReader(io.StringIO(run(tracker, "-d", "SWM", "--csv").output)))
    assert [r["comment_id"] for r in rows] == ["C4", "C3", "C1", "C2"]
    assert rows[0]["text"].startswith("'=HYPERLINK")  # a spreadsheet opening the CSV sees text
    assert rows[2]["due_soon_at"] == "2026-11-21 05:00" and rows[2]["hours_left"] == "3.0"


def test_a_department_with_nothing_pending_says_so(tracker):
    result = run(tracker, "-d", "ROADS")
    assert result.exit_code == 0
    assert result.output.splitlines()[1:] == ["  nothing pending"]


def test_an_unknown_code_is_exit_2_naming_the_closest(tracker):
    result = run(tracker, "-d", "SWN")
    assert result.exit_code == 2
    assert result.output.strip() == ("Error: -d: unknown department code 'SWN' (closest known: SWM); "
                                     "the codes are in the tracker's Departments tab")
    missing = CliRunner().invoke(main, ["pending", "--tracker", tracker.tracker_arg], env=tracker.env)
    assert missing.exit_code == 2 and "Missing option '--department'" in missing.output


def test_overdue_with_an_unknown_code_is_exit_2_and_writes_nothing(harness, tmp_path, roster_file):
    folder = write_export(tmp_path / "export", [post("P1")], [
        comment("C1", "P1", "घंटागाडी आली नाही", at="2026-11-20T11:00:00+05:30")])
    run_sync(harness.backend(), [FileSource(folder)], SCHEMA, roster_path=roster_file,
             now=parse_timestamp("2026-11-20T12:00:00+05:30"))
    before = harness.values("Comments")
    stamp = digest(harness.path) if harness.kind == "xlsx" else None
    runner = CliRunner(env=harness.env)
    result = runner.invoke(main, ["overdue", "--tracker", harness.tracker_arg, "--as-of", NOW,
                                  "-d", "SWM", "-d", "WATER"])
    assert result.exit_code == 2
    assert result.output.startswith("Error: -d: unknown department code 'WATER' (closest known: WS)")
    # Nothing written: at NOW the run would have flagged C1 "due in 3 h" and logged itself.
    assert harness.values("Comments") == before
    if stamp is not None:
        assert digest(harness.path) == stamp
    good = runner.invoke(main, ["overdue", "--tracker", harness.tracker_arg, "--as-of",
                                "2026-11-21T12:00:00+05:30", "-d", "swm", "--json"])
    assert good.exit_code == 0, good.output
    assert [r["comment_id"] for r in json.loads(good.output)["overdue"]] == ["C1"]
