"""The workbook's quick load and write (#16) keep everything a person set in the workbook.

xlsx_reader.load_workbook must read exactly what openpyxl's own load reads, on a
workbook the job made, one a person decorated, and one LibreOffice saved; a sync
must leave a person's extra tab (formulas, a chart, a merged cell, colours), their
own column, a note, a dropdown and a colour in the Comments tab as they were.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest
from openpyxl.chart import BarChart, Reference
from openpyxl.comments import Comment as Note
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from sheets_sync.backends.xlsx import XlsxBackend, _drop_stale_links
from sheets_sync.backends.xlsx_reader import load_workbook
from sheets_sync.schema import load_schema
from sheets_sync.sources import FileSource
from sheets_sync.sync import run_sync
from sheets_sync.timeutil import parse_timestamp
from tests.helpers import comment, post, write_export
from tests.test_tab_identity import libreoffice, libreoffice_save, needs_soffice  # noqa: F401
from tests.test_xlsx_fast_io import loaded
from tests.trackers import english_header

NOW = parse_timestamp("2026-11-26T12:00:00+05:30")
SCHEMA = load_schema()
PEOPLE_TAB = "Ward notes"


def sync(path: Path, folder: Path, roster_file: Path):
    return run_sync(XlsxBackend(path), [FileSource(folder)], SCHEMA, roster_path=roster_file, now=NOW)


def export_of(tmp_path: Path, count: int) -> Path:
    comments = [comment(f"C{n:03d}", "P1", f"घंटागाडी आली नाही {n} 😡",
                        at=f"2026-11-20T{10 + n % 10}:00:00+05:30") for n in range(count)]
    return write_export(tmp_path / f"export-{count}", [post("P1"), post("P2", "Water pipeline")], comments)


def view(wb) -> dict:
    """What openpyxl holds of a workbook, as comparable values: every cell's value, type,
    style (resolved, not by id), link and note, and each sheet's furniture."""
    out = {"names": sorted((n, d.attr_text) for n, d in wb.defined_names.items())}
    for ws in wb.worksheets:
        cells = sorted(
            (k, c.value, c.data_type, repr(c.font), repr(c.fill), repr(c.alignment), c.number_format,
             c.quotePrefix, (c.hyperlink.target, c.hyperlink.location) if c.hyperlink else None,
             c.comment.text if c.comment else None)
            for k, c in ws._cells.items())
        out[ws.title] = {
            "cells": cells, "state": ws.sheet_state, "freeze": ws.freeze_panes,
            "validations": sorted(repr(dv) for dv in ws.data_validations.dataValidation),
            "conditional": sorted((str(r.sqref), repr(r.rules)) for r in ws.conditional_formatting),
            "merged": sorted(str(r) for r in ws.merged_cells.ranges),
            "widths": sorted((k, d.width, d.hidden) for k, d in ws.column_dimensions.items()),
            "charts": len(ws._charts), "names": sorted(ws.defined_names),
            "selection": [(s.pane, s.activeCell) for s in ws.sheet_view.selection],
        }
    return out


def decorate(path: Path) -> None:
    """What a person does to the tracker in LibreOffice or Excel, done with openpyxl."""
    wb = openpyxl.load_workbook(path)
    extra = wb.create_sheet(PEOPLE_TAB)
    extra.append(["Ward", "Complaints", "Share"])
    for n in range(1, 6):
        extra.append([f"Ward {n}", n * 3, f"=B{n + 1}/SUM(B$2:B$6)"])
    extra.merge_cells("E1:G2")
    extra["E1"] = "मासिक आढावा / monthly review"
    extra["A1"].fill = PatternFill("solid", fgColor="FFC7CE")
    chart = BarChart()
    chart.add_data(Reference(extra, min_col=2, min_row=1, max_row=6), titles_from_data=True)
    extra.add_chart(chart, "E4")
    comments = wb["Comments"]
    column = comments.max_column + 1
    comments.cell(1, column, "Ward (ours)")
    comments.cell(2, column, "Ward 4").font = Font(bold=True, color="9C0006")
    comments.cell(3, column, "=LEN(A3)")
    dv = DataValidation(type="list", formula1='"Ward 1,Ward 2,Ward 4"', allow_blank=True)
    dv.add(f"{comments.cell(2, column).column_letter}2:{comments.cell(2, column).column_letter}500")
    comments.add_data_validation(dv)
    comments["A2"].comment = Note("ask the ward officer", "Cell")
    comments["B3"].fill = PatternFill("solid", fgColor="C6EFCE")
    wb.save(path)


