"""The command line: exit codes, messages and output, as the cell's staff and cron see them.

Exit codes (the README's table): 0 done; 2 wrong option or configuration;
3 bad export data; 4 tracker unusable; 5 a source failed; 6 another run holds
the tracker. Every expected failure is one ``Error: …`` line on stderr and
never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

import cli
from sheets_sync import jobs
from sheets_sync.errors import SourceError
from sheets_sync.sources import FileSource
from sheets_sync.sources.base import Source
from tests.helpers import comment, digest, init_tracker, post, write_export
from tests.trackers import records

ROOT = Path(__file__).resolve().parent.parent
AS_OF = "2026-11-26T12:00:00+05:30"


@pytest.fixture
def export(tmp_path):
    posts = [post("P1", "घंटागाडी वेळापत्रक #SwachhMahanagar"),
             post("P2", "रस्त्यावरील खड्डे बुजवण्याचे काम सुरू", platform="instagram"),
             post("P3", "Happy Diwali 🪔", platform="x")]
    comments = [comment("C1", "P1", "घंटागाडी आली नाही 😡"),
                comment("C2", "P1", "धन्यवाद 🙏", parent="C1"),
                comment("C3", "P2", "=HYPERLINK(\"http://evil.example\")", platform="instagram"),
                comment("C4", "NOPE", "on a post nobody exported")]
    return write_export(tmp_path / "export", posts, comments)


@pytest.fixture
def new_path(tmp_path):
    """Where no tracker is yet (for init)."""
    return tmp_path / "tracker.xlsx"


@pytest.fixture
def tracker(new_path, roster_file):
    """A new tracker, as `python cli.py init` makes it: tabs and roster, no rows."""
    init_tracker(new_path, roster_file)
    return new_path


def invoke(args, **kw):
    runner = CliRunner()
    return runner.invoke(cli.main, [str(a) for a in args], catch_exceptions=False, **kw)


def sync_args(export, tracker, roster_file, *extra):
    return ["sync", "--source", f"files:{export}", "--tracker", tracker, "--roster", roster_file,
            "--as-of", AS_OF, *extra]


def assert_one_error_line(result, *fragments):
    """stderr is exactly one 'Error: …' line naming what is wrong; no traceback anywhere."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert "Traceback" not in result.output + result.stderr


# -- help ---------------------------------------------------------------------


@pytest.mark.parametrize("command, expected", [
    ([], ["sync", "init", "sources"]),
    (["sync"], ["--tracker", "--source", "--dry-run", "--json", "--roster", "--schema"]),
    (["init"], ["--tracker", "--schema", "--roster"]),
    (["sources"], ["check"]),
    (["sources", "check"], ["--source"]),
])
def test_help_of_every_command(command, expected):
    result = invoke([*command, "--help"])
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: ")
    for word in expected:
        assert word in result.stdout


# -- sync ---------------------------------------------------------------------


def test_sync_adds_rows_and_lists_counts_per_department(export, tracker, roster_file):
    result = invoke(sync_args(export, tracker, roster_file))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"Added 3 post(s) and 3 comment(s) to {tracker} from files:export" in out
    per_department = {line.split()[0]: line.split()[1:] for line in out.splitlines()
                      if line.startswith("  ") and "post(s)" in line}
    assert per_department == {"SWM": ["1", "post(s)", "2", "comment(s)"],
                              "ROADS": ["1", "post(s)", "1", "comment(s)"],
                              "Unassigned": ["1", "post(s)", "0", "comment(s)"]}
    assert "Held back 1 comment(s):" in out and "NOPE" in out
    assert result.stderr == ""
    wb = openpyxl.load_workbook(tracker)
    assert {"Posts", "Comments", "Departments", "Sync Log"} <= set(wb.sheetnames)
    head = [c.value for c in wb["Comments"][1]]
    ids = [r[head.index("Comment ID")] for r in wb["Comments"].iter_rows(min_row=2, values_only=True)]
    assert sorted(ids) == ["C1", "C2", "C3"]


def test_second_sync_adds_nothing(export, tracker, roster_file):
    assert invoke(sync_args(export, tracker, roster_file)).exit_code == 0
    result = invoke(sync_args(export, tracker, roster_file))
    assert result.exit_code == 0
    assert "Added 0 post(s) and 0 comment(s)" in result.stdout
    assert "0 row(s) updated" in result.stdout


