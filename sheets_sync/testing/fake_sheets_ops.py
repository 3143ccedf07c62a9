"""The Sheets API v4 methods of the local fake, one function per method.

Every function takes the spreadsheet (``book``), the caller's identity and the request's
parameters/body, and returns the JSON reply or raises :class:`ApiError`.  Writers are
always handed a *clone* of the spreadsheet by the server, so raising half-way leaves the
real state untouched: that is how ``batchUpdate`` (and every other write) is atomic.

Permission model: ``owner`` > ``writer`` > ``reader``.  Protected ranges block writers
that are not listed in ``editors.users``; the owner bypasses protection like in Google;
``warningOnly`` ranges never block.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from typing import Any

from .fake_sheets_model import (
    MAX_CELLS,
    NO_PERMISSION_MESSAGE,
    ApiError,
    Cell,
    Rect,
    Sheet,
    Spreadsheet,
    apply_fields,
    bad_request,
    cell_data,
    check_length,
    col_letters,
    effective_value,
    formatted_value,
    grid_range_out,
    mask_mentions,
    parse_a1,
    parse_fields,
    parse_input,
    protected_error,
    rect_from_grid_range,
    render,
)

# --------------------------------------------------------------------------- helpers


def random_id() -> int:
    return random.randint(1, 2**31 - 1)


def truthy(value: Any) -> bool:
    if isinstance(value, list):
        value = value[-1] if value else None
    return str(value).lower() in ("true", "1")


def one(params: dict, name: str, default: str | None = None) -> str | None:
    """Query parameters are lists (repeatable); most methods use the last value."""
    value = params.get(name)
    if isinstance(value, list):
        return value[-1] if value else default
    return value if value is not None else default


def require_write(book: Spreadsheet, identity: str) -> None:
    if book.role_of(identity) not in ("owner", "writer"):
        raise ApiError(403, NO_PERMISSION_MESSAGE)


def can_edit_protection(book: Spreadsheet, identity: str, pr: dict) -> bool:
    return (identity == book.owner or pr.get("warningOnly", False)
            or identity in (pr.get("editors") or {}).get("users", []))


def _subtract(rect: Rect, hole: Rect) -> list[Rect]:
    """``rect`` minus ``hole`` as up to four rectangles."""
    if not rect.intersects(hole):
        return [rect]
    out = []
    if rect.r0 < hole.r0:
        out.append(Rect(rect.sheet_id, rect.r0, hole.r0, rect.c0, rect.c1))
    if hole.r1 < rect.r1:
        out.append(Rect(rect.sheet_id, hole.r1, rect.r1, rect.c0, rect.c1))
    top, bottom = max(rect.r0, hole.r0), min(rect.r1, hole.r1)
    if rect.c0 < hole.c0:
        out.append(Rect(rect.sheet_id, top, bottom, rect.c0, hole.c0))
    if hole.c1 < rect.c1:
        out.append(Rect(rect.sheet_id, top, bottom, hole.c1, rect.c1))
    return out


def blocking_protections(book: Spreadsheet, identity: str, sheet: Sheet) -> list[tuple]:
    """(protected rect, unprotected holes) for protections that ``identity`` may not edit."""
    out = []
    for pr in sheet.protected_ranges:
        if can_edit_protection(book, identity, pr):
            continue
        holes = [rect_from_grid_range(u, sheet) for u in pr.get("unprotectedRanges", [])]
        out.append((rect_from_grid_range(pr["range"], sheet), holes, pr))
    return out


def check_cells(book: Spreadsheet, identity: str, sheet: Sheet, rects: list[Rect]) -> None:
    """Raise Google's protected-cell 403 if any of ``rects`` touches a protected cell."""
    for prot, holes, _pr in blocking_protections(book, identity, sheet):
        for rect in rects:
            if not rect.intersects(prot):
                continue
            pieces = [Rect(rect.sheet_id, max(rect.r0, prot.r0), min(rect.r1, prot.r1),
                           max(rect.c0, prot.c0), min(rect.c1, prot.c1))]
            for hole in holes:
                pieces = [p for piece in pieces for p in _subtract(piece, hole)]
            if pieces:
                raise protected_error()


