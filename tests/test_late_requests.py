"""Requests Google applies late: a request that timed out may land seconds afterwards.

A lock request that got no answer and then landed after the run had moved on used to
stay behind: officers were shut out of their tabs and the next run, on another machine,
said "busy" for ten minutes. A final write resent after a lost answer could be refused
("No protected range with id") because its first try had landed meanwhile, and the run
reported a failure although everything was written. Each run's last write now records
the run as finished (in the hidden Sync State tab), so a lock of a finished run is known
as left behind on any machine, and a refused resend can tell that its first try landed.
"""

from __future__ import annotations

import pytest

from sheets_sync.backends.gsheets import locks
from sheets_sync.backends.gsheets.structure import JOB_COLUMNS
from tests.fake_sheets_fixtures import JOB_EMAIL
from tests.test_faults import LATER, REPLY, WRITE, export, locks_left, master, officer_types, sync
from tests.trackers import GoogleHarness


@pytest.fixture
def google(request, tmp_path):
    return GoogleHarness.make(request, tmp_path)


@pytest.fixture
def tracker(google, tmp_path, roster_file):
    sync(google, export(tmp_path, "e1", 8), roster_file)
    officer_types(google)
    return export(tmp_path, "e2", 12)


def test_a_lock_that_lands_after_its_run_ended_does_not_keep_anyone_out(
        google, tracker, roster_file, monkeypatch):
    google.server.late_next(method="POST", path=WRITE, after=1000)  # the lock request
    sync(google, tracker, roster_file, now=LATER)  # tries again, locks, writes
    google.server.land_late()  # Google applies the first lock request, after the run
    assert len(locks_left(google)) >= 1  # officers are shut out now…
    # …until the next run, even on another machine, where this run's process cannot be seen.
    monkeypatch.setattr(locks.socket, "gethostname", lambda: "cell-pc")
    sync(google, tracker, roster_file, now=LATER)
    assert locks_left(google) == []
    rows = master(google)
    assert len(rows) == 12 and rows["C1"]["Reply"] == REPLY


def test_a_lock_that_lands_while_the_run_retries_goes_with_the_write(google, tracker, roster_file):
    # The first lock request lands just before the second try: both carry the run's mark.
    google.server.late_next(method="POST", path=WRITE, after=2)
    sync(google, tracker, roster_file, now=LATER)
    assert locks_left(google) == []
    assert len(master(google)) == 12


def test_a_resent_write_refused_because_its_first_try_landed_is_reported_as_done(
        google, tracker, roster_file):
    # The write (the second POST) gets no answer; the check finds the lock still there and
    # sends it again; the first try lands just before the resend, which Google refuses.
    google.server.late_next(method="POST", path=WRITE, after=2, skip=1)
    result = sync(google, tracker, roster_file, now=LATER)
    assert result.summary()["comments_added"] == 4
    rows = master(google)
    assert len(rows) == 12 and rows["C1"]["Reply"] == REPLY and rows["C2"]["Status"] == "Not required"
    assert locks_left(google) == []
    statuses = [e.get("status") for e in google.server.requests if e["path"].endswith(":batchUpdate")]
    assert 400 in statuses  # the resend was refused, and the run still knew it had written


def test_the_lock_s_answer_carries_only_what_the_lock_needs(google, tracker, roster_file):
    """Unmasked, the lock's answer carried every protection's whole detail (about 120 KB
    on a tracker of 56 departments' tabs) on every run. It carries the run's read too
    now: the cells of the columns read, as formatted values, and nothing else."""
    google.server.clear_requests()
    sync(google, tracker, roster_file, now=LATER)
    lock = next(e for e in google.server.requests if e["path"].endswith(":batchUpdate"))
    assert lock["response_ranges"]  # the read rides on it
    fields = lock["query"]["fields"][0]
    assert "rowData(values(formattedValue))" in fields and "userEnteredValue" not in fields
    assert lock["response_bytes"] < 30_000, lock["response_bytes"]


def test_no_protection_lets_a_whole_workspace_domain_through(google, tracker, roster_file):
    """In a Google Workspace domain a protection lets every domain user edit unless its
    editors say domainUsersCanEdit: false — the job's columns, the departments' tabs and
    the run's lock all say so."""
    seen = []
    google.server.on_request(lambda info, when: seen.extend(
        r["addProtectedRange"]["protectedRange"] for r in (info.body or {}).get("requests", [])
        if "addProtectedRange" in r) if when == "before" else None)
    sync(google, tracker, roster_file, now=LATER)
    stored = [pr for s in google.server.spreadsheet(google.sid).sheets for pr in s.protected_ranges]
    assert stored and all(pr["editors"].get("domainUsersCanEdit") is False for pr in stored), stored
    locks = [pr for pr in seen if pr.get("description", "").startswith("sheets-sync lock")]
    assert locks and all(pr["editors"]["domainUsersCanEdit"] is False for pr in locks)


def test_a_protection_opened_to_the_domain_is_closed_again(google, tracker, roster_file):
    book = google.server.spreadsheet(google.sid)
    opened = next(pr for s in book.sheets for pr in s.protected_ranges
                  if pr.get("description") == JOB_COLUMNS)
    opened["editors"]["domainUsersCanEdit"] = True  # someone ticked "anyone in the domain"
    sync(google, tracker, roster_file, now=LATER)
    now = next(pr for s in google.server.spreadsheet(google.sid).sheets for pr in s.protected_ranges
               if pr["protectedRangeId"] == opened["protectedRangeId"])
    assert now["editors"]["domainUsersCanEdit"] is False
    assert JOB_EMAIL in now["editors"]["users"]


def test_protections_google_stored_bounded_are_extended_as_the_sheet_grows(google, tmp_path, roster_file):
    """Sent without an end row, a protection may be stored ending at the grid's end of
    that moment; once appended rows pass it, the next run makes it open-ended again."""
    google.server.bound_open_ranges(google.sid)
    sync(google, export(tmp_path, "e1", 8), roster_file)
    sync(google, export(tmp_path, "e2", 1300), roster_file, now=LATER)  # past the first 1,000 rows

    def job_columns():
        book = google.server.spreadsheet(google.sid)
        sheet = next(s for s in book.sheets if s.title == "Comments")
        pr = next(p for p in sheet.protected_ranges if p.get("description") == JOB_COLUMNS)
        rows = sheet.props["gridProperties"]["rowCount"]
        return [r.get("endRowIndex") for r in [pr["range"], *pr["unprotectedRanges"]]], rows

    ends, rows = job_columns()
    assert rows > 1300 and all(e is not None and e < rows for e in ends)  # as Google may leave it
    sync(google, export(tmp_path, "e2", 1300), roster_file, now=LATER)
    ends, rows = job_columns()
    assert all(e is None or e >= rows for e in ends), (ends, rows)
