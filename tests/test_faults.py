"""Nothing lost, doubled or locked out when requests fail, runs die, or two machines sync.

Each fault is injected at an exact request on the local Sheets fake: a 503 or a
dropped connection before Google applies a request (nothing happened) or after
(it happened, the job does not know), a write split into parts with a fault
between them, a second run on "another machine" (its own state folder) taking
the lock at the same moment, a run that left its lock behind.

The promise checked after each: the next quiet run ends with every typed value
on its own comment's row, every comment once, each department's tab holding its
open comments, and no lock left on any tab.
"""

from __future__ import annotations

import signal
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from sheets_sync.backends import gsheets
from sheets_sync.errors import Busy, SheetsSyncError, TrackerError
from sheets_sync.schema import load_schema
from sheets_sync.sources import FileSource
from sheets_sync.sync import run_sync
from sheets_sync.timeutil import parse_timestamp
from tests.fake_sheets_fixtures import JOB_EMAIL
from tests.helpers import comment, post, write_export
from tests.trackers import GoogleHarness, records

SCHEMA = load_schema()
NOW = parse_timestamp("2026-11-21T12:00:00+05:30")
LATER = NOW + timedelta(hours=1)
SWM = "Solid Waste Management"
REPLY = "उद्या सकाळी घंटागाडी येईल 🙏"
WRITE = r":batchUpdate$"


@pytest.fixture
def google(request, tmp_path):
    return GoogleHarness.make(request, tmp_path)


def export(tmp_path, name: str, n: int, words: str = ""):
    posts = [post("P1", "घंटागाडी #SwachhMahanagar"), post("P2", "जलवाहिनी काम", platform="instagram")]
    comments = [comment(f"C{i}", "P1" if i % 3 else "P2", f"घंटागाडी आली नाही {i} 😡{words}",
                        platform="facebook" if i % 3 else "instagram",
                        at=f"2026-11-21T{8 + i % 3:02d}:{i % 60:02d}:00+05:30") for i in range(1, n + 1)]
    return write_export(tmp_path / name, posts, comments)


def sync(harness, folder, roster_file, now=NOW):
    sources = [FileSource(folder)] if folder else []
    return run_sync(harness.backend(), sources, SCHEMA, roster_path=roster_file, now=now)


def master(harness) -> dict[str, dict]:
    rows = records(harness.values("Comments"))
    ids = Counter(r["Comment ID"] for r in rows)
    doubled = [k for k, n in ids.items() if n > 1]
    assert not doubled, f"comments doubled: {doubled}"
    return {r["Comment ID"]: r for r in rows}


def locks_left(harness) -> list[str]:
    return [pr.get("description", "") for s in harness.server.spreadsheet(harness.sid).sheets
            for pr in s.protected_ranges if pr.get("description", "").startswith(gsheets.LOCK_PREFIX)]


def officer_types(harness):
    """An officer answers C1 and closes C2 in their department's tab."""
    harness.type_in(SWM, "Comment ID", "C1", "Reply", REPLY)
    harness.type_in(SWM, "Comment ID", "C2", "Status", "Not required")


def assert_all_well(harness, expected_ids):
    rows = master(harness)
    assert set(rows) == set(expected_ids)
    assert rows["C1"]["Reply"] == REPLY, rows["C1"]
    assert rows["C2"]["Status"] == "Not required", rows["C2"]
    tab = [r["Comment ID"] for r in records(harness.values(SWM))]
    assert "C1" not in tab and "C2" not in tab
    open_swm = {k for k, r in rows.items() if r["Department"] == "SWM" and r["Status"] == "Pending"
                and not r["Reply"]}
    assert set(tab) == open_swm and len(tab) == len(set(tab))
    assert locks_left(harness) == []


# ------------------------------------------------------------------ 1. a split write broken midway

FAULTS = [("503", "before"), ("drop", "before"), ("503", "after"), ("drop", "after")]


