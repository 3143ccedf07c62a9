"""The reads and value writes of the local Sheets fake, and who may write what.

One function per API method: ``values.get``, ``values:batchGet``, ``values.update``,
``values.append``, ``values.clear`` and ``spreadsheets.get``.  Each takes the
spreadsheet (``book``), the caller's identity and the request's parameters/body, and
returns the JSON reply or raises :class:`ApiError`.  Writers are always handed a
*clone* of the spreadsheet by the server, so raising half-way leaves the real state
untouched: that is how every write is atomic.

Permission model: ``owner`` > ``writer`` > ``reader``.  Protected ranges block writers
not listed in ``editors.users``; the owner bypasses protection like in Google;
``warningOnly`` ranges never block.  A blocked edit answers 403 (Google answers 400
INVALID_ARGUMENT with the same message; the backend and the people rely on the 403).

Who uses what: the backend reads with ``spreadsheets.get`` and ``values:batchGet``
only; ``values.get/update/append`` serve gspread in the benchmark (and the people's
``edit``); ``values.clear`` stays because every recorded gspread worksheet test starts
by clearing its sheet, so the conformance replay could not begin without it.

Left out: ``values:batchUpdate`` / ``values:batchClear``, ``includeValuesInResponse``,
append's ``INSERT_ROWS``, ``dateTimeRenderOption`` (a date reads as its serial, the
default, under UNFORMATTED_VALUE) and developer metadata.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from .fake_sheets_model import (
    MAX_CELLS,
    NO_PERMISSION_MESSAGE,
    ApiError,
    Cell,
    Rect,
    Sheet,
    Spreadsheet,
    bad_request,
    cell_data,
    check_length,
    col_letters,
    not_implemented,
    parse_input,
    protected_error,
    render,
)
from .fake_sheets_ranges import (
    apply_fields,
    grid_range_out,
    mask_mentions,
    parse_a1,
    parse_fields,
    rect_from_grid_range,
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


def resolve(book: Spreadsheet, range_text: str) -> tuple[Sheet, Rect]:
    sheet, gr = parse_a1(range_text, book)
    return sheet, rect_from_grid_range(gr, sheet)


def check_grid(sheet: Sheet, rect: Rect) -> None:
    if rect.r1 > sheet.row_count or rect.c1 > sheet.col_count:
        raise bad_request(f"Range ({rect.a1(sheet.title, always_quote=True)}) exceeds grid limits."
                          f" Max rows: {sheet.row_count}, max columns: {sheet.col_count}")


def check_cell_limit(book: Spreadsheet) -> None:
    if book.total_cells() > MAX_CELLS:
        raise bad_request("This action would increase the number of cells in the workbook "
                          f"above the limit of {MAX_CELLS} cells.")


# --------------------------------------------------------------------------- who may write


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
    """(protected rect, unprotected holes, range) for protections ``identity`` may not edit."""
    out = []
    for pr in sheet.protected_ranges:
        if not can_edit_protection(book, identity, pr):
            holes = [rect_from_grid_range(u, sheet) for u in pr.get("unprotectedRanges", [])]
            out.append((rect_from_grid_range(pr["range"], sheet), holes, pr))
    return out


def check_cells(book: Spreadsheet, identity: str, sheet: Sheet, rects: list[Rect]) -> None:
    """Raise the protected-cell error if any of ``rects`` touches a cell ``identity``
    may not edit."""
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
    """Renaming/resizing a sheet is blocked by whole-sheet protection."""
    for _prot, _holes, pr in blocking_protections(book, identity, sheet):
        if set(pr["range"]) <= {"sheetId"}:
            raise protected_error()


def runs(cells: list[tuple[int, int]], sheet_id: int) -> list[Rect]:
    """Group cells into 1-row rectangles of consecutive columns (for protection checks)."""
    out: list[Rect] = []
    for r, c in sorted(cells):
        last = out[-1] if out else None
        if last and last.r0 == r and last.c1 == c:
            out[-1] = Rect(sheet_id, r, r + 1, last.c0, c + 1)
        else:
            out.append(Rect(sheet_id, r, r + 1, c, c + 1))
    return out


# --------------------------------------------------------------------------- values: reads


def value_range(book: Spreadsheet, range_text: str, major: str, option: str) -> dict:
    sheet, rect = resolve(book, range_text)
    check_grid(sheet, rect)  # Open ends (A:C, A2:C) were clipped; explicit ones must fit.
    out: dict[str, Any] = {"range": rect.a1(sheet.title), "majorDimension": major}
    columns = major == "COLUMNS"
    outer = range(rect.c0, rect.c1) if columns else range(rect.r0, rect.r1)
    inner = range(rect.r0, rect.r1) if columns else range(rect.c0, rect.c1)
    rows: list[list] = []
    locale = book.properties.get("locale", "en_US")
    for a in outer:
        row = [render(sheet.cells.get((b, a) if columns else (a, b)), option, locale) for b in inner]
        while row and row[-1] == "":  # Google trims trailing blanks and blank rows.
            row.pop()
        rows.append(row)
    while rows and not rows[-1]:
        rows.pop()
    if rows:
        out["values"] = rows
    return out


def _render_options(params: dict) -> tuple[str, str]:
    major = one(params, "majorDimension", "ROWS") or "ROWS"
    option = one(params, "valueRenderOption", "FORMATTED_VALUE") or "FORMATTED_VALUE"
    if major not in ("ROWS", "COLUMNS", "DIMENSION_UNSPECIFIED"):
        raise bad_request(f"Invalid value at 'major_dimension' ({major})")
    if option not in ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA"):
        raise bad_request(f"Invalid value at 'value_render_option' ({option})")
    return ("ROWS" if major == "DIMENSION_UNSPECIFIED" else major), option


def values_get(book: Spreadsheet, identity: str, range_text: str, params: dict) -> dict:
    return value_range(book, range_text, *_render_options(params))


def values_batch_get(book: Spreadsheet, identity: str, params: dict) -> dict:
    options = _render_options(params)
    ranges = params.get("ranges") or []
    ranges = [ranges] if isinstance(ranges, str) else ranges
    return {"spreadsheetId": book.id,
            "valueRanges": [value_range(book, r, *options) for r in ranges]}


# --------------------------------------------------------------------------- values: writes


def _check_values(values: Any) -> list[list]:
    def invalid(v: Any, at: str) -> ApiError:
        text = json.dumps(v, ensure_ascii=False)
        msg = f"Invalid value at '{at}' (type.googleapis.com/google.protobuf.ListValue), {text}"
        return ApiError(400, msg, details=[{
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": at, "description": msg}]}])

    if values is None:
        return []
    if not isinstance(values, list):
        raise invalid(values, "data.values")
    for i, row in enumerate(values):
        if not isinstance(row, list):
            raise invalid(row, f"data.values[{i}]")
    return values


def _rows(body: dict) -> list[list]:
    values = _check_values(body.get("values"))
    if body.get("majorDimension") != "COLUMNS":
        return values
    height = max((len(col) for col in values), default=0)
    return [[col[r] if r < len(col) else None for col in values] for r in range(height)]


def _input_option(params: dict) -> bool:
    option = one(params, "valueInputOption")
    if option not in ("RAW", "USER_ENTERED"):
        raise bad_request(f"Invalid valueInputOption: {option or 'INPUT_VALUE_OPTION_UNSPECIFIED'}")
    if truthy(params.get("includeValuesInResponse")):
        raise not_implemented("includeValuesInResponse")
    return option == "USER_ENTERED"


def write_grid(book: Spreadsheet, identity: str, sheet: Sheet, r0: int, c0: int,
               rows: list[list], user_entered: bool) -> dict:
    """Write a block of JSON values at (r0, c0); None leaves a cell alone, "" clears it."""
    height, width = len(rows), max((len(r) for r in rows), default=0)
    rect = Rect(sheet.sheet_id, r0, r0 + height, c0, c0 + width)
    if height and width:
        check_grid(sheet, rect)
    written = [(r0 + i, c0 + j) for i, row in enumerate(rows) for j, v in enumerate(row)
               if v is not None]
    for row in rows:
        for v in row:
            check_length(v)
    try:
        check_cells(book, identity, sheet, runs(written, sheet.sheet_id))
    except ApiError as e:
        raise e.prefixed("Invalid data[0]: ") from None  # as Google words it for values calls
    locale = book.properties.get("locale", "en_US")
    for r, c in written:
        old = sheet.get(r, c) or Cell()
        value, number_format = parse_input(rows[r - r0][c - c0], user_entered, locale,
                                           (old.fmt or {}).get("numberFormat"))
        fmt = {**(old.fmt or {}), "numberFormat": number_format} if number_format else old.fmt
        sheet.put(r, c, Cell(value, fmt, old.validation))
    # Google leaves out counts that are zero.
    out = {"spreadsheetId": book.id,
           "updatedRange": rect.a1(sheet.title) if height and width else None,
           "updatedRows": len({r for r, _ in written}),
           "updatedColumns": len({c for _, c in written}),
           "updatedCells": len(written)}
    return {k: v for k, v in out.items() if v not in (None, 0)}


def values_update(book: Spreadsheet, identity: str, range_text: str, params: dict,
                  body: dict) -> dict:
    require_write(book, identity)
    rows = _rows(body)
    user_entered = _input_option(params)
    sheet, gr = parse_a1(range_text, book)
    rect = rect_from_grid_range(gr, sheet)
    height, width = len(rows), max((len(r) for r in rows), default=0)
    bounded = "endRowIndex" in gr and "endColumnIndex" in gr
    if bounded and (rect.rows, rect.cols) != (1, 1):  # A single cell is only the start.
        if height > rect.rows:
            raise bad_request(f"Requested writing within range [{range_text}], but tried "
                              f"writing to row [{rect.r0 + rect.rows + 1}]")
        if width > rect.cols:
            raise bad_request(f"Requested writing within range [{range_text}], but tried "
                              f"writing to column [{col_letters(rect.c0 + rect.cols)}]")
    result = write_grid(book, identity, sheet, rect.r0, rect.c0, rows, user_entered)
    result.setdefault("updatedRange", rect.a1(sheet.title))
    return result


def find_table(sheet: Sheet, rect: Rect) -> Rect | None:
    """Google's append "table" search.

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
    rows = _rows(body)
    user_entered = _input_option(params)
    if one(params, "insertDataOption", "OVERWRITE") != "OVERWRITE":
        raise not_implemented("insertDataOption=INSERT_ROWS")
    sheet, rect = resolve(book, range_text)
    table = find_table(sheet, rect)
    r0, c0 = (table.r1, table.c0) if table else (rect.r0, rect.c0)
    # Append grows the grid by what it needs (values.update does not).
    sheet.grid["rowCount"] = max(sheet.row_count, r0 + len(rows))
    sheet.grid["columnCount"] = max(sheet.col_count, c0 + max(map(len, rows), default=0))
    check_cell_limit(book)
    out: dict[str, Any] = {"spreadsheetId": book.id}
    if table:
        out["tableRange"] = table.a1(sheet.title)
    out["updates"] = write_grid(book, identity, sheet, r0, c0, rows, user_entered)
    return out


