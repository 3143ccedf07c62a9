"""How requests name cells and fields, for the local Sheets fake: A1 ranges, GridRanges
and ``fields`` masks.

* :func:`parse_a1` reads ``'My Tab'!A2:C``, ``Sheet1``, ``A:C``, ``1:1`` ... into a sheet
  and a GridRange with the bounds that were given (open ends stay open);
* :func:`rect_from_grid_range` clips a GridRange to the sheet's grid, and
  :func:`grid_range_out` prints one the way Google does;
* :func:`parse_fields`, :func:`apply_fields` and :func:`apply_mask_update` are the
  ``fields`` mask of replies (``spreadsheets.get``, ``batchUpdate``) and of updates
  (``updateSheetProperties``, ``repeatCell``...).

Left out: named ranges (``Unable to parse range`` like any unknown name) and R1C1.
"""

from __future__ import annotations

import re
from typing import Any

from .fake_sheets_model import Rect, Sheet, Spreadsheet, bad_request, json_copy

# --------------------------------------------------------------------------- A1 and GridRanges


def col_index(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ord(ch) - 64)
    return n - 1


_CELL_RE = re.compile(r"^([A-Za-z]{0,3})(\d{0,7})$")


def rect_from_grid_range(gr: dict, sheet: Sheet) -> Rect:
    """A GridRange dict (missing bounds = unbounded) clipped to the sheet's grid."""
    r1, c1 = gr.get("endRowIndex"), gr.get("endColumnIndex")
    return Rect(sheet.sheet_id, gr.get("startRowIndex") or 0,
                sheet.row_count if r1 is None else r1, gr.get("startColumnIndex") or 0,
                sheet.col_count if c1 is None else c1)


def grid_range_out(gr: dict) -> dict:
    """A GridRange as Google prints it: ``sheetId`` omitted when 0, set bounds kept."""
    out = {"sheetId": gr["sheetId"]} if gr.get("sheetId") else {}
    for k in ("startRowIndex", "endRowIndex", "startColumnIndex", "endColumnIndex"):
        if gr.get(k) is not None:
            out[k] = gr[k]
    return out


def parse_a1(text: str, book: Spreadsheet) -> tuple[Sheet, dict]:
    """Parse an A1 range to ``(sheet, GridRange-with-optional-bounds)``.

    Accepts ``Sheet1``, ``'My Tab'!A1:B2``, ``A1:B2`` (first visible sheet), ``A:C``,
    ``1:3``, ``A2:C`` (open ended), reversed corners and a named range's name (the
    sheet of that title first, as Google does).  Raises ``Unable to parse range`` like
    Google.
    """
    err = bad_request(f"Unable to parse range: {text}")
    raw = text.strip()
    sheet: Sheet | None
    if raw.startswith("'"):
        m = re.match(r"^'((?:[^']|'')*)'(?:!(.*))?$", raw, re.S)
        if not m:
            raise err
        sheet, cells = book.sheet_by_title(m.group(1).replace("''", "'")), m.group(2)
    elif "!" in raw:
        title, cells = raw.rsplit("!", 1)
        sheet = book.sheet_by_title(title)
    elif _parse_cells(raw) is not None:  # A bare reference: on the first visible sheet.
        sheet, cells = book.first_visible_sheet(), raw
    else:  # A bare word: a sheet's title, else a named range.
        sheet, cells = book.sheet_by_title(raw), None
        named = book.named_range(raw) if sheet is None else None
        if named is not None:
            sheet = book.sheet_by_id(named["range"].get("sheetId", 0))
            if sheet is not None:
                return sheet, {"sheetId": sheet.sheet_id, **named["range"]}
    if sheet is None or cells == "":
        raise err
    if cells is None:
        return sheet, {"sheetId": sheet.sheet_id}
    bounds = _parse_cells(cells)
    if bounds is None:
        raise err
    gr = {"sheetId": sheet.sheet_id}
    gr.update({k: v for k, v in bounds.items() if v is not None})
    return sheet, gr


