"""A local fake of the Google Sheets API v4 (plus the Drive v3 calls gspread makes).

Tests talk to it with the *real* gspread + google-auth over real HTTP on loopback::

    with FakeSheetsServer() as fake:
        key = make_service_account_key("job@proj.iam.gserviceaccount.com",
                                       fake.url + "/token")
        creds = service_account.Credentials.from_service_account_info(key, scopes=SCOPES)
        gc = gspread.Client(auth=None, session=session_for(fake.url, creds))
        sh = gc.create("Tracker")

or run it alone: ``python -m sheets_sync.testing.fake_sheets --port 8089``.

What it serves (one port, both path families):

* ``POST /token`` -- OAuth token endpoint for google-auth's service-account JWT grant.
  The JWT is decoded, not verified; its ``iss`` (the key's ``client_email``) becomes the
  identity behind the opaque access token it returns.
* ``/v4/spreadsheets...`` -- spreadsheets.get/create/batchUpdate, values.get/batchGet/
  update/batchUpdate/append/clear/batchClear, developerMetadata get/search
  (see :mod:`.fake_sheets_ops` and :mod:`.fake_sheets_batch`).
* ``/drive/v3/files...`` -- create, get, list (``q`` with ``mimeType``/``name``),
  delete, and permissions create/list/delete (gspread's ``share``).
* ``/_fake/...`` -- test control: ``GET/DELETE /_fake/requests``, ``GET
  /_fake/token_requests``, ``POST /_fake/config``, ``POST /_fake/reset``,
  ``GET /_fake/spreadsheets/{id}/values/{range}`` (assertions without a token).

Choices worth knowing (where Google's behaviour is not reproduced exactly):

* Formulas: only arithmetic on numbers, strings (``&``) and same-sheet single-cell
  references is evaluated.  Other formulas keep their text (FORMULA render) and have the
  placeholder effective value ``#N/A`` (errorValue type ``N_A``, message
  ``fake_sheets: formula not evaluated``); unparseable ones (``=+91 98765``) are
  ``#ERROR!`` as in Google.
* ``values.append`` table detection: the 4-connected block of non-empty cells touching
  the input range that ends lowest (then rightmost) is "the table"; rows go below it,
  starting at its first column.  This reproduces the recorded wrong-column quirk.
* ``effectiveFormat`` is not computed; ``autoResizeDimensions`` estimates text width.
* Protected ranges: the requester and the owner are always added to ``editors.users``;
  writes touching a protected cell by anyone else get 403 PERMISSION_DENIED "You are
  trying to edit a protected cell or object..." (no ``Invalid requests[i]`` prefix).
* Quotas count accepted Sheets requests per identity over a sliding window (60 s by
  default); GET is a read, everything else a write; Drive calls are not counted.

The request log (``server.requests`` / ``GET /_fake/requests``) has one dict per API
request with ``method``, ``path`` (percent-decoded), ``query`` (dict of *lists* of
strings, as ``urllib.parse.parse_qs`` gives), ``status`` (``None`` when the connection
was dropped), ``identity``, ``request_bytes``, ``response_bytes``, plus
``spreadsheet_id``, ``kind`` (``read``/``write``/``drive``) and ``time``.  Token requests
are logged apart (``server.token_requests``), so ``len(server.requests)`` counts API calls.
Edits made through the Python API (:meth:`FakeSheetsServer.as_user`) are not HTTP requests
and are not logged.
"""

from __future__ import annotations

import argparse
import base64
import datetime as _dt
import json
import random
import re
import secrets
import socket
import string
import sys
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from . import fake_sheets_batch as batch
from . import fake_sheets_ops as ops
from .fake_sheets_model import (
    DEFAULT_FORMAT,
    DEFAULT_THEME,
    NO_PERMISSION_MESSAGE,
    NOT_FOUND_MESSAGE,
    ApiError,
    Sheet,
    Spreadsheet,
    apply_fields,
    col_index,
    new_sheet_props,
    parse_fields,
)

__all__ = [
    "ApiError",
    "FakeSheetsError",
    "FakeSheetsServer",
    "FakeUser",
    "RequestInfo",
    "make_service_account_key",
    "redirect_session",
]

FakeSheetsError = ApiError  # What a person sees in the UI: code, message, status.

SPREADSHEET_MIME = "application/vnd.google-apps.spreadsheet"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPES = ["https://www.googleapis.com/auth/spreadsheets",
          "https://www.googleapis.com/auth/drive"]


