"""One plan for a run: plan_run is pure, its Plan is made whole once, the due time is
counted by one rule, and what the backend must read itself is a change it applies."""

from __future__ import annotations

import copy
from dataclasses import FrozenInstanceError, replace

import pytest

from sheets_sync.models import Comment, Post
from sheets_sync.pending import WORDS, department_tabs
from sheets_sync.planner import Plan, TrackerView, plan_run
from sheets_sync.roster import load_roster_file
from sheets_sync.schema import load_schema
from sheets_sync.sources import FileSource
from sheets_sync.sources.base import Batch
from sheets_sync.sync import run_sync
from sheets_sync.table import AddRow, CopyCells, Record, ReplaceRows, Table, UpdateRow, with_copies
from sheets_sync.timeutil import parse_timestamp
from tests.helpers import comment, post, write_export
from tests.trackers import records

SCHEMA = load_schema()
NOW = parse_timestamp("2026-11-21T12:00:00+05:30")
SWM = "Solid Waste Management"


def at(text: str):
    return parse_timestamp(f"2026-11-{text}+05:30")


def a_post(pid: str = "P1") -> Post:
    return Post("facebook", pid, at("20T09:00:00"), "घंटागाडी #SwachhMahanagar", f"https://fb.example/{pid}")


def a_comment(cid: str, when: str = "20T10:00:00", *, parent: str = "", by_page: bool = False) -> Comment:
    return Comment("facebook", cid, "P1", parent, "सुनीता", "1001", at(when), "घंटागाडी आली नाही",
                   f"https://fb.example/P1?c={cid}", by_page)


@pytest.fixture
def roster(roster_file):
    return load_roster_file(roster_file)


def empty_view(roster, **kw) -> TrackerView:
    return TrackerView({}, {}, roster, tabs=department_tabs(SCHEMA, roster, {}), **kw)


def existing_comment(cid: str, **values) -> Record:
    """A Comments row as a run reads it: the comment's words are not among its fields."""
    row = {"platform": "facebook", "comment_id": cid, "post_id": "P1", "parent_id": "", "department": "SWM",
           "commented_at": "2026-11-20 10:00", "by_page": "", "category": "complaint",
           "due_at": "2026-11-21 10:00", "status": "Pending", "reply": "", "replied_by": "", "notes": "",
           "replied_at": "", "overdue": "2 h late", "sync_notes": ""}
    return Record(2, {**row, **values})


def test_plan_run_is_pure_and_its_plan_is_frozen(roster):
    view = TrackerView({("facebook", "P1"): Record(2, {"platform": "facebook", "post_id": "P1",
                                                        "department": "SWM", "text": "घंटागाडी"})},
                       {("facebook", "C0"): existing_comment("C0")}, roster,
                       tabs=department_tabs(SCHEMA, roster, {}))
    batches = {"files:x": Batch(posts=[a_post()], comments=[a_comment("C1"), a_comment("C2", "21T09:00:00")])}
    before = copy.deepcopy((view.posts, view.comments, batches))
    plan = plan_run(view, batches, SCHEMA, NOW)
    assert plan == plan_run(view, batches, SCHEMA, NOW)
    assert (view.posts, view.comments, batches) == before  # nothing given was changed
    with pytest.raises(FrozenInstanceError):
        plan.rows_updated = 0  # type: ignore[misc]
    assert isinstance(plan, Plan) and plan.summary()["comments_added"] == 2
    assert plan.summary()["tabs_rewritten"] == [SWM, "Water Supply", "Roads"]


def test_a_new_comment_is_added_once_with_the_due_time_of_the_one_rule(roster):
    """The department's own deadline (SWM: complaints in 12 h) is in the row as added:
    no simpler rule first, and no update of a row the same run adds."""
    schema = replace(SCHEMA, extra={**SCHEMA.extra, "deadlines": {"departments": {"SWM": {"complaint": 12}}}})
    batch = Batch(posts=[a_post()], comments=[a_comment("C1")])
    plan = plan_run(empty_view(roster), {"files:x": batch}, schema, NOW)
    [added] = [c for c in plan.changes if isinstance(c, AddRow) and c.tab == "comments"]
    assert added.values["category"] == "complaint"
    assert added.values["due_at"] == "2026-11-20 22:00"
    assert added.values["overdue"] == "14 h late · escalated"  # past twice its 12 h
    assert not [c for c in plan.changes if isinstance(c, UpdateRow) and c.tab == "comments"]


def test_a_comment_the_corporation_answered_in_the_same_export_is_added_closed(roster):
    batch = Batch(posts=[a_post()], comments=[
        a_comment("C1"), a_comment("C2", "20T11:30:00", parent="C1", by_page=True)])
    plan = plan_run(empty_view(roster), {"files:x": batch}, SCHEMA, NOW)
    rows = {c.values["comment_id"]: c.values for c in plan.changes
            if isinstance(c, AddRow) and c.tab == "comments"}
    assert rows["C1"]["status"] == "Replied" and rows["C1"]["replied_at"] == "2026-11-20 11:30"
    assert rows["C1"]["replied_by"] == "the corporation's facebook account"
    assert rows["C2"]["status"] == "Not required" and rows["C2"]["due_at"] == ""
    assert plan.overdue == [] and plan.rows_updated == 0


