"""Approval on the real publishers and the four platforms' fakes, on both backends: an
approval withdrawn before the run posts nothing; a reply edited by a person during the
run — between the run's read and its writes — never goes out on the old text's tick,
and the person's edit stays. Counted on the fakes' request logs: the POSTs each comment
got. (test_publish.py plays the same on the in-memory publisher.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from sheets_sync.publishing import fingerprint
from tests.real_platforms import PLATFORMS, WRITE_PATH, Fleet, comment_id, reply_text, throttled_answer

CIDS = [comment_id(p, 0) for p in PLATFORMS]


@pytest.fixture
def fleet(harness, roster_file, tmp_path):
    fleet = Fleet(harness, roster_file, tmp_path)
    yield fleet
    fleet.close()


def no_posts(fleet) -> bool:
    return all(not fleet.posts_per_comment(p) for p in PLATFORMS)


def test_an_approval_withdrawn_before_the_run_posts_nothing(fleet):
    fleet.approve()
    for cid in CIDS:
        fleet.type(cid, "Approve", "FALSE")  # the cell changes its mind before any run saw the tick
    for minutes in (1, 2):
        fleet.publish(minutes)
    assert no_posts(fleet)
    rows = fleet.rows()
    for cid in CIDS:
        assert rows[cid]["Publish"] == "waiting for approval" and rows[cid]["Approve"] == "FALSE"
        assert rows[cid]["Reply id"] == "" and rows[cid]["Status"] == "Pending"
    for cid in CIDS:
        fleet.type(cid, "Approve", "TRUE")
    fleet.publish(3)
    fleet.publish(4)
    for i, platform in enumerate(PLATFORMS):
        assert fleet.posts_per_comment(platform) == {CIDS[i]: 1}
        assert fleet.held(platform) == {CIDS[i]: [reply_text(platform, 0)]}


def test_an_approval_withdrawn_after_it_was_recorded_posts_nothing(fleet):
    """Recorded (a run took the tick) but not sent: every platform was throttled. The cell
    unticks before the next run: nothing goes out, however many runs."""
    fleet.approve()
    reset = fleet.platform_now() + timedelta(minutes=15)
    for platform, shape in zip(PLATFORMS, ("4", "613", "quotaExceeded", "429"), strict=True):
        fleet.fakes[platform].fail(WRITE_PATH[platform], *throttled_answer(platform, shape, reset),
                                   method="POST")
    fleet.publish(1)
    rows = fleet.rows()
    for i, platform in enumerate(PLATFORMS):
        assert rows[CIDS[i]]["Publish"].startswith(("refused (throttled)", "refused (quota)")), rows[CIDS[i]]
        assert rows[CIDS[i]]["Approved"].startswith(fingerprint(reply_text(platform, 0)) + " approved")
        assert fleet.posts_per_comment(platform) == {CIDS[i]: 1} and fleet.held(platform) == {}
    for cid in CIDS:
        fleet.type(cid, "Approve", "")
    for minutes in (30, 31):
        fleet.publish(minutes)
    rows = fleet.rows()
    for i, platform in enumerate(PLATFORMS):
        assert fleet.posts_per_comment(platform) == {CIDS[i]: 1} and fleet.held(platform) == {}
        assert rows[CIDS[i]]["Publish"] == "waiting for approval", rows[CIDS[i]]


class Meanwhile:
    """A backend whose session runs ``edit`` just before its ``n``-th write."""

    def __init__(self, backend, n: int, edit) -> None:
        self.backend, self.n, self.edit = backend, n, edit
        self.location = backend.location

    def open(self, schema, *, write):
        session = self.backend.open(schema, write=write)
        real_apply, count = session.apply, [0]

        def apply(changes):
            count[0] += 1
            if count[0] == self.n:
                self.edit()
            real_apply(changes)
        session.apply = apply
        return session


EDITED = "हे उत्तर धावत्या कामात बदलले ✍️ (edited during the run)"
WINDOWS = ["between the read and the intent's write", "while the platform takes the reply",
           "after the platform took it, before the outcome's write"]


@pytest.mark.parametrize("window", WINDOWS)
def test_a_reply_edited_during_the_run_never_goes_out_on_the_old_tick(fleet, window):
    _edited_during_the_run(fleet, window, edit_kept=fleet.harness.kind == "google")


@pytest.mark.parametrize("harness", ["xlsx"], indirect=True)
@pytest.mark.parametrize("window", WINDOWS)
def test_xlsx_a_reply_edited_during_the_run_is_kept(fleet, window):
    _edited_during_the_run(fleet, window, edit_kept=True)


def _edited_during_the_run(fleet, window: str, *, edit_kept: bool) -> None:
    fleet.approve()
    edits, refused = [], []

    def person_edits(*_):
        if edits:
            return
        edits.append(window)
        try:
            for cid in CIDS:
                fleet.type(cid, "Reply", EDITED)
        except Exception as exc:  # noqa: BLE001 - Google's refusal of an edit in a locked range
            # Between the read and the first write the job holds the Comments tab locked:
            # Google shows the person "protected cell" and keeps nothing half done.
            assert "protected" in str(exc), exc
            refused.append(exc)
    backend = fleet.harness.backend()
    if window == WINDOWS[0]:
        backend = Meanwhile(backend, 1, person_edits)
    elif window == WINDOWS[2]:
        backend = Meanwhile(backend, 2, person_edits)
    else:
        fleet.graph.on("/1_c000/comments", person_edits, method="POST")
    fleet.publish(1, backend=backend)
    assert edits == [window]
    assert bool(refused) == (window == WINDOWS[0] and fleet.harness.kind == "google")
    for cid in CIDS if refused else ():
        fleet.type(cid, "Reply", EDITED)  # refused, the person types it again once the lock is gone
    fleet.graph.clear_faults()
    for minutes in (2, 13, 30):  # later runs, the Approve cell still ticked
        fleet.publish(minutes)
    rows = fleet.rows()
    for i, platform in enumerate(PLATFORMS):
        # What was approved went out, once; the edited text never did.
        assert fleet.posts_per_comment(platform) == {CIDS[i]: 1}
        assert fleet.held(platform) == {CIDS[i]: [reply_text(platform, 0)]}
        row = rows[CIDS[i]]
        assert row["Approved"].startswith(fingerprint(reply_text(platform, 0)) + " approved")
        assert row["Publish"].startswith("posted") and row["Reply id"]
        if edit_kept:
            assert row["Reply"] == EDITED  # the person's edit is kept
            assert "now differs from the reply posted" in row["Sync notes"]


def test_a_reply_edited_after_its_tick_waits_for_a_new_approval(fleet):
    fleet.approve()
    for cid in CIDS:
        fleet.type(cid, "Reply", EDITED)  # the tick was for the text shown, not this one
    fleet.publish(1)
    assert no_posts(fleet)
    rows = fleet.rows()
    for cid in CIDS:
        assert rows[cid]["Publish"] == "reply changed since it was shown for approval: approve again"
        assert rows[cid]["Approve"] == "" and rows[cid]["Reply"] == EDITED
    fleet.publish(2)  # shown now: waits for the cell's tick
    assert no_posts(fleet) and all(fleet.row(c)["Publish"] == "waiting for approval" for c in CIDS)
    for cid in CIDS:
        fleet.type(cid, "Approve", "TRUE")
    fleet.publish(3)
    fleet.publish(4)
    for i, platform in enumerate(PLATFORMS):
        assert fleet.posts_per_comment(platform) == {CIDS[i]: 1}
        assert fleet.held(platform) == {CIDS[i]: [EDITED]}
        assert fleet.row(CIDS[i])["Approved"].startswith(fingerprint(EDITED) + " approved")
