"""Behaviour of the local Sheets fake, driven by real gspread + google-auth over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import gspread
import pytest
import requests

from sheets_sync.endpoint import EndpointAdapter, mount_endpoint, session_for
from sheets_sync.testing.fake_sheets import ApiError, FakeSheetsServer, RequestInfo
from tests.fake_sheets_fixtures import JOB_EMAIL

# Fixtures (fake_sheets, gspread_client, gspread_client_factory, ...) come from the
# tests.fake_sheets_fixtures plugin registered in tests/conftest.py.

ALICE = "alice@ward-office.example.com"
BOB = "bob@ward-office.example.com"
CITIZEN_TEXT = "रस्त्यावर खड्डे 🙏 सड़क"
PROTECTED = ("You are trying to edit a protected cell or object. Please contact the "
             "spreadsheet owner to remove protection if you need to edit.")


def api(fake: FakeSheetsServer, method: str, path: str, identity: str | None = JOB_EMAIL,
        **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {fake.token_for(identity)}"} if identity else {}
    return requests.request(method, fake.url + path, headers=headers, timeout=10, **kwargs)


def error_of(exc: gspread.exceptions.APIError) -> dict:
    return exc.response.json()["error"]


@pytest.fixture
def sheet(fake_sheets: FakeSheetsServer, gspread_client: gspread.Client):
    """A spreadsheet owned by the job, shared with Alice and Bob as writers."""
    sh = gspread_client.create("Tracker")
    fake_sheets.share(sh.id, ALICE, "writer")
    fake_sheets.share(sh.id, BOB, "writer")
    return sh


# --------------------------------------------------------------------------- auth


def test_token_flow_maps_each_key_to_its_identity(fake_sheets, gspread_client_factory):
    job = gspread_client_factory(JOB_EMAIL)
    alice = gspread_client_factory(ALICE)
    sh = job.create("Tracker")
    fake_sheets.share(sh.id, ALICE, "writer")
    alice.open_by_key(sh.id).sheet1.update_acell("A1", "hello")

    tokens = fake_sheets.token_requests
    assert {t["identity"] for t in tokens} == {JOB_EMAIL, ALICE}
    assert all(t["status"] == 200 for t in tokens)
    writes = [r for r in fake_sheets.requests if r["method"] == "PUT"]
    assert [w["identity"] for w in writes] == [ALICE]
    assert fake_sheets.spreadsheet(sh.id).owner == JOB_EMAIL


def test_token_endpoint_rejects_malformed_jwt(fake_sheets):
    bad = requests.post(fake_sheets.token_uri, data={
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "a.b"})
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_grant"


def test_missing_or_unknown_token_is_401(fake_sheets):
    sid = fake_sheets.create_spreadsheet("T", JOB_EMAIL)
    missing = requests.get(f"{fake_sheets.url}/v4/spreadsheets/{sid}", timeout=10)
    assert missing.status_code == 401
    assert missing.json()["error"]["status"] == "UNAUTHENTICATED"
    assert missing.json()["error"]["message"].startswith(
        "Request is missing required authentication credential.")
    unknown = requests.get(f"{fake_sheets.url}/v4/spreadsheets/{sid}", timeout=10,
                           headers={"Authorization": "Bearer nope"})
    assert unknown.status_code == 401
    assert unknown.json()["error"]["code"] == 401


def test_unshared_is_403_reader_cannot_write_missing_is_404(fake_sheets, sheet,
                                                           gspread_client_factory):
    stranger = gspread_client_factory("stranger@example.com")
    with pytest.raises(PermissionError):
        stranger.open_by_key(sheet.id)
    r = api(fake_sheets, "GET", f"/v4/spreadsheets/{sheet.id}", "stranger@example.com")
    assert r.status_code == 403
    assert r.json() == {"error": {"code": 403, "message": "The caller does not have permission",
                                  "status": "PERMISSION_DENIED"}}

    fake_sheets.share(sheet.id, "reader@example.com", "reader")
    reader = gspread_client_factory("reader@example.com").open_by_key(sheet.id).sheet1
    assert reader.acell("A1").value is None  # a reader can read
    with pytest.raises(gspread.exceptions.APIError) as exc:
        reader.update_acell("A1", "x")
    assert exc.value.response.status_code == 403

    r = api(fake_sheets, "GET", "/v4/spreadsheets/doesNotExist1234567890")
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "Requested entity was not found."


# --------------------------------------------------------------------------- values


def test_raw_keeps_text_user_entered_parses_what_the_fake_knows(fake_sheets, sheet):
    ws = sheet.sheet1
    formula = '=IMPORTXML("https://evil.example/x","//a")'
    raw = [formula, "+91 98765 43210", "2020-01-01", "0042", "TRUE", "=4/2"]
    ws.update(values=[raw], range_name="A1", value_input_option="RAW")
    ws.update(values=[[formula, "0042", "TRUE", "=4/2", "'=text"]], range_name="A2",
              value_input_option="USER_ENTERED")

    grid = sheet.fetch_sheet_metadata({"includeGridData": "true", "ranges": "Sheet1!A1:F2"})
    rows = grid["sheets"][0]["data"][0]["rowData"]
    assert [c["userEnteredValue"] for c in rows[0]["values"]] == [
        {"stringValue": v} for v in raw]
    assert [c["userEnteredValue"] for c in rows[1]["values"]] == [
        {"formulaValue": formula}, {"numberValue": 42}, {"boolValue": True},
        {"formulaValue": "=4/2"}, {"stringValue": "=text"}]
    # Formulas are not evaluated: their value is the documented placeholder.
    assert rows[1]["values"][0]["effectiveValue"] == {"errorValue": {
        "type": "N_A", "message": "fake_sheets: formula not evaluated"}}
    assert ws.get("A2:E2")[0] == ["#N/A", "42", "TRUE", "#N/A", "=text"]
    assert ws.get("A2:E2", value_render_option="UNFORMATTED_VALUE")[0] == [
        "#N/A", 42, True, "#N/A", "=text"]
    assert ws.get("A2:E2", value_render_option="FORMULA")[0] == [
        formula, 42, True, "=4/2", "=text"]
    assert ws.get("A1:F1")[0] == raw  # RAW: exactly as typed
    # What Google would read as a date (in a form the fake does not model, see
    # tests/test_fake_dates.py) or a "+" formula is refused, not stored wrongly.
    for typed in ("+91 98765 43210", "2020/01/01", "5 Dec 2026", "10%"):
        with pytest.raises(gspread.exceptions.APIError) as exc:
            ws.update(values=[[typed]], range_name="A3", value_input_option="USER_ENTERED")
        assert error_of(exc.value)["message"] == (
            f"fake_sheets does not implement USER_ENTERED parsing of {typed!r} (send it RAW)")


def test_unicode_round_trips_byte_for_byte(fake_sheets, sheet):
    ws = sheet.sheet1
    ws.update(values=[[CITIZEN_TEXT, "Артур", "🎉🎊"]], range_name="A1", value_input_option="RAW")
    assert ws.get_all_values() == [[CITIZEN_TEXT, "Артур", "🎉🎊"]]
    got = fake_sheets.get_values(sheet.id, "Sheet1!A1")[0][0]
    assert got.encode("utf-8") == CITIZEN_TEXT.encode("utf-8")


def test_null_leaves_cell_and_empty_string_clears(fake_sheets, sheet):
    ws = sheet.sheet1
    ws.update(values=[["a", "b", "c"]], range_name="A1", value_input_option="RAW")
    r = api(fake_sheets, "PUT", f"/v4/spreadsheets/{sheet.id}/values/Sheet1!A1:C1",
            params={"valueInputOption": "RAW"}, json={"values": [[None, "", "C"]]})
    assert r.json()["updatedCells"] == 2
    assert ws.get_all_values() == [["a", "", "C"]]


def test_cell_character_limit(fake_sheets, sheet):
    ws = sheet.sheet1
    ws.update(values=[["x" * 50_000]], range_name="A1", value_input_option="RAW")
    with pytest.raises(gspread.exceptions.APIError) as exc:
        ws.update(values=[["x" * 50_001]], range_name="A2", value_input_option="RAW")
    limit = "Your input contains more than the maximum of 50000 characters in a single cell."
    assert error_of(exc.value) == {"code": 400, "message": limit, "status": "INVALID_ARGUMENT"}

    def cells(text: str) -> dict:
        return {"sheetId": 0, "fields": "userEnteredValue",
                "rows": [{"values": [{"userEnteredValue": {"stringValue": text}}]}]}

    with pytest.raises(gspread.exceptions.APIError) as exc:
        sheet.batch_update({"requests": [{"appendCells": cells("ok")},
                                         {"appendCells": cells("y" * 50_001)}]})
    assert error_of(exc.value)["message"] == "Invalid requests[1].appendCells: " + limit
    assert ws.acell("A2").value is None  # all or nothing


def test_grid_limits_and_parse_errors(fake_sheets, sheet):
    ws = sheet.sheet1
    with pytest.raises(gspread.exceptions.APIError) as exc:
        ws.update(values=[["late"]], range_name="A1001", value_input_option="RAW")
    assert error_of(exc.value) == {
        "code": 400, "status": "INVALID_ARGUMENT",
        "message": "Range ('Sheet1'!A1001) exceeds grid limits. Max rows: 1000, max columns: 26"}
    r = api(fake_sheets, "GET", f"/v4/spreadsheets/{sheet.id}/values/Sheet1!A1:B1001")
    assert r.json()["error"]["message"] == ("Range ('Sheet1'!A1:B1001) exceeds grid limits. "
                                            "Max rows: 1000, max columns: 26")
    r = api(fake_sheets, "GET", f"/v4/spreadsheets/{sheet.id}/values/NOPE!A5:F15")
    assert r.json()["error"]["message"] == "Unable to parse range: NOPE!A5:F15"
    r = api(fake_sheets, "POST", f"/v4/spreadsheets/{sheet.id}:batchUpdate", json={
        "requests": [{"addSheet": {"properties": {"title": "Huge", "gridProperties": {
            "rowCount": 400_000, "columnCount": 26}}}}]})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == (
        "Invalid requests[0].addSheet: This action would increase the number of cells in the "
        "workbook above the limit of 10000000 cells.")
    r = api(fake_sheets, "POST", f"/v4/spreadsheets/{sheet.id}:batchUpdate",
            json={"requests": [{"addSheet": {"properties": {"title": "Sheet1"}}}]})
    assert r.json()["error"]["message"] == (
        'Invalid requests[0].addSheet: A sheet with the name "Sheet1" already exists. '
        "Please enter another name.")


def test_echoed_ranges_and_trimming(fake_sheets, sheet):
    ws = sheet.add_worksheet("My Tab", rows=10, cols=5)
    ws.update(values=[["a", "", "c"], ["", "", ""], ["", "e"]], range_name="A1",
              value_input_option="RAW")
    base = f"/v4/spreadsheets/{sheet.id}/values/"
    r = api(fake_sheets, "GET", base + "'My Tab'").json()
    assert r == {"range": "'My Tab'!A1:E10", "majorDimension": "ROWS",
                 "values": [["a", "", "c"], [], ["", "e"]]}
    r = api(fake_sheets, "GET", base + "'My Tab'!B:B", params={"majorDimension": "COLUMNS"})
    assert r.json() == {"range": "'My Tab'!B1:B10", "majorDimension": "COLUMNS",
                        "values": [["", "", "e"]]}
    r = api(fake_sheets, "GET", base + "'My Tab'!A2:C")
    assert r.json()["range"] == "'My Tab'!A2:C10"
    r = api(fake_sheets, "GET", base + "A1:B1")  # no sheet: the first one
    assert r.json()["range"] == "Sheet1!A1:B1"
    r = api(fake_sheets, "GET", f"/v4/spreadsheets/{sheet.id}/values:batchGet",
            params={"ranges": ["'My Tab'!1:1", "'My Tab'!C1"]})
    assert [v["range"] for v in r.json()["valueRanges"]] == ["'My Tab'!A1:E1", "'My Tab'!C1"]


def test_append_table_detection_and_growth(fake_sheets, sheet):
    ws = sheet.sheet1
    ws.append_row(["x", "", "y"])
    second = ws.append_row(["x", "", "y"])
    # Google's recorded quirk: the blank B1 splits the table, the row lands in C2:E2.
    assert second["tableRange"] == "Sheet1!C1"
    assert second["updates"]["updatedRange"] == "Sheet1!C2:E2"

    ws2 = sheet.add_worksheet("Data", rows=2, cols=2)
    ws2.update(values=[["id", "text"], ["1", "a"]], range_name="A1", value_input_option="RAW")
    res = ws2.append_rows([["2", "b"]], table_range="A1:B2")
    assert (res["tableRange"], res["updates"]["updatedRange"]) == ("Data!A1:B2", "Data!A3:B3")
    assert fake_sheets.spreadsheet(sheet.id).sheet_by_title("Data").row_count == 3  # grown
    with pytest.raises(gspread.exceptions.APIError) as exc:
        ws2.append_rows([["3", "c"]], insert_data_option="INSERT_ROWS")
    assert "does not implement insertDataOption=INSERT_ROWS" in error_of(exc.value)["message"]


# --------------------------------------------------------------------------- batchUpdate


def test_batch_update_is_atomic(fake_sheets, sheet):
    with pytest.raises(gspread.exceptions.APIError) as exc:
        sheet.batch_update({"requests": [
            {"addSheet": {"properties": {"title": "New"}}},
            {"updateCells": {"range": {"sheetId": 999}, "fields": "userEnteredValue",
                             "rows": [{"values": [{"userEnteredValue": {"stringValue": "x"}}]}]}},
        ]})
    assert error_of(exc.value) == {"code": 400, "status": "INVALID_ARGUMENT",
                                   "message": "Invalid requests[1].updateCells: "
                                              "No grid with id: 999"}
    assert [ws.title for ws in sheet.worksheets()] == ["Sheet1"]

    reply = sheet.batch_update({"requests": [
        {"addSheet": {"properties": {"title": "New"}}},
        {"updateSheetProperties": {"properties": {"sheetId": 0, "gridProperties": {
            "frozenRowCount": 1}}, "fields": "gridProperties.frozenRowCount"}},
    ], "includeSpreadsheetInResponse": True})
    new_id = reply["replies"][0]["addSheet"]["properties"]["sheetId"]
    assert reply["replies"][1] == {}
    assert [s["properties"]["sheetId"] for s in reply["updatedSpreadsheet"]["sheets"]] == [
        0, new_id]
    assert reply["updatedSpreadsheet"]["sheets"][0]["properties"]["gridProperties"][
        "frozenRowCount"] == 1


def test_update_cells_append_cells_repeat_cell_and_fields_mask(fake_sheets, sheet):
    sheet.batch_update({"requests": [
        {"updateCells": {"start": {"sheetId": 0, "rowIndex": 0, "columnIndex": 0},
                         "fields": "userEnteredValue",
                         "rows": [{"values": [{"userEnteredValue": {"stringValue": "id"}},
                                              {"userEnteredValue": {"numberValue": 7}}]}]}},
        {"appendCells": {"sheetId": 0, "fields": "userEnteredValue", "rows": [
            {"values": [{"userEnteredValue": {"boolValue": True}},
                        {"userEnteredValue": {"formulaValue": "=B1*6"}}]}]}},
        {"repeatCell": {"range": {"sheetId": 0, "startRowIndex": 0, "endRowIndex": 1},
                        "cell": {"userEnteredFormat": {"textFormat": {"bold": True}}},
                        "fields": "userEnteredFormat.textFormat.bold"}},
        {"setDataValidation": {"range": {"sheetId": 0, "startRowIndex": 1, "endRowIndex": 2,
                                         "startColumnIndex": 0, "endColumnIndex": 1},
                               "rule": {"condition": {"type": "ONE_OF_LIST", "values": [
                                   {"userEnteredValue": "Open"}]}, "strict": True}}},
    ]})
    assert sheet.sheet1.get_all_values() == [["id", "7"], ["TRUE", "#N/A"]]
    got = sheet.fetch_sheet_metadata({
        "fields": "sheets(properties(sheetId,title),data.rowData.values("
                  "userEnteredFormat/textFormat,dataValidation.condition.type))",
        "ranges": "Sheet1!A1:B2"})
    assert got == {"sheets": [{"properties": {"sheetId": 0, "title": "Sheet1"}, "data": [
        {"rowData": [
            {"values": [{"userEnteredFormat": {"textFormat": {"bold": True}}}] * 2},
            {"values": [{"dataValidation": {"condition": {"type": "ONE_OF_LIST"}}}]}]}]}]}


def test_find_replace_changes_a_cell_only_while_it_holds_the_text(fake_sheets, sheet):
    """The backend's compare-and-swap of a Status (backends/gsheets/guards.py)."""
    sheet.sheet1.update([["Sent for approval", "Sent for approval", "x"]], "A1", raw=True)

    def swap(find, column, **more):
        return {"findReplace": {"find": find, "replacement": "Approved", "matchCase": True,
                                "matchEntireCell": True, "range": {
                                    "sheetId": 0, "startRowIndex": 0, "endRowIndex": 1,
                                    "startColumnIndex": column, "endColumnIndex": column + 1}, **more}}

    reply = sheet.batch_update({"requests": [swap("Sent for approval", 0), swap("Withdrawn", 1),
                                             swap("sent for approval", 1)]})
    assert reply["replies"] == [{"findReplace": {"valuesChanged": 1, "occurrencesChanged": 1,
                                                 "rowsChanged": 1, "sheetsChanged": 1}},
                                {"findReplace": {}}, {"findReplace": {}}]  # (zero counts left out)
    assert sheet.sheet1.get_all_values() == [["Approved", "Sent for approval", "x"]]
    with pytest.raises(gspread.exceptions.APIError) as exc:
        sheet.batch_update({"requests": [swap("", 0)]})
    assert error_of(exc.value)["message"] == "Invalid requests[0].findReplace: find must not be empty."
    with pytest.raises(gspread.exceptions.APIError) as exc:  # not modelled: said, never faked
        sheet.batch_update({"requests": [swap("x", 2, searchByRegex=True)]})
    assert "does not implement" in error_of(exc.value)["message"]


