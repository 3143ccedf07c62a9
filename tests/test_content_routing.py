"""Routing by request (#15), on both backends: a post the cell published for a request (its
Content row's Post ID or Post link) and its comments go to the request's department,
whatever the routing rules say; a post a person already gave a department keeps it."""

from __future__ import annotations

import pytest

from sheets_sync import jobs
from tests.content_world import NOW, Mailbox, later, tracker_for, type_in_content
from tests.helpers import comment, post, write_export
from tests.trackers import records


@pytest.fixture
def world(harness, roster_file, monkeypatch, tmp_path):
    for name, value in harness.env.items():
        monkeypatch.setenv(name, value)
    tracker = tracker_for(harness, roster_file)
    box = Mailbox()
    box.deliver(subject="Swachh survey")  # from SWM's nodal officer: CR-0001, SWM
    jobs.mail(tracker, box.fetch, now=NOW)
    return harness, tracker, tmp_path, box


def _posts(harness):
    return {r["Post ID"]: r for r in records(harness.values("Posts"))}


def test_a_post_published_for_a_request_goes_to_its_department(world):
    harness, tracker, tmp_path, box = world
    type_in_content(harness, "CR-0001", "Post ID", "P9")
    # Its words say Water Supply; the request says SWM.
    folder = write_export(tmp_path / "e1", [post("P9", "New water supply pipeline #PaniPuravatha")],
                          [comment("C1", "P9", "कधी सुरू होणार?")])
    jobs.sync(tracker, f"files:{folder}", now=later(1))
    posts = _posts(harness)
    assert (posts["P9"]["Department"], posts["P9"]["Routed by"]) == ("SWM", "request CR-0001")
    assert {r["Comment ID"]: r["Department"] for r in records(harness.values("Comments"))} == {"C1": "SWM"}


def test_a_post_already_in_the_tracker(world):
    harness, tracker, tmp_path, box = world
    folder = write_export(tmp_path / "e1", [post("P7", "कार्यक्रमाची माहिती"), post("P8", "pipeline work")],
                          [comment("C7", "P7", "छान"), comment("C8", "P8", "छान")])
    jobs.sync(tracker, f"files:{folder}", now=later(1))
    assert _posts(harness)["P7"]["Department"] == "Unassigned" and _posts(harness)["P8"]["Department"] == "WS"
    box.deliver(subject="Second request")  # CR-0002
    jobs.mail(tracker, box.fetch, now=later(1.5))
    type_in_content(harness, "CR-0001", "Post link", "https://www.facebook.com/mahanagar/posts/P7")
    type_in_content(harness, "CR-0002", "Post ID", "P8")
    result = jobs.sync(tracker, f"files:{tmp_path / 'e1'}", now=later(2))
    posts = _posts(harness)
    assert (posts["P7"]["Department"], posts["P7"]["Routed by"]) == ("SWM", "request CR-0001")
    assert posts["P8"]["Department"] == "WS"  # a department given already stays; the cell is told
    assert any("post P8 is request CR-0002's, of SWM, but its Department is 'WS'" in w
               for w in result.plan.warnings)
    assert {r["Comment ID"]: r["Department"] for r in records(harness.values("Comments"))} == {
        "C7": "SWM", "C8": "WS"}
