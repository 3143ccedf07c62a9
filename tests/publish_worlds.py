"""One small world per platform for the publisher tests: a running fake with a post,
a citizen's comment and a reply to it, the publisher that answers as the
corporation, and the source that reads the same account.

Each world knows its platform's particulars — the path of its write request (for
faults), the corporation's replies as the fake holds them, the text as the
platform serves it — so the contract tests read the same on all four.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sheets_sync.publish.base import Reply
from sheets_sync.publish.platform import PlatformPublisher
from sheets_sync.publish.registry import PUBLISHERS
from sheets_sync.retry import RetryPolicy
from sheets_sync.sources.tokens import Secret
from sheets_sync.testing.fake_platforms import FakeGraph, FakeServer, FakeX, FakeYouTube
from tests.platform_fixtures import CHANNEL_ID, IG_USER_ID, NOW, PAGE_ID, X_USER_ID, Clock, at, make_source

PLATFORMS = ["facebook", "instagram", "youtube", "x"]
#: A reply with Marathi, emoji, a line break and the characters X escapes.
TEXT = "नमस्कार आशा जी, पाणीपुरवठा उद्या सकाळी सुरू होईल 💧🙏\nWard 14 & 15 <today>."


@dataclass
class World:
    platform: str
    fake: Any
    publisher: PlatformPublisher
    comment: Reply  # the citizen's top-level comment
    reply_to_reply: Reply  # a citizen's reply to it
    write_path: str  # what the write request's path contains
    sleeps: list[float] = field(default_factory=list)

    @property
    def token(self) -> str:
        return self.publisher.secret.value

    def answer(self, text: str, *, to: Reply | None = None) -> Reply:
        base = to or self.comment
        return Reply(base.platform, base.comment_id, base.post_id, base.parent_id, base.author, text)

    def corporation_replies(self) -> list[tuple[str, str]]:
        """(id, text as the fake holds it) of every reply by the corporation's account."""
        fake = self.fake
        if self.platform in ("facebook", "instagram"):
            own = PAGE_ID if self.platform == "facebook" else IG_USER_ID
            return [(c.comment_id, c.text) for c in fake.comments if c.author and c.author[0] == own]
        if self.platform == "youtube":
            return [(c.comment_id, c.text) for c in fake.comments if c.author[0] == CHANNEL_ID]
        return [(t["id"], t["text"]) for t in fake.tweets
                if t["author_id"] == X_USER_ID and t["id"] != "1001"]

    def served(self, text: str, *, to_reply: bool = False) -> str:
        """``text`` as the platform holds it once posted."""
        if self.platform == "x":
            return ("@ravi " if to_reply else "@asha ") + text  # served escaped, stored as typed
        if self.platform == "instagram" and to_reply:
            return "@ravi " + text
        return text

    def source(self):
        return make_source(self.platform, self.fake, clock=Clock(at(minutes=1)))

    def is_hidden(self, comment_id: str) -> bool:
        fake = self.fake
        if self.platform in ("facebook", "instagram"):
            return next(c.hidden for c in fake.comments if c.comment_id == comment_id)
        if self.platform == "youtube":
            return next(c.held for c in fake.comments if c.comment_id == comment_id)
        return comment_id in fake.hidden

    def delete_comment(self) -> None:
        if self.platform == "x":
            self.fake.delete_tweet(self.comment.comment_id)
        else:
            self.fake.delete_comment(self.comment.comment_id)


def make_publisher(platform: str, fake: FakeServer, token: str, sleeps: list[float],
                   base_url: str | None = None) -> PlatformPublisher:
    cls = PUBLISHERS[platform]
    account = {"facebook": PAGE_ID, "instagram": IG_USER_ID, "youtube": CHANNEL_ID, "x": X_USER_ID}[platform]
    return cls(account, Secret(cls.token_name, token), base_url=base_url or fake.url, sleep=sleeps.append,
               clock=Clock(), retry=RetryPolicy(attempts=3, base_delay=1.0, max_delay=4.0))