def inject(server, kind: str, when: str, skip: int) -> None:
    if kind == "drop":
        server.drop_next(method="POST", path=WRITE, when=when, skip=skip)
    else:
        server.fail_next(status=503, method="POST", path=WRITE, when=when, skip=skip)


@pytest.mark.parametrize("kind,when", FAULTS)
def test_a_split_write_broken_between_any_two_parts_loses_no_typed_reply(
        google, tmp_path, roster_file, monkeypatch, kind, when):
    first, second = export(tmp_path, "e1", 8), export(tmp_path, "e2", 12)
    sync(google, first, roster_file)
    # Every request its own part: the fault can fall between any two.
    monkeypatch.setattr(gsheets.GoogleSheetsSession, "max_payload", 1)
    officer_types(google)
    base = google.server.spreadsheet(google.sid)
    parts = None
    for skip in range(1, 40):
        # The same starting point every time: the spreadsheet as the officer left it.
        google.server._books[google.sid] = base.clone()
        google.server.clear_requests()
        inject(google.server, kind, when, skip)
        try:
            sync(google, second, roster_file, now=LATER)
            stopped = False
        except SheetsSyncError:
            stopped = True
        google.server.configure({"clear_faults": True})
        if not stopped and parts is None:
            parts = skip  # the fault fell past the last write: every split point was tried
        sync(google, second, roster_file, now=LATER)
        assert_all_well(google, [f"C{i}" for i in range(1, 13)])
        if parts is not None:
            break
    assert parts is not None and parts > 5  # the write really was in many parts


# ------------------------------------------------------------------ 2. two machines at once


def _lock_barrier(server, parties: int = 2):
    """Hold every lock request, once applied and its answer made, until ``parties`` of them
    have been: both runs saw no lock when they sent theirs, and both locks are in place before
    either run goes on. (Held before being applied, one run could be answered, write and
    unlock before the other's lock was applied: that run then reads the first one's rows
    under its own lock and rightly writes nothing, and no run is Busy.)"""
    barrier = threading.Barrier(parties, timeout=10)

    def hook(info, phase):
        if phase != "after" or info.method != "POST" or not isinstance(info.body, dict):
            return
        for request in info.body.get("requests") or []:
            pr = (request.get("addProtectedRange") or {}).get("protectedRange") or {}
            if str(pr.get("description", "")).startswith(gsheets.LOCK_PREFIX):
                try:
                    barrier.wait()
                except threading.BrokenBarrierError:
                    pass
                return
    return server.on_request(hook)


@pytest.mark.parametrize("latency", [0.0, 0.15])
def test_two_machines_syncing_at_once_never_both_write(google, tmp_path, roster_file, monkeypatch, latency):
    sync(google, export(tmp_path, "e0", 2), roster_file)
    folder = export(tmp_path, "e1", 82)  # 80 new comments
    google.server.set_latency(latency)
    remove = _lock_barrier(google.server)
    outcomes: list[object] = []

    def machine(n: int) -> None:
        # Each machine has its own state folder: their local run locks never meet.
        try:
            outcomes.append(sync(google, folder, roster_file))
        except SheetsSyncError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=machine, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    remove()
    google.server.set_latency(0)
    busy = [o for o in outcomes if isinstance(o, Busy)]
    assert len(outcomes) == 2 and len(busy) == 1, outcomes
    assert "another sheets-sync run is writing this tracker" in str(busy[0])
    rows = master(google)  # nothing doubled
    assert len(rows) == 82
    assert locks_left(google) == []


# ------------------------------------------------------------------ 3. a failed lock request


def _writes_while_unlocked(server, sid):
    """Record every write part the job sends while the spreadsheet holds none of its locks."""
    unlocked = []

    def hook(info, phase):
        if phase != "before" or info.identity != JOB_EMAIL or not isinstance(info.body, dict):
            return
        kinds = {k for r in info.body.get("requests") or [] for k in r}
        if kinds & {"appendCells", "updateCells", "deleteDimension", "insertDimension"}:
            book = server.spreadsheet(sid)
            if not any(pr.get("description", "").startswith(gsheets.LOCK_PREFIX)
                       for s in book.sheets for pr in s.protected_ranges):
                unlocked.append(kinds)
    return unlocked, server.on_request(hook)