def test_words_not_read_are_a_change_the_backend_copies_when_it_applies(roster):
    """An open comment entering its department's tab (a new tab, a reopened comment):
    its words were not read, so the plan asks the backend to copy them."""
    tabs = department_tabs(SCHEMA, roster, {})
    swm = tabs["SWM"]
    view = replace(empty_view(roster), comments={("facebook", "C1"): existing_comment("C1")},
                   tab_tables={"SWM": Table(SWM, swm.headers)})
    plan = plan_run(view, {}, SCHEMA, NOW)
    copies = [c for c in plan.changes if isinstance(c, CopyCells)]
    assert copies == [CopyCells(swm.name, ("C1",), "comments", ("facebook", "C1"), WORDS)]
    [rewrite] = [c for c in plan.changes if isinstance(c, ReplaceRows) and c.tab == swm.name]
    assert "text" not in rewrite.rows[0]

    asked = []

    def read_rows(tab, keys, fields):
        asked.append((tab, list(keys), tuple(fields)))
        return {("facebook", "C1"): {"text": "घंटागाडी आली नाही", "author": "सुनीता", "url": "u"}}

    every_tab = {**SCHEMA.tabs, **{t.name: t for t in tabs.values()}}
    applied = with_copies(plan.changes, read_rows, every_tab.__getitem__)
    assert asked == [("comments", [("facebook", "C1")], WORDS)]
    assert not [c for c in applied if isinstance(c, CopyCells)]
    [rewrite] = [c for c in applied if isinstance(c, ReplaceRows) and c.tab == swm.name]
    assert rewrite.rows[0]["text"] == "घंटागाडी आली नाही" and rewrite.rows[0]["comment_id"] == "C1"
    assert rewrite.rows[0]["author"] == "सुनीता" and rewrite.rows[0]["synced"]


def test_a_renamed_tab_keeps_its_new_title_in_the_registry(roster):
    """The read gives each department's tab as it stands; the plan remembers its title."""
    registered = {"tab:SWM": SWM}
    tabs = department_tabs(SCHEMA, roster, {"SWM": SWM})
    renamed = {**tabs, "SWM": replace(tabs["SWM"], title="SWM तक्रारी")}
    view = replace(empty_view(roster), checkpoints=registered, tabs=renamed)
    plan = plan_run(view, {}, SCHEMA, NOW)
    [entry] = [c for c in plan.changes if isinstance(c, UpdateRow) and c.key == ("tab:SWM",)]
    assert entry.values["checkpoint"] == "SWM तक्रारी"
    assert "SWM तक्रारी" in plan.tabs_rewritten


def test_the_schema_is_configuration_a_run_never_changes():
    with pytest.raises(TypeError):
        SCHEMA.tabs["pending:SWM"] = SCHEMA.tab("comments")  # type: ignore[index]
    with pytest.raises(FrozenInstanceError):
        SCHEMA.tabs = {}  # type: ignore[misc]
    assert not hasattr(SCHEMA, "with_tabs")


@pytest.fixture
def export(tmp_path):
    return write_export(tmp_path / "export", [post("P1", "घंटागाडी #SwachhMahanagar")],
                        [comment("C1", "P1", "घंटागाडी आली नाही", at="2026-11-20T09:00:00+05:30")])


def sync(harness, folder, roster_file, **kw):
    return run_sync(harness.backend(), [FileSource(folder)], SCHEMA, roster_path=roster_file,
                    now=kw.pop("now", NOW), **kw)


def test_a_reopened_comment_asks_both_backends_for_its_words_the_same_way(harness, export, roster_file):
    sync(harness, export, roster_file)
    harness.type_in("Comments", "Comment ID", "C1", "Status", "Replied")
    sync(harness, export, roster_file)
    harness.type_in("Comments", "Comment ID", "C1", "Status", "Pending")
    planned = sync(harness, export, roster_file, dry_run=True).plan
    assert [c.key for c in planned.changes if isinstance(c, CopyCells)] == [("facebook", "C1")]
    sync(harness, export, roster_file)
    [row] = records(harness.values(SWM))
    assert row["Comment ID"] == "C1" and row["Comment"] == "घंटागाडी आली नाही" and row["Author"]


def test_a_tab_renamed_on_google_is_reported_by_the_read(request, tmp_path, export, roster_file):
    from tests.trackers import GoogleHarness

    google = GoogleHarness.make(request, tmp_path)
    sync(google, export, roster_file)
    google.person.rename_sheet(google.sid, SWM, "SWM तक्रारी")
    result = sync(google, export, roster_file)
    assert result.tabs["pending:SWM"].title == "SWM तक्रारी"
    state = {r["Source"]: r for r in records(google.values("Sync State"))}
    assert state["tab:SWM"]["Checkpoint"] == "SWM तक्रारी"
    assert "pending:SWM" not in SCHEMA.tabs
    assert sync(google, export, roster_file).plan.changes == []
