"""Exactly once under faults with the real Facebook publisher on the Graph fake: a run
killed at every step between deciding and recording, and an answer lost after the
platform took the reply — then reruns leave exactly one reply on the platform, recorded
once in the tracker. (test_publish_faults.py plays the same steps on the in-memory
publisher, on all four platforms' kinds of failure.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from sheets_sync.testing.fake_platforms import FakeGraph
from tests.platform_fixtures import PAGE_ID
from tests.publish_worlds import make_publisher
from tests.test_publish import NOW, REPLY, World, approve
from tests.test_publish_faults import STEPS, Dying, Killed, _publish


class Dies:
    """The real publisher, with the process dying just before or just after a post."""

    def __init__(self, real, when: str | None) -> None:
        self.real, self.when = real, when
        self.platform, self.max_length, self.token_name = real.platform, real.max_length, real.token_name

    def __getattr__(self, name):
        return getattr(self.real, name)

    def post_reply(self, reply):
        if self.when == "before":
            raise Killed
        posted = self.real.post_reply(reply)
        if self.when == "after":
            raise Killed
        return posted


@pytest.fixture
def graph():
    with FakeGraph() as fake:
        fake.now = NOW
        fake.add_page(PAGE_ID, "PMC")
        fake.add_post(PAGE_ID, "P1", NOW - timedelta(hours=5), "घंटागाडी वेळापत्रक")
        fake.add_comment("P1", "C1", NOW - timedelta(hours=4), "घंटागाडी आली नाही", author=("900", "Asha"))
        yield fake


@pytest.fixture
def world(harness, roster_file, tmp_path, graph):
    world = World(harness, roster_file, tmp_path)
    world.publishers = {"facebook": make_publisher("facebook", graph, graph.publish_token, [])}
    return world


def replies_on_facebook(graph) -> list[str]:
    return [c.text for c in graph.comments if c.parent == "C1" and c.author and c.author[0] == PAGE_ID]


@pytest.mark.parametrize("step", STEPS)
def test_killed_at_every_step_then_exactly_one_reply_on_the_platform(world, graph, step):
    approve(world)
    backend = world.harness.backend()
    real = world.publishers["facebook"]
    if step in (STEPS[0], STEPS[1]):
        backend = Dying(backend, 1, after=step == STEPS[1])
    elif step in (STEPS[4], STEPS[5]):
        backend = Dying(backend, 2, after=step == STEPS[5])
    else:
        world.publishers = {"facebook": Dies(real, "before" if step == STEPS[2] else "after")}
    with pytest.raises(Killed):
        _publish(world, backend, 1)
    world.publishers = {"facebook": real}
    for minutes in (2, 13, 14):  # soon after; after the settle time; once more
        world.publish(minutes)
    assert replies_on_facebook(graph) == [REPLY]
    row = world.row("C1")
    assert row["Publish"].startswith("posted") and row["Reply id"] and row["Status"] == "Replied"


@pytest.mark.parametrize("fault", ["drop", 500])
def test_an_answer_lost_after_facebook_took_the_reply_is_found_not_sent_again(world, graph, fault):
    approve(world)
    if fault == "drop":
        graph.drop("/C1/comments", method="POST", accepted=True)
    else:
        graph.fail("/C1/comments", 500, {"error": {"message": "An unknown error occurred", "code": 1}},
                   method="POST", accepted=True)
    world.publish(1)
    assert world.row("C1")["Publish"].startswith("sending since")
    for minutes in (2, 13):
        world.publish(minutes)
    assert replies_on_facebook(graph) == [REPLY]
    assert world.row("C1")["Publish"].startswith("posted")