@pytest.mark.parametrize("kind", ["503", "drop"])
@pytest.mark.parametrize("when", ["before", "after"], ids=["not applied: sent again",
                                                          "applied, unanswered: found by its mark"])
def test_a_lock_request_that_failed_never_leaves_the_run_writing_unlocked(
        google, tmp_path, roster_file, kind, when):
    sync(google, export(tmp_path, "e0", 4), roster_file)
    officer_types(google)
    unlocked, remove = _writes_while_unlocked(google.server, google.sid)
    # The next write request of the run is its lock.
    inject(google.server, kind, when, 0)
    sync(google, export(tmp_path, "e1", 12), roster_file, now=LATER)
    remove()
    assert unlocked == []
    assert_all_well(google, [f"C{i}" for i in range(1, 13)])


def test_a_run_that_cannot_lock_writes_nothing_and_says_so(google, tmp_path, roster_file):
    sync(google, export(tmp_path, "e0", 4), roster_file)
    before = {t: google.values(t) for t in google.tab_titles()}
    google.server.fail_next(count=gsheets.LOCK_TRIES, status=503, method="POST", path=WRITE)
    with pytest.raises(TrackerError, match="could not lock the tracker") as info:
        sync(google, export(tmp_path, "e1", 12), roster_file, now=LATER)
    assert info.value.exit_code == 4
    assert {t: google.values(t) for t in google.tab_titles()} == before
    assert locks_left(google) == []


# ------------------------------------------------------------------ 5, 6. locks left behind


def _leave_lock(harness, title: str, description: str) -> None:
    """A lock as a run that died would leave it (added by the job's identity)."""
    book = harness.server.spreadsheet(harness.sid)
    sheet = book.sheet_by_title(title)
    harness.server.as_user(JOB_EMAIL).batch_update(harness.sid, [{"addProtectedRange": {"protectedRange": {
        "range": {"sheetId": sheet.props["sheetId"], "startRowIndex": 0}, "description": description,
        "editors": {"users": [JOB_EMAIL]}}}}])


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _mark(run: str, pid: int, host: str, minutes_ago: float) -> str:
    started = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return f"{gsheets.LOCK_PREFIX} {run} pid {pid} on {host} since {started.isoformat(timespec='seconds')}"


def _host() -> str:
    import socket

    return socket.gethostname()


@pytest.mark.parametrize("where", ["Comments", SWM])
def test_a_dead_runs_lock_is_removed_at_once_on_any_tab(google, tmp_path, roster_file, where):
    folder = export(tmp_path, "e0", 4)
    sync(google, folder, roster_file)
    _leave_lock(google, where, _mark("deadrun00001", _dead_pid(), _host(), 1))
    _leave_lock(google, SWM, _mark("deadrun00002", _dead_pid(), _host(), 2))
    # Officers are shut out of their tab while it stands.
    with pytest.raises(Exception, match="protected"):
        google.type_in(SWM, "Comment ID", "C1", "Reply", REPLY)
    result = sync(google, folder, roster_file, now=LATER)  # not "busy": that run is gone
    assert result.plan is not None
    assert locks_left(google) == []
    officer_types(google)  # they can type again
    sync(google, folder, roster_file, now=LATER)
    assert_all_well(google, ["C1", "C2", "C3", "C4"])


def _leave_named_range(harness, name: str, title: str) -> None:
    sheet = harness.server.spreadsheet(harness.sid).sheet_by_title(title)
    harness.server.as_user(JOB_EMAIL).batch_update(harness.sid, [{"addNamedRange": {"namedRange": {
        "name": name, "range": {"sheetId": sheet.props["sheetId"]}}}}])


