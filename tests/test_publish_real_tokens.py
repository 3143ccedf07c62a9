"""A platform refusing its write token stops that platform only, and the command says so
with exit code 5 — `publish` and `sync --publish all` alike (cron watches the code).
Both backends, the real publishers on the four fakes, other processes."""

from __future__ import annotations

import subprocess

import pytest

from tests.real_platforms import PLATFORMS, Fleet, comment_id

CIDS = [comment_id(p, 0) for p in PLATFORMS]


@pytest.fixture
def fleet(harness, roster_file, tmp_path):
    fleet = Fleet(harness, roster_file, tmp_path, real_time=True)
    yield fleet
    fleet.close()


@pytest.mark.parametrize("command", ["publish", "sync --publish all"])
def test_a_revoked_write_token_is_exit_5_and_stops_that_platform_only(fleet, command, tmp_path):
    fleet.approve()
    env = {**fleet.env(), "SHEETS_SYNC_X_PUBLISH_TOKEN": "revoked-x-token"}
    args = command.split() + (["--source", f"files:{fleet.export}"] if command.startswith("sync") else [])
    run = subprocess.run(fleet.cli(*args), env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 5, run.stdout + run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "SHEETS_SYNC_X_PUBLISH_TOKEN" in errors[0], run.stderr
    assert "revoked-x-token" not in run.stdout + run.stderr  # a secret is never printed
    rows = fleet.rows()
    for i, platform in enumerate(PLATFORMS[:3]):
        assert fleet.posts_per_comment(platform) == {CIDS[i]: 1}
        assert rows[CIDS[i]]["Publish"].startswith("posted")
    assert fleet.held("x") == {} and rows[CIDS[3]]["Publish"].startswith("refused (token)")
