"""A workbook cell as the job writes and reads it: text stays text, links are links.

The job's few styles are looked up once per write (see ``_Styles``); a value is
escaped as OOXML needs (a raw carriage return, characters XML cannot hold) and
read back as the text a person sees.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time

from openpyxl.styles import Alignment, Font
from openpyxl.styles.cell_style import StyleArray

from sheets_sync.layout import is_link
from sheets_sync.table import is_number
from sheets_sync.timeutil import SHEET_FORMAT

# Characters XML 1.0 cannot hold; openpyxl refuses them. Shown as U+FFFD.
_ILLEGAL = {c: "\ufffd" for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]}
_LINK_FONT = Font(color="0563C1", underline="single")
_PLAIN_FONT = Font()


# XML readers turn a raw carriage return into a line feed; OOXML's escape
# _xHHHH_ keeps it, and a literal "_x0041_" a citizen typed is escaped in turn.
_OOXML_ESCAPE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")
_OOXML_UNESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _escape(text: str) -> str:
    return _OOXML_ESCAPE.sub(r"_x005F_\1", text).replace("\r", "_x000D_")


def _unescape(text: str) -> str:
    return _OOXML_UNESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


class _Styles:
    """The ids of the few styles the job sets, looked up once per write. openpyxl looks a
    style up by hashing it on every cell it is set on: a third of the time of a write of
    1,000 comments and their departments' tabs, for the same three or four styles."""

    def __init__(self, wb) -> None:
        self.wb = wb
        self._ids: dict[tuple[str, int], int] = {}

    def set(self, cell, collection: str, key: str, value) -> None:
        found = self._ids.get((collection, id(value)))
        if found is None:
            found = self._ids[(collection, id(value))] = getattr(self.wb, collection).add(value)
        if not cell._style:  # as openpyxl's StyleDescriptor does
            cell._style = StyleArray()
        setattr(cell._style, key, found)


def _set_cell(cell, value, styles: _Styles, *, align: Alignment | None = None, link: bool = False) -> None:
    if is_number(value):  # the job's own figures: a number cell (see table.CellValue)
        cell.value = value
        if align is not None:
            styles.set(cell, "_alignments", "alignmentId", align)
        return
    text = _escape(str(value).translate(_ILLEGAL))
    cell.value = text if text else None
    if align is not None:
        styles.set(cell, "_alignments", "alignmentId", align)
    if link:
        # A real hyperlink on the cell, only for a web address; its text stays the value.
        cell.hyperlink = str(value).strip() if text and is_link(str(value)) else None
        styles.set(cell, "_fonts", "fontId", _LINK_FONT if cell.hyperlink is not None else _PLAIN_FONT)
    if text:
        # openpyxl turns a string starting with "=" into a formula; citizen text
        # must stay text, and the quote prefix tells Excel/LibreOffice so too.
        cell.data_type = "s"
        if text[0] in "=+-@":
            cell.quotePrefix = True


def _text(value) -> str:
    """A cell's value as the text a person sees."""
    if value is None:
        return ""
    if isinstance(value, str):
        return _unescape(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.strftime(SHEET_FORMAT)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
