"""``spreadsheets.batchUpdate`` for the local Sheets fake: one handler per request kind.

Each handler gets a :class:`BatchContext` (the spreadsheet *clone* and the caller) and the
request payload, and returns its reply (or None for ``{}``).  :func:`batch_update` runs
them in order; any :class:`ApiError` aborts the whole batch, and since the server applies
it to a clone, nothing is kept: batchUpdate is atomic like Google's.  400 errors get
Google's ``Invalid requests[i].kind: `` prefix.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from .fake_sheets_model import (
    ApiError,
    Cell,
    Rect,
    Sheet,
    Spreadsheet,
    bad_request,
    check_length,
    effective_value,
    formatted_value,
    grid_range_out,
    new_sheet_props,
    norm_color_style,
    norm_format,
    parse_fields,
    protected_error,
    rect_from_grid_range,
    text_width,
)
from .fake_sheets_ops import (
    can_edit_protection,
    check_cell_limit,
    check_cells,
    check_grid,
    check_sheet_structure,
    delete_dimension,
    dm_out,
    insert_dimension,
    move_dimension,
    random_id,
    require_write,
    sheet_props_out,
    sort_range,
    spreadsheet_json,
    truthy,
)

# --------------------------------------------------------------------------- batchUpdate


def apply_mask_update(target: dict, source: dict, fields: str) -> None:
    """Copy the ``fields`` of ``source`` into ``target`` (missing in source = cleared)."""
    if fields.strip() == "*":
        target.update(copy.deepcopy(source))
        return

    def walk(t: dict, s: dict, tree: dict) -> None:
        for key, sub in tree.items():
            if sub:
                walk(t.setdefault(key, {}), (s or {}).get(key) or {}, sub)
            elif s is not None and s.get(key) is not None:
                t[key] = copy.deepcopy(s[key])
            else:
                t.pop(key, None)

    walk(target, source, parse_fields(fields))


def apply_cell_data(old: Cell | None, data: dict, fields: str) -> Cell:
    old = old or Cell()
    value, fmt, note, validation = old.value, old.fmt, old.note, old.validation
    tree = parse_fields(fields) if fields.strip() != "*" else {
        "userEnteredValue": {}, "userEnteredFormat": {}, "note": {}, "dataValidation": {}}
    for key, sub in tree.items():
        if key == "userEnteredValue":
            uev = data.get("userEnteredValue")
            if uev:
                check_length(uev.get("stringValue"))
                if "formulaValue" in uev:
                    check_length(uev["formulaValue"])
            value = dict(uev) if uev else None
        elif key == "userEnteredFormat":
            new_fmt = copy.deepcopy(fmt or {})
            if sub:
                apply_mask_update(new_fmt, data.get("userEnteredFormat") or {},
                                  _tree_to_fields(sub))
            else:
                new_fmt = copy.deepcopy(data.get("userEnteredFormat") or {})
            fmt = norm_format(new_fmt) if new_fmt else None
        elif key == "note":
            note = data.get("note") or None
        elif key == "dataValidation":
            validation = data.get("dataValidation") or None
        elif key not in ("effectiveValue", "formattedValue", "effectiveFormat", "hyperlink",
                         "textFormatRuns"):
            raise bad_request(f"Invalid field mask: {key}")
    return Cell(value, fmt, note, validation)


def _tree_to_fields(tree: dict) -> str:
    parts = []
    for k, sub in tree.items():
        parts.append(f"{k}({_tree_to_fields(sub)})" if sub else k)
    return ",".join(parts)


def _sheet_of(book: Spreadsheet, gr: dict) -> Sheet:
    sheet = book.sheet_by_id(gr.get("sheetId", 0) if gr else 0)
    if sheet is None:
        raise bad_request(f"No grid with id: {(gr or {}).get('sheetId', 0)}")
    return sheet


def _rect(book: Spreadsheet, gr: dict) -> tuple[Sheet, Rect]:
    sheet = _sheet_of(book, gr)
    rect = rect_from_grid_range(gr, sheet)
    check_grid(sheet, rect)
    return sheet, rect


def _dim_range(book: Spreadsheet, dr: dict) -> tuple[Sheet, str, int, int]:
    sheet = _sheet_of(book, dr)
    dim = dr.get("dimension", "ROWS")
    count = sheet.row_count if dim == "ROWS" else sheet.col_count
    return sheet, dim, dr.get("startIndex", 0), dr.get("endIndex", count)


class BatchContext:
    """State shared by the requests of one batchUpdate."""

    def __init__(self, book: Spreadsheet, identity: str):
        self.book = book
        self.identity = identity


def _add_sheet(ctx: BatchContext, req: dict) -> dict:
    book = ctx.book
    props = copy.deepcopy(req.get("properties") or {})
    title = props.get("title")
    if title is None:
        n = len(book.sheets) + 1
        while book.sheet_by_title(f"Sheet{n}"):
            n += 1
        title = f"Sheet{n}"
    if book.sheet_by_title(title) and book.sheet_by_title(title).title.lower() == title.lower():
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
    index = props.get("index", len(book.sheets))
    for s in book.sheets:
        if s.props["index"] >= index:
            s.props["index"] += 1
    new = new_sheet_props(sheet_id, title, min(index, len(book.sheets)),
                          grid.get("rowCount", 1000), grid.get("columnCount", 26))
    for k in ("frozenRowCount", "frozenColumnCount", "hideGridlines"):
        if grid.get(k):
            new["gridProperties"][k] = grid[k]
    for k in ("hidden", "rightToLeft"):
        if props.get(k):
            new[k] = props[k]
    _set_tab_color(new, props)
    book.sheets.append(Sheet(new))
    book.reindex()
    check_cell_limit(book)
    return {"addSheet": {"properties": sheet_props_out(book.sheet_by_id(sheet_id))}}


def _set_tab_color(props: dict, source: dict) -> None:
    style = norm_color_style(source.get("tabColorStyle"))
    if style is None and source.get("tabColor") is not None:
        style = {"rgbColor": source["tabColor"]}
        style = norm_color_style(style)
    if style:
        props["tabColorStyle"] = style
        if "rgbColor" in style:
            props["tabColor"] = style["rgbColor"]
    else:
        props.pop("tabColorStyle", None)
        props.pop("tabColor", None)


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
    book.named_ranges = [nr for nr in book.named_ranges
                         if nr["range"].get("sheetId", 0) != sheet.sheet_id]
    book.reindex()


def _update_sheet_properties(ctx: BatchContext, req: dict) -> None:
    book = ctx.book
    props = req.get("properties") or {}
    fields = req.get("fields")
    if not fields:
        raise bad_request("At least one field must be updated, but 'fields' is empty.")
    sheet = book.sheet_by_id(props.get("sheetId", 0))
    if sheet is None:
        raise bad_request(f"No grid with id: {props.get('sheetId', 0)}")
    before = copy.deepcopy(sheet.props)
    old_index = before["index"]
    updated = copy.deepcopy(sheet.props)
    apply_mask_update(updated, props, fields)
    updated["sheetId"] = before["sheetId"]
    tree = parse_fields(fields) if fields.strip() != "*" else {k: {} for k in props}
    if "tabColorStyle" in tree or "tabColor" in tree:
        _set_tab_color(updated, props)
    title = updated.get("title")
    if title != before["title"]:
        if not title:
            raise bad_request("The sheet name cannot be empty.")
        other = book.sheet_by_title(title)
        if other is not None and other is not sheet:
            raise bad_request(f'A sheet with the name "{title}" already exists. '
                              "Please enter another name.")
    grid = updated.setdefault("gridProperties", {})
    if updated.get("title") != before["title"] or grid.get("rowCount") != sheet.row_count or (
            grid.get("columnCount") != sheet.col_count):
        check_sheet_structure(book, ctx.identity, sheet)
    if updated.get("hidden") and all(s.props.get("hidden") or s is sheet for s in book.sheets):
        raise bad_request("You can't hide all the sheets in a document.")
    for key, limit in (("frozenRowCount", "rowCount"), ("frozenColumnCount", "columnCount")):
        if grid.get(key, 0) > grid.get(limit, 0):
            raise bad_request(f"Requested {key} is larger than the grid.")
    rows, cols = grid.get("rowCount", 0), grid.get("columnCount", 0)
    if rows < 1 or cols < 1:
        raise bad_request("Grid must have at least one row and one column.")
    if rows < sheet.row_count:
        delete_dimension(book, ctx.identity, sheet, "ROWS", rows, sheet.row_count)
    if cols < sheet.col_count:
        delete_dimension(book, ctx.identity, sheet, "COLUMNS", cols, sheet.col_count)
    updated["gridProperties"]["rowCount"], updated["gridProperties"]["columnCount"] = rows, cols
    new_index = updated.get("index", old_index) if "index" in tree else old_index
    updated["index"] = old_index
    sheet.props = updated
    if new_index != old_index:
        order = book.ordered_sheets()
        order.remove(sheet)
        at = new_index if new_index <= old_index else new_index - 1
        order.insert(max(0, min(at, len(order))), sheet)
        for i, s in enumerate(order):
            s.props["index"] = i
    check_cell_limit(book)


def _update_spreadsheet_properties(ctx: BatchContext, req: dict) -> None:
    apply_mask_update(ctx.book.properties, req.get("properties") or {}, req.get("fields") or "")


def _editors(ctx: BatchContext, requested: dict | None) -> dict:
    editors = copy.deepcopy(requested or {})
    users = list(editors.get("users") or [])
    for who in (ctx.identity, ctx.book.owner):
        if who not in users:
            users.append(who)
    editors["users"] = users
    return {k: v for k, v in editors.items() if v}


def _add_protected_range(ctx: BatchContext, req: dict) -> dict:
    book = ctx.book
    asked = copy.deepcopy(req.get("protectedRange") or {})
    gr = asked.get("range")
    if gr is None and asked.get("namedRangeId"):
        named = next((n for n in book.named_ranges
                      if n["namedRangeId"] == asked["namedRangeId"]), None)
        if named is None:
            raise bad_request(f"No named range with id: {asked['namedRangeId']}")
        gr = copy.deepcopy(named["range"])
    if gr is None:
        raise bad_request("Either a range or a namedRangeId must be set.")
    sheet, _ = _rect(book, gr)
    if set(gr) <= {"sheetId"}:
        for pr in sheet.protected_ranges:
            if set(pr["range"]) <= {"sheetId"}:
                raise bad_request(f'Sheet "{sheet.title}" already has sheet protection.')
    pr_id = asked.get("protectedRangeId") or random_id()
    stored = {"protectedRangeId": pr_id, "range": copy.deepcopy(gr)}
    for k in ("description", "namedRangeId"):
        if asked.get(k):
            stored[k] = asked[k]
    if asked.get("warningOnly"):
        stored["warningOnly"] = True
    else:
        stored["editors"] = _editors(ctx, asked.get("editors"))
    if asked.get("unprotectedRanges"):
        stored["unprotectedRanges"] = copy.deepcopy(asked["unprotectedRanges"])
    sheet.protected_ranges.append(stored)
    # The reply echoes the request (Google does not add the implicit editors here).
    reply = {"protectedRangeId": pr_id, "range": grid_range_out(gr)}
    for k in ("description", "namedRangeId"):
        if asked.get(k):
            reply[k] = asked[k]
    if asked.get("warningOnly"):
        reply["warningOnly"] = True
    if asked.get("unprotectedRanges"):
        reply["unprotectedRanges"] = [grid_range_out(u) for u in asked["unprotectedRanges"]]
    reply["requestingUserCanEdit"] = True
    if not asked.get("warningOnly"):
        reply["editors"] = {k: v for k, v in (asked.get("editors") or {}).items() if v}
    return {"addProtectedRange": {"protectedRange": reply}}


def _find_protected(book: Spreadsheet, pr_id: Any) -> tuple[Sheet, dict]:
    for sheet in book.sheets:
        for pr in sheet.protected_ranges:
            if str(pr["protectedRangeId"]) == str(pr_id):
                return sheet, pr
    raise bad_request(f"No protected range with id: {pr_id}")


def _update_protected_range(ctx: BatchContext, req: dict) -> None:
    asked = req.get("protectedRange") or {}
    sheet, pr = _find_protected(ctx.book, asked.get("protectedRangeId"))
    if not can_edit_protection(ctx.book, ctx.identity, pr) or pr.get("warningOnly") and (
            ctx.identity != ctx.book.owner and ctx.book.role_of(ctx.identity) != "writer"):
        raise protected_error()
    fields = req.get("fields") or ""
    updated = copy.deepcopy(pr)
    apply_mask_update(updated, asked, fields)
    updated["protectedRangeId"] = pr["protectedRangeId"]
    if updated.get("warningOnly"):
        updated.pop("editors", None)
    else:
        updated["editors"] = _editors(ctx, updated.get("editors"))
        if ctx.identity != ctx.book.owner and ctx.identity not in asked.get(
                "editors", {}).get("users", [ctx.identity]):
            updated["editors"]["users"].remove(ctx.identity)
    new_sheet = _sheet_of(ctx.book, updated["range"])
    sheet.protected_ranges.remove(pr)
    new_sheet.protected_ranges.append(updated)


def _delete_protected_range(ctx: BatchContext, req: dict) -> None:
    sheet, pr = _find_protected(ctx.book, req.get("protectedRangeId"))
    if not can_edit_protection(ctx.book, ctx.identity, pr):
        raise protected_error()
    sheet.protected_ranges.remove(pr)


def _add_named_range(ctx: BatchContext, req: dict) -> dict:
    nr = copy.deepcopy(req.get("namedRange") or {})
    if ctx.book.named_range(nr.get("name", "")):
        raise bad_request(f"Named range with name {nr.get('name')} already exists.")
    _rect(ctx.book, nr.get("range") or {})
    nr["namedRangeId"] = nr.get("namedRangeId") or str(random_id())
    ctx.book.named_ranges.append(nr)
    return {"addNamedRange": {"namedRange": dict(nr, range=grid_range_out(nr["range"]))}}


def _named(ctx: BatchContext, nr_id: str) -> dict:
    for nr in ctx.book.named_ranges:
        if nr["namedRangeId"] == nr_id:
            return nr
    raise bad_request(f"No named range with id: {nr_id}")


def _update_named_range(ctx: BatchContext, req: dict) -> None:
    asked = req.get("namedRange") or {}
    nr = _named(ctx, asked.get("namedRangeId"))
    apply_mask_update(nr, asked, req.get("fields") or "")


def _delete_named_range(ctx: BatchContext, req: dict) -> None:
    ctx.book.named_ranges.remove(_named(ctx, req.get("namedRangeId")))


def _for_cells(ctx: BatchContext, gr: dict, fn: Callable[[Cell | None], Cell | None]) -> None:
    sheet, rect = _rect(ctx.book, gr)
    check_cells(ctx.book, ctx.identity, sheet, [rect])
    for r in range(rect.r0, rect.r1):
        for c in range(rect.c0, rect.c1):
            sheet.put(r, c, fn(sheet.get(r, c)))


def _set_data_validation(ctx: BatchContext, req: dict) -> None:
    rule = req.get("rule") or None

    def put_rule(cell: Cell | None) -> Cell:
        old = cell or Cell()
        return Cell(old.value, old.fmt, old.note, copy.deepcopy(rule))

    _for_cells(ctx, req.get("range") or {}, put_rule)


def _repeat_cell(ctx: BatchContext, req: dict) -> None:
    data = req.get("cell") or {}
    fields = req.get("fields") or ""
    _for_cells(ctx, req.get("range") or {}, lambda cell: apply_cell_data(cell, data, fields))


def _update_cells(ctx: BatchContext, req: dict) -> None:
    rows = req.get("rows") or []
    fields = req.get("fields") or ""
    if not fields:
        raise bad_request("At least one field must be updated, but 'fields' is empty.")
    if "range" in req:
        sheet, rect = _rect(ctx.book, req["range"])
        cleared_rest = True
    else:
        start = req.get("start") or {}
        sheet = _sheet_of(ctx.book, start)
        width = max((len(r.get("values") or []) for r in rows), default=0)
        r0, c0 = start.get("rowIndex", 0), start.get("columnIndex", 0)
        rect = Rect(sheet.sheet_id, r0, r0 + len(rows), c0, c0 + width)
        check_grid(sheet, rect)
        cleared_rest = False
    check_cells(ctx.book, ctx.identity, sheet, [rect])
    for i in range(rect.rows):
        values = (rows[i].get("values") or []) if i < len(rows) else []
        for j in range(rect.cols):
            if j < len(values):
                data = values[j]
            elif cleared_rest:
                data = {}  # Inside `range` but not in `rows`: the fields are cleared.
            else:
                continue
            r, c = rect.r0 + i, rect.c0 + j
            sheet.put(r, c, apply_cell_data(sheet.get(r, c), data, fields))


def _append_cells(ctx: BatchContext, req: dict) -> None:
    sheet = _sheet_of(ctx.book, req)
    rows = req.get("rows") or []
    last = max((r for (r, _), cell in sheet.cells.items() if cell.value is not None),
               default=-1)
    width = max((len(r.get("values") or []) for r in rows), default=0)
    start = last + 1
    sheet.grid["rowCount"] = max(sheet.row_count, start + len(rows))
    sheet.grid["columnCount"] = max(sheet.col_count, width)
    check_cell_limit(ctx.book)
    _update_cells(ctx, {"rows": rows, "fields": req.get("fields") or "*",
                        "start": {"sheetId": sheet.sheet_id, "rowIndex": start,
                                  "columnIndex": 0}})


def _set_basic_filter(ctx: BatchContext, req: dict) -> None:
    flt = copy.deepcopy(req.get("filter") or {})
    sheet, _ = _rect(ctx.book, flt.get("range") or {})
    sheet.basic_filter = flt


def _clear_basic_filter(ctx: BatchContext, req: dict) -> None:
    _sheet_of(ctx.book, req).basic_filter = None


def _add_filter_view(ctx: BatchContext, req: dict) -> dict:
    fv = copy.deepcopy(req.get("filter") or {})
    sheet, _ = _rect(ctx.book, fv.get("range") or {})
    fv["filterViewId"] = fv.get("filterViewId") or random_id()
    sheet.filter_views.append(fv)
    return {"addFilterView": {"filter": dict(fv, range=grid_range_out(fv["range"]))}}


def _delete_filter_view(ctx: BatchContext, req: dict) -> None:
    for sheet in ctx.book.sheets:
        for fv in sheet.filter_views:
            if fv["filterViewId"] == req.get("filterId"):
                sheet.filter_views.remove(fv)
                return
    raise bad_request(f"No filter with id: {req.get('filterId')}")


def _add_conditional_format_rule(ctx: BatchContext, req: dict) -> None:
    rule = copy.deepcopy(req.get("rule") or {})
    ranges = rule.get("ranges") or []
    if not ranges:
        raise bad_request("At least one range must be specified.")
    sheet = _sheet_of(ctx.book, ranges[0])
    index = req.get("index", len(sheet.conditional_formats))
    sheet.conditional_formats.insert(index, rule)


def _delete_conditional_format_rule(ctx: BatchContext, req: dict) -> dict:
    sheet = _sheet_of(ctx.book, req)
    index = req.get("index", 0)
    if not 0 <= index < len(sheet.conditional_formats):
        raise bad_request(f"No conditional format on sheet {sheet.sheet_id} at index {index}")
    rule = sheet.conditional_formats.pop(index)
    return {"deleteConditionalFormatRule": {
        "rule": dict(rule, ranges=[grid_range_out(g) for g in rule.get("ranges", [])])}}


def _update_dimension_properties(ctx: BatchContext, req: dict) -> None:
    sheet, dim, start, end = _dim_range(ctx.book, req.get("range") or {})
    meta = sheet.row_meta if dim == "ROWS" else sheet.col_meta
    for i in range(start, end):
        entry = meta.setdefault(i, {})
        apply_mask_update(entry, req.get("properties") or {}, req.get("fields") or "")


def _append_dimension(ctx: BatchContext, req: dict) -> None:
    sheet = _sheet_of(ctx.book, req)
    key = "rowCount" if req.get("dimension", "ROWS") == "ROWS" else "columnCount"
    sheet.grid[key] = sheet.grid.get(key, 0) + int(req.get("length", 0))
    check_cell_limit(ctx.book)


def _auto_resize(ctx: BatchContext, req: dict) -> None:
    sheet, dim, start, end = _dim_range(ctx.book, req.get("dimensions") or {})
    for i in range(start, end):
        if dim == "ROWS":
            ctx_meta = sheet.row_meta.setdefault(i, {})
            ctx_meta["pixelSize"] = 21
            continue
        texts = [formatted_value(effective_value(cell, sheet), cell)
                 for (r, c), cell in sheet.cells.items() if c == i and cell.value is not None]
        sheet.col_meta.setdefault(i, {})["pixelSize"] = max(map(text_width, texts),
                                                            default=100)


def _insert_dimension(ctx: BatchContext, req: dict) -> None:
    sheet, dim, start, end = _dim_range(ctx.book, req.get("range") or {})
    insert_dimension(ctx.book, ctx.identity, sheet, dim, start, end)


def _delete_dimension(ctx: BatchContext, req: dict) -> None:
    sheet, dim, start, end = _dim_range(ctx.book, req.get("range") or {})
    delete_dimension(ctx.book, ctx.identity, sheet, dim, start, end)


def _move_dimension(ctx: BatchContext, req: dict) -> None:
    sheet, dim, start, end = _dim_range(ctx.book, req.get("source") or {})
    move_dimension(ctx.book, ctx.identity, sheet, dim, start, end,
                   req.get("destinationIndex", 0))


def _sort_range(ctx: BatchContext, req: dict) -> None:
    sheet, rect = _rect(ctx.book, req.get("range") or {})
    sort_range(ctx.book, ctx.identity, sheet, rect, req.get("sortSpecs") or [])


def _merge_cells(ctx: BatchContext, req: dict) -> None:
    sheet, rect = _rect(ctx.book, req.get("range") or {})
    check_cells(ctx.book, ctx.identity, sheet, [rect])
    kind = req.get("mergeType", "MERGE_ALL")
    if kind == "MERGE_ROWS":
        parts = [Rect(rect.sheet_id, r, r + 1, rect.c0, rect.c1) for r in range(rect.r0, rect.r1)]
    elif kind == "MERGE_COLUMNS":
        parts = [Rect(rect.sheet_id, rect.r0, rect.r1, c, c + 1) for c in range(rect.c0, rect.c1)]
    else:
        parts = [rect]
    for part in parts:
        if part.rows * part.cols < 2:
            continue
        # Merges inside the new one are replaced; a partial overlap is an error.
        kept = []
        for m in sheet.merges:
            existing = rect_from_grid_range(m, sheet)
            if part.contains(existing):
                continue
            if existing.intersects(part):
                raise bad_request("You can't merge cells that are already merged.")
            kept.append(m)
        sheet.merges = kept
        # Merging keeps only the top-left value, like the UI.
        for (r, c), cell in list(sheet.cells.items()):
            if part.r0 <= r < part.r1 and part.c0 <= c < part.c1 and (r, c) != (part.r0,
                                                                                  part.c0):
                sheet.put(r, c, Cell(None, cell.fmt, cell.note, cell.validation))
        sheet.merges.append({"sheetId": sheet.sheet_id, "startRowIndex": part.r0,
                             "endRowIndex": part.r1, "startColumnIndex": part.c0,
                             "endColumnIndex": part.c1})


def _unmerge_cells(ctx: BatchContext, req: dict) -> None:
    sheet, rect = _rect(ctx.book, req.get("range") or {})
    sheet.merges = [m for m in sheet.merges
                    if not rect.contains(rect_from_grid_range(m, sheet))]


def _groups(sheet: Sheet, dim: str) -> list:
    return sheet.row_groups if dim == "ROWS" else sheet.column_groups


def _add_dimension_group(ctx: BatchContext, req: dict) -> dict:
    sheet, dim, start, end = _dim_range(ctx.book, req.get("range") or {})
    groups = _groups(sheet, dim)
    depth = 1 + sum(1 for g in groups if g["range"]["startIndex"] <= start
                    and end <= g["range"]["endIndex"])
    groups.append({"range": {"dimension": dim, "startIndex": start, "endIndex": end},
                   "depth": depth})
    groups.sort(key=lambda g: (g["depth"], g["range"]["startIndex"]))
    sheet.grid["rowGroupControlAfter" if dim == "ROWS" else "columnGroupControlAfter"] = True
    return {"addDimensionGroup": {"dimensionGroups": copy.deepcopy(groups)}}


def _delete_dimension_group(ctx: BatchContext, req: dict) -> dict:
    sheet, dim, start, end = _dim_range(ctx.book, req.get("range") or {})
    groups = _groups(sheet, dim)
    match = [g for g in groups if (g["range"]["startIndex"], g["range"]["endIndex"]) == (start,
                                                                                       end)]
    if not match:
        raise bad_request("No dimension group found for the given range.")
    groups.remove(max(match, key=lambda g: g["depth"]))
    reply = {"dimensionGroups": copy.deepcopy(groups)} if groups else {}
    return {"deleteDimensionGroup": reply}


def _paste(cell: Cell | None, paste_type: str, old: Cell | None) -> Cell | None:
    src = cell or Cell()
    dst = old or Cell()
    if paste_type == "PASTE_VALUES":
        return Cell(src.value, dst.fmt, dst.note, dst.validation)
    if paste_type == "PASTE_FORMAT":
        return Cell(dst.value, src.fmt, dst.note, dst.validation)
    return cell


def _copy_paste(ctx: BatchContext, req: dict) -> None:
    src_sheet, src = _rect(ctx.book, req.get("source") or {})
    dst_sheet, dst = _rect(ctx.book, req.get("destination") or {})
    check_cells(ctx.book, ctx.identity, dst_sheet, [dst])
    block = {(r - src.r0, c - src.c0): src_sheet.get(r, c)
             for r in range(src.r0, src.r1) for c in range(src.c0, src.c1)}
    paste_type = req.get("pasteType", "PASTE_NORMAL")
    # The destination is tiled with the source when it is larger, as in Google.
    for r in range(dst.r0, max(dst.r1, dst.r0 + src.rows)):
        for c in range(dst.c0, max(dst.c1, dst.c0 + src.cols)):
            offset = ((r - dst.r0) % src.rows, (c - dst.c0) % src.cols)
            if r < dst_sheet.row_count and c < dst_sheet.col_count:
                dst_sheet.put(r, c, _paste(block[offset], paste_type, dst_sheet.get(r, c)))


def _cut_paste(ctx: BatchContext, req: dict) -> None:
    src_sheet, src = _rect(ctx.book, req.get("source") or {})
    dest = req.get("destination") or {}
    dst_sheet = _sheet_of(ctx.book, dest)
    r0, c0 = dest.get("rowIndex", 0), dest.get("columnIndex", 0)
    dst = Rect(dst_sheet.sheet_id, r0, r0 + src.rows, c0, c0 + src.cols)
    check_grid(dst_sheet, dst)
    check_cells(ctx.book, ctx.identity, src_sheet, [src])
    check_cells(ctx.book, ctx.identity, dst_sheet, [dst])
    block = {(r - src.r0, c - src.c0): src_sheet.get(r, c)
             for r in range(src.r0, src.r1) for c in range(src.c0, src.c1)}
    for r in range(src.r0, src.r1):
        for c in range(src.c0, src.c1):
            src_sheet.put(r, c, None)
    paste_type = req.get("pasteType", "PASTE_NORMAL")
    for (i, j), cell in block.items():
        dst_sheet.put(r0 + i, c0 + j, _paste(cell, paste_type, dst_sheet.get(r0 + i, c0 + j)))


# --------------------------------------------------------------------------- developer metadata


def _dm_location(book: Spreadsheet, loc: dict) -> dict:
    if loc.get("spreadsheet"):
        return {"locationType": "SPREADSHEET", "spreadsheet": True}
    if "sheetId" in loc:
        return {"locationType": "SHEET", "sheetId": _sheet_of(book, loc).sheet_id}
    if "dimensionRange" in loc:
        sheet, dim, start, end = _dim_range(book, loc["dimensionRange"])
        return {"locationType": "ROW" if dim == "ROWS" else "COLUMN",
                "dimensionRange": {"sheetId": sheet.sheet_id, "dimension": dim,
                                   "startIndex": start, "endIndex": end}}
    raise bad_request("A location for the developer metadata must be specified.")


def dm_matches(book: Spreadsheet, dm: dict, data_filter: dict) -> bool:
    """A DataFilter's ``developerMetadataLookup`` against one DeveloperMetadata."""
    lookup = data_filter.get("developerMetadataLookup")
    if lookup is None:
        raise bad_request("Only developerMetadataLookup data filters are supported by the fake.")
    for key in ("metadataId", "metadataKey", "metadataValue", "visibility"):
        if key in lookup and dm.get(key) != lookup[key]:
            return False
    if lookup.get("locationType") and dm["location"]["locationType"] != lookup["locationType"]:
        return False
    if "metadataLocation" in lookup:
        want = _dm_location(book, lookup["metadataLocation"])
        have = dm["location"]
        if lookup.get("locationMatchingStrategy") == "INTERSECTING_LOCATION" and (
                "dimensionRange" in want and "dimensionRange" in have):
            a, b = want["dimensionRange"], have["dimensionRange"]
            return (a["sheetId"], a["dimension"]) == (b["sheetId"], b["dimension"]) and (
                a["startIndex"] < b["endIndex"] and b["startIndex"] < a["endIndex"])
        return want == have
    return True


