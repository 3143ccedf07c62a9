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
    on a tracker of 56 departments' tabs) on every run."""
    google.server.clear_requests()
    sync(google, tracker, roster_file, now=LATER)
    lock = next(e for e in google.server.requests if e["path"].endswith(":batchUpdate"))
    assert lock["response_bytes"] < 8_000, lock["response_bytes"]  # unmasked: 12 KB here
