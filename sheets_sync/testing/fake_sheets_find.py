"""``findReplace`` for the local Sheets fake: the one way the Sheets API offers to change a
cell only if it still holds a given value (the backend's compare-and-swap of a Status a
person may change while the job writes).

As Google documents the request (no recorded traffic of it yet: the refusal messages are
the fake's own): ``find`` is required (an empty one is refused), one of
``range``, ``sheetId`` or ``allSheets`` says where; with ``matchEntireCell`` a cell
matches only when its whole text equals ``find``; the reply counts what changed, and
(proto3 JSON) leaves out the counts that are zero. Only plain text matching is modelled:
``searchByRegex`` and ``includeFormulas`` answer 400 "fake_sheets does not implement ...",
never a silent success; formulas are never touched.
"""

from __future__ import annotations

from .fake_sheets_model import Cell, Rect, bad_request, formatted_value, not_implemented
from .fake_sheets_ops import check_cells
from .fake_sheets_protect import grid_rect, sheet_of


def find_replace(ctx, req: dict) -> dict:
    find = req.get("find")
    if not isinstance(find, str) or find == "":
        raise bad_request("find must not be empty.")
    if req.get("searchByRegex") or req.get("includeFormulas"):
        raise not_implemented("findReplace with searchByRegex or includeFormulas")
    replacement = str(req.get("replacement") or "")
    if "range" in req:
        targets = [grid_rect(ctx.book, req["range"])]
    elif "sheetId" in req:
        sheet = sheet_of(ctx.book, {"sheetId": req["sheetId"]})
        targets = [(sheet, sheet.whole())]
    elif req.get("allSheets"):
        targets = [(s, s.whole()) for s in ctx.book.sheets]
    else:
        raise bad_request("One of range, sheetId or allSheets must be set.")
    case, whole = bool(req.get("matchCase")), bool(req.get("matchEntireCell"))
    changed, rows, sheets = 0, set(), set()
    for sheet, rect in targets:
        hits = _hits(sheet, rect, find, replacement, case, whole)
        if hits:
            check_cells(ctx.book, ctx.identity, sheet,
                        [Rect(sheet.sheet_id, r, r + 1, c, c + 1) for r, c, _, _ in hits])
        for r, c, cell, new in hits:
            sheet.put(r, c, Cell({"stringValue": new}, cell.fmt, cell.validation))
            changed += 1
            rows.add((sheet.sheet_id, r))
            sheets.add(sheet.sheet_id)
    counts = {"valuesChanged": changed, "occurrencesChanged": changed, "rowsChanged": len(rows),
              "sheetsChanged": len(sheets)}
    return {"findReplace": {k: v for k, v in counts.items() if v}}


def _hits(sheet, rect, find: str, replacement: str, case: bool, whole: bool) -> list:
    hits = []
    for r in range(rect.r0, rect.r1):
        for c in range(rect.c0, rect.c1):
            cell = sheet.get(r, c)
            if cell is None or not cell.value or cell.formula is not None:
                continue
            new = _replaced(formatted_value(cell.value), find, replacement, case, whole)
            if new is not None:
                hits.append((r, c, cell, new))
    return hits


def _replaced(text: str, find: str, replacement: str, case: bool, whole: bool) -> str | None:
    same = (lambda a, b: a == b) if case else (lambda a, b: a.casefold() == b.casefold())
    if whole:
        return replacement if same(text, find) else None
    if case:
        return text.replace(find, replacement) if find in text else None
    raise not_implemented("findReplace of part of a cell without matchCase")
