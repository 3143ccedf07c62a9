"""The local Sheets fake's dates typed by a person (USER_ENTERED) and shown in the
spreadsheet's locale (sheets_sync/testing/fake_sheets_dates.py): modelled from Google's
documentation, and from the one recorded exchange that types dates."""

from __future__ import annotations

import gspread
import pytest

from sheets_sync.testing.fake_sheets_dates import serial, shown_date, typed_date
from tests.test_fake_sheets import ALICE, error_of, sheet  # noqa: F401 - the fixture

EN_US_DATE = {"type": "DATE"}


def set_locale(fake_sheets, sid: str, locale: str) -> None:
    fake_sheets.as_user(ALICE).batch_update(sid, [{"updateSpreadsheetProperties": {
        "properties": {"locale": locale}, "fields": "locale"}}])


def test_the_recorded_iso_dates_read_as_google_answered(sheet):  # noqa: F811
    # WorksheetTest.test_get_all_records_value_render_options, an en_US spreadsheet.
    ws = sheet.sheet1
    ws.update(values=[["2020-01-01", "string", 53], ["", 0.12, "1999-01-02"]], range_name="B1",
              value_input_option="USER_ENTERED")
    assert ws.get("B1:D2") == [["2020-01-01", "string", "53"], ["", "0.12", "1999-01-02"]]
    assert ws.get("B1:D2", value_render_option="UNFORMATTED_VALUE") == [
        [43831, "string", 53], ["", 0.12, 36162]]
    assert ws.get("B1:D2", value_render_option="FORMULA") == [[43831, "string", 53], ["", 0.12, 36162]]


def test_a_date_typed_in_en_us_is_read_month_first_and_shown_in_the_locale(fake_sheets, sheet):  # noqa: F811
    alice = fake_sheets.as_user(ALICE)
    alice.edit(sheet.id, "Sheet1!A1", [["05/12/2026", "12/5/2026", "13/12/2026", "2026-12-05"]])
    assert fake_sheets.get_values(sheet.id, "Sheet1!A1:D1") == [
        ["5/12/2026", "12/5/2026", "13/12/2026", "2026-12-05"]]
    # 12 May, 5 December, text (no 13th month), 5 December.
    assert fake_sheets.get_values(sheet.id, "Sheet1!A1:D1", "UNFORMATTED_VALUE") == [
        [46154, 46361, "13/12/2026", 46361]]
    cells = sheet.fetch_sheet_metadata({"includeGridData": "true", "ranges": "Sheet1!A1:D1"})
    row = cells["sheets"][0]["data"][0]["rowData"][0]["values"]
    assert row[0]["userEnteredValue"] == {"numberValue": 46154}
    assert row[0]["userEnteredFormat"]["numberFormat"] == EN_US_DATE
    assert row[0]["formattedValue"] == "5/12/2026" and row[2]["formattedValue"] == "13/12/2026"
    assert row[3]["userEnteredFormat"]["numberFormat"] == {"type": "DATE", "pattern": "yyyy-mm-dd"}
    # File > Settings > Locale: the same dates, shown day first; the ISO one keeps its pattern.
    set_locale(fake_sheets, sheet.id, "en_IN")
    assert fake_sheets.get_values(sheet.id, "Sheet1!A1:D1") == [
        ["12/05/2026", "05/12/2026", "13/12/2026", "2026-12-05"]]
    cells = sheet.fetch_sheet_metadata({"includeGridData": "true", "ranges": "Sheet1!A1"})
    assert cells["sheets"][0]["data"][0]["rowData"][0]["values"][0]["formattedValue"] == "12/05/2026"


def test_in_en_in_and_en_gb_a_date_is_typed_day_first(fake_sheets, sheet):  # noqa: F811
    alice = fake_sheets.as_user(ALICE)
    for locale in ("en_IN", "en_GB"):
        set_locale(fake_sheets, sheet.id, locale)
        alice.edit(sheet.id, "Sheet1!A1", [["05/12/2026", "12/25/2026"]])
        assert fake_sheets.get_values(sheet.id, "Sheet1!A1:B1") == [["05/12/2026", "12/25/2026"]]
        assert fake_sheets.get_values(sheet.id, "Sheet1!A1:B1", "UNFORMATTED_VALUE") == [
            [46361, "12/25/2026"]]
        set_locale(fake_sheets, sheet.id, "en_US")
        assert fake_sheets.get_values(sheet.id, "Sheet1!A1") == [["12/5/2026"]]


def test_a_cell_keeps_its_date_format_and_raw_text_stays_text(fake_sheets, sheet):  # noqa: F811
    alice = fake_sheets.as_user(ALICE)
    alice.edit(sheet.id, "Sheet1!A1", [["2026-12-05"]])
    alice.edit(sheet.id, "Sheet1!A1", [["12/25/2026"]])  # typed again: the cell's format stays
    assert fake_sheets.get_values(sheet.id, "Sheet1!A1") == [["2026-12-25"]]
    alice.edit(sheet.id, "Sheet1!A1", [["next week"]])
    assert fake_sheets.get_values(sheet.id, "Sheet1!A1") == [["next week"]]
    alice.edit(sheet.id, "Sheet1!B1", [["05/12/2026"]], raw=True)
    assert fake_sheets.get_values(sheet.id, "Sheet1!B1", "UNFORMATTED_VALUE") == [["05/12/2026"]]


def test_what_the_fake_does_not_model_is_refused(fake_sheets, sheet):  # noqa: F811
    ws = sheet.sheet1
    for typed in ("5 Dec 2026", "December 5, 2026", "5.12.2026", "5/12/26", "5/12"):
        with pytest.raises(gspread.exceptions.APIError) as exc:
            ws.update(values=[[typed]], range_name="A1", value_input_option="USER_ENTERED")
        assert error_of(exc.value)["message"].startswith("fake_sheets does not implement")
    set_locale(fake_sheets, sheet.id, "hi_IN")
    with pytest.raises(gspread.exceptions.APIError) as exc:
        ws.update(values=[["05/12/2026"]], range_name="A1", value_input_option="USER_ENTERED")
    assert "dates in the locale 'hi_IN'" in error_of(exc.value)["message"]


def test_serials_and_patterns():
    from datetime import date

    assert serial(date(1899, 12, 30)) == 0 and serial(date(2020, 1, 1)) == 43831
    assert shown_date(46361, {"type": "DATE"}, "en_US") == "12/5/2026"
    assert shown_date(46361.75, {"type": "DATE"}, "en_IN") == "05/12/2026"  # the day, not the hour
    assert shown_date(46361, {"type": "DATE", "pattern": "d/M/yyyy"}, "en_US") == "5/12/2026"
    assert typed_date("2026-02-30", "en_US", None) == ({"stringValue": "2026-02-30"}, None)
    assert typed_date("hello", "en_US", None) is None
