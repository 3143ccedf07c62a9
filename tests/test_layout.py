"""The sheet officers answer in: the layout computed once (layout.py) and what each
backend makes of it; headers in Marathi, English or both; the default tracker opened
as an officer would."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from sheets_sync.layout import LINK_FIELDS, is_link, tab_layout
from sheets_sync.pending import post_excerpt
from sheets_sync.schema import DEFAULT_SCHEMA, load_schema
from sheets_sync.sources import FileSource
from sheets_sync.sync import run_sync
from sheets_sync.timeutil import parse_timestamp
from tests.helpers import comment, post, write_export
from tests.trackers import english_header, records

NOW = parse_timestamp("2026-11-26T12:00:00+05:30")


def _schema_with(tmp_path: Path, old: str, new: str, name: str = "schema.yaml") -> Path:
    text = DEFAULT_SCHEMA.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _due_soon_schema(tmp_path: Path):
    # The shipped Comments tab has the job column due_soon_at: the row turns amber from then.
    schema = load_schema()
    assert "due_soon_at" in {c.field for c in schema.tab("comments").columns}
    return schema


def test_the_layout_is_pure_and_puts_the_answer_beside_the_comment():
    schema = load_schema()
    comments = tab_layout(schema, schema.tab("comments"))
    fields = [c.field for c in comments.columns]
    assert fields[:5] == ["text", "status", "reply", "replied_by", "notes"]
    assert fields.index("comment_id") > fields.index("url")
    assert {c.field for c in comments.columns if c.wrap} >= {"text", "reply", "notes", "sync_notes"}
    assert (comments.frozen_rows, comments.frozen_columns) == (1, 1)
    assert [c.field for c in comments.columns if c.link] == list(LINK_FIELDS)
    assert comments.column("status").choices == tuple(schema.status_names)
    assert "Not required" in comments.column("status").help
    assert comments.print_setup.through == "overdue" and comments.row_height
    assert tab_layout(schema, schema.tab("comments")) == comments  # computed again: the same
    department = tab_layout(schema, schema.pending_tab.__class__(**{
        **schema.pending_tab.__dict__, "name": "pending:SWM", "title": "SWM", "department": "SWM"}))
    assert department.print_setup.paper == "A4" and department.print_setup.landscape
    assert department.print_setup.pages_wide == 1 and department.print_setup.repeat_header
    assert [c.field for c in department.columns][:3] == ["text", "status", "reply"]
    assert department.column("synced").hidden
    log = tab_layout(schema, schema.tab("sync_log"))
    assert log.frozen_columns == 0 and not any(c.link for c in log.columns)


def test_only_web_addresses_become_links():
    assert is_link("https://www.facebook.com/123_456")
    assert is_link("http://x.com/a/status/1")
    for text in ("javascript:alert(1)", "=HYPERLINK(\"http://evil\")", "file:///etc/passwd",
                 "https://a b", "", "ftp://x"):
        assert not is_link(text), text


def test_the_post_column_shows_the_posts_first_line():
    assert post_excerpt("\n  घंटागाडी वेळापत्रक बदलले  \n#SwachhMahanagar #SWM") == "घंटागाडी वेळापत्रक बदलले …"
    assert post_excerpt("One line") == "One line"
    long = "शब्द " * 200
    assert post_excerpt(long).endswith("…") and len(post_excerpt(long)) <= 300
    assert post_excerpt("") == ""


def test_due_soon_is_amber_until_red_wins(tmp_path):
    schema = _due_soon_schema(tmp_path)
    tab = schema.tab("comments")
    layout = tab_layout(schema, tab)
    letters = {k: chr(65 + i) for i, c in enumerate(tab.columns) for k in c.known}
    rules = layout.row_rules(tab, letters, schema)
    assert [r.name for r in rules] == ["overdue", "due_soon"]
    soon = letters["due soon from (ist)"]
    assert f"NOW()>=VALUE(${soon}2)" in rules[1].formula and rules[1].colour == "FCE8B2"
    # Without the column: red only.
    line = ("      - {field: due_soon_at, header: Due soon from (IST), owner: job, width: 130, "
            "hidden: true,\n         help: \"When the comment turns amber: deadlines' due_soon_at "
            "share of its time to reply\"}\n")
    plain = load_schema(_schema_with(tmp_path, line, "", name="plain.yaml"))
    assert [r.name for r in tab_layout(plain, plain.tab("comments")).row_rules(
        plain.tab("comments"), {k: "A" for c in plain.tab("comments").columns for k in c.known},
        plain)] == ["overdue"]


@pytest.fixture
def export(tmp_path):
    posts = [post("P1", "घंटागाडी वेळापत्रक\n#SwachhMahanagar"),
             post("P4", "Notice", platform="youtube", department="ROADS")]
    comments = [comment("C1", "P1", "घंटागाडी ३ दिवस आली नाही 😡"),
                comment("C6", "P4", "+91 98220 12345 call me", platform="youtube"),
                comment("C9", "P4", "@MahanagarRoads 👨‍👩‍👧 खड्डे", platform="youtube")]
    return write_export(tmp_path / "export", posts, comments)


def _sync(harness, folder, roster_file, schema):
    return run_sync(harness.backend(), [FileSource(folder)], schema, roster_path=roster_file, now=NOW)


def _by_id(harness, title="Comments", key="Comment ID"):
    return {r[key]: r for r in records(harness.values(title))}


def test_due_soon_rule_on_both_backends(harness, export, roster_file, tmp_path):
    schema = _due_soon_schema(tmp_path)
    _sync(harness, export, roster_file, schema)
    if harness.kind == "xlsx":
        ws = openpyxl.load_workbook(harness.path)["Comments"]
        rules = [(r.formula[0], r.dxf.fill.fgColor.rgb, r.stopIfTrue)
                 for rs in ws.conditional_formatting for r in rs.rules]
    else:
        sheet = harness.server.spreadsheet(harness.sid).sheet_by_title("Comments")
        rules = [(r["booleanRule"]["condition"]["values"][0]["userEnteredValue"],
                  r["booleanRule"]["format"]["backgroundColor"], True) for r in sheet.conditional_formats]
    assert len(rules) == 2
    assert "due_soon" not in rules[0][0] and "due_soon" in rules[1][0]  # red first: it wins
    assert all(stop for *_, stop in rules)


def test_links_are_clickable_and_never_formulas(harness, export, roster_file):
    _sync(harness, export, roster_file, load_schema())
    rows = _by_id(harness)
    url = rows["C1"]["Link"]
    assert url.startswith("https://")
    if harness.kind == "xlsx":
        ws = openpyxl.load_workbook(harness.path)["Comments"]
        head = [english_header(c.value) for c in ws[1]]
        link_col = head.index("Link") + 1
        cells = [ws.cell(r, link_col) for r in range(2, ws.max_row + 1)]
        assert all(c.hyperlink is not None and c.hyperlink.target == c.value for c in cells)
        assert all(c.data_type == "s" for c in cells)
    else:
        sheet = harness.server.spreadsheet(harness.sid).sheet_by_title("Comments")
        head = harness.values("Comments")[0]
        col = head.index("Link")
        cells = [sheet.get(r, col) for r in range(1, len(rows) + 1)]
        assert all(c.fmt["textFormat"]["link"]["uri"] == c.value["stringValue"] for c in cells)
        assert all(c.formula is None for c in cells)
    assert harness.raw_cell("Comments", "Comment ID", "C6", "Comment") == ("+91 98220 12345 call me", False)


@pytest.mark.parametrize("first,then", [("en", "mr+en"), ("mr+en", "en")])
def test_switching_languages_loses_no_column(harness, export, roster_file, tmp_path, first, then):
    before = load_schema(_schema_with(tmp_path, "language: mr+en\n", f"language: {first}\n", "a.yaml"))
    after = load_schema(_schema_with(tmp_path, "language: mr+en\n", f"language: {then}\n", "b.yaml"))
    _sync(harness, export, roster_file, before)
    header_before = harness.raw_values("Comments")[0]
    assert ("स्थिती / Status" in header_before) == (first == "mr+en")
    assert ("Status" in header_before) == (first == "en")
    # (The harness names columns by their English part, whichever the sheet shows.)
    harness.type_in("Comments", "Comment ID", "C1", "Reply", "घंटागाडी उद्या येईल")
    harness.type_in("Comments", "Comment ID", "C1", "Status", "Replied")
    swm = next(t for t in harness.tab_titles() if t.startswith("Solid Waste"))
    swm_header = harness.raw_values(swm)[0]
    harness.type_in(swm, "Comment ID", "C1", "Notes", "टँकर पाठवला")
    more = write_export(tmp_path / "export2", [post("P1", "घंटागाडी")],
                        [comment("C11", "P1", "अजून एक तक्रार")])
    result = _sync(harness, more, roster_file, after)
    assert result.summary()["comments_added"] == 1
    assert harness.raw_values("Comments")[0] == header_before  # nothing added, moved or renamed
    assert harness.raw_values(swm)[0] == swm_header
    rows = _by_id(harness)
    assert rows["C1"]["Reply"] == "घंटागाडी उद्या येईल" and rows["C1"]["Status"] == "Replied"
    assert rows["C1"]["Notes"] == "टँकर पाठवला"  # carried from the department's tab
    assert rows["C11"]["Status"] == "Pending"


def test_acceptance_the_default_tracker_after_a_sync(tmp_path, monkeypatch):
    """The README's default: the sample exports into a new workbook, opened as an officer would."""
    from sheets_sync.cli import main

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["sync"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    wb = openpyxl.load_workbook(tmp_path / "tracker.xlsx")
    for title in wb.sheetnames:
        assert not any(ch in title for ch in "[]:*?/\\") and title.strip()
    # Excel and LibreOffice allow 31 (UTF-16 units); the three long shipped names are cut.
    assert [t for t in wb.sheetnames if len(t.encode("utf-16-le")) // 2 > 31] == []
    assert len({t.casefold() for t in wb.sheetnames}) == len(wb.sheetnames)
    comments = wb["Comments"]
    people = ["स्थिती / Status", "उत्तर / Reply", "उत्तर देणारे / Replied by", "नोंदी / Notes"]
    head = [c.value for c in comments[1]]
    text = head.index("टिप्पणी / Comment")  # Marathi first: the shipped default
    assert head[text + 1: text + 5] == people
    assert comments.freeze_panes == "B2"
    assert comments.cell(2, text + 1).alignment.wrap_text
    reply = openpyxl.utils.get_column_letter(head.index("उत्तर / Reply") + 1)
    assert comments.column_dimensions[reply].alignment.wrap_text  # typed replies wrap too
    link = comments.cell(2, head.index("दुवा / Link") + 1)
    assert link.hyperlink is not None and link.hyperlink.target.startswith("https://")
    schema = load_schema()
    departments = [wb[t] for t in wb.sheetnames if t not in {tab.title for tab in schema.tabs.values()}]
    assert departments
    for ws in departments:
        head = [c.value for c in ws[1]]
        assert head[:5] == ["टिप्पणी / Comment", *people]
        assert ws.freeze_panes == "B2"
        assert ws.page_setup.orientation == "landscape"
        assert int(ws.page_setup.paperSize) == int(ws.PAPERSIZE_A4)
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth == 1
        assert ws.page_setup.fitToHeight == 0 and ws.print_title_rows.replace("$", "") == "1:1"
    busy = [ws for ws in departments if ws.max_row > 2]
    assert busy
    for ws in busy:
        head = [english_header(c.value) for c in ws[1]]
        post_cell = ws.cell(2, head.index("Post") + 1).value or ""
        assert "\n" not in post_cell and not post_cell.startswith("#")
        url = ws.cell(2, head.index("Link") + 1)
        assert url.hyperlink is not None and url.hyperlink.target == url.value


LEGACY_COMMENTS = ("platform", "comment_id", "post_id", "parent_id", "department", "commented_at", "author",
                   "author_id", "text", "url", "by_page", "category", "due_at", "status", "reply",
                   "replied_by", "notes", "replied_at", "overdue", "sync_notes", "added_at")


def _legacy_schema(tmp_path: Path) -> Path:
    """The shipped schema as it was before the comment came first: English headers, the
    ids first and the people's columns after the job's."""
    import yaml

    from sheets_sync.layout import LEGACY_PENDING_FIELDS

    data = yaml.safe_load(DEFAULT_SCHEMA.read_text(encoding="utf-8"))
    data["language"] = "en"
    for place, order in ((data["tabs"]["comments"], LEGACY_COMMENTS),
                         (data["pending_tab"], LEGACY_PENDING_FIELDS)):
        by_field = {c["field"]: c for c in place["columns"]}
        # Columns added to the schema since keep their place at the end, as init adds them.
        place["columns"] = ([by_field[f] for f in order if f in by_field]
                            + [c for c in place["columns"] if c["field"] not in order])
    path = tmp_path / "legacy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_a_tracker_made_before_keeps_its_columns_and_its_four_requests(request, tmp_path, roster_file,
                                                                       export):
    """A Google tracker made with the older order and English headers, synced with the new
    default (mr+en, comment first): nothing moves or is renamed, typed values are carried,
    and a steady-state run still costs four requests (the departments' tabs' header rows
    are guessed right, from the Comments tab's)."""
    from tests.trackers import GoogleHarness

    google = GoogleHarness.make(request, tmp_path)
    legacy = load_schema(_legacy_schema(tmp_path))
    _sync(google, export, roster_file, legacy)
    swm = next(t for t in google.tab_titles() if t.startswith("Solid Waste"))
    comments_header, swm_header = google.raw_values("Comments")[0], google.raw_values(swm)[0]
    assert comments_header[:2] == ["Platform", "Comment ID"] and swm_header[:2] == ["Comment ID", "Platform"]
    google.type_in(swm, "Comment ID", "C1", "Reply", "घंटागाडी उद्या येईल")
    google.server.clear_requests()
    more = write_export(tmp_path / "export2", [post("P1", "घंटागाडी")], [comment("C11", "P1", "अजून एक")])
    result = _sync(google, more, roster_file, load_schema())
    assert result.summary()["comments_added"] == 1
    assert [r["method"] for r in google.server.requests] == ["GET", "POST", "POST"]
    assert google.raw_values("Comments")[0] == comments_header and google.raw_values(swm)[0] == swm_header
    rows = _by_id(google)
    assert rows["C1"]["Reply"] == "घंटागाडी उद्या येईल" and rows["C11"]["Status"] == "Pending"


def test_approve_is_a_tick_box_the_cell_alone_may_tick(tmp_path):
    """On Google a checkbox (a TRUE / FALSE choice in a workbook, which has no tick box both
    Excel and LibreOffice keep); Approve and Move to department are the cell's columns."""
    schema = load_schema()
    columns = {c.field: c for c in tab_layout(schema, schema.tab("comments")).columns}
    assert columns["approve"].checkbox and columns["approve"].cell_only and columns["approve"].people
    assert columns["move_to"].cell_only and not columns["reply"].cell_only
    assert columns["reply_url"].link


def _printed_columns(ws) -> list[str]:
    """The headers inside a tab's print area (the whole row when it has none)."""
    area = ws.print_area
    if not area:
        return [english_header(c.value) for c in ws[1]]
    last = openpyxl.utils.column_index_from_string(area.split(":")[-1].strip("$").rstrip("0123456789$"))
    return [english_header(c.value) for c in ws[1][:last]]


def test_the_main_tabs_print_what_the_cell_reads_on_paper(tmp_path, monkeypatch):
    """A4 landscape, one page wide: the Content tab its requests up to the Status, the
    Comments tab up to Overdue (28 to 33 columns on one page print too small to read), the
    Posts tab whole; each header two lines high, so the English half is not cut."""
    from sheets_sync.cli import main

    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(main, ["sync"], catch_exceptions=False).exit_code == 0
    wb = openpyxl.load_workbook(tmp_path / "tracker.xlsx")
    printed = {title: _printed_columns(wb[title]) for title in ("Content", "Comments", "Posts")}
    assert printed["Content"][0] == "Request" and printed["Content"][-1] == "Status"
    assert "Planned date" in printed["Content"] and "Message id" not in printed["Content"]
    assert printed["Comments"][:2] == ["Comment", "Status"] and printed["Comments"][-1] == "Overdue"
    assert printed["Posts"] == [english_header(c.value) for c in wb["Posts"][1]]
    for title in printed:
        ws = wb[title]
        assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.print_title_rows.replace("$", "") == "1:1"
        assert ws.row_dimensions[1].height >= 30


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_prints_the_comments_tab_on_a_few_pages(tmp_path, monkeypatch):
    """The sample's 131 comments: 119 pages before the print set-up, a handful now."""
    from sheets_sync.cli import main

    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(main, ["sync"], catch_exceptions=False).exit_code == 0
    wb = openpyxl.load_workbook(tmp_path / "tracker.xlsx")
    for title in wb.sheetnames:
        if title != "Comments":
            del wb[title]
    wb.save(tmp_path / "comments.xlsx")
    subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path),
                    str(tmp_path / "comments.xlsx")], check=True, capture_output=True, timeout=180)
    pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", (tmp_path / "comments.pdf").read_bytes()))
    assert 1 <= pages <= 10, pages
