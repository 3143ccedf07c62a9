"""One harness per backend, so every engine test runs against both.

A harness builds the backend and plays the part of the people: it types in
cells, sorts, inserts rows and moves columns the way a person would, going
around the job (openpyxl on the workbook; the fake's own API on Google).
"""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl

from sheets_sync.backends.xlsx import XlsxBackend, _text

_DEVANAGARI = re.compile("[\u0900-\u097F]")


def english_header(text) -> str:
    """A header as the tests name it: its English part ("स्थिती / Status" → "Status").

    The shipped schema shows headers in Marathi and English; the tests look columns up by
    the English header, as the schema's ``header:`` gives it. ``raw_values`` shows the
    headers as they are."""
    text = "" if text is None else str(text)
    if " / " not in text:
        return text
    parts = [p for p in text.split(" / ") if not _DEVANAGARI.search(p)]
    return parts[0] if len(parts) == 1 else text


def _english_head(rows: list[list[str]]) -> list[list[str]]:
    return [[english_header(h) for h in rows[0]], *rows[1:]] if rows else rows


class XlsxHarness:
    kind = "xlsx"

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "tracker.xlsx"
        self.tracker_arg = str(self.path)
        self.env: dict[str, str] = {}

    def backend(self):
        return XlsxBackend(self.path)

    # -- looking -------------------------------------------------------------
    def values(self, title: str) -> list[list[str]]:
        return _english_head(self.raw_values(title))

    def raw_values(self, title: str) -> list[list[str]]:
        wb = openpyxl.load_workbook(self.path)
        ws = wb[title]
        rows = [[_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
        while rows and not any(rows[-1]):
            rows.pop()
        return [r[: _width(rows)] for r in rows]

    def tab_titles(self) -> list[str]:
        return openpyxl.load_workbook(self.path).sheetnames

    def raw_cell(self, title: str, key_header: str, key: str, header: str):
        """(value, is_formula) as stored."""
        wb = openpyxl.load_workbook(self.path)
        ws = wb[title]
        head = [english_header(c.value) for c in ws[1]]
        k, h = head.index(key_header) + 1, head.index(header) + 1
        for row in range(2, ws.max_row + 1):
            if ws.cell(row, k).value == key:
                cell = ws.cell(row, h)
                return cell.value, cell.data_type == "f"
        raise KeyError(key)

    # -- people's edits ----------------------------------------------------------
    def _edit(self, fn) -> None:
        wb = openpyxl.load_workbook(self.path)
        fn(wb)
        wb.save(self.path)

    def type_in(self, title: str, key_header: str, key: str, header: str, value: str) -> None:
        def edit(wb):
            ws = wb[title]
            head = [english_header(c.value) for c in ws[1]]
            k, h = head.index(key_header) + 1, head.index(header) + 1
            for row in range(2, ws.max_row + 1):
                if ws.cell(row, k).value == key:
                    ws.cell(row, h).value = value
                    return
            raise KeyError(key)
        self._edit(edit)

    def sort(self, title: str, header: str, *, descending: bool = False) -> None:
        def edit(wb):
            ws = wb[title]
            head = [english_header(c.value) for c in ws[1]]
            h = head.index(header)
            rows = [list(r) for r in ws.iter_rows(min_row=2, values_only=True) if any(r)]
            rows.sort(key=lambda r: str(r[h] or ""), reverse=descending)
            for r in range(2, ws.max_row + 1):
                for c in range(1, ws.max_column + 1):
                    ws.cell(r, c).value = None
            for i, row in enumerate(rows, start=2):
                for j, v in enumerate(row, start=1):
                    ws.cell(i, j).value = v
        self._edit(edit)

    def insert_rows(self, title: str, at: int, count: int = 1) -> None:
        self._edit(lambda wb: wb[title].insert_rows(at, count))

    def delete_row(self, title: str, at: int) -> None:
        self._edit(lambda wb: wb[title].delete_rows(at, 1))

    def move_column(self, title: str, header: str, to: int) -> None:
        """Move the column with ``header`` to 1-based position ``to``."""
        def edit(wb):
            ws = wb[title]
            grid = [list(r) for r in ws.iter_rows(values_only=True)]
            h = [english_header(v) for v in grid[0]].index(header)
            for row in grid:
                row += [None] * (len(grid[0]) - len(row))
                row.insert(to - 1, row.pop(h))
            for i, row in enumerate(grid, start=1):
                for j, v in enumerate(row, start=1):
                    ws.cell(i, j).value = v
        self._edit(edit)

    def rename_header(self, title: str, old: str, new: str) -> None:
        def edit(wb):
            for cell in wb[title][1]:
                if english_header(cell.value) == old:
                    cell.value = new
        self._edit(edit)

    def delete_tab(self, title: str) -> None:
        self._edit(lambda wb: wb.remove(wb[title]))


def _width(rows: list[list[str]]) -> int:
    return max((max((i + 1 for i, v in enumerate(r) if v), default=0) for r in rows), default=0)


def records(values: list[list[str]]) -> list[dict[str, str]]:
    """Rows of a tab as header → value."""
    if not values:
        return []
    header = values[0]
    return [dict(zip(header, row + [""] * (len(header) - len(row)), strict=False)) for row in values[1:]
            if any(row)]


OWNER = "cell.head@mahapalika.example"  # owns the spreadsheet, as the cell does
# The cell's staffer: may edit everything, sorts and rearranges the master tabs.
PERSON = "socialmedia.cell@mahapalika.example"


class GoogleHarness:
    """A spreadsheet on the local Sheets API fake, reached by the real gspread and google-auth."""

    kind = "google"

    @classmethod
    def make(cls, request, tmp_path: Path) -> GoogleHarness:
        server = request.getfixturevalue("fake_sheets_env")
        key = request.getfixturevalue("service_account_key")
        from tests.fake_sheets_fixtures import JOB_EMAIL

        return cls(server, key, JOB_EMAIL)

    def __init__(self, server, key: Path, job_email: str) -> None:
        self.server = server
        self.key = key
        self.sid = server.create_spreadsheet("Social media tracker", OWNER)
        server.share(self.sid, job_email, "writer")
        server.share(self.sid, PERSON, "writer")
        self.tracker_arg = self.sid
        self.env = {"SHEETS_SYNC_API_ENDPOINT": server.url, "GOOGLE_APPLICATION_CREDENTIALS": str(key)}
        self.person = server.as_user(PERSON)

    def backend(self):
        from sheets_sync.backends.gsheets import GoogleSheetsBackend

        return GoogleSheetsBackend(self.sid, credentials=str(self.key), sleep=lambda s: None)

    # -- looking -------------------------------------------------------------
    def values(self, title: str) -> list[list[str]]:
        return _english_head(self.raw_values(title))

    def raw_values(self, title: str) -> list[list[str]]:
        rows = [[str(v) for v in r] for r in self.server.get_values(self.sid, _q(title))]
        width = _width(rows)
        return [r + [""] * (width - len(r)) for r in rows]

    def tab_titles(self) -> list[str]:
        return [s.title for s in self.server.spreadsheet(self.sid).ordered_sheets()]

    def raw_cell(self, title: str, key_header: str, key: str, header: str):
        row, col = self._find(title, key_header, key, header)
        cell = self.server.spreadsheet(self.sid).sheet_by_title(title).get(row, col)
        value = self.server.get_values(self.sid, f"{_q(title)}!{_letter(col)}{row + 1}", "FORMULA")
        return value[0][0], cell.formula is not None

    def _find(self, title: str, key_header: str, key: str, header: str) -> tuple[int, int]:
        rows = self.values(title)
        k, h = rows[0].index(key_header), rows[0].index(header)
        for i, row in enumerate(rows[1:], start=1):
            if row[k] == key:
                return i, h
        raise KeyError(key)

    # -- people's edits ----------------------------------------------------------
    def type_in(self, title, key_header, key, header, value) -> None:
        row, col = self._find(title, key_header, key, header)
        self.person.edit(self.sid, f"{_q(title)}!{_letter(col)}{row + 1}", [[value]], raw=True)

    def sort(self, title, header, *, descending=False) -> None:
        col = self.values(title)[0].index(header)
        self.person.sort(self.sid, title, col, ascending=not descending)

    def insert_rows(self, title, at, count=1) -> None:
        self.person.insert_rows(self.sid, title, at - 1, count)

    def delete_row(self, title, at) -> None:
        self.person.delete_rows(self.sid, title, at - 1, 1)

    def move_column(self, title, header, to) -> None:
        h = self.values(title)[0].index(header)
        target = to - 1
        self.person.move_columns(self.sid, title, h, 1, target if target < h else target + 1)

    def rename_header(self, title, old, new) -> None:
        col = self.values(title)[0].index(old)
        self.person.edit(self.sid, f"{_q(title)}!{_letter(col)}1", [[new]], raw=True)

    def delete_tab(self, title) -> None:
        self.person.delete_sheet(self.sid, title)


def _q(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def _letter(col: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(col + 1)


def shown_header(english: str, tab: str = "comments") -> str:
    """The header the shipped schema gives a column, named by its English header: what
    the job's messages quote ("टिप्पणीची वेळ / Commented at (IST)")."""
    from sheets_sync.schema import load_schema

    schema = load_schema()
    columns = schema.pending_tab.columns if tab == "pending" else schema.tab(tab).columns
    return next(c.header for c in columns if c.english == english)
