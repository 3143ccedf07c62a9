"""Two publishes at once, as two processes (`python cli.py publish`, `sync --publish all`)
on one tracker, both backends, the real publishers on the four platforms' fakes: the
first is held in the middle of its first post while the second starts; the run lock
keeps the second out (exit code 6, one line naming the holder), and it changes nothing,
in the tracker or on the platforms. Then exactly one reply per comment."""

from __future__ import annotations

import subprocess
import threading

import pytest

from tests.helpers import digest
from tests.real_platforms import PLATFORMS, Fleet, comment_id, reply_text

CIDS = [comment_id(p, 0) for p in PLATFORMS]


@pytest.fixture
def fleet(harness, roster_file, tmp_path):
    # The runs are other processes, on their own (real) clock: the fakes keep real time too.
    fleet = Fleet(harness, roster_file, tmp_path, real_time=True)
    yield fleet
    fleet.close()


def snapshot(fleet) -> tuple:
    tracker = (fleet.harness.values("Comments"), fleet.harness.values("Sync Log"))
    if fleet.harness.kind == "xlsx":
        tracker += (digest(fleet.harness.path),)
    return tracker, fleet.platform_requests()


def command(fleet, text: str) -> list[str]:
    args = text.split() + (["--source", f"files:{fleet.export}"] if text.startswith("sync") else [])
    return fleet.cli(*args)


@pytest.mark.parametrize(("first", "second"), [("publish", "publish"), ("publish", "sync --publish all"),
                                                ("sync --publish all", "publish")])
def test_two_publishes_at_once_the_second_is_kept_out_and_changes_nothing(fleet, first, second, tmp_path):
    fleet.approve()
    held, release = threading.Event(), threading.Event()

    def hold(_request):
        # The first run's first post, in flight: the platform has it, no answer yet.
        held.set()
        release.wait(60)
    fleet.graph.on(f"/{CIDS[0]}/comments", hold, method="POST")
    env = fleet.env()
    running = subprocess.Popen(command(fleet, first), env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert held.wait(60), running.communicate(timeout=5)
        before = snapshot(fleet)
        other = subprocess.run(command(fleet, second), env=env, cwd=tmp_path, capture_output=True,
                               text=True, timeout=120)
        assert other.returncode == 6, other.stderr + other.stdout
        lines = other.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in other.stderr
        holder = f"({first.split()[0]}, pid {running.pid} on "
        assert f"another sheets-sync run holds the lock {holder}" in lines[0]
        assert "this run changed nothing" in lines[0]
        assert snapshot(fleet) == before  # not a cell, not a request to any platform
    finally:
        release.set()
        out, err = running.communicate(timeout=120)
    assert running.returncode == 0, out + err
    fleet.graph.clear_faults()
    again = subprocess.run(command(fleet, second), env=env, cwd=tmp_path, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stderr + again.stdout  # the lock is free again; nothing to post
    rows = fleet.rows()
    for i, platform in enumerate(PLATFORMS):
        assert fleet.posts_per_comment(platform) == {CIDS[i]: 1}
        assert fleet.held(platform) == {CIDS[i]: [reply_text(platform, 0)]}
        assert rows[CIDS[i]]["Publish"].startswith("posted") and rows[CIDS[i]]["Reply id"]
    assert records_count(fleet, CIDS[0]) == 1


def records_count(fleet, cid: str) -> int:
    return sum(1 for r in fleet.harness.values("Comments")[1:] if cid in r)
