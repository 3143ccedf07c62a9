"""Named ranges for the local Sheets fake: ``addNamedRange`` and ``deleteNamedRange``
(``ctx`` is a batchUpdate's context: the spreadsheet clone and the caller), as recorded
(``CellTest.test_define_named_range``): the id is a string, the reply echoes the range.
A range's name is read like an A1 range (``fake_sheets_ranges.parse_a1``); deleting a
sheet deletes the named ranges on it. Updating one is left out.
"""

from __future__ import annotations

import copy
import re

from .fake_sheets_model import bad_request
from .fake_sheets_ops import check_grid, random_id
from .fake_sheets_ranges import grid_range_out, rect_from_grid_range

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,249}$")


def add_named_range(ctx, req: dict) -> dict:
    asked = copy.deepcopy(req.get("namedRange") or {})
    name, gr = asked.get("name") or "", asked.get("range")
    looks_like_a_cell = re.match(r"^[A-Za-z]{1,3}\d+$", name)
    if not _NAME.match(name) or looks_like_a_cell or name.casefold() in ("true", "false"):
        raise bad_request(f"Invalid namedRange.name: {name}")
    if ctx.book.named_range(name) is not None:
        raise bad_request(f"Named range {name} already exists.")
    if gr is None:
        raise bad_request("A named range must have a range.")
    sheet = ctx.book.sheet_by_id(gr.get("sheetId", 0))
    if sheet is None:
        raise bad_request(f"No grid with id: {gr.get('sheetId', 0)}")
    check_grid(sheet, rect_from_grid_range(gr, sheet))
    stored = {"namedRangeId": asked.get("namedRangeId") or str(random_id()), "name": name, "range": gr}
    ctx.book.named_ranges.append(stored)
    return {"addNamedRange": {"namedRange": {**stored, "range": grid_range_out(gr)}}}


def delete_named_range(ctx, req: dict) -> None:
    wanted = str(req.get("namedRangeId"))
    kept = [n for n in ctx.book.named_ranges if str(n["namedRangeId"]) != wanted]
    if len(kept) == len(ctx.book.named_ranges):
        raise bad_request(f"No named range with id: {wanted}")
    ctx.book.named_ranges = kept