def _named_ranges(harness) -> list[str]:
    return sorted(n["name"] for n in harness.server.spreadsheet(harness.sid).named_ranges)


def test_a_dead_runs_named_ranges_are_removed_with_its_lock_and_a_persons_kept(google, tmp_path, roster_file):
    """A run killed while it read the departments' tabs by id (a tab renamed) leaves its
    named ranges beside its lock: the next run removes both in one request, and leaves a
    named range a person made; while another run is live, nothing of it is touched."""
    folder = export(tmp_path, "e0", 4)
    sync(google, folder, roster_file)
    _leave_named_range(google, "ward_list", "Comments")  # a person's
    _leave_named_range(google, f"{gsheets.READ_NAME_PREFIX}otherhost003_7", SWM)
    _leave_lock(google, SWM, _mark("otherhost003", 4242, "cron-server", 2))
    with pytest.raises(Busy):
        sync(google, folder, roster_file, now=LATER)
    assert _named_ranges(google) == [f"{gsheets.READ_NAME_PREFIX}otherhost003_7", "ward_list"]
    _leave_named_range(google, f"{gsheets.READ_NAME_PREFIX}deadrun00003_7", SWM)
    for pr in [pr for s in google.server.spreadsheet(google.sid).sheets for pr in s.protected_ranges
               if "otherhost003" in pr.get("description", "")]:
        google.server.as_user(JOB_EMAIL).batch_update(google.sid, [{"deleteProtectedRange": {
            "protectedRangeId": pr["protectedRangeId"]}}])  # that run ended, its lock went
    _leave_lock(google, "Comments", _mark("deadrun00003", _dead_pid(), _host(), 1))
    google.server.clear_requests()
    sync(google, folder, roster_file, now=LATER)
    assert locks_left(google) == [] and _named_ranges(google) == ["ward_list"]
    cleaning = len(google.server.requests)
    google.server.clear_requests()
    sync(google, folder, roster_file, now=LATER)  # nothing left: nothing more asked
    assert cleaning == len(google.server.requests) + 1  # with the dead lock, in one request


def test_a_lock_of_this_process_whose_run_ended_is_dead(google, tmp_path, roster_file):
    import os

    folder = export(tmp_path, "e0", 4)
    sync(google, folder, roster_file)
    _leave_lock(google, SWM, _mark("notrunning00", os.getpid(), _host(), 1))
    sync(google, folder, roster_file, now=LATER)
    assert locks_left(google) == []


def test_a_recent_lock_of_another_machine_means_busy(google, tmp_path, roster_file):
    folder = export(tmp_path, "e0", 4)
    sync(google, folder, roster_file)
    _leave_lock(google, SWM, _mark("otherhost001", 4242, "cron-server", 2))
    before = google.values("Comments")
    busy = r"another sheets-sync run is writing this tracker \(pid 4242 on cron-server"
    with pytest.raises(Busy, match=busy):
        sync(google, export(tmp_path, "e1", 6), roster_file, now=LATER)
    assert google.values("Comments") == before
    # Only the other machine's lock stands: this run took its own away.
    assert len(locks_left(google)) == 1


def test_an_old_lock_of_another_machine_is_removed(google, tmp_path, roster_file):
    folder = export(tmp_path, "e0", 4)
    sync(google, folder, roster_file)
    _leave_lock(google, SWM, _mark("otherhost002", 4242, "cron-server", 11))
    old = datetime.now(UTC) - timedelta(minutes=30)  # as runs before pid and host were marked
    _leave_lock(google, "Comments", f"{gsheets.LOCK_PREFIX} oldformat001 {old.isoformat(timespec='seconds')}")
    sync(google, export(tmp_path, "e1", 6), roster_file, now=LATER)
    assert locks_left(google) == []
    assert len(master(google)) == 6


