"""Times people type for --as-of, --since and --until: a plain date or time is IST everywhere."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

import cli
from sheets_sync.timeutil import IST, parse_when
from tests.helpers import init_tracker


@pytest.mark.parametrize("text, end_of_day, expected", [
    ("2026-11-26", False, datetime(2026, 11, 26, tzinfo=IST)),
    ("2026-11-26", True, datetime(2026, 11, 27, tzinfo=IST)),
    ("2026-11-26T18:00", False, datetime(2026, 11, 26, 18, 0, tzinfo=IST)),
    ("2026-11-26 18:00", False, datetime(2026, 11, 26, 18, 0, tzinfo=IST)),
    (" 2026-11-26 18:00:30 ", False, datetime(2026, 11, 26, 18, 0, 30, tzinfo=IST)),
    ("2026-11-26T12:30:00Z", False, datetime(2026, 11, 26, 18, 0, tzinfo=IST)),
    ("2026-11-26T18:00:00+05:30", True, datetime(2026, 11, 26, 18, 0, tzinfo=IST)),
])
def test_plain_dates_and_times_are_ist_and_offsets_still_work(text, end_of_day, expected):
    assert parse_when(text, end_of_day=end_of_day) == expected


@pytest.mark.parametrize("text", ["tomorrow", "26/11/2026", "2026-13-01", "2026-11-26T25:00"])
def test_a_time_nobody_can_read_says_what_to_write(text):
    with pytest.raises(ValueError, match="give a date .2026-11-20., an IST time"):
        parse_when(text)


def test_wrong_offset_text_is_still_named():
    with pytest.raises(ValueError, match="not a valid date and time"):
        parse_when("2026-02-30T10:00+05:30")


@pytest.mark.parametrize("as_of", ["2026-11-26 18:00", "2026-11-26T18:00", "2026-11-26T18:00:00+05:30",
                                   "2026-11-26T12:30Z"])
def test_overdue_as_of_takes_a_plain_ist_time(tmp_path, roster_file, as_of):
    tracker = tmp_path / "tracker.xlsx"
    runner = CliRunner()
    assert runner.invoke(cli.main, ["--quiet", "init", "--tracker", str(tracker), "--roster",
                                    str(roster_file)]).exit_code == 0
    result = runner.invoke(cli.main, ["overdue", "--tracker", str(tracker), "--roster", str(roster_file),
                                      "--as-of", as_of, "--json", "--no-flags"])
    assert result.exit_code == 0, result.output
    when = datetime.fromisoformat(json.loads(result.stdout)["as_of"])
    assert when == datetime(2026, 11, 26, 18, 0, tzinfo=IST)
    if as_of.endswith("18:00"):  # a plain time is IST
        assert when.utcoffset() == timedelta(hours=5, minutes=30)


def test_sync_as_of_takes_a_plain_date(tmp_path, roster_file):
    init_tracker(tmp_path / "t.xlsx", roster_file)
    result = CliRunner().invoke(cli.main, ["sync", "--tracker", str(tmp_path / "t.xlsx"), "--roster",
                                           str(roster_file), "--as-of", "2026-11-26", "--json"])
    assert result.exit_code == 0, result.output
