"""A department's tab made to hold a ReplaceRows' rows, writing only what changes.

As on Google (gsheets/write.py): the rows the tab keeps (same key, same order, see
``table.kept_rows``) stay with everything in them, a person's own columns and
formats too, and get only the cells whose text changes; the rows no longer wanted
go, and the new ones are written whole at their place. Rewriting every cell of the
departments' tabs every run was most of a sync's writing (about 100,000 cells on a
year's archived tracker) for a few thousand that change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sheets_sync.table import CellValue, Record, ReplaceRows, as_text, kept_by_key

WriteRow = Callable[[int, Mapping[str, CellValue]], None]


def replace_rows(ws, tab, change: ReplaceRows, have: Sequence[Record], write: WriteRow) -> None:
    """Make ``ws`` (its rows read as ``have``) hold ``change.rows`` from row 2 on.

    ``write(row, values)`` sets those fields' cells of that sheet row."""
    want_keys, kept = kept_by_key(list(have), change.rows, tab)
    moves: dict[int, int] = {}  # sheet row of a kept row → its row from now on
    kept_writes: list[tuple[int, Mapping[str, CellValue], Mapping[str, str]]] = []
    whole: list[tuple[int, Mapping[str, CellValue]]] = []
    for row, (values, key) in enumerate(zip(change.rows, want_keys, strict=True), start=2):
        old = kept.get(key) if key is not None else None
        if old is None:
            whole.append((row, values))
        else:
            moves[old.row] = row
            kept_writes.append((row, values, old.values))
    _keep_only(ws, moves)
    for row, values, old in kept_writes:
        changed = {f: v for f, v in values.items() if old.get(f) != as_text(v)}
        if changed:
            write(row, changed)
    for row, values in whole:  # on rows left empty: a field left out stays empty
        write(row, values)


def _keep_only(ws, moves: Mapping[int, int]) -> None:
    """The sheet's rows below the header: those in ``moves`` moved to their new row with
    all their cells, every other one emptied. One pass over the cells (openpyxl's
    delete_rows and insert_rows go over them all for each call)."""
    cells = {}
    for (row, column), cell in ws._cells.items():
        if row >= 2:
            row = moves.get(row)
            if row is None:
                continue
            if row != cell.row:
                cell.row = row
                link = getattr(cell, "_hyperlink", None)
                if link is not None:  # openpyxl writes a link where its ref says
                    link.ref = cell.coordinate
        cells[(row, column)] = cell
    ws._cells = cells
