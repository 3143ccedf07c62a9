"""The library's public API: what ``sheets_sync`` re-exports, sorted, and all of it importable."""

import subprocess
import sys

import sheets_sync


def test_all_is_sorted_and_every_name_is_there():
    assert sheets_sync.__all__ == sorted(sheets_sync.__all__)
    for name in sheets_sync.__all__:
        assert getattr(sheets_sync, name) is not None, name


def test_the_library_does_not_import_click():
    code = "import sys, sheets_sync, sheets_sync.jobs, sheets_sync.scheduler; print('click' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_job_runs_without_the_cli(tmp_path):
    from tests.helpers import comment, post, write_export, write_roster

    folder = write_export(tmp_path / "export", [post("P1")], [comment("C1", "P1")])
    tracker = sheets_sync.Tracker(str(tmp_path / "tracker.xlsx"),
                                  roster_path=str(write_roster(tmp_path / "departments.yaml")))
    sheets_sync.jobs.init(tracker)  # only init makes a workbook: a mistyped path is no new tracker
    result = sheets_sync.jobs.sync(tracker, f"files:{folder}")
    assert result.summary()["comments_added"] == 1
    assert sheets_sync.jobs.sync(tracker, f"files:{folder}").summary()["comments_added"] == 0
