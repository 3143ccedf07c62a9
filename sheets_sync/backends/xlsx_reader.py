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

from openpyxl.cell import MergedCell
from openpyxl.cell.text import Text
from openpyxl.comments.comment_sheet import CommentSheet
from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
from openpyxl.packaging.relationship import RelationshipList, get_dependents, get_rels_path
from openpyxl.pivot.table import TableDefinition
from openpyxl.reader.drawings import find_images
from openpyxl.reader.excel import ExcelReader
from openpyxl.utils import coordinate_to_tuple
from openpyxl.worksheet._reader import WorkSheetParser, WorksheetReader
from openpyxl.worksheet.table import Table
from openpyxl.xml.constants import COMMENTS_NS, SHARED_STRINGS, SHEET_MAIN_NS
from openpyxl.xml.functions import fromstring, iterparse

_SI = f"{{{SHEET_MAIN_NS}}}si"
_T = f"{{{SHEET_MAIN_NS}}}t"
_IS = f"{{{SHEET_MAIN_NS}}}is"
_F = f"{{{SHEET_MAIN_NS}}}f"


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
    def parse_cell(self, element):
        # A plain text cell as openpyxl writes it (an inline string of one run, no
        # formula): its text directly. Anything else, openpyxl's own way.
        coordinate = element.get("r")
        if element.get("t") != "inlineStr" or not coordinate or self.rich_text:
            return super().parse_cell(element)
        child = element.find(_IS)
        if child is None or len(child) != 1 or child[0].tag != _T or element.find(_F) is not None:
            return super().parse_cell(element)
        row, column = coordinate_to_tuple(coordinate)
        self.col_counter = column
        style_id = element.get("s", 0)
        return {"row": row, "column": column, "value": child[0].text or "", "data_type": "s",
                "style_id": int(style_id) if style_id else 0}


class _WorksheetReader(WorksheetReader):
    def __init__(self, ws, xml_source, shared_strings, data_only, rich_text):
        super().__init__(ws, xml_source, shared_strings, data_only, rich_text)
        self.parser = _SheetParser(xml_source, shared_strings, data_only, ws.parent.epoch,
                                   ws.parent._date_formats, ws.parent._timedelta_formats, rich_text)

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
