"""Drive v3 files that are not spreadsheets, as the fake serves them: folders and uploaded
files (the mail job's attachments on the Google backend).

* ``POST /drive/v3/files`` with ``mimeType`` ``application/vnd.google-apps.folder``:
  a folder (metadata only), with ``parents`` and ``appProperties``;
* uploaded files, made by :mod:`.fake_sheets_drive_uploads` (multipart and resumable);
* ``GET /drive/v3/files/{id}`` (``files.get``) and ``PATCH /drive/v3/files/{id}``
  (``appProperties`` merged, a ``null`` value removes one; ``name``);
* ``files.list`` (:func:`matches`): ``q`` terms ``name =``, ``mimeType =``/``!=``,
  ``trashed = true|false``, ``'<id>' in parents``, ``appProperties has { key='k' and
  value='v' }``, joined by ``and``/``or``, in parentheses; ``pageSize`` (default 100, at
  most 1000) and ``pageToken``/``nextPageToken``; ``fields``;
* resources with ``md5Checksum`` (uploaded files), ``webViewLink``, ``parents``,
  ``capabilities.canAddChildren`` / ``canEdit``, ``trashed``.

Access: the owner (who made it), whoever a file is shared with, and whoever may see a
folder above it; ``writer`` or ``owner`` may add children. The knob
:meth:`DriveFilesMixin.fill_drive_storage` makes every upload answer Drive's 403
``storageQuotaExceeded``, as a full Drive (or a service account's, which has none) does
(a resumable one at its start and at its last bytes).
Left out: shared drives (``supportsAllDrives`` is accepted and changes nothing),
file contents' download, trash and delete of these files.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from dataclasses import dataclass, field

from .fake_sheets_drive import SPREADSHEET_MIME, DriveError
from .fake_sheets_ranges import apply_fields, parse_fields

FOLDER_MIME = "application/vnd.google-apps.folder"
QUOTA_MESSAGE = "The user's Drive storage quota has been exceeded."
_WRITERS = ("owner", "writer")


@dataclass
class DriveFile:
    id: str
    name: str
    mime_type: str
    owner: str
    parents: list[str] = field(default_factory=list)
    app_properties: dict[str, str] = field(default_factory=dict)
    data: bytes | None = None  # None for a folder
    trashed: bool = False
    permissions: dict[str, str] = field(default_factory=dict)

    def resource(self, role: str | None) -> dict:
        link = (f"https://drive.google.com/drive/folders/{self.id}" if self.mime_type == FOLDER_MIME
                else f"https://drive.google.com/file/d/{self.id}/view?usp=drivesdk")
        out = {"kind": "drive#file", "id": self.id, "name": self.name, "mimeType": self.mime_type,
               "parents": list(self.parents), "trashed": self.trashed, "webViewLink": link,
               "capabilities": {"canAddChildren": self.mime_type == FOLDER_MIME and role in _WRITERS,
                                "canEdit": role in _WRITERS}}
        if self.app_properties:
            out["appProperties"] = dict(self.app_properties)
        if self.data is not None:
            out["md5Checksum"] = hashlib.md5(self.data).hexdigest()  # noqa: S324 - Drive's checksum
            out["size"] = str(len(self.data))
        return out


def _new_id() -> str:
    return "1" + "".join(secrets.choice(string.ascii_letters + string.digits + "-_") for _ in range(32))


def _not_found(fid: str) -> DriveError:
    return DriveError(404, f"File not found: {fid}.", "notFound")


class DriveFilesMixin:
    """Folders and uploaded files of :class:`~.fake_sheets.FakeSheetsServer` (its ``_lock``)."""

    _lock: object

    @property
    def drive_files(self) -> dict[str, DriveFile]:
        """Every folder and uploaded file, by id (for assertions)."""
        if not hasattr(self, "_drive_files"):
            self._drive_files: dict[str, DriveFile] = {}
            self._storage_full = False
        return self._drive_files

    def reset_drive_files(self) -> None:
        self.drive_files.clear()
        self._storage_full = False

    def fill_drive_storage(self, full: bool = True) -> None:
        """Answer every upload with 403 ``storageQuotaExceeded``."""
        self.drive_files  # noqa: B018 - made on first use
        self._storage_full = full

    def make_drive_folder(self, name: str, owner: str, *, shared: dict[str, str] | None = None) -> str:
        """A folder ``owner`` made (and shared with ``shared``: {email: "writer"|"reader"})."""
        folder = DriveFile(_new_id(), name, FOLDER_MIME, owner, permissions=dict(shared or {}))
        with self._lock:
            self.drive_files[folder.id] = folder
        return folder.id

    def children(self, folder_id: str) -> list[DriveFile]:
        with self._lock:
            return [f for f in self.drive_files.values() if folder_id in f.parents]

    # ------------------------------------------------------------------ access

    def drive_role(self, f: DriveFile, who: str | None, depth: int = 0) -> str | None:
        if who is not None and who == f.owner:
            return "owner"
        if who in f.permissions:
            return f.permissions[who]
        for parent in f.parents if depth < 20 else []:
            above = self.drive_files.get(parent)
            role = self.drive_role(above, who, depth + 1) if above is not None else None
            if role is not None:
                return "writer" if role == "owner" else role
        return None

    def _visible(self, fid: str, who: str) -> DriveFile:
        f = self.drive_files.get(fid)
        if f is None or self.drive_role(f, who) is None:
            raise _not_found(fid)
        return f

    # ------------------------------------------------------------------ handlers

    def create_folder(self, who: str, q: dict, body: dict) -> dict:
        folder = DriveFile(_new_id(), body.get("name") or "Untitled folder", FOLDER_MIME, who,
                           app_properties=_props(body))
        with self._lock:
            folder.parents = self._parents(body, who)
            self.drive_files[folder.id] = folder
            return _masked(folder.resource("owner"), q, default=True)

    def _parents(self, body: dict, who: str) -> list[str]:
        parents = list(body.get("parents") or [])
        for parent in parents:
            f = self._visible(parent, who)
            if f.mime_type != FOLDER_MIME or self.drive_role(f, who) not in _WRITERS:
                raise DriveError(403, "The user does not have sufficient permissions for file "
                                 f"{parent}.", "insufficientFilePermissions")
        return parents

    def _h_drive_get(self, who: str, g: dict, q: dict, body: dict) -> dict:
        with self._lock:
            if g["sid"] not in self.drive_files:
                return self._spreadsheet_resource(who, g["sid"], q)
            f = self._visible(g["sid"], who)
            return _masked(f.resource(self.drive_role(f, who)), q, default=True)

    def _spreadsheet_resource(self, who: str, sid: str, q: dict) -> dict:
        book = self._books.get(sid)  # type: ignore[attr-defined]
        if book is None or book.role_of(who) is None:
            raise _not_found(sid)
        role = book.role_of(who)
        resource = {"kind": "drive#file", "id": sid, "name": book.title, "mimeType": SPREADSHEET_MIME,
                    "trashed": False, "webViewLink": f"https://docs.google.com/spreadsheets/d/{sid}/edit",
                    "capabilities": {"canAddChildren": False, "canEdit": role in _WRITERS}}
        return _masked(resource, q, default=True)

    def _h_drive_update(self, who: str, g: dict, q: dict, body: dict) -> dict:
        with self._lock:
            f = self._visible(g["sid"], who)
            if self.drive_role(f, who) not in _WRITERS:
                raise DriveError(403, "The user does not have sufficient permissions for file "
                                 f"{f.id}.", "insufficientFilePermissions")
            for k, v in (body.get("appProperties") or {}).items():
                if v is None:
                    f.app_properties.pop(k, None)
                else:
                    f.app_properties[k] = str(v)
            if body.get("name"):
                f.name = body["name"]
            return _masked(f.resource(self.drive_role(f, who)), q, default=True)

    def listed_files(self, who: str, q: str) -> list[dict]:
        """The folders and uploaded files ``who`` may see that match ``q``, as resources."""
        test = query(q)
        with self._lock:
            found = [f.resource(self.drive_role(f, who)) for f in self.drive_files.values()
                     if self.drive_role(f, who) is not None]
        return [r for r in found if test(r)]


def _props(body: dict) -> dict[str, str]:
    return {str(k): str(v) for k, v in (body.get("appProperties") or {}).items() if v is not None}


def _masked(resource: dict, q: dict, *, default: bool) -> dict:
    """``fields`` applied; without one, Drive's default ``kind, id, name, mimeType``."""
    fields = (q.get("fields") or [""])[0]
    if not fields:
        return {k: resource[k] for k in ("kind", "id", "name", "mimeType")} if default else resource
    return apply_fields(resource, parse_fields(fields))