def check_sheet_structure(book: Spreadsheet, identity: str, sheet: Sheet) -> None:
    """Renaming/deleting/resizing a sheet is blocked by whole-sheet protection."""
    for _prot, _holes, pr in blocking_protections(book, identity, sheet):
        if set(pr["range"]) <= {"sheetId"}:
            raise protected_error()


def runs(cells: list[tuple[int, int]], sheet_id: int) -> list[Rect]:
    """Group written cells into 1-row rectangles of consecutive columns (for protection checks)."""
    out: list[Rect] = []
    for r, c in sorted(cells):
        last = out[-1] if out else None
        if last and last.r0 == r and last.c1 == c:
            out[-1] = Rect(sheet_id, r, r + 1, last.c0, c + 1)
        else:
            out.append(Rect(sheet_id, r, r + 1, c, c + 1))
    return out


def check_grid(sheet: Sheet, rect: Rect) -> None:
    if rect.r1 > sheet.row_count or rect.c1 > sheet.col_count:
        raise bad_request(f"Range ({rect.a1(sheet.title, always_quote=True)}) exceeds grid limits."
                          f" Max rows: {sheet.row_count}, max columns: {sheet.col_count}")


def check_cell_limit(book: Spreadsheet) -> None:
    if book.total_cells() > MAX_CELLS:
        raise bad_request("This action would increase the number of cells in the workbook "
                          f"above the limit of {MAX_CELLS} cells.")


def resolve(book: Spreadsheet, range_text: str) -> tuple[Sheet, Rect]:
    sheet, gr = parse_a1(range_text, book)
    return sheet, rect_from_grid_range(gr, sheet)


# --------------------------------------------------------------------------- values: reads


def value_range(book: Spreadsheet, range_text: str, major: str, option: str,
                dt_option: str) -> dict:
    sheet, rect = resolve(book, range_text)
    check_grid(sheet, rect)  # Open ends (A:C, A2:C) were clipped; explicit ones must fit.
    out: dict[str, Any] = {"range": rect.a1(sheet.title), "majorDimension": major}
    outer = range(rect.c0, rect.c1) if major == "COLUMNS" else range(rect.r0, rect.r1)
    inner = range(rect.r0, rect.r1) if major == "COLUMNS" else range(rect.c0, rect.c1)
    occupied = {k for k, cell in sheet.cells.items() if cell.value is not None}
    rows: list[list] = []
    for a in outer:
        row = []
        for b in inner:
            key = (b, a) if major == "COLUMNS" else (a, b)
            row.append(render(sheet.cells[key], sheet, option, dt_option)
                       if key in occupied else "")
        while row and row[-1] == "":
            row.pop()
        rows.append(row)
    while rows and not rows[-1]:
        rows.pop()
    if rows:
        out["values"] = rows
    return out


def _render_options(params: dict) -> tuple[str, str, str]:
    major = one(params, "majorDimension", "ROWS") or "ROWS"
    option = one(params, "valueRenderOption", "FORMATTED_VALUE") or "FORMATTED_VALUE"
    dt_option = one(params, "dateTimeRenderOption", "SERIAL_NUMBER") or "SERIAL_NUMBER"
    if major not in ("ROWS", "COLUMNS", "DIMENSION_UNSPECIFIED"):
        raise bad_request(f"Invalid value at 'major_dimension' ({major})")
    if option not in ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA"):
        raise bad_request(f"Invalid value at 'value_render_option' ({option})")
    return ("ROWS" if major == "DIMENSION_UNSPECIFIED" else major), option, dt_option


def values_get(book: Spreadsheet, identity: str, range_text: str, params: dict) -> dict:
    major, option, dt_option = _render_options(params)
    return value_range(book, range_text, major, option, dt_option)


def values_batch_get(book: Spreadsheet, identity: str, params: dict) -> dict:
    major, option, dt_option = _render_options(params)
    ranges = params.get("ranges") or []
    if isinstance(ranges, str):
        ranges = [ranges]
    return {"spreadsheetId": book.id,
            "valueRanges": [value_range(book, r, major, option, dt_option) for r in ranges]}


