"""Where real Google answers differently from a naive fake, and what the job tells the cell:
a protected cell refused with 400, the Sheets API not enabled (403 SERVICE_DISABLED), and
the spreadsheet's time zone, which the overdue colour's NOW() runs in."""

from __future__ import annotations

import pytest
import requests
from click.testing import CliRunner

import cli
from sheets_sync.errors import ConfigError
from sheets_sync.testing.fake_sheets_model import PROTECTED_MESSAGE, ApiError
from tests.fake_sheets_fixtures import JOB_EMAIL
from tests.test_google_backend import SCHEMA, api_calls, export_of, sync
from tests.trackers import OWNER, GoogleHarness, records

LOCKED_BY_OWNER = "Only the Commissioner's office"
PROJECT = 123456789012  # the fake's Cloud project number


@pytest.fixture
def google(request, tmp_path):
    return GoogleHarness.make(request, tmp_path)


def run_cli(google, monkeypatch, *args):
    for k, v in google.env.items():
        monkeypatch.setenv(k, v)
    return CliRunner().invoke(cli.main, [*args, "--tracker", google.sid], catch_exceptions=False)


def one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output + result.stderr
    return lines[0]


def protect_comments_from_the_job(google) -> int:
    """The owner protects the Comments tab's rows for themselves alone."""
    comments = google.server.spreadsheet(google.sid).sheet_by_title("Comments").sheet_id
    reply = google.server.as_user(OWNER).batch_update(google.sid, [{"addProtectedRange": {
        "protectedRange": {"range": {"sheetId": comments, "startRowIndex": 1},
                           "description": LOCKED_BY_OWNER,
                           "editors": {"users": [OWNER]}}}}])
    return reply["replies"][0]["addProtectedRange"]["protectedRange"]["protectedRangeId"]


# -- a protected cell: 400, as Google answers it -------------------------------------------


def test_the_fake_refuses_a_protected_cell_with_400_as_google_does(google, roster_file, tmp_path):
    sync(google, export_of(tmp_path / "a", 2), roster_file)
    protect_comments_from_the_job(google)
    comments = google.server.spreadsheet(google.sid).sheet_by_title("Comments").sheet_id
    job = google.server.as_user(JOB_EMAIL)
    with pytest.raises(ApiError) as batch:
        job.batch_update(google.sid, [{"updateCells": {
            "start": {"sheetId": comments, "rowIndex": 1, "columnIndex": 0},
            "rows": [{"values": [{"userEnteredValue": {"stringValue": "x"}}]}],
            "fields": "userEnteredValue"}}])
    assert (batch.value.code, batch.value.status) == (400, "INVALID_ARGUMENT")
    assert batch.value.message == "Invalid requests[0].updateCells: " + PROTECTED_MESSAGE
    with pytest.raises(ApiError) as values:
        job.edit(google.sid, "Comments!A2", [["x"]], raw=True)
    assert (values.value.code, values.value.message) == (400, "Invalid data[0]: " + PROTECTED_MESSAGE)


def test_a_write_refused_by_a_protection_names_the_account_and_the_protection(
        google, roster_file, tmp_path, monkeypatch):
    sync(google, export_of(tmp_path / "a", 3), roster_file)
    before = records(google.values("Comments"))
    pr_id = protect_comments_from_the_job(google)
    folder = export_of(tmp_path / "b", 3, start=100)
    result = run_cli(google, monkeypatch, "sync", "--source", f"files:{folder}", "--roster",
                     str(roster_file))
    assert result.exit_code == 4, result.output
    line = one_error_line(result)
    assert f"Google refused to let {JOB_EMAIL} edit a protected range" in line
    assert f"tab 'Comments' ({LOCKED_BY_OWNER})" in line
    assert f"add {JOB_EMAIL} as an editor" in line and "Protect sheets and ranges" in line
    assert records(google.values("Comments")) == before  # nothing half-written

    # The owner lets the job in: the next run writes the new comments, once each.
    google.server.as_user(OWNER).batch_update(google.sid, [{"updateProtectedRange": {
        "protectedRange": {"protectedRangeId": pr_id, "editors": {"users": [OWNER, JOB_EMAIL]}},
        "fields": "editors"}}])
    again = run_cli(google, monkeypatch, "sync", "--source", f"files:{folder}", "--roster",
                    str(roster_file))
    assert again.exit_code == 0, again.output
    ids = [r["Comment ID"] for r in records(google.values("Comments"))]
    assert sorted(ids) == sorted([r["Comment ID"] for r in before] + ["C00100", "C00101", "C00102"])