def people_parts(v: dict) -> dict:
    """The parts of a view that are the person's: their tab whole; in Comments their column,
    their note, their colour and their dropdown."""
    comments = v["Comments"]
    last = max(k[1] for k, *_ in comments["cells"])
    ours = [c for c in comments["cells"] if c[0][0] <= 3 and c[0][1] == last]
    return {PEOPLE_TAB: v[PEOPLE_TAB],
            "column": ours,
            "note": [c for c in comments["cells"] if c[-1]],
            "colour": [c[4] for c in comments["cells"] if c[0] == (3, 2)],
            "dropdowns": [d for d in comments["validations"] if "Ward 1" in d]}


@pytest.fixture
def decorated(tmp_path, roster_file) -> Path:
    path = tmp_path / "tracker.xlsx"
    sync(path, export_of(tmp_path, 5), roster_file)
    decorate(path)
    return path


def test_the_quick_load_reads_what_openpyxl_reads(decorated, tmp_path, roster_file):
    assert view(load_workbook(decorated)) == view(openpyxl.load_workbook(decorated))
    assert loaded(load_workbook(decorated)) == loaded(openpyxl.load_workbook(decorated))
    sync(decorated, export_of(tmp_path, 9), roster_file)  # and a workbook the job saved
    assert view(load_workbook(decorated)) == view(openpyxl.load_workbook(decorated))
    assert loaded(load_workbook(decorated)) == loaded(openpyxl.load_workbook(decorated))


def test_a_sync_keeps_what_a_person_set_in_the_workbook(decorated, tmp_path, roster_file):
    before = people_parts(view(openpyxl.load_workbook(decorated)))
    result = sync(decorated, export_of(tmp_path, 9), roster_file)
    assert result.plan.summary()["comments_added"] == 4
    after = people_parts(view(openpyxl.load_workbook(decorated)))
    assert after == before
    assert before["note"] and before["colour"] and before["dropdowns"] and before[PEOPLE_TAB]["charts"] == 1


def test_freezing_the_panes_on_every_run_keeps_one_selection_a_pane(tmp_path, roster_file):
    path = tmp_path / "tracker.xlsx"
    for count in (3, 4, 5, 6):  # openpyxl's setter alone added two selections a run
        sync(path, export_of(tmp_path, count), roster_file)
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        panes = [s.pane for s in ws.sheet_view.selection]
        assert len(panes) == len(set(panes)) <= 4, (ws.title, panes)
    assert wb["Comments"].freeze_panes is not None


