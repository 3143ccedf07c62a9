"""The workbook file as people and cron use it: a mistyped path, the file's
permissions, the workbook open in LibreOffice or Excel, lock files."""

from __future__ import annotations

import json
import os
import pwd
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from sheets_sync import jobs
from sheets_sync.errors import ConfigError
from tests.helpers import comment, digest, post, write_export

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


# -- the file's permissions ---------------------------------------------------------------


@pytest.fixture
def umask():
    """Set the process's umask for a test, and put the old one back."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _sync_more(path: Path, tmp_path: Path, roster_file: Path, cid: str = "C2"):
    folder = write_export(tmp_path / f"more-{cid}", [post("P1")], [comment("C1", "P1"), comment(cid, "P1")])
    result = run("sync", "--tracker", str(path), "--roster", str(roster_file), "--source", f"files:{folder}",
                 "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert "1 comment(s)" in result.stdout


@pytest.mark.parametrize("mode", [0o664, 0o640, 0o660], ids=oct)
def test_a_save_keeps_the_workbook_s_mode(tracker, tmp_path, roster_file, umask, mode):
    umask(0o022)  # a save must not fall back to this (0644), nor to a temporary file's 0600
    os.chmod(tracker, mode)
    _sync_more(tracker, tmp_path, roster_file)
    assert _mode(tracker) == mode
    assert run("tabs", "--tracker", str(tracker), "--as-of", AS_OF).exit_code == 0
    assert _mode(tracker) == mode


@pytest.mark.parametrize("mask, mode", [(0o002, 0o664), (0o022, 0o644), (0o027, 0o640)], ids=oct)
def test_a_new_workbook_has_the_umask_s_mode(tmp_path, roster_file, umask, mask, mode):
    umask(mask)
    path = tmp_path / "tracker.xlsx"
    assert run("init", "--tracker", str(path), "--roster", str(roster_file)).exit_code == 0
    assert _mode(path) == mode


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root may give a file away")
def test_a_save_keeps_the_owner_and_group(tracker, tmp_path, roster_file):
    os.chown(tracker, 4321, 8765)  # an officer's file, saved by the cell's cron as root
    os.chmod(tracker, 0o664)
    _sync_more(tracker, tmp_path, roster_file)
    assert (tracker.stat().st_uid, tracker.stat().st_gid, _mode(tracker)) == (4321, 8765, 0o664)


def test_a_save_goes_on_when_this_user_may_not_set_the_owner(tracker, tmp_path, roster_file, monkeypatch):
    def refuse(*args):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "chown", refuse)
    os.chmod(tracker, 0o664)
    _sync_more(tracker, tmp_path, roster_file)
    assert _mode(tracker) == 0o664
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# -- the workbook open in LibreOffice or Excel ------------------------------------------------

READ_ONLY = [["sync", "--dry-run"], ["overdue", "--no-flags"], ["report", "--no-tab"]]
WRITING = [["sync"], ["tabs"], ["overdue"], ["report"], ["init"]]
ELSEWHERE = "Sunita Patil,sunita,SMC-PC-07,26.11.2026 10:02,file:///C:/Users/sunita/AppData/Roaming/LibreOffice/4;"


def _args(command, tracker, export, roster_file):
    extra = ["--source", f"files:{export}"] if command[0] == "sync" else []
    if command[0] != "init":
        extra += ["--as-of", AS_OF]
    return [*command, "--tracker", str(tracker), "--roster", str(roster_file), *extra]


def _libreoffice_lock(tracker: Path, text: str) -> Path:
    lock = tracker.with_name(f".~lock.{tracker.name}#")
    lock.write_text(text, encoding="utf-8")
    return lock


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
@pytest.mark.parametrize("office", ["libreoffice", "excel"])
def test_read_only_commands_work_while_the_workbook_is_open(tracker, export, roster_file, command, office,
                                                             caplog):
    alone = run(*_args(command, tracker, export, roster_file))
    assert alone.exit_code == 0, alone.output
    if office == "libreoffice":
        _libreoffice_lock(tracker, ELSEWHERE)
        by = "LibreOffice by Sunita Patil (user sunita on host SMC-PC-07, since 26.11.2026 10:02)"
    else:
        tracker.with_name(f"~${tracker.name}").write_bytes(b"\x06Sunita" + b" " * 47 + b"\x00" * 108)
        by = "Excel by Sunita"
    before = digest(tracker)
    result = run(*_args(command, tracker, export, roster_file))
    assert result.exit_code == 0, result.output
    assert result.stdout == alone.stdout and "Error" not in result.stderr
    assert _warnings(caplog) == [
        f"{tracker} is open in {by}: read as last saved (what is not saved there yet is not in this read)"]
    assert digest(tracker) == before


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and r.name == "sheets_sync"]


@pytest.mark.parametrize("command", WRITING, ids=" ".join)
def test_writing_commands_refuse_a_workbook_open_elsewhere(tracker, export, roster_file, command):
    lock = _libreoffice_lock(tracker, ELSEWHERE)
    before = digest(tracker)
    result = run(*_args(command, tracker, export, roster_file))
    assert result.exit_code == 4, result.output
    assert result.stderr.strip().splitlines() == [
        f"Error: {tracker}: the workbook is open in LibreOffice or Excel (.~lock.tracker.xlsx# exists) by "
        "Sunita Patil (user sunita on host SMC-PC-07, since 26.11.2026 10:02); save and close it, then run "
        "again (if no one has it open, delete that file)"]
    assert digest(tracker) == before
    assert lock.read_text(encoding="utf-8") == ELSEWHERE


def _here(user: str, profile: str) -> str:
    return f",{user},{socket.gethostname()},02.12.2026 00:47,{profile};"


def test_a_lock_left_by_a_libreoffice_that_no_longer_runs_is_named(tracker, export, roster_file, tmp_path,
                                                                   caplog):
    me = pwd.getpwuid(os.getuid()).pw_name
    profile = (tmp_path / "lo-profile").as_uri()  # no LibreOffice of this profile runs
    lock = _libreoffice_lock(tracker, _here(me, profile))
    before = digest(tracker)
    result = run(*_args(["sync"], tracker, export, roster_file))
    assert result.exit_code == 4, result.output
    assert result.stderr.strip().splitlines() == [
        f"Error: {tracker}: .~lock.tracker.xlsx# says the workbook is open, but it was left by a LibreOffice "
        f"that is no longer running (user {me} on host {socket.gethostname()}, since 02.12.2026 00:47): "
        f"delete {lock} if nobody has the tracker open, then run again"]
    assert lock.exists() and digest(tracker) == before  # never deleted for them
    read = run(*_args(["overdue", "--no-flags"], tracker, export, roster_file))
    assert read.exit_code == 0
    assert _warnings(caplog) == [
        f"{tracker}: .~lock.tracker.xlsx# was left by a LibreOffice that is no longer running (user "
        f"{me} on host {socket.gethostname()}, since 02.12.2026 00:47); delete {lock} if nobody has the "
        "tracker open, or the next writing run stops on it"]
    lock.unlink()
    assert run(*_args(["sync"], tracker, export, roster_file)).exit_code == 0


def test_a_lock_of_a_user_with_no_libreoffice_running_is_left_over(tracker, export, roster_file):
    _libreoffice_lock(tracker, _here("nobody", "file:///nonexistent/.config/libreoffice/4"))
    result = run(*_args(["tabs"], tracker, export, roster_file))
    assert result.exit_code == 4
    assert "left by a LibreOffice that is no longer running (user nobody on host" in result.stderr


def test_a_libreoffice_still_running_here_keeps_the_workbook_open(tracker, export, roster_file, tmp_path):
    """A live process named soffice.bin with the lock's profile: the workbook is open."""
    me = pwd.getpwuid(os.getuid()).pw_name
    profile = (tmp_path / "lo-profile").as_uri()
    fake = tmp_path / "soffice.bin"
    fake.write_bytes(Path(shutil.which("sh")).read_bytes())  # a shell under LibreOffice's name
    fake.chmod(0o755)
    office = subprocess.Popen([str(fake), "-c", "sleep 60; :", f"-env:UserInstallation={profile}"])
    try:
        _libreoffice_lock(tracker, _here(me, profile))
        result = run(*_args(["sync"], tracker, export, roster_file))
    finally:
        office.kill()
        office.wait()
    assert result.exit_code == 4
    assert "the workbook is open in LibreOffice or Excel (.~lock.tracker.xlsx# exists) by user " \
        in result.stderr
    assert "no longer running" not in result.stderr


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_a_real_libreoffice_open_then_killed(tracker, export, roster_file, tmp_path):
    profile = (tmp_path / "lo-profile").as_uri()
    office = subprocess.Popen(["soffice", f"-env:UserInstallation={profile}", "--headless", "--norestore",
                               "--calc", str(tracker)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    lock = tracker.with_name(f".~lock.{tracker.name}#")
    try:
        deadline = time.monotonic() + 90
        while not lock.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert lock.exists(), "LibreOffice did not open the workbook"
        text = lock.read_text(encoding="utf-8")
        assert text.endswith(f"{profile};") and f",{socket.gethostname()}," in text
        assert run(*_args(["overdue", "--no-flags"], tracker, export, roster_file)).exit_code == 0
        open_now = run(*_args(["sync"], tracker, export, roster_file))
        assert open_now.exit_code == 4 and "the workbook is open in LibreOffice" in open_now.stderr
    finally:
        os.killpg(office.pid, signal.SIGKILL)  # as a crash would: the lock file stays
        office.wait()
    deadline = time.monotonic() + 10
    while _libreoffice_alive(profile) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert lock.exists()
    left = run(*_args(["sync"], tracker, export, roster_file))
    assert left.exit_code == 4
    assert "was left by a LibreOffice that is no longer running (user " in left.stderr
    assert lock.exists()


def _libreoffice_alive(profile: str) -> bool:
    from sheets_sync.backends.office_lock import _libreoffice_runs

    return bool(_libreoffice_runs(pwd.getpwuid(os.getuid()).pw_name, profile))


# -- .gitignore ------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_gitignore_lists_every_lock_file_the_tool_and_the_office_programs_make(tmp_path, monkeypatch):
    from sheets_sync.backends.xlsx_file import _new_save_file
    from sheets_sync.runlock import run_lock

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHEETS_SYNC_TRACKER", raising=False)
    monkeypatch.delenv("SHEETS_SYNC_STATE_DIR", raising=False)
    subprocess.run(["git", "init", "-q", "."], check=True)
    (tmp_path / ".gitignore").write_bytes((ROOT / ".gitignore").read_bytes())
    assert run("sync").exit_code == 0  # the README's first run: tracker.xlsx and its locks
    with run_lock("tracker.xlsx", "sync"), run_lock("tracker.xlsx", "schedule", name="schedule"), \
            run_lock("1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "sync"):
        _new_save_file(tmp_path / "tracker.xlsx")  # as a save killed midway leaves it
        (tmp_path / f"tracker.xlsx.run.lock.json.{os.getpid()}.tmp").write_text("{}")
        _libreoffice_lock(tmp_path / "tracker.xlsx", _here("nobody", "file:///x"))
        (tmp_path / "~$tracker.xlsx").write_bytes(b"\x00" * 162)
        made = sorted(p.name for p in tmp_path.iterdir() if p.name not in (".git", ".gitignore"))
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], check=True,
                                capture_output=True, text=True).stdout.splitlines()
    assert len(made) >= 10, made  # the workbook, 5 lock files and notes, a save, 2 office locks, state/
    assert status == ["?? .gitignore"], made


# -- one rule for default paths ----------------------------------------------------------------


@pytest.mark.parametrize("command", [["sync"], ["init"], ["overdue"], ["report"], ["tabs"], ["schedule"]],
                         ids=" ".join)
def test_every_help_says_where_the_tracker_is_looked_for(command):
    text = " ".join(run(*command, "--help").stdout.split())
    assert "A relative path is in the current folder." in text
    assert "The workbook must exist: init makes one" in text


def test_the_readme_states_one_rule_for_paths_and_the_help_agrees():
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "**Where files are found: one rule.** A relative path" in readme
    assert "is relative to the current folder" in readme
    sync_help = " ".join(run("sync", "--help").stdout.split())
    schedule_help = " ".join(run("schedule", "--help").stdout.split())
    assert "the sample exports shipped in sheets_sync/data/examples" in sync_help
    assert "the sample exports in `sheets_sync/data/examples/` — comes from the installed package" in readme
    assert "default: schedule.yaml in the current folder" in schedule_help


def test_the_default_sync_reads_the_shipped_samples_from_any_folder(tmp_path, monkeypatch):
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("SHEETS_SYNC_TRACKER", raising=False)
    monkeypatch.delenv("SHEETS_SYNC_SOURCE", raising=False)
    result = run("sync", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["comments_added"] > 0 and summary["tracker"] == "tracker.xlsx"
    assert (elsewhere / "tracker.xlsx").exists()