def values_clear(book: Spreadsheet, identity: str, range_text: str) -> dict:
    require_write(book, identity)
    sheet, rect = resolve(book, range_text)
    keys = [k for k, cell in sheet.cells.items() if cell.value is not None
            and rect.r0 <= k[0] < rect.r1 and rect.c0 <= k[1] < rect.c1]
    check_cells(book, identity, sheet, runs(keys, sheet.sheet_id))
    for r, c in keys:
        old = sheet.cells[(r, c)]
        sheet.put(r, c, Cell(None, old.fmt, old.validation))
    return {"spreadsheetId": book.id, "clearedRange": rect.a1(sheet.title)}


# --------------------------------------------------------------------------- spreadsheets.get


def sheet_props_out(sheet: Sheet) -> dict:
    """SheetProperties as Google prints them: fields at their default are left out."""
    props = copy.deepcopy(sheet.props)
    grid = props.get("gridProperties", {})
    for holder in (props, grid):
        for k in [k for k, v in holder.items() if v is False or (v == 0 and k.startswith(
                "frozen"))]:
            del holder[k]
    return props


def _protected_out(book: Spreadsheet, identity: str, pr: dict) -> dict:
    out = {"protectedRangeId": pr["protectedRangeId"], "range": grid_range_out(pr["range"])}
    if pr.get("description"):
        out["description"] = pr["description"]
    if pr.get("warningOnly"):
        out["warningOnly"] = True
    if pr.get("unprotectedRanges"):
        out["unprotectedRanges"] = [grid_range_out(u) for u in pr["unprotectedRanges"]]
    if identity == book.owner or identity in pr.get("editors", {}).get("users", []):
        out["requestingUserCanEdit"] = True
    if not pr.get("warningOnly") and pr.get("editors"):
        out["editors"] = {k: v for k, v in pr["editors"].items() if v}
    return out


