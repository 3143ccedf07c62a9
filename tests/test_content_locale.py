"""The Content tab's Planned date on Google (#15), whatever the spreadsheet's locale.

A spreadsheet made by a service account is en_US (recorded traffic): Google reads a date
a person types month first (05/12/2026 is 12 May) and shows it M/d/yyyy, while the job
read every date day first. The job now sets a month-first locale to en_IN (dates typed
and shown day first, as India writes them), in the request that sets the time zone, and
reads the dates shown before that lands month first, as Google understood them.

A person types here with USER_ENTERED, as in the browser; the fake's dates are
modelled from Google's documentation (sheets_sync/testing/fake_sheets_dates.py).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from sheets_sync import jobs
from sheets_sync.content import planned_date
from sheets_sync.schema import load_schema
from tests.content_world import Mailbox, content_rows, later, tracker_for, type_in_content
from tests.helpers import comment, post, write_export
from tests.test_google_backend import api_calls, export_of, sync
from tests.trackers import OWNER, GoogleHarness, XlsxHarness, _letter, _q, english_header, records

LOCALE_FIXED = ("set the spreadsheet's locale to en_IN (it was en_US), so a date typed 05/12/2026 "
                "means 5 December")


@pytest.fixture
def google(request, tmp_path):
    return GoogleHarness.make(request, tmp_path)


@pytest.fixture
def world(google, roster_file, monkeypatch):
    """An en_US tracker (made before the job set its locale, or set back by a person) with
    one request, CR-0001, received on 1 December 2026 with no planned date."""
    for name, value in google.env.items():
        monkeypatch.setenv(name, value)
    tracker = tracker_for(google, roster_file)
    box = Mailbox()
    box.deliver(subject="Health camp in ward 5")
    run(tracker, box)
    set_locale(google, "en_US")
    return google, tracker, box


def run(tracker, box, when=None, **kw):
    return jobs.mail(tracker, box.fetch, now=when or later(0), send=None, **kw)


def set_locale(google, locale: str) -> None:
    """File > Settings > Locale, by the spreadsheet's owner."""
    google.server.as_user(OWNER).batch_update(google.sid, [{"updateSpreadsheetProperties": {
        "properties": {"locale": locale}, "fields": "locale"}}])


def locale(google) -> str:
    return google.server.spreadsheet(google.sid).properties["locale"]


def planned_cell(google, code: str) -> str:
    rows = google.values("Content")
    col = rows[0].index("Planned date")
    row = next(i for i, r in enumerate(rows) if r[rows[0].index("Request")] == code)
    return f"{_q('Content')}!{_letter(col)}{row + 1}"


def type_planned(google, code: str, typed: str) -> None:
    """A person types the Planned date in the browser: Google parses it (USER_ENTERED)."""
    google.person.edit(google.sid, planned_cell(google, code), [[typed]])


def property_updates(google) -> list[dict]:
    """The updateSpreadsheetProperties the job sends from now on (a list that grows)."""
    seen: list[dict] = []

    def hook(info, phase):
        if phase == "before" and info.identity != OWNER and isinstance(info.body, dict):
            seen.extend(r["updateSpreadsheetProperties"] for r in info.body.get("requests", [])
                        if "updateSpreadsheetProperties" in r)

    google.server.on_request(hook)
    return seen


def held(google, code: str) -> date:
    """The date the cell holds (its serial), whatever it shows."""
    value = google.server.get_values(google.sid, planned_cell(google, code), "UNFORMATTED_VALUE")[0][0]
    return date(1899, 12, 30) + timedelta(days=value)


def test_an_iso_date_typed_on_an_en_us_tracker_is_read_right_and_the_locale_set_to_en_in(world):
    google, tracker, box = world
    type_planned(google, "CR-0001", "2026-12-05")
    result = run(tracker, box, later(1))
    row = content_rows(google)["CR-0001"]
    assert row["Planned date"] == "2026-12-05"  # a date, shown as typed (recorded traffic)
    assert row["Lead time (days)"] == "4" and row["Late"] == "late: 4 of 7 days"
    assert any(n.startswith("CR-0001: late (4 day(s)") for n in result.plan.notes)
    assert locale(google) == "en_IN" and LOCALE_FIXED in result.structure


def test_after_the_repair_05_12_2026_typed_means_5_december(world):
    google, tracker, box = world
    run(tracker, box, later(1))
    assert locale(google) == "en_IN"
    type_planned(google, "CR-0001", "05/12/2026")
    assert held(google, "CR-0001") == date(2026, 12, 5)
    run(tracker, box, later(2))
    row = content_rows(google)["CR-0001"]
    assert row["Planned date"] == "05/12/2026" and row["Lead time (days)"] == "4"
    assert row["Sync notes"] == ""


