"""People editing the local Sheets fake's spreadsheets, as in the browser.

``server.as_user(email)`` gives a :class:`FakeUser`: each method is one batch of UI
actions (type values, sort, insert or delete rows, drag or hide columns, rename or
delete a tab) applied through the same permission and protection checks as an API
request, so Google's refusals reach the test as :class:`ApiError`.  These edits are
not HTTP requests: they are not logged and use no quota.  Indexes are 0-based like
the API (row 0 is the header row).

Left out: anything the simulated people in tests/people.py and tests/trackers.py do
not do (formatting, merging, typing formulas on purpose).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import fake_sheets_batch as batch
from . import fake_sheets_ops as ops
from .fake_sheets_model import ApiError
from .fake_sheets_ranges import col_index

if TYPE_CHECKING:
    from .fake_sheets import FakeSheetsServer


class FakeUser:
    """Someone at the spreadsheet in a browser, acting as ``identity``."""

    def __init__(self, server: FakeSheetsServer, identity: str):
        self.server = server
        self.identity = identity

    def _sheet_id(self, spreadsheet_id: str, title: str) -> int:
        with self.server._lock:
            sheet = self.server._book(spreadsheet_id, self.identity).sheet_by_title(title)
            if sheet is None:
                raise ApiError(400, f"Unable to parse range: {title}")
            return sheet.sheet_id

    def batch_update(self, spreadsheet_id: str, requests: list[dict]) -> dict:
        return self.server._write(spreadsheet_id, self.identity, lambda b: batch.batch_update(
            b, self.identity, {"requests": requests}))

    def edit(self, spreadsheet_id: str, range_: str, values: list, raw: bool = False) -> dict:
        """Type ``values`` (a list of rows) at ``range_``; parsed like the UI unless ``raw``."""
        params = {"valueInputOption": ["RAW" if raw else "USER_ENTERED"]}
        return self.server._write(spreadsheet_id, self.identity, lambda b: ops.values_update(
            b, self.identity, range_, params, {"values": values}))

    def sort(self, spreadsheet_id: str, sheet: str, column: int | str, ascending: bool = True,
             start_row: int = 1) -> dict:
        """Sort the sheet's rows from ``start_row`` (default: keep the header) by ``column``
        (0-based index or letter), like Data > Sort range."""
        col = col_index(column) if isinstance(column, str) else column
        return self.batch_update(spreadsheet_id, [{"sortRange": {
            "range": {"sheetId": self._sheet_id(spreadsheet_id, sheet),
                      "startRowIndex": start_row},
            "sortSpecs": [{"dimensionIndex": col,
                           "sortOrder": "ASCENDING" if ascending else "DESCENDING"}]}}])

    def _dim(self, spreadsheet_id: str, sheet: str, dim: str, start: int, end: int) -> dict:
        return {"sheetId": self._sheet_id(spreadsheet_id, sheet), "dimension": dim,
                "startIndex": start, "endIndex": end}

    def insert_rows(self, spreadsheet_id: str, sheet: str, at: int, count: int = 1) -> dict:
        return self.batch_update(spreadsheet_id, [{"insertDimension": {
            "range": self._dim(spreadsheet_id, sheet, "ROWS", at, at + count)}}])

    def delete_rows(self, spreadsheet_id: str, sheet: str, start: int, count: int = 1) -> dict:
        return self.batch_update(spreadsheet_id, [{"deleteDimension": {
            "range": self._dim(spreadsheet_id, sheet, "ROWS", start, start + count)}}])

    def move_columns(self, spreadsheet_id: str, sheet: str, start: int, count: int,
                     to: int) -> dict:
        """Drag columns ``[start, start+count)`` so they sit before column ``to`` (indexes
        before the move, as in the API's moveDimension)."""
        return self.batch_update(spreadsheet_id, [{"moveDimension": {
            "source": self._dim(spreadsheet_id, sheet, "COLUMNS", start, start + count),
            "destinationIndex": to}}])

    def hide_columns(self, spreadsheet_id: str, sheet: str, start: int, count: int = 1,
                     hidden: bool = True) -> dict:
        return self.batch_update(spreadsheet_id, [{"updateDimensionProperties": {
            "range": self._dim(spreadsheet_id, sheet, "COLUMNS", start, start + count),
            "properties": {"hiddenByUser": hidden}, "fields": "hiddenByUser"}}])

    def rename_sheet(self, spreadsheet_id: str, sheet: str, new_title: str) -> dict:
        return self.batch_update(spreadsheet_id, [{"updateSheetProperties": {
            "properties": {"sheetId": self._sheet_id(spreadsheet_id, sheet),
                           "title": new_title}, "fields": "title"}}])

    def delete_sheet(self, spreadsheet_id: str, sheet: str) -> dict:
        return self.batch_update(spreadsheet_id, [{"deleteSheet": {
            "sheetId": self._sheet_id(spreadsheet_id, sheet)}}])