def test_stale_links_go_and_a_row_s_own_link_stays(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A2"], ws["B2"] = "a comment", "https://fb.example/c/2"
    ws["B2"].hyperlink = "https://fb.example/c/2"
    ws["B3"] = "https://fb.example/c/9"  # a link left behind on a row of nothing else
    ws["B3"].hyperlink = "https://fb.example/c/9"
    ws["A4"], ws["B4"] = "another", "https://fb.example/c/4"
    ws["B4"].hyperlink = "https://fb.example/c/other"  # moved off its own text
    _drop_stale_links(ws)
    assert ws["B2"].hyperlink.target == "https://fb.example/c/2"
    assert ws["B3"].hyperlink is None and ws["B3"].value is None
    assert ws["B4"].hyperlink is None and ws["B4"].value == "https://fb.example/c/4"


@needs_soffice
def test_a_workbook_libreoffice_saved_loads_as_openpyxl_loads_it_and_syncs(decorated, tmp_path, roster_file,
                                                                          libreoffice):  # noqa: F811
    libreoffice_save(libreoffice, decorated)
    assert view(load_workbook(decorated)) == view(openpyxl.load_workbook(decorated))
    assert loaded(load_workbook(decorated)) == loaded(openpyxl.load_workbook(decorated))
    kept = tmp_path / "as-saved.xlsx"
    shutil.copy(decorated, kept)
    before = openpyxl.load_workbook(kept)[PEOPLE_TAB]
    result = sync(decorated, export_of(tmp_path, 9), roster_file)
    assert result.plan.summary()["comments_added"] == 4
    after = openpyxl.load_workbook(decorated)[PEOPLE_TAB]
    def values(ws):
        return [[c.value for c in r] for r in ws.iter_rows()]

    assert values(after) == values(before)
    assert sorted(map(str, after.merged_cells.ranges)) == sorted(map(str, before.merged_cells.ranges))


def _department_tab_with(wb, cid: str):
    for ws in wb.worksheets:
        head = [english_header(c.value) for c in ws[1]]
        if ws.title != "Comments" and "Comment ID" in head:
            k = head.index("Comment ID") + 1
            if any(ws.cell(r, k).value == cid for r in range(2, ws.max_row + 1)):
                return ws, head
    raise KeyError(cid)


def _rows_by_id(ws, head) -> dict:
    k = head.index("Comment ID") + 1
    return {ws.cell(r, k).value: r for r in range(2, ws.max_row + 1) if ws.cell(r, k).value}


def test_a_department_tab_keeps_its_rows_that_stay_with_a_persons_own_column(tmp_path, roster_file):
    path = tmp_path / "tracker.xlsx"
    sync(path, export_of(tmp_path, 5), roster_file)
    wb = openpyxl.load_workbook(path)
    ws, head = _department_tab_with(wb, "C001")
    own = ws.max_column + 1
    ws.cell(1, own, "Ward (ours)")
    for cid, row in _rows_by_id(ws, head).items():
        ws.cell(row, own, f"ward of {cid}")
    ws.cell(_rows_by_id(ws, head)["C002"], 1).fill = PatternFill("solid", fgColor="C6EFCE")
    comments = wb["Comments"]
    top = [english_header(c.value) for c in comments[1]]
    for r in range(2, comments.max_row + 1):
        if comments.cell(r, top.index("Comment ID") + 1).value == "C000":
            comments.cell(r, top.index("Reply") + 1).value = "answered in the master"
    title = ws.title
    wb.save(path)

    result = sync(path, export_of(tmp_path, 7), roster_file)  # C005 and C006 arrive, C000 leaves
    assert result.plan.summary()["comments_added"] == 2
    ws = openpyxl.load_workbook(path)[title]
    head = [english_header(c.value) for c in ws[1]]
    rows = _rows_by_id(ws, head)
    assert sorted(rows) == ["C001", "C002", "C003", "C004", "C005", "C006"]
    assert head[own - 1] == "Ward (ours)"
    for cid, row in rows.items():  # the rows that stayed kept the person's cells; new ones have none
        assert ws.cell(row, own).value == (f"ward of {cid}" if cid <= "C004" else None), cid
        assert ws.cell(row, head.index("Comment") + 1).value.startswith("घंटागाडी आली नाही")
    assert ws.cell(rows["C002"], 1).fill.fgColor.rgb == "00C6EFCE"
    link = head.index("Link") + 1
    for cid, row in rows.items():  # each row's link moved with it (openpyxl keeps a link's own ref)
        cell = ws.cell(row, link)
        assert cell.value.endswith(f"comment_id={cid}") and cell.hyperlink.target == cell.value, cid
    assert "ward of C000" not in [c.value for c in ws[openpyxl.utils.get_column_letter(own)]]


def test_a_save_failing_after_a_department_tab_moved_its_rows_loses_nothing(tmp_path, roster_file,
                                                                            monkeypatch):
    from sheets_sync.backends import xlsx
    from sheets_sync.errors import TrackerError

    path = tmp_path / "tracker.xlsx"
    sync(path, export_of(tmp_path, 5), roster_file)
    wb = openpyxl.load_workbook(path)
    ws, head = _department_tab_with(wb, "C001")
    title = ws.title
    ws.cell(_rows_by_id(ws, head)["C001"], head.index("Reply") + 1).value = "उत्तर टॅबमध्ये / typed in the tab"
    wb.save(path)
    before = path.read_bytes()

    def failing(workbook, filename):  # the new file half written, then the disk fails
        Path(filename).write_bytes(b"PK half a workbook")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(xlsx, "save_workbook", failing)
    with pytest.raises(TrackerError):
        sync(path, export_of(tmp_path, 7), roster_file)
    assert path.read_bytes() == before  # the workbook as the person left it
    monkeypatch.undo()
    sync(path, export_of(tmp_path, 7), roster_file)
    wb = openpyxl.load_workbook(path)
    comments = wb["Comments"]
    top = [english_header(c.value) for c in comments[1]]
    key, typed = top.index("Comment ID") + 1, top.index("Reply") + 1
    reply = {comments.cell(r, key).value: comments.cell(r, typed).value
             for r in range(2, comments.max_row + 1)}
    assert reply["C001"] == "उत्तर टॅबमध्ये / typed in the tab"
    ws = wb[title]
    head = [english_header(c.value) for c in ws[1]]
    assert sorted(_rows_by_id(ws, head)) == ["C000", "C002", "C003", "C004", "C005", "C006"]
