"""The workbook as a file: how a save is made (a new file beside it, with the old one's
mode and owner, then one replace), how a save left by a killed run is found and removed,
and what tells one save of the file from another (a person's, in LibreOffice or Excel)."""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket
import stat
import time as clock
from pathlib import Path

# A temporary file of a save this long ago is abandoned, whoever wrote it: a save
# takes seconds (the same wait as for a Google protection left by a dead run).
ABANDONED_AFTER = 10 * 60
log = logging.getLogger("sheets_sync")


def _disk_mark(path: Path) -> tuple | None:
    """What tells one save of the file from another: a save replaces the file (new inode)
    or rewrites it (new time or size). None while there is no file."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def _new_save_file(path: Path) -> str:
    """An empty temporary file beside ``path``, made with mode 0666 less the umask.

    Not ``mkstemp``: its 0600 would become the workbook's mode at the replace, and
    the others who share the folder would lose the tracker. Who saves is in the
    name, so a later run can tell an abandoned file from one being written (see
    :func:`_remove_abandoned_saves`).
    """
    while True:
        tmp = path.parent / f".{path.name}.{os.getpid()}@{_host()}.{secrets.token_hex(4)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return str(tmp)
        except FileExistsError:
            continue


def _keep_access(path: Path, tmp: str) -> None:
    """Give the new file the workbook's mode, and its owner and group where this user may.

    A new workbook keeps the umask's mode. Owner first: a chown may clear set-id bits.
    """
    try:
        was = os.stat(path)
    except FileNotFoundError:
        return
    if hasattr(os, "chown"):
        for uid, gid in ((was.st_uid, was.st_gid), (-1, was.st_gid)):
            try:
                os.chown(tmp, uid, gid)
                break
            except OSError:  # only root may give a file away; a group, only to its members
                continue
    os.chmod(tmp, stat.S_IMODE(was.st_mode))


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "unknown"


def _remove_abandoned_saves(path: Path) -> None:
    """Remove the temporary files that killed saves of this workbook left behind.

    Called holding the workbook's write lock, which every save holds, so no other
    run of this version is saving it now. Still, only a file of this tool's name
    for this workbook goes, and only when its writer is known to be gone: its pid,
    on this machine, is dead; or, for a file from another machine of a shared
    drive or named before the pid was in it, it was written ``ABANDONED_AFTER`` ago.
    """
    pattern = re.compile(r"\." + re.escape(path.name) + r"\.(?:(\d+)@([A-Za-z0-9-]+)\.)?[a-z0-9_]+\.tmp")
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return
    now, host = clock.time(), _host()
    for entry in entries:
        found = pattern.fullmatch(entry.name)
        if found is None or not entry.is_file(follow_symlinks=False):
            continue
        pid, where = found.groups()
        try:
            if pid is not None and where == host:
                abandoned = not _alive(int(pid))  # a live pid may be a save still running
            else:
                abandoned = now - entry.stat(follow_symlinks=False).st_mtime > ABANDONED_AFTER
            if abandoned:
                os.unlink(entry.path)
                log.info("%s: removed %s, left by a save that did not finish", path, entry.name)
        except OSError:
            continue  # gone already, or not ours to remove: the next run tries again


def _alive(pid: int) -> bool:
    if os.name == "nt":
        return True  # os.kill would end the process there; the age rule decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, under another user
    return True
