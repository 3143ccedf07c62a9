"""The Google Sheets backend, through gspread's HTTP client and google-auth.

A steady-state sync costs four Sheets API requests, however many rows or
departments it touches:

1. ``spreadsheets.get``: tabs, grid sizes, protections, header rows and the
   Sync State tab (checkpoints), in one call.
2. ``spreadsheets.batchUpdate``: the run's lock — a temporary protected range
   on each tab whose rows it updates by position. While it stands, a person's
   edit there (a sort, an inserted row, a typed cell) is refused by Google with
   a visible message instead of being lost or shifting rows under the job.
3. ``values:batchGet``: the header rows again (to notice a column moved just
   before the lock) and only the columns the plan needs.
4. ``spreadsheets.batchUpdate``: every new row (``appendCells``, which Google
   places after the last row at that moment), every changed cell
   (``updateCells`` at positions read under the lock), the departments' tabs
   as row differences, and the lock's removal, atomically. Text goes in as
   ``stringValue``: never parsed as a formula. When it carries values people
   typed, its reply brings back the key columns as they stand after it, to
   check that no row moved under it (owners are not held by the lock).

A payload over about 2 MB is split; the lock and the checkpoints go with the
last part, so a checkpoint never advances past rows that were not written.
"""

from __future__ import annotations

import json
import json as _json  # RetryingHTTPClient.request has a parameter named json
import logging
import os
import random
import re
import secrets
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gspread
import requests
from google.auth.exceptions import GoogleAuthError, RefreshError, TransportError
from google.oauth2 import service_account
from gspread.exceptions import APIError
from gspread.urls import SPREADSHEET_BATCH_UPDATE_URL

from sheets_sync.backends.base import Backend, TrackerSession
from sheets_sync.endpoint import session_for
from sheets_sync.errors import Busy, ColumnsMoved, ConfigError, TrackerError
from sheets_sync.roster import Department
from sheets_sync.schema import Schema, Tab, normalize_header
from sheets_sync.table import (
    FIRST_ROW_WHOLE,
    AddRow,
    Change,
    DeleteTab,
    Formula,
    ReplaceRows,
    Table,
    UpdateRow,
    header_positions,
    kept_by_key,
    missing_tab,
    overdue_rule,
)
from sheets_sync.timeutil import now_ist, to_sheet

log = logging.getLogger(__name__)

SCOPES = (
    "https://www.googleapis.com/auth/spreadsheets",
    "https://www.googleapis.com/auth/drive",
)
LOCK_PREFIX = "sheets-sync lock"
# A lock of a run that may still be alive on another machine counts as left behind
# (removed by the next run) once it is this old. A lock whose run is known to be
# gone (its process on this machine has ended) is removed at once.
STALE_LOCK = timedelta(minutes=10)
LOCK_TRIES = 3
# This process's runs that hold (or are taking) a lock: a lock marked with this
# process but another run id was left by a run of this process that died.
_LIVE_RUNS: set[str] = set()
MAX_PAYLOAD = 1_800_000  # bytes; Google recommends at most 2 MB per request
ROWS_PER_REQUEST = 500  # rows in one appendCells or updateCells, well under MAX_PAYLOAD
TIMEOUT = (10, 120)  # connect, read (seconds); Google cuts requests at 180 s
# The tabs the job updates by row position; these (and the departments' tabs) are locked.
LOCKED_TABS = ("posts", "comments")
# Master fields every run computes afresh: a cell of these put on a moved row
# is set right by the next run, so writing them needs no check afterwards.
# (A "Replied at" time is cleared from a row that is not answered; on another
# answered row it would stay, a time off but nothing a person typed.)
RECOMPUTED = frozenset({"due_at", "overdue", "department", "replied_at"})
JOB_COLUMNS = "sheets-sync: the job's columns (the cell may edit)"
DEPARTMENT_TAB = "sheets-sync: the department's tab (its officers and the cell may edit)"


def stable_sheet_id(name: str) -> int:
    """A department tab's sheet id, the same on every run: found without listing every tab."""
    import hashlib

    return int(hashlib.sha1(f"sheets-sync {name}".encode()).hexdigest()[:8], 16) % 2_000_000_000 + 1


def load_credentials(path: str | os.PathLike | None) -> service_account.Credentials:
    """Read a service-account key; every failure names the file and what to do."""
    path = path or os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if not path:
        raise ConfigError("no Google credentials: pass --credentials KEY.json or set "
                          "GOOGLE_APPLICATION_CREDENTIALS to a service-account key file")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: credentials file not found; pass --credentials with the "
                          "service-account key file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the credentials file "
                          f"({getattr(exc, 'strerror', None) or type(exc).__name__})") from None
    try:
        info = json.loads(text)
    except json.JSONDecodeError:
        raise ConfigError(f"{path}: not a JSON key file; download the service account's key "
                          "as JSON from the Google Cloud console") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ConfigError(f"{path}: not a service-account key (its \"type\" must be "
                          "\"service_account\"); see credentials.example.json")
    missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
    if missing:
        raise ConfigError(f"{path}: the key has no {missing[0]!r}; download a new key file")
    try:
        return service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
    except (ValueError, GoogleAuthError):
        # The message of these errors can quote the key; never show it.
        raise ConfigError(f"{path}: the private key in the file cannot be read; download a "
                          "new key file") from None


