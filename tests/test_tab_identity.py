"""Tab titles every spreadsheet accepts, and a workbook tab found again after a rename.

Excel and LibreOffice refuse a sheet name over 31 characters (LibreOffice cuts it
when it saves); a department's tab a person renames must still be found, so that
what they typed in it reaches the Comments tab. The LibreOffice tests run a real
``soffice`` (skipped where it is not installed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from pathlib import Path

import openpyxl
import pytest

from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.backends.xlsx_tabs import TAB_IDENTITY
from sheets_sync.pending import department_tabs
from sheets_sync.roster import load_roster_file
from sheets_sync.schema import load_schema
from sheets_sync.sources import FileSource
from sheets_sync.sources.registry import DEFAULT_EXPORTS
from sheets_sync.sync import run_sync
from sheets_sync.timeutil import parse_timestamp
from sheets_sync.titles import is_valid_title, title_length, valid_title
from tests.helpers import ROSTER_YAML, comment, post, write_export, write_roster
from tests.trackers import XlsxHarness, records

SCHEMA = load_schema()
NOW = parse_timestamp("2026-11-21T12:00:00+05:30")
SWM = "Solid Waste Management"
MALARIA = "Pest and Mosquito Control (Malaria)"  # 35 characters, as shipped
REPLY = "उद्या सकाळी फवारणी होईल 🙏"
# The roster of tests.helpers, and a department whose English name is too long for a sheet.
LONG_ROSTER = ROSTER_YAML + """\
  - code: MAL
    name_en: Pest and Mosquito Control (Malaria)
    name_mr: कीटक व डास नियंत्रण (मलेरिया)
    head: hod.mal@mahapalika.example
    keywords_en: [mosquito, dengue]
    keywords_mr: [डास, डेंग्यू]
