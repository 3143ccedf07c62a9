"""The write (request 3): the plan's changes as appendCells, updateCells and row
differences of the departments' tabs, in parts of at most ``MAX_PAYLOAD`` bytes."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from gspread.urls import SPREADSHEET_BATCH_UPDATE_URL

from sheets_sync.backends.gsheets.cells import (
    CELL_FIELDS,
    SheetInfo,
    _cell,
    _cell_requests,
    _chunks,
    _quote,
    _row_data,
    _rows_by_key,
    _runs,
    _serialize,
)
from sheets_sync.backends.gsheets.client import UncertainWrite
from sheets_sync.backends.gsheets.guards import SWAPPED
from sheets_sync.backends.gsheets.locks import (
    _LIVE_RUNS,
    FINISHED_KEPT,
    FINISHED_RUNS,
    LOCKED_TABS,
)
from sheets_sync.errors import ColumnsMoved, TrackerError
from sheets_sync.layout import LINK_FIELDS
from sheets_sync.schema import Tab
from sheets_sync.table import (
    AddRow,
    Change,
    DeleteRows,
    DeleteTab,
    ReplaceRows,
    UpdateRow,
    as_text,
    kept_by_key,
    missing_tab,
    with_copies,
)
from sheets_sync.timeutil import to_sheet

log = logging.getLogger(__name__)

MAX_PAYLOAD = 1_800_000  # bytes; Google recommends at most 2 MB per request
ROWS_PER_REQUEST = 500  # rows per appendCells as built (memory); parts are cut by bytes
# Master fields every run computes afresh: a cell of these put on a moved row
# is set right by the next run, so writing them needs no check afterwards.
# (A "Replied at" time is cleared from a row that is not answered; on another
# answered row it would stay, a time off but nothing a person typed.)
RECOMPUTED = frozenset({"due_at", "overdue", "department", "replied_at"})


class WriteMixin:
    max_payload = MAX_PAYLOAD  # per session: a test makes every request a part of its own

    def apply(self, changes: Sequence[Change]) -> None:
        if not self.write:
            raise TrackerError("this session is read-only (dry run)")
        self.take_lock()  # a lock asked for goes before any write (it rides on a read otherwise)
        # A comment's words entering a department's tab, not read before: read now (one
        # request, under the lock), before the write is built.
        changes = with_copies(changes, self.read_rows, self.tab)
        # Checkpoints and the log go last: if a big write is split and breaks
        # half-way, no checkpoint claims rows that were not written.
        tail = [c for c in changes if c.tab in ("sync_state", "sync_log")]
        # Guarded updates, and every other update of their tabs, go in the last part, whose
        # reply shows their rows' keys and guarded cells after it (see guards.py).
        watched_tabs = {c.tab for c in changes if isinstance(c, UpdateRow) and c.guard}
        guarded = [c for c in changes if isinstance(c, UpdateRow) and c.tab in watched_tabs and c not in tail]
        self.conflicts = []
        if self.locks and self.lock_uncertain:
            tail.append(self._finished_record())
        body = [c for c in changes if c.tab not in ("sync_state", "sync_log")
                and not isinstance(c, DeleteTab) and not (isinstance(c, UpdateRow) and c.tab in watched_tabs)]
        # Each request is turned into JSON as soon as it is made: a write of 50,000
        # rows never holds all of them as Python objects at once.
        chunks = _chunks(self._write_requests(body, clear_strays=True), self.max_payload)
        chunks[-1] += [_serialize(r) for r in self._write_requests([*guarded, *tail])]
        chunks[-1] += self._delete_requests([c for c in changes if isinstance(c, DeleteRows)])
        chunks[-1] += [_serialize({"deleteProtectedRange": {"protectedRangeId": i}}) for i in self.locks]
        chunks[-1] += [_serialize(r) for r in self.read_names_removal()]
        # Tabs go last, after their locks: a department removed from the roster.
        for change in changes:
            if isinstance(change, DeleteTab):
                sheet = self._sheet(self.tab(change.tab))
                if sheet is not None:
                    chunks[-1].append(_serialize({"deleteSheet": {"sheetId": sheet.sheet_id}}))
        by_position = [c for c in body if isinstance(c, UpdateRow) and c.tab in LOCKED_TABS]
        check = sorted({c.tab for c in by_position}) if any(set(c.values) - RECOMPUTED
                                                                for c in by_position) else []
        reply = None
        chunks = [c for c in chunks if c]  # never an empty batch: Google refuses it
        # Every part's reply shows the main tabs' header rows as they stand right after
        # it: a column the owner moved before the part went in is seen there.
        headers = [f"{_quote(self.tab(n).title)}!1:1" for n in LOCKED_TABS if n in self.headers
                   and self._sheet(self.tab(n))]
        for number, chunk in enumerate(chunks, start=1):
            last = number == len(chunks)
            if not last and self.locks:
                # Each part goes in only while this run's lock stands (Google refuses the
                # whole batch if it is gone): a run whose lock another run removed stops.
                chunk = [*chunk, _serialize({"updateProtectedRange": {
                    "protectedRange": {"protectedRangeId": self.locks[0], "description": self.mark},
                    "fields": "description"}})]
            keys = self._key_ranges(check)[0] if last and check else []
            guards = [a1 for _, a1 in self.guard_ranges(guarded)] if last else []
            reply = self._send_write(chunk, last=last, response_ranges=[*headers, *keys, *guards])
            if last:
                self.locks = []  # removed by the last part
            moved = self._moved_columns(reply)
            if moved:
                self._put_back_columns(chunk, moved)
                raise ColumnsMoved("a column of the tracker was moved while the job wrote; what it "
                                   "wrote was put in the right columns; run again")
        self.locks = []
        _LIVE_RUNS.discard(self.run_id)
        self.conflicts = self.check_guards(guarded, reply)
        if check:
            # The last write's reply shows the key columns as they stand after it.
            self._check_rows(by_position, self._keys_in_reply(reply, check) if reply else None)

    def _write_requests(self, changes: Sequence[Change], *, clear_strays: bool = False) -> Iterator[dict]:
        adds: dict[str, list[AddRow]] = {}
        for change in changes:
            if isinstance(change, AddRow):
                adds.setdefault(change.tab, []).append(change)
        for name, rows in adds.items():
            tab = self.tab(name)
            sheet = self._sheet(tab)
            if sheet is None:
                raise missing_tab(tab)
            # Chunk big appends so no single request grows past the payload limit.
            for start in range(0, len(rows), ROWS_PER_REQUEST):
                yield self._append_cells(tab, sheet, rows[start:start + ROWS_PER_REQUEST])
        cells: dict[tuple[int, int, int], dict] = {}  # (sheet id, row, column) → cell
        for name, strays in self.strays.items() if clear_strays else ():
            sheet = self._sheet(self.tab(name))
            for row, column in strays if sheet is not None else ():
                cells[(sheet.sheet_id, row, column)] = {}
        swaps: list[dict] = []  # a Status written only if it still holds the one read
        for change in changes:
            if isinstance(change, UpdateRow):
                self._update_row(change, cells, swaps)
        # What people typed in a department's tab reaches the Comments tab before
        # (or with) the deletion of the tab row it was typed in: a split write that
        # breaks between its parts leaves the value in one place or both, never neither.
        yield from _cell_requests(cells)
        yield from swaps
        for change in changes:
            if isinstance(change, ReplaceRows):
                tab_cells: dict[tuple[int, int, int], dict] = {}
                yield from self._replace_rows(change, tab_cells)
                yield from _cell_requests(tab_cells)

    def _replace_rows(self, change: ReplaceRows, cells: dict) -> list[dict]:
        """A department's tab made to hold ``change.rows``: the rows no longer wanted are
        deleted, the new ones inserted in place, the kept ones get only their changed cells."""
        tab = self.tab(change.tab)
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
        out += _delete_rows(sheet, doomed)
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
            _changed_cells(values, old, read_fields, positions, (sheet.sheet_id, position), cells)
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
                "fields": CELL_FIELDS}})

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
                                    "rows": rows, "fields": CELL_FIELDS}})
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
                    if last and attempt:
                        # Our earlier try landed after all (Google applied it late): its
                        # lock removal is why this resend was refused (atomically: nothing
                        # of it went in, nothing is doubled). No other run removes the lock
                        # of a run seconds old whose process is alive.
                        log.warning("the write's earlier try had landed; not sent again")
                        return None
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

    def _finished_record(self) -> Change:
        """This run's id at the head of the Sync State's finished runs (see locks.FINISHED_RUNS)."""
        ids = [self.run_id, *(i for i in self.finished_runs() if i != self.run_id)][:FINISHED_KEPT]
        values = {"source": FINISHED_RUNS, "checkpoint": " ".join(ids),
                  "updated_at": to_sheet(datetime.now(UTC))}
        tab = self.tab("sync_state")
        table = self.prefetched.get("sync_state")
        rows = self.row_of.get("sync_state")
        if rows is None and table is not None and table.header:
            rows = self.row_of["sync_state"] = _rows_by_key(tab, table)
        if rows and (FINISHED_RUNS,) in rows:
            return UpdateRow("sync_state", (FINISHED_RUNS,), values)
        return AddRow("sync_state", values)

    def _append_cells(self, tab: Tab, sheet: SheetInfo, rows: Sequence[AddRow]) -> dict:
        positions = self._fieldheader_positions(tab)
        width = max(positions.values()) + 1 if positions else 0
        data = [_row_data(change.values, positions, width) for change in rows]
        return {"appendCells": {"sheetId": sheet.sheet_id, "rows": data, "fields": CELL_FIELDS}}

    def _update_row(self, change: UpdateRow, cells: dict, swaps: list[dict]) -> None:
        tab = self.tab(change.tab)
        sheet = self._sheet(tab)
        row = self.row_of.get(change.tab, {}).get(tuple(change.key))
        if sheet is None or row is None:
            raise TrackerError(f"tab {tab.title!r}: row {' '.join(change.key)} was not found when "
                               "writing; nothing was written, run again")
        positions = self._fieldheader_positions(tab)
        for name, value in change.values.items():
            if name == SWAPPED and self.swaps_status(change):
                swaps.append(self._swap(change, row, positions, sheet.sheet_id, str(change.guard[name]),
                                        str(value)))
                continue
            cells[(sheet.sheet_id, row, positions[name])] = _cell(value, link=name in LINK_FIELDS)



def _delete_rows(sheet: SheetInfo, doomed: list[int]) -> list[dict]:
    """deleteDimension requests for these 1-based rows, bottom first (positions stay right)."""
    out = [{"deleteDimension": {"range": {"sheetId": sheet.sheet_id, "dimension": "ROWS",
                                          "startIndex": start, "endIndex": end}}}
           for start, end in reversed(_runs([n - 1 for n in doomed]))]
    sheet.rows -= len(doomed)
    return out


def _changed_cells(values: dict, old: dict, read_fields: frozenset[str], positions: dict[str, int],
                   at: tuple[int, int], cells: dict) -> None:
    """A kept row's cells that differ from the row as read (unread columns are written)."""
    sheet_id, row = at
    for name, value in values.items():
        if name in positions and not (name in read_fields and old.get(name, "") == as_text(value)):
            cells[(sheet_id, row, positions[name])] = _cell(value)