class RetryingHTTPClient(gspread.HTTPClient):
    """gspread's client with timeouts and a bounded, jittered retry.

    gspread's own BackOffHTTPClient never gives up and retries writes that
    may already have been applied. Here reads and quota refusals (429, never
    applied) are retried; a write that failed after it may have reached Google
    raises :class:`UncertainWrite` so the caller can check before resending.
    """

    attempts = 6
    base_delay = 1.0
    max_delay = 32.0

    def __init__(self, auth, session=None, *, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(auth, session)
        self.sleep = sleep
        self.timeout = TIMEOUT

    def request(self, method, endpoint, params=None, data=None, json=None, files=None, headers=None):
        safe = method.lower() == "get"
        # Google's replies are indented unless asked not to: a third of a big read's bytes.
        if params is None or isinstance(params, dict):
            params = {"prettyPrint": "false", **(params or {})}
        if json is not None:
            # As UTF-8, not \u escapes: Marathi text costs half the bytes (and the
            # payload is the size the 2 MB split measured).
            data = _json.dumps(json, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            headers = {**(headers or {}), "Content-Type": "application/json; charset=utf-8"}
            json = None
        for attempt in range(1, self.attempts + 1):
            try:
                return super().request(method, endpoint, params=params, data=data, json=json,
                                       files=files, headers=headers)
            except APIError as exc:
                code = exc.response.status_code
                retry = code == 429 or (code >= 500 and safe)
                if code >= 500 and not safe:
                    raise UncertainWrite(f"HTTP {code}") from exc
                if not retry or attempt == self.attempts:
                    raise
            except (requests.ConnectionError, requests.Timeout, TransportError) as exc:
                if not safe:
                    raise UncertainWrite(type(exc).__name__) from exc
                if attempt == self.attempts:
                    raise TrackerError(f"Google Sheets did not answer after {attempt} tries "
                                       f"({type(exc).__name__}); check the network and run again") from None
            delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
            self.sleep(delay / 2 + random.uniform(0, delay / 2))
        raise AssertionError("unreachable")  # pragma: no cover


class UncertainWrite(Exception):
    """A write failed in a way that leaves unknown whether Google applied it."""


class GoogleSheetsBackend(Backend):
    def __init__(self, spreadsheet_id: str, *, credentials: str | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.spreadsheet_id = spreadsheet_id
        self.credentials_path = credentials
        self.location = f"Google Sheets {spreadsheet_id}"
        self.sleep = sleep

    def open(self, schema: Schema, *, write: bool) -> GoogleSheetsSession:
        creds = load_credentials(self.credentials_path)
        # SHEETS_SYNC_API_ENDPOINT, when set, redirects every Sheets and Drive call.
        client = RetryingHTTPClient(creds, session_for(credentials=creds), sleep=self.sleep)
        return GoogleSheetsSession(self, client, creds.service_account_email, schema, write=write)


@dataclass
class SheetInfo:
    sheet_id: int
    title: str
    rows: int
    columns: int
    hidden: bool = False
    frozen_rows: int = 0
    protections: list[dict] = field(default_factory=list)


class GoogleSheetsSession(TrackerSession):
    partial_reads = True

    def __init__(self, backend: GoogleSheetsBackend, client: RetryingHTTPClient, identity: str,
                 schema: Schema, *, write: bool) -> None:
        self.backend = backend
        self.id = backend.spreadsheet_id
        self.client = client
        self.identity = identity
        self.schema = schema
        self.write = write
        self.run_id = uuid.uuid4().hex[:12]
        self.mark = ""  # this run's lock's description, once it locks
        self.locks: list[int] = []
        self.sheets: dict[str, SheetInfo] = {}  # normalised title → info
        self.headers: dict[str, list[str]] = {}  # schema tab name → header row
        self.prefetched: dict[str, Table] = {}
        self.row_of: dict[str, dict[tuple, int]] = {}  # tab → key → 0-based row index
        self.last_row: dict[str, int] = {}  # tab → last row number with data, as read
        # Department tabs as read (only the columns read), for writing their differences.
        self.read_tables: dict[str, tuple[Table, frozenset[str]]] = {}
        self.as_read: dict[str, Table] = {}  # the master tabs as read under the lock
        self.read_at: dict[str, dict[tuple, int]] = {}  # their rows' positions then
        self._index_of_row: dict[str, dict[int, int]] = {}
        self.read_columns: dict[str, set[int] | None] = {}  # tab → columns read (None: all)
        self.strays: dict[str, list[tuple[int, int]]] = {}  # tab → (row, column) to clear
        self._load_metadata()

    # -- requests ------------------------------------------------------------------

    def _call(self, what: str, func, *args, **kwargs):
        """One API call; Google's refusals become one-line TrackerErrors."""
        try:
            return func(*args, **kwargs)
        except APIError as exc:
            raise self._explain(exc, what) from None
        except RefreshError as exc:
            reason = exc.args[0] if exc.args and isinstance(exc.args[0], str) else "refused"
            raise ConfigError(f"Google refused the service-account key ({reason.split(':')[0]}); "
                              "check the key file is current and not revoked") from None

    def _explain(self, exc: APIError, what: str) -> TrackerError:
        code = exc.response.status_code
        message = str(exc.error.get("message", "")) if isinstance(exc.error, dict) else ""
        if code == 404:
            return TrackerError(f"spreadsheet {self.id} not found; check the id or URL in --tracker")
        if code == 403 and "protected" in message.lower():
            return TrackerError(f"{what}: Google refused an edit of a protected range ({message}); "
                                f"add {self.identity} as an editor of that protection")
        if code == 403:
            return TrackerError(f"spreadsheet {self.id} is not shared with {self.identity}: open it "
                                f"in Google Sheets, click Share, and add {self.identity} as Editor")
        if code == 401:
            return TrackerError("Google did not accept the credentials (401); check the key file")
        if code == 429:
            return TrackerError(f"{what}: Google's quota is exhausted even after retries "
                                "(60 requests a minute per user); run again in a minute")
        return TrackerError(f"{what}: Google Sheets answered {code}: {message or 'no details'}")

    def _get(self, params: dict) -> dict:
        return self._call("reading the spreadsheet", self.client.spreadsheets_get, self.id, params)

    def _batch_update(self, requests_: list[dict], what: str) -> dict:
        return self._call(what, self.client.batch_update, self.id, {"requests": requests_})

    # -- metadata (request 1) -------------------------------------------------------

    _META_FIELDS = ("sheets(properties(sheetId,title,index,hidden,gridProperties(rowCount,columnCount,"
                    "frozenRowCount)),protectedRanges(protectedRangeId,description,range,editors))")

    def _load_metadata(self) -> None:
        ranges = [f"{_quote(tab.title)}!1:1" for tab in self.schema.tabs.values()]
        ranges.append(_quote(self.schema.tab("sync_state").title))
        fields = self._META_FIELDS[:-1] + ",data(startRow,rowData(values(formattedValue))))"
        try:
            meta = self._call_raw(lambda: self.client.spreadsheets_get(
                self.id, {"ranges": ranges, "fields": fields}))
        except _ParseRange:
            # A schema tab is missing: list every tab, read what exists.
            meta = self._get({"fields": self._META_FIELDS})
        self._absorb(meta, with_data=True)

    def _absorb(self, meta: dict, *, with_data: bool = False) -> None:
        """Take in what a get (or the lock's reply) says about the sheets."""
        for sheet in meta.get("sheets", []):
            props = sheet["properties"]
            grid = props.get("gridProperties", {})
            info = SheetInfo(props["sheetId"], props["title"], grid.get("rowCount", 1000),
                             grid.get("columnCount", 26), props.get("hidden", False),
                             grid.get("frozenRowCount", 0), sheet.get("protectedRanges", []))
            for key, old in list(self.sheets.items()):
                if old.sheet_id == info.sheet_id:
                    del self.sheets[key]  # renamed since
            self.sheets[normalize_header(info.title)] = info
            self._adopt_title(info)
            if not with_data:
                continue
            rows = _grid_rows(sheet.get("data", []))
            tab = self._tab_titled(info.title)
            if tab is not None and "data" in sheet:
                self.headers[tab.name] = rows[0] if rows else []
                if tab.name == "sync_state":
                    self.prefetched["sync_state"] = _table(info.title, rows, first_row=1)

    def _adopt_title(self, info: SheetInfo) -> None:
        """A department's tab is known by its id: if a person renamed it, keep their name."""
        for tab in self.schema.tabs.values():
            if (tab.name.startswith("pending:") and stable_sheet_id(tab.name) == info.sheet_id
                    and tab.title != info.title):
                self.schema = self.schema.with_tabs([replace(tab, title=info.title)])

    def _refresh_all(self) -> None:
        self._absorb(self._get({"fields": self._META_FIELDS}))

    def _call_raw(self, func):
        try:
            return func()
        except APIError as exc:
            message = str(exc.error.get("message", "")) if isinstance(exc.error, dict) else ""
            if exc.response.status_code == 400 and "Unable to parse range" in message:
                raise _ParseRange() from None
            raise self._explain(exc, "reading the spreadsheet") from None
        except RefreshError:
            raise ConfigError("Google refused the service-account key; check the key file is "
                              "current and not revoked") from None

    def _tab_titled(self, title: str) -> Tab | None:
        for tab in self.schema.tabs.values():
            if normalize_header(tab.title) == normalize_header(title):
                return tab
        return None

    def _sheet(self, tab: Tab) -> SheetInfo | None:
        return self.sheets.get(normalize_header(tab.title))

    def is_new(self) -> bool:
        return not any(self._sheet(tab) for tab in self.schema.tabs.values())

    # -- structure ------------------------------------------------------------------

    def ensure_structure(self, departments: Sequence[Department] = (), *,
                         only: Sequence[str] | None = None,
                         cell_editors: Sequence[str] = ()) -> list[str]:
        if not self.write:
            raise TrackerError("this session is read-only (dry run)")
        done: list[str] = []
        requests_: list[dict] = []
        chosen = [t for t in self.schema.tabs.values() if only is None or t.name in only]
        if any(t.name.startswith("pending:") for t in chosen) and not self.locks:
            self._refresh_all()  # department tabs are not in the first read
        existing = [tab for tab in chosen if self._sheet(tab)]
        wanted = [tab for tab in existing if tab.name not in self.headers]
        seed = departments and (only is None or "departments" in only)
        if seed and self._sheet(self.schema.tab("departments")):
            wanted.append(self.schema.tab("departments"))
        current = self._batch_read_whole(wanted) if wanted else {}
        for name, table in current.items():
            self.headers[name] = table.header
        used_ids = {s.sheet_id for s in self.sheets.values()}
        editors = [self.identity, *cell_editors]
        roster = {d.code: d for d in departments}
        for tab in chosen:
            sheet = self._sheet(tab)
            if sheet is None:
                sheet_id = stable_sheet_id(tab.name) if tab.name.startswith("pending:") else None
                if sheet_id is None or sheet_id in used_ids:
                    sheet_id = _new_sheet_id(used_ids)
                used_ids.add(sheet_id)
                sheet = SheetInfo(sheet_id, tab.title, 1000, max(26, len(tab.columns)), tab.hidden, 1)
                requests_.append({"addSheet": {"properties": {
                    "sheetId": sheet_id, "title": tab.title, "hidden": tab.hidden,
                    "gridProperties": {"rowCount": 1000, "columnCount": sheet.columns,
                                       "frozenRowCount": 1}}}})
                self.sheets[normalize_header(tab.title)] = sheet
                self.headers[tab.name] = []
                done.append(f"created tab {tab.title!r}")
            header = list(self.headers.get(tab.name, []))
            have = {normalize_header(h) for h in header if h}
            added = [c.header for c in tab.columns if normalize_header(c.header) not in have]
            if added:
                start = max((i + 1 for i, h in enumerate(header) if h.strip()), default=0)
                if start + len(added) > sheet.columns:
                    extra = start + len(added) - sheet.columns
                    requests_.append({"appendDimension": {"sheetId": sheet.sheet_id,
                                                          "dimension": "COLUMNS", "length": extra}})
                    sheet.columns += extra
                requests_.append(_update_cells(sheet.sheet_id, 0, start, [added]))
                header = header[:start] + [""] * (start - len(header)) + added
                self.headers[tab.name] = header
                if len(added) < len(tab.columns):
                    done.append(f"tab {tab.title!r}: added column(s) {', '.join(added)} at the end")
            requests_ += self._furniture(tab, sheet, header, fresh=bool(added))
            requests_ += self._protections(tab, sheet, header, editors, roster)
        if seed:
            dept_tab = self.schema.tab("departments")
            table = current.get("departments")
            have_codes = set()
            if table is not None:
                have_codes = {r.get("code").strip().upper() for r in table.records(dept_tab)}
            new = [d for d in departments if d.code not in have_codes]
            if new:
                sheet = self._sheet(dept_tab)
                requests_.append(self._append_cells(dept_tab, sheet, [AddRow("departments", d.as_row())
                                                                      for d in new]))
                done.append(f"added {len(new)} department(s) to {dept_tab.title!r}")
        if requests_:
            self._batch_update(requests_, "setting up the tracker's tabs")
        return done

    def _protections(self, tab: Tab, sheet: SheetInfo, header: list[str], editors: list[str],
                     roster: Mapping[str, Department]) -> list[dict]:
        """Who may edit what, as Google enforces it; added only where missing.

        A department's tab: its head, nodal officers and the cell. The job's own
        columns (of the Comments and Posts tabs and of every department's tab):
        the cell alone. People's columns stay open to whoever may edit the tab.
        """
        if tab.name not in ("comments", "posts") and not tab.name.startswith("pending:"):
            return []
        have = {pr.get("description", "") for pr in sheet.protections}
        out = []
        positions = header_positions(header)
        people = sorted(positions[normalize_header(c.header)] for c in tab.columns
                        if c.owner == "people" and normalize_header(c.header) in positions)
        if JOB_COLUMNS not in have and people:
            out.append({"addProtectedRange": {"protectedRange": {
                "range": {"sheetId": sheet.sheet_id}, "description": JOB_COLUMNS,
                "unprotectedRanges": [{"sheetId": sheet.sheet_id, "startRowIndex": 1,
                                       "startColumnIndex": i, "endColumnIndex": i + 1} for i in people],
                "editors": {"users": list(editors)}}}})
            sheet.protections.append({"description": JOB_COLUMNS})
        code = tab.name.split(":", 1)[1] if tab.name.startswith("pending:") else None
        if code and DEPARTMENT_TAB not in have and code in roster:
            dept = roster[code]
            users = [*editors, *([dept.head] if dept.head else []), *dept.nodal_officers]
            out.append({"addProtectedRange": {"protectedRange": {
                "range": {"sheetId": sheet.sheet_id, "startRowIndex": 0}, "description": DEPARTMENT_TAB,
                "editors": {"users": list(dict.fromkeys(users))}}}})
            sheet.protections.append({"description": DEPARTMENT_TAB})
        return out

    def _furniture(self, tab: Tab, sheet: SheetInfo, header: list[str], *, fresh: bool) -> list[dict]:
        """Frozen header, widths, bold header, dropdowns; only where missing or just added."""
        out = []
        if sheet.frozen_rows != 1 or sheet.hidden != tab.hidden:
            out.append({"updateSheetProperties": {
                "properties": {"sheetId": sheet.sheet_id, "hidden": tab.hidden,
                               "gridProperties": {"frozenRowCount": 1}},
                "fields": "hidden,gridProperties.frozenRowCount"}})
            sheet.frozen_rows, sheet.hidden = 1, tab.hidden
        if not fresh:
            return out
        positions = header_positions(header)
        out.append({"repeatCell": {
            "range": {"sheetId": sheet.sheet_id, "startRowIndex": 0, "endRowIndex": 1},
            "cell": {"userEnteredFormat": {"textFormat": {"bold": True}, "wrapStrategy": "WRAP"}},
            "fields": "userEnteredFormat(textFormat.bold,wrapStrategy)"}})
        for column in tab.columns:
            index = positions.get(normalize_header(column.header))
            if index is None:
                continue
            out.append({"updateDimensionProperties": {
                "range": {"sheetId": sheet.sheet_id, "dimension": "COLUMNS",
                          "startIndex": index, "endIndex": index + 1},
                "properties": {"pixelSize": column.width}, "fields": "pixelSize"}})
        for field_name, values in (("status", self.schema.status_names),
                                   ("category", self.schema.category_names)):
            try:
                index = positions.get(normalize_header(tab.header_of(field_name)))
            except KeyError:
                continue
            if index is None or tab.name == "report":
                continue
            out.append({"setDataValidation": {
                "range": {"sheetId": sheet.sheet_id, "startRowIndex": 1,
                          "startColumnIndex": index, "endColumnIndex": index + 1},
                "rule": {"condition": {"type": "ONE_OF_LIST",
                                       "values": [{"userEnteredValue": v} for v in values]},
                         "strict": True, "showCustomUi": True}}})
        for column in tab.columns:
            index = positions.get(normalize_header(column.header))
            if column.hidden and index is not None:
                out.append({"updateDimensionProperties": {
                    "range": {"sheetId": sheet.sheet_id, "dimension": "COLUMNS",
                              "startIndex": index, "endIndex": index + 1},
                    "properties": {"hiddenByUser": True}, "fields": "hiddenByUser"}})
        rule = overdue_rule(tab, {k: _col(v) for k, v in positions.items()}, self.schema)
        if rule:
            out.append({"addConditionalFormatRule": {"index": 0, "rule": {
                "ranges": [{"sheetId": sheet.sheet_id, "startRowIndex": 1}],
                "booleanRule": {"condition": {"type": "CUSTOM_FORMULA",
                                              "values": [{"userEnteredValue": "=" + rule}]},
                                "format": {"backgroundColor": {"red": 0.96, "green": 0.78,
                                                               "blue": 0.76}}}}}})
        return out

    # -- reading ----------------------------------------------------------------------

    def read(self, tabs: Sequence[str], *, for_update: bool = False,
             fields: Mapping[str, Sequence[str]] | None = None) -> dict[str, Table]:
        if for_update and self.write and not self.locks:
            self._lock([t for t in tabs if t in LOCKED_TABS or t.startswith("pending:")])
        if list(tabs) == ["sync_state"] and "sync_state" in self.prefetched and not for_update:
            return {"sync_state": self.prefetched["sync_state"]}
        if not (for_update and self.write) and any(t.startswith("pending:") for t in tabs):
            self._refresh_all()
        for attempt in range(3):
            present = [self.schema.tab(t) for t in tabs if self._sheet(self.schema.tab(t))]
            out = {t: Table(self.schema.tab(t).title, []) for t in tabs}
            try:
                out.update(self._batch_read(present, fields or {}))
                break
            except _ParseRange:
                if attempt == 2:
                    raise TrackerError("the tracker's tabs keep being renamed while the job reads "
                                       "them; run again") from None
                # A tab was renamed (or deleted) since the lock: find the tabs by id again.
                self._refresh_all()
        for name, table in out.items():
            tab = self.schema.tab(name)
            self.row_of[name] = {}
            self.last_row[name] = max(table.row_numbers, default=1)
            if name in LOCKED_TABS:
                self.as_read[name] = table
                self.read_at[name] = self.row_of[name]
                self._index_of_row.pop(name, None)
                self.strays[name] = self._stray_cells(tab, table)
            if name.startswith("pending:"):
                read = (fields or {}).get(name)
                self.read_tables[name] = (table, frozenset(read or (c.field for c in tab.columns)))
            if not tab.key or not table.header:
                continue
            positions = table.positions()
            idx = [positions.get(normalize_header(tab.header_of(k))) for k in tab.key]
            if None in idx:
                continue
            for number, row in zip(table.row_numbers, table.rows, strict=True):
                key = tuple(row[i].strip() if i < len(row) else "" for i in idx)
                if all(key):
                    self.row_of[name].setdefault(key, number - 1)
        return out

    def read_rows(self, tab: str, keys: Sequence[tuple],
                  fields: Sequence[str]) -> dict[tuple, dict[str, str]]:
        """Just these rows' cells of these columns: one request, under the read's lock."""
        schema_tab = self.schema.tab(tab)
        rows = {tuple(k): self.row_of.get(tab, {}).get(tuple(k)) for k in keys}
        rows = {k: r for k, r in rows.items() if r is not None}
        positions = self._fieldheader_positions(schema_tab)
        cols = sorted(((f, positions[f]) for f in fields if f in positions), key=lambda fc: fc[1])
        if not rows or not cols:
            return {}
        # The rows' neighbourhoods (a few ranges), or their whole span when they are scattered.
        spans = _runs(rows.values(), gap=50)
        if len(spans) > 20:
            spans = [(spans[0][0], spans[-1][1])]
        first, last = cols[0][1], cols[-1][1]
        ranges = [f"{_quote(schema_tab.title)}!{_col(first)}{a + 1}:{_col(last)}{b}" for a, b in spans]
        response = self._call("reading the tracker", self.client.values_batch_get, self.id, ranges,
                              {"valueRenderOption": "FORMATTED_VALUE"})
        found: dict[int, list] = {}
        for (a, _), vr in zip(spans, response.get("valueRanges", []), strict=True):
            for n, values in enumerate(vr.get("values", [])):
                found[a + n] = values
        out = {}
        for key, row in rows.items():
            values = found.get(row, [])
            out[key] = {f: (str(values[c - first]) if c - first < len(values) else "") for f, c in cols}
        return out

    def _batch_read_whole(self, tabs: Sequence[Tab]) -> dict[str, Table]:
        if not tabs:
            return {}
        response = self._call("reading the tracker", self.client.values_batch_get, self.id,
                              [_quote(t.title) for t in tabs],
                              {"valueRenderOption": "FORMATTED_VALUE"})
        out = {}
        for tab, vr in zip(tabs, response.get("valueRanges", []), strict=True):
            out[tab.name] = _table(tab.title, vr.get("values", []), first_row=1)
        return out

    def _batch_read(self, tabs: Sequence[Tab], fields: Mapping[str, Sequence[str]]) -> dict[str, Table]:
        """Header rows plus only the needed columns; whole tabs where no fields are named."""
        for _ in range(3):
            ranges, plan = [], []
            for tab in tabs:
                wanted = fields.get(tab.name)
                header = self.headers.get(tab.name)
                if header is None and tab.name.startswith("pending:"):
                    # Not in the first read: assume the layout the job gave it; the header
                    # row read alongside tells if a person changed it (then read again).
                    header = tab.headers
                if not wanted or header is None:
                    plan.append((tab, None, len(ranges), None))
                    ranges.append(_quote(tab.title))
                    continue
                positions = header_positions(header)
                named = {normalize_header(c.header) for c in tab.columns if c.field in wanted}
                cols = sorted(positions[h] for h in named if h in positions)
                # Adjacent columns as one range: Google's reply costs bytes per range
                # row, so one narrow range per column would cost more than the tab.
                spans = _runs(cols, gap=1)
                if FIRST_ROW_WHOLE in wanted:
                    spans.append((-1, -1))  # row 2, every column: read last, wins
                plan.append((tab, spans, len(ranges), header))
                ranges.append(f"{_quote(tab.title)}!1:1")
                ranges += [f"{_quote(tab.title)}!{_col(a)}2:{_col(b - 1)}" if a >= 0 else
                           f"{_quote(tab.title)}!2:2" for a, b in spans]
            if not ranges:
                return {}
            response = self._call_raw(lambda ranges=ranges: self.client.values_batch_get(
                self.id, ranges, {"valueRenderOption": "FORMATTED_VALUE"}))
            value_ranges = response.get("valueRanges", [])
            out, moved = {}, False
            for tab, cols, at, expected in plan:
                if cols is None:
                    table = _table(tab.title, value_ranges[at].get("values", []), first_row=1)
                    self.headers[tab.name] = table.header
                    self.read_columns[tab.name] = None
                    out[tab.name] = table
                    continue
                header_rows = value_ranges[at].get("values", [])
                header = header_rows[0] if header_rows else []
                self.headers[tab.name] = header
                if header != expected:
                    # Someone moved or renamed a column since request 1: read again.
                    moved = True
                    continue
                table = Table(tab.title, list(header))
                width = len(header)
                rows: dict[int, list[str]] = {}
                for i, (a, _) in enumerate(cols):
                    for n, values in enumerate(value_ranges[at + 1 + i].get("values", [])):
                        if any(values):
                            row = rows.setdefault(n, [""] * width)
                            a = max(a, 0)
                            row[a:a + len(values)] = [str(v) for v in values]
                for n in sorted(rows):
                    table.rows.append(rows[n])
                    table.row_numbers.append(n + 2)
                self.read_columns[tab.name] = {i for a, b in cols if a >= 0 for i in range(a, b)}
                out[tab.name] = table
            if not moved:
                return out
        raise TrackerError("the tracker's columns keep moving while the job reads them; run again")

    # -- the lock (request 2) ----------------------------------------------------------

    def _lock(self, names: Sequence[str]) -> None:
        """Take the run's lock: one protected range per tab it writes, marked with this run.

        Two runs (on two machines) may both see no lock and both add theirs.
        Google applies batchUpdates one at a time and the lock's reply shows
        the spreadsheet right after it, so the later of the two sees the
        earlier's lock there and gives way: of two runs, at most one writes.
        """
        ids = self._lock_ids(names)
        if not ids:
            return
        self.mark = _lock_mark(self.run_id, datetime.now(UTC))
        _LIVE_RUNS.add(self.run_id)
        for attempt in range(1, LOCK_TRIES + 1):
            leftovers = self._leftover_locks()  # raises Busy while another run holds one
            body = [*({"deleteProtectedRange": {"protectedRangeId": i}} for i in leftovers),
                    *({"addProtectedRange": {"protectedRange": {
                        # A range from row 1 on, not a "sheet" protection: a sheet has only one
                        # of those, and the job's columns already use it.
                        "range": {"sheetId": i, "startRowIndex": 0}, "description": self.mark,
                        "warningOnly": False, "editors": {"users": [self.identity]}}}} for i in ids)]
            try:
                reply = self._call("locking the tracker for the write", self.client.batch_update,
                                   self.id, {"requests": body, "includeSpreadsheetInResponse": True})
            except UncertainWrite:
                # Applied or not? Our mark is unique: look for it.
                self._refresh_all()
                self.locks = self._own_locks()
                if self.locks:
                    break
                log.warning("the lock request got no answer and was not applied (try %d)", attempt)
                continue
            except TrackerError as exc:
                text = str(exc).lower()
                if attempt == LOCK_TRIES or not ("grid" in text or "no protected range" in text):
                    raise
                # A department's tab was deleted by hand, or another run removed the same
                # leftover lock first: look again and lock what exists.
                self._refresh_all()
                present = {s.sheet_id for s in self.sheets.values()}
                ids = [i for i in ids if i in present]
                continue
            self.locks = [r["addProtectedRange"]["protectedRange"]["protectedRangeId"]
                          for r in reply.get("replies", []) if "addProtectedRange" in r]
            self._absorb(reply.get("updatedSpreadsheet", {}))
            break
        else:
            _LIVE_RUNS.discard(self.run_id)
            raise TrackerError(f"could not lock the tracker for the write ({LOCK_TRIES} tries got no "
                               "answer from Google); nothing was written, run again")
        if leftovers:
            log.warning("removed %d lock(s) left by a run that did not finish", len(leftovers))
        self._give_way_or_clean()

    def _lock_ids(self, names: Sequence[str]) -> list[int]:
        ids = []
        for name in names:
            tab = self.schema.tab(name)
            sheet = self._sheet(tab)
            if sheet is not None:
                ids.append(sheet.sheet_id)
            elif name.startswith("pending:"):
                # Department tabs are not in the first read; their ids are fixed.
                ids.append(stable_sheet_id(name))
        return ids

    def _other_locks(self) -> Iterator[tuple[dict, str]]:
        """Every job lock known on any tab but this run's, with its state (live, dead, stale)."""
        now = datetime.now(UTC)
        for sheet in list(self.sheets.values()):
            for pr in sheet.protections:
                description = pr.get("description", "")
                if description.startswith(LOCK_PREFIX) and description != self.mark:
                    yield pr, _lock_state(description, now)

    def _leftover_locks(self) -> list[int]:
        """Locks of runs that are gone (to remove); Busy when another run may be writing."""
        out = []
        for pr, state in self._other_locks():
            if state == "live":
                raise Busy(_busy_message(pr.get("description", "")))
            out.append(pr["protectedRangeId"])
        return out

    def _give_way_or_clean(self) -> None:
        """After locking: another live run's lock means it was first; else remove dead ones.

        The lock's reply lists the protections of every tab (the first read saw only
        the main tabs), so this is also where a dead run's lock on a department's
        tab is found: officers would otherwise be shut out of it for good.
        """
        others = list(self._other_locks())
        live = [pr for pr, state in others if state == "live"]
        if live:
            self.close()
            raise Busy(_busy_message(live[0].get("description", "")))
        dead = [pr["protectedRangeId"] for pr, _ in others]
        if not dead:
            return
        try:
            self._batch_update([{"deleteProtectedRange": {"protectedRangeId": i}} for i in dead],
                               "removing locks left by runs that did not finish")
            log.warning("removed %d lock(s) left by a run that did not finish", len(dead))
        except (TrackerError, UncertainWrite):
            # Another run removed them first, or no answer: the next run looks again.
            log.warning("could not remove %d lock(s) left by a run that did not finish; the next "
                        "run will", len(dead))

    def _own_locks(self) -> list[int]:
        return [pr["protectedRangeId"] for s in self.sheets.values() for pr in s.protections
                if self.mark and pr.get("description") == self.mark]

    def close(self) -> None:
        if self.locks:
            try:
                self._batch_update([{"deleteProtectedRange": {"protectedRangeId": i}} for i in self.locks],
                                   "releasing the lock")
            except Exception:  # noqa: BLE001 - the next run removes a dead run's lock
                log.warning("could not remove this run's lock; the next run will")
            self.locks = []
        _LIVE_RUNS.discard(self.run_id)

    # -- writing (request 4) --------------------------------------------------------------

    def apply(self, changes: Sequence[Change]) -> None:
        if not self.write:
            raise TrackerError("this session is read-only (dry run)")
        # Checkpoints and the log go last: if a big write is split and breaks
        # half-way, no checkpoint claims rows that were not written.
        tail = [c for c in changes if c.tab in ("sync_state", "sync_log")]
        body = [c for c in changes if c.tab not in ("sync_state", "sync_log")
                and not isinstance(c, DeleteTab)]
        # Each request is turned into JSON as soon as it is made: a write of 50,000
        # rows never holds all of them as Python objects at once.
        chunks = _chunks(self._write_requests(body, clear_strays=True), MAX_PAYLOAD)
        chunks[-1] += [_serialize(r) for r in self._write_requests(tail)]
        chunks[-1] += [_serialize({"deleteProtectedRange": {"protectedRangeId": i}}) for i in self.locks]
        # Tabs go last, after their locks: a department removed from the roster.
        for change in changes:
            if isinstance(change, DeleteTab):
                sheet = self._sheet(self.schema.tab(change.tab))
                if sheet is not None:
                    chunks[-1].append(_serialize({"deleteSheet": {"sheetId": sheet.sheet_id}}))
        by_position = [c for c in body if isinstance(c, UpdateRow) and c.tab in LOCKED_TABS]
        check = sorted({c.tab for c in by_position}) if any(set(c.values) - RECOMPUTED
                                                                for c in by_position) else []
        reply = None
        chunks = [c for c in chunks if c]  # never an empty batch: Google refuses it
        # Every part's reply shows the main tabs' header rows as they stand right after
        # it: a column the owner moved before the part went in is seen there.
        headers = [f"{_quote(self.schema.tab(n).title)}!1:1" for n in LOCKED_TABS if n in self.headers
                   and self._sheet(self.schema.tab(n))]
        for number, chunk in enumerate(chunks, start=1):
            last = number == len(chunks)
            if not last and self.locks:
                # Each part goes in only while this run's lock stands (Google refuses the
                # whole batch if it is gone): a run whose lock another run removed stops.
                chunk = [*chunk, _serialize({"updateProtectedRange": {
                    "protectedRange": {"protectedRangeId": self.locks[0], "description": self.mark},
                    "fields": "description"}})]
            keys = self._key_ranges(check)[0] if last and check else []
            reply = self._send_write(chunk, last=last, response_ranges=[*headers, *keys])
            if last:
                self.locks = []  # removed by the last part
            moved = self._moved_columns(reply)
            if moved:
                self._put_back_columns(chunk, moved)
                raise ColumnsMoved("a column of the tracker was moved while the job wrote; what it "
                                   "wrote was put in the right columns; run again")
        self.locks = []
        _LIVE_RUNS.discard(self.run_id)
        if check:
            # The last write's reply shows the key columns as they stand after it.
            self._check_rows(by_position, self._keys_in_reply(reply, check) if reply else None)

    def _moved_columns(self, reply: dict | None) -> dict[str, list[str]]:
        """The main tabs whose header row in a write's reply is not the one read: tab → header now."""
        if not reply:
            return {}
        sheets = {s.get("properties", {}).get("sheetId"): s
                  for s in (reply.get("updatedSpreadsheet") or {}).get("sheets", [])}
        out = {}
        for name in LOCKED_TABS:
            sheet = self._sheet(self.schema.tab(name))
            if sheet is None or name not in self.headers or sheet.sheet_id not in sheets:
                continue
            for block in sheets[sheet.sheet_id].get("data", []):
                if block.get("startRow", 0) == 0 and block.get("startColumn", 0) == 0:
                    rows = block.get("rowData", [])
                    header = [str(v.get("formattedValue", "")) for v in (rows[0].get("values", [])
                                                                         if rows else [])]
                    if _trimmed(header) != _trimmed(self.headers[name]):
                        out[name] = header
        return out

    def _put_back_columns(self, chunk: list[bytes], moved: dict[str, list[str]]) -> None:
        """Put what a write placed by old column positions into the columns it was meant for.

        The write went in after the move (its reply showed the new header), so each
        cell landed at its old position under another column. Each goes to its own
        column; the cell it covered gets back its value as read. A covered column the
        run did not read (the comment's words, its author) cannot be restored: the
        row's Sync notes say so. Rows the write appended are rewritten whole.
        """
        requests_ = [json.loads(b) for b in chunk]
        cells: dict[tuple[int, int, int], dict] = {}
        rewrites: list[dict] = []
        stamp = to_sheet(now_ist())
        for name, new_header in moved.items():
            tab = self.schema.tab(name)
            sheet = self._sheet(tab)
            old = self._fieldheader_positions(tab)
            field_at_old = {i: f for f, i in old.items()}
            self.headers[name] = new_header
            new = self._fieldheader_positions(tab)
            field_at_new = {i: f for f, i in new.items()}
            written, appended = _written_cells(requests_, sheet.sheet_id)
            placed: dict[tuple[int, int], dict] = {}
            restored: dict[tuple[int, int], dict] = {}
            lost: dict[int, list[str]] = {}
            for (row, col), cell in written.items():
                meant = field_at_old.get(col)
                if meant in new:
                    placed[(row, new[meant])] = cell
                covered = field_at_new.get(col)
                if covered is None or covered == meant:
                    continue
                value = self._as_read_at(name, row, covered)
                if value is None:
                    lost.setdefault(row, []).append(tab.header_of(covered))
                else:
                    restored[(row, col)] = _cell(value)
            for (row, col), cell in {**restored, **placed}.items():
                cells[(sheet.sheet_id, row, col)] = cell
            for row, headers in lost.items():
                if "sync_notes" in new and (row, new["sync_notes"]) not in placed:
                    before = self._as_read_at(name, row, "sync_notes") or ""
                    note = (f"{stamp}: {', '.join(headers)} overwritten while a column was moved during "
                            "a sync; check against the comment's link")
                    cells[(sheet.sheet_id, row, new["sync_notes"])] = _cell(
                        f"{before}; {note}" if before else note)
            if appended:
                rewrites += self._rewrite_appended(tab, sheet, appended, field_at_old, new)
            log.warning("%s: a column was moved while the job wrote; %d cell(s) and %d new row(s) put "
                        "in their own columns", tab.title, len(written), len(appended))
        requests_out = [*rewrites, *_cell_requests(cells)]
        if requests_out:
            self._batch_update(requests_out, "putting cells back in their own columns")

    def _rewrite_appended(self, tab: Tab, sheet: SheetInfo, appended: list[dict],
                          field_at_old: dict[int, str], new: dict[str, int]) -> list[dict]:
        """The rows a write appended by old column positions, found and written whole again."""
        values = [{field_at_old[i]: c.get("userEnteredValue", {}).get("stringValue", "")
                   for i, c in enumerate(row.get("values", [])) if i in field_at_old}
                  for row in appended]
        wanted = {tuple(v.get(k, "") for k in tab.key): v for v in values}
        old_key = [next(i for i, f in field_at_old.items() if f == k) for k in tab.key]
        start = self.last_row.get(tab.name, 1) + 1  # they went after the last row read
        last_column = _col(max(sheet.columns, len(self.headers[tab.name])) - 1)
        response = self._call("reading the rows just written", self.client.values_batch_get, self.id,
                              [f"{_quote(tab.title)}!A{start}:{last_column}"],
                              {"valueRenderOption": "FORMATTED_VALUE"})
        width = max(new.values()) + 1
        out = []
        for n, row in enumerate((response.get("valueRanges") or [{}])[0].get("values", [])):
            key = tuple(str(row[i]).strip() if i < len(row) else "" for i in old_key)
            if key in wanted:
                out.append({"updateCells": {
                    "start": {"sheetId": sheet.sheet_id, "rowIndex": start - 1 + n, "columnIndex": 0},
                    "rows": [_row_data(wanted.pop(key), new, max(width, len(row)))],
                    "fields": "userEnteredValue"}})
        return out

    def _as_read_at(self, name: str, row: int, field_name: str) -> str | None:
        """The value a cell (0-based row, field) had when read; None if this run did not read it."""
        read = self.read_columns.get(name)
        table = self.as_read.get(name)
        if table is None:
            return None
        column = table.positions().get(normalize_header(self.schema.tab(name).header_of(field_name)))
        if column is None or (read is not None and column not in read):
            return None
        index = self._index_of_row.setdefault(name, {n: i for i, n in enumerate(table.row_numbers)})
        i = index.get(row + 1)
        if i is None:
            return ""  # an empty row as read
        cells = table.rows[i]
        return cells[column] if column < len(cells) else ""

    def _check_rows(self, updates: Sequence[UpdateRow], seen: dict | None = None) -> None:
        """Check that the rows written by position were still where the read found them.

        The lock holds every editor, but not the spreadsheet's owner: an owner who
        sorts the master between the job's read and its write would get another
        comment's reply on their row. So a run that wrote what people typed (or
        other values the job does not recompute) looks at the key columns as they
        stand after the write (``seen``: from the write's own reply, else read);
        if a row moved, every cell written goes back: each row gets what it had or
        what the job meant for it, at the row where it now is.
        """
        for _ in range(2):
            if not updates:
                return
            now_at = seen or self._read_keys({u.tab for u in updates})
            seen = None
            moved = [u for u in updates
                     if now_at[u.tab][1].get(self.row_of[u.tab][tuple(u.key)]) != tuple(u.key)]
            if not moved:
                return
            cells: dict[tuple[int, int, int], dict] = {}
            meant = {(u.tab, tuple(u.key), f): v for u in updates for f, v in u.values.items()}
            repaired = []
            for u in moved:
                rows, keys = now_at[u.tab]
                there = keys.get(self.row_of[u.tab][tuple(u.key)])  # whose row got the cells
                tab = self.schema.tab(u.tab)
                positions = self._fieldheader_positions(tab)
                sheet = self._sheet(tab)
                for name in u.values:
                    for key in filter(None, (tuple(u.key), there)):
                        row = rows.get(key)
                        if row is None:
                            continue
                        value = meant.get((u.tab, key, name), self._as_read(u.tab, key, name))
                        cells[(sheet.sheet_id, row, positions[name])] = _cell(value)
                        repaired.append(UpdateRow(u.tab, key, {name: value}))
            log.warning("%d row(s) moved while the job wrote them (a sort by the spreadsheet's owner?); "
                        "putting %d cell(s) back on their own rows", len(moved), len(cells))
            for key, (rows, _) in now_at.items():
                self.row_of[key] = dict(rows)
            if not cells:  # the moved rows are gone (deleted): nothing to put back
                return
            self._batch_update(_cell_requests(cells), "putting moved cells back")
            updates = repaired

    def _key_ranges(self, names: Sequence[str]) -> tuple[list[str], list[tuple[str, int, list[int]]]]:
        """A1 ranges of the tabs' key columns from row 2; and per tab (name, first range, columns)."""
        ranges, plan = [], []
        for name in sorted(names):
            tab = self.schema.tab(name)
            positions = self._fieldheader_positions(tab)
            columns = [positions[k] for k in tab.key]
            plan.append((name, len(ranges), columns))
            ranges += [f"{_quote(tab.title)}!{_col(c)}2:{_col(c)}" for c in columns]
        return ranges, plan

    def _read_keys(self, names) -> dict[str, tuple[dict[tuple, int], dict[int, tuple]]]:
        """Per tab: key → 0-based row index, and row index → key, as the sheet is now."""
        ranges, plan = self._key_ranges(sorted(names))
        response = self._call("checking the rows just written", self.client.values_batch_get, self.id,
                              ranges, {"valueRenderOption": "FORMATTED_VALUE"})
        value_ranges = response.get("valueRanges", [])
        return {name: _key_index([[r[0] if r else "" for r in vr.get("values", [])]
                                  for vr in value_ranges[at:at + len(columns)]])
                for name, at, columns in plan}

    def _keys_in_reply(self, reply: dict, names: Sequence[str]) -> dict | None:
        """The same, from a write's reply (its updated spreadsheet's grid data)."""
        _, plan = self._key_ranges(names)
        sheets = {s.get("properties", {}).get("sheetId"): s
                  for s in (reply.get("updatedSpreadsheet") or {}).get("sheets", [])}
        out = {}
        for name, _, columns in plan:
            sheet = self._sheet(self.schema.tab(name))
            if sheet is None:
                return None
            blocks = {b.get("startColumn", 0): b for b in sheets.get(sheet.sheet_id, {}).get("data", [])
                      if b.get("startRow", 0) == 1}
            if any(c not in blocks for c in columns):
                return None  # not what was asked: read instead
            lists = []
            for c in columns:
                block = blocks[c]
                if block.get("startRow", 0) != 1:
                    return None
                lists.append([str((row.get("values") or [{}])[0].get("formattedValue", ""))
                              for row in block.get("rowData", [])])
            out[name] = _key_index(lists)
        return out

    def _stray_cells(self, tab: Tab, table: Table) -> list[tuple[int, int]]:
        """Cells of recomputed columns on a row with no key: a flag written on a row the
        owner's sort moved there (nothing else checks those). Cleared by the next write."""
        positions = table.positions()
        key_columns = [positions.get(normalize_header(tab.header_of(k))) for k in tab.key]
        job = {positions[normalize_header(c.header)] for c in tab.columns
               if c.field in RECOMPUTED and normalize_header(c.header) in positions}
        if None in key_columns or not job:
            return []
        out = []
        for number, row in zip(table.row_numbers, table.rows, strict=True):
            if any(c < len(row) and row[c].strip() for c in key_columns):
                continue
            filled = {i for i, v in enumerate(row) if v.strip()}
            if filled and filled <= job:
                out += [(number - 1, i) for i in sorted(filled)]
        return out

    def _as_read(self, name: str, key: tuple, field_name: str) -> str:
        """A cell's value as this run read it (before its write)."""
        table = self.as_read.get(name)
        row = self.read_at.get(name, {}).get(key)
        if table is None or row is None:
            return ""
        index = self._index_of_row.setdefault(name, {n: i for i, n in enumerate(table.row_numbers)})
        i = index.get(row + 1)
        column = table.positions().get(normalize_header(self.schema.tab(name).header_of(field_name)))
        if i is None or column is None:
            return ""
        cells = table.rows[i]
        return cells[column] if column < len(cells) else ""

    def _write_requests(self, changes: Sequence[Change], *, clear_strays: bool = False) -> Iterator[dict]:
        adds: dict[str, list[AddRow]] = {}
        for change in changes:
            if isinstance(change, AddRow):
                adds.setdefault(change.tab, []).append(change)
        for name, rows in adds.items():
            tab = self.schema.tab(name)
            sheet = self._sheet(tab)
            if sheet is None:
                raise missing_tab(tab)
            # Chunk big appends so no single request grows past the payload limit.
            for start in range(0, len(rows), ROWS_PER_REQUEST):
                yield self._append_cells(tab, sheet, rows[start:start + ROWS_PER_REQUEST])
        cells: dict[tuple[int, int, int], dict] = {}  # (sheet id, row, column) → cell
        for name, strays in self.strays.items() if clear_strays else ():
            sheet = self._sheet(self.schema.tab(name))
            for row, column in strays if sheet is not None else ():
                cells[(sheet.sheet_id, row, column)] = {}
        for change in changes:
            if isinstance(change, UpdateRow):
                self._update_row(change, cells)
        # What people typed in a department's tab reaches the Comments tab before
        # (or with) the deletion of the tab row it was typed in: a split write that
        # breaks between its parts leaves the value in one place or both, never neither.
        yield from _cell_requests(cells)
        for change in changes:
            if isinstance(change, ReplaceRows):
                tab_cells: dict[tuple[int, int, int], dict] = {}
                yield from self._replace_rows(change, tab_cells)
                yield from _cell_requests(tab_cells)

    def _replace_rows(self, change: ReplaceRows, cells: dict) -> list[dict]:
        """A department's tab made to hold ``change.rows``: the rows no longer wanted are
        deleted, the new ones inserted in place, the kept ones get only their changed cells."""
        tab = self.schema.tab(change.tab)
        sheet = self._sheet(tab)
        if sheet is None:
            raise TrackerError(f"tab {tab.title!r} is missing; run again")
        if change.tab not in self.read_tables:
            return self._rewrite_rows(change, sheet, tab)
        table, read_fields = self.read_tables[change.tab]
        positions = self._fieldheader_positions(tab)
        width = max(positions.values()) + 1 if positions else 0
        want_keys, kept = kept_by_key(table.records(tab), change.rows, tab)
        kept_rows_at = {r.row for r in kept.values()}
        out: list[dict] = []
        doomed = [n for n in range(2, self.last_row.get(change.tab, 1) + 1) if n not in kept_rows_at]
        # The first data row is never inserted above (see kept_rows): when the top
        # row changes, the old one is overwritten in place.
        reuse_top = bool(want_keys) and 2 in doomed and want_keys[0] not in kept
        if reuse_top:
            doomed.remove(2)
        for start, end in reversed(_runs([n - 1 for n in doomed])):
            out.append({"deleteDimension": {"range": {"sheetId": sheet.sheet_id, "dimension": "ROWS",
                                                      "startIndex": start, "endIndex": end}}})
        sheet.rows -= len(doomed)
        position = 1  # 0-based row index in the tab as it ends up
        rows = list(zip(change.rows, want_keys, strict=True))
        if reuse_top:
            self._write_whole([rows.pop(0)[0]], 1, sheet, positions, width, out)
            position = 2
        block: list[dict] = []
        for values, key in rows:
            old = kept[key].values if key in kept else None
            if old is None:
                block.append(values)
                continue
            if block:
                # Between kept rows: inserted rows fall inside every range that covers them.
                out.append({"insertDimension": {"range": {
                    "sheetId": sheet.sheet_id, "dimension": "ROWS", "startIndex": position,
                    "endIndex": position + len(block)}, "inheritFromBefore": True}})
                sheet.rows += len(block)
                self._write_whole(block, position, sheet, positions, width, out)
                position += len(block)
                block = []
            for name, value in values.items():
                if name in positions and not (name in read_fields and old.get(name, "") == str(value)):
                    cells[(sheet.sheet_id, position, positions[name])] = _cell(value)
            position += 1
        if block:
            # After the last kept row the grid's empty rows take them: nothing to insert.
            if position + len(block) > sheet.rows:
                out.append({"appendDimension": {"sheetId": sheet.sheet_id, "dimension": "ROWS",
                                                "length": position + len(block) - sheet.rows}})
                sheet.rows = position + len(block)
            self._write_whole(block, position, sheet, positions, width, out)
        return out

    def _write_whole(self, block: list[dict], position: int, sheet: SheetInfo, positions: dict[str, int],
                     width: int, out: list[dict]) -> None:
        """Fill rows from ``position`` with these rows' cells (every cell: absent ones cleared)."""
        for start in range(0, len(block), ROWS_PER_REQUEST):
            out.append({"updateCells": {
                "start": {"sheetId": sheet.sheet_id, "rowIndex": position + start, "columnIndex": 0},
                "rows": [_row_data(v, positions, width) for v in block[start:start + ROWS_PER_REQUEST]],
                "fields": "userEnteredValue"}})

    def _rewrite_rows(self, change: ReplaceRows, sheet: SheetInfo, tab: Tab) -> list[dict]:
        """A tab not read in this run, rewritten whole."""
        positions = self._fieldheader_positions(tab)
        width = max(positions.values()) + 1 if positions else 0
        last = max(self.last_row.get(change.tab, 1), len(change.rows) + 1)
        out = []
        if last > sheet.rows:
            out.append({"appendDimension": {"sheetId": sheet.sheet_id, "dimension": "ROWS",
                                            "length": last - sheet.rows}})
            sheet.rows = last
        rows = [_row_data(v, positions, width) for v in change.rows]
        rows += [{"values": [{} for _ in range(width)]} for _ in range(last - 1 - len(change.rows))]
        # Cells given no value are cleared: the rows below the new content go empty.
        out.append({"updateCells": {"range": {"sheetId": sheet.sheet_id, "startRowIndex": 1,
                                              "endRowIndex": last, "startColumnIndex": 0,
                                              "endColumnIndex": width},
                                    "rows": rows, "fields": "userEnteredValue"}})
        return out

    def _send_write(self, chunk: list[bytes], *, last: bool,
                    response_ranges: list[str] | None = None) -> dict | None:
        """Send one write; with ``response_ranges``, its reply carries those cells as they stand after it."""
        payload = b'{"requests":[' + b",".join(chunk) + b"]"
        params = None
        if response_ranges:
            payload += (b',"includeSpreadsheetInResponse":true,"responseIncludeGridData":true,'
                        b'"responseRanges":' + _serialize(response_ranges))
            params = {"fields": "updatedSpreadsheet(sheets(properties(sheetId),"
                                "data(startRow,startColumn,rowData(values(formattedValue)))))"}
        payload += b"}"
        url = SPREADSHEET_BATCH_UPDATE_URL % self.id
        for attempt in range(3):
            try:
                response = self._call("writing to the tracker", self.client.request, "post", url,
                                      params=params, data=payload,
                                      headers={"Content-Type": "application/json; charset=utf-8"})
                return response.json() if response_ranges else None
            except TrackerError as exc:
                if self.locks and "no protected range with id" in str(exc).lower():
                    self.locks = []
                    raise TrackerError("this run's lock on the tracker was removed while it wrote "
                                       "(by another run that took it for a dead run's?); it stopped "
                                       "there, run again: rows already written are not added twice") from None
                raise
            except UncertainWrite:
                if not last or not self.locks:
                    raise TrackerError("the connection to Google broke while writing; run again "
                                       "(rows already written are not added twice)") from None
                # The lock goes away with the write, atomically: if it is gone, the write landed.
                remaining = set(self._find_locks_by_id())
                if not remaining & set(self.locks):
                    return None
                log.warning("write not applied (attempt %d); sending it again", attempt + 1)
        raise TrackerError("could not write to the tracker after 3 tries; run again")

    def _find_locks_by_id(self) -> list[int]:
        meta = self._get({"fields": "sheets.protectedRanges.protectedRangeId"})
        return [pr["protectedRangeId"] for s in meta.get("sheets", []) for pr in s.get("protectedRanges", [])]

    def _append_cells(self, tab: Tab, sheet: SheetInfo, rows: Sequence[AddRow]) -> dict:
        positions = self._fieldheader_positions(tab)
        width = max(positions.values()) + 1 if positions else 0
        data = [_row_data(change.values, positions, width) for change in rows]
        return {"appendCells": {"sheetId": sheet.sheet_id, "rows": data, "fields": "userEnteredValue"}}

    def _update_row(self, change: UpdateRow, cells: dict) -> None:
        tab = self.schema.tab(change.tab)
        sheet = self._sheet(tab)
        row = self.row_of.get(change.tab, {}).get(tuple(change.key))
        if sheet is None or row is None:
            raise TrackerError(f"tab {tab.title!r}: row {' '.join(change.key)} was not found when "
                               "writing; nothing was written, run again")
        positions = self._fieldheader_positions(tab)
        for name, value in change.values.items():
            cells[(sheet.sheet_id, row, positions[name])] = _cell(value)

    def _fieldheader_positions(self, tab: Tab) -> dict[str, int]:
        header = self.headers.get(tab.name)
        if header is None:
            raise TrackerError(f"tab {tab.title!r} was not read; run again")
        positions = header_positions(header)
        out = {}
        for column in tab.columns:
            index = positions.get(normalize_header(column.header))
            if index is not None:
                out[column.field] = index
        return out


class _ParseRange(Exception):
    pass


# -- helpers ------------------------------------------------------------------------------


def _quote(title: str) -> str:
    """A sheet title as A1 notation wants it: quoted, with quotes doubled."""
    return "'" + title.replace("'", "''") + "'"


def _col(index: int) -> str:
    """0-based column index → letters (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _grid_rows(data: list[dict]) -> list[list[str]]:
    rows: list[list[str]] = []
    for block in data:
        for row in block.get("rowData", []):
            rows.append([str(v.get("formattedValue", "")) for v in row.get("values", [])])
    return rows


def _table(title: str, values: list[list], *, first_row: int) -> Table:
    header = [str(v) for v in values[0]] if values else []
    table = Table(title, header)
    for offset, row in enumerate(values[1:], start=1):
        cells = [str(v) for v in row]
        if any(c.strip() for c in cells):
            table.rows.append(cells)
            table.row_numbers.append(first_row + offset)
    return table


def _cell_value(value) -> dict:
    if isinstance(value, Formula):
        return {"formulaValue": value.text}
    return {"stringValue": str(value)}


def _cell(value) -> dict:
    """One cell to write; an empty value clears it."""
    return {"userEnteredValue": _cell_value(value)} if value != "" else {}


def _row_data(values: Mapping, positions: Mapping[str, int], width: int) -> dict:
    cells: list[dict] = [{} for _ in range(width)]
    for name, value in values.items():
        if name in positions:
            cells[positions[name]] = _cell(value)
    return {"values": cells}


def _trimmed(header: Sequence[str]) -> list[str]:
    out = [h.strip() for h in header]
    while out and not out[-1]:
        out.pop()
    return out


def _written_cells(requests_: Sequence[dict],
                   sheet_id: int) -> tuple[dict[tuple[int, int], dict], list[dict]]:
    """What a write put on one sheet: cells by (row, column) on existing rows, and appended rows."""
    written: dict[tuple[int, int], dict] = {}
    appended: list[dict] = []
    for request in requests_:
        (kind, body), = request.items()
        if kind == "appendCells" and body.get("sheetId") == sheet_id:
            appended += body.get("rows", [])
        elif kind == "updateCells" and body.get("start", {}).get("sheetId") == sheet_id:
            start = body["start"]
            for n, row in enumerate(body.get("rows", [])):
                for m, cell in enumerate(row.get("values", [])):
                    written[(start.get("rowIndex", 0) + n, start.get("columnIndex", 0) + m)] = cell
    return written, appended


def _key_index(columns: list[list[str]]) -> tuple[dict[tuple, int], dict[int, tuple]]:
    """Key columns read from row 2 down → (key → 0-based row index, row index → key)."""
    length = max((len(c) for c in columns), default=0)
    by_key: dict[tuple, int] = {}
    by_row: dict[int, tuple] = {}
    for i in range(length):
        key = tuple(c[i].strip() if i < len(c) else "" for c in columns)
        if all(key):
            by_key.setdefault(key, i + 1)
            by_row[i + 1] = key
    return by_key, by_row


def _runs(indexes: Sequence[int], gap: int = 0) -> list[tuple[int, int]]:
    """Sorted indexes as [start, end) runs of consecutive numbers (bridging up to ``gap``)."""
    out: list[tuple[int, int]] = []
    for i in sorted(indexes):
        if out and out[-1][1] + gap >= i:
            out[-1] = (out[-1][0], i + 1)
        else:
            out.append((i, i + 1))
    return out


def _cell_requests(cells: Mapping[tuple[int, int, int], dict]) -> list[dict]:
    """Single cells to write, as few updateCells as possible: one per run of
    consecutive rows in a column (a column of overdue flags is one request)."""
    by_column: dict[tuple[int, int], list[int]] = {}
    for sheet_id, row, column in cells:
        by_column.setdefault((sheet_id, column), []).append(row)
    out = []
    for (sheet_id, column), rows in by_column.items():
        for start, end in _runs(rows):
            out.append({"updateCells": {
                "start": {"sheetId": sheet_id, "rowIndex": start, "columnIndex": column},
                "rows": [{"values": [cells[(sheet_id, r, column)]]} for r in range(start, end)],
                "fields": "userEnteredValue"}})
    return out


def _update_cells(sheet_id: int, row: int, column: int, values: list[list]) -> dict:
    rows = [{"values": [{"userEnteredValue": _cell_value(c)} for c in r]} for r in values]
    return {"updateCells": {"start": {"sheetId": sheet_id, "rowIndex": row, "columnIndex": column},
                            "rows": rows, "fields": "userEnteredValue"}}


def _serialize(request) -> bytes:
    return json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _chunks(requests_: Iterable[dict], limit: int) -> list[list[bytes]]:
    """Requests as JSON, in groups of at most ``limit`` bytes (one group per write)."""
    chunks: list[list[bytes]] = [[]]
    size = 0
    for request in requests_:
        data = _serialize(request)
        if chunks[-1] and size + len(data) > limit:
            chunks.append([])
            size = 0
        chunks[-1].append(data)
        size += len(data) + 1
    return chunks


def _new_sheet_id(used: set[int]) -> int:
    while True:
        candidate = secrets.randbelow(2**31 - 1) + 1
        if candidate not in used:
            used.add(candidate)
            return candidate


# "sheets-sync lock RUN pid PID on HOST since TIME"; older runs wrote "sheets-sync lock RUN TIME".
_LOCK_MARK = re.compile(r"^sheets-sync lock (?P<run>\S+)(?: pid (?P<pid>\d+) on (?P<host>\S+) since)? "
                        r"(?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\+00:00)?)$")


def _lock_mark(run_id: str, now: datetime) -> str:
    host = re.sub(r"\s+", "-", socket.gethostname()) or "unknown"
    return f"{LOCK_PREFIX} {run_id} pid {os.getpid()} on {host} since {now.isoformat(timespec='seconds')}"


def _lock_time(description: str) -> datetime | None:
    match = _LOCK_MARK.match(description)
    if not match:
        return None
    value = datetime.fromisoformat(match.group("time"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _lock_state(description: str, now: datetime) -> str:
    """"dead": its run is known to be gone; "stale": too old to be alive; else "live"."""
    match = _LOCK_MARK.match(description)
    host = re.sub(r"\s+", "-", socket.gethostname())
    if match and match.group("pid") and match.group("host") == host:
        pid = int(match.group("pid"))
        alive = match.group("run") in _LIVE_RUNS if pid == os.getpid() else _pid_alive(pid)
        if not alive:
            return "dead"
    started = _lock_time(description)
    return "live" if started and now - started < STALE_LOCK else "stale"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _busy_message(description: str) -> str:
    match = _LOCK_MARK.match(description)
    who = ""
    if match and match.group("pid"):
        who = f"pid {match.group('pid')} on {match.group('host')}, "
    started = _lock_time(description)
    since = f"since {started:%H:%M} UTC" if started else "its lock has no time"
    return (f"another sheets-sync run is writing this tracker ({who}{since}); this run changed "
            "nothing, try again when it ends")
