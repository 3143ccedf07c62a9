"""The departments' tabs show their requests waiting for the head's approval (#15), on both
backends, below the comments; what a person types in such a row is never dropped."""

from __future__ import annotations

import pytest

from sheets_sync import jobs
from tests.content_world import NOW, Mailbox, later, tracker_for, type_in_content
from tests.helpers import comment, post, write_export
from tests.trackers import records

SWM_TAB = "Solid Waste Management"


@pytest.fixture
def world(harness, roster_file, monkeypatch, tmp_path):
    for name, value in harness.env.items():
        monkeypatch.setenv(name, value)
    tracker = tracker_for(harness, roster_file)
    box = Mailbox()
    box.deliver(subject="Swachh survey poster")
    jobs.mail(tracker, box.fetch, now=NOW)
    type_in_content(harness, "CR-0001", "Draft link", "https://drive.example/d/1")
    type_in_content(harness, "CR-0001", "Status", "Sent for approval")
    jobs.mail(tracker, box.fetch, now=later(0.5))
    folder = write_export(tmp_path / "e", [post("P1")], [comment("C1", "P1")])
    return harness, tracker, box, folder


def _tab(harness):
    return {r["Comment ID"]: r for r in records(harness.values(SWM_TAB))}


def test_a_department_tab_lists_its_requests_waiting_on_it(world):
    harness, tracker, box, folder = world
    jobs.sync(tracker, f"files:{folder}", now=later(1))
    tab = _tab(harness)
    assert list(tab) == ["C1", "CR-0001"]  # the comments first, then the requests
    row = tab["CR-0001"]
    assert row["Platform"] == "request" and row["Post"] == "Swachh survey poster"
    assert row["Link"] == "https://drive.example/d/1" and "APPROVE / मंजूर" in row["Comment"]
    assert "CR-0001" not in {r["Comment ID"] for r in records(harness.values("Comments"))}
    assert "CR-0001" not in str(harness.values("Water Supply"))
    # Approved: the row goes at the next run.
    box.deliver(sender="hod.swm@mahapalika.example", subject="Re: CR-0001", codes=("CR-0001",),
                text="Approved", received=later(2))
    jobs.mail(tracker, box.fetch, now=later(2.5))
    jobs.tabs(tracker, now=later(3))
    assert list(_tab(harness)) == ["C1"]


def test_what_a_person_types_in_a_request_row_stays(world):
    harness, tracker, box, folder = world
    jobs.sync(tracker, f"files:{folder}", now=later(1))
    harness.type_in(SWM_TAB, "Comment ID", "CR-0001", "Notes", "साहेब रजेवर आहेत, सोमवारी मंजुरी")
    box.deliver(sender="hod.swm@mahapalika.example", subject="Re: CR-0001", codes=("CR-0001",),
                text="मंजूर", received=later(2))
    jobs.mail(tracker, box.fetch, now=later(2.5))
    result = jobs.tabs(tracker, now=later(3))
    assert _tab(harness)["CR-0001"]["Notes"] == "साहेब रजेवर आहेत, सोमवारी मंजुरी"
    assert any("request CR-0001 no longer waits" in w for w in result.plan.warnings)
    harness.type_in(SWM_TAB, "Comment ID", "CR-0001", "Notes", "")
    jobs.tabs(tracker, now=later(4))
    assert list(_tab(harness)) == ["C1"]
