"""The workbook file as people and cron use it: a mistyped path, the file's
permissions, the workbook open in LibreOffice or Excel, lock files."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from sheets_sync import jobs
from sheets_sync.errors import ConfigError
from tests.helpers import comment, post, write_export

AS_OF = "2026-11-26T12:00:00+05:30"
ROOT = Path(__file__).resolve().parent.parent


def run(*args, env=None):
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False, env=env)


@pytest.fixture
def export(tmp_path):
    return write_export(tmp_path / "export", [post("P1")], [comment("C1", "P1")])


@pytest.fixture
def tracker(tmp_path, export, roster_file):
    """A tracker made the way the README says (init), then synced once."""
    path = tmp_path / "tracker.xlsx"
    assert run("init", "--tracker", str(path), "--roster", str(roster_file)).exit_code == 0
    result = run("sync", "--tracker", str(path), "--roster", str(roster_file), "--source", f"files:{export}",
                 "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    return path


# -- a mistyped tracker is not a new tracker ---------------------------------------------

MISSING_COMMANDS = [
    ["sync"],
    ["sync", "--dry-run"],
    ["tabs"],
    ["overdue"],
    ["overdue", "--no-flags"],
    ["report"],
    ["report", "--no-tab"],
    ["schedule", "--run-now", "--max-iterations", "1"],
]


def _missing_line(path: Path) -> str:
    return (f"Error: {path}: no such workbook; check the path (--tracker or $SHEETS_SYNC_TRACKER), or "
            f"make a new tracker there with `python cli.py init --tracker {shlex.quote(str(path))}`")


@pytest.mark.parametrize("command", MISSING_COMMANDS, ids=" ".join)
def test_a_mistyped_tracker_stops_with_exit_2_and_creates_nothing(tmp_path, tracker, export, roster_file,
                                                                   command):
    before = sorted(p.name for p in tmp_path.iterdir())
    typo = tmp_path / "trackr.xlsx"
    result = run(*command, "--tracker", str(typo), "--roster", str(roster_file),
                 *(["--source", f"files:{export}"] if command[0] in ("sync", "schedule") else []))
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == [_missing_line(typo)]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # not even a lock file


def test_a_mistyped_tracker_in_the_environment_stops_too(tmp_path, export, roster_file):
    typo = tmp_path / "shared" / "trackr.xlsx"
    result = run("sync", "--roster", str(roster_file), "--source", f"files:{export}",
                 env={"SHEETS_SYNC_TRACKER": str(typo)})
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == [_missing_line(typo)]
    assert not typo.parent.exists()


def test_a_relative_path_is_named_with_the_folder_it_was_looked_for_in(tmp_path, monkeypatch, roster_file):
    monkeypatch.chdir(tmp_path)
    result = run("overdue", "--tracker", "my tracker.xlsx", "--roster", str(roster_file))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"Error: my tracker.xlsx: no such workbook (looked for {tmp_path / 'my tracker.xlsx'}); check the "
        "path (--tracker or $SHEETS_SYNC_TRACKER), or make a new tracker there with "
        "`python cli.py init --tracker 'my tracker.xlsx'`"]
    assert list(tmp_path.iterdir()) == [roster_file]


def test_init_makes_a_new_tracker(tmp_path, roster_file):
    path = tmp_path / "new" / "tracker.xlsx"
    result = run("init", "--tracker", str(path), "--roster", str(roster_file))
    assert result.exit_code == 0, result.output
    assert path.exists()
    assert run("overdue", "--no-flags", "--tracker", str(path), "--as-of", AS_OF).exit_code == 0


def test_the_readme_first_sync_makes_tracker_xlsx_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHEETS_SYNC_TRACKER", raising=False)
    result = run("sync")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "tracker.xlsx").exists()
    assert run("sync").exit_code == 0  # and the next run uses it


def test_the_default_tracker_is_made_by_sync_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHEETS_SYNC_TRACKER", raising=False)
    for command in (["overdue"], ["report", "--no-tab"], ["sync", "--dry-run"], ["tabs"]):
        result = run(*command)
        assert result.exit_code == 2, (command, result.output)
        assert "no such workbook" in result.stderr
        assert "python cli.py init --tracker tracker.xlsx" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_library_jobs_refuse_a_missing_workbook_unless_told_to_create(tmp_path, export, roster_file):
    path = tmp_path / "trackr.xlsx"
    tracker = jobs.Tracker(str(path), roster_path=str(roster_file))
    with pytest.raises(ConfigError, match="no such workbook"):
        jobs.sync(tracker, f"files:{export}")
    assert not path.exists()
    jobs.sync(jobs.Tracker(str(path), roster_path=str(roster_file), create=True), f"files:{export}")
    assert path.exists()