def test_a_date_typed_before_the_repair_is_read_as_google_understood_it_in_the_run_that_repairs(world):
    google, tracker, box = world
    type_planned(google, "CR-0001", "12/11/2026")  # en_US: 11 December, shown 12/11/2026
    assert held(google, "CR-0001") == date(2026, 12, 11)
    # A dry run reads it as shown (en_US, nothing repaired): month first.
    dry = run(tracker, box, later(1), dry_run=True)
    assert dry.plan.requests["CR-0001"]["lead_days"] == "10" and dry.plan.requests["CR-0001"]["late"] == ""
    assert locale(google) == "en_US"
    result = run(tracker, box, later(1))
    row = content_rows(google)["CR-0001"]
    # Ten days' notice: not late (read day first it was 12 November, "late", and the
    # department was told so).
    assert row["Lead time (days)"] == "10" and row["Late"] == ""
    assert not any("late" in n for n in result.plan.notes)
    assert row["Planned date"] == "11/12/2026" and locale(google) == "en_IN"
    type_planned(google, "CR-0001", "12/5/2026")  # in en_IN: 12 May, long past
    assert held(google, "CR-0001") == date(2026, 5, 12)


def test_the_read_before_the_repair_lands_says_its_dates_are_month_first(world):
    # A sync's order: the lock and the read first, the repairs right after (one request).
    google, _, _ = world
    type_planned(google, "CR-0001", "12/5/2026")
    with google.backend().open(load_schema(), write=True) as session:
        session.lock(["content"])
        assert session.ensure_structure(only=["content"]) == []  # done after the read
        read = session.read(["content"])
        assert LOCALE_FIXED in read.repaired
        assert read["content"].dates_month_first
        (rec,) = read["content"].records(session.tab("content"))
        assert rec.get("planned_date") == "12/5/2026"
        assert not session.read(["content"])["content"].dates_month_first  # read again: en_IN
    assert locale(google) == "en_IN"


def test_a_locale_set_back_to_en_us_is_read_right_and_repaired_again(world):
    google, tracker, box = world
    run(tracker, box, later(1))
    type_planned(google, "CR-0001", "05/12/2026")
    set_locale(google, "en_US")
    assert content_rows(google)["CR-0001"]["Planned date"] == "12/5/2026"
    dry = run(tracker, box, later(2), dry_run=True)
    assert dry.plan.requests["CR-0001"]["lead_days"] == "4"
    result = run(tracker, box, later(2))
    assert LOCALE_FIXED in result.structure and locale(google) == "en_IN"
    row = content_rows(google)["CR-0001"]
    assert row["Planned date"] == "05/12/2026" and row["Lead time (days)"] == "4"


@pytest.mark.parametrize("chosen", ["en_GB", "hi_IN"])
def test_a_locale_that_is_not_month_first_is_left_alone(world, chosen):
    google, tracker, box = world
    set_locale(google, chosen)
    if chosen == "en_GB":
        type_planned(google, "CR-0001", "05/12/2026")
        assert held(google, "CR-0001") == date(2026, 12, 5)
    result = run(tracker, box, later(1))
    assert locale(google) == chosen
    assert not any("locale" in line for line in result.structure)
    if chosen == "en_GB":
        assert content_rows(google)["CR-0001"]["Lead time (days)"] == "4"


def test_a_run_with_nothing_to_repair_makes_no_request_for_it(world):
    google, tracker, box = world
    run(tracker, box, later(1))  # repairs
    google.server.clear_requests()
    run(tracker, box, later(2))
    steady = api_calls(google.server)
    set_locale(google, "en_US")
    updates = property_updates(google)
    google.server.clear_requests()
    run(tracker, box, later(3))
    assert len(api_calls(google.server)) == len(steady) + 1  # the repair, alone before the read
    assert updates == [{"properties": {"locale": "en_IN"}, "fields": "locale"}]
    google.server.clear_requests()
    run(tracker, box, later(4))
    assert api_calls(google.server) == steady and len(updates) == 1


