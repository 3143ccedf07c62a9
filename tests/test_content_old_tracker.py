"""A tracker made before parts of the content pipeline existed (#15), on both backends: its
Content tab without the columns of "Asking the department", or no Content, Mail Log and
Supervision tabs at all. The mail run adds what is missing at the end, moves none of
the columns people have and none of their data, and the new columns work at once."""

from __future__ import annotations

from datetime import date

import pytest

from sheets_sync import jobs
from sheets_sync.content_settings import ASKED
from sheets_sync.emailer import SmtpSettings
from tests.content_world import NOW, Mailbox, content_rows, later, mail_log, tracker_for, type_in_content
from tests.test_email import server  # noqa: F401 - the aiosmtpd fixture
from tests.trackers import english_header

# The columns "Asking the department" brought (the Content tab's layout before it).
NEWER = ["Asked of the department", "Department asked at (IST)", "Asked of the department (sent)",
         "Department answered at (IST)"]
NOTE = "फोटो मिळाले, डिझाइन सुरू 🎨"


@pytest.fixture
def world(harness, roster_file, monkeypatch):
    for name, value in harness.env.items():
        monkeypatch.setenv(name, value)
    return harness, tracker_for(harness, roster_file), Mailbox()


def run(tracker, box, when=NOW):
    return jobs.mail(tracker, box.fetch, now=when, send=SmtpSettings.from_env())


def drop_columns(harness, title: str, headers: list[str]) -> None:
    """The columns gone from the tab, as in a tracker made before they existed."""
    for header in headers:
        at = harness.values(title)[0].index(header)
        if harness.kind == "google":
            from tests.trackers import OWNER

            sheet_id = harness.server.spreadsheet(harness.sid).sheet_by_title(title).sheet_id
            harness.server.as_user(OWNER).batch_update(harness.sid, [{"deleteDimension": {"range": {
                "sheetId": sheet_id, "dimension": "COLUMNS", "startIndex": at, "endIndex": at + 1}}}])
        else:
            def edit(wb, at=at):
                wb[title].delete_cols(at + 1)

            harness._edit(edit)


def test_an_old_content_tab_gets_the_new_columns_at_its_end_and_keeps_everything(
        world, server):  # noqa: F811
    harness, tracker, box = world
    box.deliver(subject="Health camp in ward 5", planned=date(2026, 12, 20))
    run(tracker, box)
    type_in_content(harness, "CR-0001", "Notes", NOTE)
    type_in_content(harness, "CR-0001", "Status", "In design")
    drop_columns(harness, "Content", NEWER)
    old = harness.values("Content")
    assert not set(NEWER) & set(old[0])
    run(tracker, box, later(0.5))
    new = harness.values("Content")
    width = len([h for h in old[0] if h])
    assert new[0][:width] == old[0][:width]  # no column moved
    assert set(new[0][width:]) == set(NEWER)  # the missing ones, at the end
    assert [row[:width] for row in new[1:]] == [row[:width] for row in old[1:]]  # no data moved
    row = content_rows(harness)["CR-0001"]
    assert row["Notes"] == NOTE and row["Status"] == "In design" and row["Subject"] == "Health camp in ward 5"
    # The new columns work at once: the cell asks the department.
    type_in_content(harness, "CR-0001", "Asked of the department", "the ward number?")
    type_in_content(harness, "CR-0001", "Status", ASKED)
    server.messages.clear()
    run(tracker, box, later(1))
    assert content_rows(harness)["CR-0001"]["Department asked at (IST)"] == "2026-12-01 11:00"
    assert any(b"CR-0001" in content for _, _, content in server.messages)
    run(tracker, box, later(1.5))
    assert harness.values("Content")[0] == new[0]  # and the next run changes no layout


def test_a_tracker_without_the_pipelines_tabs_gets_them(world, server):  # noqa: F811
    harness, tracker, box = world
    for title in ("Content", "Mail Log", "Supervision"):
        harness.delete_tab(title)
    comments = harness.values("Comments")
    box.deliver(subject="Tender notice", planned=date(2026, 12, 20))
    run(tracker, box)
    assert {"Content", "Mail Log", "Supervision"} <= set(harness.tab_titles())
    assert list(content_rows(harness)) == ["CR-0001"]
    assert [r["Filed as"] for r in mail_log(harness)] == ["request CR-0001"]
    head = [english_header(h) for h in harness.values("Content")[0]]
    assert set(NEWER) <= set(head)
    assert harness.values("Comments") == comments