def test_quiet_sync_prints_nothing(export, tracker, roster_file):
    result = invoke(["--quiet", *sync_args(export, tracker, roster_file)])
    assert result.exit_code == 0
    assert result.stdout == "" and result.stderr == ""
    assert tracker.exists()


def test_dry_run_on_a_new_tracker_prints_the_plan_and_creates_nothing(export, tracker, roster_file):
    before = digest(tracker)
    result = invoke(sync_args(export, tracker, roster_file, "--dry-run"))
    assert result.exit_code == 0, result.output
    out = result.stdout
    # 3 posts, 3 comments, and the tabs of the 2 departments that get comments (init
    # made every department's tab, and the overdue flags go with the new rows).
    assert f"Dry run on {tracker}: 8 planned change(s), nothing written." in out
    # C2 ("धन्यवाद 🙏") is thanks only: seeded Not required, so only C1 waits in the tab.
    assert "update tab 'Solid Waste Management': 1 row(s) after the run" in out
    assert "add post facebook P1 → SWM (hashtag #SwachhMahanagar)" in out
    assert "add post instagram P2 → ROADS" in out
    assert "add comment facebook C1 → SWM [complaint]" in out
    assert "Would add 3 post(s) and 3 comment(s)" in out
    assert digest(tracker) == before
    assert list(tracker.parent.glob("*.xlsx")) == [tracker]


def test_dry_run_on_an_existing_tracker_changes_not_a_byte(export, tracker, roster_file):
    assert invoke(sync_args(export, tracker, roster_file)).exit_code == 0
    before = digest(tracker)
    more = write_export(export.parent / "more", [post("P1", "घंटागाडी वेळापत्रक #SwachhMahanagar")],
                        [comment("C1", "P1", "घंटागाडी आली नाही 😡"), comment("C9", "P1", "अजून नाही")])
    result = invoke(sync_args(more, tracker, roster_file, "--dry-run"))
    assert result.exit_code == 0
    # The new comment, and the SWM tab that will list it.
    assert "2 planned change(s), nothing written." in result.stdout
    assert "add comment facebook C9 → SWM" in result.stdout
    assert "update tab 'Solid Waste Management'" in result.stdout
    assert "Would add 0 post(s) and 1 comment(s)" in result.stdout
    assert digest(tracker) == before


def test_json_summary_parses(export, tracker, roster_file):
    result = invoke(sync_args(export, tracker, roster_file, "--json"))
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["posts_added"] == 3 and summary["comments_added"] == 3
    assert summary["per_department"] == {"ROADS": {"posts": 1, "comments": 1},
                                         "SWM": {"posts": 1, "comments": 2},
                                         "Unassigned": {"posts": 1, "comments": 0}}
    assert summary["held"] == 1 and "NOPE" in summary["held_comments"][0]
    assert summary["warnings"] == [] and summary["dry_run"] is False
    # A dry run after it plans nothing.
    again = invoke(sync_args(export, tracker, roster_file, "--json", "--dry-run"))
    assert json.loads(again.stdout)["planned_changes"] == []


def test_json_dry_run_lists_the_planned_changes(export, tracker, roster_file):
    before = digest(tracker)
    result = invoke(sync_args(export, tracker, roster_file, "--json", "--dry-run"))
    summary = json.loads(result.stdout)
    assert summary["dry_run"] is True
    assert len(summary["planned_changes"]) == 8
    assert any("घंटागाडी" in line for line in summary["planned_changes"])
    assert "घंटागाडी" in result.stdout  # ensure_ascii=False: people can read it
    assert digest(tracker) == before


def test_warnings_reach_the_summary(tmp_path, tracker, roster_file):
    folder = write_export(tmp_path / "w", [post("P1", "text", department="NOSUCH")], [])
    result = invoke(sync_args(folder, tracker, roster_file))
    assert result.exit_code == 0
    assert "Warning: " in result.stdout and "'NOSUCH' is not in the roster" in result.stdout
    summary = json.loads(invoke(sync_args(folder, tracker, roster_file, "--json", "--dry-run")).stdout)
    # P1 is still Unassigned, so every run tries the export's department again, and says so.
    assert summary["warnings"] == [f"{folder / 'posts.csv'} line 2: department 'NOSUCH' is not in "
                                   "the roster; routed by the rules instead"]