def _parse_cells(cells: str) -> dict | None:
    parts = cells.split(":")
    if len(parts) > 2:
        return None
    ends = []
    for p in parts:
        m = _CELL_RE.match(p)
        if not m or not (m.group(1) or m.group(2)):
            return None
        col = col_index(m.group(1)) if m.group(1) else None
        row = int(m.group(2)) - 1 if m.group(2) else None
        if row is not None and row < 0:
            return None
        ends.append((row, col))
    if len(ends) == 1:
        (r, c), = ends
        if r is None or c is None:
            return None  # "A" or "5" alone is not a range
        return {"startRowIndex": r, "endRowIndex": r + 1, "startColumnIndex": c,
                "endColumnIndex": c + 1}
    (ra, ca), (rb, cb) = ends
    out: dict[str, int | None] = {}
    # "A:C" has no row bounds; "A2:C" is open below; reversed corners are swapped.
    for (a, b), lo, hi in (((ra, rb), "startRowIndex", "endRowIndex"),
                           ((ca, cb), "startColumnIndex", "endColumnIndex")):
        if a is None and b is None:
            out[lo] = out[hi] = None
        elif a is None or b is None:
            out[lo], out[hi] = (a if a is not None else b), None
        else:
            out[lo], out[hi] = min(a, b), max(a, b) + 1
    return out


# --------------------------------------------------------------------------- field masks

_FIELD_PATH = re.compile(r"[A-Za-z0-9_@*]+(?:[./][A-Za-z0-9_@*]+)*")


def parse_fields(spec: str) -> dict:
    """Parse a ``fields`` mask into a tree ``{name: subtree}``; an empty subtree = everything.

    Handles commas, nested parentheses ``sheets(properties(sheetId,title))`` and
    dotted or slashed paths ``sheets.properties.title`` / ``sheets/data/rowData``.
    """
    pos = 0

    def parse_list(end: str | None) -> dict:
        nonlocal pos
        tree: dict = {}
        while pos < len(spec):
            if spec[pos] == ",":
                pos += 1
                continue
            if end and spec[pos] == end:
                pos += 1
                return tree
            m = _FIELD_PATH.match(spec, pos)
            if not m:
                raise bad_request(f"Invalid field selection {spec}")
            pos = m.end()
            path = re.split(r"[./]", m.group(0))
            node = tree
            for name in path[:-1]:
                node = node.setdefault(name, {})
            if pos < len(spec) and spec[pos] == "(":
                pos += 1
                node.setdefault(path[-1], {}).update(parse_list(")"))
            else:
                node[path[-1]] = {}
        if end:
            raise bad_request(f"Invalid field selection {spec}")
        return tree

    return parse_list(None)


def apply_fields(value: Any, tree: dict) -> Any:
    """Keep only the masked parts of ``value`` (a JSON-like structure)."""
    if not tree or "*" in tree:
        return value
    if isinstance(value, list):
        return [apply_fields(v, tree) for v in value]
    if isinstance(value, dict):
        return {k: apply_fields(v, tree[k]) for k, v in value.items() if k in tree}
    return value


def mask_mentions(tree: dict, *path: str) -> bool:
    node = tree
    for name in path:
        if not node or "*" in node:
            return True
        if name not in node:
            return False
        node = node[name]
    return True


def apply_mask_update(target: dict, source: dict, fields: str | dict) -> None:
    """Copy the ``fields`` (a mask, or a parsed one) of ``source`` into ``target``;
    what the mask names and ``source`` lacks is cleared."""
    if fields == "*" or (isinstance(fields, str) and fields.strip() == "*"):
        target.update(json_copy(source))
        return

    def walk(t: dict, s: dict, tree: dict) -> None:
        for key, sub in tree.items():
            if sub:
                walk(t.setdefault(key, {}), (s or {}).get(key) or {}, sub)
            elif s is not None and s.get(key) is not None:
                t[key] = json_copy(s[key])
            else:
                t.pop(key, None)

    walk(target, source, parse_fields(fields) if isinstance(fields, str) else fields)