"""


# -- the titles themselves (pure) ---------------------------------------------------

def test_every_shipped_department_gets_a_title_a_workbook_accepts():
    tabs = department_tabs(SCHEMA, load_roster_file(None), {})
    titles = [t.title for t in tabs.values()] + [t.title for t in SCHEMA.tabs.values()]
    assert all(is_valid_title(t) for t in titles), [t for t in titles if not is_valid_title(t)]
    assert len({t.casefold() for t in titles}) == len(titles)
    # The three long English names, cut at a word and marked with the code.
    assert tabs["SEDU"].title == "Secondary and Technical (SEDU)"
    assert tabs["MAL"].title == "Pest and Mosquito Control (MAL)"
    assert tabs["BRG"].title == "Bridges and Structures (BRG)"
    assert tabs["SWM"].title == SWM  # a name that fits is kept whole


def test_titles_are_counted_as_excel_counts_and_kept_unique():
    assert title_length("😡") == 2 and title_length("पाणी") == 4
    emoji = valid_title("तक्रारी 😡" * 6, "WS", set())
    assert title_length(emoji) <= 31 and emoji.endswith(" (WS)")
    emoji.encode("utf-8")  # never half an emoji: a lone surrogate would not encode
    assert valid_title("Roads: [North]/South?", "RD", set()) == "Roads North South"
    assert valid_title("'Roads'", "RD", set()) == "Roads"
    assert valid_title("Roads", "RD", {"roads"}) == "Roads (RD)"
    assert valid_title("Roads", "RD", {"roads", "roads (rd)"}) == "Roads (RD 2)"
    assert valid_title("History", "HER", set()) == "History (HER)"  # Excel keeps "History"
    assert valid_title("Supercalifragilisticexpialidocious Office", "SO", set()) == \
        "Supercalifragilisticexpial (SO)"


def test_a_schema_whose_tab_title_a_workbook_refuses_is_named_on_load(tmp_path):
    from sheets_sync.errors import ConfigError
    from sheets_sync.schema import DEFAULT_SCHEMA

    path = tmp_path / "schema.yaml"
    long = "Comments from citizens, all platforms"  # 37 characters: fine on Google only
    shipped = DEFAULT_SCHEMA.read_text(encoding="utf-8")
    path.write_text(shipped.replace("title: Comments", f"title: {long}", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=f"tab title '{long}' has a character or length a spreadsheet "
                                          r"refuses \(at most 31 characters"):
        load_schema(path)


# -- a normal run ---------------------------------------------------------------------

def test_a_sync_of_the_shipped_samples_makes_only_valid_titles_and_no_warning(tmp_path):
    path = tmp_path / "tracker.xlsx"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # openpyxl warned about every long title
        run_sync(XlsxBackend(path), [FileSource(DEFAULT_EXPORTS)], SCHEMA, now=NOW)
        run_sync(XlsxBackend(path), [FileSource(DEFAULT_EXPORTS)], SCHEMA, now=NOW)
        titles = openpyxl.load_workbook(path).sheetnames
    assert all(is_valid_title(t) for t in titles), [t for t in titles if not is_valid_title(t)]
    assert "Pest and Mosquito Control (MAL)" in titles
    assert len(titles) == len(SCHEMA.tabs) + 56
    # The department's whole name is where people read the roster.
    departments = records(XlsxHarness(tmp_path).values(SCHEMA.tab("departments").title))
    assert MALARIA in {r["Department"] for r in departments}


# -- a renamed tab, in a workbook -------------------------------------------------------

@pytest.fixture
def export(tmp_path):
    return write_export(tmp_path / "export",
                        [post("P1", "घंटागाडी #SwachhMahanagar"), post("P2", "डास फार झाले, dengue")],
                        [comment("C1", "P1", "घंटागाडी आली नाही", at="2026-11-21T09:00:00+05:30"),
                         comment("C2", "P2", "फवारणी कधी?", at="2026-11-21T09:30:00+05:30")])


@pytest.fixture
def roster(tmp_path):
    return write_roster(tmp_path / "departments.yaml", LONG_ROSTER)


def sync(path: Path, export: Path, roster: Path):
    return run_sync(XlsxBackend(path), [FileSource(export)], SCHEMA, roster_path=roster, now=NOW)


def type_reply(path: Path, title: str, comment_id: str, reply: str = REPLY) -> None:
    harness = XlsxHarness(path.parent)
    harness.path = path
    harness.type_in(title, "Comment ID", comment_id, "Reply", reply)


def master(path: Path) -> dict[str, dict[str, str]]:
    harness = XlsxHarness(path.parent)
    harness.path = path
    return {r["Comment ID"]: r for r in records(harness.values("Comments"))}


def registry(path: Path) -> dict[str, str]:
    ws = openpyxl.load_workbook(path)["Sync State"]
    return {r[0]: r[1] for r in ws.iter_rows(min_row=2, values_only=True) if r[0]}


def edit(path: Path, change) -> None:
    wb = openpyxl.load_workbook(path)
    change(wb)
    wb.save(path)


def assert_found_again(path: Path, export: Path, roster: Path, title: str, tabs_before: int) -> None:
    """The run after the rename: the reply reaches the Comments tab, no tab is made
    again, the registry remembers the title, and the tab still holds its comments."""
    result = sync(path, export, roster)
    assert not [s for s in result.structure if s.startswith("created tab")], result.structure
    titles = openpyxl.load_workbook(path).sheetnames
    assert len(titles) == tabs_before and title in titles, titles
    assert master(path)["C1"]["Reply"] == REPLY
    assert registry(path)["tab:SWM"] == title
    assert sync(path, export, roster).plan.changes == []  # and the next run is at rest
    assert master(path)["C1"]["Reply"] == REPLY


def test_a_tab_renamed_with_openpyxl_is_found_and_keeps_its_name(tmp_path, export, roster):
    path = tmp_path / "tracker.xlsx"
    sync(path, export, roster)
    tabs_before = len(openpyxl.load_workbook(path).sheetnames)
    type_reply(path, SWM, "C1")
    edit(path, lambda wb: setattr(wb[SWM], "title", "घनकचरा तक्रारी"))
    assert_found_again(path, export, roster, "घनकचरा तक्रारी", tabs_before)


def test_a_copy_of_a_tab_does_not_take_its_place(tmp_path, export, roster):
    path = tmp_path / "tracker.xlsx"
    sync(path, export, roster)
    type_reply(path, SWM, "C1")

    def copy_then_rename(wb):
        copy = wb.copy_worksheet(wb[SWM])  # openpyxl copies no names; a person's copy would
        copy.title = "A copy"
        copy.defined_names.add(openpyxl.workbook.defined_name.DefinedName(
            TAB_IDENTITY, attr_text='"pending:SWM"', hidden=True))
        wb.move_sheet(copy, -wb.index(copy))
    edit(path, copy_then_rename)
    sync(path, export, roster)
    assert master(path)["C1"]["Reply"] == REPLY
    assert registry(path)["tab:SWM"] == SWM


# An older version's workbook (a 35-character title) warns when openpyxl loads it, once.
legacy_warning = pytest.mark.filterwarnings("ignore:Title is more than 31 characters")


def make_legacy(path: Path, long_title: str = MALARIA) -> None:
    """Make the MAL tab what an older version left: a 35-character title, no identity,
    the registry holding that title."""
    def change(wb):
        title = next(t for t in wb.sheetnames if t.startswith("Pest"))
        ws = wb[title]
        ws.defined_names.pop(TAB_IDENTITY, None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ws.title = long_title
        state = wb["Sync State"]
        for row in state.iter_rows(min_row=2):
            if row[0].value == "tab:MAL":
                row[1].value = long_title
    edit(path, change)


@legacy_warning
def test_a_too_long_title_an_older_version_made_is_renamed_in_place(tmp_path, export, roster):
    path = tmp_path / "tracker.xlsx"
    sync(path, export, roster)
    make_legacy(path)
    tabs_before = len(openpyxl.load_workbook(path).sheetnames)
    type_reply(path, MALARIA, "C2")
    result = sync(path, export, roster)
    assert not [s for s in result.structure if s.startswith("created tab")], result.structure
    titles = openpyxl.load_workbook(path).sheetnames
    assert len(titles) == tabs_before and all(is_valid_title(t) for t in titles), titles
    assert "Pest and Mosquito Control (MAL)" in titles
    assert master(path)["C2"]["Reply"] == REPLY
    assert registry(path)["tab:MAL"] == "Pest and Mosquito Control (MAL)"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sync(path, export, roster).plan.changes == []


@legacy_warning
def test_a_too_long_registered_title_keeps_working_on_both_backends(harness, tmp_path, export, roster):
    """On Google a 35-character title is valid: the tab is found by its id and kept."""
    run = lambda: run_sync(harness.backend(), [FileSource(export)], SCHEMA,  # noqa: E731
                           roster_path=roster, now=NOW)
    run()
    if harness.kind == "xlsx":
        make_legacy(harness.path)
    else:
        harness.person.rename_sheet(harness.sid, "Pest and Mosquito Control (MAL)", MALARIA)
        harness.type_in("Sync State", "Source", "tab:MAL", "Checkpoint", MALARIA)
    harness.type_in(MALARIA, "Comment ID", "C2", "Reply", REPLY)
    run()
    comments = {r["Comment ID"]: r for r in records(harness.values("Comments"))}
    assert comments["C2"]["Reply"] == REPLY
    assert len([t for t in harness.tab_titles() if t.startswith("Pest")]) == 1


# -- a real LibreOffice ----------------------------------------------------------------

SOFFICE = shutil.which("soffice")
needs_soffice = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")

@pytest.fixture(scope="module")
def libreoffice(tmp_path_factory):
    """A LibreOffice profile of its own, with a macro that renames a sheet as a person
    would (Sheet ▸ Rename) and saves the workbook."""
    profile = tmp_path_factory.mktemp("libreoffice-profile")
    env = {**os.environ, "HOME": str(profile)}
    url = profile.as_uri()
    subprocess.run([SOFFICE, "--headless", f"-env:UserInstallation={url}", "--terminate_after_init"],
                   env=env, capture_output=True, timeout=180, check=False)
    module = profile / "user" / "basic" / "Standard" / "Module1.xba"
    if not module.parent.is_dir():
        pytest.fail(f"LibreOffice made no profile at {profile}")
    module.write_text(_macro_xml(), encoding="utf-8")

    def run(*args: str, **extra_env: str) -> None:
        done = subprocess.run([SOFFICE, "--headless", f"-env:UserInstallation={url}", *args],
                              env={**env, **extra_env}, capture_output=True, text=True, timeout=180,
                              check=False)
        assert done.returncode == 0, done.stderr

    return run


def _macro_xml() -> str:
    body = _MACRO_BODY.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<!DOCTYPE script:module PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" '
            '"module.dtd">\n<script:module xmlns:script="http://openoffice.org/2000/script" '
            f'script:name="Module1" script:language="StarBasic">{body}</script:module>\n')


_MACRO_BODY = """
Sub RenameSheet
  Dim opened(0) As New com.sun.star.beans.PropertyValue
  opened(0).Name = "Hidden"
  opened(0).Value = True
  url = ConvertToURL(Environ("SS_PATH"))
  doc = StarDesktop.loadComponentFromURL(url, "_blank", 0, opened())
  doc.Sheets.getByName(Environ("SS_OLD")).setName(Environ("SS_NEW"))
  Dim saved(1) As New com.sun.star.beans.PropertyValue
  saved(0).Name = "FilterName"
  saved(0).Value = "Calc MS Excel 2007 XML"
  saved(1).Name = "Overwrite"
  saved(1).Value = True
  doc.storeToURL(url, saved())
  doc.close(True)
