"""``spreadsheets.batchUpdate`` for the local Sheets fake: one handler per request kind.

The kinds are the ones the backend sends (cells, sheets, protected ranges, validation,
conditional formats, column widths, rows in and out) and the ones the simulated people
use (sort, move columns, hide columns, rename and delete tabs), and ``findReplace``
(:mod:`.fake_sheets_find`) -- :data:`HANDLERS`.
Each handler gets a :class:`BatchContext` (the spreadsheet *clone* and the caller) and
the request payload, and returns its reply (or None for ``{}``); protected ranges are
:mod:`.fake_sheets_protect`'s, named ranges :mod:`.fake_sheets_named`'s.  :func:`batch_update`
runs them in order; any :class:`ApiError` aborts the whole batch, and since the server
applies it to a clone, nothing is kept: batchUpdate is atomic like Google's.  400
errors get Google's ``Invalid requests[i].kind: `` prefix.

Left out: every other kind (merges, updating named ranges, filters, copy/paste, developer
metadata, groups, auto-resize, spreadsheet properties...), sheet properties other than
title, hidden and grid size / frozen rows (tab colours, order), and cell notes.  They
answer 400 "fake_sheets does not implement ...", never a silent success.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from . import fake_sheets_dims as dims
from .fake_sheets_find import find_replace
from .fake_sheets_model import (
    ApiError,
    Cell,
    Rect,
    Sheet,
    Spreadsheet,
    bad_request,
    check_length,
    json_copy,
    new_sheet_props,
    not_implemented,
)
from .fake_sheets_named import add_named_range, delete_named_range
from .fake_sheets_ops import (
    check_cell_limit,
    check_cells,
    check_grid,
    check_sheet_structure,
    random_id,
    require_write,
    sheet_props_out,
    spreadsheet_json,
    truthy,
)
from .fake_sheets_protect import (
    add_protected_range,
    bounded,
    delete_protected_range,
    grid_rect,
    sheet_of,
    update_protected_range,
)
from .fake_sheets_ranges import apply_mask_update, parse_fields


class BatchContext:
    """State shared by the requests of one batchUpdate."""

    def __init__(self, book: Spreadsheet, identity: str):
        self.book = book
        self.identity = identity


def _paths(tree: dict, prefix: str = "") -> set[str]:
    """A parsed mask (or a properties dict) as dotted leaf paths."""
    out = set()
    for k, sub in tree.items():
        out |= _paths(sub, f"{prefix}{k}.") if isinstance(sub, dict) and sub else {prefix + k}
    return out




def _dim_range(book: Spreadsheet, dr: dict) -> tuple[Sheet, str, int, int]:
    sheet = sheet_of(book, dr)
    dim = dr.get("dimension", "ROWS")
    count = sheet.row_count if dim == "ROWS" else sheet.col_count
    return sheet, dim, dr.get("startIndex", 0), dr.get("endIndex", count)


# --------------------------------------------------------------------------- sheets

_ADD_SHEET = {"sheetId", "title", "index", "sheetType", "hidden", "gridProperties.rowCount",
              "gridProperties.columnCount", "gridProperties.frozenRowCount",
              "gridProperties.frozenColumnCount"}
_UPDATE_SHEET = {"title", "hidden", "gridProperties.rowCount", "gridProperties.columnCount",
                 "gridProperties.frozenRowCount", "gridProperties.frozenColumnCount"}


def _add_sheet(ctx: BatchContext, req: dict) -> dict:
    book = ctx.book
    props = req.get("properties") or {}
    extra = _paths(props) - _ADD_SHEET
    if extra or props.get("sheetType", "GRID") != "GRID":
        raise not_implemented(f"addSheet properties {sorted(extra) or ['sheetType']}")
    title = props.get("title")
    if title is None:
        n = len(book.sheets) + 1
        while book.sheet_by_title(f"Sheet{n}"):
            n += 1
        title = f"Sheet{n}"
    if book.sheet_by_title(title):
        raise bad_request(f'A sheet with the name "{title}" already exists. '
                          "Please enter another name.")
    sheet_id = props.get("sheetId")
    if sheet_id is None:
        sheet_id = random_id()
        while book.sheet_by_id(sheet_id):
            sheet_id = random_id()
    elif book.sheet_by_id(sheet_id):
        raise bad_request(f"Sheet with id {sheet_id} already exists.")
    grid = props.get("gridProperties") or {}
    index = min(props.get("index", len(book.sheets)), len(book.sheets))
    for s in book.sheets:
        if s.props["index"] >= index:
            s.props["index"] += 1
    new = new_sheet_props(sheet_id, title, index, grid.get("rowCount", 1000),
                          grid.get("columnCount", 26))
    new["gridProperties"].update({k: grid[k] for k in ("frozenRowCount", "frozenColumnCount") if grid.get(k)})
    if props.get("hidden"):
        new["hidden"] = True
    book.sheets.append(Sheet(new))
    check_cell_limit(book)
    return {"addSheet": {"properties": sheet_props_out(book.sheet_by_id(sheet_id))}}


def _delete_sheet(ctx: BatchContext, req: dict) -> None:
    book = ctx.book
    sheet = book.sheet_by_id(req.get("sheetId"))
    if sheet is None:
        raise bad_request(f"No sheet with id: {req.get('sheetId')}")
    if len(book.sheets) == 1:
        raise bad_request("You can't remove all the sheets in a document.")
    if sheet.protected_ranges:
        check_cells(book, ctx.identity, sheet, [sheet.whole()])
    book.sheets.remove(sheet)
    book.named_ranges = [n for n in book.named_ranges if n["range"].get("sheetId", 0) != sheet.sheet_id]
    book.reindex()


def _update_spreadsheet_properties(ctx: BatchContext, req: dict) -> None:
    """The spreadsheet's time zone (it governs ``NOW()``) and locale."""
    fields = req.get("fields")
    if not fields:
        raise bad_request("At least one field must be updated, but 'fields' is empty.")
    if fields.strip() == "*" or _paths(parse_fields(fields)) - {"timeZone", "locale"}:
        raise not_implemented(f"updateSpreadsheetProperties fields {fields!r}")
    apply_mask_update(ctx.book.properties, req.get("properties") or {}, fields)


