"""200 approved replies over the four platforms' fakes (50 each) with one platform
throttled midway, in its real error shape — Graph codes 4, 17, 32, 613 (HTTP 403 with
X-Business-Use-Case-Usage), YouTube quotaExceeded (the fake's own quota running out)
or rateLimitExceeded, X's 429 with x-rate-limit-reset (the fake's own limit per 15
minutes) — through the real publishers, on both backends.

The other platforms' replies go out; the throttled platform's rest stay queued, each
row saying why and when to come back (Publish and Sync notes) and the Sync Log once
per platform; a run before the reset sends nothing more; the run after it sends the
rest; every reply is on its platform exactly once, and the fakes' request logs show
how many POSTs each comment got."""

from __future__ import annotations

import pytest

from tests.real_platforms import PLATFORMS, WRITE_PATH, Fleet, comment_id, reply_text, throttled_answer

SHAPES = [("facebook", "4"), ("facebook", "17"), ("instagram", "32"), ("instagram", "613"),
          ("youtube", "quotaExceeded"), ("youtube", "rateLimitExceeded"), ("x", "429")]
#: What each throttle's rows say about when to come back.
WHEN = {"4": "expects access back in about 15 minutes", "17": "expects access back in about 15 minutes",
        "32": "Instagram expects access back in about 15 minutes",
        "613": "Instagram expects access back in about 15 minutes",
        "quotaExceeded": "resets at midnight Pacific time (2026-11-26 13:30 IST)",
        "rateLimitExceeded": "YouTube gives no time", "429": "X resets the limit at 2026-11-26 12:16 IST"}


def throttle(fleet, platform: str, shape: str, after: int) -> None:
    fake = fleet.fakes[platform]
    if platform == "youtube" and shape == "quotaExceeded":
        fake.quota = after * 50  # comments.insert costs 50 units: the day's quota runs out
    elif platform == "x":
        fake.post_limit = after  # posts per 15 minutes, then X's own 429 and its reset
    else:
        answer = throttled_answer(platform, shape, fleet.platform_now())
        fake.fail(WRITE_PATH[platform], *answer, method="POST", after=after, times=10**6)


def lift(fleet, platform: str) -> None:
    """The reset: Graph's estimated time passed, a new day's quota, X's window over."""
    fake = fleet.fakes[platform]
    fake.clear_faults()
    if platform == "youtube":
        fake.quota = None


def _throttled_midway(harness, roster_file, tmp_path, platform: str, shape: str, n: int) -> None:
    fleet = Fleet(harness, roster_file, tmp_path, n=n)
    try:
        _run(fleet, platform, shape, n)
    finally:
        fleet.close()


def _run(fleet, platform: str, shape: str, n: int) -> None:
    fleet.approve()
    after = n * 3 // 5  # 30 of 50 go out before the throttle
    throttle(fleet, platform, shape, after)
    server = getattr(fleet.harness, "server", None)
    if server is not None:
        server.clear_requests()
    done = fleet.publish(1).summary()["publishing"]
    others = [p for p in PLATFORMS if p != platform]
    mine = [comment_id(platform, i) for i in range(n)]
    assert done["posted"] == 3 * n + after and len(done["refused"]) == 1
    assert len(done["not_sent"]) == n - after - 1
    if server is not None:  # the tracker's usual requests and one more write, not one per reply
        assert len(server.requests) <= 5, [r.get("path") for r in server.requests]
    for other in others:
        cids = [comment_id(other, i) for i in range(n)]
        assert fleet.posts_per_comment(other) == dict.fromkeys(cids, 1)
        assert fleet.held(other) == {c: [reply_text(other, i)] for i, c in enumerate(cids)}
    assert fleet.posts_per_comment(platform) == dict.fromkeys(mine[: after + 1], 1)
    assert sorted(fleet.held(platform)) == mine[:after]

    rows = fleet.rows()
    queued = [rows[c] for c in mine[after:]]
    assert queued[0]["Publish"].startswith(("refused (throttled)", "refused (quota)")), queued[0]
    for row in queued[1:]:
        assert row["Publish"].startswith("approved: not sent yet ("), row
    for row in queued:
        assert WHEN[shape] in row["Publish"] and WHEN[shape] in row["Sync notes"], row
        assert row["Reply id"] == "" and row["Status"] == "Pending"
    log = fleet.log()[-1]["Errors and warnings"]
    assert WHEN[shape] in log and f"{platform}: {n - after - 1} approved replies not sent yet" in log
    assert log.count("not sent yet") == 1  # once per platform, not once per reply

    fleet.publish(5)  # before the reset: the platform still refuses, nothing more goes out
    assert sorted(fleet.held(platform)) == mine[:after]
    assert fleet.posts_per_comment(platform)[mine[after]] == 2

    lift(fleet, platform)
    fleet.publish(20)  # after the reset (X's window of 15 minutes is over too)
    fleet.publish(21)  # and once more: nothing left, nothing twice
    expected = dict.fromkeys(mine, 1)
    expected[mine[after]] = 3  # refused twice, then taken
    assert fleet.posts_per_comment(platform) == expected
    assert fleet.held(platform) == {c: [reply_text(platform, i)] for i, c in enumerate(mine)}
    for other in others:
        assert fleet.posts_per_comment(other) == dict.fromkeys([comment_id(other, i) for i in range(n)], 1)
    rows = fleet.rows()
    assert all(rows[c]["Publish"].startswith("posted") and rows[c]["Reply id"] for c in rows)
    assert not any("not sent yet" in rows[c]["Sync notes"] or "refused by" in rows[c]["Sync notes"]
                   for c in rows)  # posted: why it waited is over
    assert len(fleet.harness.values("Comments")) == 4 * n + 1  # no row doubled


@pytest.mark.parametrize(("platform", "shape"), SHAPES)
def test_a_platform_throttled_midway_keeps_the_rest_queued_until_the_reset(
        harness, roster_file, tmp_path, platform, shape):
    """Ten replies a platform, every throttle shape: the fast round."""
    _throttled_midway(harness, roster_file, tmp_path, platform, shape, 10)


@pytest.mark.slow
@pytest.mark.parametrize(("platform", "shape"), SHAPES)
def test_200_replies_one_platform_throttled_midway(harness, roster_file, tmp_path, platform, shape):
    """The acceptance's 200 (2 to 12 s each here, 2026-12-02)."""
    _throttled_midway(harness, roster_file, tmp_path, platform, shape, 50)