def test_structure_requests_with_protected_ranges(fake_sheets, sheet):
    reply = sheet.batch_update({"requests": [
        {"addProtectedRange": {"protectedRange": {
            "range": {"sheetId": 0, "startRowIndex": 2, "endRowIndex": 4},
            "description": "job rows", "editors": {"users": [BOB]}}}},
        {"addConditionalFormatRule": {"index": 0, "rule": {
            "ranges": [{"sheetId": 0, "startRowIndex": 1, "startColumnIndex": 3,
                        "endColumnIndex": 4}],
            "booleanRule": {"condition": {"type": "TEXT_EQ", "values": [
                {"userEnteredValue": "YES"}]}, "format": {"backgroundColor": {"red": 1}}}}}},
        {"updateDimensionProperties": {"range": {"sheetId": 0, "dimension": "COLUMNS",
                                                 "startIndex": 1, "endIndex": 2},
                                       "properties": {"pixelSize": 300},
                                       "fields": "pixelSize"}},
        {"appendDimension": {"sheetId": 0, "dimension": "ROWS", "length": 10}},
    ]})
    pr_id = reply["replies"][0]["addProtectedRange"]["protectedRange"]["protectedRangeId"]
    sheet.batch_update({"requests": [{"deleteDimension": {"range": {
        "sheetId": 0, "dimension": "ROWS", "startIndex": 0, "endIndex": 1}}}]})
    meta = sheet.fetch_sheet_metadata({"fields": "sheets(properties.gridProperties,"
                                       "protectedRanges,conditionalFormats.ranges)"})["sheets"][0]
    assert meta["properties"]["gridProperties"] == {"rowCount": 1009, "columnCount": 26}
    assert meta["protectedRanges"] == [{
        "protectedRangeId": pr_id, "range": {"startRowIndex": 1, "endRowIndex": 3},
        "description": "job rows", "requestingUserCanEdit": True,
        "editors": {"users": [BOB, JOB_EMAIL]}}]
    assert meta["conditionalFormats"] == [{"ranges": [
        {"startRowIndex": 0, "startColumnIndex": 3, "endColumnIndex": 4}]}]
    sheet.batch_update({"requests": [{"deleteProtectedRange": {"protectedRangeId": pr_id}}]})
    after = sheet.fetch_sheet_metadata()["sheets"][0]
    assert set(after) == {"properties", "conditionalFormats"}
    with pytest.raises(gspread.exceptions.APIError) as exc:
        sheet.batch_update({"requests": [{"mergeCells": {"range": {"sheetId": 0}}}]})
    assert error_of(exc.value)["message"] == (
        "fake_sheets does not implement the request kind 'mergeCells' (requests[0])")


