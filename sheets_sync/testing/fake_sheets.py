"""A local fake of the Google Sheets API v4, for the Google backend's tests.

Tests talk to it with the *real* gspread + google-auth over real HTTP on loopback::

    with FakeSheetsServer() as fake:
        sid = fake.create_spreadsheet("Tracker", "owner@example.com")
        fake.share(sid, "job@proj.iam.gserviceaccount.com", "writer")
        key = make_service_account_key("job@proj.iam.gserviceaccount.com", fake.token_uri)
        ...  # point the backend at fake.url (SHEETS_SYNC_API_ENDPOINT) with that key

or run it alone: ``python -m sheets_sync.testing.fake_sheets --port 8089``.

What it serves (one port):

* ``POST /token`` -- OAuth token endpoint for google-auth's service-account JWT grant.
  The JWT is decoded, not verified; its ``iss`` (the key's ``client_email``) becomes the
  identity behind the opaque access token it returns.  Other requests need that token
  (401 as Google without it), access to the spreadsheet (403) and a spreadsheet (404).
* ``/v4/spreadsheets/{id}...`` -- ``spreadsheets.get`` and ``batchUpdate``
  (:mod:`.fake_sheets_ops`, :mod:`.fake_sheets_batch`), ``values:batchGet``,
  ``values.get/update/append/clear``.
* ``/drive/v3/files`` -- create a spreadsheet and delete it (gspread's ``create`` and
  ``del_spreadsheet``: the benchmark and every recorded gspread test use them).
* ``/_fake/requests`` (GET, DELETE) and ``POST /_fake/config`` -- the request log and
  the knobs below, for a fake started from the command line.

Test knobs: per-identity quotas answering Google's 429 (a sliding window; GET is a
read, everything else a write, Drive not counted), latency, injected 5xx or dropped
connections before or after a request is applied (:meth:`FakeSheetsServer.fail_next`),
Drive's rate-limit 403/429 (:meth:`FakeSheetsServer.throttle_next`),
and ``on_request`` hooks through which simulated people act during the job's requests
(:meth:`FakeSheetsServer.as_user`, :mod:`.fake_sheets_people`).

The request log (``server.requests``) has one dict per API request with ``method``,
``path`` (percent-decoded), ``query`` (dict of *lists* of strings, as
``urllib.parse.parse_qs`` gives), ``status`` (``None`` when the connection was
dropped), ``identity``, ``request_bytes``, ``response_bytes``, ``spreadsheet_id``,
``kind`` (``read``/``write``/``drive``) and ``time``, and for a ``batchUpdate`` that
asks for cells back, ``response_ranges`` (what it read).  Token requests are logged apart
(``server.token_requests``), so ``len(server.requests)`` counts API calls.

* ``/drive/v3/files`` (GET) -- listing by ``q``, and ``…/permissions`` -- who a file is
  shared with, and sharing it (the archive finds, makes and shares its spreadsheets).
* Drive folders (:mod:`.fake_sheets_drive_files`), uploads (``/upload/drive/v3/files``,
  multipart and resumable: :mod:`.fake_sheets_drive_uploads`), ``files.get`` and
  ``files.update`` of them: the mail job's attachments.

Left out (not used by the backend or the people): the rest of Drive (export, copy,
downloads), ``spreadsheets.create``, ``values:batchUpdate`` /
``batchClear`` and developer metadata; they answer 404 "Method not found".
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import string
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import fake_sheets_batch as batch
from . import fake_sheets_ops as ops
from .fake_sheets_auth import (
    SCOPES,
    TokenStore,
    make_service_account_key,
    redirect_session,
    token_grant,
)
from .fake_sheets_drive import DriveMixin, Reply
from .fake_sheets_drive_files import DriveFilesMixin
from .fake_sheets_drive_uploads import DriveUploadsMixin
from .fake_sheets_knobs import Drop, Knobs, RequestInfo
from .fake_sheets_model import (
    DEFAULT_FORMAT,
    DEFAULT_THEME,
    NO_PERMISSION_MESSAGE,
    NOT_FOUND_MESSAGE,
    ApiError,
    Sheet,
    Spreadsheet,
    new_sheet_props,
)
from .fake_sheets_people import FakeUser
from .fake_sheets_ranges import apply_fields, parse_fields

__all__ = [
    "ApiError",
    "FakeSheetsServer",
    "FakeUser",
    "RequestInfo",
    "SCOPES",
    "make_service_account_key",
    "redirect_session",
]



# Route table: (method, regex on the raw path, handler name, kind).
_SID = r"(?P<sid>[^/:]+)"
_ROUTES = [
    ("GET", rf"^/v4/spreadsheets/{_SID}$", "sheets_get", "read"),
    ("POST", rf"^/v4/spreadsheets/{_SID}:batchUpdate$", "sheets_batch_update", "write"),
    ("GET", rf"^/v4/spreadsheets/{_SID}/values:batchGet$", "values_batch_get", "read"),
    ("POST", rf"^/v4/spreadsheets/{_SID}/values/(?P<range>.+):append$", "values_append",
     "write"),
    ("POST", rf"^/v4/spreadsheets/{_SID}/values/(?P<range>.+):clear$", "values_clear", "write"),
    ("GET", rf"^/v4/spreadsheets/{_SID}/values/(?P<range>.+)$", "values_get", "read"),
    ("PUT", rf"^/v4/spreadsheets/{_SID}/values/(?P<range>.+)$", "values_update", "write"),
    ("POST", r"^/drive/v3/files$", "drive_create", "drive"),
    ("GET", r"^/drive/v3/files$", "drive_list", "drive"),
    ("GET", rf"^/drive/v3/files/{_SID}$", "drive_get", "drive"),
    ("PATCH", rf"^/drive/v3/files/{_SID}$", "drive_update", "drive"),
    ("POST", r"^/upload/drive/v3/files$", "drive_upload", "drive"),
    ("PUT", r"^/upload/drive/v3/files$", "drive_upload_put", "drive"),
    ("GET", rf"^/drive/v3/files/{_SID}/permissions$", "drive_permissions", "drive"),
    ("POST", rf"^/drive/v3/files/{_SID}/permissions$", "drive_share", "drive"),
    ("DELETE", rf"^/drive/v3/files/{_SID}$", "drive_delete", "drive"),
]
_COMPILED = [(m, re.compile(p), name, kind) for m, p, name, kind in _ROUTES]
# Uploads are not JSON (multipart, media bytes) and need their headers: their handlers
# get the raw body.
_RAW = ("drive_upload", "drive_upload_put")


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


class FakeSheetsServer(DriveMixin, DriveFilesMixin, DriveUploadsMixin, Knobs):
    """The fake, on ``127.0.0.1`` (``port=0`` picks a free port).  See the module docstring;
    the knobs (quotas, latency, faults, hooks) come from :class:`.fake_sheets_knobs.Knobs`."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", project_number: int = 123456789012):
        super().__init__(project_number)
        self.host = host
        self.port = port
        self._lock = threading.RLock()  # one lock around each request's apply
        self._books: dict[str, Spreadsheet] = {}
        self.tokens = TokenStore()
        self._log: list[dict] = []
        self._token_log: list[dict] = []
        self._httpd: ThreadingHTTPServer | None = None

    def start(self) -> FakeSheetsServer:
        self._httpd = ThreadingHTTPServer((self.host, self.port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.fake = self  # type: ignore[attr-defined]
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="fake-sheets",
                         daemon=True).start()
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
            self.reset_drive_files()
            self.reset_uploads()
            self.tokens.clear()
            self.clear_requests()
            self.reset_knobs()

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

    # ------------------------------------------------------------------ state

    def token_for(self, identity: str, lifetime: float | None = None) -> str:
        """Mint an access token for ``identity`` without the JWT dance."""
        return self.tokens.mint(identity, lifetime)

    def bound_open_ranges(self, sid: str, on: bool = True) -> None:
        """Store this spreadsheet's open-ended protected ranges and conditional format rule
        ranges bounded to the grid, as Google may (see ``Spreadsheet.bound_open_ranges``)."""
        with self._lock:
            self._books[sid].bound_open_ranges = on

    def create_spreadsheet(self, title: str, owner: str, sheets: list | None = None) -> str:
        """Create a spreadsheet owned by ``owner``; ``sheets`` are titles or property dicts
        (``{"title": "Tracker", "gridProperties": {"rowCount": 50}}``).  Returns its id."""
        sid = "1" + "".join(secrets.choice(string.ascii_letters + string.digits + "-_")
                            for _ in range(43))
        props = {"title": title, "locale": "en_US", "autoRecalc": "ON_CHANGE",
                 "timeZone": "Etc/GMT", "defaultFormat": json.loads(json.dumps(DEFAULT_FORMAT)),
                 "spreadsheetTheme": json.loads(json.dumps(DEFAULT_THEME))}
        book = Spreadsheet(sid, owner, props)
        for i, spec in enumerate(sheets or ["Sheet1"]):
            spec = {"title": spec} if isinstance(spec, str) else dict(spec)
            grid = spec.get("gridProperties") or {}
            book.sheets.append(Sheet(new_sheet_props(
                spec.get("sheetId", 0 if i == 0 else ops.random_id()),
                spec.get("title") or f"Sheet{i + 1}", i,
                grid.get("rowCount", 1000), grid.get("columnCount", 26))))
        with self._lock:
            self._books[sid] = book
        return sid

    def share(self, spreadsheet_id: str, email: str, role: str = "writer") -> None:
        """Give ``email`` the role ``writer`` or ``reader`` (as Drive sharing would)."""
        with self._lock:
            self._books[spreadsheet_id].permissions[email] = role

    def spreadsheet(self, spreadsheet_id: str) -> Spreadsheet:
        """The current state, for reading in assertions.  Every write replaces the object
        (writes apply to a copy), so fetch it again after a write; change state through
        :meth:`as_user` so permission and protection checks apply."""
        return self._books[spreadsheet_id]

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

    def move_columns(self, spreadsheet_id: str, identity: str, sheet: str, start: int,
                     count: int, to: int) -> dict:
        """``as_user(identity).move_columns(...)`` (the fault tests' owner drags a column)."""
        return self.as_user(identity).move_columns(spreadsheet_id, sheet, start, count, to)

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
            draft = self._book(spreadsheet_id, identity).clone()
            result = fn(draft)
            self._books[spreadsheet_id] = draft
            return result

    # ------------------------------------------------------------------ HTTP

    def _serve_http(self, h: _Handler) -> None:
        split = urllib.parse.urlsplit(h.path)
        path = urllib.parse.unquote(split.path)
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        length = int(h.headers.get("Content-Length") or 0)
        raw_body = h.rfile.read(length) if length else b""
        if split.path.startswith("/_fake/"):
            return self._control(h, h.command, path, raw_body)
        if split.path == "/token":
            return self._token(h, raw_body)
        if self.config.latency:
            time.sleep(self.config.latency)
        entry = {"method": h.command, "path": path, "query": query, "status": None,
                 "identity": None, "request_bytes": len(raw_body), "response_bytes": 0,
                 "spreadsheet_id": None, "kind": None, "time": time.time()}
        try:
            status, body, headers = self._api(h, split.path, path, query, raw_body, entry)
        except Drop:
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
        entry["response_bytes"] = self._send(h, status, body, pretty=pretty, headers=headers)
        with self._lock:
            self._log.append(entry)
        return None

    def _api(self, h: _Handler, raw_path: str, path: str, query: dict, raw_body: bytes,
             entry: dict) -> tuple[int, Any, dict]:
        """Authenticate, route, apply; knobs act before (quota, fault, hooks) and after."""
        try:
            self.apply_late()
            identity = self.tokens.identity(h.headers.get("Authorization") or "")
            entry["identity"] = identity
            route = self._route(h.command, raw_path)
            if route is None:
                return 404, ApiError(404, f"Method not found: {h.command} {path}").body(), {}
            name, kind, groups = route
            entry["kind"], entry["spreadsheet_id"] = kind, groups.get("sid")
            try:
                body = json.loads(raw_body) if raw_body.strip() and name not in _RAW else {}
            except ValueError:
                body = None
            if name in _RAW:
                body = {"_raw": raw_body, "_content_type": h.headers.get("Content-Type") or "",
                        "_headers": {k.lower(): v for k, v in h.headers.items()}}
            info = RequestInfo(h.command, path, query, identity, groups.get("sid"), kind, body)
            if isinstance(body, dict) and body.get("responseRanges"):
                entry["response_ranges"] = list(body["responseRanges"])
            self.admit(identity, kind)
            if isinstance(body, dict) and self.defer(
                    h.command, path, lambda: getattr(self, "_h_" + name)(identity, groups, query, body)):
                raise Drop()
            self.fault(h.command, path, "before")
            self.run_hooks(info, "before")
            extra: dict = {}  # an answer's own headers (an upload session's Location, Range)
            try:
                if not isinstance(body, dict):
                    raise ApiError(400, "Invalid JSON payload received.")
                result = getattr(self, "_h_" + name)(identity, groups, query, body)
                if isinstance(result, Reply):
                    status, out, extra = result.status, result.body, result.headers
                else:
                    status, out = (204, None) if result is None else (200, result)
            except ApiError as e:
                status, out = e.code, e.body()
            info.status = status
            self.run_hooks(info, "after")
            self.fault(h.command, path, "after")
            return status, out, extra
        except ApiError as e:
            return e.code, e.body(), {}

    @staticmethod
    def _route(method: str, raw_path: str) -> tuple[str, str, dict] | None:
        for m, regex, name, kind in _COMPILED:
            match = regex.match(raw_path) if m == method else None
            if match:
                return name, kind, {k: urllib.parse.unquote(v)
                                    for k, v in match.groupdict().items()}
        return None

    @staticmethod
    def _send(h: _Handler, status: int, body: Any, *, pretty: bool = True,
              headers: dict[str, str] | None = None) -> int:
        data = b"" if body is None else (
            (json.dumps(body, ensure_ascii=False, indent=2) + "\n").encode("utf-8") if pretty else
            json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        h.send_response(status)
        if status != 204:
            h.send_header("Content-Type", "application/json; charset=UTF-8")
        h.send_header("Content-Length", str(len(data)))
        if status == 401:
            h.send_header("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"')
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        h.end_headers()
        if data:
            h.wfile.write(data)
        return len(data)

    def _token(self, h: _Handler, raw_body: bytes) -> None:
        status, out, identity = token_grant(raw_body, self.tokens)
        entry = {"method": h.command, "path": "/token", "identity": identity, "status": status,
                 "request_bytes": len(raw_body), "time": time.time()}
        entry["response_bytes"] = self._send(h, status, out)
        with self._lock:
            self._token_log.append(entry)

    def _control(self, h: _Handler, method: str, path: str, raw: bytes) -> None:
        if (method, path) == ("GET", "/_fake/requests"):
            self._send(h, 200, self.requests)
        elif (method, path) == ("DELETE", "/_fake/requests"):
            self.clear_requests()
            self._send(h, 204, None)
        elif (method, path) == ("POST", "/_fake/config"):
            try:
                self.configure(json.loads(raw or b"{}"))
            except ValueError:
                self._send(h, 400, {"error": "body is not JSON"})
                return
            self._send(h, 200, {"ok": True})
        else:
            self._send(h, 404, {"error": f"unknown control endpoint {method} {path}"})

    # ------------------------------------------------------------------ handlers

    def _h_sheets_get(self, who: str, g: dict, q: dict, body: dict) -> dict:
        return self._read(g["sid"], who, lambda b: ops.spreadsheet_get(b, who, q))

    def _h_sheets_batch_update(self, who: str, g: dict, q: dict, body: dict) -> dict:
        out = self._write(g["sid"], who, lambda b: batch.batch_update(b, who, body))
        fields = ops.one(q, "fields")  # Google's system parameter: a mask on any reply
        if not fields:
            return out
        out = apply_fields(out, parse_fields(fields))
        # The spreadsheet in the reply is trimmed as spreadsheets.get trims it after a mask.
        ops.trim_grid(out.get("updatedSpreadsheet") or {})
        return out

    def _h_values_get(self, who: str, g: dict, q: dict, body: dict) -> dict:
        return self._read(g["sid"], who, lambda b: ops.values_get(b, who, g["range"], q))

    def _h_values_batch_get(self, who: str, g: dict, q: dict, body: dict) -> dict:
        return self._read(g["sid"], who, lambda b: ops.values_batch_get(b, who, q))

    def _h_values_update(self, who: str, g: dict, q: dict, body: dict) -> dict:
        return self._write(g["sid"], who,
                           lambda b: ops.values_update(b, who, g["range"], q, body))

    def _h_values_append(self, who: str, g: dict, q: dict, body: dict) -> dict:
        return self._write(g["sid"], who,
                           lambda b: ops.values_append(b, who, g["range"], q, body))

    def _h_values_clear(self, who: str, g: dict, q: dict, body: dict) -> dict:
        return self._write(g["sid"], who, lambda b: ops.values_clear(b, who, g["range"]))


def main(argv: list[str] | None = None) -> int:
    from .fake_sheets_main import main as run

    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