# -- init ---------------------------------------------------------------------


def test_init_twice_second_says_nothing_to_do(new_path, roster_file):
    tracker = new_path
    first = invoke(["init", "--tracker", tracker, "--roster", roster_file])
    assert first.exit_code == 0
    assert "created tab 'Comments'" in first.stdout
    assert "added 3 department(s) to 'Departments'" in first.stdout
    before = digest(tracker)
    second = invoke(["init", "--tracker", tracker, "--roster", roster_file])
    assert second.exit_code == 0
    assert second.stdout.strip() == f"{tracker}: all tabs and headers are in place; nothing to do."
    assert digest(tracker) == before


def test_init_repairs_a_deleted_tab(tracker, roster_file):
    invoke(["init", "--tracker", tracker, "--roster", roster_file])
    wb = openpyxl.load_workbook(tracker)
    wb.remove(wb["Sync Log"])
    wb.save(tracker)
    result = invoke(["init", "--tracker", tracker, "--roster", roster_file])
    assert result.exit_code == 0
    assert "created tab 'Sync Log'" in result.stdout
    assert "Sync Log" in openpyxl.load_workbook(tracker).sheetnames


# -- exit codes -----------------------------------------------------------------


def test_unknown_option_is_a_usage_error(tracker):
    result = invoke(["sync", "--trakcer", tracker])
    assert result.exit_code == 2
    assert "Error: No such option '--trakcer'. Did you mean '--tracker'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_as_of_is_a_usage_error(export, new_path, roster_file):
    tracker = new_path
    result = invoke(["sync", "--source", f"files:{export}", "--tracker", tracker,
                     "--as-of", "yesterday"])
    assert result.exit_code == 2
    assert "Invalid value for --as-of: 'yesterday': give a date (2026-11-20), an IST time" in result.stderr
    assert not tracker.exists()


OFFSET = ": give a date (2026-11-20), an IST time (2026-11-20 10:00) or ISO 8601 with an offset"


@pytest.mark.parametrize("args, message", [
    (["sync", "--as-of", "tomorrow"], f"Invalid value for --as-of: 'tomorrow'{OFFSET}"),
    (["tabs", "--as-of", "tomorrow"], f"Invalid value for --as-of: 'tomorrow'{OFFSET}"),
    (["overdue", "--as-of", "tomorrow"], f"Invalid value for --as-of: 'tomorrow'{OFFSET}"),
    (["overdue", "--json", "--csv"], "choose one of --json and --csv"),
    (["report", "--since", "someday"], "Invalid value for --since: 'someday': give a date (2026-11-20), "
                                       "an IST time (2026-11-20 10:00) or ISO 8601 with an offset"),
    (["report", "--resend"], "--include-empty and --resend go with --email"),
    (["schedule", "--sync-every", "-5"], "Invalid value for '--sync-every': -5 is not in the range "
                                         "0<=x<=1440."),
    (["schedule", "--report-at", "9am"], "Invalid value for --report-at: '9am': give HH:MM (IST) or off"),
    (["init", "--tracker"], "Option '--tracker' requires an argument."),
    (["sources", "check", "--sorce", "x"], "No such option '--sorce'. Did you mean '--source'?"),
    (["--quite", "sync"], "No such option '--quite'. Did you mean '--quiet'?"),
    (["synk"], "No such command 'synk'. Did you mean 'sync'?"),
])
def test_a_wrong_option_is_one_error_line_exit_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = invoke(args)
    assert result.exit_code == 2, result.output
    assert result.stderr == f"Error: {message}\n"
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_a_group_without_its_command_still_shows_its_help():
    for args in ([], ["sources"]):
        result = invoke(args)
        assert result.exit_code == 2 and result.output.startswith("Usage: ")
        assert "Commands:" in result.output