# --------------------------------------------------------------------------- protection


def test_protected_range_blocks_non_editors_only(fake_sheets, sheet, gspread_client_factory):
    ws = sheet.sheet1
    ws.update(values=[["id", "reply"], ["c1", ""]], range_name="A1", value_input_option="RAW")
    ws.add_protected_range("A1:A2", editor_users_emails=[BOB])
    alice_ws = gspread_client_factory(ALICE).open_by_key(sheet.id).sheet1
    bob_ws = gspread_client_factory(BOB).open_by_key(sheet.id).sheet1

    with pytest.raises(gspread.exceptions.APIError) as exc:
        alice_ws.update_acell("A2", "hijacked")
    # Google refuses it with 400, not 403; values calls put "Invalid data[0]: " before it.
    assert error_of(exc.value) == {"code": 400, "message": "Invalid data[0]: " + PROTECTED,
                                   "status": "INVALID_ARGUMENT"}
    with pytest.raises(gspread.exceptions.APIError):
        alice_ws.delete_rows(2)
    alice_ws.update_acell("B2", "Fixed the road")  # outside the protection
    bob_ws.update_acell("A2", "c1-bob")  # listed editor
    ws.update_acell("A1", "ID")  # the owner bypasses protection
    assert ws.get_all_values() == [["ID", "reply"], ["c1-bob", "Fixed the road"]]
    # The same check applies to simulated people.
    with pytest.raises(ApiError) as person:
        fake_sheets.as_user(ALICE).edit(sheet.id, "Sheet1!A1", [["x"]])
    assert (person.value.code, person.value.message) == (400, "Invalid data[0]: " + PROTECTED)