def _dim_meta(meta: dict | None, default_size: int) -> dict:
    return {"pixelSize": default_size, **{k: v for k, v in (meta or {}).items() if v}}


def _grid_data(sheet: Sheet, rect: Rect, locale: str) -> dict:
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
        data["rowData"] = []
        for r in range(rect.r0, max(by_row) + 1):
            cells = by_row.get(r, {})
            width = (max(cells) - rect.c0 + 1) if cells else 0
            values = [cell_data(cells[c], locale) if c in cells else {}
                      for c in range(rect.c0, rect.c0 + width)]
            data["rowData"].append({"values": values} if values else {})
    data["rowMetadata"] = [_dim_meta(sheet.row_meta.get(r), 21) for r in range(rect.r0, rect.r1)]
    data["columnMetadata"] = [_dim_meta(sheet.col_meta.get(c), 100)
                              for c in range(rect.c0, rect.c1)]
    return data


def trim_grid(result: dict) -> None:
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
            entry["data"] = [_grid_data(sheet, r, book.properties.get("locale", "en_US"))
                             for r in wanted.get(sheet.sheet_id, [sheet.whole()])]
        if sheet.conditional_formats:
            entry["conditionalFormats"] = [
                dict(rule, ranges=[grid_range_out(g) for g in rule.get("ranges", [])])
                for rule in sheet.conditional_formats]
        if sheet.protected_ranges:
            entry["protectedRanges"] = [_protected_out(book, identity, pr)
                                        for pr in sheet.protected_ranges]
        sheets_out.append(entry)
    out = {"spreadsheetId": book.id, "properties": copy.deepcopy(book.properties),
           "sheets": sheets_out,
           "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{book.id}/edit"}
    if book.named_ranges:
        out["namedRanges"] = [{**n, "range": grid_range_out(n["range"])} for n in book.named_ranges]
    return out


def spreadsheet_get(book: Spreadsheet, identity: str, params: dict) -> dict:
    ranges = params.get("ranges") or []
    ranges = [ranges] if isinstance(ranges, str) else ranges
    fields = one(params, "fields")
    tree = parse_fields(fields) if fields else {}
    out = spreadsheet_json(book, identity, ranges, truthy(params.get("includeGridData")), tree)
    if tree:
        out = apply_fields(out, tree)
        trim_grid(out)
    return out
