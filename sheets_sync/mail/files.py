"""Attachments saved to disk: sanitised names, deterministic places, never opened.

A file is saved as ``<uidvalidity>-<uid>-<n>-<name>`` in the attachments folder.
The same message read again (after a crash before the tracker was written)
writes the same files under the same names, so nothing is ever doubled; each
file is written to a temporary name and renamed, so a half-written file never
sits under the final name. Files are written without execute permission and
never opened, run or previewed by the job.
"""

from __future__ import annotations

import mimetypes
import os
import re
import tempfile
import time
import unicodedata
from pathlib import Path

from sheets_sync.mail.errors import MailboxSettingsError

#: A half-written file older than this was left by a run that was killed: it is removed.
STALE_PART_SECONDS = 3600
#: A name is cut to this many bytes of UTF-8 (a file system allows 255, and the
#: prefix and a Devanagari name, three bytes a letter, must fit).
MAX_NAME_BYTES = 150
# Characters that are path separators or special somewhere (Windows, shells, Drive).
_UNSAFE = re.compile(r'[<>:"/\\|?*]')
# Zero-width joiners shape Devanagari conjuncts; every other format character
# (right-to-left overrides that make "gpj.exe" look like "exe.jpg") goes.
_KEEP_FORMAT = {"\u200c", "\u200d"}


def safe_name(name: str, content_type: str, n: int) -> str:
    """A file name safe to save and show: no folders, no control characters, no leading dot."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]  # only the last part of a path
    name = "".join(ch for ch in name if _allowed(ch))
    name = _UNSAFE.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    name = name.lstrip(".-~ ")
    if not name:
        extension = mimetypes.guess_extension(content_type or "") or ".bin"
        name = f"attachment-{n}{extension}"
    return _cut(name)


def _allowed(ch: str) -> bool:
    category = unicodedata.category(ch)
    if category in ("Cc", "Cs", "Co", "Cn"):
        return False
    return category != "Cf" or ch in _KEEP_FORMAT


def _cut(name: str) -> str:
    if len(name.encode("utf-8")) <= MAX_NAME_BYTES:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension.encode("utf-8")) > 16:
        stem, extension = name, ""
    room = MAX_NAME_BYTES - len(extension.encode("utf-8")) - (1 if extension else 0)
    cut = stem.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip(" .")
    return f"{cut}.{extension}" if extension else cut


def stored_name(uidvalidity: int, uid: int, n: int, name: str) -> str:
    return f"{uidvalidity}-{uid}-{n}-{name}"


class FolderStore:
    """Where attachments go on the workbook backend: a folder on this machine.

    The interface the content pipeline's stores share: ``save(key, name, data,
    content_type)`` returns where the file now is, as text for the Content row's
    Attachments cell. ``key`` is ``<uidvalidity>-<uid>-<n>``, the attachment's identity
    in the mailbox: saving the same key again replaces the file, never doubles it.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def save(self, key: str, name: str, data: bytes, content_type: str) -> str:
        relative = f"{key}-{name}"
        try:
            save(self.folder, relative, data)
        except OSError as exc:
            # Disk full, folder gone: the whole read stops, so the mail is not filed without
            # its attachment and the next run reads it again.
            raise MailboxSettingsError(cannot_save(self.folder, exc)) from None
        return relative


def save(folder: Path, relative: str, data: bytes) -> None:
    """Write ``data`` to ``folder/relative`` atomically, replacing what a crashed run left."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / relative
    # The sanitised name has no separators; this guards the promise anyway.
    if target.parent.resolve() != folder.resolve():
        raise ValueError(f"attachment name {relative!r} leaves the attachments folder")
    handle, temp = tempfile.mkstemp(dir=folder, prefix=".part-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def remove_stale_parts(folder: Path, *, now: float | None = None) -> int:
    """Delete the temporary files of runs killed while saving (never a finished attachment);
    the number removed. A fresh one may be another run's, still writing: it stays."""
    if not folder.is_dir():
        return 0
    limit = (time.time() if now is None else now) - STALE_PART_SECONDS
    removed = 0
    for path in folder.glob(".part-*"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
                removed += 1
        except OSError:
            pass  # gone already, or not ours to remove: it harms nothing
    return removed


def check_folder(folder: Path) -> None:
    """Make sure files can be saved in ``folder`` (made if missing); raise OSError if not."""
    folder.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=folder, prefix=".part-check-")
    os.close(handle)
    os.unlink(temp)


def cannot_save(folder: Path, exc: OSError) -> str:
    return (f"SHEETS_SYNC_ATTACHMENTS_DIR={str(folder)!r}: attachments cannot be saved there "
            f"({exc.strerror or exc}); free some space or name another folder (no mail was filed, "
            "the next run reads it again)")