def test_sheet_protection_with_unprotected_ranges_and_warning_only(fake_sheets, sheet):
    sheet.batch_update({"requests": [{"addProtectedRange": {"protectedRange": {
        "range": {"sheetId": 0},
        "unprotectedRanges": [{"sheetId": 0, "startColumnIndex": 2, "endColumnIndex": 3}]}}}]})
    alice = fake_sheets.as_user(ALICE)
    alice.edit(sheet.id, "Sheet1!C5", [["allowed"]])
    with pytest.raises(ApiError):
        alice.edit(sheet.id, "Sheet1!C5:D5", [["allowed", "not"]])
    with pytest.raises(ApiError):
        alice.rename_sheet(sheet.id, "Sheet1", "Renamed")
    ws2 = sheet.add_worksheet("Notes", 5, 5)
    ws2.add_protected_range("A1:E5", warning_only=True)
    alice.edit(sheet.id, "Notes!A1", [["warning only does not block"]])
    assert fake_sheets.get_values(sheet.id, "Notes!A1") == [["warning only does not block"]]


# --------------------------------------------------------------------------- knobs


def test_quota_429_bodies_and_window(fake_sheets, sheet):
    fake_sheets.set_quota(read_per_minute=2, write_per_minute=1, window_seconds=0.5)
    path = f"/v4/spreadsheets/{sheet.id}/values/Sheet1!A1"
    assert [api(fake_sheets, "GET", path).status_code for _ in range(2)] == [200, 200]
    over = api(fake_sheets, "GET", path)
    assert over.status_code == 429
    assert over.json() == {"error": {
        "code": 429,
        "message": "Quota exceeded for quota metric 'Read requests' and limit 'Read requests "
                   "per minute per user' of service 'sheets.googleapis.com' for consumer "
                   "'project_number:123456789012'.",
        "status": "RESOURCE_EXHAUSTED",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                     "reason": "RATE_LIMIT_EXCEEDED", "domain": "googleapis.com",
                     "metadata": {"service": "sheets.googleapis.com",
                                  "quota_metric": "sheets.googleapis.com/read_requests",
                                  "quota_limit": "ReadRequestsPerMinutePerUser"}}]}}
    assert api(fake_sheets, "GET", path, ALICE).status_code == 200  # per identity
    put = {"params": {"valueInputOption": "RAW"}, "json": {"values": [["x"]]}}
    assert api(fake_sheets, "PUT", path, **put).status_code == 200
    write_over = api(fake_sheets, "PUT", path, **put).json()["error"]
    assert "'Write requests'" in write_over["message"]
    assert write_over["details"][0]["metadata"]["quota_limit"] == "WriteRequestsPerMinutePerUser"
    time.sleep(0.55)
    assert api(fake_sheets, "GET", path).status_code == 200