def test_a_sync_sets_the_time_zone_and_the_locale_in_one_request(google, roster_file, tmp_path):
    sync(google, export_of(tmp_path / "a", 3), roster_file)
    assert locale(google) == "en_IN"
    google.server.clear_requests()
    sync(google, export_of(tmp_path / "b", 3, start=10), roster_file)
    assert len(api_calls(google.server)) == 3  # both read with request 1: nothing more
    google.server.as_user(OWNER).batch_update(google.sid, [{"updateSpreadsheetProperties": {
        "properties": {"timeZone": "Etc/GMT", "locale": "en_US"}, "fields": "timeZone,locale"}}])
    updates = property_updates(google)
    google.server.clear_requests()
    result = sync(google, export_of(tmp_path / "c", 3, start=20), roster_file)
    assert len(api_calls(google.server)) == 4  # one request more, for both
    assert updates == [{"properties": {"timeZone": "Asia/Kolkata", "locale": "en_IN"},
                        "fields": "timeZone,locale"}]
    assert LOCALE_FIXED in result.summary()["structure"]
    properties = google.server.spreadsheet(google.sid).properties
    assert (properties["timeZone"], properties["locale"]) == ("Asia/Kolkata", "en_IN")


def test_a_date_in_words_typed_in_planned_date_is_read(world):
    google, tracker, box = world
    run(tracker, box, later(1))
    type_planned(google, "CR-0001", "दि. ११ डिसेंबर २०२६")  # text to Google: Marathi month names
    run(tracker, box, later(2))
    row = content_rows(google)["CR-0001"]
    assert row["Lead time (days)"] == "10" and row["Sync notes"] == ""


def test_planned_dates_as_the_cell_shows_them():
    assert planned_date("12/5/2026") == (date(2026, 5, 12), "")
    assert planned_date("12/5/2026", month_first=True) == (date(2026, 12, 5), "")
    assert planned_date("13/12/2026", month_first=True) == (date(2026, 12, 13), "")  # text to Google
    assert planned_date("2026-12-05", month_first=True) == (date(2026, 12, 5), "")
    assert planned_date("5 Dec 2026") == (date(2026, 12, 5), "")
    assert planned_date("5th December, 2026", month_first=True) == (date(2026, 12, 5), "")
    assert planned_date("दि. ५ डिसेंबर २०२६") == (date(2026, 12, 5), "")
    assert planned_date("2026-12-05 00:00") == (date(2026, 12, 5), "")  # a workbook's date cell
    for typed in ("next week", "5 or 6 Dec 2026", "31/02/2026"):
        date_read, note = planned_date(typed, month_first=True)
        assert date_read is None and note == (f"Planned date {typed!r} is not a date: type it as "
                                              "YYYY-MM-DD (2026-12-05)")


def test_a_date_cell_typed_in_a_workbook_is_read_as_that_date(tmp_path, roster_file):
    # A workbook has no locale to repair: LibreOffice or Excel stores a date typed as a real
    # date cell (whatever it shows), which the workbook backend reads as 2026-12-11 00:00.
    harness = XlsxHarness(tmp_path)
    tracker = tracker_for(harness, roster_file)
    box = Mailbox()
    box.deliver(subject="Health camp in ward 5")
    run(tracker, box)

    def type_date(wb):
        ws = wb["Content"]
        col = [english_header(c.value) for c in ws[1]].index("Planned date") + 1
        ws.cell(2, col).value = datetime(2026, 12, 11)
        ws.cell(2, col).number_format = "DD/MM/YYYY"

    harness._edit(type_date)
    run(tracker, box, later(1))
    row = content_rows(harness)["CR-0001"]
    assert row["Planned date"] == "2026-12-11 00:00"
    assert row["Lead time (days)"] == "10" and row["Late"] == "" and row["Sync notes"] == ""


def test_a_department_tab_shows_a_planned_date_read_month_first_as_yyyy_mm_dd(world, tmp_path):
    """A sync reads, then sets the locale: the department's tab must not copy 12/11/2026 as
    shown in en_US, which its red rule would read as 12 November once the locale is en_IN."""
    google, tracker, _ = world
    type_planned(google, "CR-0001", "12/11/2026")  # en_US: 11 December
    type_in_content(google, "CR-0001", "Draft link", "https://drive.example/d/1")
    type_in_content(google, "CR-0001", "Status", "Sent for approval")
    folder = write_export(tmp_path / "e", [post("P1")], [comment("C1", "P1")])
    jobs.sync(tracker, f"files:{folder}", now=later(1))
    assert locale(google) == "en_IN"
    row = {r["Comment ID"]: r for r in records(google.values("Solid Waste Management"))}["CR-0001"]
    assert row["Reply due (IST)"] == "2026-12-11"
