"""Pytest fixtures for the platform sources: running fakes, a fixed clock, no sleeping.

A pytest plugin module (listed in ``pytest_plugins``); tests may also import
its helpers (``NOW``, ``at``, ``Tracker``, ``make_source``) directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from sheets_sync.retry import RetryPolicy
from sheets_sync.sources.base import Batch, Source
from sheets_sync.sources.config import PlatformConfig
from sheets_sync.sources.facebook import FacebookSource
from sheets_sync.sources.instagram import InstagramSource
from sheets_sync.sources.platforms import PlatformSource
from sheets_sync.sources.tokens import Secret
from sheets_sync.sources.x import XSource
from sheets_sync.sources.youtube import YouTubeSource
from sheets_sync.testing.fake_platforms import FakeGraph, FakeServer, FakeX, FakeYouTube

#: The tests' "now": every fake's data is placed relative to it.
NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)

PAGE_ID = "111"
IG_USER_ID = "17841400000000001"
CHANNEL_ID = "UCcorporation000000000000"
X_USER_ID = "3001960000"

_CLASSES: dict[str, tuple[type[PlatformSource], str, str]] = {
    "facebook": (FacebookSource, PAGE_ID, "SHEETS_SYNC_FACEBOOK_TOKEN"),
    "instagram": (InstagramSource, IG_USER_ID, "SHEETS_SYNC_INSTAGRAM_TOKEN"),
    "youtube": (YouTubeSource, CHANNEL_ID, "SHEETS_SYNC_YOUTUBE_API_KEY"),
    "x": (XSource, X_USER_ID, "SHEETS_SYNC_X_BEARER_TOKEN"),
}


def at(**delta: float) -> datetime:
    """``NOW`` shifted: ``at(hours=-3)`` is three hours ago."""
    return NOW + timedelta(**delta)


class Clock:
    """A settable clock for sources (``source = make_source(..., clock=clock)``)."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_source(
    platform: str,
    fake: FakeServer,
    sleeps: list[float] | None = None,
    *,
    clock: Clock | None = None,
    secret: Secret | None = None,
    **settings: object,
) -> PlatformSource:
    """A source of ``platform`` reading from ``fake``, with a fixed clock and no sleeping."""
    cls, account_id, env_name = _CLASSES[platform]
    config = PlatformConfig(platform, str(settings.pop("account_id", account_id)), **settings)
    if secret is None:
        value = getattr(fake, "api_key", None) or fake.token  # type: ignore[attr-defined]
        secret = Secret(env_name, value)
    recorded = sleeps if sleeps is not None else []
    return cls(
        config,
        secret,
        base_url=fake.url,
        sleep=recorded.append,
        clock=clock or Clock(),
        retry=RetryPolicy(attempts=4, base_delay=1.0, max_delay=8.0),
    )


class Tracker:
    """The engine's part, reduced: rows deduplicated by key, checkpoint written with them."""

    def __init__(self) -> None:
        self.posts: dict[tuple[str, str], object] = {}
        self.comments: dict[tuple[str, str], object] = {}
        self.checkpoint: str | None = None
        self.warnings: list[str] = []

    def sync(self, source: Source) -> Batch:
        batch = source.fetch(self.checkpoint)
        self.write(batch)
        return batch

    def write(self, batch: Batch) -> None:
        ids = [c.key for c in batch.comments]
        assert len(ids) == len(set(ids)), "a batch repeats a comment"
        post_ids = [p.key for p in batch.posts]
        assert len(post_ids) == len(set(post_ids)), "a batch repeats a post"
        for post in batch.posts:
            self.posts.setdefault(post.key, post)
        for comment in batch.comments:
            self.comments.setdefault(comment.key, comment)
        if batch.checkpoint is not None:
            self.checkpoint = batch.checkpoint
        self.warnings.extend(batch.warnings)

    def comment_ids(self) -> set[str]:
        return {key[1] for key in self.comments}


@pytest.fixture(autouse=True)
def _no_proxy_for_fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy set in the environment must not swallow requests to 127.0.0.1.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def sleeps() -> list[float]:
    """The sleeps sources asked for (they never really sleep in tests)."""
    return []


@pytest.fixture
def fake_graph() -> Iterator[FakeGraph]:
    with FakeGraph(page_size=2) as fake:
        yield fake


@pytest.fixture
def fake_youtube() -> Iterator[FakeYouTube]:
    with FakeYouTube(page_size=2) as fake:
        yield fake


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    with FakeX(page_size=2) as fake:
        fake.now = NOW
        yield fake