def test_injected_5xx_and_failure_after_apply(fake_sheets, sheet):
    ws = sheet.sheet1
    fake_sheets.fail_next(1, status=503, method="PUT")
    with pytest.raises(gspread.exceptions.APIError) as exc:
        ws.update_acell("A1", "first")
    assert error_of(exc.value) == {"code": 503, "message": "The service is currently "
                                   "unavailable.", "status": "UNAVAILABLE"}
    assert fake_sheets.get_values(sheet.id, "Sheet1") == []  # "before": nothing applied
    fake_sheets.fail_next(1, status=500, path=r":append$", when="after")
    with pytest.raises(gspread.exceptions.APIError):
        ws.append_row(["applied anyway"])
    assert ws.get_all_values() == [["applied anyway"]]
    ws.update_acell("A2", "fine again")
    assert ws.acell("A2").value == "fine again"


def test_dropped_connection_after_apply(fake_sheets, sheet):
    ws = sheet.sheet1
    fake_sheets.drop_next(1, method="POST", path=":append", when="after")
    with pytest.raises(requests.exceptions.ConnectionError):
        ws.append_row(["c1", CITIZEN_TEXT])
    assert fake_sheets.get_values(sheet.id, "Sheet1") == [["c1", CITIZEN_TEXT]]
    fake_sheets.drop_next(1, method="PUT")  # before: not applied
    with pytest.raises(requests.exceptions.ConnectionError):
        ws.update_acell("B5", "lost")
    assert ws.acell("B5").value is None
    dropped = [r for r in fake_sheets.requests if r.get("dropped")]
    assert [(r["method"], r["status"]) for r in dropped] == [("POST", None), ("PUT", None)]


