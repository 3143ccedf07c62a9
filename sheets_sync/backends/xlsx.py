"""The local workbook backend: the tracker as an .xlsx file (openpyxl).

The embedded default, for trying the tool without a Google account and for
offices that keep the tracker on a shared drive. A run holds a lock file next
to the workbook, refuses to write a workbook that LibreOffice or Excel has open
(their own lock files say so; see office_lock.py) but reads it, and replaces
the file atomically, keeping its mode and owner, so a crash never leaves half a
workbook behind. A run killed while saving leaves its temporary file
(``.tracker.xlsx.<pid>@<host>.<random>.tmp``) instead; the next run that writes
removes it.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import openpyxl
from filelock import FileLock, Timeout
from openpyxl.utils.exceptions import InvalidFileException

from sheets_sync.backends.base import Backend, TrackerSession
from sheets_sync.backends.office_lock import find_office_lock
from sheets_sync.backends.xlsx_cells import _set_cell, _Styles, _text
from sheets_sync.backends.xlsx_file import (
    _disk_mark,
    _keep_access,
    _new_save_file,
    _remove_abandoned_saves,
)
from sheets_sync.backends.xlsx_layout import TOP, WRAP, render_layout
from sheets_sync.backends.xlsx_reader import load_workbook
from sheets_sync.backends.xlsx_replace import replace_rows
from sheets_sync.backends.xlsx_tabs import find_department_tabs, mark
from sheets_sync.backends.xlsx_writer import save_workbook
from sheets_sync.errors import Busy, TrackerError
from sheets_sync.gcpause import gc_paused
from sheets_sync.layout import tab_layout
from sheets_sync.roster import Department
from sheets_sync.schema import Schema, Tab, normalize_header
from sheets_sync.table import (
    AddRow,
    Change,
    DeleteRows,
    DeleteTab,
    ReplaceRows,
    Table,
    TrackerRead,
    UpdateRow,
    guard_broken,
    missing_tab,
    with_copies,
)

log = logging.getLogger("sheets_sync")


class XlsxBackend(Backend):
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.location = str(self.path)

    def open(self, schema: Schema, *, write: bool) -> XlsxSession:
        return XlsxSession(self.path, schema, write=write)


class XlsxSession(TrackerSession):
    cell_limit = 32_767  # Excel's limit; openpyxl would cut silently
    def __init__(self, path: Path, schema: Schema, *, write: bool) -> None:
        self.path = path
        self.schema = schema
        self.tabs = dict(schema.tabs)
        self.write = write
        self._lock: FileLock | None = None
        if path.suffix.lower() != ".xlsx":
            raise TrackerError(f"{path}: a local tracker must be an .xlsx file")
        # Reading a workbook someone has open is safe (it is read as last saved);
        # writing it is not: their next save would drop what the run wrote.
        self.open_in_office = find_office_lock(path)
        if self.open_in_office is not None:
            if write:
                raise TrackerError(self.open_in_office.refusal(path))
            log.warning("%s", self.open_in_office.reading_note(path))
        if write:
            self._lock = FileLock(str(path) + ".lock")
            try:
                self._lock.acquire(timeout=0)
            except Timeout:
                raise Busy(f"{path}: another sheets-sync run is writing this tracker; "
                           "this run changed nothing, try again when it ends") from None
            _remove_abandoned_saves(path)
        self._repairs: list[tuple] = []  # the structure repairs asked for, to redo on a reload
        try:
            self._seen = _disk_mark(path)
            self.wb = self._load()
        except BaseException:
            self.close()
            raise

    @gc_paused
    def _load(self) -> openpyxl.Workbook:
        if not self.path.exists():
            wb = openpyxl.Workbook()
            wb.remove(wb.active)
            return wb
        try:
            wb = load_workbook(self.path)
            for ws in wb.worksheets:
                _drop_stale_links(ws)
            return wb
        except PermissionError:
            if self.open_in_office is not None and self.open_in_office.app == "Excel":
                # Excel on Windows keeps even readers out.
                raise TrackerError(self.open_in_office.refusal(self.path)) from None
            raise TrackerError(f"{self.path}: permission denied; check the file's permissions") from None
        except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError) as exc:
            raise TrackerError(
                f"{self.path}: not a readable .xlsx workbook ({type(exc).__name__}); restore it "
                "from a backup, or move it away and run `python cli.py init` for a new one") from None

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # -- structure ---------------------------------------------------------------

    def is_new(self) -> bool:
        titles = {normalize_header(t) for t in self.wb.sheetnames}
        return not any(normalize_header(tab.title) in titles for tab in self.schema.tabs.values())

    def use_tabs(self, tabs: Iterable[Tab]) -> None:
        super().use_tabs(tabs)
        # Found by their identity: a tab renamed by a person keeps their title.
        self.tabs.update(find_department_tabs(self.wb, self.tabs))

    def _sheet(self, tab: Tab):
        for title in self.wb.sheetnames:
            if normalize_header(title) == normalize_header(tab.title):
                return self.wb[title]
        return None

    @gc_paused
    def ensure_structure(self, departments: Sequence[Department] = (), *,
                         only: Sequence[str] | None = None, furnish: Sequence[str] = (),
                         cell_editors: Sequence[str] = ()) -> list[str]:
        # A local workbook has no per-person protections: editors matter on Google only.
        self._repairs.append((tuple(departments), only, tuple(furnish)))
        done: list[str] = []
        for tab in list(self.tabs.values()):
            if tab.name in furnish:
                if self._sheet(tab) is not None:
                    self._furnish(self._sheet(tab), tab)
                continue
            if only is not None and tab.name not in only:
                continue
            ws = self._sheet(tab)
            if ws is None:
                ws = self.wb.create_sheet(tab.title)
                if tab.department:
                    mark(ws, tab.name)
                done.append(f"created tab {tab.title!r}")
            header = [_text(c.value) for c in ws[1]] if ws.max_row >= 1 else []
            have = {normalize_header(h): 0 for h in header if h}
            last = max((i + 1 for i, h in enumerate(header) if h.strip()), default=0)
            added = []
            for column in tab.columns:
                if column.index_in(have) is None:  # by any header it is known by
                    last += 1
                    ws.cell(1, last).value = column.header
                    added.append(column.header)
            if added and len(added) < len(tab.columns):
                done.append(f"tab {tab.title!r}: added column(s) {', '.join(added)} at the end")
            self._furnish(ws, tab)
        if departments and (only is None or "departments" in only):
            ws = self._sheet(self.schema.tab("departments"))
            table = self._table(ws)
            have = {r.get("code").strip().upper() for r in table.records(self.schema.tab("departments"))}
            missing = [d for d in departments if d.code not in have]
            if missing:
                self._apply_rows(ws, self.schema.tab("departments"),
                                 [AddRow("departments", d.as_row()) for d in missing])
                done.append(f"added {len(missing)} department(s) to {ws.title!r}")
        return done

    def _furnish(self, ws, tab: Tab) -> None:
        """Render the tab's layout (layout.py): what makes the tab usable."""
        render_layout(ws, tab, self.schema, self._positions(ws))

    def cell_count(self) -> int:
        return sum(ws.max_row * ws.max_column for ws in self.wb.worksheets)

    # -- reading -----------------------------------------------------------------

    @gc_paused
    def read(self, tabs: Sequence[str], *,
             fields: Mapping[str, Sequence[str]] | None = None) -> TrackerRead:
        # The whole workbook is in memory and locked already: fields change nothing.
        out = {}
        for name in tabs:
            tab = self.tab(name)
            ws = self._sheet(tab)
            out[name] = self._table(ws) if ws is not None else Table(tab.title, [])
        return TrackerRead(out, {name: self.tab(name) for name in tabs})

    def _table(self, ws) -> Table:
        # From the cells openpyxl holds, row by row: its iter_rows looks up every
        # position of the sheet's rectangle, empty or not.
        width = ws.max_column
        by_row = _values_by_row(ws)
        first = by_row.get(1, {})
        table = Table(ws.title, [_text(first.get(c)) for c in range(1, width + 1)])
        for number in sorted(by_row):
            if number < 2:
                continue
            cells = by_row[number]
            values = [_text(cells.get(c)) for c in range(1, width + 1)]
            if any(values):
                table.rows.append(values)
                table.row_numbers.append(number)
        return table

    @staticmethod
    def _positions(ws) -> dict[str, int]:
        out: dict[str, int] = {}
        for cell in ws[1]:
            key = normalize_header(_text(cell.value))
            if key and key not in out:
                out[key] = cell.column
        return out

    # -- writing -----------------------------------------------------------------

    @gc_paused
    def apply(self, changes: Sequence[Change]) -> None:
        if not self.write:
            raise TrackerError("this session is read-only (dry run)")
        self._take_in_saves_made_meanwhile()
        self.conflicts = []
        by_tab: dict[str, list[Change]] = {}
        for change in with_copies(changes, self.read_rows, self.tab):
            by_tab.setdefault(change.tab, []).append(change)
        for name, tab_changes in by_tab.items():
            tab = self.tab(name)
            ws = self._sheet(tab)
            if ws is None:
                raise missing_tab(tab)
            if any(isinstance(c, DeleteTab) for c in tab_changes):
                self.wb.remove(ws)
                continue
            for change in tab_changes:
                if isinstance(change, ReplaceRows):
                    replace_rows(ws, tab, change, self._table(ws).records(tab), self._row_writer(ws, tab))
            self._apply_rows(ws, tab, [c for c in tab_changes if isinstance(c, AddRow | UpdateRow)])
            deletes = [c for c in tab_changes if isinstance(c, DeleteRows)]
            if deletes:  # after the updates, which find their rows by key too
                from sheets_sync.backends.xlsx_delete import delete_rows

                delete_rows(ws, tab, deletes, _text)
        self._save()

    def _take_in_saves_made_meanwhile(self) -> None:
        """A person may save the workbook (LibreOffice and Excel ignore the run's file
        lock) between the run's read and its write: then the write starts from the file
        as they saved it, so their edits stay. Rows and columns are found by key and
        header at the write, so the run's changes land where they belong."""
        if _disk_mark(self.path) == self._seen:
            return
        office = find_office_lock(self.path)
        if office is not None:  # their next save would drop this write: write nothing
            raise TrackerError(office.refusal(self.path))
        log.info("%s was saved by someone else during the run; the write starts from their save", self.path)
        self._seen = _disk_mark(self.path)
        self.wb = self._load()
        repairs, self._repairs = self._repairs, []
        for departments, only, furnish in repairs:  # the run's repairs, on their save
            self.ensure_structure(departments, only=only, furnish=furnish)

    def _apply_rows(self, ws, tab: Tab, changes: Sequence[Change]) -> None:
        write = self._row_writer(ws, tab)
        rows_by_key: dict[tuple, int] | None = None
        next_row = _last_used_row(ws) + 1
        for change in changes:
            if isinstance(change, AddRow):
                row = next_row
                next_row += 1
            elif isinstance(change, UpdateRow):
                if rows_by_key is None:
                    rows_by_key = self._rows_by_key(ws, tab, self._positions(ws))
                row = rows_by_key.get(tuple(change.key))
                if row is None:
                    raise TrackerError(f"tab {ws.title!r}: row {change.key} vanished during the run; "
                                       "nothing was written, run again")
                # The row as a person may have saved it meanwhile (see _take_in_saves_made_meanwhile).
                broken = guard_broken(change, lambda f, r=row: _text(ws.cell(r, write.column_of(f)).value))
                if broken is not None:
                    self.conflicts.append(broken)
                    continue
            else:  # pragma: no cover
                raise TypeError(change)
            write(row, change.values)

    def _row_writer(self, ws, tab: Tab) -> _RowWriter:
        """What sets a row's cells of ``ws`` from field → value, in the job's styles."""
        return _RowWriter(ws, tab, self._positions(ws), tab_layout(self.schema, tab), _Styles(self.wb))

    def _rows_by_key(self, ws, tab: Tab, positions: dict[str, int]) -> dict[tuple, int]:
        columns = [tab.index_of(k, positions) for k in tab.key]
        by_row = _values_by_row(ws)
        out: dict[tuple, int] = {}
        for number in sorted(by_row):
            if number < 2:
                continue
            key = tuple(_text(by_row[number].get(c)).strip() for c in columns)
            if all(key):
                out.setdefault(key, number)
        return out

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = None
        try:
            tmp = _new_save_file(self.path)
            _keep_access(self.path, tmp)
            save_workbook(self.wb, tmp)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
            self._seen = _disk_mark(self.path)
        except PermissionError:
            raise TrackerError(f"{self.path}: permission denied while saving; nothing was changed") from None
        except OSError as exc:
            raise TrackerError(f"{self.path}: could not save ({exc.strerror}); nothing was changed") from None
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)


