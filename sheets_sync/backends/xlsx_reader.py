"""Loading a tracker workbook with openpyxl, without openpyxl's two slow spots at size.

openpyxl 3.1's own ``load_workbook`` gives the same workbook, but on a tracker of
10,000 comments it spends most of its time in two places (measured, see the
README's "Performance, measured"):

- every hyperlink looks its target up in the sheet's relationships by a linear
  search (``RelationshipList.get``): a tab of N links costs N² comparisons, and
  every comment's Link cell is a link;
- every shared string is built as an openpyxl ``Text`` object to take its text.

Here the relationships are looked up by id and a plain shared string is read
directly (one with formatting runs still goes through ``Text``, which also
decides which runs count). Everything else is openpyxl's: what it keeps of a
workbook is unchanged. openpyxl reads XML with the standard library's parser
whether or not lxml is installed; lxml speeds up its save only.
"""

from __future__ import annotations

import warnings

from openpyxl.cell import Cell, MergedCell
from openpyxl.cell.text import Text
from openpyxl.comments.comment_sheet import CommentSheet
from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
from openpyxl.packaging.relationship import RelationshipList, get_dependents, get_rels_path
from openpyxl.pivot.table import TableDefinition
from openpyxl.reader.drawings import find_images
from openpyxl.reader.excel import ExcelReader
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import column_index_from_string
from openpyxl.worksheet._reader import WorkSheetParser, WorksheetReader, _cast_number
from openpyxl.worksheet.table import Table
from openpyxl.xml.constants import COMMENTS_NS, SHARED_STRINGS, SHEET_MAIN_NS
from openpyxl.xml.functions import fromstring, iterparse

_SI = f"{{{SHEET_MAIN_NS}}}si"
_T = f"{{{SHEET_MAIN_NS}}}t"
_IS = f"{{{SHEET_MAIN_NS}}}is"
_V = f"{{{SHEET_MAIN_NS}}}v"
_DIGITS = "0123456789"
_new_cell = Cell.__new__


def load_workbook(path):
    """The workbook at ``path``, as ``openpyxl.load_workbook(path)`` gives it."""
    reader = _Reader(path)
    reader.read()
    return reader.wb


def read_string_table(source) -> list[str]:
    """The shared strings, as openpyxl's ``read_string_table`` reads them."""
    strings = []
    for _, node in iterparse(source):
        if node.tag != _SI:
            continue
        if len(node) == 1 and node[0].tag == _T:  # plain text, no runs: most strings
            text = node[0].text or ""
        else:
            text = Text.from_tree(node).content
        strings.append(text.replace("x005F_", ""))  # as openpyxl does
        node.clear()
    return strings


class _RelationshipsById:
    """A sheet's relationships, looked up by id in one step (all a link needs)."""

    def __init__(self, rels: RelationshipList) -> None:
        self._by_id = {}
        for rel in rels:
            self._by_id.setdefault(rel.Id, rel)  # the first of an id, as openpyxl's get

    def get(self, key):
        try:
            return self._by_id[key]
        except KeyError:
            raise KeyError(f"Unknown relationship: {key}") from None


class _SheetParser(WorkSheetParser):
    """openpyxl's sheet parser, giving each row's cells as openpyxl's Cell objects.

    The common cells (text inline or shared, a number not shown as a date, a boolean, an
    error, an empty styled cell; no formula) are built here straight from the element;
    any other (a formula, rich text, a date, a cell without its reference, anything
    unexpected) goes through openpyxl's own ``parse_cell``, and its cell is built as
    openpyxl's ``bind_cells`` builds it. Rows, their dimensions and everything else in
    the sheet are openpyxl's."""

    def __init__(self, ws, *args) -> None:
        super().__init__(*args)
        self.ws = ws
        self._styles = ws.parent._cell_styles
        self._columns: dict[str, int] = {}

    def parse_row(self, row):
        number, parsed = super().parse_row(_NoCells(row))
        return number, [self._cell(element) for element in row]

    def _cell(self, element) -> Cell:
        fast = self._fast(element)
        if fast is None:
            found = self.parse_cell(element)
            fast = found["row"], found["column"], found["value"], found["data_type"], found["style_id"]
        row, column, value, data_type, style_id = fast
        cell = _new_cell(Cell)  # what Cell(ws, row, column, style_array=...) makes
        cell.parent = self.ws
        cell._style = StyleArray(self._styles[style_id])
        cell.row, cell.column, cell._value, cell.data_type = row, column, value, data_type
        cell._hyperlink = cell._comment = None
        return cell

    def _fast(self, element):
        """(row, column, value, type, style id) as openpyxl's parse_cell reads the cell, or
        None for a cell to leave to it."""
        place = self._place(element.get("r"))
        style = element.get("s")
        if place is None or not (style is None or (style.isascii() and style.isdigit())):
            return None
        style_id = int(style) if style else 0
        data_type = element.get("t", "n")
        if data_type == "inlineStr":
            if self.rich_text or len(element) != 1 or element[0].tag != _IS:
                return None
            child = element[0]
            if len(child) != 1 or child[0].tag != _T:
                return None
            value, data_type = child[0].text or "", "s"
        else:
            if len(element) > 1 or (len(element) == 1 and element[0].tag != _V):
                return None  # a formula, or something openpyxl knows better
            value = (element[0].text or None) if len(element) else None
            if value is not None:
                if data_type == "n" and style_id in self.date_formats or data_type not in _TYPES:
                    return None
                value, data_type = _TYPES[data_type](self, value)
        self.col_counter = place[1]
        return place[0], place[1], value, data_type, style_id

    def _place(self, coordinate: str | None) -> tuple[int, int] | None:
        """A cell reference ("AB12") as (row, column); None for anything else."""
        if not coordinate:
            return None
        letters = coordinate.rstrip(_DIGITS)
        column = self._columns.get(letters)
        if column is None:
            if not (letters.isascii() and letters.isalpha() and letters.isupper() and len(letters) <= 3):
                return None
            column = self._columns[letters] = column_index_from_string(letters)
        digits = coordinate[len(letters):]
        if not digits or not digits.isascii() or not digits.isdigit():
            return None
        return int(digits), column


