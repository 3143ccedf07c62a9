"""Archived comments never come back as new; reports are the same before and after
archiving; archive restore; the settings; the CLI — on both backends."""

from __future__ import annotations

from click.testing import CliRunner

import cli
from sheets_sync import jobs
from sheets_sync.sources import FileSource
from tests.archive_world import NOW, SCHEMA, archived_ids, comments, make, posts, sync
from tests.helpers import comment, post, write_export


def env(harness, monkeypatch):
    for k, v in harness.env.items():
        monkeypatch.setenv(k, v)


def test_archived_ids_never_return_as_new(harness, tmp_path, roster_file, monkeypatch):
    env(harness, monkeypatch)
    folder = make(harness, tmp_path, roster_file)
    jobs.archive(jobs.Tracker(harness.tracker_arg), now=NOW)
    # The same export again, and an export with an old comment, a late reply by the
    # corporation under an archived comment (its own id: new), and a citizen's new reply.
    again = sync(harness, folder, roster_file)
    assert again.plan.summary()["comments_added"] == 0
    later = write_export(tmp_path / "later", [post("P1", at="2026-09-01T10:00:00+05:30")], [
        comment("C2", "P1", "old again", at="2026-09-12T11:00:00+05:30"),
        comment("C20", "P1", "पुन्हा घंटागाडी आली नाही", parent="C2", at="2026-11-21T09:00:00+05:30"),
    ])
    result = sync(harness, later, roster_file)
    assert result.plan.summary()["comments_added"] == 1
    live = comments(harness)
    assert "C2" not in live
    assert live["C20"]["Reply to"] == "C2"  # linked to its archived parent
    # Its post came back from the archive with the department it had.
    assert posts(harness)["P1"]["Department"] == "SWM"
    assert sorted(archived_ids(harness, 2026)).count("C2") == 1


def test_a_platform_source_reading_an_old_thread_adds_nothing(harness, tmp_path, roster_file, monkeypatch):
    """A source that yields records as a platform does (not from files)."""
    from sheets_sync.models import Comment, Post
    from sheets_sync.sources.base import Batch
    from sheets_sync.timeutil import parse_timestamp

    env(harness, monkeypatch)
    make(harness, tmp_path, roster_file)
    jobs.archive(jobs.Tracker(harness.tracker_arg), now=NOW)

    class Platform:
        name = "facebook"

        def fetch(self, checkpoint):
            at = parse_timestamp("2026-09-11T11:00:00+05:30")
            posted = parse_timestamp("2026-09-01T10:00:00+05:30")
            return Batch([Post("facebook", "P1", posted, "p", "https://f/P1")],
                         [Comment("facebook", "C1", "P1", "", "a", "1", at, "t", "https://f/C1")], "cp")

    result = sync(harness, None, roster_file, sources=[Platform()])
    assert result.plan.summary()["comments_added"] == 0
    assert "C1" not in comments(harness) and "P1" not in posts(harness)


def test_a_report_is_the_same_before_and_after_archiving(harness, tmp_path, roster_file, monkeypatch):
    from sheets_sync.report import run_report
    from sheets_sync.timeutil import parse_timestamp

    env(harness, monkeypatch)
    make(harness, tmp_path, roster_file)
    since, until = parse_timestamp("2025-12-01T00:00:00+05:30"), parse_timestamp("2026-11-22T00:00:00+05:30")

    def figures():
        report, _ = run_report(harness.backend(), SCHEMA, NOW, since=since, until=until, write_tab=False)
        data = report.as_dict()
        data.pop("location", None)
        for late in data["overdue"]:
            late.pop("row", None)  # where the row sits in the sheet: archiving moves it up
        return data

    before = figures()
    jobs.archive(jobs.Tracker(harness.tracker_arg), now=NOW)
    assert figures() == before
    assert before["total"]["received"] == 10


def test_restore_brings_a_comment_back(harness, tmp_path, roster_file, monkeypatch):
    env(harness, monkeypatch)
    make(harness, tmp_path, roster_file)
    jobs.archive(jobs.Tracker(harness.tracker_arg), now=NOW)
    result = CliRunner().invoke(cli.main, ["archive", "restore", "--tracker", harness.tracker_arg, "C1"])
    assert result.exit_code == 0, result.output
    live = comments(harness)
    assert live["C1"]["Reply"] == "उत्तर C1 ✅" and live["C1"]["Comment"] == "=घंटागाडी 1 आली नाही 😡 🙏"
    assert "P1" in posts(harness)
    missing = CliRunner().invoke(cli.main, ["archive", "restore", "--tracker", harness.tracker_arg, "NOPE"])
    assert missing.exit_code == 2 and "NOPE" in missing.output


def test_cli_dry_run_and_bad_settings(harness, tmp_path, roster_file, monkeypatch):
    env(harness, monkeypatch)
    make(harness, tmp_path, roster_file)
    before = harness.values("Comments")
    out = CliRunner().invoke(cli.main, ["archive", "--tracker", harness.tracker_arg, "--dry-run",
                                        "--as-of", "2026-11-21"])
    assert out.exit_code == 0, out.output
    assert "would move 7 comment(s) of 2026" in out.output
    assert harness.values("Comments") == before
    schema = tmp_path / "schema.yaml"
    text = SCHEMA.path.read_text(encoding="utf-8").replace("  after_days: 30\n", "  after_days: soon\n")
    schema.write_text(text, encoding="utf-8")
    bad = CliRunner().invoke(cli.main, ["archive", "--tracker", harness.tracker_arg, "--schema", str(schema)])
    assert bad.exit_code == 2
    assert bad.output.count("\n") == 1 and "after_days" in bad.output and "Traceback" not in bad.output
    assert harness.values("Comments") == before


def test_the_cell_budget_warns(harness, tmp_path, roster_file, monkeypatch):
    from sheets_sync import sync as sync_module

    env(harness, monkeypatch)
    folder = make(harness, tmp_path, roster_file)
    monkeypatch.setattr(sync_module, "CELL_LIMIT", 200)  # 80 %: 160 cells
    result = sync(harness, folder, roster_file)
    assert any("python cli.py archive" in w for w in result.plan.warnings)
    assert "python cli.py archive" in harness.values("Sync Log")[-1][7]
    _ = FileSource