def _update_sheet_properties(ctx: BatchContext, req: dict) -> None:
    book = ctx.book
    props = req.get("properties") or {}
    fields = req.get("fields")
    if not fields:
        raise bad_request("At least one field must be updated, but 'fields' is empty.")
    if fields.strip() == "*" or _paths(parse_fields(fields)) - _UPDATE_SHEET:
        raise not_implemented(f"updateSheetProperties fields {fields!r}")
    sheet = book.sheet_by_id(props.get("sheetId", 0))
    if sheet is None:
        raise bad_request(f"No grid with id: {props.get('sheetId', 0)}")
    updated = copy.deepcopy(sheet.props)
    apply_mask_update(updated, props, fields)
    title = updated.get("title")
    if title != sheet.title:
        if not title:
            raise bad_request("The sheet name cannot be empty.")
        other = book.sheet_by_title(title)
        if other is not None and other is not sheet:
            raise bad_request(f'A sheet with the name "{title}" already exists. '
                              "Please enter another name.")
    grid = updated.setdefault("gridProperties", {})
    rows, cols = grid.get("rowCount", 0), grid.get("columnCount", 0)
    if title != sheet.title or (rows, cols) != (sheet.row_count, sheet.col_count):
        check_sheet_structure(book, ctx.identity, sheet)
    if updated.get("hidden") and all(s.props.get("hidden") or s is sheet for s in book.sheets):
        raise bad_request("You can't hide all the sheets in a document.")
    if grid.get("frozenRowCount", 0) > rows:
        raise bad_request("Requested frozenRowCount is larger than the grid.")
    if grid.get("frozenColumnCount", 0) > cols:
        raise bad_request("Requested frozenColumnCount is larger than the grid.")
    if rows < 1 or cols < 1:
        raise bad_request("Grid must have at least one row and one column.")
    # Shrinking deletes the rows/columns beyond the new size.  (The grid size is here
    # for gspread's resize, which the recorded read tests use to set up their sheet.)
    dims.delete_dimension(book, ctx.identity, sheet, "ROWS", rows, sheet.row_count)
    dims.delete_dimension(book, ctx.identity, sheet, "COLUMNS", cols, sheet.col_count)
    sheet.props = updated
    check_cell_limit(book)


# --------------------------------------------------------------------------- cells


def apply_cell_data(old: Cell | None, data: dict, fields: str) -> Cell:
    """One CellData written with a ``fields`` mask (value, format, validation)."""
    old = old or Cell()
    value, fmt, validation = old.value, old.fmt, old.validation
    tree = parse_fields(fields) if fields.strip() != "*" else {
        "userEnteredValue": {}, "userEnteredFormat": {}, "dataValidation": {}}
    for key, sub in tree.items():
        if key == "userEnteredValue":
            uev = data.get("userEnteredValue")
            for text in (uev or {}).values():
                check_length(text)
            value = dict(uev) if uev else None
        elif key == "userEnteredFormat":
            given = data.get("userEnteredFormat") or {}
            new_fmt = json_copy(fmt or {}) if sub else {}
            apply_mask_update(new_fmt, given, sub or "*")
            fmt = new_fmt or None
        elif key == "dataValidation":
            validation = data.get("dataValidation") or None
        else:
            raise not_implemented(f"the cell field {key!r}")
    return Cell(value, fmt, validation)


