"""A steady-state Google sync in three requests: the metadata, the lock with the read, the write.

The read under the lock rides on the lock's own ``batchUpdate`` (``responseRanges``:
Google answers with the cells as they stand right after the lock), so a run that adds
nothing, 10 or 600 comments over the 56 departments costs the same three requests. The
read gives what ``values:batchGet`` gave (formatted values as text), a tab deleted or
renamed since the last run is still found, and the row colours' rules that Google may
have stored bounded to the grid are made open-ended again as the sheet grows.
"""

from __future__ import annotations

import pytest

from sheets_sync.backends.gsheets import GoogleSheetsBackend
from sheets_sync.roster import load_roster_file
from sheets_sync.schema import load_schema
from sheets_sync.sources import FileSource
from sheets_sync.sync import READ_TABS, run_sync, sync_fields
from sheets_sync.timeutil import parse_timestamp
from tests.helpers import comment, post, write_export
from tests.trackers import GoogleHarness, records

NOW = parse_timestamp("2026-11-26T12:00:00+05:30")
SCHEMA = load_schema()
ROSTER = [d.code for d in load_roster_file()]  # the shipped roster: 56 departments
SWM = "Solid Waste Management"


@pytest.fixture
def google(request, tmp_path):
    return GoogleHarness.make(request, tmp_path)


def export(folder, n, start=0):
    """``n`` comments spread over every department's post."""
    posts = [post(f"P{code}", f"post of {code}", department=code) for code in ROSTER]
    comments = [comment(f"C{i:05d}", f"P{ROSTER[i % len(ROSTER)]}", f"तक्रार {i} 🙏 water")
                for i in range(start, start + n)]
    return write_export(folder, posts, comments)


def sync(google, folder, **kw):
    return run_sync(google.backend(), [FileSource(folder)], SCHEMA, now=NOW, **kw)


def calls(google):
    return [(r["method"], r["path"].rsplit(":", 1)[-1] if ":" in r["path"] else "get", r["status"])
            for r in google.server.requests]


THREE = [("GET", "get", 200), ("POST", "batchUpdate", 200), ("POST", "batchUpdate", 200)]


def test_idle_and_steady_syncs_cost_three_requests_with_56_departments(google, tmp_path):
    first = export(tmp_path / "a", 60)
    sync(google, first)
    assert len([t for t in google.tab_titles() if t not in [t.title for t in SCHEMA.tabs.values()]
                and t != "Sheet1"]) == 56
    google.server.clear_requests()
    result = sync(google, first)  # idle: nothing new
    assert result.summary()["comments_added"] == 0
    assert calls(google) == THREE  # the write: the Sync Log's row, the flags, the unlock
    for size in (10, 600):
        google.server.clear_requests()
        result = sync(google, export(tmp_path / f"b{size}", size, start=10_000 * size))
        assert result.summary()["comments_added"] == size
        assert calls(google) == THREE, calls(google)
        log = google.server.requests
        assert max(r["request_bytes"] for r in log) < 2_000_000
        # The read rode on the lock: the main tabs, Content (routing by request) and every
        # department's tab.
        assert len({r.split("!")[0] for r in log[1]["response_ranges"]}) == len(READ_TABS) + 1 + 56
    assert len(records(google.values("Comments"))) == 670


def test_the_read_on_the_lock_gives_what_a_values_read_gives(google, tmp_path):
    """Numbers, dates, leading zeros, formulas people typed, links, ticks: the same text."""
    typed = ["007", "12.50", "0.5", '=HYPERLINK("https://example.org","site")', "TRUE",
             "=1/0", "उत्तर दिले 🙏", "  spaced  ", "", "1e5"]
    sync(google, export(tmp_path / "a", len(typed)))
    header = google.values("Comments")[0]
    notes, ids = header.index("Notes"), header.index("Comment ID")
    for row, values in enumerate(google.values("Comments")[1:], start=2):
        value = typed[int(values[ids][1:])]
        google.person.edit(google.sid, f"'Comments'!{chr(65 + notes)}{row}", [[value]], raw=False)
    fields = sync_fields(SCHEMA, [])
    fields["comments"] = [*fields["comments"], "notes"]

    def read(write):
        with GoogleSheetsBackend(google.sid, credentials=str(google.key)).open(SCHEMA, write=write) as s:
            if write:
                s.lock(list(READ_TABS))
            log = []  # what the read sends (a hook: the request log is written after answering)
            remove = google.server.on_request(
                lambda info, when: log.append((info.method, info.path.rsplit(":", 1)[-1]))
                if when == "before" else None)
            out = s.read(list(READ_TABS), fields=fields)
            remove()
            s.close()
        return {k: (t.header, t.rows, t.row_numbers) for k, t in out.items()}, log

    on_lock, lock_log = read(True)
    alone, alone_log = read(False)
    assert lock_log == [("POST", "batchUpdate")]  # the read rode on the lock
    assert alone_log == [("GET", "batchGet")]
    assert on_lock == alone
    shown = {r[ids]: r[notes] for r in on_lock["comments"][1] if len(r) > notes}
    assert shown["C00000"] == "7" and shown["C00006"] == "उत्तर दिले 🙏" and shown["C00005"].startswith("#")