# A cell's value by its type, as openpyxl's parse_cell reads it (a number shown as a date
# and the types not here are left to it).
_TYPES = {
    "n": lambda parser, value: (_cast_number(value), "n"),
    "s": lambda parser, value: (parser.shared_strings[int(value)], "s"),
    "b": lambda parser, value: (bool(int(value)), "b"),
    "str": lambda parser, value: (value, "s"),
    "e": lambda parser, value: (value, "e"),
}


class _NoCells:
    """A row element as openpyxl's parse_row sees it, with its cells left out: its own
    code reads the row's attributes (number, height, style) and the cells are read above."""

    def __init__(self, row) -> None:
        self.attrib = row.attrib

    def __iter__(self):
        return iter(())


class _WorksheetReader(WorksheetReader):
    def __init__(self, ws, xml_source, shared_strings, data_only, rich_text):
        super().__init__(ws, xml_source, shared_strings, data_only, rich_text)
        self.parser = _SheetParser(ws, xml_source, shared_strings, data_only, ws.parent.epoch,
                                   ws.parent._date_formats, ws.parent._timedelta_formats, rich_text)

    def bind_cells(self):
        # openpyxl's bind_cells, with the cells already built by the parser.
        cells = self.ws._cells
        for _, row in self.parser.parse():
            for cell in row:
                cells[(cell.row, cell.column)] = cell
        if cells:
            self.ws._current_row = self.ws.max_row  # use cells not row dimensions

    def bind_hyperlinks(self):
        rels = self.ws._rels
        self.ws._rels = _RelationshipsById(rels)
        try:
            super().bind_hyperlinks()
        finally:
            self.ws._rels = rels


class _Reader(ExcelReader):
    def __init__(self, path) -> None:
        super().__init__(path, read_only=False, keep_vba=False, data_only=False, keep_links=True,
                         rich_text=False)

    def read_strings(self):
        found = self.package.find(SHARED_STRINGS)
        if found is not None:
            with self.archive.open(found.PartName[1:]) as source:
                self.shared_strings = read_string_table(source)

    def read_worksheets(self):
        # openpyxl 3.1.5's ExcelReader.read_worksheets, with its WorksheetReader replaced
        # by the one above (read_only and keep_vba, never used here, left out).
        for sheet, rel in self.parser.find_sheets():
            if rel.target not in self.valid_files:
                continue
            if "chartsheet" in rel.Type:
                self.read_chartsheet(sheet, rel)
                continue
            rels_path = get_rels_path(rel.target)
            rels = RelationshipList()
            if rels_path in self.valid_files:
                rels = get_dependents(self.archive, rels_path)
            with self.archive.open(rel.target) as fh:
                ws = self.wb.create_sheet(sheet.name)
                ws._rels = rels
                ws_parser = _WorksheetReader(ws, fh, self.shared_strings, self.data_only, self.rich_text)
                ws_parser.bind_all()
            self._bind_parts(ws, ws_parser, rels)
            ws.sheet_state = sheet.state

    def _bind_parts(self, ws, ws_parser, rels) -> None:
        for r in rels.find(COMMENTS_NS):
            comment_sheet = CommentSheet.from_tree(fromstring(self.archive.read(r.target)))
            for ref, comment in comment_sheet.comments:
                try:
                    ws[ref].comment = comment
                except AttributeError:
                    if isinstance(ws[ref], MergedCell):
                        warnings.warn(f"Cell '{ws.title}':{ws[ref].coordinate} is part of a merged "
                                      "range but has a comment which will be removed", stacklevel=2)
        ws.legacy_drawing = None
        for t in ws_parser.tables:
            ws.add_table(Table.from_tree(fromstring(self.archive.read(t))))
        for rel in rels.find(SpreadsheetDrawing._rel_type):
            charts, images = find_images(self.archive, rel.target)
            for c in charts:
                ws.add_chart(c, c.anchor)
            for im in images:
                ws.add_image(im, im.anchor)
        pivot_caches = self.parser.pivot_caches
        for r in rels.find(TableDefinition.rel_type):
            pivot = TableDefinition.from_tree(fromstring(self.archive.read(r.target)))
            pivot.cache = pivot_caches[pivot.cacheId]
            ws.add_pivot(pivot)
