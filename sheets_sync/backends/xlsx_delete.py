"""The workbook's :class:`~sheets_sync.table.DeleteRows`: rows found by key in the
workbook as it stands when the run writes, each checked against ``only_if`` there."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from sheets_sync.schema import Tab, normalize_header
from sheets_sync.table import DeleteRows, whole_row_key


def delete_rows(ws, tab: Tab, changes: Sequence[DeleteRows], text) -> int:
    """Delete the rows these changes name (bottom first); returns how many went.
    ``text`` turns a cell's value into the text a read gives."""
    header = [text(c.value) for c in ws[1]]
    positions: dict[str, int] = {}
    for i, h in enumerate(header):
        positions.setdefault(normalize_header(h), i)
    doomed: list[int] = []
    for change in changes:
        wanted = set(change.keys)
        key_at = [tab.index_of(k, positions) for k in tab.key] if not change.whole_row else []
        checks = {f: tab.index_of(f, positions) for f in change.only_if}
        for number, row in enumerate(ws.iter_rows(min_row=2, values_only=True), start=2):
            cells = [text(v) for v in row]
            if change.whole_row:
                key = whole_row_key(cells)
            else:
                key = tuple(cells[i].strip() if i is not None and i < len(cells) else "" for i in key_at)
            if key not in wanted:
                continue
            values = {f: (cells[i] if i is not None and i < len(cells) else "") for f, i in checks.items()}
            if change.allows(values):
                doomed.append(number)
    gone = sorted(set(doomed))
    if gone:
        _close_up(ws, gone)
    return len(gone)


def _close_up(ws, gone: list[int]) -> None:
    """Remove these rows and move the rows below up, in one pass over the cells.

    What ``ws.delete_rows`` does one row at a time (moving every cell below each
    time: 95,000 rows out of 100,000 would take hours), with the rows' heights and
    links moved along (openpyxl moves a cell's link with the cell but not the
    address it is saved under).
    """
    doomed = set(gone)
    cells = {}
    for (row, column), cell in ws._cells.items():
        if row in doomed:
            continue
        shift = bisect.bisect_left(gone, row)
        if shift:
            cell.row = row - shift
        cells[(cell.row, column)] = cell
        if cell.hyperlink is not None:
            cell.hyperlink.ref = cell.coordinate
    ws._cells = cells
    heights = {}
    for row, dimension in list(ws.row_dimensions.items()):
        if row not in doomed:
            heights[row - bisect.bisect_left(gone, row)] = dimension
    ws.row_dimensions.clear()
    for row, dimension in heights.items():
        dimension.index = row
        ws.row_dimensions[row] = dimension
