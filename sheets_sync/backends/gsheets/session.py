"""One run's session: the spreadsheet's metadata (request 1) and the read (on the lock, request 2).

The lock, the structure repairs, the write and the checks after it are mixed in
from their own modules; their state (tabs, headers, positions as read) is here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from google.auth.exceptions import RefreshError
from gspread.exceptions import APIError

from sheets_sync.backends.base import TrackerSession
from sheets_sync.backends.gsheets.cells import (
    SheetInfo,
    _col,
    _grid_rows,
    _quote,
    _rows_by_key,
    _runs,
    _table,
    stable_sheet_id,
)
from sheets_sync.backends.gsheets.checks import CheckMixin
from sheets_sync.backends.gsheets.client import RetryingHTTPClient, explain, key_refused
from sheets_sync.backends.gsheets.delete import DeleteMixin
from sheets_sync.backends.gsheets.guards import GuardMixin
from sheets_sync.backends.gsheets.locks import (
    LOCKED_TABS,
    LockMixin,
)
from sheets_sync.backends.gsheets.structure import StructureMixin
from sheets_sync.backends.gsheets.write import WriteMixin
from sheets_sync.errors import SheetsSyncError, TrackerError
from sheets_sync.layout import guess_header
from sheets_sync.schema import Schema, Tab, normalize_header
from sheets_sync.table import (
    FIRST_ROW_WHOLE,
    Table,
    TrackerRead,
    header_positions,
)

if TYPE_CHECKING:
    from sheets_sync.backends.gsheets import GoogleSheetsBackend

log = logging.getLogger(__name__)


class _ParseRange(Exception):
    pass



class GoogleSheetsSession(StructureMixin, LockMixin, WriteMixin, GuardMixin, CheckMixin, DeleteMixin,
                          TrackerSession):
    # Read whole in the first request (small, and wanted before the lock: the
    # checkpoints and the roster).
    PREFETCHED = ("sync_state", "departments")

    def __init__(self, backend: GoogleSheetsBackend, client: RetryingHTTPClient, identity: str,
                 schema: Schema, *, write: bool) -> None:
        self.backend = backend
        self.id = backend.spreadsheet_id
        self.client = client
        self.identity = identity
        self.schema = schema
        self.tabs = dict(schema.tabs)
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
        self.tables_as_read: dict[str, Table] = {}  # every tab as last read (DeleteRows)
        self.read_at: dict[str, dict[tuple, int]] = {}  # their rows' positions then
        self._index_of_row: dict[str, dict[int, int]] = {}
        self.read_columns: dict[str, set[int] | None] = {}  # tab → columns read (None: all)
        self.strays: dict[str, list[tuple[int, int]]] = {}  # tab → (row, column) to clear
        # Department tabs whose structure is checked once their header row is read (see
        # StructureMixin.ensure_structure), and the departments and editors to check them with.
        self.unchecked: list[str] = []
        self.unchecked_with: tuple[Sequence, Sequence] = ((), ())
        self.time_zone: str | None = None  # the spreadsheet's, as the first request read it
        self.locale: str | None = None  # likewise (it decides how dates typed are read and shown)
        # The tabs to lock, once asked: the lock is sent with the read (one request for both).
        self.pending_lock: list[str] | None = None
        # The structure's check and repairs asked for before that read, done right after it
        # (they need the departments' tabs as the lock's reply shows them).
        self.deferred_structure: dict | None = None
        self.gone: set[int] = set()  # sheet ids this run found deleted (a lock on them refused)
        self.read_names: list[str] = []  # this run's named ranges (see LockMixin.read_by_id)
        self.created: set[str] = set()  # tabs this run made
        self.listed = False  # every tab has been listed (not only the main ones)

    # Where the row colours' rules start and end, checked every run (structure._rules_extended):
    # only their rows (a few bytes a rule), the rules themselves are read when one needs it.
    _RULE_FIELDS = "conditionalFormats(ranges(startRowIndex,endRowIndex))"
    _META_FIELDS = ("sheets(properties(sheetId,title,index,hidden,gridProperties(rowCount,columnCount,"
                    "frozenRowCount,frozenColumnCount)),protectedRanges(protectedRangeId,description,range,editors,"
                    f"warningOnly,unprotectedRanges),{_RULE_FIELDS})")

    # File > Settings, read with request 1 at no cost: the time zone NOW() runs in (the
    # overdue colour), and the locale Google reads and shows typed dates in.
    _SETTINGS_FIELD = "properties(timeZone,locale)"

    def _call(self, what: str, func, *args, **kwargs):
        """One API call; Google's refusals become one-line TrackerErrors."""
        try:
            return func(*args, **kwargs)
        except APIError as exc:
            raise self._explain(exc, what) from None
        except RefreshError as exc:
            raise key_refused(exc) from None

    def _explain(self, exc: APIError, what: str) -> SheetsSyncError:
        protections = [(info.title, pr) for info in self.sheets.values() for pr in info.protections]
        return explain(exc, what, spreadsheet_id=self.id, identity=self.identity,
                       protections=protections)

    def _get(self, params: dict) -> dict:
        return self._call("reading the spreadsheet", self.client.spreadsheets_get, self.id, params)

    def _batch_update(self, requests_: list[dict], what: str) -> dict:
        return self._call(what, self.client.batch_update, self.id, {"requests": requests_})

    def load_metadata(self) -> None:
        ranges = [f"{_quote(tab.title)}!1:1" for tab in self.schema.tabs.values()
                  if tab.name not in self.PREFETCHED]
        ranges += [_quote(self.schema.tab(name).title) for name in self.PREFETCHED]
        fields = self._META_FIELDS[:-1] + ",data(startRow,rowData(values(formattedValue)))),"
        fields += self._SETTINGS_FIELD
        try:
            meta = self._call_raw(lambda: self.client.spreadsheets_get(
                self.id, {"ranges": ranges, "fields": fields}))
        except _ParseRange:
            # A schema tab is missing: list every tab, read what exists.
            meta = self._get({"fields": f"{self._META_FIELDS},{self._SETTINGS_FIELD}"})
            self.listed = True
        self._absorb(meta, with_data=True)

    def _absorb(self, meta: dict, *, with_data: bool = False) -> None:
        """Take in what a get (or the lock's reply) says about the sheets."""
        settings = meta.get("properties", {})
        self.time_zone = settings.get("timeZone", self.time_zone)
        self.locale = settings.get("locale", self.locale)
        for sheet in meta.get("sheets", []):
            props = sheet["properties"]
            grid = props.get("gridProperties", {})
            info = SheetInfo(props["sheetId"], props["title"], grid.get("rowCount", 1000),
                             grid.get("columnCount", 26), props.get("hidden", False),
                             grid.get("frozenRowCount", 0), sheet.get("protectedRanges", []),
                             grid.get("frozenColumnCount", 0), sheet.get("conditionalFormats", []))
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
                if tab.name in self.PREFETCHED:
                    self.prefetched[tab.name] = _table(info.title, rows, first_row=1)
                    self._dates_as_shown([self.prefetched[tab.name]])

    def _adopt_title(self, info: SheetInfo) -> None:
        """A department's tab is known by its id: if a person renamed it, keep their name."""
        for tab in list(self.tabs.values()):
            if (tab.department and stable_sheet_id(tab.name) == info.sheet_id
                    and tab.title != info.title):
                self.tabs[tab.name] = replace(tab, title=info.title)

    def _refresh_all(self) -> None:
        self._absorb(self._get({"fields": self._META_FIELDS}))
        self.listed = True

    def _call_raw(self, func):
        try:
            return func()
        except APIError as exc:
            message = str(exc.error.get("message", "")) if isinstance(exc.error, dict) else ""
            if exc.response.status_code == 400 and "Unable to parse range" in message:
                raise _ParseRange() from None
            raise self._explain(exc, "reading the spreadsheet") from None
        except RefreshError as exc:
            raise key_refused(exc) from None

    def _tab_titled(self, title: str) -> Tab | None:
        for tab in self.tabs.values():
            if normalize_header(tab.title) == normalize_header(title):
                return tab
        return None

    def _sheet(self, tab: Tab) -> SheetInfo | None:
        return self.sheets.get(normalize_header(tab.title))

    def cell_count(self) -> int:
        # The grids as request 1 read them: what Google counts against its limit.
        return sum(info.rows * info.columns for info in self.sheets.values())

    def is_new(self) -> bool:
        return not any(self._sheet(tab) for tab in self.schema.tabs.values())

    def lock(self, tabs: Sequence[str]) -> None:
        if self.write and not self.locks:
            # Sent with the read that follows (see read): the lock and the read are one request.
            # The Content tab too: the job updates its rows by position (a request's status).
            self.pending_lock = [t for t in tabs if t in (*LOCKED_TABS, "content") or self.tab(t).department]

    def take_lock(self) -> None:
        """Send a lock asked for and not sent yet, alone (a write without a read first)."""
        if self.pending_lock is not None:
            names, self.pending_lock = self.pending_lock, None
            self._lock(names)
        for line in self._deferred_repairs([], {}, {}):
            log.info("%s", line)

    def read(self, tabs: Sequence[str], *,
             fields: Mapping[str, Sequence[str]] | None = None) -> TrackerRead:
        fields = fields or {}
        if tabs and all(t in self.prefetched for t in tabs) and not self.locks and self.pending_lock is None:
            return TrackerRead({t: self.prefetched[t] for t in tabs}, {t: self.tab(t) for t in tabs})
        out = self._read_under_lock(tabs, fields) if self.pending_lock is not None else None
        if out is None:
            if not self.locks and not self.listed and any(self.tab(t).department for t in tabs):
                self._refresh_all()  # department tabs are not in the first read
            out = self._read_tabs(tabs, fields)
        self._dates_as_shown(out.values())  # before the repairs that follow change the locale
        repaired = self._deferred_repairs(tabs, out, fields)
        for name, table in out.items():
            self._remember_read(name, table, fields.get(name))
        return TrackerRead(out, {name: self.tab(name) for name in tabs},
                           tuple(repaired + self._check_unchecked(tabs)))

    def _read_under_lock(self, tabs: Sequence[str], fields: Mapping[str, Sequence[str]]
                         ) -> dict[str, Table] | None:
        """The lock asked for, and the read in its reply (one request); None when the read
        must be made on its own (the lock's answer was lost, or no tab to lock)."""
        names, self.pending_lock = self.pending_lock, None
        locked = set(names)
        planned: list = []

        def ranges() -> list[tuple[str | int, str]]:
            # The departments' tabs are not in the first read: a locked one is read by the
            # title the Sync State remembers (a tab renamed since is found by its id).
            present = [self.tab(t) for t in tabs if self._sheet(self.tab(t)) is not None or (
                t in locked and self.tab(t).department and stable_sheet_id(t) not in self.gone)]
            by_id = [t for t in present if t.department] if self.read_by_id else []
            a1s, plan = self._read_plan([t for t in present if t not in by_id], fields)
            keys: list[str | int] = [""] * len(a1s)
            for tab, spans, at, _ in plan:
                for i in range(at, at + (1 if spans is None else 1 + len(spans))):
                    keys[i] = tab.title
            for tab in by_id:  # whole, through this run's named range over it (see _lock)
                sheet = self._sheet(tab)
                sheet_id = sheet.sheet_id if sheet is not None else stable_sheet_id(tab.name)
                plan.append((tab, None, len(a1s), None))
                a1s.append(self._read_name(sheet_id))
                keys.append(sheet_id)
            planned[:] = [present, plan]
            return list(zip(keys, a1s, strict=True))

        got = self._lock(names, ranges)
        if got is None:
            return None
        present, plan = planned
        _, value_ranges = got
        out = {t: Table(self.tab(t).title, []) for t in tabs}
        for tab, spans, at, expected in plan:
            tab = self.tab(tab.name)  # its title as the reply shows it
            table = self._table_read(tab, spans, value_ranges, at, expected)
            if table is None:
                # A column moved (or a department's tab is not laid out as the job made it):
                # read again, still under the lock, by the header rows just read.
                return self._read_tabs(tabs, fields)
            out[tab.name] = table
        return out

    def _deferred_repairs(self, tabs: Sequence[str], out: dict[str, Table],
                          fields: Mapping[str, Sequence[str]]) -> list[str]:
        """The structure's repairs asked for before the read, now that the lock's reply has
        shown the departments' tabs. A tab found only now (not where the Sync State said)
        is read now, under the lock."""
        args, self.deferred_structure = self.deferred_structure, None
        if args is None:
            return []
        read_before = {t for t in out if out[t].header}
        done = self.ensure_structure(**args)
        late = [t for t in tabs if t not in read_before and t not in self.created
                and self._sheet(self.tab(t)) is not None]
        if late:
            again = self._read_tabs(late, fields)
            self._dates_as_shown(again.values())
            out.update(again)
        return done

    def _read_tabs(self, tabs: Sequence[str], fields: Mapping[str, Sequence[str]]) -> dict[str, Table]:
        """The tabs' tables (a missing tab reads empty); a tab renamed meanwhile is found
        by its id again."""
        for attempt in range(3):
            present = [self.tab(t) for t in tabs if self._sheet(self.tab(t))]
            out = {t: Table(self.tab(t).title, []) for t in tabs}
            try:
                out.update(self._batch_read(present, fields))
                return out
            except _ParseRange:
                if attempt == 2:
                    break
                # A tab was renamed (or deleted) since the lock: find the tabs by id again.
                self._refresh_all()
        raise TrackerError("the tracker's tabs keep being renamed while the job reads them; run again")

    def _remember_read(self, name: str, table: Table, read: Sequence[str] | None) -> None:
        """What the write and the checks after it need of a tab as read: its rows' positions
        by key, its last row, and (master tabs) the table itself, (department tabs) the
        columns read."""
        tab = self.tab(name)
        self.tables_as_read[name] = table
        self.row_of[name] = {}
        self.last_row[name] = max(table.row_numbers, default=1)
        if name in LOCKED_TABS:
            self.as_read[name] = table
            self.read_at[name] = self.row_of[name]
            self._index_of_row.pop(name, None)
            self.strays[name] = self._stray_cells(tab, table)
        if tab.department:
            self.read_tables[name] = (table, frozenset(read or (c.field for c in tab.columns)))
        self._index_rows(tab, table)

    def _index_rows(self, tab: Tab, table: Table) -> None:
        """Where each key's row is (0-based), found by the key columns' headers."""
        if not tab.key or not table.header:
            return
        for key, row in _rows_by_key(tab, table).items():
            self.row_of[tab.name].setdefault(key, row)

    def _check_unchecked(self, tabs: Sequence[str]) -> list[str]:
        """The structure of the department tabs just read whose header rows this run had
        not seen when it was asked to repair them: a request only when one is broken."""
        names = [t for t in tabs if t in self.unchecked]
        if not names:
            return []
        self.unchecked = [t for t in self.unchecked if t not in names]
        departments, editors = self.unchecked_with
        return self.ensure_structure(departments, only=names, cell_editors=editors)

    def read_rows(self, tab: str, keys: Sequence[tuple],
                  fields: Sequence[str]) -> dict[tuple, dict[str, str]]:
        """Just these rows' cells of these columns: one request, under the read's lock."""
        schema_tab = self.tab(tab)
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
            ranges, plan = self._read_plan(tabs, fields)
            if not ranges:
                return {}
            response = self._call_raw(lambda ranges=ranges: self.client.values_batch_get(
                self.id, ranges, {"valueRenderOption": "FORMATTED_VALUE"}))
            value_ranges = response.get("valueRanges", [])
            out = {}
            for tab, spans, at, expected in plan:
                table = self._table_read(tab, spans, value_ranges, at, expected)
                if table is not None:
                    out[tab.name] = table
            if len(out) == len(plan):
                return out
            # Someone moved or renamed a column since request 1: read again.
        raise TrackerError("the tracker's columns keep moving while the job reads them; run again")

    def _read_plan(self, tabs: Sequence[Tab], fields: Mapping[str, Sequence[str]]) -> tuple[list[str], list]:
        """The ranges of one values:batchGet, and per tab (tab, column spans or None for
        the whole tab, where its ranges start, the header row it expects)."""
        ranges: list[str] = []
        plan: list = []
        for tab in tabs:
            self._plan_range(tab, fields.get(tab.name), ranges, plan)
        return ranges, plan

    def _table_read(self, tab: Tab, spans: list | None, value_ranges: list, at: int,
                    expected: list[str] | None) -> Table | None:
        """One tab's table from the reply's ranges (from ``at``); None when its header row
        is not the one its columns were chosen by."""
        if spans is None:
            table = _table(tab.title, value_ranges[at].get("values", []), first_row=1)
            self.headers[tab.name] = table.header
            self.read_columns[tab.name] = None
            return table
        header_rows = value_ranges[at].get("values", [])
        header = header_rows[0] if header_rows else []
        self.headers[tab.name] = header
        if header != expected:
            return None
        table = Table(tab.title, list(header))
        rows: dict[int, list[str]] = {}
        for i, (a, _) in enumerate(spans):
            for n, values in enumerate(value_ranges[at + 1 + i].get("values", [])):
                if any(values):
                    row = rows.setdefault(n, [""] * len(header))
                    start = max(a, 0)
                    row[start:start + len(values)] = [str(v) for v in values]
        for n in sorted(rows):
            table.rows.append(rows[n])
            table.row_numbers.append(n + 2)
        self.read_columns[tab.name] = {i for a, b in spans if a >= 0 for i in range(a, b)}
        return table

    def _plan_range(self, tab: Tab, wanted, ranges: list[str], plan: list) -> None:
        """The ranges that read ``wanted`` of a tab: its header row and the columns, or
        the whole tab."""
        header = self.headers.get(tab.name)
        if header is None and tab.department:
            # Not in the first read: assume the layout the job gave it; the header
            # row read alongside tells if a person changed it (then read again).
            header = guess_header(tab, self.headers.get("comments"), self.schema)
        if not wanted or header is None:
            plan.append((tab, None, len(ranges), None))
            ranges.append(_quote(tab.title))
            return
        positions = header_positions(header)
        found = (c.index_in(positions) for c in tab.columns if c.field in wanted)
        cols = sorted(i for i in found if i is not None)
        # Adjacent columns as one range: Google's reply costs bytes per range
        # row, so one narrow range per column would cost more than the tab.
        spans = _runs(cols, gap=1)
        if FIRST_ROW_WHOLE in wanted:
            spans.append((-1, -1))  # row 2, every column: read last, wins
        plan.append((tab, spans, len(ranges), header))
        ranges.append(f"{_quote(tab.title)}!1:1")
        ranges += [f"{_quote(tab.title)}!{_col(a)}2:{_col(b - 1)}" if a >= 0 else
                   f"{_quote(tab.title)}!2:2" for a, b in spans]

    def _fieldheader_positions(self, tab: Tab) -> dict[str, int]:
        header = self.headers.get(tab.name)
        if header is None:
            raise TrackerError(f"tab {tab.title!r} was not read; run again")
        positions = header_positions(header)
        out = {}
        for column in tab.columns:
            index = column.index_in(positions)
            if index is not None:
                out[column.field] = index
        return out
