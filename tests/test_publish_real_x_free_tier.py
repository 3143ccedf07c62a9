"""X's free access level, as the X API answers it: reading the replies search is a 403
``client-not-enrolled`` (``Client Forbidden``, ``required_enrollment``), while posting
still works. `sync --source all --publish all` says what that means and what to do, in
one line naming X, and the other platforms are read and every approved reply is
posted, once; a reply whose answer was lost is never sent again when X refuses even the
look-up. Both backends, the real sources and publishers on the four fakes."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from sheets_sync.errors import AuthError
from tests.platform_fixtures import make_source
from tests.real_platforms import PLATFORMS, Fleet, comment_id, reply_text
from tests.trackers import records

CIDS = [comment_id(p, 0) for p in PLATFORMS]
MEANS = "not enrolled for this endpoint (client-not-enrolled; X asks for 'Appropriate Level of API Access')"


@pytest.fixture
def fleet(harness, roster_file, tmp_path):
    fleet = Fleet(harness, roster_file, tmp_path, real_time=True)
    fleet.x.now = None
    yield fleet
    fleet.close()


def test_the_x_source_says_what_a_free_tier_refusal_means_and_what_to_do(fake_x):
    from tests.test_sources_x import seed

    seed(fake_x)
    fake_x.not_enrolled = {"/2/tweets/search"}
    with pytest.raises(AuthError) as caught:
        make_source("x", fake_x, lookback_days=6).fetch(None)
    said = str(caught.value)
    assert said.startswith("X refused replies to post ") and MEANS in said
    assert "free access level may post but not read replies" in said
    assert "SHEETS_SYNC_X_BEARER_TOKEN" in said and "developer portal" in said
    assert "the other platforms still are" in said
    searched = [r for r in fake_x.requests if "search" in r.path]
    assert len(searched) == 1  # refused for good: not retried


def test_sync_all_with_x_on_the_free_tier_reads_the_others_and_publishes_everywhere(fleet, tmp_path):
    fleet.approve()
    fleet.x.not_enrolled = {"/2/tweets/search"}
    new = datetime.now(UTC) - timedelta(minutes=30)  # the sources read in real time
    fleet.graph.add_comment("111_1", "1_new", new, "कचरा उचलला नाही", author=("7", "Ravi"))
    fleet.graph.add_ig_comment("m1", "ig_new", new, "कचरा उचलला नाही", author=("6", "ravi"))
    fleet.youtube.add_comment("vid1", "Ugnew", new, "कचरा तसाच", author=("UCr", "Ravi"))
    fleet.x.add_user("5559999", "ravi")
    fleet.x.add_reply("1001", "29999", new, "@PMCofficial कचरा", author_id="5559999")
    run = subprocess.run(fleet.cli("sync", "--source", "all", "--publish", "all"), env=fleet.env(),
                         cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert run.returncode == 5, run.stdout + run.stderr  # a source failed; the rest was written
    errors = [line for line in run.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and errors[0].startswith("Error: x: X refused replies to post 1001"), run.stderr
    assert MEANS in errors[0] and "python cli.py sources check" in errors[0]
    assert "Traceback" not in run.stderr
    rows = fleet.rows()
    assert {"1_new", "ig_new", "Ugnew"} <= set(rows) and "29999" not in rows  # the others were read
    for i, platform in enumerate(PLATFORMS):  # and every approved reply went out, X's too
        assert fleet.posts_per_comment(platform) == {CIDS[i]: 1}
        assert fleet.held(platform) == {CIDS[i]: [reply_text(platform, 0)]}
        assert rows[CIDS[i]]["Publish"].startswith("posted")
    log = records(fleet.harness.values("Sync Log"))[-1]
    assert log["Command"] == "sync" and MEANS in log["Errors and warnings"]
    check = subprocess.run(fleet.cli("sources", "check")[:-2], env=fleet.env(), cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 5 and MEANS in check.stdout + check.stderr


def test_a_lost_answer_is_never_sent_again_when_x_refuses_the_look_up(fleet):
    """A free-tier app may not even read its own timeline: the reply whose answer was
    lost stays "sending", says why it cannot be checked, and is never posted again."""
    fleet.approve([CIDS[3]])
    fleet.x.drop("/2/tweets", method="POST", accepted=True)  # X took it; the answer is lost
    fleet.publish(1)
    assert fleet.row(CIDS[3])["Publish"].startswith("sending since")
    fleet.x.not_enrolled = {"/2/users/"}
    for minutes in (2, 20, 40):
        fleet.publish(minutes)
    row = fleet.row(CIDS[3])
    assert row["Publish"].startswith("sending since")
    assert "could not check whether the reply reached x" in row["Sync notes"]
    assert "client-not-enrolled" in row["Sync notes"]
    assert fleet.posts_per_comment("x") == {CIDS[3]: 1} and len(fleet.held("x")[CIDS[3]]) == 1
    fleet.x.not_enrolled = set()
    fleet.publish(41)  # enrolled again: found, recorded, still once
    row = fleet.row(CIDS[3])
    assert row["Publish"].startswith("posted") and row["Reply id"]
    assert fleet.posts_per_comment("x") == {CIDS[3]: 1}
