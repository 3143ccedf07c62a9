"""Guarded updates (``UpdateRow.guard``) on Google Sheets: a row's update written only while
the row still holds what the run read in the guarded cells.

The run's lock keeps every editor out between its read and its write, but not the
spreadsheet's owner, and the Sheets API has no transaction. So the Status a guarded
update changes goes as a ``findReplace`` of that one cell, from the Status read to the
new one (matching the whole cell, case and all): Google replaces it only if it still
holds the Status read, atomically with the rest of the batch. The write's reply carries
the guarded cells as they stand after it. A row where they are not what the run read
(or the Status did not take) is a conflict: the update's other cells are put back as
read (the Status too, with another ``findReplace``, where it had taken) in one more
write, and the conflict is reported in ``conflicts``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sheets_sync.backends.gsheets.cells import _a1_start, _cell, _cell_requests, _col, _quote, _value_ranges
from sheets_sync.layout import LINK_FIELDS
from sheets_sync.table import Conflict, UpdateRow

SWAPPED = "status"  # the one guarded field the job itself writes


class GuardMixin:
    def _swap(self, change: UpdateRow, row: int, positions: dict[str, int], sheet_id: int,
              find: str, replacement: str) -> dict:
        column = positions[SWAPPED]
        return {"findReplace": {"find": find, "replacement": replacement, "matchCase": True,
                                "matchEntireCell": True, "searchByRegex": False, "includeFormulas": False,
                                "range": {"sheetId": sheet_id, "startRowIndex": row, "endRowIndex": row + 1,
                                          "startColumnIndex": column, "endColumnIndex": column + 1}}}

    def swaps_status(self, change: UpdateRow) -> bool:
        """The update's Status goes as a compare-and-swap (see the module's text)."""
        if not change.guard or SWAPPED not in change.values:
            return False
        # (findReplace needs a text to find; and a Status emptied is written as a cell)
        return bool(str(change.guard.get(SWAPPED, "")).strip()) and str(change.values[SWAPPED]).strip() != ""

    def guard_ranges(self, watched: Sequence[UpdateRow]) -> list[tuple[int, str]]:
        """The cells to see in the write's reply, as (sheet id, A1 of one cell): each watched
        row's key cells (did the owner sort the rows meanwhile?) and its guarded cells."""
        out: list[tuple[int, str]] = []
        for change in watched:
            tab = self.tab(change.tab)
            positions = self._fieldheader_positions(tab)
            row = self.row_of[change.tab][tuple(change.key)]
            sheet = self._sheet(tab)
            for name in dict.fromkeys([*tab.key, *change.guard]):
                if name in positions:
                    out.append((sheet.sheet_id, f"{_quote(tab.title)}!{_col(positions[name])}{row + 1}"))
        return list(dict.fromkeys(out))  # a row with two updates (a mail's facts, the decision): once

    def check_guards(self, watched: Sequence[UpdateRow], reply: dict | None) -> list[Conflict]:
        """The watched updates (every update of a tab with guarded ones) that did not land as
        meant: a guarded row a person changed, or a row the owner moved (its cells landed on
        another request's row). What the write put there is put back as that row was read."""
        if not watched:
            return []
        seen = self._guarded_cells(self.guard_ranges(watched), reply)
        conflicts: list[Conflict] = []
        cells: dict[tuple[int, int, int], dict] = {}
        swaps: list[dict] = []
        for change in watched:
            tab = self.tab(change.tab)
            positions = self._fieldheader_positions(tab)
            row = self.row_of[change.tab][tuple(change.key)]
            sheet = self._sheet(tab)
            now = {name: seen.get((sheet.sheet_id, row, positions[name]), "")
                   for name in dict.fromkeys([*tab.key, *change.guard]) if name in positions}
            there = tuple(now.get(k, "").strip() for k in tab.key)
            broken = self._broken(change, now, there)
            if broken is None:
                continue
            conflicts.append(broken)
            # The row now at that position, as read: the one the write's cells landed on.
            read = self._read_values(change.tab, there)
            status_now = now.get(SWAPPED, seen.get((sheet.sheet_id, row, positions.get(SWAPPED, -1)), ""))
            for name in change.values:
                if name == SWAPPED and self.swaps_status(change):
                    if status_now.strip() == str(change.values[SWAPPED]).strip() and read is not None:
                        swaps.append(self._swap(change, row, positions, sheet.sheet_id,
                                                str(change.values[SWAPPED]), read.get(SWAPPED, "")))
                elif name in positions and read is not None and (broken.moved or name not in change.guard):
                    cells[(sheet.sheet_id, row, positions[name])] = _cell(read.get(name, ""),
                                                                            link=name in LINK_FIELDS)
        requests = [*_cell_requests(cells), *swaps]
        if requests:
            from sheets_sync.backends.gsheets.cells import _serialize

            self._send_write([_serialize(r) for r in requests], last=True)
        return conflicts

    def _broken(self, change: UpdateRow, now: dict[str, str], there: tuple) -> Conflict | None:
        if there != tuple(str(k).strip() for k in change.key):
            return Conflict(change, self.tab(change.tab).key[0], " ".join(there), moved=True)
        swapped = self.swaps_status(change)
        for name, was in change.guard.items():
            expected = change.values[name] if name == SWAPPED and swapped else was
            if name in now and now[name].strip() != str(expected).strip():
                return Conflict(change, name, now[name])
        return None

    def _read_values(self, name: str, key: tuple) -> dict[str, str] | None:
        """A row of the tab as this run read it, by key (None: no such row was read)."""
        table = self.tables_as_read[name]
        tab = self.tab(name)
        for record in table.records(tab):
            if record.key(tab) == key:
                return record.values
        return None

    def _guarded_cells(self, ranges: list[tuple[int, str]],
                       reply: dict | None) -> dict[tuple[int, int, int], str]:
        """(sheet id, 0-based row, column) → text, from the write's reply (else read now)."""
        if reply and reply.get("updatedSpreadsheet"):
            blocks = _value_ranges(reply["updatedSpreadsheet"], ranges)
        else:
            response = self._call("checking the rows just written", self.client.values_batch_get, self.id,
                                  [a1 for _, a1 in ranges], {"valueRenderOption": "FORMATTED_VALUE"})
            blocks = response.get("valueRanges", [])
        out = {}
        for (sheet_id, a1), block in zip(ranges, blocks, strict=True):
            row, column = _a1_start(a1)
            values = block.get("values") or [[]]
            out[(sheet_id, row, column)] = str(values[0][0]) if values and values[0] else ""
        return out