# -- the Sheets API not enabled in the key's Cloud project ----------------------------------


def test_the_fake_answers_service_disabled_as_google_does(google):
    google.server.configure({"api_disabled": True})
    token = google.server.token_for(JOB_EMAIL)
    answer = requests.get(f"{google.server.url}/v4/spreadsheets/{google.sid}",
                          headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert error["status"] == "PERMISSION_DENIED"
    assert error["message"].startswith(
        f"Google Sheets API has not been used in project {PROJECT} before or it is disabled.")
    info = next(d for d in error["details"] if d["@type"].endswith("ErrorInfo"))
    assert info["reason"] == "SERVICE_DISABLED"
    assert info["metadata"]["consumer"] == f"projects/{PROJECT}"
    google.server.disable_api(False)
    assert requests.get(f"{google.server.url}/v4/spreadsheets/{google.sid}",
                        headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 200


def test_the_api_not_enabled_names_the_api_and_the_project_not_sharing(google, roster_file,
                                                                          monkeypatch):
    google.server.disable_api()
    result = run_cli(google, monkeypatch, "init", "--roster", str(roster_file))
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert f"Google Sheets API is not enabled in Google Cloud project {PROJECT}" in line
    assert ("https://console.developers.google.com/apis/api/sheets.googleapis.com/overview?project="
            f"{PROJECT}") in line
    assert "Share" not in line and "not shared" not in line
    with pytest.raises(ConfigError):
        with google.backend().open(SCHEMA, write=False):
            pass


def test_not_shared_is_still_a_sharing_problem(google, roster_file, monkeypatch):
    google.server.spreadsheet(google.sid).permissions.pop(JOB_EMAIL)
    result = run_cli(google, monkeypatch, "init", "--roster", str(roster_file))
    assert result.exit_code == 4, result.output
    assert f"is not shared with {JOB_EMAIL}" in one_error_line(result)


# -- the spreadsheet's time zone -------------------------------------------------------------


def time_zone(google) -> str:
    return google.server.spreadsheet(google.sid).properties["timeZone"]


def test_init_sets_the_time_zone_to_india_and_says_so(google, roster_file, monkeypatch):
    assert time_zone(google) == "Etc/GMT"  # a spreadsheet made by an account outside India
    result = run_cli(google, monkeypatch, "init", "--roster", str(roster_file))
    assert result.exit_code == 0, result.output
    assert "set the spreadsheet's time zone to Asia/Kolkata (it was Etc/GMT)" in result.stdout
    assert time_zone(google) == "Asia/Kolkata"
    again = run_cli(google, monkeypatch, "init", "--roster", str(roster_file))
    assert again.exit_code == 0 and "time zone" not in again.stdout


def test_a_changed_time_zone_is_repaired_with_no_request_in_a_steady_sync(google, roster_file,
                                                                           tmp_path):
    sync(google, export_of(tmp_path / "a", 3), roster_file)
    assert time_zone(google) == "Asia/Kolkata"
    google.server.clear_requests()
    sync(google, export_of(tmp_path / "b", 3, start=10), roster_file)
    assert len(api_calls(google.server)) == 3  # the zone came with request 1: nothing more
    sent = [str(r) for r in google.server.requests]
    assert not any("updateSpreadsheetProperties" in s for s in sent)

    google.server.as_user(OWNER).batch_update(google.sid, [{"updateSpreadsheetProperties": {
        "properties": {"timeZone": "America/New_York"}, "fields": "timeZone"}}])
    google.server.clear_requests()
    result = sync(google, export_of(tmp_path / "c", 3, start=20), roster_file)
    assert time_zone(google) == "Asia/Kolkata"
    assert any("time zone to Asia/Kolkata (it was America/New_York)" in s
               for s in result.summary()["structure"])
    assert len(api_calls(google.server)) == 4  # one request, only in the run that repairs
    assert result.summary()["comments_added"] == 3
    google.server.clear_requests()
    sync(google, export_of(tmp_path / "d", 3, start=30), roster_file)
    assert len(api_calls(google.server)) == 3


def test_a_dry_run_does_not_change_the_time_zone(google, roster_file, tmp_path):
    sync(google, export_of(tmp_path / "a", 3), roster_file)
    google.server.as_user(OWNER).batch_update(google.sid, [{"updateSpreadsheetProperties": {
        "properties": {"timeZone": "Europe/London"}, "fields": "timeZone"}}])
    sync(google, export_of(tmp_path / "b", 3, start=10), roster_file, dry_run=True)
    assert time_zone(google) == "Europe/London"