def page(files: list[dict], q: dict) -> dict:
    """One page of a ``files.list`` answer, masked by ``fields`` (default: kind, id, name, mimeType)."""
    size = int((q.get("pageSize") or ["100"])[0] or 100)
    if not 1 <= size <= 1000:
        raise DriveError(400, f"Invalid value '{size}'. Values must be within the range: [1, 1000]",
                         "invalid")
    start = int((q.get("pageToken") or ["0"])[0] or 0)
    out: dict = {"kind": "drive#fileList", "incompleteSearch": False,
                 "files": files[start:start + size]}
    if start + size < len(files):
        out["nextPageToken"] = str(start + size)
    fields = (q.get("fields") or [""])[0]
    if not fields:
        out["files"] = [{k: f[k] for k in ("kind", "id", "name", "mimeType") if k in f} for f in out["files"]]
        return out
    return apply_fields(out, parse_fields(fields))


# ---------------------------------------------------------------------- the q language

_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<op>!=|=|\(|\)|\{|\})|(?P<word>[A-Za-z]+))")


def _tokens(q: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(q.rstrip()):
        m = _TOKEN.match(q, pos)
        if not m:
            raise _invalid_query()
        pos = m.end()
        kind = m.lastgroup or ""
        text = m.group(kind)
        out.append((kind, re.sub(r"\\(.)", r"\1", text[1:-1]) if kind == "str" else text))
    return out


def _invalid_query() -> DriveError:
    return DriveError(400, "Invalid Value", "invalid")


def query(q: str):
    """``q`` as a test of a file resource (Drive's grammar, the terms listed above)."""
    parser = _Parser(_tokens(q))
    if not parser.tokens:
        return lambda f: True
    test = parser.expression()
    if parser.pos != len(parser.tokens):
        raise _invalid_query()
    return test


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.pos = tokens, 0

    def take(self, kind: str | None = None, text: str | None = None) -> str:
        if self.pos >= len(self.tokens) or (kind and self.tokens[self.pos][0] != kind) or (
                text and self.tokens[self.pos][1].lower() != text.lower()):
            raise _invalid_query()
        self.pos += 1
        return self.tokens[self.pos - 1][1]

    def peek(self, text: str) -> bool:
        return self.pos < len(self.tokens) and self.tokens[self.pos][1].lower() == text.lower()

    def expression(self):
        tests = [self.conjunction()]
        while self.peek("or"):
            self.take()
            tests.append(self.conjunction())
        return lambda f: any(t(f) for t in tests)

    def conjunction(self):
        tests = [self.term()]
        while self.peek("and"):
            self.take()
            tests.append(self.term())
        return lambda f: all(t(f) for t in tests)

    def term(self):
        if self.peek("("):
            self.take()
            inner = self.expression()
            self.take("op", ")")
            return inner
        if self.pos < len(self.tokens) and self.tokens[self.pos][0] == "str":
            value = self.take()
            self.take("word", "in")
            self.take("word", "parents")
            return lambda f: value in f.get("parents", [])
        name = self.take("word")
        if name == "appProperties":
            return self.has()
        op = self.take("op")
        if name == "trashed" and op == "=":
            flag = self.take("word").lower()
            return lambda f: bool(f.get("trashed")) == (flag == "true")
        if name in ("name", "mimeType") and op in ("=", "!="):
            value = self.take("str")
            return lambda f: (f.get(name) == value) == (op == "=")
        raise _invalid_query()

    def has(self):
        """``has { key='k' and value='v' }`` (after ``appProperties``)."""
        self.take("word", "has")
        self.take("op", "{")
        self.take("word", "key")
        self.take("op", "=")
        key = self.take("str")
        self.take("word", "and")
        self.take("word", "value")
        self.take("op", "=")
        value = self.take("str")
        self.take("op", "}")
        return lambda f: (f.get("appProperties") or {}).get(key) == value
