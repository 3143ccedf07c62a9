"""Google's :class:`~sheets_sync.table.DeleteRows`: ``deleteDimension`` requests for the
rows with these keys, at their positions as read under the run's lock, each row checked
against ``only_if`` as read then; sent with the last part of the write, after its appends
and updates (whose positions were read before these rows go) and with the lock's removal,
so the rows go atomically with the run's bookkeeping."""

from __future__ import annotations

from collections.abc import Sequence

from sheets_sync.backends.gsheets.cells import _runs, _serialize
from sheets_sync.errors import TrackerError
from sheets_sync.table import DeleteRows, header_positions, whole_row_key


class DeleteMixin:
    def _delete_requests(self, changes: Sequence[DeleteRows]) -> list[bytes]:
        by_sheet: dict[int, set[int]] = {}
        for change in changes:
            tab = self.tab(change.tab)
            sheet = self._sheet(tab)
            table = self.tables_as_read.get(change.tab)
            if sheet is None or table is None:
                raise TrackerError(f"tab {tab.title!r} was not read before deleting its rows; "
                                   "nothing was written, run again")
            positions = header_positions(table.header)
            key_at = [tab.index_of(k, positions) for k in tab.key]
            checks = {f: tab.index_of(f, positions) for f in change.only_if}
            wanted = set(change.keys)
            for number, row in zip(table.row_numbers, table.rows, strict=True):
                if change.whole_row:
                    key = whole_row_key(row)
                else:
                    key = tuple(row[i].strip() if i is not None and i < len(row) else "" for i in key_at)
                if key not in wanted:
                    continue
                values = {f: (row[i] if i is not None and i < len(row) else "") for f, i in checks.items()}
                if change.allows(values):
                    by_sheet.setdefault(sheet.sheet_id, set()).add(number - 1)
        out = []
        for sheet_id, rows in by_sheet.items():
            # Bottom first: the positions above each run stay as read.
            for start, end in reversed(_runs(sorted(rows))):
                out.append(_serialize({"deleteDimension": {"range": {
                    "sheetId": sheet_id, "dimension": "ROWS", "startIndex": start, "endIndex": end}}}))
        return out
