"""Rows and columns that move: insert, delete, move, sort -- for the local Sheets fake.

People sort the master tab, insert and delete rows and drag columns while the job
works; the job inserts and deletes rows itself.  Each change here moves the cells
*and* everything anchored on rows or columns (dimension properties such as hidden
columns and widths, protected ranges and their unprotected holes, conditional-format
ranges), the way Google does, so a test sees what a real spreadsheet would show.

Left out: merges, filters, named ranges, row groups and developer metadata (the fake
has none of them), and sorting by more than the cell's plain value (no locale rules).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

from .fake_sheets_model import (
    Rect,
    Sheet,
    Spreadsheet,
    bad_request,
    effective_value,
    formatted_value,
    protected_error,
)
from .fake_sheets_ops import blocking_protections, check_cell_limit, check_cells


def _dim_keys(dim: str) -> tuple[str, str]:
    return ("startRowIndex", "endRowIndex") if dim == "ROWS" else (
        "startColumnIndex", "endColumnIndex")


def transform_dimension(sheet: Sheet, dim: str, move_index: Callable[[int], int | None],
                        move_span: Callable[[int, int], tuple[int, int] | None],
                        new_count: int) -> None:
    """Apply an index mapping to cells, metadata and every range anchored on ``sheet``.

    ``move_index`` maps an old row/column to its new index (None = deleted);
    ``move_span`` maps a half-open span to its new span (None = vanished).
    """
    rows = dim == "ROWS"
    cells = {}
    for (r, c), cell in sheet.cells.items():
        idx = move_index(r if rows else c)
        if idx is not None:
            cells[(idx, c) if rows else (r, idx)] = cell
    sheet.cells = cells
    meta = sheet.row_meta if rows else sheet.col_meta
    moved = {move_index(i): m for i, m in meta.items()}
    meta.clear()
    meta.update({i: m for i, m in moved.items() if i is not None})
    lo, hi = _dim_keys(dim)
    old_count = sheet.row_count if rows else sheet.col_count

    def fix(gr: dict) -> bool:
        """Shift one GridRange in place; False when it vanished."""
        start, end = gr.get(lo), gr.get(hi)
        if start is None and end is None:
            return True
        span = move_span(start or 0, end if end is not None else old_count)
        if span is None:
            return False
        if start is not None:
            gr[lo] = span[0]
        if end is not None:
            gr[hi] = span[1]
        return True

    kept = []
    for pr in sheet.protected_ranges:
        if fix(pr["range"]):
            holes = [u for u in pr.pop("unprotectedRanges", []) if fix(u)]
            if holes:
                pr["unprotectedRanges"] = holes
            kept.append(pr)
    sheet.protected_ranges = kept
    for rule in sheet.conditional_formats:
        rule["ranges"] = [g for g in rule.get("ranges", []) if fix(g)]
    sheet.conditional_formats = [r for r in sheet.conditional_formats if r["ranges"]]
    sheet.grid["rowCount" if rows else "columnCount"] = new_count


def _span_rect(sheet: Sheet, dim: str, start: int, end: int) -> Rect:
    return (Rect(sheet.sheet_id, start, end, 0, sheet.col_count) if dim == "ROWS"
            else Rect(sheet.sheet_id, 0, sheet.row_count, start, end))


def insert_dimension(book: Spreadsheet, identity: str, sheet: Sheet, dim: str, start: int,
                     end: int) -> None:
    count = sheet.row_count if dim == "ROWS" else sheet.col_count
    if start > count:
        raise bad_request(f"Cannot insert at index {start}, max index is {count}.")
    n = end - start
    # Inserting strictly inside a protected span changes it: blocked for non-editors.
    for prot, _holes, pr in blocking_protections(book, identity, sheet):
        lo, hi = (prot.r0, prot.r1) if dim == "ROWS" else (prot.c0, prot.c1)
        if lo < start < hi or set(pr["range"]) <= {"sheetId"}:
            raise protected_error()
    transform_dimension(sheet, dim, lambda i: i + n if i >= start else i,
                        lambda s, e: (s + n if s >= start else s, e + n if e > start else e),
                        count + n)
    check_cell_limit(book)


def delete_dimension(book: Spreadsheet, identity: str, sheet: Sheet, dim: str, start: int,
                     end: int) -> None:
    delete_spans(book, identity, sheet, dim, [(start, end)])


def delete_spans(book: Spreadsheet, identity: str, sheet: Sheet, dim: str,
                 spans: list[tuple[int, int]]) -> None:
    """deleteDimension of each of these disjoint spans (indexes before any of them goes),
    in one pass: what Google does for a batch of them sent bottom first."""
    count = sheet.row_count if dim == "ROWS" else sheet.col_count
    spans = sorted((s, min(e, count)) for s, e in spans if s < min(e, count))
    if not spans:
        return
    n = sum(e - s for s, e in spans)
    if n >= count:
        what = "rows" if dim == "ROWS" else "columns"
        raise bad_request(f"You can't delete all the {what} on the sheet.")
    check_cells(book, identity, sheet, [_span_rect(sheet, dim, s, e) for s, e in spans])
    starts = [s for s, _ in spans]
    before = [0]  # deleted indexes before each span
    for s, e in spans:
        before.append(before[-1] + e - s)

    def pos(i: int) -> int:
        k = bisect.bisect_right(starts, i) - 1  # the last span starting at or before i
        if k < 0:
            return i
        s, e = spans[k]
        return s - before[k] if i < e else i - before[k + 1]

    def index(i: int) -> int | None:
        k = bisect.bisect_right(starts, i) - 1
        return None if k >= 0 and i < spans[k][1] else pos(i)

    def span(s: int, e: int) -> tuple[int, int] | None:
        ns, ne = pos(s), pos(e)
        return None if ns >= ne else (ns, ne)

    transform_dimension(sheet, dim, index, span, count - n)


def move_dimension(book: Spreadsheet, identity: str, sheet: Sheet, dim: str, start: int,
                   end: int, dest: int) -> None:
    """moveDimension: ``[start, end)`` goes before ``dest`` (an index before the move)."""
    count = sheet.row_count if dim == "ROWS" else sheet.col_count
    if not (0 <= start < end <= count) or not (0 <= dest <= count):
        raise bad_request("Invalid source or destination index.")
    check_cells(book, identity, sheet, [_span_rect(sheet, dim, min(start, dest),
                                                   max(end, dest))])
    order = list(range(count))
    rest = order[:start] + order[end:]
    at = dest if dest <= start else dest - (end - start)
    order = rest[:at] + order[start:end] + rest[at:]
    new_pos = {old: new for new, old in enumerate(order)}

    def span(s: int, e: int) -> tuple[int, int] | None:
        image = [new_pos[i] for i in range(s, min(e, count))]
        return (min(image), max(image) + 1) if image else (s, e)

    transform_dimension(sheet, dim, lambda i: new_pos.get(i, i), span, count)


def append_dimension(book: Spreadsheet, sheet: Sheet, dim: str, length: int) -> None:
    key = "rowCount" if dim == "ROWS" else "columnCount"
    sheet.grid[key] = sheet.grid.get(key, 0) + length
    check_cell_limit(book)


def _sort_key(column: int) -> Callable:
    """Numbers, then text (case-insensitive), then booleans; blanks are marked 1."""

    def key(row: list) -> tuple:
        cell = row[column] if 0 <= column < len(row) else None
        if cell is None or cell.value is None:
            return (1, 0, 0)
        ev = effective_value(cell)
        if "numberValue" in ev:
            return (0, 0, ev["numberValue"])
        if "stringValue" in ev:
            return (0, 1, ev["stringValue"].lower())
        if "boolValue" in ev:
            return (0, 2, ev["boolValue"])
        return (0, 3, formatted_value(ev))

    return key


def sort_range(book: Spreadsheet, identity: str, sheet: Sheet, rect: Rect,
               specs: list[dict]) -> None:
    """Really sort: the rows of ``rect`` move (values and formats) within its columns."""
    check_cells(book, identity, sheet, [rect])
    rows = [[sheet.get(r, c) for c in range(rect.c0, rect.c1)] for r in range(rect.r0, rect.r1)]
    # Stable multi-key sort: the least significant spec first.  Blanks stay last in both
    # orders, as in Google.
    for spec in reversed(specs or [{"dimensionIndex": rect.c0}]):
        key = _sort_key(spec.get("dimensionIndex", 0) - rect.c0)
        if spec.get("sortOrder", "ASCENDING") == "DESCENDING":
            filled = [row for row in rows if key(row)[0] == 0]
            blank = [row for row in rows if key(row)[0] == 1]
            rows = sorted(filled, key=key, reverse=True) + blank
        else:
            rows.sort(key=key)
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            sheet.put(rect.r0 + i, rect.c0 + j, cell)


def deletion_group(requests: list, i: int) -> list[dict]:
    """The ranges of the deleteDimension requests of a batch from ``i`` on one sheet and
    dimension, each wholly above the one before (bottom first: each range's indexes are
    as before any of them), which :func:`delete_spans` applies as one."""
    group: list[dict] = []
    for request in requests[i:]:
        payload = request.get("deleteDimension") if isinstance(request, dict) and len(request) == 1 else None
        dr = (payload or {}).get("range") or {}
        if "startIndex" not in dr or "endIndex" not in dr:
            break
        if group and (dr["endIndex"] > group[-1]["startIndex"]
                      or (dr.get("sheetId"), dr.get("dimension")) != (group[0].get("sheetId"),
                                                                      group[0].get("dimension"))):
            break
        group.append(dr)
    return group
