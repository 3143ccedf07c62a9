"""A row put back as it was before the run — a workbook copy opened during a publishing
run and saved after it (LibreOffice's Ctrl+S), or a person restoring the job's cells —
brings back a ticked, unsent reply that is in fact on the platform. The publishing
journal beside the run lock (sheets_sync/publishing_journal.py) remembers what was
sent: the next run records the reply from it, or looks it up on the platform, and never
posts it again. (The workbook backend re-checks neither LibreOffice's lock nor the file
at each write, which is how such a copy gets saved over the run's record.)"""

from __future__ import annotations

import openpyxl
import pytest

from tests.real_platforms import Fleet, comment_id, reply_text
from tests.test_publish_real_approval import Meanwhile

CID = comment_id("facebook", 0)
JOB_CELLS = ("Approve", "Approved", "Publish", "Reply id", "Reply link", "Status", "Replied at (IST)")


@pytest.fixture
def fleet(harness, roster_file, tmp_path):
    fleet = Fleet(harness, roster_file, tmp_path)
    yield fleet
    fleet.close()


@pytest.mark.parametrize("harness", ["xlsx"], indirect=True)
def test_a_stale_copy_saved_after_the_run_does_not_make_a_second_reply(fleet, harness):
    lock = harness.path.parent / f".~lock.{harness.path.name}#"
    fleet.approve([CID])
    copies = []

    def person_opens():
        # LibreOffice opens the workbook (its lock file appears) after the run began.
        lock.write_text("Asha,cell-pc,asha,02.12.2026 10:15,file:///home/asha/.config/libreoffice/4;",
                        encoding="utf-8")
        copies.append(openpyxl.load_workbook(harness.path))
    fleet.publish(1, backend=Meanwhile(harness.backend(), 1, person_opens))
    posted = fleet.row(CID)
    assert fleet.posts_per_comment("facebook") == {CID: 1} and posted["Publish"].startswith("posted")
    copies[0].save(harness.path)  # Ctrl+S, then the person closes LibreOffice
    lock.unlink()
    assert fleet.row(CID)["Publish"] == "waiting for approval" and fleet.row(CID)["Approve"] == "TRUE"
    seen = len(fleet.graph.requests)
    fleet.publish(2)
    assert len(fleet.graph.requests) == seen  # recorded from the journal: not even a look-up
    row = fleet.row(CID)
    assert row["Reply id"] == posted["Reply id"] and row["Publish"] == posted["Publish"]
    fleet.publish(20)
    assert fleet.posts_per_comment("facebook") == {CID: 1}
    assert fleet.held("facebook") == {CID: [reply_text("facebook", 0)]}


@pytest.mark.parametrize("outcome", ["posted", "answer lost"])
def test_a_row_put_back_as_it_was_is_settled_from_the_journal_not_posted_again(fleet, outcome):
    fleet.approve([CID])
    before = {h: fleet.row(CID)[h] for h in JOB_CELLS}
    if outcome == "answer lost":
        fleet.graph.drop(f"/{CID}/comments", method="POST", accepted=True)  # Facebook took it
    fleet.publish(1)
    assert fleet.posts_per_comment("facebook") == {CID: 1} and fleet.held("facebook")
    for header, value in before.items():  # the job's cells as they were before the run
        fleet.type(CID, header, value)
    assert fleet.row(CID)["Publish"] == "waiting for approval"
    for minutes in (2, 20, 40):
        fleet.publish(minutes)
    row = fleet.row(CID)
    assert fleet.posts_per_comment("facebook") == {CID: 1}
    assert fleet.held("facebook") == {CID: [reply_text("facebook", 0)]}
    assert row["Publish"].startswith("posted") and row["Reply id"] and row["Status"] == "Replied"