def _drop_stale_links(ws) -> None:
    """A link is only ever on a cell showing its address. A tool that inserted or deleted
    rows without moving the links (openpyxl does so) leaves them on other rows; openpyxl
    then shows a link on an empty cell as its address: such a cell is no row of ours.

    One pass over the cells: asking openpyxl for a row per link (``ws[row]``) measures the
    whole sheet each time, minutes for a tracker of a few thousand links."""
    filled: dict[int, int] = {}
    linked = []
    for (row, _), cell in ws._cells.items():
        if cell.value not in (None, ""):
            filled[row] = filled.get(row, 0) + 1
        if cell.hyperlink is not None:
            linked.append((row, cell))
    for row, cell in linked:
        link = cell.hyperlink
        if _text(cell.value) != (link.target or ""):
            cell.hyperlink = None
        elif filled.get(row, 0) - (cell.value not in (None, "")) == 0:
            cell.hyperlink = None
            cell.value = None


def _last_used_row(ws) -> int:
    last = 1
    for (row, _), cell in ws._cells.items():
        if row > last and cell.value not in (None, ""):
            last = row
    return last


def _values_by_row(ws) -> dict[int, dict[int, object]]:
    """Row → column → value of the cells holding a value, in one pass over the cells."""
    out: dict[int, dict[int, object]] = {}
    for (row, column), cell in ws._cells.items():
        value = cell.value
        if value is not None:
            out.setdefault(row, {})[column] = value
    return out


