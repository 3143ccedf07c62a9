"""A fault at the one read inside the Google write: a comment entering its department's
tab again (here: reopened) has its words copied from the Comments tab, read by
``session.read_rows`` under the run's lock while the write is being built.

The fault (a 503 or a dropped connection, before or after Google handled it) hits
exactly that request; the promise is that of ``test_faults.py``: the run changes
nothing or finishes, and the next quiet run ends with every comment once, the typed
reply on its own row, and the reopened comment back in its tab with its exact words.
"""

from __future__ import annotations

import re

import pytest

from sheets_sync.backends.gsheets.client import RetryingHTTPClient
from sheets_sync.errors import SheetsSyncError
from tests.test_faults import LATER, REPLY, SWM, export, locks_left, master, sync
from tests.trackers import GoogleHarness, records

READ = r"values:batchGet$"
REOPENED = "C4"  # a Solid Waste Management comment (C1, C2, C4, C5, … are facebook, on P1)


@pytest.fixture
def google(request, tmp_path):
    return GoogleHarness.make(request, tmp_path)


def reads(server) -> list[dict]:
    return [r for r in server.requests if r["method"] == "GET" and re.search(READ, r["path"])]


def prepared(google, tmp_path, roster_file):
    """C4 answered and then reopened in the Comments tab; an officer's reply to C1 typed in
    the department's tab; four new comments in the export."""
    sync(google, export(tmp_path, "e1", 8), roster_file)
    google.type_in("Comments", "Comment ID", REOPENED, "Status", "Replied")
    sync(google, export(tmp_path, "e1", 8), roster_file)
    assert REOPENED not in [r["Comment ID"] for r in records(google.values(SWM))]
    google.type_in("Comments", "Comment ID", REOPENED, "Status", "Pending")
    google.type_in(SWM, "Comment ID", "C1", "Reply", REPLY)
    return export(tmp_path, "e2", 12)


def assert_all_well(google, words):
    rows = master(google)  # nothing doubled
    assert set(rows) == {f"C{i}" for i in range(1, 13)}
    assert rows["C1"]["Reply"] == REPLY and rows[REOPENED]["Status"] == "Pending"
    tab = {r["Comment ID"]: r for r in records(google.values(SWM))}
    assert REOPENED in tab and "C1" not in tab
    assert tab[REOPENED]["Comment"] == words  # byte for byte, copied from Comments
    open_swm = {k for k, r in rows.items() if r["Department"] == "SWM" and r["Status"] == "Pending"
                and not r["Reply"]}
    assert set(tab) == open_swm
    assert locks_left(google) == []


def test_the_copy_is_read_inside_the_write_under_the_lock(google, tmp_path, roster_file):
    """What the fault tests below hit: the run's one values:batchGet (its read rides on
    the lock), reading only the reopened comment's row of the Comments tab, while the
    lock stands."""
    folder = prepared(google, tmp_path, roster_file)
    seen = []

    def hook(info, phase):
        if phase == "before" and info.method == "GET" and re.search(READ, info.path):
            book = google.server.spreadsheet(google.sid)
            seen.append((info.query.get("ranges"), any(
                pr.get("description", "").startswith("sheets-sync lock")
                for s in book.sheets for pr in s.protected_ranges)))
    remove = google.server.on_request(hook)
    google.server.clear_requests()
    sync(google, folder, roster_file, now=LATER)
    remove()
    assert len(seen) == 1, seen
    ranges, locked = seen[0]
    row = 1 + next(i for i, r in enumerate(records(google.values("Comments")), start=1)
                   if r["Comment ID"] == REOPENED)
    assert locked and len(ranges) == 1, seen
    assert re.fullmatch(rf"'Comments'![A-Z]+{row}:[A-Z]+{row}", ranges[0]), ranges


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("kind", ["503", "drop"])
@pytest.mark.parametrize("times", [1, RetryingHTTPClient.retry.attempts])
def test_a_fault_at_the_copy_read_loses_and_doubles_nothing(google, tmp_path, roster_file,
                                                            kind, when, times):
    folder = prepared(google, tmp_path, roster_file)
    words = master(google)[REOPENED]["Comment"]
    before = google.values("Comments"), google.values(SWM)
    google.server.clear_requests()
    # Fail the run's read of the copy ``times`` times over (a read is retried: once is
    # absorbed, every try of it stops the run).
    if kind == "drop":
        google.server.drop_next(times, method="GET", path=READ, when=when)
    else:
        google.server.fail_next(times, status=503, method="GET", path=READ, when=when)
    try:
        sync(google, folder, roster_file, now=LATER)
        stopped = None
    except SheetsSyncError as exc:
        stopped = str(exc)
    google.server.configure({"clear_faults": True})
    assert len(reads(google.server)) == times + (stopped is None)
    if stopped is not None:
        assert times == RetryingHTTPClient.retry.attempts, stopped
        # Stopped before its write: the tracker is as the people left it.
        assert (google.values("Comments"), google.values(SWM)) == before
    else:
        assert times == 1
        assert_all_well(google, words)
    sync(google, folder, roster_file, now=LATER)  # the next quiet run
    assert_all_well(google, words)
    again = records(google.values(SWM))
    sync(google, folder, roster_file, now=LATER)  # and one more changes nothing
    assert records(google.values(SWM)) == again