def test_latency(fake_sheets, sheet):
    fake_sheets.set_latency(0.3)
    start = time.monotonic()
    sheet.sheet1.get_all_values()
    assert time.monotonic() - start >= 0.3


def test_config_over_http(fake_sheets, sheet):
    r = requests.post(fake_sheets.url + "/_fake/config", timeout=10, json={
        "latency": 0, "quotas": {"read_per_minute": 1},
        "faults": [{"count": 1, "status": 500, "method": "GET", "path": "/values/"}]})
    assert r.json() == {"ok": True}
    path = f"/v4/spreadsheets/{sheet.id}/values/A1"
    first = api(fake_sheets, "GET", path)
    assert (first.status_code, first.json()["error"]["status"]) == (500, "INTERNAL")
    assert api(fake_sheets, "GET", path).status_code == 429  # the fault used the quota


# --------------------------------------------------------------------------- people


def test_people_edit_between_and_during_the_jobs_requests(fake_sheets, sheet):
    ws = sheet.sheet1
    ws.update(values=[["id", "reply"], ["c1", ""], ["c2", ""]], range_name="A1",
              value_input_option="RAW")
    seen: list[tuple[str, str]] = []

    def person(info: RequestInfo, phase: str) -> None:
        seen.append((info.method, phase))
        if info.method == "PUT" and phase == "before":
            # Alice sorts by id descending while the job is about to write by position.
            fake_sheets.as_user(ALICE).sort(sheet.id, "Sheet1", "A", ascending=False)
        if info.method == "PUT" and phase == "after":
            fake_sheets.as_user(BOB).edit(sheet.id, "Sheet1!B3", [["typed by Bob"]])

    remove = fake_sheets.on_request(person)
    ws.update_acell("B2", "job thinks this is c1")  # row 2 held c1 when the job read it
    remove()
    assert seen == [("PUT", "before"), ("PUT", "after")]
    assert ws.get_all_values() == [["id", "reply"], ["c2", "job thinks this is c1"],
                                   ["c1", "typed by Bob"]]
    assert fake_sheets.hook_errors == []


