"""Drive v3 as the fake serves it: make, list, share and delete spreadsheets (gspread's
``create`` and ``del_spreadsheet``; the archive's spreadsheets per year). Folders and
uploaded files (the mail job's attachments) are :mod:`.fake_sheets_drive_files`'s; the
listing and the sharing here serve both."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .fake_sheets_model import ApiError

SPREADSHEET_MIME = "application/vnd.google-apps.spreadsheet"


@dataclass
class Reply:
    """An answer a handler gives with its own status and headers (Drive's upload session:
    200 with a ``Location`` and no body, "308 Resume Incomplete" with a ``Range``)."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class DriveError(ApiError):
    """Drive v3 answers errors with an ``errors`` list and no ``status``."""

    def __init__(self, code: int, message: str, reason: str, domain: str = "global"):
        super().__init__(code, message)
        self.reason = reason
        self.domain = domain

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "errors": [
            {"message": self.message, "domain": self.domain, "reason": self.reason}]}}


def throttle_error(status: int, reason: str, project_number: int) -> DriveError:
    """Drive's answer to a caller over its rate limit: 403 ``userRateLimitExceeded`` (the
    per-user quota) or ``rateLimitExceeded``, or 429 ``rateLimitExceeded`` (the backend's
    own checks), domain ``usageLimits`` (Drive's "Resolve errors" guide)."""
    if reason == "userRateLimitExceeded":
        message = ("User Rate Limit Exceeded. Rate of requests for user exceed configured project quota. "
                   "You may consider re-evaluating expected per-user traffic to the API and adjust "
                   "project quota limits accordingly. You may monitor aggregate quota usage and adjust "
                   "limits in the API Console: https://console.developers.google.com/apis/api/"
                   f"drive.googleapis.com/quotas?project={project_number}")
    else:
        message = "Rate Limit Exceeded"
    return DriveError(status, message, reason, "usageLimits")


class DriveMixin:
    """The Drive handlers of :class:`~.fake_sheets.FakeSheetsServer`."""

    def _h_drive_create(self, who: str, g: dict, q: dict, body: dict) -> dict:
        from .fake_sheets_drive_files import FOLDER_MIME

        if body.get("mimeType") == FOLDER_MIME:
            return self.create_folder(who, q, body)
        if body.get("mimeType") != SPREADSHEET_MIME:
            raise DriveError(400, "fake_sheets only creates Google Sheets files and folders.", "badRequest")
        sid = self.create_spreadsheet(body.get("name") or "Untitled spreadsheet", who)
        return {"kind": "drive#file", "id": sid, "name": self._books[sid].title,
                "mimeType": SPREADSHEET_MIME}

    def _h_drive_list(self, who: str, g: dict, q: dict, body: dict) -> dict:
        """``files.list``: the spreadsheets, folders and files the caller may open that match
        ``q`` (the terms :func:`.fake_sheets_drive_files.query` knows; the listing recorded in
        ``ClientTest.test_list_spreadsheet_files``), a page at a time."""
        from .fake_sheets_drive_files import page, query

        q_text = (q.get("q") or [""])[0]
        test = query(q_text)
        with self._lock:
            books = [b for b in self._books.values() if b.role_of(who) is not None]
        files = [r for r in ({"kind": "drive#file", "id": b.id, "name": b.title, "mimeType": SPREADSHEET_MIME,
                              "parents": [], "trashed": False} for b in books) if test(r)]
        return page(files + self.listed_files(who, q_text), q)

    def _shareable(self, who: str, fid: str):
        """The spreadsheet or Drive file ``fid`` with its owner and shares, as ``who`` sees it."""
        book = self._books.get(fid)
        if book is not None and book.role_of(who) is not None:
            return book, book.owner, book.permissions, book.role_of(who)
        f = self.drive_files.get(fid)
        if f is None or self.drive_role(f, who) is None:
            raise DriveError(404, f"File not found: {fid}.", "notFound")
        return f, f.owner, f.permissions, self.drive_role(f, who)

    def _h_drive_permissions(self, who: str, g: dict, q: dict, body: dict) -> dict:
        """``permissions.list``: the owner, then everyone the file is shared with."""
        with self._lock:
            _, owner, permissions, _ = self._shareable(who, g["sid"])
            people = [(owner, "owner"), *((e, r) for e, r in permissions.items() if e != owner)]
        return {"kind": "drive#permissionList", "permissions": [
            {"kind": "drive#permission", "id": str(abs(hash(e)) % 10**20), "type": "user", "role": r,
             "emailAddress": e} for e, r in people]}

    def _h_drive_share(self, who: str, g: dict, q: dict, body: dict) -> dict:
        """``permissions.create`` for a user (``writer``, ``commenter`` or ``reader``); only
        the owner or a writer may share, as in Drive's default settings. Sharing someone
        again changes their role, never adds a second permission."""
        with self._lock:
            target, _, permissions, role_of_caller = self._shareable(who, g["sid"])
            if role_of_caller not in ("owner", "writer"):
                raise DriveError(403, "The user does not have sufficient permissions for "
                                 f"file {target.id}.", "insufficientFilePermissions")
            role, email = body.get("role"), body.get("emailAddress")
            if body.get("type") not in ("user", "group") or not email or role not in (
                    "writer", "commenter", "reader"):
                raise DriveError(400, "The permission type or role is not supported by the fake.",
                                 "badRequest")
            permissions[email] = "writer" if role == "writer" else "reader"
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