def _create_developer_metadata(ctx: BatchContext, req: dict) -> dict:
    asked = req.get("developerMetadata") or {}
    if not asked.get("metadataKey"):
        raise bad_request("A developer metadata key must be specified.")
    if asked.get("visibility") not in ("DOCUMENT", "PROJECT"):
        raise bad_request("A developer metadata visibility must be specified.")
    dm_id = asked.get("metadataId") or random_id()
    if any(d["metadataId"] == dm_id for d in ctx.book.developer_metadata):
        raise bad_request(f"Developer metadata with id {dm_id} already exists.")
    dm = {"metadataId": dm_id, "metadataKey": asked["metadataKey"]}
    if asked.get("metadataValue") is not None:
        dm["metadataValue"] = asked["metadataValue"]
    dm["location"] = _dm_location(ctx.book, asked.get("location") or {})
    dm["visibility"] = asked["visibility"]
    ctx.book.developer_metadata.append(dm)
    return {"createDeveloperMetadata": {"developerMetadata": dm_out(dm)}}


def _update_developer_metadata(ctx: BatchContext, req: dict) -> dict:
    filters = req.get("dataFilters") or []
    asked = req.get("developerMetadata") or {}
    changed = []
    for dm in ctx.book.developer_metadata:
        if any(dm_matches(ctx.book, dm, f) for f in filters):
            update = dict(asked)
            if "location" in update:
                update["location"] = _dm_location(ctx.book, update["location"])
            apply_mask_update(dm, update, req.get("fields") or "")
            changed.append(dm_out(dm))
    return {"updateDeveloperMetadata": {"developerMetadata": changed}}