def _now_iso() -> str:
    now = _dt.datetime.now(_dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _new_file_id() -> str:
    alphabet = string.ascii_letters + string.digits + "-_"
    return "1" + "".join(secrets.choice(alphabet) for _ in range(43))


def _quota_error(kind: str, project_number: int) -> ApiError:
    word = "Read" if kind == "read" else "Write"
    return ApiError(
        429,
        f"Quota exceeded for quota metric '{word} requests' and limit '{word} requests per "
        f"minute per user' of service 'sheets.googleapis.com' for consumer "
        f"'project_number:{project_number}'.",
        details=[{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "RATE_LIMIT_EXCEEDED",
            "domain": "googleapis.com",
            "metadata": {
                "service": "sheets.googleapis.com",
                "quota_metric": f"sheets.googleapis.com/{word.lower()}_requests",
                "quota_limit": f"{word}RequestsPerMinutePerUser",
            },
        }])


_SERVER_ERRORS = {
    500: ("Internal error encountered.", "INTERNAL"),
    502: ("Bad Gateway", "UNAVAILABLE"),
    503: ("The service is currently unavailable.", "UNAVAILABLE"),
    504: ("The request timed out. Please try again.", "DEADLINE_EXCEEDED"),
}


def _drive_error(code: int, message: str, reason: str) -> ApiError:
    return ApiError(code, message, status="", extra={"errors": [
        {"message": message, "domain": "global", "reason": reason}]})


def _unauthenticated(missing: bool) -> ApiError:
    head = ("Request is missing required authentication credential." if missing
            else "Request had invalid authentication credentials.")
    return ApiError(401, head + " Expected OAuth 2 access token, login cookie or other valid "
                    "authentication credential. See https://developers.google.com/identity/"
                    "sign-in/web/devconsole-project.",
                    details=[{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                              "reason": "CREDENTIALS_MISSING" if missing
                              else "ACCESS_TOKEN_TYPE_UNSUPPORTED",
                              "domain": "googleapis.com",
                              "metadata": {"service": "sheets.googleapis.com"}}])


# --------------------------------------------------------------------------- key files


def make_service_account_key(email: str, token_uri: str, path: str | Path | None = None,
                             project_id: str | None = None) -> dict:
    """A fresh service-account key file (RSA 2048 made now), shaped like Google's.

    ``token_uri`` should be the fake's ``/token``.  Written as JSON to ``path`` if given.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    project_id = project_id or (email.split("@", 1)[1].split(".", 1)[0]
                                if "@" in email else "test-project")
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": email,
        "client_id": str(random.randint(10**20, 10**21 - 1)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
                                + urllib.parse.quote(email),
        "universe_domain": "googleapis.com",
    }
    if path is not None:
        Path(path).write_text(json.dumps(info, indent=2))
    return info


def redirect_session(base_url: str, credentials=None):
    """A ``requests.Session`` (``AuthorizedSession`` with credentials) sent to ``base_url``."""
    from sheets_sync.endpoint import session_for

    return session_for(base_url, credentials)


# --------------------------------------------------------------------------- requests


@dataclass
class RequestInfo:
    """What an ``on_request`` hook sees."""

    method: str
    path: str
    query: dict
    identity: str | None
    spreadsheet_id: str | None
    kind: str
    body: Any = None
    status: int | None = None  # Set for the "after" phase.


@dataclass
class _Fault:
    count: int
    status: int | None  # None = drop the connection
    method: str | None = None
    path: str | None = None
    when: str = "before"
    skip: int = 0  # matching requests to let through first (to hit the Nth part of a write)

    def matches(self, method: str, path: str) -> bool:
        return (self.count > 0 and (self.method is None or self.method.upper() == method)
                and (self.path is None or re.search(self.path, path) is not None))


@dataclass
class _Config:
    read_per_minute: int | None = None
    write_per_minute: int | None = None
    quota_window: float = 60.0
    latency: float = 0.0
    faults: list = field(default_factory=list)


class _Drop(Exception):
    """Close the socket without answering."""


# Route table: (method, regex on the raw path, handler name, kind).
_SHEET_ID = r"(?P<sid>[^/:]+)"
_ROUTES = [
    ("POST", r"^/v4/spreadsheets$", "sheets_create", "write"),
    ("GET", rf"^/v4/spreadsheets/{_SHEET_ID}$", "sheets_get", "read"),
    ("POST", rf"^/v4/spreadsheets/{_SHEET_ID}:batchUpdate$", "sheets_batch_update", "write"),
    ("GET", rf"^/v4/spreadsheets/{_SHEET_ID}/values:batchGet$", "values_batch_get", "read"),
    ("POST", rf"^/v4/spreadsheets/{_SHEET_ID}/values:batchUpdate$", "values_batch_update",
     "write"),
    ("POST", rf"^/v4/spreadsheets/{_SHEET_ID}/values:batchClear$", "values_batch_clear",
     "write"),
    ("POST", rf"^/v4/spreadsheets/{_SHEET_ID}/developerMetadata:search$", "metadata_search",
     "read"),
    ("GET", rf"^/v4/spreadsheets/{_SHEET_ID}/developerMetadata/(?P<mid>[^/]+)$", "metadata_get",
     "read"),
    ("POST", rf"^/v4/spreadsheets/{_SHEET_ID}/values/(?P<range>.+):append$", "values_append",
     "write"),
    ("POST", rf"^/v4/spreadsheets/{_SHEET_ID}/values/(?P<range>.+):clear$", "values_clear",
     "write"),
    ("GET", rf"^/v4/spreadsheets/{_SHEET_ID}/values/(?P<range>.+)$", "values_get", "read"),
    ("PUT", rf"^/v4/spreadsheets/{_SHEET_ID}/values/(?P<range>.+)$", "values_update",
     "write"),
    ("POST", r"^/drive/v3/files$", "drive_create", "drive"),
    ("GET", r"^/drive/v3/files$", "drive_list", "drive"),
    ("GET", rf"^/drive/v3/files/{_SHEET_ID}$", "drive_get", "drive"),
    ("DELETE", rf"^/drive/v3/files/{_SHEET_ID}$", "drive_delete", "drive"),
    ("POST", rf"^/drive/v3/files/{_SHEET_ID}/permissions$", "drive_share", "drive"),
    ("GET", rf"^/drive/v3/files/{_SHEET_ID}/permissions$", "drive_permissions", "drive"),
    ("DELETE", rf"^/drive/v3/files/{_SHEET_ID}/permissions/(?P<pid>[^/]+)$",
     "drive_unshare", "drive"),
]
_COMPILED = [(m, re.compile(p), name, kind) for m, p, name, kind in _ROUTES]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like Google's front end
    # One buffered write per response and no Nagle: avoids the 40 ms delayed-ACK stall.
    wbufsize = -1
    disable_nagle_algorithm = True
    server_version = "ESF"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        pass  # Quiet: the fake keeps its own request log.

    def _serve(self) -> None:
        self.server.fake._serve_http(self)  # type: ignore[attr-defined]

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve


class FakeSheetsServer:
    """The fake, on ``127.0.0.1`` (``port=0`` picks a free port).  See the module docstring."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", project_number: int = 123456789012):
        self.host = host
        self.port = port
        self.project_number = project_number
        self._lock = threading.RLock()  # one lock around each request's apply
        self._books: dict[str, Spreadsheet] = {}
        self._tokens: dict[str, str] = {}
        self._log: list[dict] = []
        self._token_log: list[dict] = []
        self._hooks: list[Callable[[RequestInfo, str], None]] = []
        self.hook_errors: list[Exception] = []  # exceptions raised by on_request hooks
        self._windows: dict[tuple[str, str], deque] = {}
        self.config = _Config()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSheetsServer:
        self._httpd = ThreadingHTTPServer((self.host, self.port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.fake = self  # type: ignore[attr-defined]
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        name="fake-sheets", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeSheetsServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def token_uri(self) -> str:
        return self.url + "/token"

    def reset(self) -> None:
        """Forget spreadsheets, tokens, logs, knobs and hooks (cheap per-test isolation)."""
        with self._lock:
            self._books.clear()
            self._tokens.clear()
            self._log.clear()
            self._token_log.clear()
            self._hooks.clear()
            self.hook_errors.clear()
            self._windows.clear()
            self.config = _Config()

    # ------------------------------------------------------------------ knobs

    def set_quota(self, read_per_minute: int | None = None, write_per_minute: int | None = None,
                  window_seconds: float = 60.0) -> None:
        """Per-identity limits (None = unlimited); over the limit answers Google's 429."""
        with self._lock:
            self.config.read_per_minute = read_per_minute
            self.config.write_per_minute = write_per_minute
            self.config.quota_window = window_seconds
            self._windows.clear()

    def set_latency(self, seconds: float) -> None:
        self.config.latency = seconds

    def fail_next(self, count: int = 1, status: int = 503, method: str | None = None,
                  path: str | None = None, when: str = "before", skip: int = 0) -> None:
        """Answer the next ``count`` matching API requests with ``status`` (Google's body).

        ``when="after"`` applies the request first: the write happened, the client sees
        an error.  ``path`` is a regex searched in the decoded path.  ``skip`` lets that
        many matching requests through first.
        """
        with self._lock:
            self.config.faults.append(_Fault(count, status, method, path, when, skip))

    def drop_next(self, count: int = 1, method: str | None = None, path: str | None = None,
                  when: str = "before", skip: int = 0) -> None:
        """Close the connection without a response for the next ``count`` matching requests
        (``when="after"``: after applying the request; ``skip`` as for :meth:`fail_next`)."""
        with self._lock:
            self.config.faults.append(_Fault(count, None, method, path, when, skip))

    def configure(self, settings: dict) -> None:
        """The JSON accepted by ``POST /_fake/config``.

        ``{"quotas": {"read_per_minute": 60, "write_per_minute": 60, "window_seconds": 60},
        "latency": 0.05, "faults": [{"count": 1, "status": 503, "method": "POST",
        "path": ":batchUpdate", "when": "after"}, {"count": 1, "drop": true}],
        "clear_faults": true}``
        """
        if "quotas" in settings:
            q = settings["quotas"] or {}
            self.set_quota(q.get("read_per_minute"), q.get("write_per_minute"),
                           q.get("window_seconds", 60.0))
        if "latency" in settings:
            self.set_latency(float(settings["latency"] or 0))
        if settings.get("clear_faults"):
            with self._lock:
                self.config.faults.clear()
        for f in settings.get("faults") or []:
            if f.get("drop"):
                self.drop_next(f.get("count", 1), f.get("method"), f.get("path"),
                               f.get("when", "before"), f.get("skip", 0))
            else:
                self.fail_next(f.get("count", 1), f.get("status", 503), f.get("method"),
                               f.get("path"), f.get("when", "before"), f.get("skip", 0))

    def on_request(self, callback: Callable[[RequestInfo, str], None]) -> Callable[[], None]:
        """Call ``callback(info, phase)`` with phase "before"/"after" around each API request.

        The callback runs on the server thread, outside the state lock, so it may change
        spreadsheets through :meth:`as_user` (people editing between or during the job's
        requests).  Exceptions it raises are collected in ``hook_errors`` and do not affect
        the answer to the request.  Returns a function that removes the hook.
        """
        self._hooks.append(callback)
        return lambda: self._hooks.remove(callback) if callback in self._hooks else None

    # ------------------------------------------------------------------ logs

    @property
    def requests(self) -> list[dict]:
        with self._lock:
            return [dict(e) for e in self._log]

    @property
    def token_requests(self) -> list[dict]:
        with self._lock:
            return [dict(e) for e in self._token_log]

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()
            self._token_log.clear()

    # ------------------------------------------------------------------ state API

    def token_for(self, identity: str) -> str:
        """Mint an access token for ``identity`` without the JWT dance."""
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = identity
        return token

    def create_spreadsheet(self, title: str, owner: str, sheets: list | None = None,
                           spreadsheet_id: str | None = None) -> str:
        """Create a spreadsheet owned by ``owner``; ``sheets`` are titles or property dicts
        (``{"title": "Tracker", "gridProperties": {"rowCount": 50}}``).  Returns its id."""
        sid = spreadsheet_id or _new_file_id()
        props = {"title": title, "locale": "en_US", "autoRecalc": "ON_CHANGE",
                 "timeZone": "Etc/GMT", "defaultFormat": json.loads(json.dumps(DEFAULT_FORMAT)),
                 "spreadsheetTheme": json.loads(json.dumps(DEFAULT_THEME))}
        stamp = _now_iso()
        book = Spreadsheet(sid, owner, props, created=stamp, modified=stamp)
        for i, spec in enumerate(sheets or ["Sheet1"]):
            spec = {"title": spec} if isinstance(spec, str) else dict(spec)
            grid = spec.get("gridProperties") or {}
            sheet_id = spec.get("sheetId", 0 if i == 0 else ops.random_id())
            book.sheets.append(Sheet(new_sheet_props(
                sheet_id, spec.get("title") or f"Sheet{i + 1}", i,
                grid.get("rowCount", 1000), grid.get("columnCount", 26))))
        with self._lock:
            self._books[sid] = book
        return sid

    def share(self, spreadsheet_id: str, email: str, role: str = "writer") -> None:
        with self._lock:
            book = self._books[spreadsheet_id]
            perm = book.permissions.get(email)
            book.permissions[email] = {"id": perm["id"] if perm else str(ops.random_id()),
                                       "role": role}

    def spreadsheet(self, spreadsheet_id: str) -> Spreadsheet:
        """The current state, for reading in assertions.  Every write replaces the object
        (writes apply to a copy), so fetch it again after a write; change state through
        :meth:`as_user` so permission and protection checks apply."""
        return self._books[spreadsheet_id]

    def spreadsheet_ids(self) -> list[str]:
        with self._lock:
            return list(self._books)

    def get_values(self, spreadsheet_id: str, range_: str,
                   render: str = "FORMATTED_VALUE") -> list[list]:
        """Values as ``values.get`` would return them (for assertions; no permission check)."""
        with self._lock:
            book = self._books[spreadsheet_id]
            vr = ops.values_get(book, book.owner, range_, {"valueRenderOption": [render]})
        return vr.get("values", [])

    def as_user(self, identity: str) -> FakeUser:
        """A person (or any identity) acting on spreadsheets with the same checks as HTTP."""
        return FakeUser(self, identity)

    # Convenience: server.edit(sid, "alice@x", "Tracker!H2", [["Done"]]) and friends.
    def edit(self, spreadsheet_id: str, identity: str, range_: str, values: list,
             raw: bool = False) -> dict:
        return self.as_user(identity).edit(spreadsheet_id, range_, values, raw=raw)

    def sort(self, spreadsheet_id: str, identity: str, sheet: str, column: int | str,
             ascending: bool = True, start_row: int = 1) -> dict:
        return self.as_user(identity).sort(spreadsheet_id, sheet, column, ascending, start_row)

    def insert_rows(self, spreadsheet_id: str, identity: str, sheet: str, at: int,
                    count: int = 1) -> dict:
        return self.as_user(identity).insert_rows(spreadsheet_id, sheet, at, count)

    def delete_rows(self, spreadsheet_id: str, identity: str, sheet: str, start: int,
                    count: int = 1) -> dict:
        return self.as_user(identity).delete_rows(spreadsheet_id, sheet, start, count)

    def move_columns(self, spreadsheet_id: str, identity: str, sheet: str, start: int,
                     count: int, to: int) -> dict:
        return self.as_user(identity).move_columns(spreadsheet_id, sheet, start, count, to)

    def hide_columns(self, spreadsheet_id: str, identity: str, sheet: str, start: int,
                     count: int = 1, hidden: bool = True) -> dict:
        return self.as_user(identity).hide_columns(spreadsheet_id, sheet, start, count, hidden)

    def rename_sheet(self, spreadsheet_id: str, identity: str, sheet: str,
                     new_title: str) -> dict:
        return self.as_user(identity).rename_sheet(spreadsheet_id, sheet, new_title)

    # ------------------------------------------------------------------ core apply

    def _book(self, spreadsheet_id: str, identity: str) -> Spreadsheet:
        book = self._books.get(spreadsheet_id)
        if book is None:
            raise ApiError(404, NOT_FOUND_MESSAGE)
        if book.role_of(identity) is None:
            raise ApiError(403, NO_PERMISSION_MESSAGE)
        return book

    def _read(self, spreadsheet_id: str, identity: str, fn: Callable[[Spreadsheet], dict]) -> dict:
        with self._lock:
            return fn(self._book(spreadsheet_id, identity))

    def _write(self, spreadsheet_id: str, identity: str,
               fn: Callable[[Spreadsheet], dict]) -> dict:
        """Apply ``fn`` to a clone and keep it only if ``fn`` succeeds: atomic writes."""
        with self._lock:
            book = self._book(spreadsheet_id, identity)
            draft = book.clone()
            result = fn(draft)
            draft.modified = _now_iso()
            self._books[spreadsheet_id] = draft
            return result

    # ------------------------------------------------------------------ HTTP

    def _serve_http(self, h: _Handler) -> None:
        split = urllib.parse.urlsplit(h.path)
        raw_path = split.path
        path = urllib.parse.unquote(raw_path)
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        length = int(h.headers.get("Content-Length") or 0)
        raw_body = h.rfile.read(length) if length else b""
        if raw_path.startswith("/_fake/"):
            return self._control(h, h.command, path, query, raw_body)
        if raw_path == "/token":
            return self._token(h, raw_body)
        if self.config.latency:
            time.sleep(self.config.latency)
        entry = {"method": h.command, "path": path, "query": query, "status": None,
                 "identity": None, "request_bytes": len(raw_body), "response_bytes": 0,
                 "spreadsheet_id": None, "kind": None, "time": time.time()}
        try:
            status, body = self._api(h, raw_path, path, query, raw_body, entry)
        except _Drop:
            entry["dropped"] = True
            with self._lock:
                self._log.append(entry)
            h.close_connection = True
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return None
        entry["status"] = status
        # Google's system parameter: prettyPrint=false drops the indentation.
        pretty = (query.get("prettyPrint") or ["true"])[-1].lower() != "false"
        entry["response_bytes"] = self._send(h, status, body, pretty=pretty)
        with self._lock:
            self._log.append(entry)
        return None

    def _api(self, h: _Handler, raw_path: str, path: str, query: dict, raw_body: bytes,
             entry: dict) -> tuple[int, Any]:
        identity = None
        try:
            auth = h.headers.get("Authorization") or ""
            if not auth.lower().startswith("bearer "):
                raise _unauthenticated(missing=True)
            with self._lock:
                identity = self._tokens.get(auth[7:].strip())
            if identity is None:
                raise _unauthenticated(missing=False)
            entry["identity"] = identity
            route = self._route(h.command, raw_path)
            if route is None:
                return 404, ApiError(404, f"Method not found: {h.command} {path}").body()
            name, kind, groups = route
            entry["kind"] = kind
            sid = groups.get("sid")
            entry["spreadsheet_id"] = urllib.parse.unquote(sid) if sid else None
            try:
                body = json.loads(raw_body) if raw_body.strip() else {}
            except ValueError:
                body = raw_body.decode("utf-8", "replace")
            info = RequestInfo(h.command, path, query, identity, entry["spreadsheet_id"], kind,
                               body)
            self._check_quota(identity, kind)
            self._fault(h.command, path, "before")
            self._run_hooks(info, "before")
            try:
                if not isinstance(body, dict):
                    raise ApiError(400, "Invalid JSON payload received.")
                result = getattr(self, "_h_" + name)(identity, groups, query, body)
                status, out = (204, None) if result is None else (200, result)
            except ApiError as e:
                status, out = e.code, e.body()
            info.status = status
            self._run_hooks(info, "after")
            self._fault(h.command, path, "after")
            return status, out
        except ApiError as e:
            return e.code, e.body()

    def _run_hooks(self, info: RequestInfo, phase: str) -> None:
        # A failing hook (e.g. a person's edit refused by protection) must not change the
        # answer to the job's request: keep the error for the test to inspect.
        for hook in list(self._hooks):
            try:
                hook(info, phase)
            except Exception as e:  # noqa: BLE001 - reported through hook_errors
                self.hook_errors.append(e)

    def _route(self, method: str, raw_path: str) -> tuple[str, str, dict] | None:
        for m, regex, name, kind in _COMPILED:
            if m == method:
                match = regex.match(raw_path)
                if match:
                    groups = {k: v for k, v in match.groupdict().items()}
                    if "range" in groups:
                        groups["range"] = urllib.parse.unquote(groups["range"])
                    if "sid" in groups:
                        groups["sid"] = urllib.parse.unquote(groups["sid"])
                    return name, kind, groups
        return None

    def _check_quota(self, identity: str, kind: str) -> None:
        limit = {"read": self.config.read_per_minute,
                 "write": self.config.write_per_minute}.get(kind)
        if limit is None:
            return
        with self._lock:
            now = time.monotonic()
            window = self._windows.setdefault((identity, kind), deque())
            while window and now - window[0] >= self.config.quota_window:
                window.popleft()
            if len(window) >= limit:
                raise _quota_error(kind, self.project_number)
            window.append(now)

    def _fault(self, method: str, path: str, when: str) -> None:
        with self._lock:
            for fault in self.config.faults:
                if fault.when == when and fault.matches(method, path):
                    if fault.skip:
                        fault.skip -= 1
                        continue
                    fault.count -= 1
                    break
            else:
                return
            self.config.faults = [f for f in self.config.faults if f.count > 0]
        if fault.status is None:
            raise _Drop()
        message, status = _SERVER_ERRORS.get(fault.status, ("Injected fault.", None))
        raise ApiError(fault.status, message, status)

    def _send(self, h: _Handler, status: int, body: Any, content_type: str =
              "application/json; charset=UTF-8", *, pretty: bool = True) -> int:
        data = b"" if body is None else (
            body if isinstance(body, bytes) else
            (json.dumps(body, ensure_ascii=False, indent=2) + "\n").encode("utf-8") if pretty else
            json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        h.send_response(status)
        if status != 204:
            h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(data)))
        if status == 401:
            h.send_header("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"')
        h.end_headers()
        if data:
            h.wfile.write(data)
        return len(data)

    # ------------------------------------------------------------------ token endpoint

    def _token(self, h: _Handler, raw_body: bytes) -> None:
        form = urllib.parse.parse_qs(raw_body.decode("utf-8", "replace"))
        entry = {"method": h.command, "path": "/token", "identity": None, "status": 400,
                 "request_bytes": len(raw_body), "time": time.time()}
        status, out = 400, {"error": "invalid_grant", "error_description": "Invalid JWT."}
        if form.get("grant_type", [""])[0] != JWT_GRANT:
            out = {"error": "unsupported_grant_type",
                   "error_description": "Invalid grant_type: " + form.get("grant_type", [""])[0]}
        else:
            claims = _jwt_claims(form.get("assertion", [""])[0])
            if claims and claims.get("iss"):
                token = self.token_for(claims["iss"])
                status, out = 200, {"access_token": token, "expires_in": 3600,
                                    "token_type": "Bearer"}
                entry["identity"] = claims["iss"]
        entry["status"] = status
        entry["response_bytes"] = self._send(h, status, out)
        with self._lock:
            self._token_log.append(entry)

    # ------------------------------------------------------------------ control endpoints

    def _control(self, h: _Handler, method: str, path: str, query: dict, raw: bytes) -> None:
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            self._send(h, 400, {"error": "body is not JSON"})
            return
        if path == "/_fake/requests" and method == "GET":
            self._send(h, 200, self.requests)
        elif path == "/_fake/requests" and method == "DELETE":
            self.clear_requests()
            self._send(h, 204, None)
        elif path == "/_fake/token_requests" and method == "GET":
            self._send(h, 200, self.token_requests)
        elif path == "/_fake/config" and method == "POST":
            self.configure(body)
            self._send(h, 200, {"ok": True})
        elif path == "/_fake/reset" and method == "POST":
            self.reset()
            self._send(h, 200, {"ok": True})
        elif path == "/_fake/spreadsheets" and method == "POST":
            sid = self.create_spreadsheet(body.get("title", "Untitled spreadsheet"),
                                          body["owner"], body.get("sheets"))
            for email, role in (body.get("share") or {}).items():
                self.share(sid, email, role)
            self._send(h, 200, {"spreadsheetId": sid})
        elif m := re.match(r"^/_fake/spreadsheets/([^/]+)/values/(.+)$", path):
            try:
                self._send(h, 200, {"values": self.get_values(m.group(1), m.group(2))})
            except (KeyError, ApiError) as e:
                self._send(h, 404, {"error": str(e)})
        else:
            self._send(h, 404, {"error": f"unknown control endpoint {method} {path}"})

    # ------------------------------------------------------------------ Sheets handlers

    def _h_sheets_get(self, who: str, g: dict, q: dict, body: dict) -> dict:
        return self._read(g["sid"], who, lambda b: ops.spreadsheet_get(b, who, q))

    def _h_sheets_create(self, who: str, g: dict, q: dict, body: dict) -> dict:
        props = body.get("properties") or {}
        sheets = [s.get("properties") or {} for s in body.get("sheets") or []]
        sid = self.create_spreadsheet(props.get("title", "Untitled spreadsheet"), who,
                                      sheets or None)
        with self._lock:
            book = self._books[sid]
            for k in ("locale", "timeZone", "autoRecalc"):
                if props.get(k):
                    book.properties[k] = props[k]
            return ops.spreadsheet_json(book, who, [], False)

    def _h_sheets_batch_update(self, who: str, g: dict, q: dict, body: dict) -> dict:
        out = self._write(g["sid"], who, lambda b: batch.batch_update(b, who, body))
        fields = ops.one(q, "fields")  # Google's system parameter: a mask on any reply
        return apply_fields(out, parse_fields(fields)) if fields else out

    def _h_metadata_search(self, who: str, g: dict, q: dict, body: dict) -> dict:
        return self._read(g["sid"], who, lambda b: batch.search_developer_metadata(b, who, body))

    def _h_metadata_get(self, who: str, g: dict, q: dict, body: dict) -> dict:
        return self._read(g["sid"], who,
                          lambda b: batch.get_developer_metadata(b, who, g["mid"]))

    def _h_values_get(self, who: str, g: dict, q: dict, body: dict) -> dict:
        return self._read(g["sid"], who, lambda b: ops.values_get(b, who, g["range"], q))

    def _h_values_batch_get(self, who: str, g: dict, q: dict, body: dict) -> dict:
        return self._read(g["sid"], who, lambda b: ops.values_batch_get(b, who, q))

    def _h_values_update(self, who: str, g: dict, q: dict, body: dict) -> dict:
        return self._write(g["sid"], who,
                           lambda b: ops.values_update(b, who, g["range"], q, body))

    def _h_values_batch_update(self, who: str, g: dict, q: dict, body: dict) -> dict:
        return self._write(g["sid"], who, lambda b: ops.values_batch_update(b, who, body))

    def _h_values_append(self, who: str, g: dict, q: dict, body: dict) -> dict:
        return self._write(g["sid"], who,
                           lambda b: ops.values_append(b, who, g["range"], q, body))

    def _h_values_clear(self, who: str, g: dict, q: dict, body: dict) -> dict:
        return self._write(g["sid"], who, lambda b: ops.values_clear(b, who, g["range"]))

    def _h_values_batch_clear(self, who: str, g: dict, q: dict, body: dict) -> dict:
        return self._write(g["sid"], who, lambda b: ops.values_batch_clear(b, who, body))

    # ------------------------------------------------------------------ Drive handlers

    def _drive_book(self, file_id: str, who: str) -> Spreadsheet:
        book = self._books.get(file_id)
        if book is None or book.role_of(who) is None:
            raise ApiError(404, f"File not found: {file_id}.", status="", extra={"errors": [{
                "message": f"File not found: {file_id}.", "domain": "global",
                "reason": "notFound", "location": "fileId", "locationType": "parameter"}]})
        return book

    @staticmethod
    def _file_json(book: Spreadsheet) -> dict:
        return {"kind": "drive#file", "id": book.id, "name": book.title,
                "mimeType": SPREADSHEET_MIME, "createdTime": book.created,
                "modifiedTime": book.modified}

    def _h_drive_create(self, who: str, g: dict, q: dict, body: dict) -> dict:
        if body.get("mimeType") != SPREADSHEET_MIME:
            raise _drive_error(400, "The fake only creates Google Sheets files.", "badRequest")
        sid = self.create_spreadsheet(body.get("name") or "Untitled spreadsheet", who)
        return {"kind": "drive#file", "id": sid, "name": self._books[sid].title,
                "mimeType": SPREADSHEET_MIME}

    def _h_drive_get(self, who: str, g: dict, q: dict, body: dict) -> dict:
        with self._lock:
            info = self._file_json(self._drive_book(g["sid"], who))
        fields = ops.one(q, "fields") or "kind,id,name,mimeType"
        return apply_fields(info, parse_fields(fields))

    def _h_drive_list(self, who: str, g: dict, q: dict, body: dict) -> dict:
        query = ops.one(q, "q") or ""
        mime = re.search(r"mimeType\s*=\s*['\"]([^'\"]+)['\"]", query)
        name = re.search(r"name\s*=\s*(['\"])(.*?)\1", query)
        with self._lock:
            books = [b for b in self._books.values() if b.role_of(who) is not None]
            files = [self._file_json(b) for b in books
                     if (not mime or mime.group(1) == SPREADSHEET_MIME)
                     and (not name or b.title == name.group(2))]
        files.sort(key=lambda f: f["modifiedTime"], reverse=True)
        out = {"kind": "drive#fileList", "incompleteSearch": False, "files": files}
        fields = ops.one(q, "fields")
        return apply_fields(out, parse_fields(fields)) if fields else out

    def _h_drive_delete(self, who: str, g: dict, q: dict, body: dict) -> None:
        with self._lock:
            book = self._drive_book(g["sid"], who)
            if book.owner != who:
                raise _drive_error(403, "The user does not have sufficient permissions for "
                                   f"file {book.id}.", "insufficientFilePermissions")
            del self._books[book.id]

    def _h_drive_share(self, who: str, g: dict, q: dict, body: dict) -> dict:
        with self._lock:
            book = self._drive_book(g["sid"], who)
            if book.role_of(who) not in ("owner", "writer"):
                raise _drive_error(403, "The user does not have sufficient permissions for "
                                   f"file {book.id}.", "insufficientFilePermissions")
            email, role = body.get("emailAddress"), body.get("role", "reader")
            if body.get("type") not in ("user", "group") or not email:
                raise _drive_error(400, "The fake only shares with users and groups.",
                                   "invalidSharingRequest")
            if role == "commenter":
                role = "reader"
            if role not in ("reader", "writer"):
                raise _drive_error(400, f"Unsupported role: {role}", "invalidSharingRequest")
        self.share(book.id, email, role)
        return {"kind": "drive#permission", "id": book.permissions[email]["id"],
                "type": body["type"], "role": role}

    def _h_drive_permissions(self, who: str, g: dict, q: dict, body: dict) -> dict:
        with self._lock:
            book = self._drive_book(g["sid"], who)
            perms = [{"kind": "drive#permission", "id": "owner", "type": "user",
                      "emailAddress": book.owner, "role": "owner"}]
            perms += [{"kind": "drive#permission", "id": p["id"], "type": "user",
                       "emailAddress": email, "role": p["role"]}
                      for email, p in book.permissions.items()]
        return {"kind": "drive#permissionList", "permissions": perms}

    def _h_drive_unshare(self, who: str, g: dict, q: dict, body: dict) -> None:
        with self._lock:
            book = self._drive_book(g["sid"], who)
            if book.role_of(who) not in ("owner", "writer"):
                raise _drive_error(403, "The user does not have sufficient permissions for "
                                   f"file {book.id}.", "insufficientFilePermissions")
            for email, p in list(book.permissions.items()):
                if p["id"] == g["pid"]:
                    del book.permissions[email]
                    return
        raise _drive_error(404, f"Permission not found: {g['pid']}.", "notFound")


def _jwt_claims(assertion: str) -> dict | None:
    """The payload of a well-formed 3-part JWT (the signature is not checked)."""
    parts = assertion.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        return None
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, TypeError):
        return None
    return claims if isinstance(claims, dict) else None


# --------------------------------------------------------------------------- people


class FakeUser:
    """Someone editing in the browser: each method is one batch of UI actions and goes
    through the same permission and protection checks as an API request.  Indexes are
    0-based like the API (row 0 is the header row).  Errors raise :class:`ApiError`
    carrying the message Google shows."""

    def __init__(self, server: FakeSheetsServer, identity: str):
        self.server = server
        self.identity = identity

    def _sheet_id(self, spreadsheet_id: str, title: str) -> int:
        with self.server._lock:
            book = self.server._book(spreadsheet_id, self.identity)
            sheet = book.sheet_by_title(title)
            if sheet is None:
                raise ApiError(400, f"Unable to parse range: {title}")
            return sheet.sheet_id

    def batch_update(self, spreadsheet_id: str, requests: list[dict]) -> dict:
        return self.server._write(spreadsheet_id, self.identity, lambda b: batch.batch_update(
            b, self.identity, {"requests": requests}))

    def edit(self, spreadsheet_id: str, range_: str, values: list, raw: bool = False) -> dict:
        """Type ``values`` (a list of rows) at ``range_``; parsed like the UI unless ``raw``."""
        params = {"valueInputOption": ["RAW" if raw else "USER_ENTERED"]}
        return self.server._write(spreadsheet_id, self.identity, lambda b: ops.values_update(
            b, self.identity, range_, params, {"values": values}))

    def clear(self, spreadsheet_id: str, range_: str) -> dict:
        return self.server._write(spreadsheet_id, self.identity,
                                  lambda b: ops.values_clear(b, self.identity, range_))

    def read(self, spreadsheet_id: str, range_: str) -> list[list]:
        return self.server._read(spreadsheet_id, self.identity, lambda b: ops.values_get(
            b, self.identity, range_, {})).get("values", [])

    def sort(self, spreadsheet_id: str, sheet: str, column: int | str, ascending: bool = True,
             start_row: int = 1) -> dict:
        """Sort the sheet's rows from ``start_row`` (default: keep the header) by ``column``
        (0-based index or letter), like Data > Sort range."""
        sheet_id = self._sheet_id(spreadsheet_id, sheet)
        col = col_index(column) if isinstance(column, str) else column
        return self.batch_update(spreadsheet_id, [{"sortRange": {
            "range": {"sheetId": sheet_id, "startRowIndex": start_row},
            "sortSpecs": [{"dimensionIndex": col,
                           "sortOrder": "ASCENDING" if ascending else "DESCENDING"}]}}])

    def _dim(self, spreadsheet_id: str, sheet: str, dim: str, start: int, end: int) -> dict:
        return {"sheetId": self._sheet_id(spreadsheet_id, sheet), "dimension": dim,
                "startIndex": start, "endIndex": end}

    def insert_rows(self, spreadsheet_id: str, sheet: str, at: int, count: int = 1) -> dict:
        return self.batch_update(spreadsheet_id, [{"insertDimension": {
            "range": self._dim(spreadsheet_id, sheet, "ROWS", at, at + count)}}])

    def delete_rows(self, spreadsheet_id: str, sheet: str, start: int, count: int = 1) -> dict:
        return self.batch_update(spreadsheet_id, [{"deleteDimension": {
            "range": self._dim(spreadsheet_id, sheet, "ROWS", start, start + count)}}])

    def move_columns(self, spreadsheet_id: str, sheet: str, start: int, count: int,
                     to: int) -> dict:
        """Drag columns ``[start, start+count)`` so they sit before column ``to`` (indexes
        before the move, as in the API's moveDimension)."""
        return self.batch_update(spreadsheet_id, [{"moveDimension": {
            "source": self._dim(spreadsheet_id, sheet, "COLUMNS", start, start + count),
            "destinationIndex": to}}])

    def move_rows(self, spreadsheet_id: str, sheet: str, start: int, count: int,
                  to: int) -> dict:
        return self.batch_update(spreadsheet_id, [{"moveDimension": {
            "source": self._dim(spreadsheet_id, sheet, "ROWS", start, start + count),
            "destinationIndex": to}}])

    def hide_columns(self, spreadsheet_id: str, sheet: str, start: int, count: int = 1,
                     hidden: bool = True) -> dict:
        return self.batch_update(spreadsheet_id, [{"updateDimensionProperties": {
            "range": self._dim(spreadsheet_id, sheet, "COLUMNS", start, start + count),
            "properties": {"hiddenByUser": hidden}, "fields": "hiddenByUser"}}])

    def rename_sheet(self, spreadsheet_id: str, sheet: str, new_title: str) -> dict:
        return self.batch_update(spreadsheet_id, [{"updateSheetProperties": {
            "properties": {"sheetId": self._sheet_id(spreadsheet_id, sheet),
                           "title": new_title}, "fields": "title"}}])

    def delete_sheet(self, spreadsheet_id: str, sheet: str) -> dict:
        return self.batch_update(spreadsheet_id, [{"deleteSheet": {
            "sheetId": self._sheet_id(spreadsheet_id, sheet)}}])


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sheets_sync.testing.fake_sheets",
        description="Local fake of the Google Sheets API v4 (for tests and demos).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089, help="0 picks a free port")
    parser.add_argument("--spreadsheet", metavar="TITLE",
                        help="create a spreadsheet with this title at start-up")
    parser.add_argument("--owner", default="owner@example.com",
                        help="owner of --spreadsheet (default: %(default)s)")
    parser.add_argument("--share", action="append", default=[], metavar="EMAIL",
                        help="share --spreadsheet with EMAIL as writer (repeatable)")
    args = parser.parse_args(argv)
    server = FakeSheetsServer(port=args.port, host=args.host).start()
    print(f"fake Google Sheets API listening on {server.url}", flush=True)
    if args.spreadsheet:
        sid = server.create_spreadsheet(args.spreadsheet, args.owner)
        for email in args.share:
            server.share(sid, email, "writer")
        print(f"spreadsheet {args.spreadsheet!r} id={sid} owner={args.owner}", flush=True)
    print(
        "make a key:  python -c \"from sheets_sync.testing.fake_sheets import "
        f"make_service_account_key as m; m('job@test-project.iam.gserviceaccount.com', "
        f"'{server.token_uri}', 'key.json')\"\n"
        f"point the job at it:  export SHEETS_SYNC_API_ENDPOINT={server.url}\n"
        f"inspect requests:  curl {server.url}/_fake/requests\n"
        "Ctrl-C stops it.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
