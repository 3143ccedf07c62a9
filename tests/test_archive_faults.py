"""A run of ``archive`` killed at every step, then run again: each row in exactly one
place, nothing lost, nothing doubled — on both backends, and on Google with each of
the fake's faults (refused before it applied, applied but refused, answer lost) at
each of the archive's writes and the tracker's last write."""

from __future__ import annotations

from collections import Counter

import pytest

from sheets_sync import archive_run, jobs
from tests.archive_world import CLOSED, NOW, archived, comments, make, posts
from tests.trackers import records

ALL = {f"C{i}" for i in range(0, 10)}


class Killed(BaseException):
    """A kill: not an error the job handles (as SIGKILL would not be)."""


def live_ids(harness) -> Counter:
    """The Comments tab's ids, with how many rows hold each (a doubled row counts twice)."""
    return Counter(r["Comment ID"] for r in records(harness.values("Comments")) if r["Comment ID"])


def check_one_place(harness) -> None:
    live = live_ids(harness)
    kept = Counter(r["Comment ID"] for y in (2025, 2026) for r in archived(harness, y))
    assert all(n == 1 for n in live.values()), live
    assert all(n == 1 for n in kept.values()), kept
    assert set(live) | set(kept) == ALL  # nothing lost
    assert not set(live) & set(kept)  # the rerun finished every move
    assert set(kept) == CLOSED | {"C0"}
    assert set(posts(harness)) == {"P2", "P3"}
    assert Counter(r["Post ID"] for r in archived(harness, 2026, "posts")) == Counter({"P1": 1})


def kill_at(monkeypatch, target, name: str, *, after: bool, skip: int = 0) -> None:
    real = getattr(target, name)
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= skip:
            return real(*args, **kwargs)
        if after:
            real(*args, **kwargs)
        raise Killed()

    monkeypatch.setattr(target, name, wrapper)


STEPS = [
    ("first archive write", archive_run, "_put_and_verify", False, 0),
    ("after the comments went to the archive", archive_run, "_put_and_verify", True, 0),
    ("after the posts went to the archive", archive_run, "_put_and_verify", True, 1),
    ("before the tracker's delete", archive_run, "_delete_moved", False, 0),
    ("after the tracker's delete", archive_run, "_delete_moved", True, 0),
]


@pytest.mark.parametrize("step", STEPS, ids=[s[0] for s in STEPS])
def test_killed_at_each_step_then_run_again(harness, tmp_path, roster_file, monkeypatch, step):
    for k, v in harness.env.items():
        monkeypatch.setenv(k, v)
    make(harness, tmp_path, roster_file)
    _, target, name, after, skip = step
    with monkeypatch.context() as m:
        kill_at(m, target, name, after=after, skip=skip)
        with pytest.raises(Killed):
            jobs.archive(jobs.Tracker(harness.tracker_arg), now=NOW)
    # Killed: every row is in the tracker, in the archive, or in both; never in neither.
    live = set(comments(harness))
    kept = {r["Comment ID"] for y in (2025, 2026) for r in archived(harness, y)}
    assert live | kept == ALL
    jobs.archive(jobs.Tracker(harness.tracker_arg), now=NOW)
    check_one_place(harness)


def test_a_comment_reopened_before_the_delete_stays(harness, tmp_path, roster_file, monkeypatch):
    """A person sets a Status back to Pending between the plan and the delete: the row stays
    in the tracker, untouched (its copy in the archive is written over when it goes)."""
    for k, v in harness.env.items():
        monkeypatch.setenv(k, v)
    make(harness, tmp_path, roster_file)
    real = archive_run._delete_moved

    def reopen_then_delete(*args, **kwargs):
        harness.type_in("Comments", "Comment ID", "C3", "Status", "Pending")
        return real(*args, **kwargs)

    monkeypatch.setattr(archive_run, "_delete_moved", reopen_then_delete)
    result = jobs.archive(jobs.Tracker(harness.tracker_arg), now=NOW)
    live = comments(harness)
    assert live["C3"]["Status"] == "Pending" and live["C3"]["Reply"] == "उत्तर C3 ✅"
    assert any("C3" in s for s in result.stayed)
    assert "P1" in posts(harness)  # its post stays with it
    assert result.counts[("comments", 2026)] == len(CLOSED) - 1


