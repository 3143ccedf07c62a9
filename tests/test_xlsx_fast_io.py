"""The fast save (backends/xlsx_writer.py) writes what openpyxl's own save writes.

Every worksheet part of a workbook holding what a person may set is compared,
canonicalized, between openpyxl's save and the fast one, and the two files are
read back by openpyxl and compared cell by cell (value, type, style, link, note).
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from datetime import date, datetime, time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from openpyxl import Workbook, load_workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont
from openpyxl.comments import Comment
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.worksheet.datavalidation import DataValidation

from sheets_sync.backends.xlsx_reader import load_workbook as fast_load
from sheets_sync.backends.xlsx_writer import save_workbook

TEXTS = ["plain", " leading", "trailing ", "_x0041_ typed", "a\rb", "a\r\nb", "line\nbreak", "tab\there",
         "कचरा उचला", "पानी नहीं आया", "🙏🏽 thanks", "<b>&amp; \"q\" 'a'</b>", "=1+1 as text", "", "x" * 500]


def everything(ws) -> None:
    for n, text in enumerate(TEXTS, 1):
        ws.cell(n, 1, text)
    ws["B1"], ws["B2"], ws["B3"], ws["B4"] = 42, -3.25, 1e-20, 12345678901234567
    ws["B5"], ws["B6"] = True, False
    ws["B7"], ws["B8"], ws["B9"] = datetime(2026, 12, 2, 9, 30), date(2026, 1, 31), time(7, 5)
    ws["B10"] = float("nan")
    ws["C1"] = "=SUM(B1:B2)"  # a formula a person typed: kept as a formula
    ws["C2"] = CellRichText(["bold ", TextBlock(InlineFont(b=True), "part"), " end"])
    ws["C3"] = "#N/A"
    ws["C4"].number_format = "0.00%"  # styled, empty
    ws["D1"].font = Font(bold=True, color="FF0000", name="Noto Sans Devanagari")
    ws["D1"] = "styled"
    ws["D2"].fill = PatternFill("solid", fgColor="FFFF00")
    ws["D2"] = 7
    ws["D3"].border = Border(left=Side("thin"), bottom=Side("double"))
    ws["D3"].alignment = Alignment(wrap_text=True, vertical="top")
    ws["D3"] = "wrapped text " * 5
    ws["D4"] = "quoted"
    ws["D4"].quotePrefix = True
    ws["E1"] = "https://fb.example/c/1"
    ws["E1"].hyperlink = "https://fb.example/c/1"
    ws["E2"] = "noted"
    ws["E2"].comment = Comment("a person's note", "officer")
    ws.column_dimensions["A"].width = 55
    ws.row_dimensions[3].height = 40
    ws.row_dimensions[30].height = 12  # a styled row with no cells
    ws.freeze_panes = "B2"
    dv = DataValidation(type="list", formula1='"Pending,Replied"')
    ws.add_data_validation(dv)
    dv.add("F1:F100")
    ws.conditional_formatting.add("B1:B9", CellIsRule(operator="lessThan", formula=["0"],
                                                      fill=PatternFill("solid", fgColor="FFC7CE")))
    ws.merge_cells("G1:H2")
    ws["G1"] = "merged"
    ws["Z5"] = "their own extra column"


def build(tmp_path):
    wb = Workbook()
    everything(wb.active)
    wb.active.title = "Comments"
    extra = wb.create_sheet("Their tab")
    extra["A1"], extra["B1"] = "own notes", 3
    return wb


def sheet_parts(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: etree.tostring(etree.fromstring(z.read(n)), method="c14n")
                for n in z.namelist() if n.endswith(".xml") or n.endswith(".rels") or n.endswith(".vml")
                if not n.startswith("docProps/")}


def cells(path) -> dict:
    wb = load_workbook(path, rich_text=True)
    out = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                out[ws.title, c.coordinate] = (
                    c.value if not isinstance(c.value, CellRichText) else str(c.value), c.data_type,
                    c.number_format, repr(c.font), repr(c.fill), repr(c.border), repr(c.alignment),
                    c.quotePrefix, c.hyperlink.target if c.hyperlink else None,
                    c.comment.text if c.comment else None)
        out[ws.title, "layout"] = (ws.freeze_panes, ws.column_dimensions["A"].width,
                                   ws.row_dimensions[3].height, str(ws.merged_cells),
                                   [str(d.sqref) for d in ws.data_validations.dataValidation],
                                   [str(r.sqref) for r in ws.conditional_formatting])
    return out


def test_the_fast_save_writes_what_openpyxl_writes(tmp_path):
    build(tmp_path).save(tmp_path / "openpyxl.xlsx")
    save_workbook(build(tmp_path), tmp_path / "fast.xlsx")
    assert sheet_parts(tmp_path / "fast.xlsx") == sheet_parts(tmp_path / "openpyxl.xlsx")
    assert cells(tmp_path / "fast.xlsx") == cells(tmp_path / "openpyxl.xlsx")


def test_a_workbook_loaded_and_saved_keeps_everything(tmp_path):
    build(tmp_path).save(tmp_path / "start.xlsx")
    load_workbook(tmp_path / "start.xlsx").save(tmp_path / "openpyxl.xlsx")
    save_workbook(fast_load(tmp_path / "start.xlsx"), tmp_path / "fast.xlsx")
    assert sheet_parts(tmp_path / "fast.xlsx") == sheet_parts(tmp_path / "openpyxl.xlsx")
    assert cells(tmp_path / "fast.xlsx") == cells(tmp_path / "openpyxl.xlsx")
    ws = load_workbook(tmp_path / "fast.xlsx")["Comments"]
    assert [ws.cell(n, 1).value for n in range(1, len(TEXTS) + 1)] == [t or None for t in TEXTS]
    assert ws["C1"].value == "=SUM(B1:B2)" and ws["C1"].data_type == "f"


def test_a_string_xml_cannot_hold_is_refused_as_openpyxl_refuses_it(tmp_path):
    wb = Workbook()
    wb.active["A1"] = "fine"
    wb.active["A1"]._value = "bell \x07"  # past openpyxl's own check on assignment
    with pytest.raises(ValueError):
        save_workbook(wb, tmp_path / "fast.xlsx")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\ufffe\uffff"
                                      + "".join(map(chr, [*range(1, 9), 11, 12, *range(14, 32)]))),
                        max_size=40), min_size=1, max_size=8))
def test_any_text_comes_back_as_openpyxl_saves_it(tmp_path_factory, texts):
    tmp = tmp_path_factory.mktemp("texts")
    books = []
    for _ in range(2):
        wb = Workbook()
        for n, text in enumerate(texts, 1):
            wb.active.cell(n, 1).value = text
            wb.active.cell(n, 1).data_type = "s"  # as text, even when it looks like a formula
        books.append(wb)
    books[0].save(tmp / "openpyxl.xlsx")
    save_workbook(books[1], tmp / "fast.xlsx")
    assert sheet_parts(tmp / "fast.xlsx") == sheet_parts(tmp / "openpyxl.xlsx")
    ws = load_workbook(tmp / "fast.xlsx").active
    assert [ws.cell(n, 1).value for n in range(1, len(texts) + 1)] == [
        load_workbook(tmp / "openpyxl.xlsx").active.cell(n, 1).value for n in range(1, len(texts) + 1)]


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_opens_the_fast_save(tmp_path):
    save_workbook(build(tmp_path), tmp_path / "fast.xlsx")
    subprocess.run(["soffice", "--headless", "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76",
                    "--outdir", str(tmp_path), str(tmp_path / "fast.xlsx")],
                   check=True, capture_output=True, timeout=180)
    text = (tmp_path / "fast.csv").read_text(encoding="utf-8")
    # (how it shows a literal "_x0041_" is its own reading; openpyxl's save writes the same bytes)
    assert "कचरा उचला" in text and "पानी नहीं आया" in text and "merged" in text


def loaded(wb) -> dict:
    """What a load gives of a workbook, strictly: every cell's value, type and style ids as
    held (not only as resolved), its link and note; every row's and column's dimensions."""
    out = {}
    for ws in wb.worksheets:
        out[ws.title] = (
            sorted((k, type(c).__name__, repr(c.value), c.data_type, tuple(c._style) if c._style else None,
                    (c.hyperlink.target, c.hyperlink.ref) if c.hyperlink else None,
                    c.comment.text if c.comment else None) for k, c in ws._cells.items()),
            sorted((k, repr(d)) for k, d in ws.row_dimensions.items()),
            sorted((k, repr(d)) for k, d in ws.column_dimensions.items()),
            ws._current_row, ws.max_row, ws.max_column, str(ws.merged_cells))
    return out


ODD_CELLS = (  # cells a job's save never writes, as other tools may
    '<row r="40" ht="20" customHeight="1"><c r="A40" t="str"><v>a formula result</v></c>'
    '<c r="B40" t="e"><v>#DIV/0!</v></c><c r="C40" t="d"><v>2026-12-03T09:30:00</v></c>'
    '<c r="D40" t="b"><v>1</v></c><c r="E40"><v>1.5E3</v></c><c r="F40"><v></v></c><c r="G40" s="1"/>'
    '<c r="H40" t="inlineStr"><is><r><rPr><b/></rPr><t>rich</t></r><r><t> run</t></r></is></c>'
    '<c r="I40" t="inlineStr"/><c r="J40"><f>1+1</f><v>2</v></c></row>'
    '<row><c t="inlineStr"><is><t>no reference</t></is></c><c><v>5</v></c></row>'
    '<row r="43" spans="1:3"><c r="a43"><v>7</v></c>'
    '<c r="XFD43" t="inlineStr"><is><t>last column</t></is></c></row>')


def with_odd_cells(source, target) -> None:
    with zipfile.ZipFile(source) as z, zipfile.ZipFile(target, "w") as out:
        for name in z.namelist():
            data = z.read(name)
            if name == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", ODD_CELLS.encode() + b"</sheetData>")
            out.writestr(name, data)


def test_the_quick_load_builds_the_cells_openpyxl_builds(tmp_path):
    build(tmp_path).save(tmp_path / "openpyxl.xlsx")  # shared strings
    save_workbook(build(tmp_path), tmp_path / "fast.xlsx")  # inline strings
    with_odd_cells(tmp_path / "openpyxl.xlsx", tmp_path / "odd.xlsx")
    for name in ("openpyxl.xlsx", "fast.xlsx", "odd.xlsx"):
        assert loaded(fast_load(tmp_path / name)) == loaded(load_workbook(tmp_path / name)), name
    odd = fast_load(tmp_path / "odd.xlsx")["Comments"]
    assert odd["H40"].value == "rich run" and odd["J40"].value == "=1+1"
    assert odd["A41"].value == "no reference"
    assert odd["C40"].data_type == "d" and odd["XFD43"].value == "last column" and odd["A43"].value == 7
