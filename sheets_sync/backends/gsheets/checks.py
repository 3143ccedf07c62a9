"""After a write: did the owner (whom the lock does not stop) move rows or columns
under it? Found from the write's own reply; what landed in the wrong place is put back."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from sheets_sync.backends.gsheets.cells import (
    CELL_FIELDS,
    SheetInfo,
    _cell,
    _cell_requests,
    _col,
    _entered_text,
    _key_index,
    _quote,
    _row_data,
    _trimmed,
    _written_cells,
)
from sheets_sync.backends.gsheets.locks import (
    LOCKED_TABS,
)
from sheets_sync.backends.gsheets.write import RECOMPUTED
from sheets_sync.layout import LINK_FIELDS
from sheets_sync.schema import Tab
from sheets_sync.table import (
    Table,
    UpdateRow,
)
from sheets_sync.timeutil import now_ist, to_sheet

log = logging.getLogger(__name__)


class CheckMixin:
    def _moved_columns(self, reply: dict | None) -> dict[str, list[str]]:
        """The main tabs whose header row in a write's reply is not the one read: tab → header now."""
        if not reply:
            return {}
        sheets = {s.get("properties", {}).get("sheetId"): s
                  for s in (reply.get("updatedSpreadsheet") or {}).get("sheets", [])}
        out = {}
        for name in LOCKED_TABS:
            sheet = self._sheet(self.tab(name))
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
            tab = self.tab(name)
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
                    restored[(row, col)] = _cell(value, link=covered in LINK_FIELDS)
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
        values = [{field_at_old[i]: _entered_text(c)
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
                    "fields": CELL_FIELDS}})
        return out

    def _as_read_at(self, name: str, row: int, field_name: str) -> str | None:
        """The value a cell (0-based row, field) had when read; None if this run did not read it."""
        read = self.read_columns.get(name)
        table = self.as_read.get(name)
        if table is None:
            return None
        column = self.tab(name).index_of(field_name, table.positions())
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
                tab = self.tab(u.tab)
                positions = self._fieldheader_positions(tab)
                sheet = self._sheet(tab)
                for name in u.values:
                    for key in filter(None, (tuple(u.key), there)):
                        row = rows.get(key)
                        if row is None:
                            continue
                        value = meant.get((u.tab, key, name), self._as_read(u.tab, key, name))
                        cells[(sheet.sheet_id, row, positions[name])] = _cell(value, link=name in LINK_FIELDS)
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
            tab = self.tab(name)
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
            sheet = self._sheet(self.tab(name))
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
        key_columns = [tab.index_of(k, positions) for k in tab.key]
        job = {i for c in tab.columns if c.field in RECOMPUTED and (i := c.index_in(positions)) is not None}
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
        column = self.tab(name).index_of(field_name, table.positions())
        if i is None or column is None:
            return ""
        cells = table.rows[i]
        return cells[column] if column < len(cells) else ""

