"""A tab's layout (layout.py) rendered on a workbook's worksheet with openpyxl."""

from __future__ import annotations

from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from sheets_sync.layout import ColumnLayout, PrintSetup, TabLayout, tab_layout
from sheets_sync.schema import Schema, Tab

HEADER_FILL = PatternFill("solid", fgColor="DDE7F0")
PEOPLE_FILL = PatternFill("solid", fgColor="FFF2CC")
DV_TITLE = "sheets-sync"  # marks the job's dropdowns, replaced on every repair
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")


def render_layout(ws, tab: Tab, schema: Schema, positions: dict[str, int]) -> None:
    """Render the tab's layout on a worksheet whose header row has its columns at
    ``positions`` (normalised header → 1-based column): what makes the tab usable."""
    layout = tab_layout(schema, tab)
    ws.sheet_state = "hidden" if layout.hidden else "visible"
    _freeze(ws, ws.cell(1 + layout.frozen_rows, 1 + layout.frozen_columns).coordinate)
    found = [(c, i) for c, i in ((c, tab.column(c.field).index_in(positions)) for c in layout.columns)
             if i is not None]
    for column, index in found:
        _column(ws, column, index, bool(layout.row_height))
    _dropdowns(ws, found)
    _row_colours(ws, tab, layout, schema, positions)
    if layout.row_height:
        ws.sheet_format.defaultRowHeight = layout.row_height
        ws.sheet_format.customHeight = True
    if layout.row_height or ws.row_dimensions[1].height is None:
        # Two-language headers wrap: one line high, LibreOffice and Excel cut the second
        # (a height a person set on another tab's header is theirs).
        ws.row_dimensions[1].height = layout.header_height
    if layout.print_setup:
        _print_setup(ws, layout.print_setup, layout.frozen_rows,
                     tab.column(layout.print_setup.through).index_in(positions)
                     if layout.print_setup.through else None)
    if ws.max_row >= 1 and ws.max_column >= 1:
        ws.auto_filter.ref = f"A1:{get_column_letter(ws.max_column)}{max(ws.max_row, 2)}"


def _freeze(ws, top_left: str) -> None:
    """Freeze the panes above and left of ``top_left``. openpyxl's setter adds two
    selections to the sheet view each time it freezes rows and columns: furnished on
    every run, the view of a year-old tracker held thousands. One per pane is kept."""
    ws.freeze_panes = top_left
    seen: set = set()
    ws.sheet_view.selection = [s for s in ws.sheet_view.selection
                               if not (s.pane in seen or seen.add(s.pane))]


def _column(ws, column: ColumnLayout, index: int, tall: bool) -> None:
    letter = get_column_letter(index)
    ws.column_dimensions[letter].width = round(column.width / 7)
    ws.column_dimensions[letter].hidden = column.hidden
    if tall:
        # The column's style: what people type in a new row wraps too (Excel, LibreOffice).
        ws.column_dimensions[letter].alignment = WRAP if column.wrap else TOP
    head = ws.cell(1, index)
    head.font = Font(bold=True)
    head.fill = PEOPLE_FILL if column.people else HEADER_FILL
    head.alignment = Alignment(wrap_text=True, vertical="top")


def _dropdowns(ws, found: list[tuple[ColumnLayout, int]]) -> None:
    ws.data_validations.dataValidation = [
        dv for dv in ws.data_validations.dataValidation if dv.promptTitle != DV_TITLE]
    for column, index in found:
        # A workbook has no tick box that both Excel and LibreOffice keep: TRUE / FALSE.
        choices = ("TRUE", "FALSE") if column.checkbox else column.choices
        if not choices:
            continue
        letter = get_column_letter(index)
        dv = DataValidation(type="list", formula1='"' + ",".join(choices) + '"',
                            allow_blank=True, showErrorMessage=True,
                            promptTitle=DV_TITLE, errorTitle=column.header[:32],
                            error=f"Choose one of: {', '.join(choices)}",
                            prompt=column.help[:255] or None, showInputMessage=bool(column.help))
        dv.add(f"{letter}2:{letter}1048576")
        ws.add_data_validation(dv)


def _row_colours(ws, tab: Tab, layout: TabLayout, schema: Schema, positions: dict[str, int]) -> None:
    letters = {k: get_column_letter(v) for k, v in positions.items()}
    have = {str(r.formula) for rs in ws.conditional_formatting for r in rs.rules}
    width = get_column_letter(max(ws.max_column, len(tab.columns)))
    for rule in layout.row_rules(tab, letters, schema):
        if any(rule.mark in f for f in have):  # added before, perhaps at other letters
            continue
        # stopIfTrue: an overdue row is red, not amber as well.
        ws.conditional_formatting.add(f"A2:{width}1048576", FormulaRule(
            formula=[rule.formula], fill=PatternFill("solid", fgColor=rule.colour), stopIfTrue=True))


def _print_setup(ws, setup: PrintSetup, header_rows: int, last: int | None) -> None:
    """A4 landscape, one page wide, the header on every page (Google has no such settings);
    only the columns up to ``last`` (1-based) when given."""
    if setup.paper == "A4":
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if setup.landscape else "portrait"
    ws.page_setup.fitToWidth = setup.pages_wide
    ws.page_setup.fitToHeight = 0  # as many pages down as the rows need
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    if setup.repeat_header:
        ws.print_title_rows = f"1:{header_rows}"
    if last:
        ws.print_area = f"A1:{get_column_letter(last)}1048576"  # (rows yet to come too)