def test_a_run_whose_lock_was_taken_away_stops_before_its_next_part(google, tmp_path, roster_file,
                                                                     monkeypatch):
    sync(google, export(tmp_path, "e0", 4), roster_file)
    monkeypatch.setattr(gsheets.GoogleSheetsSession, "max_payload", 1)
    seen = {"parts": 0}

    def hook(info, phase):
        # After the first part: another run decides this one is dead and removes its lock.
        if phase != "after" or info.identity != JOB_EMAIL or not isinstance(info.body, dict):
            return
        kinds = {k for r in info.body.get("requests") or [] for k in r}
        if "appendCells" in kinds or "updateCells" in kinds:
            seen["parts"] += 1
            if seen["parts"] == 1:
                book = google.server.spreadsheet(google.sid)
                ids = [pr["protectedRangeId"] for s in book.sheets for pr in s.protected_ranges
                       if pr.get("description", "").startswith(gsheets.LOCK_PREFIX)]
                google.server.as_user(JOB_EMAIL).batch_update(
                    google.sid, [{"deleteProtectedRange": {"protectedRangeId": i}} for i in ids])
    remove = google.server.on_request(hook)
    with pytest.raises(TrackerError, match="lock on the tracker was removed while it wrote"):
        sync(google, export(tmp_path, "e1", 12), roster_file, now=LATER)
    remove()
    assert seen["parts"] == 1  # nothing more went in
    sync(google, export(tmp_path, "e1", 12), roster_file, now=LATER)
    assert set(master(google)) == {f"C{i}" for i in range(1, 13)}
    assert locks_left(google) == []


def test_no_empty_batch_is_ever_sent(google, tmp_path, roster_file):
    folder = export(tmp_path, "e0", 4)
    sync(google, folder, roster_file)
    google.server.clear_requests()
    for _ in range(3):
        sync(google, folder, roster_file, now=LATER)
    assert all(e["status"] == 200 for e in google.server.requests), google.server.requests


# ------------------------------------------------------------------ 4. a column moved during the run


def _owner_moves_before_the_write(harness, header: str, to: int):
    """The owner (whom the lock does not stop) drags a Comments column just before the write."""
    from tests.trackers import OWNER

    done = []

    def hook(info, phase):
        if done or phase != "before" or info.identity != JOB_EMAIL or not isinstance(info.body, dict):
            return
        kinds = {k for r in info.body.get("requests") or [] for k in r}
        if kinds & {"appendCells", "updateCells"} and "addProtectedRange" not in kinds:
            done.append(True)
            head = harness.values("Comments")[0]
            at = head.index(header)
            harness.server.move_columns(harness.sid, OWNER, "Comments", at, 1, to if to < at else to + 1)
    return done, harness.server.on_request(hook)


@pytest.mark.parametrize("header,to", [("Status", 0), ("Comment ID", 25), ("Reply", 2),
                                       ("Department", 12), ("Comment", 14)])
def test_a_column_moved_between_read_and_write_gets_every_value_in_its_own_column(
        google, tmp_path, roster_file, header, to):
    sync(google, export(tmp_path, "e0", 4), roster_file)
    officer_types(google)
    google.type_in("Comments", "Comment ID", "C3", "Notes", "called the citizen ☎")
    done, remove = _owner_moves_before_the_write(google, header, to)
    sync(google, export(tmp_path, "e1", 12), roster_file, now=LATER)
    remove()
    assert done
    assert google.values("Comments")[0].index(header) != -1
    rows = records(google.values("Comments"))
    assert all(r["Comment ID"] for r in rows), "a row without its id: the write landed shifted"
    by_id = master(google)
    assert set(by_id) == {f"C{i}" for i in range(1, 13)}
    for i in range(1, 13):
        row = by_id[f"C{i}"]
        assert row["Platform"] in ("facebook", "instagram"), row
        if i > 2:
            assert row["Status"] == "Pending" and row["Reply"] == "", row
        assert row["Comment"] == f"घंटागाडी आली नाही {i} 😡" or "overwritten while a column was moved" in \
            row["Sync notes"], row
    assert by_id["C3"]["Notes"] == "called the citizen ☎"
    assert_all_well(google, [f"C{i}" for i in range(1, 13)])
    # The next run is quiet: the layout as the owner left it is the layout now.
    assert sync(google, export(tmp_path, "e1", 12), roster_file, now=LATER).plan.changes == []


