"""The interface every source of posts and comments implements.

A source is a small adapter: given the checkpoint it returned last time (or
``None`` on a first run), it fetches what is new and returns a :class:`Batch`.
The engine writes the batch's rows and its new checkpoint to the tracker in
one commit, so a checkpoint never advances past rows that were not written.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from sheets_sync.models import Comment, Post


@dataclass
class Batch:
    """What one fetch produced."""

    posts: list[Post] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    # Opaque text the source wants back next run; None keeps the old one.
    checkpoint: str | None = None
    # Things a person should know that did not stop the fetch.
    warnings: list[str] = field(default_factory=list)


@dataclass
class SourceCheck:
    """The answer of ``sources check`` for one source."""

    source: str
    ok: bool
    detail: str


class Source(ABC):
    """Where posts and comments come from."""

    #: Stable name, used as the checkpoint's key in the tracker ("facebook",
    #: "files:examples").
    name: str

    @abstractmethod
    def fetch(self, checkpoint: str | None) -> Batch:
        """Return what is new since ``checkpoint``.

        Raise :class:`~sheets_sync.errors.InputError` for bad data,
        :class:`~sheets_sync.errors.AuthError` for a token to renew,
        :class:`~sheets_sync.errors.RateLimited` when throttled and
        :class:`~sheets_sync.errors.SourceError` for other failures.
        """

    def check(self) -> SourceCheck:
        """Say whether the source can be read (``python cli.py sources check``)."""
        try:
            batch = self.fetch(None)
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return SourceCheck(self.name, False, str(exc))
        return SourceCheck(
            self.name, True, f"{len(batch.posts)} posts, {len(batch.comments)} comments readable"
        )
