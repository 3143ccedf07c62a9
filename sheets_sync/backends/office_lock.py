"""Who has a workbook open: the lock files LibreOffice and Excel leave beside it.

LibreOffice writes ``.~lock.tracker.xlsx#`` while it has ``tracker.xlsx`` open:
one line, ``<name>,<user>,<host>,<dd.mm.yyyy HH:MM>,<profile URL>;`` (name is
the one set in its options, often empty; ``\\`` escapes a comma in a field).
A LibreOffice that crashed or was killed leaves the file behind, and every
later run would refuse the tracker forever. When the file names this machine,
the processes tell: LibreOffice runs one process per profile, so none of that
user with that profile means nobody has the workbook open through it. Such a
file is named for what it is, and left for a person to delete: a workbook on
a shared folder may be open elsewhere under a copied profile, and deleting
another's lock is how their edits get lost.

Excel writes ``~$tracker.xlsx`` (the user's name in its first bytes); whether
its Excel still runs cannot be told from here.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

_FIELD_SEPARATOR = re.compile(r"(?<!\\),")
_PROFILE_OPTION = "-env:UserInstallation="


@dataclass(frozen=True)
class OfficeLock:
    """A lock file beside a workbook, and what it says."""

    file: Path
    app: str  # "LibreOffice" or "Excel"
    name: str = ""  # the name set in LibreOffice's options, or Excel's user name
    user: str = ""  # the operating-system user (LibreOffice)
    host: str = ""
    since: str = ""  # as LibreOffice writes it: 26.11.2026 10:02
    profile: str = ""  # LibreOffice's user profile, a file: URL
    #: Left by a LibreOffice that no longer runs: it names this machine, and no
    #: LibreOffice of that user and profile runs here.
    abandoned: bool = False

    def who(self) -> str:
        parts = [f"user {self.user}" if self.user else "", f"on host {self.host}" if self.host else ""]
        where = " ".join(p for p in parts if p)
        if self.since:
            where = f"{where}, since {self.since}" if where else f"since {self.since}"
        if self.name and where:
            return f"{self.name} ({where})"
        return self.name or where

    def refusal(self, workbook: Path) -> str:
        """Why a run does not write the workbook, and what to do."""
        if self.abandoned:
            return (f"{workbook}: {self.file.name} says the workbook is open, but it was left by a "
                    f"LibreOffice that is no longer running ({self.who()}): delete {self.file} if nobody "
                    "has the tracker open, then run again")
        who = self.who()
        by = f" by {who}" if who else ""
        return (f"{workbook}: the workbook is open in LibreOffice or Excel ({self.file.name} exists){by}; "
                "save and close it, then run again (if no one has it open, delete that file)")

    def reading_note(self, workbook: Path) -> str:
        """What a read-only command says while the workbook is open."""
        if self.abandoned:
            return (f"{workbook}: {self.file.name} was left by a LibreOffice that is no longer running "
                    f"({self.who()}); delete {self.file} if nobody has the tracker open, or the next "
                    "writing run stops on it")
        who = self.who()
        by = f" by {who}" if who else ""
        return (f"{workbook} is open in {self.app}{by}: read as last saved (what is not saved there yet "
                "is not in this read)")


def find_office_lock(workbook: Path) -> OfficeLock | None:
    """The LibreOffice or Excel lock file beside ``workbook``, if there is one."""
    libreoffice = workbook.with_name(f".~lock.{workbook.name}#")
    if libreoffice.exists():
        return _libreoffice_lock(libreoffice)
    excel = workbook.with_name(f"~${workbook.name}")
    if excel.exists():
        return OfficeLock(excel, "Excel", name=_excel_user(excel))
    return None


def _libreoffice_lock(file: Path) -> OfficeLock:
    try:
        text = file.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return OfficeLock(file, "LibreOffice")
    fields = [re.sub(r"\\(.)", r"\1", f) for f in _FIELD_SEPARATOR.split(text.rstrip(";"))]
    if len(fields) < 4:
        return OfficeLock(file, "LibreOffice")
    name, user, host, since = (f.strip() for f in fields[:4])
    profile = fields[4].strip() if len(fields) > 4 else ""
    abandoned = bool(user) and _same_host(host) and _libreoffice_runs(user, profile) is False
    return OfficeLock(file, "LibreOffice", name=name, user=user, host=host, since=since, profile=profile,
                      abandoned=abandoned)


def _excel_user(file: Path) -> str:
    """The user name Excel writes first in its owner file: a length byte, then the name."""
    try:
        data = file.read_bytes()[:64]
    except OSError:
        return ""
    if not data or not 0 < data[0] < len(data):
        return ""
    name = data[1:1 + data[0]].decode("latin-1")
    return name.strip() if name.isprintable() else ""


def _same_host(host: str) -> bool:
    def short(name: str) -> str:
        return name.split(".")[0].lower()

    return bool(host) and short(host) == short(socket.gethostname())


def _libreoffice_runs(user: str, profile: str) -> bool | None:
    """Whether a LibreOffice of ``user`` with this profile runs on this machine (None: cannot tell)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None  # not Linux: no portable way to list another user's processes
    try:
        import pwd

        account = pwd.getpwnam(user)
    except (ImportError, KeyError):
        return None
    default_profile = f"file://{account.pw_dir}/.config/libreoffice/4"
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != account.pw_uid:
                continue
            args = (entry / "cmdline").read_bytes().split(b"\0")
            command = (entry / "comm").read_text().strip()
        except OSError:
            continue  # ended meanwhile, or not ours to look at
        if not (command.startswith("soffice") or command == "oosplash"):
            continue
        own = next((a[len(_PROFILE_OPTION):].decode(errors="replace") for a in args
                    if a.startswith(_PROFILE_OPTION.encode())), default_profile)
        # A profile given through a variable ($SYSUSERCONFIG…) cannot be compared: running.
        if not profile or "$" in own or _same_profile(own, profile):
            return True
    return False


def _same_profile(a: str, b: str) -> bool:
    def norm(url: str) -> str:
        return unquote(url).replace("file://", "", 1).rstrip("/")

    return norm(a) == norm(b)


__all__ = ["OfficeLock", "find_office_lock"]