def _for_cells(ctx: BatchContext, gr: dict, fn: Callable[[Cell | None], Cell | None]) -> None:
    sheet, rect = grid_rect(ctx.book, gr)
    check_cells(ctx.book, ctx.identity, sheet, [rect])
    for r in range(rect.r0, rect.r1):
        for c in range(rect.c0, rect.c1):
            sheet.put(r, c, fn(sheet.get(r, c)))


def _set_data_validation(ctx: BatchContext, req: dict) -> None:
    rule = req.get("rule") or None
    _for_cells(ctx, req.get("range") or {}, lambda cell: Cell(
        (cell or Cell()).value, (cell or Cell()).fmt, copy.deepcopy(rule)))


def _repeat_cell(ctx: BatchContext, req: dict) -> None:
    data, fields = req.get("cell") or {}, req.get("fields") or ""
    _for_cells(ctx, req.get("range") or {}, lambda cell: apply_cell_data(cell, data, fields))


def _update_cells(ctx: BatchContext, req: dict) -> None:
    rows = req.get("rows") or []
    fields = req.get("fields") or ""
    if not fields:
        raise bad_request("At least one field must be updated, but 'fields' is empty.")
    if "range" in req:  # Cells inside `range` but not in `rows` get the fields cleared.
        sheet, rect = grid_rect(ctx.book, req["range"])
        clear_rest = True
    else:  # From `start`, as far as `rows` reach.
        start = req.get("start") or {}
        sheet = sheet_of(ctx.book, start)
        width = max((len(r.get("values") or []) for r in rows), default=0)
        r0, c0 = start.get("rowIndex", 0), start.get("columnIndex", 0)
        rect = Rect(sheet.sheet_id, r0, r0 + len(rows), c0, c0 + width)
        check_grid(sheet, rect)
        clear_rest = False
    check_cells(ctx.book, ctx.identity, sheet, [rect])
    for i in range(rect.rows):
        values = (rows[i].get("values") or []) if i < len(rows) else []
        for j in range(rect.cols):
            if j >= len(values) and not clear_rest:
                continue
            data = values[j] if j < len(values) else {}
            r, c = rect.r0 + i, rect.c0 + j
            sheet.put(r, c, apply_cell_data(sheet.get(r, c), data, fields))


def _append_cells(ctx: BatchContext, req: dict) -> None:
    """Rows after the last row holding a value, growing the grid as needed."""
    sheet = sheet_of(ctx.book, req)
    rows = req.get("rows") or []
    last = max((r for (r, _), cell in sheet.cells.items() if cell.value is not None),
               default=-1)
    width = max((len(r.get("values") or []) for r in rows), default=0)
    sheet.grid["rowCount"] = max(sheet.row_count, last + 1 + len(rows))
    sheet.grid["columnCount"] = max(sheet.col_count, width)
    check_cell_limit(ctx.book)
    _update_cells(ctx, {"rows": rows, "fields": req.get("fields") or "*",
                        "start": {"sheetId": sheet.sheet_id, "rowIndex": last + 1,
                                  "columnIndex": 0}})


def _rule_asked(ctx: BatchContext, req: dict, sheet: Sheet | None = None) -> tuple[Sheet, dict]:
    """The request's conditional-format rule (a copy), its ranges bounded, and its sheet
    (the first range's, unless given)."""
    rule = copy.deepcopy(req.get("rule") or {})
    ranges = rule.get("ranges") or []
    if not ranges:
        raise bad_request("At least one range must be specified.")
    sheet = sheet or sheet_of(ctx.book, ranges[0])
    rule["ranges"] = [bounded(ctx.book, sheet, g) for g in ranges]
    return sheet, rule


def _add_conditional_format_rule(ctx: BatchContext, req: dict) -> None:
    sheet, rule = _rule_asked(ctx, req)
    sheet.conditional_formats.insert(req.get("index", len(sheet.conditional_formats)), rule)


def _update_conditional_format_rule(ctx: BatchContext, req: dict) -> None:
    """A rule replaced in place (``rule`` at ``index``); moving one (``newIndex``) is left out."""
    if "newIndex" in req:
        raise not_implemented("updateConditionalFormatRule newIndex")
    sheet = sheet_of(ctx.book, {"sheetId": req.get("sheetId", 0)})
    index = req.get("index", 0)
    if not 0 <= index < len(sheet.conditional_formats):
        raise bad_request(f"No conditional format on sheet {sheet.sheet_id} at index {index}")
    sheet.conditional_formats[index] = _rule_asked(ctx, req, sheet)[1]


