"""One writer at a time: the run lock every writing job takes (scheduler, cron, a person).

The lock is an operating-system file lock (``filelock``, ``flock`` on Linux):
the kernel drops it the moment the process holding it ends, however it ends
(killed, crashed, power cut), so a lock left by a crashed run is never a lock
at all: the next run takes it at once. Who holds it (pid, host, command,
since when) is written to a sidecar ``….json`` for the message another run
shows; a sidecar found when the lock was free tells that the previous holder
died mid-run, and the new run says so and takes over.

Where the lock lives:

- a local workbook: next to it (``tracker.xlsx.run.lock``), so every machine
  that opens the workbook on a shared folder sees the same lock;
- Google Sheets: in the state folder, ``$SHEETS_SYNC_STATE_DIR`` (default
  ``./state/``), one lock per spreadsheet. Runs on different machines do not
  share it; the Google backend's own protected-range lock covers that case.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from filelock import FileLock, Timeout

from sheets_sync.errors import Busy, ConfigError
from sheets_sync.timeutil import now_ist, to_sheet

log = logging.getLogger("sheets_sync.runlock")
STATE_DIR_ENV = "SHEETS_SYNC_STATE_DIR"
DEFAULT_STATE_DIR = "state"


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a lock, as its sidecar says."""

    pid: int
    host: str
    command: str
    since: str  # IST, as the tracker shows times

    def describe(self) -> str:
        what = f"{self.command}, " if self.command else ""
        return f"{what}pid {self.pid} on {self.host}, since {self.since} IST"


class RunLock:
    """A non-blocking, crash-safe lock. Use as a context manager, or acquire()/release()."""

    def __init__(self, path: Path | str, *, command: str = "", what: str = "") -> None:
        self.path = Path(path)
        self.info_path = self.path.with_name(self.path.name + ".json")
        self.command = command
        self.what = what or str(self.path)
        # No soft-lock fallback: a soft lock outlives a killed process, which is
        # exactly what this lock must never do.
        self._lock = FileLock(str(self.path), fallback_to_soft=False)
        self.took_over: Holder | None = None

    @property
    def is_held(self) -> bool:
        return self._lock.is_locked

    def holder(self) -> Holder | None:
        try:
            data = json.loads(self.info_path.read_text(encoding="utf-8"))
            return Holder(int(data["pid"]), str(data["host"]), str(data.get("command", "")),
                          str(data.get("since", "")))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def acquire(self, *, now: datetime | None = None) -> RunLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"{self.path.parent}: cannot create the folder for the run lock ({exc.strerror}); "
                f"set {STATE_DIR_ENV} to a folder this user can write") from None
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            holder = self.holder()
            who = f" ({holder.describe()})" if holder else ""
            raise Busy(f"{self.what}: another sheets-sync run holds the lock{who}; this run changed "
                       f"nothing, try again when it ends (lock file {self.path})") from None
        except OSError as exc:
            raise ConfigError(
                f"{self.path}: cannot lock this file ({exc.strerror or exc}); the folder may be on a "
                f"drive without file locks: set {STATE_DIR_ENV} to a local folder") from None
        previous = self.holder()
        if previous is not None and previous.pid != os.getpid():
            # The kernel let us in, so that run is gone: it ended without releasing.
            self.took_over = previous
            log.warning("%s: took over the run lock left by a run that ended without releasing it (%s)",
                        self.what, previous.describe())
        self._write_info(now)
        return self

    def _write_info(self, now: datetime | None) -> None:
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
                "since": to_sheet(now or now_ist())}
        tmp = self.info_path.with_name(self.info_path.name + f".{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(info), encoding="utf-8")
            os.replace(tmp, self.info_path)
        except OSError:  # the sidecar only serves messages; the lock itself is held
            log.debug("could not write %s", self.info_path, exc_info=True)

    def release(self) -> None:
        if not self._lock.is_locked:
            return
        try:
            holder = self.holder()
            if holder is not None and holder.pid == os.getpid():
                self.info_path.unlink(missing_ok=True)
        except OSError:
            pass
        self._lock.release()

    def __enter__(self) -> RunLock:
        if not self.is_held:
            self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def lock_path(tracker: str, *, name: str = "run", environ: Mapping[str, str] | None = None) -> Path:
    """Where the lock of ``tracker`` lives (see the module's notes)."""
    env = os.environ if environ is None else environ
    tracker = tracker.strip()
    if tracker.lower().endswith(".xlsx"):
        path = Path(tracker)
        return path.with_name(f"{path.name}.{name}.lock")
    from sheets_sync.backends import spreadsheet_id

    ident = spreadsheet_id(tracker) or "".join(ch if ch.isalnum() else "_" for ch in tracker)[:80]
    state = Path(env.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)
    return state / f"{name}-{ident}.lock"


def run_lock(tracker: str, command: str, *, name: str = "run",
             environ: Mapping[str, str] | None = None) -> RunLock:
    """The run lock of ``tracker`` (not yet taken): ``with run_lock(t, "sync"): …``."""
    return RunLock(lock_path(tracker, name=name, environ=environ), command=command, what=tracker)


__all__ = ["Holder", "RunLock", "lock_path", "run_lock"]
