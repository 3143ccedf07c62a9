"""What only the local workbook does: its temporary files, and the characters it cannot hold."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.schema import load_schema
from sheets_sync.sources import FileSource
from sheets_sync.sync import run_sync
from sheets_sync.timeutil import parse_timestamp
from tests.helpers import comment, post, write_export
from tests.trackers import XlsxHarness, records

ROOT = Path(__file__).resolve().parent.parent
NOW = parse_timestamp("2026-11-26T12:00:00+05:30")
SCHEMA = load_schema()


def sync(path: Path, folder: Path, roster_file: Path, **kw):
    return run_sync(XlsxBackend(path), [FileSource(folder)], SCHEMA, roster_path=roster_file, now=NOW, **kw)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".tracker.xlsx.*.tmp"))


# -- a save that was killed ---------------------------------------------------------

KILLED_SAVE = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, sys.argv[1])
    from sheets_sync.backends.xlsx import XlsxBackend
    from sheets_sync.schema import load_schema
    from sheets_sync.sources import FileSource
    from sheets_sync.sync import run_sync
    from sheets_sync.timeutil import parse_timestamp

    from sheets_sync.backends import xlsx
    save = xlsx.save_workbook

    def killed(workbook, filename):
        save(workbook, filename)  # the temporary file is written whole...
        os.kill(os.getpid(), signal.SIGKILL)  # ...and the run dies before it replaces the workbook

    xlsx.save_workbook = killed
    run_sync(XlsxBackend(sys.argv[2]), [FileSource(sys.argv[3])], load_schema(), roster_path=sys.argv[4],
             now=parse_timestamp("2026-11-26T12:00:00+05:30"))
""")


@pytest.mark.skipif(os.name == "nt", reason="SIGKILL")
def test_the_run_after_a_killed_save_removes_its_temporary_file(tmp_path, roster_file):
    tracker = tmp_path / "tracker.xlsx"
    first = write_export(tmp_path / "first", [post("P1")], [comment("C1", "P1")])
    sync(tracker, first, roster_file)
    before = tracker.read_bytes()
    second = write_export(tmp_path / "second", [post("P1")], [comment("C1", "P1"), comment("C2", "P1")])
    killed = subprocess.run([sys.executable, "-c", KILLED_SAVE, str(ROOT), str(tracker), str(second),
                             str(roster_file)], capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    assert tracker.read_bytes() == before  # the workbook as it was: the save never replaced it
    assert len(leftovers(tmp_path)) == 1
    result = sync(tracker, second, roster_file)
    assert result.summary()["comments_added"] == 1
    assert leftovers(tmp_path) == []


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_only_this_workbooks_abandoned_temporary_files_are_removed(tmp_path, roster_file):
    tracker = tmp_path / "tracker.xlsx"
    export = write_export(tmp_path / "export", [post("P1")], [comment("C1", "P1")])
    sync(tracker, export, roster_file)
    host = socket.gethostname()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        gone = {
            f".tracker.xlsx.{_dead_pid()}@{host}.a1b2c3d4.tmp": 0,  # its run died on this machine
            ".tracker.xlsx.a1b2c3d4.tmp": 3600,  # written an hour ago (no pid in the name)
            f".tracker.xlsx.{alive.pid}@another-pc.a1b2c3d4.tmp": 3600,  # an hour ago, elsewhere
        }
        kept = {
            f".tracker.xlsx.{alive.pid}@{host}.a1b2c3d4.tmp": 3600,  # its run is still alive here
            ".tracker.xlsx.e5f6g7h8.tmp": 0,  # just written, by whom is not known
            f".tracker.xlsx.{_dead_pid()}@another-pc.a1b2c3d4.tmp": 0,  # that pid is not ours to judge
            ".other.xlsx.a1b2c3d4.tmp": 3600,  # another workbook's
            "tracker.xlsx.a1b2c3d4.tmp": 3600,  # not the tool's name
            ".tracker.xlsx.notes.txt": 3600,
        }
        for name, age in {**gone, **kept}.items():
            path = tmp_path / name
            path.write_bytes(b"PK half a workbook")
            os.utime(path, (time.time() - age, time.time() - age))
        # A dry run writes nothing, and removes nothing either.
        sync(tracker, export, roster_file, dry_run=True)
        assert all((tmp_path / name).exists() for name in {**gone, **kept})
        sync(tracker, export, roster_file)
        assert not any((tmp_path / name).exists() for name in gone)
        assert all((tmp_path / name).exists() for name in kept)
    finally:
        alive.kill()
        alive.wait()


# -- characters a workbook cannot hold ------------------------------------------------


def test_nul_and_control_characters_become_the_replacement_character(tmp_path, roster_file):
    text = "a\x00b\x07c\x1bd\x0be\x0cf — tab\tand line\nfeed kept"
    export = write_export(tmp_path / "export", [post("P1")], [comment("C1", "P1", text)])
    harness = XlsxHarness(tmp_path)
    sync(harness.path, export, roster_file)
    row = {r["Comment ID"]: r for r in records(harness.values("Comments"))}["C1"]
    assert row["Comment"] == "a\ufffdb\ufffdc\ufffdd\ufffde\ufffdf — tab\tand line\nfeed kept"
    # Stored so, the next run sees nothing to change.
    assert sync(harness.path, export, roster_file).plan.changes == []