class _RowWriter:
    """Sets a row's cells of one worksheet from field → value, in the job's styles;
    ``column_of`` finds a field's column (the Content guards look cells up through it)."""

    def __init__(self, ws, tab: Tab, positions: dict[str, int], layout, styles: _Styles) -> None:
        self.ws, self.tab, self.positions, self.styles = ws, tab, positions, styles
        self.columns: dict[str, int] = {}
        # Tall rows read from the top: long text wraps, the rest sits beside its first line.
        self.aligned = {c.field: WRAP if c.wrap else TOP for c in layout.columns if layout.row_height}
        self.links = {c.field for c in layout.columns if c.link}

    def column_of(self, field_name: str) -> int:
        index = self.columns.get(field_name)
        if index is None:
            index = self.tab.index_of(field_name, self.positions)
            if index is None:
                raise TrackerError(f"tab {self.ws.title!r}: column {self.tab.header_of(field_name)!r} not "
                                   "found in row 1; restore the header or run `python cli.py init`")
            self.columns[field_name] = index
        return index

    def __call__(self, row: int, values: Mapping) -> None:
        cell, column_of, styles, aligned, links = (self.ws.cell, self.column_of, self.styles,
                                                   self.aligned, self.links)  # (a hot loop)
        for field_name, value in values.items():
            _set_cell(cell(row, column_of(field_name)), value, styles, align=aligned.get(field_name),
                      link=field_name in links)