# ------------------------------------------------------------------ kills: a real process, SIGKILL


def _cli(harness, folder, roster_file, tmp_path, payload: int):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {**os.environ, **harness.env, "SHEETS_SYNC_STATE_DIR": str(tmp_path / "state")}
    code = ("import sys; from sheets_sync.backends import gsheets; "
            f"gsheets.GoogleSheetsSession.max_payload = {payload}; "
            "from cli import main; sys.argv[0] = 'cli.py'; main()")
    return subprocess.Popen([sys.executable, "-c", code, "sync", "--tracker", harness.sid,
                             "--source", f"files:{folder}", "--roster", str(roster_file),
                             "--as-of", LATER.isoformat()],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("payload", [gsheets.MAX_PAYLOAD, 1], ids=["one write", "split write"])
def test_a_run_killed_at_any_request_is_finished_by_the_next(google, tmp_path, roster_file, payload):
    first, second = export(tmp_path, "e1", 8), export(tmp_path, "e2", 12)
    sync(google, first, roster_file)
    officer_types(google)
    server = google.server
    base = server.spreadsheet(google.sid).clone()
    # How many requests the run makes, unharmed.
    server.clear_requests()
    proc = _cli(google, second, roster_file, tmp_path, payload)
    assert proc.wait(60) == 0, proc.stderr.read().decode()
    total = sum(1 for e in server.requests if e["identity"] == JOB_EMAIL)
    assert total >= (7 if payload == 1 else 3)  # get, lock with the read, the write (in parts)
    for at in range(1, total + 1):
        for phase in ("before", "after"):
            server._books[google.sid] = base.clone()
            seen = {"n": 0}
            procs = []

            def hook(info, when, at=at, phase=phase, seen=seen, procs=procs):
                if info.identity != JOB_EMAIL:
                    return
                if when == "before":
                    seen["n"] += 1
                if seen["n"] == at and when == phase and procs:
                    procs[0].kill()
            remove = server.on_request(hook)
            procs.append(_cli(google, second, roster_file, tmp_path, payload))
            procs[0].wait(60)
            remove()
            assert procs[0].returncode == -signal.SIGKILL, (at, phase, procs[0].stderr.read())
            sync(google, second, roster_file, now=LATER)  # the next run, not "busy"
            assert_all_well(google, [f"C{i}" for i in range(1, 13)])


@pytest.mark.parametrize("kind,when", FAULTS)
def test_a_real_split_write_over_2_mb_broken_between_its_parts(google, tmp_path, roster_file, kind, when):
    words = " कचरा उचलला नाही, रस्त्यावर दुर्गंधी पसरली आहे 🙏" * 12  # about 1.4 KB of UTF-8
    first = export(tmp_path, "e1", 8, words)
    sync(google, first, roster_file)
    officer_types(google)
    second = export(tmp_path, "e2", 1500, words)
    google.server.clear_requests()
    inject(google.server, kind, when, 2)  # the lock, the first part, then the second part
    try:
        sync(google, second, roster_file, now=LATER)
    except SheetsSyncError:
        pass
    google.server.configure({"clear_faults": True})
    writes = [e for e in google.server.requests if e["path"].endswith(":batchUpdate")]
    assert max(e["request_bytes"] for e in writes) > 1_000_000 and len(writes) >= 3
    sync(google, second, roster_file, now=LATER)
    rows = master(google)
    assert len(rows) == 1500 and rows["C1"]["Reply"] == REPLY and rows["C2"]["Status"] == "Not required"
    assert locks_left(google) == []
