"""Publishing replies on the platforms: the one interface every platform implements.

A department's reply, once approved, is posted under the citizen's comment as the
corporation's account. Posting is not idempotent on any platform (the same request
sent twice makes two public replies), so the engine never calls
:meth:`Publisher.post_reply` for a reply whose earlier attempt may have landed: it
records its intent in the tracker first, and a later run asks
:meth:`Publisher.find_reply` whether that attempt landed before deciding anything.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from sheets_sync.errors import SourceError


@dataclass(frozen=True, slots=True)
class Reply:
    """One approved reply to post."""

    platform: str
    comment_id: str  # the citizen's comment the reply answers
    post_id: str
    parent_id: str  # the comment's own parent ("" for a top-level comment)
    author: str  # the citizen's name or @username, for a platform that answers a reply to a
    # reply under the top-level comment (Instagram) and so starts the text with @username
    text: str  # exactly as approved


@dataclass(frozen=True, slots=True)
class Posted:
    """A reply the platform holds: its id, a link to it, and the time the platform gives."""

    reply_id: str
    url: str
    posted_at: datetime  # timezone-aware


class Refused(SourceError):
    """The platform refused the reply; nothing was posted.

    ``reason`` is one of :data:`REASONS`; ``message`` says what to do, naming the
    permission or the token variable where one is at fault. ``stops_platform``: the
    other replies to this platform are not tried in this run (an expired token,
    throttling, the daily quota); ``retry_after`` in seconds where the platform says.
    """

    def __init__(self, reason: str, message: str, *, stops_platform: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.stops_platform = stops_platform
        self.retry_after = retry_after


#: Why a platform refused: a permission the token lacks, the comment deleted or hidden,
#: a reply too long, a reply the platform does not allow (X: a post that did not mention
#: the account), the day's quota spent, throttled, an expired or revoked token.
REASONS = ("permission", "gone", "too_long", "not_allowed", "quota", "throttled", "token")


class Uncertain(SourceError):
    """The request may have reached the platform (a timeout, a dropped connection, a 5xx
    after sending): whether the reply landed is found out later, never by posting again."""


class Publisher(ABC):
    """Posting replies and hiding comments on one platform, as the corporation's account."""

    platform: str
    #: The longest reply the platform takes, in its own count (:meth:`length`).
    max_length: int
    #: The environment variable of the token that may write (named in messages).
    token_name: str

    def length(self, text: str) -> int:
        """The text's length as the platform counts it (X weighs characters)."""
        return len(text)

    @abstractmethod
    def post_reply(self, reply: Reply) -> Posted:
        """Post ``reply`` once. Raises :class:`Refused` (nothing posted) or
        :class:`Uncertain` (it may have been posted)."""

    @abstractmethod
    def find_reply(self, reply: Reply, since: datetime) -> Posted | None:
        """The corporation's reply with this text under this comment, written at or after
        ``since``, if the platform holds one; ``None`` if it holds none. Reads only."""

    @abstractmethod
    def hide(self, reply_to: Reply, hidden: bool) -> None:
        """Hide (or show again) the citizen's comment ``reply_to.comment_id``."""
