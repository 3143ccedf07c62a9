"""The run lock: one writer at a time, Busy (exit 6) with who holds it, taken over
safely when the holder was killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sheets_sync.errors import Busy, ConfigError
from sheets_sync.runlock import RunLock, lock_path, run_lock

ROOT = Path(__file__).resolve().parent.parent

HOLDER = textwrap.dedent("""
    import sys, time
    from sheets_sync.runlock import RunLock
    lock = RunLock(sys.argv[1], command="sync")
    lock.acquire()
    print("held", flush=True)
    time.sleep(60)
""")


def start_holder(path: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_busy_while_another_process_holds_it_then_taken_over_after_kill(tmp_path, caplog):
    path = tmp_path / "tracker.xlsx.run.lock"
    proc = start_holder(path)
    try:
        with pytest.raises(Busy) as err:
            RunLock(path, command="report", what="tracker.xlsx").acquire()
        message = str(err.value)
        assert message.startswith("tracker.xlsx: another sheets-sync run holds the lock (sync, pid "
                                  f"{proc.pid} on ")
        assert "this run changed nothing" in message and err.value.exit_code == 6
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    # The kernel released the dead run's lock; its sidecar is still there.
    assert path.with_name(path.name + ".json").exists()
    with caplog.at_level("WARNING"), RunLock(path, command="report") as lock:
        assert lock.took_over is not None and lock.took_over.pid == proc.pid
        assert lock.holder().pid == os.getpid() and lock.holder().command == "report"
    assert "took over the run lock" in caplog.text
    assert not path.with_name(path.name + ".json").exists()  # a clean release leaves no sidecar


def test_second_lock_in_the_same_process_is_busy_and_release_frees_it(tmp_path):
    path = tmp_path / "x.lock"
    first = RunLock(path, command="schedule").acquire()
    with pytest.raises(Busy):
        RunLock(path).acquire()
    first.release()
    with RunLock(path) as again:
        assert again.is_held and again.took_over is None
    assert not again.is_held


def test_lock_path_next_to_workbook_or_in_state_dir(tmp_path):
    assert lock_path(str(tmp_path / "t.xlsx")) == tmp_path / "t.xlsx.run.lock"
    sheet = "https://docs.google.com/spreadsheets/d/1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789/edit"
    env = {"SHEETS_SYNC_STATE_DIR": str(tmp_path / "st")}
    assert lock_path(sheet, environ=env) == tmp_path / "st" / "run-1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789.lock"
    assert lock_path(sheet, environ={}, name="schedule").parts[-2:] == (
        "state", "schedule-1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789.lock")
    with run_lock(sheet, "sync", environ=env) as lock:
        assert lock.path.parent == tmp_path / "st" and lock.path.parent.is_dir()


def test_state_dir_that_cannot_be_created_is_a_config_error(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(ConfigError, match="set SHEETS_SYNC_STATE_DIR to a folder"):
        RunLock(tmp_path / "a-file" / "state" / "run.lock").acquire()
