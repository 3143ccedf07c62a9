"""Records every source yields: posts and comments, the same for every platform."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

PLATFORMS = ("facebook", "instagram", "youtube", "x")


@dataclass(frozen=True, slots=True)
class Post:
    """A post the corporation published on one platform."""

    platform: str
    post_id: str
    posted_at: datetime  # timezone-aware
    text: str
    url: str
    # A department code the source already knows (an explicit export column,
    # a department's own account); empty means "route by the roster's rules".
    department: str = ""
    # The account that published it ("x:MahanagarFire"), for routing rules.
    account: str = ""
    # Where the record came from ("posts.csv line 12"), for error messages.
    origin: str = field(default="", compare=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.platform, self.post_id)


@dataclass(frozen=True, slots=True)
class Comment:
    """A comment (or a reply to one) under a post."""

    platform: str
    comment_id: str
    post_id: str
    parent_id: str  # empty for a top-level comment
    author: str
    author_id: str
    commented_at: datetime  # timezone-aware
    text: str
    url: str
    # Written by the corporation's own account: needs no reply, and closes
    # the comment it answers.
    by_page: bool = False
    # Removed or hidden on the platform after it was first seen.
    deleted: bool = False
    origin: str = field(default="", compare=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.platform, self.comment_id)

    @property
    def post_key(self) -> tuple[str, str]:
        return (self.platform, self.post_id)