def test_sort_insert_delete_move_hide(fake_sheets, sheet):
    ws = sheet.sheet1
    ws.update(values=[["id", "n", "note"], ["b", 2, ""], ["", 9, "blank id"], ["a", 10, ""],
                      ["C", 1, ""]], range_name="A1", value_input_option="USER_ENTERED")
    bob = fake_sheets.as_user(BOB)
    bob.sort(sheet.id, "Sheet1", "A")  # text case-insensitive, blanks last; header kept
    assert [r[0] for r in ws.get_all_values()] == ["id", "a", "b", "C", ""]
    sheet.batch_update({"requests": [{"sortRange": {
        "range": {"sheetId": 0, "startRowIndex": 1, "endRowIndex": 5},
        "sortSpecs": [{"dimensionIndex": 1, "sortOrder": "DESCENDING"}]}}]})
    assert [r[1] for r in ws.get_all_values()] == ["n", "10", "9", "2", "1"]

    bob.insert_rows(sheet.id, "Sheet1", 1, count=2)
    assert ws.get_all_values()[:4] == [["id", "n", "note"], ["", "", ""], ["", "", ""],
                                       ["a", "10", ""]]
    bob.delete_rows(sheet.id, "Sheet1", 1, count=2)
    bob.move_columns(sheet.id, "Sheet1", 2, 1, 0)  # "note" to the front
    assert ws.row_values(1) == ["note", "id", "n"]
    assert ws.col_values(1)[2] == "blank id"
    bob.hide_columns(sheet.id, "Sheet1", 0)
    bob.rename_sheet(sheet.id, "Sheet1", "Tracker")
    meta = sheet.fetch_sheet_metadata({"fields": "sheets(properties.title,"
                                       "data.columnMetadata)"})["sheets"][0]
    assert meta["properties"]["title"] == "Tracker"
    assert meta["data"][0]["columnMetadata"][0] == {"pixelSize": 100, "hiddenByUser": True}


# --------------------------------------------------------------------------- gspread + log