End Sub
"""


def libreoffice_save(libreoffice, path: Path) -> None:
    """Open the workbook in LibreOffice and save it as .xlsx again."""
    out = path.parent / "saved-by-libreoffice"
    libreoffice("--convert-to", "xlsx", "--outdir", str(out), str(path))
    os.replace(out / path.name, path)


@needs_soffice
def test_a_tab_renamed_in_libreoffice_is_found_and_keeps_its_name(tmp_path, export, roster, libreoffice):
    path = tmp_path / "tracker.xlsx"
    sync(path, export, roster)
    tabs_before = len(openpyxl.load_workbook(path).sheetnames)
    type_reply(path, SWM, "C1")
    libreoffice("macro:///Standard.Module1.RenameSheet", SS_PATH=str(path), SS_OLD=SWM,
                SS_NEW="घनकचरा तक्रारी")
    assert "घनकचरा तक्रारी" in openpyxl.load_workbook(path).sheetnames
    assert_found_again(path, export, roster, "घनकचरा तक्रारी", tabs_before)


@needs_soffice
@legacy_warning
def test_a_title_libreoffice_cut_to_31_characters_is_found(tmp_path, export, roster, libreoffice):
    """An older version's 35-character title, cut by a LibreOffice save, with a reply typed."""
    path = tmp_path / "tracker.xlsx"
    sync(path, export, roster)
    make_legacy(path)
    tabs_before = len(openpyxl.load_workbook(path).sheetnames)
    type_reply(path, MALARIA, "C2")
    libreoffice_save(libreoffice, path)
    assert MALARIA[:31] in openpyxl.load_workbook(path).sheetnames  # what LibreOffice did
    result = sync(path, export, roster)
    assert not [s for s in result.structure if s.startswith("created tab")], result.structure
    titles = openpyxl.load_workbook(path).sheetnames
    assert len(titles) == tabs_before and all(is_valid_title(t) for t in titles), titles
    assert master(path)["C2"]["Reply"] == REPLY
    assert registry(path)["tab:MAL"] in titles


@needs_soffice
def test_the_identity_survives_a_libreoffice_save(tmp_path, export, roster, libreoffice):
    path = tmp_path / "tracker.xlsx"
    sync(path, export, roster)
    libreoffice_save(libreoffice, path)
    wb = openpyxl.load_workbook(path)
    marks = {ws.title: ws.defined_names[TAB_IDENTITY].attr_text for ws in wb.worksheets
             if TAB_IDENTITY in ws.defined_names}
    assert marks[SWM] == '"pending:SWM"' and marks["Pest and Mosquito Control (MAL)"] == '"pending:MAL"'
