"""An in-memory platform and its Publisher, faithful to sheets_sync/publish/base.py: it
holds the replies posted under each comment, ``find_reply`` reads them, ``hide`` keeps a
flag. Knobs, per comment or for the platform: refuse with a reason, raise ``Uncertain``
after the reply landed (a 500 after accepting, a dropped connection), fail before it
landed, stop the platform (throttled) after N posts, and a hook called at each step.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime

from sheets_sync.publish.base import Posted, Publisher, Refused, Reply, Uncertain

LIMITS = {"facebook": 8000, "instagram": 2200, "youtube": 10000, "x": 280}


@dataclass
class Held:
    """A reply the platform holds."""

    comment_id: str
    text: str
    posted: Posted


@dataclass
class FakePlatform:
    name: str
    clock: object  # () -> datetime: the platform's time
    replies: list[Held] = field(default_factory=list)
    hidden: dict[str, bool] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (what, comment id)
    # Knobs.
    refuse: dict[str, Refused] = field(default_factory=dict)  # comment id → refusal
    uncertain_after: set[str] = field(default_factory=set)  # lands, then the answer is lost
    fail_before: set[str] = field(default_factory=set)  # the connection drops before it lands
    stop_after: int | None = None  # posts accepted before throttling stops the platform
    hook: object = None  # (step, reply) -> None, at "post", "landed", "find", "hide"
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def under(self, comment_id: str) -> list[Held]:
        return [h for h in self.replies if h.comment_id == comment_id]


class FakePublisher(Publisher):
    def __init__(self, platform: FakePlatform, max_length: int | None = None) -> None:
        self.fake = platform
        self.platform = platform.name
        self.max_length = max_length or LIMITS[platform.name]
        self.token_name = f"SHEETS_SYNC_{platform.name.upper()}_PUBLISH_TOKEN"

    def _step(self, step: str, reply: Reply) -> None:
        if self.fake.hook is not None:
            self.fake.hook(step, reply)

    def post_reply(self, reply: Reply) -> Posted:
        fake = self.fake
        fake.calls.append(("post", reply.comment_id))
        self._step("post", reply)
        if reply.comment_id in fake.refuse:
            raise fake.refuse[reply.comment_id]
        if fake.stop_after is not None and len(fake.replies) >= fake.stop_after:
            raise Refused("throttled", f"{self.platform} is throttling this account; try after 15 minutes",
                          stops_platform=True, retry_after=900)
        if reply.comment_id in fake.fail_before:
            raise Uncertain(f"{self.platform}: connection dropped")
        if self.length(reply.text) > self.max_length:
            raise Refused("too_long", f"longer than {self.max_length} characters")
        number = next(fake._ids)
        posted = Posted(f"{self.platform}-r{number}", f"https://{self.platform}.example/r/{number}",
                        fake.clock())
        fake.replies.append(Held(reply.comment_id, reply.text, posted))
        self._step("landed", reply)
        if reply.comment_id in fake.uncertain_after:
            raise Uncertain(f"{self.platform}: 500 Internal Server Error")
        return posted

    def find_reply(self, reply: Reply, since: datetime) -> Posted | None:
        self.fake.calls.append(("find", reply.comment_id))
        self._step("find", reply)
        for held in self.fake.under(reply.comment_id):
            if held.text == reply.text and held.posted.posted_at >= since:
                return held.posted
        return None

    def hide(self, reply_to: Reply, hidden: bool) -> None:
        self.fake.calls.append(("hide" if hidden else "show", reply_to.comment_id))
        self._step("hide", reply_to)
        self.fake.hidden[reply_to.comment_id] = hidden


def fake_publishers(clock, platforms=("facebook", "instagram", "youtube", "x")):
    """(publishers by platform, the fake platforms by name)."""
    fakes = {name: FakePlatform(name, clock) for name in platforms}
    return {name: FakePublisher(f) for name, f in fakes.items()}, fakes