def _delete_developer_metadata(ctx: BatchContext, req: dict) -> dict:
    flt = req.get("dataFilter") or {}
    gone = [dm for dm in ctx.book.developer_metadata if dm_matches(ctx.book, dm, flt)]
    ctx.book.developer_metadata = [dm for dm in ctx.book.developer_metadata if dm not in gone]
    return {"deleteDeveloperMetadata": {"deletedDeveloperMetadata": [dm_out(d) for d in gone]}}


def search_developer_metadata(book: Spreadsheet, identity: str, body: dict) -> dict:
    """``developerMetadata:search``."""
    filters = body.get("dataFilters") or []
    matched = []
    for dm in book.developer_metadata:
        hits = [f for f in filters if dm_matches(book, dm, f)]
        if hits:
            matched.append({"developerMetadata": dm_out(dm), "dataFilters": hits})
    return {"matchedDeveloperMetadata": matched} if matched else {}


def get_developer_metadata(book: Spreadsheet, identity: str, metadata_id: str) -> dict:
    for dm in book.developer_metadata:
        if str(dm["metadataId"]) == str(metadata_id):
            return dm_out(dm)
    raise ApiError(404, f"No developer metadata with ID: {metadata_id}")


HANDLERS: dict[str, Callable[[BatchContext, dict], dict | None]] = {
    "createDeveloperMetadata": _create_developer_metadata,
    "updateDeveloperMetadata": _update_developer_metadata,
    "deleteDeveloperMetadata": _delete_developer_metadata,
    "addSheet": _add_sheet,
    "deleteSheet": _delete_sheet,
    "updateSheetProperties": _update_sheet_properties,
    "updateSpreadsheetProperties": _update_spreadsheet_properties,
    "addProtectedRange": _add_protected_range,
    "updateProtectedRange": _update_protected_range,
    "deleteProtectedRange": _delete_protected_range,
    "addNamedRange": _add_named_range,
    "updateNamedRange": _update_named_range,
    "deleteNamedRange": _delete_named_range,
    "setDataValidation": _set_data_validation,
    "repeatCell": _repeat_cell,
    "updateCells": _update_cells,
    "appendCells": _append_cells,
    "setBasicFilter": _set_basic_filter,
    "clearBasicFilter": _clear_basic_filter,
    "addFilterView": _add_filter_view,
    "deleteFilterView": _delete_filter_view,
    "addConditionalFormatRule": _add_conditional_format_rule,
    "deleteConditionalFormatRule": _delete_conditional_format_rule,
    "updateDimensionProperties": _update_dimension_properties,
    "appendDimension": _append_dimension,
    "autoResizeDimensions": _auto_resize,
    "insertDimension": _insert_dimension,
    "deleteDimension": _delete_dimension,
    "moveDimension": _move_dimension,
    "sortRange": _sort_range,
    "mergeCells": _merge_cells,
    "unmergeCells": _unmerge_cells,
    "addDimensionGroup": _add_dimension_group,
    "deleteDimensionGroup": _delete_dimension_group,
    "copyPaste": _copy_paste,
    "cutPaste": _cut_paste,
}


def batch_update(book: Spreadsheet, identity: str, body: dict) -> dict:
    """``spreadsheets.batchUpdate``: apply every request in order (on a clone)."""
    require_write(book, identity)
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise bad_request("Must specify at least one request.")
    ctx = BatchContext(book, identity)
    replies = []
    for i, request in enumerate(requests):
        if not isinstance(request, dict) or len(request) != 1:
            raise bad_request(f"Invalid requests[{i}]: exactly one kind of request must be set.")
        (kind, payload), = request.items()
        handler = HANDLERS.get(kind)
        if handler is None:
            raise bad_request(f'Invalid JSON payload received. Unknown name "{kind}" at '
                              f"'requests[{i}]': Cannot find field.")
        try:
            reply = handler(ctx, payload or {})
        except ApiError as e:
            if e.code != 400:
                raise
            raise e.prefixed(f"Invalid requests[{i}].{kind}: ") from None
        replies.append(reply or {})
    out: dict[str, Any] = {"spreadsheetId": book.id, "replies": replies}
    if truthy(body.get("includeSpreadsheetInResponse")):
        out["updatedSpreadsheet"] = spreadsheet_json(
            book, identity, body.get("responseRanges") or [],
            truthy(body.get("responseIncludeGridData")))
    return out