@pytest.mark.parametrize("args, fragments", [
    (["--tracker", "tracker.csv"], ["--tracker 'tracker.csv': give a path ending in .xlsx"]),
    (["--source", "myspace"], ["--source myspace: unknown source 'myspace'"]),
    (["--source", "files:"], ["--source files:DIR needs a folder"]),
    (["--schema", "no-such-schema.yaml"], ["no-such-schema.yaml: schema not found"]),
])
def test_configuration_errors_exit_2(export, tmp_path, roster_file, monkeypatch, args, fragments):
    monkeypatch.chdir(tmp_path)
    init_tracker("tracker.xlsx", roster_file)
    before = digest(tmp_path / "tracker.xlsx")
    base = {"--source": f"files:{export}", "--tracker": "tracker.xlsx", "--roster": str(roster_file)}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = invoke(["sync", *[x for pair in base.items() for x in pair]])
    assert result.exit_code == 2, result.output
    assert_one_error_line(result, *fragments)
    assert digest(tmp_path / "tracker.xlsx") == before


# The roster file is read where a tracker is made: `init`, and the README's first sync.
@pytest.mark.parametrize("command", [["init", "--tracker", "tracker.xlsx"], ["sync"]], ids=" ".join)
def test_a_roster_file_that_does_not_exist_exits_2(export, tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHEETS_SYNC_TRACKER", raising=False)
    result = invoke([*command, "--roster", "no-such-roster.yaml"])
    assert result.exit_code == 2, result.output
    assert_one_error_line(result, "no-such-roster.yaml: department roster not found")
    assert not (tmp_path / "tracker.xlsx").exists()


def test_bad_schema_exits_2_naming_the_line(export, tracker, roster_file, tmp_path):
    before = digest(tracker)
    schema = tmp_path / "schema.yaml"
    text = (ROOT / "sheets_sync" / "data" / "sheet_schema.yaml").read_text(encoding="utf-8")
    text = text.replace("{field: reply, header: Reply, marathi: उत्तर, owner: people,",
                        "{field: reply, header: Reply, marathi: उत्तर, owner: nobody,", 1)
    schema.write_text(text, encoding="utf-8")
    line = text.splitlines().index(next(ln for ln in text.splitlines() if "owner: nobody" in ln)) + 1
    result = invoke([*sync_args(export, tracker, roster_file), "--schema", schema])
    assert result.exit_code == 2
    assert_one_error_line(result, f"{schema}:{line}: column 'reply' of tab 'comments': owner must be "
                                  "'job' or 'people', not 'nobody'")
    assert digest(tracker) == before


def test_bad_roster_exits_2_naming_the_line(export, new_path, tmp_path):
    # The roster seeds the Departments tab where the tracker is made: at init.
    tracker = new_path
    roster = tmp_path / "roster.yaml"
    roster.write_text("departments:\n  - code: SWM\n    name_en: Solid Waste\n"
                      "    head: not-an-address\n", encoding="utf-8")
    result = invoke(["init", "--tracker", tracker, "--roster", roster])
    assert result.exit_code == 2
    assert_one_error_line(result, f"{roster}:4: SWM: head 'not-an-address' is not an e-mail address")
    assert not tracker.exists()


def test_missing_google_credentials_exit_2(export, roster_file):
    sheet = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    result = invoke(["sync", "--source", f"files:{export}", "--tracker", sheet, "--roster", roster_file],
                    env={"GOOGLE_APPLICATION_CREDENTIALS": None})
    assert result.exit_code == 2
    assert_one_error_line(result, "no Google credentials", "--credentials")
    result = invoke(["sync", "--source", f"files:{export}", "--tracker", sheet,
                     "--credentials", "no-such-key.json"])
    assert result.exit_code == 2
    assert_one_error_line(result, "no-such-key.json: credentials file not found")


def test_bad_export_exits_3_and_leaves_the_tracker(export, tracker, roster_file, tmp_path):
    assert invoke(sync_args(export, tracker, roster_file)).exit_code == 0
    before = digest(tracker)
    bad = write_export(tmp_path / "bad", [post("P1"), post("P2", at="2026-11-20 10:00")], [])
    result = invoke(sync_args(bad, tracker, roster_file))
    assert result.exit_code == 3
    assert_one_error_line(result, f"{bad / 'posts.csv'} line 3: column 'posted_at':",
                          "'2026-11-20 10:00' has no UTC offset")
    assert digest(tracker) == before


def test_deleted_tab_exits_4(export, tracker, roster_file):
    assert invoke(sync_args(export, tracker, roster_file)).exit_code == 0
    wb = openpyxl.load_workbook(tracker)
    wb.remove(wb["Comments"])
    wb.save(tracker)
    before = digest(tracker)
    result = invoke(sync_args(export, tracker, roster_file))
    assert result.exit_code == 4
    assert_one_error_line(result, "tab 'Comments' is missing", "python cli.py init")
    assert digest(tracker) == before


def test_renamed_header_exits_4(export, tracker, roster_file):
    assert invoke(sync_args(export, tracker, roster_file)).exit_code == 0
    wb = openpyxl.load_workbook(tracker)
    for cell in wb["Posts"][1]:
        if cell.value == "Post ID":
            cell.value = "Post"
    wb.save(tracker)
    result = invoke(sync_args(export, tracker, roster_file))
    assert result.exit_code == 4
    assert_one_error_line(result, "tab 'Posts': column 'Post ID' not found in row 1")


class _Broken(Source):
    name = "facebook"

    def fetch(self, checkpoint):
        raise SourceError("the page token expired on 2026-11-25; renew it")


def test_a_failed_source_exits_5(tracker, roster_file, monkeypatch):
    monkeypatch.setattr(jobs, "open_sources", lambda spec: [_Broken()])
    result = invoke(["sync", "--source", "facebook", "--tracker", tracker, "--roster", roster_file])
    assert result.exit_code == 5
    assert_one_error_line(result, "the page token expired")


def test_one_failed_source_of_two_still_writes_the_other_and_exits_5(export, tracker, roster_file,
                                                                    monkeypatch):
    monkeypatch.setattr(jobs, "open_sources", lambda spec: [_Broken(), FileSource(export)])
    result = invoke(["sync", "--source", "all", "--tracker", tracker, "--roster", roster_file])
    assert result.exit_code == 5
    assert "Added 3 post(s) and 3 comment(s)" in result.stdout
    assert_one_error_line(result, "Error: facebook: the page token expired")
    log = records([[str(v or "") for v in row] for row in
                   openpyxl.load_workbook(tracker)["Sync Log"].iter_rows(values_only=True)])
    assert "the page token expired" in log[-1]["Errors and warnings"]


def test_sources_check(export, tmp_path):
    ok = invoke(["sources", "check", "--source", f"files:{export}"])
    assert ok.exit_code == 0
    assert ok.stdout.strip() == f"ok   files:export: 3 posts and 4 comments in {export}"
    bad = invoke(["sources", "check", "--source", f"files:{tmp_path / 'nowhere'}"])
    assert bad.exit_code == 5
    assert bad.stdout.startswith("FAIL files:nowhere: ") and "export folder not found" in bad.stdout


# -- the script itself ----------------------------------------------------------


def test_python_cli_py_sync_runs_as_a_script(export, roster_file, tmp_path):
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    made = subprocess.run([sys.executable, str(ROOT / "cli.py"), "init", "--tracker", "tracker.xlsx",
                           "--roster", str(roster_file)], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    args = [sys.executable, str(ROOT / "cli.py"), "sync", "--source", f"files:{export}",
            "--tracker", "tracker.xlsx", "--roster", str(roster_file), "--as-of", AS_OF]
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Added 3 post(s) and 3 comment(s) to tracker.xlsx" in done.stdout
    assert (cwd / "tracker.xlsx").exists()
    bad = subprocess.run([*args[:4], f"files:{cwd / 'nowhere'}", *args[5:]], cwd=cwd,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 3
    assert bad.stderr.startswith("Error: ") and "Traceback" not in bad.stderr


def test_the_installed_console_script_is_the_same_command(tmp_path):
    script = Path(sys.executable).parent / "sheets-sync"
    if not script.exists():
        pytest.skip("sheets-sync is not installed in this environment (pip install -e .)")
    done = subprocess.run([str(script), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout.replace("sheets-sync", "cli.py") == subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "--help"], cwd=tmp_path, capture_output=True, text=True,
        timeout=60).stdout