def test_a_department_tab_deleted_between_runs_costs_one_refused_lock(google, tmp_path):
    folder = export(tmp_path / "a", 60)
    sync(google, folder)
    google.delete_tab(SWM)
    google.server.clear_requests()
    sync(google, export(tmp_path / "b", 60, start=1000))
    log = calls(google)
    # The lock named the deleted tab by its id; refused (nothing applied), the run knows
    # which tab is gone without listing the tabs: one request more. Then what any run
    # that makes a department's tab costs: the tab made again (the structure's repairs),
    # the words of its comments read (they enter a tab), the write.
    assert [c for c in log if c[1] == "get"] == [("GET", "get", 200)]  # no listing
    assert [s for _, _, s in log].count(400) == 1
    assert log == [THREE[0], ("POST", "batchUpdate", 400), *[THREE[1]] * 2, ("GET", "batchGet", 200),
                   THREE[2]], log
    tab = {r["Comment ID"] for r in records(google.values(SWM))}
    open_swm = {r["Comment ID"] for r in records(google.values("Comments"))
                if r["Department"] == "SWM" and r["Status"] == "Pending"}
    assert tab and tab == open_swm
    google.server.clear_requests()
    sync(google, export(tmp_path / "b", 60, start=1000))
    assert calls(google) == THREE[:2] or calls(google) == THREE


def test_a_department_tab_renamed_between_runs_is_found_by_its_id(google, tmp_path):
    folder = export(tmp_path / "a", 60)
    sync(google, folder)
    google.person.rename_sheet(google.sid, SWM, "SWM तक्रारी")
    officer = records(google.values("SWM तक्रारी"))[0]["Comment ID"]
    google.type_in("SWM तक्रारी", "Comment ID", officer, "Reply", "उत्तर दिले")
    google.server.clear_requests()
    result = sync(google, export(tmp_path / "b", 30, start=1000))
    assert result.tabs["pending:SWM"].title == "SWM तक्रारी"  # the person's name is kept
    assert {r["Comment ID"]: r for r in records(google.values("Comments"))}[officer]["Reply"] == "उत्तर दिले"
    log = calls(google)
    # Refused as a whole (nothing applied): the lock with the read is sent again, the
    # departments' tabs read by their ids (through named ranges made with the lock and
    # removed with it): one request more, no listing of the tabs.
    assert log == [THREE[0], ("POST", "batchUpdate", 400), *THREE[1:]], log
    assert google.server.spreadsheet(google.sid).named_ranges == []
    google.server.clear_requests()
    sync(google, export(tmp_path / "b", 30, start=1000))  # the Sync State remembers the new title
    assert calls(google) in (THREE, THREE[:2])


def test_row_colours_google_stored_bounded_are_extended_as_the_sheet_grows(google, tmp_path):
    """Sent without an end row, a conditional format rule may be stored ending at the
    grid's end of that moment; once appended rows pass it, the new rows would never turn
    red. The next run makes the job's rules open-ended again, and leaves people's alone."""
    google.server.bound_open_ranges(google.sid)
    sync(google, export(tmp_path / "a", 8))
    book = google.server.spreadsheet(google.sid)
    comments = book.sheet_by_title("Comments")
    mine = {"ranges": [{"sheetId": comments.sheet_id, "startRowIndex": 4, "endRowIndex": 40,
                        "startColumnIndex": 0, "endColumnIndex": 2}],
            "booleanRule": {"condition": {"type": "NOT_BLANK"}, "format": {"bold": True}}}
    comments.conditional_formats.append(mine)  # a person's own rule, bounded on purpose
    sync(google, export(tmp_path / "b", 1300))  # past the first 1,000 rows

    def rules():
        sheet = google.server.spreadsheet(google.sid).sheet_by_title("Comments")
        rows = sheet.props["gridProperties"]["rowCount"]
        ends = [(r["ranges"][0].get("endRowIndex"), "sheets-sync" in str(r))
                for r in sheet.conditional_formats]
        return ends, rows

    ends, rows = rules()
    assert rows > 1300 and all(e is not None and e < rows for e, _ in ends)  # as Google may leave them
    sync(google, export(tmp_path / "b", 1300))
    ends, rows = rules()
    assert [e is None or e >= rows for e, ours in ends if ours] == [True, True], ends
    assert (40, False) in ends  # the person's rule is theirs
    # Checked every run at the cost of a few bytes: nothing more once they are open again.
    google.server.clear_requests()
    sync(google, export(tmp_path / "b", 1300))
    assert calls(google) in (THREE, THREE[:2])