def test_gspread_round_trip_create_open_delete(fake_sheets, gspread_client,
                                              gspread_client_factory):
    sh = gspread_client.create("Ward 12 Tracker")  # Drive files.create
    tab = sh.add_worksheet("Roads", rows=20, cols=6)
    tab.update(values=[["id", "text"]], range_name="A1", value_input_option="RAW")
    tab.append_rows([["c1", CITIZEN_TEXT], ["c2", "=HYPERLINK(\"x\")"]],
                    value_input_option="RAW")
    tab.update(values=[["status"], ["Open"], ["Closed"]], range_name="C1:C3",
               value_input_option="RAW")
    assert sh.values_batch_get(["Roads!A2:C3"])["valueRanges"][0]["values"] == [
        ["c1", CITIZEN_TEXT, "Open"], ["c2", "=HYPERLINK(\"x\")", "Closed"]]
    sh.values_clear("Roads!C3")
    assert tab.col_values(3) == ["status", "Open"]
    fake_sheets.share(sh.id, ALICE, "writer")
    alice = gspread_client_factory(ALICE)
    assert alice.open_by_key(sh.id).title == "Ward 12 Tracker"
    with pytest.raises(gspread.exceptions.APIError) as exc:
        alice.del_spreadsheet(sh.id)  # writers cannot delete
    assert exc.value.response.json()["error"]["errors"][0]["reason"] == (
        "insufficientFilePermissions")
    gspread_client.del_spreadsheet(sh.id)  # Drive files.delete
    with pytest.raises(gspread.exceptions.SpreadsheetNotFound):
        gspread_client.open_by_key(sh.id)


def test_request_log(fake_sheets, sheet):
    ws = sheet.sheet1  # (gspread fetches the metadata here)
    requests.delete(fake_sheets.url + "/_fake/requests", timeout=10)
    ws.update(values=[[CITIZEN_TEXT]], range_name="A1", value_input_option="RAW")
    sheet.values_batch_get(["Sheet1!A1", "Sheet1!B1"])
    log = requests.get(fake_sheets.url + "/_fake/requests", timeout=10).json()
    assert len(log) == 2
    assert {"method", "path", "query", "status", "identity", "request_bytes",
            "response_bytes"} <= set(log[0])
    put, get = log
    assert (put["method"], put["path"], put["status"], put["identity"]) == (
        "PUT", f"/v4/spreadsheets/{sheet.id}/values/'Sheet1'!A1", 200, JOB_EMAIL)
    assert put["query"] == {"valueInputOption": ["RAW"]}
    assert put["request_bytes"] > len(CITIZEN_TEXT) and put["response_bytes"] > 0
    assert get["query"] == {"ranges": ["Sheet1!A1", "Sheet1!B1"]}
    assert fake_sheets.requests == log
    assert requests.delete(fake_sheets.url + "/_fake/requests", timeout=10).status_code == 204
    assert fake_sheets.requests == []
    assert "token" not in {r["path"] for r in log}


def test_endpoint_adapter_rewrites_google_hosts():
    adapter = EndpointAdapter("http://127.0.0.1:1/")
    assert adapter.rewrite("https://sheets.googleapis.com/v4/spreadsheets/x?a=1") == (
        "http://127.0.0.1:1/v4/spreadsheets/x?a=1")
    assert adapter.rewrite("https://www.googleapis.com/drive/v3/files") == (
        "http://127.0.0.1:1/drive/v3/files")
    assert adapter.rewrite("https://example.com/x") == "https://example.com/x"
    s = mount_endpoint(requests.Session(), "http://127.0.0.1:1")
    assert isinstance(s.get_adapter("https://sheets.googleapis.com/v4/x"), EndpointAdapter)
    assert not isinstance(s.get_adapter("https://example.com/"), EndpointAdapter)


def test_session_for_honours_env(monkeypatch, fake_sheets):
    monkeypatch.setenv("SHEETS_SYNC_API_ENDPOINT", fake_sheets.url)
    session = session_for()
    r = session.get("https://sheets.googleapis.com/v4/spreadsheets/x", timeout=10)
    assert r.status_code == 401  # reached the fake, which wants a token


def test_following_what_the_fake_prints_runs_the_job_on_it(tmp_path):
    """A newcomer starts the fake and types the commands it prints: init and sync work."""
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-m", "sheets_sync.testing.fake_sheets", "--port", "0"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while not lines or not lines[-1].startswith("Ctrl-C"):
            lines.append(proc.stdout.readline().strip())
            assert proc.poll() is None, proc.stderr.read()
        url = lines[0].rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:")
        env = {**os.environ, "SHEETS_SYNC_STATE_DIR": str(tmp_path / "state")}
        commands = []
        for line in lines:
            if line.startswith("export "):
                name, value = line[len("export "):].split("=", 1)
                env[name] = value
            elif line.startswith("python cli.py"):
                commands.append(line.split()[1:])
        assert [c[1] for c in commands] == ["init", "sync"]
        assert (tmp_path / "fake-key.json").stat().st_mode & 0o077 == 0
        for command in commands:
            done = subprocess.run([sys.executable, *command], cwd=root, env=env, text=True,
                                  capture_output=True, timeout=120)
            assert done.returncode == 0, (command, done.stdout, done.stderr)
        log = requests.get(url + "/_fake/requests", timeout=10).json()
        assert any(e["path"].endswith(":batchUpdate") for e in log)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