@contextmanager
def world(platform: str) -> Iterator[World]:
    builder = {"facebook": _facebook, "instagram": _instagram, "youtube": _youtube, "x": _x}[platform]
    with builder() as built:
        yield built


@contextmanager
def _facebook() -> Iterator[World]:
    with FakeGraph(page_size=2) as fake:
        fake.now = NOW
        fake.add_page(PAGE_ID, "PMC")
        fake.add_post(PAGE_ID, "111_1", at(hours=-5), "Water cut on Monday")
        fake.add_comment("111_1", "1_c1", at(hours=-4), "पाणी कधी येणार? 💧", author=("900", "Asha"))
        fake.add_comment("111_1", "1_c2", at(hours=-3), "Same in my ward", author=("901", "ravi"),
                         parent="1_c1")
        sleeps: list[float] = []
        yield World("facebook", fake, make_publisher("facebook", fake, fake.publish_token, sleeps),
                    Reply("facebook", "1_c1", "111_1", "", "Asha", ""),
                    Reply("facebook", "1_c2", "111_1", "1_c1", "ravi", ""), "/1_c1/comments", sleeps)


@contextmanager
def _instagram() -> Iterator[World]:
    with FakeGraph(page_size=2) as fake:
        fake.now = NOW
        fake.add_ig_user(IG_USER_ID, "pmc_official")
        fake.add_media(IG_USER_ID, "m1", at(hours=-5), "Water cut on Monday")
        fake.add_ig_comment("m1", "ig_c1", at(hours=-4), "पाणी कधी येणार? 💧", author=("178", "asha"))
        fake.add_ig_comment("m1", "ig_c2", at(hours=-3), "Same here", author=("179", "ravi"), parent="ig_c1")
        sleeps: list[float] = []
        yield World("instagram", fake, make_publisher("instagram", fake, fake.publish_token, sleeps),
                    Reply("instagram", "ig_c1", "m1", "", "asha", ""),
                    Reply("instagram", "ig_c2", "m1", "ig_c1", "ravi", ""), "/ig_c1/replies", sleeps)


@contextmanager
def _youtube() -> Iterator[World]:
    with FakeYouTube(page_size=2) as fake:
        fake.now = NOW
        fake.add_channel(CHANNEL_ID, "PMC")
        fake.add_video(CHANNEL_ID, "vid1", at(hours=-5), "Water cut on Monday")
        fake.add_comment("vid1", "Ugc1", at(hours=-4), "पाणी कधी येणार? 💧", author=("UCasha", "Asha"))
        fake.add_comment("vid1", "r1", at(hours=-3), "Same here", author=("UCravi", "ravi"), parent="Ugc1")
        sleeps: list[float] = []
        yield World("youtube", fake, make_publisher("youtube", fake, fake.token, sleeps),
                    Reply("youtube", "Ugc1", "vid1", "", "Asha", ""),
                    Reply("youtube", "Ugc1.r1", "vid1", "Ugc1", "ravi", ""), "/youtube/v3/comments", sleeps)


@contextmanager
def _x() -> Iterator[World]:
    with FakeX(page_size=2) as fake:
        fake.now = NOW
        fake.add_user(X_USER_ID, "PMCofficial")
        fake.add_user("5550001", "asha")
        fake.add_user("5550002", "ravi")
        fake.add_post(X_USER_ID, "1001", at(hours=-5), "Water cut on Monday")
        fake.add_reply("1001", "1002", at(hours=-4), "@PMCofficial पाणी कधी? 💧", author_id="5550001")
        fake.add_reply("1001", "1003", at(hours=-3), "@asha @PMCofficial same", author_id="5550002",
                       replied_to="1002")
        sleeps: list[float] = []
        yield World("x", fake, make_publisher("x", fake, fake.user_token, sleeps),
                    Reply("x", "1002", "1001", "", "asha", ""),
                    Reply("x", "1003", "1001", "1002", "ravi", ""), "/2/tweets", sleeps)