# --------------------------------------------------------------------------- values: writes


def _check_values(values: Any, where: str = "data.values") -> list[list]:
    def invalid(v: Any, at: str) -> ApiError:
        text = json.dumps(v, ensure_ascii=False)
        msg = f"Invalid value at '{at}' (type.googleapis.com/google.protobuf.ListValue), {text}"
        return ApiError(400, msg, details=[{
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": at, "description": msg}]}])

    if values is None:
        return []
    if not isinstance(values, list):
        raise invalid(values, where)
    for i, row in enumerate(values):
        if not isinstance(row, list):
            raise invalid(row, f"{where}[{i}]")
    return values


def _orient(values: list[list], major: str | None) -> list[list]:
    if major != "COLUMNS":
        return values
    height = max((len(col) for col in values), default=0)
    return [[col[r] if r < len(col) else None for col in values] for r in range(height)]


def write_grid(book: Spreadsheet, identity: str, sheet: Sheet, r0: int, c0: int,
               rows: list[list], user_entered: bool) -> dict:
    """Write a block of JSON values at (r0, c0); None leaves a cell alone, "" clears it."""
    height = len(rows)
    width = max((len(r) for r in rows), default=0)
    rect = Rect(sheet.sheet_id, r0, r0 + height, c0, c0 + width)
    if height and width:
        check_grid(sheet, rect)
    written = [(r0 + i, c0 + j) for i, row in enumerate(rows) for j, v in enumerate(row)
               if v is not None]
    for row in rows:
        for v in row:
            check_length(v)
    check_cells(book, identity, sheet, runs(written, sheet.sheet_id))
    for r, c in written:
        value, number_format = parse_input(rows[r - r0][c - c0], user_entered)
        old = sheet.get(r, c) or Cell()
        fmt = old.fmt
        if number_format is not None:
            fmt = dict(fmt or {})
            fmt["numberFormat"] = number_format
        sheet.put(r, c, Cell(value, fmt, old.note, old.validation))
    return {
        "spreadsheetId": book.id,
        "updatedRange": rect.a1(sheet.title) if height and width else None,
        "updatedRows": len({r for r, _ in written}),
        "updatedColumns": len({c for _, c in written}),
        "updatedCells": len(written),
    }


def _clean(d: dict) -> dict:
    return {k: v for k, v in d.items() if v not in (None, 0)}


def _input_option(params: dict) -> bool:
    option = one(params, "valueInputOption")
    if option not in ("RAW", "USER_ENTERED"):
        raise bad_request(f"Invalid valueInputOption: {option or 'INPUT_VALUE_OPTION_UNSPECIFIED'}")
    return option == "USER_ENTERED"


def _update_one(book: Spreadsheet, identity: str, range_text: str, body: dict,
                user_entered: bool, params: dict) -> dict:
    rows = _orient(_check_values(body.get("values")), body.get("majorDimension"))
    sheet, gr = parse_a1(range_text, book)
    rect = rect_from_grid_range(gr, sheet)
    height, width = len(rows), max((len(r) for r in rows), default=0)
    single_cell = rect.rows == 1 and rect.cols == 1
    bounded = all(k in gr for k in ("endRowIndex", "endColumnIndex"))
    if bounded and not single_cell:
        if height > rect.rows:
            raise bad_request(f"Requested writing within range [{range_text}], but tried "
                              f"writing to row [{rect.r0 + rect.rows + 1}]")
        if width > rect.cols:
            raise bad_request(f"Requested writing within range [{range_text}], but tried "
                              f"writing to column [{col_letters(rect.c0 + rect.cols)}]")
    result = write_grid(book, identity, sheet, rect.r0, rect.c0, rows, user_entered)
    if result["updatedRange"] is None:
        result["updatedRange"] = rect.a1(sheet.title)
    result = _clean(result)
    if truthy(params.get("includeValuesInResponse")):
        written = result["updatedRange"]
        result["updatedData"] = value_range(
            book, written, "ROWS", one(params, "responseValueRenderOption", "FORMATTED_VALUE"),
            one(params, "responseDateTimeRenderOption", "SERIAL_NUMBER"))
    return result


def values_update(book: Spreadsheet, identity: str, range_text: str, params: dict,
                  body: dict) -> dict:
    require_write(book, identity)
    _check_values(body.get("values"))
    user_entered = _input_option(params)
    return _update_one(book, identity, range_text, body, user_entered, params)


def values_batch_update(book: Spreadsheet, identity: str, body: dict) -> dict:
    require_write(book, identity)
    user_entered = _input_option(body)
    responses, sheets = [], set()
    for i, vr in enumerate(body.get("data") or []):
        try:
            _check_values(vr.get("values"), f"data[{i}].values")
            responses.append(_update_one(book, identity, vr.get("range", ""), vr, user_entered,
                                         body))
        except ApiError as e:
            if e.code != 400:
                raise
            raise e.prefixed(f"Invalid data[{i}]: ") from None
        sheets.add(parse_a1(vr.get("range", ""), book)[0].sheet_id)
    out = {"spreadsheetId": book.id}
    totals = {
        "totalUpdatedRows": sum(r.get("updatedRows", 0) for r in responses),
        "totalUpdatedColumns": sum(r.get("updatedColumns", 0) for r in responses),
        "totalUpdatedCells": sum(r.get("updatedCells", 0) for r in responses),
        "totalUpdatedSheets": len(sheets) if responses else 0,
    }
    out.update(_clean(totals))
    if responses:
        out["responses"] = responses
    return out


def find_table(sheet: Sheet, rect: Rect) -> Rect | None:
    """Google's append "table" search (see module docstring of fake_sheets).

    The candidate tables are the 4-connected groups of non-empty cells that have a cell
    inside ``rect`` (a group may extend beyond it).  The chosen table is the one that ends
    lowest, ties going to the one that ends rightmost.  This reproduces the recorded
    quirk where a blank header cell splits the table and a later append lands in the
    wrong columns (cassette WorksheetTest.test_append_row_with_empty_value).
    """
    filled = {k for k, cell in sheet.cells.items() if cell.value is not None}
    seeds = [k for k in filled if rect.r0 <= k[0] < rect.r1 and rect.c0 <= k[1] < rect.c1]
    best: Rect | None = None
    seen: set = set()
    for seed in sorted(seeds):
        if seed in seen:
            continue
        stack, group = [seed], []
        seen.add(seed)
        while stack:
            r, c = stack.pop()
            group.append((r, c))
            for nb in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                if nb in filled and nb not in seen:
                    seen.add(nb)
                    stack.append(nb)
        rows = [r for r, _ in group]
        cols = [c for _, c in group]
        table = Rect(sheet.sheet_id, min(rows), max(rows) + 1, min(cols), max(cols) + 1)
        if best is None or (table.r1, table.c1) > (best.r1, best.c1):
            best = table
    return best


def values_append(book: Spreadsheet, identity: str, range_text: str, params: dict,
                  body: dict) -> dict:
    require_write(book, identity)
    rows = _orient(_check_values(body.get("values")), body.get("majorDimension"))
    user_entered = _input_option(params)
    sheet, rect = resolve(book, range_text)
    insert = one(params, "insertDataOption", "OVERWRITE") == "INSERT_ROWS"
    table = find_table(sheet, rect)
    r0, c0 = (table.r1, table.c0) if table else (rect.r0, rect.c0)
    height, width = len(rows), max((len(r) for r in rows), default=0)
    if insert and r0 < sheet.row_count:
        insert_dimension(book, identity, sheet, "ROWS", r0, r0 + height)
    # Append grows the grid by what it needs (values.update does not).
    sheet.grid["rowCount"] = max(sheet.row_count, r0 + height)
    sheet.grid["columnCount"] = max(sheet.col_count, c0 + width)
    check_cell_limit(book)
    updates = _clean(write_grid(book, identity, sheet, r0, c0, rows, user_entered))
    out: dict[str, Any] = {"spreadsheetId": book.id}
    if table:
        out["tableRange"] = table.a1(sheet.title)
    out["updates"] = updates
    if truthy(params.get("includeValuesInResponse")) and updates.get("updatedRange"):
        updates["updatedData"] = value_range(book, updates["updatedRange"], "ROWS",
                                             "FORMATTED_VALUE", "SERIAL_NUMBER")
    return out


def clear_rect(book: Spreadsheet, identity: str, sheet: Sheet, rect: Rect) -> None:
    keys = [k for k, cell in sheet.cells.items() if cell.value is not None
            and rect.r0 <= k[0] < rect.r1 and rect.c0 <= k[1] < rect.c1]
    check_cells(book, identity, sheet, runs(keys, sheet.sheet_id))
    for r, c in keys:
        old = sheet.cells[(r, c)]
        sheet.put(r, c, Cell(None, old.fmt, old.note, old.validation))


def values_clear(book: Spreadsheet, identity: str, range_text: str) -> dict:
    require_write(book, identity)
    sheet, rect = resolve(book, range_text)
    clear_rect(book, identity, sheet, rect)
    return {"spreadsheetId": book.id, "clearedRange": rect.a1(sheet.title)}


def values_batch_clear(book: Spreadsheet, identity: str, body: dict) -> dict:
    require_write(book, identity)
    cleared = []
    for text in body.get("ranges") or []:
        sheet, rect = resolve(book, text)
        clear_rect(book, identity, sheet, rect)
        cleared.append(rect.a1(sheet.title))
    return {"spreadsheetId": book.id, "clearedRanges": cleared}


# --------------------------------------------------------------------------- spreadsheets.get


def sheet_props_out(sheet: Sheet) -> dict:
    props = copy.deepcopy(sheet.props)
    grid = props.get("gridProperties", {})
    for k in ("frozenRowCount", "frozenColumnCount"):
        if not grid.get(k):
            grid.pop(k, None)
    for k in ("hidden", "rightToLeft", "hideGridlines"):
        if not props.get(k):
            props.pop(k, None)
        if not grid.get(k):
            grid.pop(k, None)
    if not props.get("tabColorStyle"):
        props.pop("tabColorStyle", None)
        props.pop("tabColor", None)
    return props


def _protected_out(book: Spreadsheet, identity: str, pr: dict) -> dict:
    out = {"protectedRangeId": pr["protectedRangeId"]}
    if "range" in pr:
        out["range"] = grid_range_out(pr["range"])
    for k in ("namedRangeId", "description"):
        if pr.get(k):
            out[k] = pr[k]
    if pr.get("warningOnly"):
        out["warningOnly"] = True
    if pr.get("unprotectedRanges"):
        out["unprotectedRanges"] = [grid_range_out(u) for u in pr["unprotectedRanges"]]
    editable = identity == book.owner or identity in pr.get("editors", {}).get("users", [])
    if editable:
        out["requestingUserCanEdit"] = True
    if not pr.get("warningOnly") and pr.get("editors"):
        out["editors"] = {k: v for k, v in pr["editors"].items() if v}
    return out


def _grid_data(book: Spreadsheet, sheet: Sheet, rect: Rect) -> dict:
    data: dict[str, Any] = {}
    if rect.r0:
        data["startRow"] = rect.r0
    if rect.c0:
        data["startColumn"] = rect.c0
    by_row: dict[int, dict[int, Cell]] = {}
    for (r, c), cell in sheet.cells.items():
        if rect.r0 <= r < rect.r1 and rect.c0 <= c < rect.c1:
            by_row.setdefault(r, {})[c] = cell
    if by_row:
        last = max(by_row)
        data["rowData"] = []
        for r in range(rect.r0, last + 1):
            cells = by_row.get(r, {})
            width = (max(cells) - rect.c0 + 1) if cells else 0
            values = [cell_data(cells[c], sheet) if c in cells else {}
                      for c in range(rect.c0, rect.c0 + width)]
            data["rowData"].append({"values": values} if values else {})
    data["rowMetadata"] = [_dim_meta(sheet.row_meta.get(r), 21) for r in range(rect.r0, rect.r1)]
    data["columnMetadata"] = [_dim_meta(sheet.col_meta.get(c), 100)
                              for c in range(rect.c0, rect.c1)]
    for dm in book.developer_metadata:
        dr = dm["location"].get("dimensionRange")
        if not dr or dr.get("sheetId", 0) != sheet.sheet_id:
            continue
        rows = dr["dimension"] == "ROWS"
        lo, hi = (rect.r0, rect.r1) if rows else (rect.c0, rect.c1)
        metas = data["rowMetadata" if rows else "columnMetadata"]
        for i in range(max(lo, dr["startIndex"]), min(hi, dr["endIndex"])):
            metas[i - lo].setdefault("developerMetadata", []).append(dm_out(dm))
    return data


def dm_out(dm: dict) -> dict:
    """DeveloperMetadata as Google prints it (sheetId 0 omitted from its dimensionRange)."""
    out = copy.deepcopy(dm)
    dr = out["location"].get("dimensionRange")
    if dr is not None and not dr.get("sheetId"):
        dr.pop("sheetId", None)
    return out


def _dim_meta(meta: dict | None, default_size: int) -> dict:
    out = {"pixelSize": default_size}
    for k, v in (meta or {}).items():
        if v:
            out[k] = v
    return out


def _trim_grid(result: dict) -> None:
    """After a field mask, drop trailing empty cells/rows the way Google omits them."""
    for sheet in result.get("sheets", []):
        for data in sheet.get("data", []):
            rows = data.get("rowData")
            if rows is None:
                continue
            for row in rows:
                values = row.get("values")
                if values is not None:
                    while values and not values[-1]:
                        values.pop()
                    if not values:
                        del row["values"]
            while rows and not rows[-1]:
                rows.pop()
            if not rows:
                del data["rowData"]


def spreadsheet_json(book: Spreadsheet, identity: str, ranges: list[str],
                     include_grid: bool, tree: dict | None = None) -> dict:
    tree = tree or {}
    if tree and mask_mentions(tree, "sheets", "data"):
        include_grid = True  # A mask naming grid data overrides includeGridData.
    wanted: dict[int, list[Rect]] = {}
    for text in ranges:
        sheet, rect = resolve(book, text)
        check_grid(sheet, rect)
        wanted.setdefault(sheet.sheet_id, []).append(rect)
    sheets_out = []
    for sheet in book.ordered_sheets():
        if ranges and sheet.sheet_id not in wanted:
            continue
        entry: dict[str, Any] = {"properties": sheet_props_out(sheet)}
        if include_grid:
            entry["data"] = [_grid_data(book, sheet, r)
                             for r in wanted.get(sheet.sheet_id, [sheet.whole()])]
        if sheet.merges:
            entry["merges"] = [grid_range_out(m) for m in sheet.merges]
        if sheet.conditional_formats:
            entry["conditionalFormats"] = [
                dict(rule, ranges=[grid_range_out(g) for g in rule.get("ranges", [])])
                for rule in sheet.conditional_formats]
        if sheet.filter_views:
            entry["filterViews"] = [dict(fv, range=grid_range_out(fv["range"]))
                                    for fv in sheet.filter_views]
        if sheet.protected_ranges:
            entry["protectedRanges"] = [_protected_out(book, identity, pr)
                                        for pr in sheet.protected_ranges]
        if sheet.basic_filter:
            entry["basicFilter"] = dict(sheet.basic_filter,
                                        range=grid_range_out(sheet.basic_filter["range"]))
        sheet_dm = [dm_out(dm) for dm in book.developer_metadata
                    if dm["location"].get("sheetId") == sheet.sheet_id
                    and dm["location"]["locationType"] == "SHEET"]
        if sheet_dm:
            entry["developerMetadata"] = sheet_dm
        if sheet.row_groups:
            entry["rowGroups"] = copy.deepcopy(sheet.row_groups)
        if sheet.column_groups:
            entry["columnGroups"] = copy.deepcopy(sheet.column_groups)
        sheets_out.append(entry)
    out: dict[str, Any] = {"spreadsheetId": book.id,
                           "properties": copy.deepcopy(book.properties),
                           "sheets": sheets_out}
    if book.named_ranges:
        out["namedRanges"] = [dict(nr, range=grid_range_out(nr["range"]))
                              for nr in book.named_ranges]
    book_dm = [dm_out(dm) for dm in book.developer_metadata
               if dm["location"]["locationType"] == "SPREADSHEET"]
    if book_dm:
        out["developerMetadata"] = book_dm
    out["spreadsheetUrl"] = f"https://docs.google.com/spreadsheets/d/{book.id}/edit"
    return out


def spreadsheet_get(book: Spreadsheet, identity: str, params: dict) -> dict:
    ranges = params.get("ranges") or []
    if isinstance(ranges, str):
        ranges = [ranges]
    fields = one(params, "fields")
    tree = parse_fields(fields) if fields else {}
    out = spreadsheet_json(book, identity, ranges, truthy(params.get("includeGridData")), tree)
    if tree:
        out = apply_fields(out, tree)
        _trim_grid(out)
    return out


# --------------------------------------------------------------------------- dimensions


def _dim_keys(dim: str) -> tuple[str, str]:
    return ("startRowIndex", "endRowIndex") if dim == "ROWS" else (
        "startColumnIndex", "endColumnIndex")


def transform_dimension(book: Spreadsheet, sheet: Sheet, dim: str,
                        move_index: Callable[[int], int | None],
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

    def fix(gr: dict) -> bool:
        """Shift one GridRange in place; False when it vanished."""
        if gr.get("sheetId", 0) != sheet.sheet_id:
            return True
        start = gr.get(lo)
        end = gr.get(hi)
        if start is None and end is None:
            return True
        span = move_span(start or 0, end if end is not None else sheet_count)
        if span is None:
            return False
        if start is not None:
            gr[lo] = span[0]
        if end is not None:
            gr[hi] = span[1]
        return True

    sheet_count = sheet.row_count if rows else sheet.col_count
    sheet.merges = [m for m in sheet.merges if fix(m)]
    kept = []
    for pr in sheet.protected_ranges:
        if fix(pr["range"]):
            pr["unprotectedRanges"] = [u for u in pr.get("unprotectedRanges", []) if fix(u)]
            if not pr["unprotectedRanges"]:
                pr.pop("unprotectedRanges")
            kept.append(pr)
    sheet.protected_ranges = kept
    for rule in sheet.conditional_formats:
        rule["ranges"] = [g for g in rule.get("ranges", []) if fix(g)]
    sheet.conditional_formats = [r for r in sheet.conditional_formats if r["ranges"]]
    if sheet.basic_filter and not fix(sheet.basic_filter["range"]):
        sheet.basic_filter = None
    sheet.filter_views = [fv for fv in sheet.filter_views if fix(fv["range"])]
    book.named_ranges = [nr for nr in book.named_ranges if fix(nr["range"])]
    kept_dm = []
    for dm in book.developer_metadata:
        dr = dm["location"].get("dimensionRange")
        if dr and dr.get("sheetId", 0) == sheet.sheet_id and dr["dimension"] == dim:
            span = move_span(dr["startIndex"], dr["endIndex"])
            if span is None:
                continue  # The rows/columns it was on are gone.
            dr["startIndex"], dr["endIndex"] = span
        kept_dm.append(dm)
    book.developer_metadata = kept_dm
    groups = sheet.row_groups if rows else sheet.column_groups
    for g in list(groups):
        span = move_span(g["range"]["startIndex"], g["range"]["endIndex"])
        if span is None:
            groups.remove(g)
        else:
            g["range"]["startIndex"], g["range"]["endIndex"] = span
    sheet.grid["rowCount" if rows else "columnCount"] = new_count


def _dim_span_check(book: Spreadsheet, identity: str, sheet: Sheet, dim: str, start: int,
                    end: int) -> None:
    rect = (Rect(sheet.sheet_id, start, end, 0, sheet.col_count) if dim == "ROWS"
            else Rect(sheet.sheet_id, 0, sheet.row_count, start, end))
    check_cells(book, identity, sheet, [rect])


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
    transform_dimension(
        book, sheet, dim,
        lambda i: i + n if i >= start else i,
        lambda s, e: (s + n if s >= start else s, e + n if e > start else e),
        count + n)
    check_cell_limit(book)


def delete_dimension(book: Spreadsheet, identity: str, sheet: Sheet, dim: str, start: int,
                     end: int) -> None:
    count = sheet.row_count if dim == "ROWS" else sheet.col_count
    end = min(end, count)
    if start >= end:
        return
    if start == 0 and end >= count:
        what = "rows" if dim == "ROWS" else "columns"
        raise bad_request(f"You can't delete all the {what} on the sheet.")
    _dim_span_check(book, identity, sheet, dim, start, end)
    n = end - start

    def pos(i: int) -> int:
        return i if i <= start else (start if i < end else i - n)

    def span(s: int, e: int) -> tuple[int, int] | None:
        ns, ne = pos(s), pos(e)
        return None if ns >= ne else (ns, ne)

    transform_dimension(book, sheet, dim,
                        lambda i: None if start <= i < end else (i if i < start else i - n),
                        span, count - n)


def move_dimension(book: Spreadsheet, identity: str, sheet: Sheet, dim: str, start: int,
                   end: int, dest: int) -> None:
    count = sheet.row_count if dim == "ROWS" else sheet.col_count
    if not (0 <= start < end <= count) or not (0 <= dest <= count):
        raise bad_request("Invalid source or destination index.")
    affected = (min(start, dest), max(end, dest))
    _dim_span_check(book, identity, sheet, dim, *affected)
    order = list(range(count))
    block = order[start:end]
    rest = order[:start] + order[end:]
    at = dest if dest <= start else dest - (end - start)
    order = rest[:at] + block + rest[at:]
    new_pos = {old: new for new, old in enumerate(order)}

    def span(s: int, e: int) -> tuple[int, int] | None:
        image = [new_pos[i] for i in range(s, min(e, count))]
        return (min(image), max(image) + 1) if image else (s, e)

    transform_dimension(book, sheet, dim, lambda i: new_pos.get(i, i), span, count)


def sort_range(book: Spreadsheet, identity: str, sheet: Sheet, rect: Rect,
               specs: list[dict]) -> None:
    """Really sort: rows of ``rect`` move (values, formats, notes) within its columns."""
    check_cells(book, identity, sheet, [rect])
    rows = []
    for r in range(rect.r0, rect.r1):
        rows.append([sheet.get(r, c) for c in range(rect.c0, rect.c1)])
    original = list(rows)

    def key_for(spec: dict) -> Callable:
        col = spec.get("dimensionIndex", 0) - rect.c0

        def key(row: list) -> tuple:
            cell = row[col] if 0 <= col < len(row) else None
            if cell is None or cell.value is None:
                return (1, 0, 0)
            ev = effective_value(cell, sheet)
            if "numberValue" in ev:
                return (0, 0, ev["numberValue"])
            if "stringValue" in ev:
                return (0, 1, ev["stringValue"].lower())
            if "boolValue" in ev:
                return (0, 2, ev["boolValue"])
            return (0, 3, formatted_value(ev, cell))

        return key

    # Stable multi-key sort: apply the least significant spec first.  Blanks stay last
    # in both orders, as in Google.
    for spec in reversed(specs or [{"dimensionIndex": rect.c0}]):
        key = key_for(spec)
        if spec.get("sortOrder", "ASCENDING") == "DESCENDING":
            filled = [row for row in rows if key(row)[0] == 0]
            blank = [row for row in rows if key(row)[0] == 1]
            rows = sorted(filled, key=key, reverse=True) + blank
        else:
            rows.sort(key=key)
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            sheet.put(rect.r0 + i, rect.c0 + j, cell)
    if rect.c0 == 0 and rect.c1 == sheet.col_count:
        # Row metadata travels with its row when whole rows are sorted.
        new_row = {id(row): rect.r0 + i for i, row in enumerate(rows)}
        old_row = {rect.r0 + i: new_row[id(row)] for i, row in enumerate(original)}
        for dm in book.developer_metadata:
            dr = dm["location"].get("dimensionRange")
            if (dr and dr.get("sheetId", 0) == sheet.sheet_id and dr["dimension"] == "ROWS"
                    and dr["endIndex"] - dr["startIndex"] == 1 and dr["startIndex"] in old_row):
                dr["startIndex"] = old_row[dr["startIndex"]]
                dr["endIndex"] = dr["startIndex"] + 1
