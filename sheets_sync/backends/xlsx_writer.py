"""Saving a tracker workbook with openpyxl, without its slow spot at size: the cells.

openpyxl 3.1 writes every cell through lxml's incremental writer, one Python
``with`` block per element (three or four per cell): on a tracker of 13,000
comments that is most of the save. Here the cells of a row are put together as
one XML string, parsed by lxml in one step and handed to the same incremental
writer, so what reaches the file is lxml's serialization of the same elements
openpyxl would have written. Only the common cells take that way (plain text,
numbers, booleans, empty styled cells); any other cell (a formula, rich text, a
date, an error, a string lxml would refuse) is built by openpyxl's own cell
writer. Everything else in the file (styles, widths, validations, links, notes)
is openpyxl's writer unchanged.
"""

from __future__ import annotations

import datetime
import re
from math import isinf, isnan
from zipfile import ZIP_DEFLATED, ZipFile

from lxml import etree
from openpyxl.cell._writer import etree_write_cell
from openpyxl.comments.comment_sheet import CommentRecord
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.writer.excel import ExcelWriter

# What the fast way leaves to openpyxl: characters XML cannot hold (openpyxl, through
# lxml, refuses them with its own error) and lone surrogates.
_UNUSUAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# A parser turns a raw CR into LF; lxml writes a CR in text as &#13;, so the same here.
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTR_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;",
                               "\n": "&#10;", "\t": "&#9;"})
_ROWS_AT_ONCE = 500  # rows parsed in one go: few parser calls, little memory


def save_workbook(workbook, filename) -> None:
    """``workbook.save(filename)``, with the cells written the fast way."""
    if workbook.read_only or workbook.write_only:
        workbook.save(filename)  # never so here; openpyxl's own rules for them
        return
    archive = ZipFile(filename, "w", ZIP_DEFLATED, allowZip64=True)
    workbook.properties.modified = datetime.datetime.now(tz=datetime.UTC).replace(tzinfo=None)
    _ExcelWriter(workbook, archive).save()


class _ExcelWriter(ExcelWriter):
    def write_worksheet(self, ws):
        # openpyxl 3.1.5's ExcelWriter.write_worksheet, with the worksheet writer below.
        from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing

        ws._drawing = SpreadsheetDrawing()
        ws._drawing.charts = ws._charts
        ws._drawing.images = ws._images
        writer = _WorksheetWriter(ws)
        writer.write()
        ws._rels = writer._rels
        self._archive.write(writer.out, ws.path[1:])
        self.manifest.append(ws)
        writer.cleanup()


class _WorksheetWriter(WorksheetWriter):
    def write_rows(self):
        xf = self.xf.send(True)
        with xf.element("sheetData"):
            batch: list[str] = []
            for row_idx, row in self.rows():
                batch.append(self._row_xml(row, row_idx))
                if len(batch) >= _ROWS_AT_ONCE:
                    _write_parsed(xf, batch)
                    batch = []
            _write_parsed(xf, batch)
        self.xf.send(None)  # return control to openpyxl's generator

    def _row_xml(self, row, row_idx) -> str:
        attrs = {"r": f"{row_idx}"}
        attrs.update(self.ws.row_dimensions.get(row_idx, {}))
        parts = ["<row", *(f' {k}="{str(v).translate(_ATTR_ESCAPES)}"' for k, v in attrs.items()), ">"]
        for cell in row:
            if cell._comment is not None:
                self.ws._comments.append(CommentRecord.from_cell(cell))
            styled = cell.has_style
            if cell._value is None and not styled and not cell._comment:
                continue
            parts.append(_cell_xml(self.ws, cell, styled))
        parts.append("</row>")
        return "".join(parts)


def _write_parsed(xf, rows: list[str]) -> None:
    if rows:
        for row in etree.fromstring("<x>" + "".join(rows) + "</x>"):
            xf.write(row)


def _cell_xml(ws, cell, styled) -> str:
    """The cell's XML as openpyxl's cell writer makes it."""
    value, kind = cell._value, cell.data_type
    if cell.hyperlink:
        ws._hyperlinks.append(cell.hyperlink)
    head = f'<c r="{cell.coordinate}"' + (f' s="{cell.style_id}"' if styled else "")
    if kind == "s" and type(value) is str and not _UNUSUAL.search(value):
        if value == "":
            return head + ' t="inlineStr"/>'
        space = ' xml:space="preserve"' if value != value.strip() else ""
        return f'{head} t="inlineStr"><is><t{space}>{value.translate(_ESCAPES)}</t></is></c>'
    if kind == "n" and type(value) in (int, float):
        if isnan(value) or isinf(value):
            return head + ' t="n"><v></v></c>'
        return f'{head} t="n"><v>{value:.16g}</v></c>'
    if kind == "b" and type(value) is bool:
        return f'{head} t="b"><v>{value:.16g}</v></c>'
    if value is None and kind in ("s", "n"):
        return f'{head} t="{kind}"/>'
    return _openpyxl_cell_xml(ws, cell, styled)


class _Collect:
    def write(self, element):
        self.element = element


def _openpyxl_cell_xml(ws, cell, styled) -> str:
    # openpyxl's own cell writer (its ElementTree form, same elements) for the rare cell;
    # it adds the cell's link itself, so the link added above is taken back first.
    if cell.hyperlink:
        ws._hyperlinks.pop()
    out = _Collect()
    etree_write_cell(out, ws, cell, styled)
    return etree.tostring(out.element, encoding="unicode")
