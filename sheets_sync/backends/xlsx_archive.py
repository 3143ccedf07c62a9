"""The archive of a local tracker: a workbook per year beside it,
``<tracker stem> archive 2026.xlsx``, with the tracker's tabs and headers.

Written only by ``archive`` and ``archive restore``, which hold the tracker's run
lock; saved like the tracker (atomically, keeping its mode), and never while
LibreOffice or Excel has it open.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from copy import copy
from pathlib import Path

import openpyxl
from openpyxl.styles import Font

from sheets_sync.archive_store import ArchiveStore, ArchiveStores, merged_header, placed, row_key
from sheets_sync.backends.office_lock import find_office_lock
from sheets_sync.backends.xlsx import _set_cell, _Styles, _text
from sheets_sync.backends.xlsx_file import _keep_access, _new_save_file
from sheets_sync.backends.xlsx_writer import save_workbook
from sheets_sync.errors import TrackerError
from sheets_sync.schema import Tab, normalize_header
from sheets_sync.table import header_positions

_BOLD = Font(bold=True)


class XlsxArchives(ArchiveStores):
    def __init__(self, tracker: Path) -> None:
        self.tracker = Path(tracker)
        self.workbook = None  # the tracker as read, whose cells' formats the rows take along

    def formats_from(self, session) -> None:
        """Copy the cells' formats from this session's workbook (the move's read)."""
        self.workbook = getattr(session, "wb", None)

    def name(self, year: int) -> str:
        return f"{self.tracker.stem} archive {year}.xlsx"

    def open(self, year: int, ref: str = "", *, create: bool = False) -> XlsxArchive | None:
        # Always beside the tracker, by name: a workbook moved with its archives keeps them.
        path = self.tracker.with_name(self.name(year))
        if not path.exists() and not create:
            return None
        return XlsxArchive(year, path, formats_from=self.workbook)


class XlsxArchive(ArchiveStore):
    def __init__(self, year: int, path: Path, *, formats_from=None) -> None:
        self.year = year
        self.path = path
        # The tracker, whose cells' formats (fills, fonts, number formats) the rows take along.
        self.formats_from = formats_from
        self.location = str(path)
        self.ref = path.name
        self._wb = None

    def _book(self):
        if self._wb is None:
            if self.path.exists():
                try:
                    self._wb = openpyxl.load_workbook(self.path)
                except Exception as exc:  # noqa: BLE001 - any unreadable file says the same
                    raise TrackerError(f"{self.path}: the archive workbook cannot be read "
                                       f"({type(exc).__name__}); restore it from a backup") from None
            else:
                self._wb = openpyxl.Workbook()
                self._wb.remove(self._wb.active)
        return self._wb

    def _sheet(self, tab: Tab, *, make: bool = False):
        wb = self._book()
        for title in wb.sheetnames:
            if normalize_header(title) == normalize_header(tab.title):
                return wb[title]
        return wb.create_sheet(tab.title) if make else None

    def rows(self, tab: Tab) -> tuple[list[str], list[list[str]]]:
        if self._wb is not None or not self.path.exists():
            ws = self._sheet(tab)
            return _rows_of(ws) if ws is not None else ([], [])
        # From the file as saved (what the move checks before it deletes), streaming.
        wb = openpyxl.load_workbook(self.path, read_only=True)
        try:
            wanted = normalize_header(tab.title)
            title = next((t for t in wb.sheetnames if normalize_header(t) == wanted), None)
            return _rows_of(wb[title]) if title is not None else ([], [])
        finally:
            wb.close()

    def find(self, tab: Tab, fields: Sequence[str]) -> dict[tuple, dict[str, str]]:
        # The sync's look-up: read-only, streaming, without the rows' formats.
        if self._wb is not None or not self.path.exists():
            return super().find(tab, fields)
        wb = openpyxl.load_workbook(self.path, read_only=True)
        try:
            wanted = normalize_header(tab.title)
            title = next((t for t in wb.sheetnames if normalize_header(t) == wanted), None)
            if title is None:
                return {}
            values = wb[title].iter_rows(values_only=True)
            header = [_text(v) for v in next(values, ())]
            positions = header_positions(header)
            at = {f: tab.index_of(f, positions) for f in fields}
            out: dict[tuple, dict[str, str]] = {}
            for raw in values:
                row = [_text(v) for v in raw]
                key = row_key(tab, header, row)
                if key and all(key):
                    out.setdefault(key, {f: (row[i] if i is not None and i < len(row) else "")
                                         for f, i in at.items()})
            return out
        finally:
            wb.close()

    def put(self, tab: Tab, header: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
        ws = self._sheet(tab, make=True)
        have = [_text(c.value) for c in ws[1]] if ws.max_row >= 1 and ws.max_column >= 1 else []
        archive_header, added = merged_header(have, header)
        for i, h in enumerate(archive_header, start=1):
            if i > len(have) or not have[i - 1].strip():
                ws.cell(1, i).value = h
                ws.cell(1, i).font = _BOLD
        ws.freeze_panes = "A2"
        at: dict[tuple, int] = {}
        last = 1
        for number, row in enumerate(ws.iter_rows(min_row=2, values_only=True), start=2):
            texts = [_text(v) for v in row]
            if any(texts):
                last = number
                at.setdefault(row_key(tab, archive_header, texts), number)
        new = 0
        formats = _Formats(self.formats_from, tab, header, archive_header) if self.formats_from else None
        styles = _Styles(ws.parent)
        for row in rows:
            cells = placed(tab, header, row, archive_header)
            key = row_key(tab, archive_header, [str(c) for c in cells])
            number = at.get(key)
            if number is None or not tab.key:
                if number is not None:
                    continue  # the very row (a Sync Log row) is there already
                last += 1
                number = at[key] = last
                new += 1
            for j, value in enumerate(cells, start=1):
                _set_cell(ws.cell(number, j), value, styles)
            if formats is not None:
                formats.copy(key, ws, number)
        self.save()
        return new

    def save(self) -> None:
        office = find_office_lock(self.path)
        if office is not None:
            raise TrackerError(office.refusal(self.path))
        tmp = None
        try:
            tmp = _new_save_file(self.path)
            _keep_access(self.path, tmp)
            save_workbook(self._book(), tmp)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
            self._wb = None  # read back from the file from now on
        except OSError as exc:
            raise TrackerError(f"{self.path}: could not save the archive ({exc.strerror}); the tracker "
                               "was not changed, run again") from None
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)


def _rows_of(ws) -> tuple[list[str], list[list[str]]]:
    values = ws.iter_rows(values_only=True)
    header = [_text(v) for v in next(values, ())]
    rows = [[_text(v) for v in row] for row in values]
    return header, [r for r in rows if any(r)]


class _Formats:
    """The formats of the tracker's cells, copied onto the archive's copy of each row
    (openpyxl keeps styles per workbook: each distinct one is made once in the archive)."""

    def __init__(self, wb, tab: Tab, header: Sequence[str], archive_header: Sequence[str]) -> None:
        self.rows: dict[tuple, int] = {}
        self.made: dict[tuple, object] = {}
        title = normalize_header(tab.title)
        self.ws = next((wb[t] for t in wb.sheetnames if normalize_header(t) == title), None)
        if self.ws is None:
            return
        live = [_text(c.value) for c in self.ws[1]]
        at = header_positions(archive_header)
        self.columns = [(i + 1, at[k] + 1) for i, h in enumerate(live)
                        if (k := normalize_header(h)) and k in at]
        for number, values in enumerate(self.ws.iter_rows(min_row=2, values_only=True), start=2):
            self.rows.setdefault(row_key(tab, live, [_text(v) for v in values]), number)

    def copy(self, key: tuple, ws, number: int) -> None:
        source = self.rows.get(key)
        if source is None or self.ws is None:
            return
        for i, j in self.columns:
            cell = self.ws.cell(source, i)
            if not cell.has_style:
                continue
            style = tuple(cell._style)
            target = ws.cell(number, j)
            if style in self.made:
                target._style = copy(self.made[style])
                continue
            target.font, target.fill = copy(cell.font), copy(cell.fill)
            target.border, target.alignment = copy(cell.border), copy(cell.alignment)
            target.number_format, target.protection = cell.number_format, copy(cell.protection)
            self.made[style] = copy(target._style)