GOOGLE_FAULTS = [
    ("503 before", "fail", "before"),
    ("503 after applying", "fail", "after"),
    ("answer lost", "drop", "after"),
]


@pytest.mark.parametrize("which", ["archive's write", "tracker's last write"])
@pytest.mark.parametrize("fault", GOOGLE_FAULTS, ids=[f[0] for f in GOOGLE_FAULTS])
def test_google_faults_at_each_write(request, tmp_path, roster_file, monkeypatch, fault, which):
    from tests.trackers import GoogleHarness

    harness = GoogleHarness.make(request, tmp_path)
    for k, v in harness.env.items():
        monkeypatch.setenv(k, v)
    make(harness, tmp_path, roster_file)
    server = harness.server
    _, kind, when = fault
    sid = harness.sid
    if which == "archive's write":
        # The first write to a year's archive, made just before by Drive.
        trigger = lambda info: info.path == "/drive/v3/files" and info.method == "POST"  # noqa: E731
        path = rf"^/v4/spreadsheets/(?!{sid})[^/]+:batchUpdate$"
    else:
        # The tracker's last write, the one after the run's lock.
        trigger = lambda info: (info.spreadsheet_id == sid and info.path.endswith(":batchUpdate")  # noqa: E731
                                and "addProtectedRange" in str(info.body))
        path = rf"^/v4/spreadsheets/{sid}:batchUpdate$"
    armed = {"done": False}

    def hook(info, stage):
        if stage == "after" and not armed["done"] and trigger(info):
            armed["done"] = True
            skip = 1 if when == "after" else 0  # this request's own "after" check comes next
            if kind == "fail":
                server.fail_next(status=503, method="POST", path=path, when=when, skip=skip)
            else:
                server.drop_next(method="POST", path=path, when=when, skip=skip)

    server.on_request(hook)
    try:
        jobs.archive(jobs.Tracker(harness.tracker_arg), now=NOW)
    except Exception:  # noqa: BLE001 - a run that stops on the fault is allowed; the rerun finishes
        pass
    jobs.archive(jobs.Tracker(harness.tracker_arg), now=NOW)
    assert armed["done"]
    assert any(r["status"] in (503, None) and r["method"] == "POST" for r in server.requests), "no fault hit"
    check_one_place(harness)


def test_google_owner_sorting_at_the_delete_loses_nothing(request, tmp_path, roster_file, monkeypatch):
    """The lock does not hold the spreadsheet's owner: a sort in the instant before the
    delete makes it take other rows; those come back from the run's read."""
    from tests.trackers import OWNER, GoogleHarness

    harness = GoogleHarness.make(request, tmp_path)
    for k, v in harness.env.items():
        monkeypatch.setenv(k, v)
    make(harness, tmp_path, roster_file)
    server, sid = harness.server, harness.sid
    owner = server.as_user(OWNER)
    column = harness.values("Comments")[0].index("Comment ID")
    done = {"sorted": False}

    def hook(info, stage):
        if (stage == "before" and not done["sorted"] and info.spreadsheet_id == sid
                and "deleteDimension" in str(info.body)):
            done["sorted"] = True
            owner.sort(sid, "Comments", column, ascending=False)

    server.on_request(hook)
    result = jobs.archive(jobs.Tracker(harness.tracker_arg), now=NOW)
    assert done["sorted"]
    live = live_ids(harness)
    kept = {r["Comment ID"] for y in (2025, 2026) for r in archived(harness, y)}
    assert all(n == 1 for n in live.values())
    assert set(live) | kept == ALL
    assert comments(harness)["C8"]["Ward officer's remark"] == "still open"
    assert any("put back" in w for w in result.plan.warnings)
    jobs.archive(jobs.Tracker(harness.tracker_arg), now=NOW)
    check_one_place(harness)
