"""The contract every platform source keeps, run against each platform's local fake.

What the engine relies on, whatever the platform:

- **overlap without doubles**: a run re-reads the overlap window; what it
  re-reads is the same comment as before (so the tracker's dedupe drops it),
  comments that showed up late inside the overlap and new ones are caught,
  no batch repeats a comment, and the checkpoint moves to the newest one;
- **a crash repeats the fetch**: a fetch whose rows were not written leaves
  the checkpoint where it was, and fetching again from it (in this process or
  a new one) gives the very same batch;
- **throttled midway keeps the checkpoint**: what was read is passed on with
  one warning saying when to come back, the checkpoint stays, nothing is
  retried within the run, and the next run reads the rest;
- **an expired token names its variable** and says how to renew it, and
  ``sources check`` says so too, never showing the token;
- **a far-future time does not move the checkpoint**: a comment dated ahead
  of the clock is passed on, but the checkpoint stays at the newest time that
  can be trusted.

Each :class:`Case` says how to do these things to one platform's fake and
what that platform answers. Platform-specific behaviour (payload shapes,
paging, error codes, messages) is tested in ``test_sources_<platform>.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from sheets_sync.errors import AuthError
from sheets_sync.sources.window import make_checkpoint
from sheets_sync.testing.fake_platforms.graph import graph_throttled
from sheets_sync.testing.fake_platforms.x import x_rate_limited
from tests import test_sources_facebook, test_sources_instagram, test_sources_x, test_sources_youtube
from tests.platform_fixtures import (
    CHANNEL_ID,
    IG_USER_ID,
    NOW,
    PAGE_ID,
    X_USER_ID,
    Tracker,
    at,
    make_source,
)


@dataclass(frozen=True)
class Case:
    """One platform, its fake, and what the seeded data makes it answer."""

    platform: str
    fake: str  # the fixture serving it
    account_id: str
    seed: Callable[[Any], None]
    #: add_comment(fake, post_id, comment_id, when): a top-level comment.
    add_comment: Callable[[Any, str, str, datetime], None]
    total: int  # comments the seed puts in reach of a first run
    newest: datetime  # the newest of them: the checkpoint after a first run
    newest_id: str
    newest_post: str  # the post it is on
    other_post: str  # another followed post
    #: A stored checkpoint mid-history, and comments fetching from it must return.
    crash_from: datetime
    crash_ids: frozenset[str]
    throttle: Callable[[Any], None]  # throttle the fake part-way through a first run
    partial_ids: tuple[str, ...]  # what is read before that, in batch order
    throttle_says: tuple[str, ...]  # what the one warning says
    expire: Callable[[Any], None]  # revoke the token the source holds
    token_env: str
    expired: str  # a regular expression the whole AuthError message matches
    unthrottle: Callable[[Any], None] = lambda fake: None
    settings: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.platform


def _rotate_token(fake: Any) -> None:
    fake.token = "rotated-token"


def _rotate_key(fake: Any) -> None:
    fake.api_key = "rotated-key"


def _graph_comment(fake: Any, post_id: str, comment_id: str, when: datetime) -> None:
    fake.add_comment(post_id, comment_id, when, f"comment {comment_id}")


def _ig_comment(fake: Any, post_id: str, comment_id: str, when: datetime) -> None:
    fake.add_ig_comment(post_id, comment_id, when, f"comment {comment_id}")


def _yt_comment(fake: Any, post_id: str, comment_id: str, when: datetime) -> None:
    fake.add_comment(post_id, comment_id, when, f"comment {comment_id}")


def _x_reply(fake: Any, post_id: str, comment_id: str, when: datetime) -> None:
    fake.add_reply(post_id, comment_id, when, f"reply {comment_id}", author_id="202")


def _yt_quota(fake: Any, units: int | None) -> None:
    fake.quota = units


CASES = [
    Case(
        platform="facebook",
        fake="fake_graph",
        account_id=PAGE_ID,
        seed=test_sources_facebook.seed,
        add_comment=_graph_comment,
        total=7,
        newest=at(hours=-2),
        newest_id="3_c1",
        newest_post="111_3",
        other_post="111_2",
        crash_from=at(days=-3, hours=2),
        crash_ids=frozenset({"1_r1", "1_r2", "1_c3", "2_c1", "3_c1"}),
        # The third comments request (page 3 of post 1's thread) is throttled.
        throttle=lambda fake: fake.fail("/comments", *graph_throttled(code=4, minutes=12), after=2),
        partial_ids=("1_c1", "1_c2", "1_r1", "1_r2"),
        throttle_says=("about 12 minutes", "the next run resumes from the checkpoint"),
        expire=_rotate_token,
        token_env="SHEETS_SYNC_FACEBOOK_TOKEN",
        expired=r"Facebook token expired or revoked \(code 190: .+\): create a new Page access "
        r"token and put it in SHEETS_SYNC_FACEBOOK_TOKEN",
    ),
    Case(
        platform="instagram",
        fake="fake_graph",
        account_id=IG_USER_ID,
        seed=test_sources_instagram.seed,
        add_comment=_ig_comment,
        total=8,
        newest=at(hours=-3),
        newest_id="c4",
        newest_post="m2",
        other_post="m1",
        crash_from=at(days=-4, hours=5),
        crash_ids=frozenset({"c3", "r1", "r2", "r3", "r4", "c4"}),
        throttle=lambda fake: fake.fail("/m2/comments", *graph_throttled(code=80002, minutes=3)),
        partial_ids=("c1", "c2", "c3", "r1", "r2", "r3", "r4"),
        throttle_says=("Instagram throttled", "about 3 minutes", "the next run resumes from the checkpoint"),
        expire=_rotate_token,
        token_env="SHEETS_SYNC_INSTAGRAM_TOKEN",
        expired=r"Instagram token expired or revoked \(code 190: .+\): create a new access token "
        r"\(a Page token of the Facebook Page linked to the Instagram account\) and put it in "
        r"SHEETS_SYNC_INSTAGRAM_TOKEN",
    ),
    Case(
        platform="youtube",
        fake="fake_youtube",
        account_id=CHANNEL_ID,
        seed=test_sources_youtube.seed,
        add_comment=_yt_comment,
        total=11,
        newest=at(hours=-1),
        newest_id="T6",
        newest_post="vid2",
        other_post="vid1",
        crash_from=at(days=-4),
        crash_ids=frozenset({"T5.R9", "T6"}),
        # channels, playlistItems twice, the first page of vid1's threads; then over quota.
        throttle=lambda fake: _yt_quota(fake, 4),
        unthrottle=lambda fake: _yt_quota(fake, None),  # the next day
        partial_ids=("T4", "T5", "T5.R9"),
        throttle_says=("YouTube daily quota exhausted", "midnight Pacific time (2026-11-20 13:30 IST)"),
        expire=_rotate_key,
        token_env="SHEETS_SYNC_YOUTUBE_API_KEY",
        expired=r"YouTube rejected the credential in SHEETS_SYNC_YOUTUBE_API_KEY \(HTTP 400 API_KEY_INVALID: "
        r".+\): create a new API key \(Google Cloud console → APIs & Services → Credentials, with "
        r"the YouTube Data API v3 enabled\) and put it in SHEETS_SYNC_YOUTUBE_API_KEY",
    ),
    Case(
        platform="x",
        fake="fake_x",
        account_id=X_USER_ID,
        seed=test_sources_x.seed,
        add_comment=_x_reply,
        total=6,
        newest=at(hours=-1),
        newest_id="2006",
        newest_post="1002",
        other_post="1001",
        crash_from=at(days=-3, hours=3),
        crash_ids=frozenset({"2003", "2004", "2005", "2006"}),
        # The second search (page 2 of post 1001's replies) is throttled.
        throttle=lambda fake: fake.fail("/search/recent", *x_rate_limited(at(minutes=15)), after=1),
        partial_ids=("2004", "2005"),
        throttle_says=(
            "try again after 2026-11-20 11:45 IST (x-rate-limit-reset)",
            "the next run resumes from the checkpoint",
        ),
        expire=_rotate_token,
        token_env="SHEETS_SYNC_X_BEARER_TOKEN",
        expired=re.escape(
            "X rejected the bearer token in SHEETS_SYNC_X_BEARER_TOKEN (Unauthorized): create a new "
            "bearer token in the X developer portal (your app → Keys and tokens) and put it in "
            "SHEETS_SYNC_X_BEARER_TOKEN"
        ),
        settings={"lookback_days": 6},  # X search reaches seven days back only
    ),
]


@pytest.fixture(params=CASES, ids=str)
def case(request: pytest.FixtureRequest) -> Case:
    return request.param


@pytest.fixture
def fake(case: Case, request: pytest.FixtureRequest) -> Any:
    fake = request.getfixturevalue(case.fake)
    case.seed(fake)
    return fake


def source_for(case: Case, fake: Any, sleeps: list[float] | None = None):
    return make_source(case.platform, fake, sleeps, **case.settings)


def ids(batch) -> list[str]:
    return [c.comment_id for c in batch.comments]


def newest(checkpoint: str | None) -> str:
    assert checkpoint is not None
    return json.loads(checkpoint)["newest"]


def test_overlap_catches_late_and_new_comments_without_doubles(case, fake):
    tracker = Tracker()
    source = source_for(case, fake)
    first = tracker.sync(source)
    assert len(tracker.comments) == case.total
    assert newest(tracker.checkpoint) == case.newest.isoformat()

    # Later: a comment that shows up late, dated inside the overlap (before the
    # checkpoint), and a new one on another post.
    case.add_comment(fake, case.newest_post, "9001", case.newest - timedelta(hours=1))
    case.add_comment(fake, case.other_post, "9002", at(minutes=-30))
    second = source.fetch(tracker.checkpoint)
    assert set(ids(second)) == {case.newest_id, "9001", "9002"}
    # Only posts that are new or have new comments come back.
    assert {p.post_id for p in second.posts} == {case.newest_post, case.other_post}
    # What the overlap re-reads is what the tracker has: its dedupe drops it.
    again = {c.key: c for c in first.comments}
    assert [c for c in second.comments if c.key in again] == [
        again[c.key] for c in second.comments if c.key in again
    ]
    tracker.write(second)  # asserts the batch repeats no comment
    assert len(tracker.comments) == case.total + 2
    assert newest(tracker.checkpoint) == at(minutes=-30).isoformat()

    # Running again with nothing new changes nothing.
    third = source.fetch(tracker.checkpoint)
    assert set(ids(third)) <= tracker.comment_ids()
    assert third.checkpoint == tracker.checkpoint


def test_a_crash_before_the_write_repeats_the_same_fetch(case, fake):
    tracker = Tracker()
    source = source_for(case, fake)
    tracker.sync(source)
    stored = tracker.checkpoint
    case.add_comment(fake, case.newest_post, "9001", case.newest - timedelta(hours=1))
    case.add_comment(fake, case.other_post, "9002", at(minutes=-10))

    lost = source.fetch(stored)  # ... and the machine dies before writing it
    assert tracker.checkpoint == stored  # the checkpoint moves only with its rows
    assert source.fetch(stored) == lost
    assert source_for(case, fake).fetch(stored) == lost  # a new process, too
    tracker.sync(source_for(case, fake))
    assert {"9001", "9002"} <= tracker.comment_ids() and len(tracker.comments) == case.total + 2

    # From further back in history: the same batch every time.
    mid = make_checkpoint(case.account_id, case.crash_from)
    first = source.fetch(mid)
    assert source.fetch(mid) == first
    assert first.comments and set(ids(first)) >= case.crash_ids
    assert first.checkpoint == tracker.checkpoint


@pytest.mark.parametrize("start", ["first run", "stored checkpoint"])
def test_throttled_midway_passes_on_what_was_read_and_keeps_the_checkpoint(case, fake, sleeps, start):
    everything = {c.comment_id for c in source_for(case, fake).fetch(None).comments}
    assert len(everything) == case.total
    fake.requests.clear()
    tracker = Tracker()
    if start == "stored checkpoint":
        tracker.checkpoint = make_checkpoint(case.account_id, at(days=-6))
    stored = tracker.checkpoint
    source = source_for(case, fake, sleeps)

    case.throttle(fake)
    partial = source.fetch(tracker.checkpoint)
    assert partial.checkpoint is None  # the old checkpoint stays
    assert tuple(ids(partial)) == case.partial_ids
    (warning,) = partial.warnings
    for words in case.throttle_says:
        assert words in warning
    assert "the checkpoint stays where it was" in warning
    assert sleeps == []  # throttling is not retried within the run
    tracker.write(partial)
    assert tracker.checkpoint == stored

    case.unthrottle(fake)
    tracker.sync(source)
    assert tracker.comment_ids() == everything
    assert newest(tracker.checkpoint) == case.newest.isoformat()


def test_an_expired_token_names_its_variable(case, fake):
    source = source_for(case, fake)
    held = source.secret.value
    case.expire(fake)  # the token the source holds is revoked
    with pytest.raises(AuthError) as info:
        source.fetch(None)
    message = str(info.value)
    assert re.fullmatch(case.expired, message), message
    assert held not in message and held not in repr(info.value)

    check = source.check()
    assert not check.ok and case.token_env in check.detail and held not in check.detail


@pytest.mark.parametrize("ahead", [timedelta(days=2), timedelta(days=3 * 365)], ids=["days", "years"])
def test_a_time_far_in_the_future_does_not_move_the_checkpoint(case, fake, ahead):
    case.add_comment(fake, case.newest_post, "9009", NOW + ahead)
    tracker = Tracker()
    source = source_for(case, fake)
    first = tracker.sync(source)
    assert "9009" in ids(first)  # still passed on ...
    # ... but the checkpoint stays at the newest trustworthy time,
    assert newest(first.checkpoint) == case.newest.isoformat()
    # and a later run that sees it again does not move it either.
    second = source.fetch(tracker.checkpoint)
    assert "9009" in ids(second)
    assert second.checkpoint == tracker.checkpoint
