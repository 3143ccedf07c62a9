"""Drive v3 as the fake serves it: make, list by name, share and delete spreadsheets
(gspread's ``create`` and ``del_spreadsheet``; the archive's spreadsheets per year)."""

from __future__ import annotations

import re

from .fake_sheets_model import ApiError

SPREADSHEET_MIME = "application/vnd.google-apps.spreadsheet"


class DriveError(ApiError):
    """Drive v3 answers errors with an ``errors`` list and no ``status``."""

    def __init__(self, code: int, message: str, reason: str):
        super().__init__(code, message)
        self.reason = reason

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "errors": [
            {"message": self.message, "domain": "global", "reason": self.reason}]}}


class DriveMixin:
    """The Drive handlers of :class:`~.fake_sheets.FakeSheetsServer`."""

    def _h_drive_create(self, who: str, g: dict, q: dict, body: dict) -> dict:
        if body.get("mimeType") != SPREADSHEET_MIME:
            raise DriveError(400, "fake_sheets only creates Google Sheets files.", "badRequest")
        sid = self.create_spreadsheet(body.get("name") or "Untitled spreadsheet", who)
        return {"kind": "drive#file", "id": sid, "name": self._books[sid].title,
                "mimeType": SPREADSHEET_MIME}

    def _h_drive_list(self, who: str, g: dict, q: dict, body: dict) -> dict:
        """``files.list`` with a ``q`` of ``name = '…'``, ``mimeType = '…'`` and ``trashed =
        false`` joined by ``and`` (what the archive asks; the listing recorded in
        ``ClientTest.test_list_spreadsheet_files``): the spreadsheets the caller may open."""
        wanted = _drive_query((q.get("q") or [""])[0])
        with self._lock:
            books = [b for b in self._books.values() if b.role_of(who) is not None]
        files = [{"id": b.id, "name": b.title} for b in books
                 if wanted.get("name", b.title) == b.title
                 and wanted.get("mimeType", SPREADSHEET_MIME) == SPREADSHEET_MIME]
        return {"kind": "drive#fileList", "files": files}

    def _h_drive_permissions(self, who: str, g: dict, q: dict, body: dict) -> dict:
        """``permissions.list``: the owner, then everyone the file is shared with."""
        with self._lock:
            book = self._books.get(g["sid"])
            if book is None or book.role_of(who) is None:
                raise DriveError(404, f"File not found: {g['sid']}.", "notFound")
            people = [(book.owner, "owner"),
                      *((e, r) for e, r in book.permissions.items() if e != book.owner)]
        return {"kind": "drive#permissionList", "permissions": [
            {"kind": "drive#permission", "id": str(abs(hash(e)) % 10**20), "type": "user", "role": r,
             "emailAddress": e} for e, r in people]}

    def _h_drive_share(self, who: str, g: dict, q: dict, body: dict) -> dict:
        """``permissions.create`` for a user (``writer``, ``commenter`` or ``reader``); only
        the owner or a writer may share, as in Drive's default settings."""
        with self._lock:
            book = self._books.get(g["sid"])
            if book is None or book.role_of(who) is None:
                raise DriveError(404, f"File not found: {g['sid']}.", "notFound")
            if book.owner != who and book.permissions.get(who) != "writer":
                raise DriveError(403, "The user does not have sufficient permissions for "
                                 f"file {book.id}.", "insufficientFilePermissions")
            role, email = body.get("role"), body.get("emailAddress")
            if body.get("type") not in ("user", "group") or not email or role not in (
                    "writer", "commenter", "reader"):
                raise DriveError(400, "The permission type or role is not supported by the fake.",
                                 "badRequest")
            book.permissions[email] = "writer" if role == "writer" else "reader"
        return {"kind": "drive#permission", "id": str(abs(hash(email)) % 10**20), "type": body["type"],
                "role": role}

    def _h_drive_delete(self, who: str, g: dict, q: dict, body: dict) -> None:
        with self._lock:
            book = self._books.get(g["sid"])
            if book is None or book.role_of(who) is None:
                raise DriveError(404, f"File not found: {g['sid']}.", "notFound")
            if book.owner != who:
                raise DriveError(403, "The user does not have sufficient permissions for "
                                 f"file {book.id}.", "insufficientFilePermissions")
            del self._books[book.id]


def _drive_query(q: str) -> dict[str, str]:
    """``name = 'x' and mimeType = 'y' and trashed = false`` → {"name": "x", "mimeType": "y"}."""
    out = {}
    for term in re.finditer(r"(\w+)\s*=\s*'((?:[^'\\]|\\.)*)'", q):
        out[term.group(1)] = re.sub(r"\\(.)", r"\1", term.group(2))
    return out

