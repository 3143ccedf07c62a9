"""Protected ranges for the local Sheets fake: ``addProtectedRange``,
``updateProtectedRange`` and ``deleteProtectedRange`` (``ctx`` is a batchUpdate's
context: the spreadsheet clone and the caller), and the grid look-ups the other
batchUpdate handlers share (:func:`sheet_of`, :func:`grid_rect`, :func:`bounded`).

As recorded: the caller and the owner are always editors; the reply echoes the request
without them; a warning-only range has no editors; one sheet has at most one
whole-sheet protection.
"""

from __future__ import annotations

import copy
from typing import Any

from .fake_sheets_model import Rect, Sheet, Spreadsheet, bad_request, not_implemented, protected_error
from .fake_sheets_ops import can_edit_protection, check_grid, random_id
from .fake_sheets_ranges import apply_mask_update, grid_range_out, rect_from_grid_range


def sheet_of(book: Spreadsheet, gr: dict) -> Sheet:
    """The sheet a GridRange (or DimensionRange) names; no sheetId means the first."""
    sheet = book.sheet_by_id(gr.get("sheetId", 0) if gr else 0)
    if sheet is None:
        raise bad_request(f"No grid with id: {(gr or {}).get('sheetId', 0)}")
    return sheet


def grid_rect(book: Spreadsheet, gr: dict) -> tuple[Sheet, Rect]:
    """A GridRange's sheet and rectangle, refused when it leaves the grid."""
    sheet = sheet_of(book, gr)
    rect = rect_from_grid_range(gr, sheet)
    check_grid(sheet, rect)
    return sheet, rect


def bounded(book: Spreadsheet, sheet: Sheet, gr: dict) -> dict:
    """A range as stored: one without an end row ends at the grid's end when the
    spreadsheet bounds open ranges (see ``Spreadsheet.bound_open_ranges``)."""
    out = copy.deepcopy(gr)
    if book.bound_open_ranges and "endRowIndex" not in out:
        out["endRowIndex"] = sheet.props.get("gridProperties", {}).get("rowCount", 1000)
    return out


def _editors(ctx, requested: dict | None) -> dict:
    editors = copy.deepcopy(requested or {})
    users = list(editors.get("users") or [])
    for who in (ctx.identity, ctx.book.owner):
        if who not in users:
            users.append(who)
    editors["users"] = users
    # domainUsersCanEdit is kept when set, false included (Workspace domains read it).
    return {k: v for k, v in editors.items() if v or k == "domainUsersCanEdit"}


def add_protected_range(ctx, req: dict) -> dict:
    asked = copy.deepcopy(req.get("protectedRange") or {})
    if asked.get("namedRangeId"):
        raise not_implemented("named ranges")
    gr = asked.get("range")
    if gr is None:
        raise bad_request("Either a range or a namedRangeId must be set.")
    sheet, _ = grid_rect(ctx.book, gr)
    if set(gr) <= {"sheetId"} and any(set(pr["range"]) <= {"sheetId"}
                                      for pr in sheet.protected_ranges):
        raise bad_request(f'Sheet "{sheet.title}" already has sheet protection.')
    pr_id = asked.get("protectedRangeId") or random_id()
    stored = {"protectedRangeId": pr_id, "range": bounded(ctx.book, sheet, gr)}
    # The reply echoes the request (Google does not add the implicit editors there).
    reply = {"protectedRangeId": pr_id, "range": grid_range_out(gr)}
    if asked.get("description"):
        stored["description"] = reply["description"] = asked["description"]
    if asked.get("warningOnly"):
        stored["warningOnly"] = reply["warningOnly"] = True
    if asked.get("unprotectedRanges"):
        stored["unprotectedRanges"] = [bounded(ctx.book, sheet, u) for u in asked["unprotectedRanges"]]
        reply["unprotectedRanges"] = [grid_range_out(u) for u in asked["unprotectedRanges"]]
    reply["requestingUserCanEdit"] = True
    if not asked.get("warningOnly"):
        stored["editors"] = _editors(ctx, asked.get("editors"))
        reply["editors"] = {k: v for k, v in (asked.get("editors") or {}).items() if v}
    sheet.protected_ranges.append(stored)
    return {"addProtectedRange": {"protectedRange": reply}}


def _find_protected(book: Spreadsheet, pr_id: Any) -> tuple[Sheet, dict]:
    for sheet in book.sheets:
        for pr in sheet.protected_ranges:
            if str(pr["protectedRangeId"]) == str(pr_id):
                return sheet, pr
    raise bad_request(f"No protected range with id: {pr_id}")


def update_protected_range(ctx, req: dict) -> None:
    """The backend sends ``fields: description`` to check that its lock still stands."""
    asked = req.get("protectedRange") or {}
    sheet, pr = _find_protected(ctx.book, asked.get("protectedRangeId"))
    if not can_edit_protection(ctx.book, ctx.identity, pr) or pr.get("warningOnly") and (
            ctx.identity != ctx.book.owner and ctx.book.role_of(ctx.identity) != "writer"):
        raise protected_error()
    updated = copy.deepcopy(pr)
    apply_mask_update(updated, asked, req.get("fields") or "")
    updated["protectedRangeId"] = pr["protectedRangeId"]
    if "range" in (req.get("fields") or ""):
        grid_of = sheet_of(ctx.book, updated["range"])
        updated["range"] = bounded(ctx.book, grid_of, updated["range"])
        if updated.get("unprotectedRanges"):
            updated["unprotectedRanges"] = [bounded(ctx.book, grid_of, u)
                                            for u in updated["unprotectedRanges"]]
    if updated.get("warningOnly"):
        updated.pop("editors", None)
    else:
        updated["editors"] = _editors(ctx, updated.get("editors"))
        if ctx.identity != ctx.book.owner and ctx.identity not in asked.get(
                "editors", {}).get("users", [ctx.identity]):
            updated["editors"]["users"].remove(ctx.identity)
    new_sheet = sheet_of(ctx.book, updated["range"])
    sheet.protected_ranges.remove(pr)
    new_sheet.protected_ranges.append(updated)


def delete_protected_range(ctx, req: dict) -> None:
    sheet, pr = _find_protected(ctx.book, req.get("protectedRangeId"))
    if not can_edit_protection(ctx.book, ctx.identity, pr):
        raise protected_error()
    sheet.protected_ranges.remove(pr)