# --------------------------------------------------------------------------- rows and columns


def _update_dimension_properties(ctx: BatchContext, req: dict) -> None:
    sheet, dim, start, end = _dim_range(ctx.book, req.get("range") or {})
    meta = sheet.row_meta if dim == "ROWS" else sheet.col_meta
    for i in range(start, end):
        apply_mask_update(meta.setdefault(i, {}), req.get("properties") or {},
                          req.get("fields") or "")


def _append_dimension(ctx: BatchContext, req: dict) -> None:
    dims.append_dimension(ctx.book, sheet_of(ctx.book, req), req.get("dimension", "ROWS"),
                          int(req.get("length", 0)))


def _insert_dimension(ctx: BatchContext, req: dict) -> None:
    sheet, dim, start, end = _dim_range(ctx.book, req.get("range") or {})
    dims.insert_dimension(ctx.book, ctx.identity, sheet, dim, start, end)


def _delete_dimension(ctx: BatchContext, req: dict) -> None:
    sheet, dim, start, end = _dim_range(ctx.book, req.get("range") or {})
    dims.delete_dimension(ctx.book, ctx.identity, sheet, dim, start, end)


def _move_dimension(ctx: BatchContext, req: dict) -> None:
    sheet, dim, start, end = _dim_range(ctx.book, req.get("source") or {})
    dims.move_dimension(ctx.book, ctx.identity, sheet, dim, start, end,
                        req.get("destinationIndex", 0))


def _sort_range(ctx: BatchContext, req: dict) -> None:
    sheet, rect = grid_rect(ctx.book, req.get("range") or {})
    dims.sort_range(ctx.book, ctx.identity, sheet, rect, req.get("sortSpecs") or [])


HANDLERS: dict[str, Callable[[BatchContext, dict], dict | None]] = {
    "addSheet": _add_sheet,
    "deleteSheet": _delete_sheet,
    "updateSheetProperties": _update_sheet_properties,
    "updateSpreadsheetProperties": _update_spreadsheet_properties,
    "addProtectedRange": add_protected_range,
    "addNamedRange": add_named_range,
    "deleteNamedRange": delete_named_range,
    "updateProtectedRange": update_protected_range,
    "deleteProtectedRange": delete_protected_range,
    "updateCells": _update_cells,
    "appendCells": _append_cells,
    "repeatCell": _repeat_cell,
    "setDataValidation": _set_data_validation,
    "addConditionalFormatRule": _add_conditional_format_rule,
    "updateConditionalFormatRule": _update_conditional_format_rule,
    "updateDimensionProperties": _update_dimension_properties,
    "appendDimension": _append_dimension,
    "insertDimension": _insert_dimension,
    "deleteDimension": _delete_dimension,
    "moveDimension": _move_dimension,
    "sortRange": _sort_range,
    "findReplace": find_replace,
}


def batch_update(book: Spreadsheet, identity: str, body: dict) -> dict:
    """``spreadsheets.batchUpdate``: apply every request in order (on a clone)."""
    require_write(book, identity)
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise bad_request("Must specify at least one request.")
    ctx = BatchContext(book, identity)
    replies = []
    skip = 0
    for i, request in enumerate(requests):
        if skip:
            skip -= 1
            continue
        group = dims.deletion_group(requests, i)
        if len(group) > 1:
            # Rows deleted bottom first, many at once: one pass over the cells, not one each.
            sheet, dim, _, _ = _dim_range(ctx.book, group[0])
            dims.delete_spans(ctx.book, ctx.identity, sheet, dim,
                              [_dim_range(ctx.book, g)[2:] for g in group])
            replies += [{} for _ in group]
            skip = len(group) - 1
            continue
        if not isinstance(request, dict) or len(request) != 1:
            raise bad_request(f"Invalid requests[{i}]: exactly one kind of request must be set.")
        (kind, payload), = request.items()
        handler = HANDLERS.get(kind)
        if handler is None:
            raise not_implemented(f"the request kind {kind!r} (requests[{i}])")
        try:
            reply = handler(ctx, payload or {})
        except ApiError as e:
            if e.code != 400:
                raise
            raise e.prefixed(f"Invalid requests[{i}].{kind}: ") from None
        replies.append(reply or {})
    out: dict[str, Any] = {"spreadsheetId": book.id, "replies": replies}
    if truthy(body.get("includeSpreadsheetInResponse")):
        # The server applies the request's `fields` mask to this reply afterwards.
        out["updatedSpreadsheet"] = spreadsheet_json(
            book, identity, body.get("responseRanges") or [],
            truthy(body.get("responseIncludeGridData")))
    return out
