"""The incremental window of a platform fetch, and what one fetch gathers.

Checkpoints
===========

A checkpoint is JSON text, for example::

    {"v": 1, "account": "1234567890", "newest": "2026-11-20T04:45:03+00:00"}

``newest`` is the newest platform time (post or comment) of the rows a fetch
returned — platform times, not our clock, so a skewed machine clock cannot
move it. The next fetch reads everything from ``newest - overlap_minutes``
(comments that show up late are still caught; the engine drops those it
already has). A first run (no checkpoint, a checkpoint of another account, or
an unreadable one) reads ``lookback_days`` back. Comments are read on posts of
the last ``follow_posts_days`` days (or since the window start, if earlier).

``newest`` never passes something that was not read: when a thread could not
be read to its end (Facebook's cursor limit), the checkpoint stops at the last
comment read on it (:meth:`Harvest.cap`); a time later than our clock plus
:data:`FUTURE_SLACK` does not move it; and a fetch cut short by throttling
hands over what it read but keeps the old checkpoint (``advance=False``, see
:meth:`sheets_sync.sources.platforms.PlatformSource.fetch`). The engine
writes a batch's rows and its checkpoint in one commit, so a crash between
fetch and write simply repeats the fetch from the old checkpoint.

This module does no I/O: a window and a harvest are plain values, the same
for every platform.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sheets_sync.models import Comment, Post
from sheets_sync.sources.base import Batch
from sheets_sync.sources.config import PlatformConfig

#: A platform time later than our clock plus this is not trusted to move the
#: checkpoint (a bogus far-future time would otherwise skip everything after).
FUTURE_SLACK = timedelta(hours=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


def newest_first(pages: Iterable[list], parse: Callable[[Any], Post | None],
                 horizon: datetime) -> Iterator[tuple[Any, Post]]:
    """(raw item, post) from pages that list posts newest first, down to ``horizon``.

    ``parse`` turns an item into a post (None: skipped, it said why). The page on
    which a post older than the horizon appears is the last one read.
    """
    for items in pages:
        reached_horizon = False
        for raw in items:
            post = parse(raw)
            if post is None:
                continue
            if post.posted_at < horizon:
                reached_horizon = True
                continue
            yield raw, post
        if reached_horizon:  # newest first: the rest is older still
            return


@dataclass(frozen=True)
class Window:
    """What one fetch reads: comments since ``since``, on posts since ``post_horizon``."""

    now: datetime
    since: datetime
    post_horizon: datetime
    previous: datetime | None  # the checkpoint's newest time, if any
    notes: tuple[str, ...] = ()

    @classmethod
    def open(cls, checkpoint: str | None, config: PlatformConfig, now: datetime) -> Window:
        notes: list[str] = []
        previous = None
        if checkpoint:
            previous, problem = _read_checkpoint(checkpoint, config.account_id)
            if problem:
                notes.append(
                    f"{config.platform}: {problem}; reading the last "
                    f"{config.lookback_days} days again as on a first run "
                    "(rows already in the tracker are not added twice)"
                )
        if previous is None:
            since = now - timedelta(days=config.lookback_days)
        else:
            since = previous - timedelta(minutes=config.overlap_minutes)
        horizon = min(since, now - timedelta(days=config.follow_posts_days))
        return cls(now, since, horizon, previous, tuple(notes))


def _read_checkpoint(text: str, account_id: str) -> tuple[datetime | None, str]:
    try:
        data = json.loads(text)
        newest = datetime.fromisoformat(data["newest"])
        account = str(data["account"])
    except (ValueError, TypeError, KeyError):
        return None, f"the stored checkpoint {text[:80]!r} is unreadable"
    if newest.tzinfo is None:
        return None, f"the stored checkpoint {text[:80]!r} has a time without a UTC offset"
    if account != account_id:
        return None, f"the stored checkpoint is for account {account}, not {account_id}"
    return newest, ""


def make_checkpoint(account_id: str, newest: datetime) -> str:
    return json.dumps(
        {"v": 1, "account": account_id, "newest": newest.astimezone(UTC).isoformat()},
        separators=(", ", ": "),
    )


@dataclass
class Harvest:
    """Posts and comments one fetch gathered, deduplicated by id."""

    window: Window
    posts: dict[str, Post] = field(default_factory=dict)
    comments: dict[str, Comment] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # Times the checkpoint must not pass: the last comment read on a thread
    # that could not be read to its end.
    caps: list[datetime] = field(default_factory=list)

    def add_post(self, post: Post) -> None:
        """A followed post (returned when new, or when it has new comments)."""
        self.posts.setdefault(post.post_id, post)

    def add_comment(self, comment: Comment) -> None:
        """A comment; those older than the window are already in the tracker."""
        if comment.commented_at >= self.window.since:
            self.comments.setdefault(comment.comment_id, comment)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def cap(self, when: datetime) -> None:
        self.caps.append(when)

    @property
    def empty(self) -> bool:
        return not self.comments and not any(p.posted_at >= self.window.since for p in self.posts.values())

    def batch(self, account_id: str, *, advance: bool) -> Batch:
        since = self.window.since
        comments = sorted(self.comments.values(), key=lambda c: (c.commented_at, c.comment_id))
        commented = {c.post_id for c in comments}
        posts = sorted(
            (p for p in self.posts.values() if p.posted_at >= since or p.post_id in commented),
            key=lambda p: (p.posted_at, p.post_id),
        )
        checkpoint = None
        if advance:
            trusted_until = self.window.now + FUTURE_SLACK
            times = [c.commented_at for c in comments] + [p.posted_at for p in posts]
            times = [t for t in times if t <= trusted_until]
            if self.window.previous is not None:
                times.append(self.window.previous)
            if times:
                newest = min([max(times), *self.caps])
                checkpoint = make_checkpoint(account_id, newest)
        return Batch(
            posts=posts,
            comments=comments,
            checkpoint=checkpoint,
            warnings=[*self.window.notes, *self.warnings],
        )
