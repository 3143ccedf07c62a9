"""Planned publication dates in Marathi, Hindi and English, and request codes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sheets_sync.mail.dates import _MONTHS, codes, find_dates, planned_date

RECEIVED = date(2026, 11, 20)
DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")


@pytest.mark.parametrize("text", [
    "दि. ५ डिसेंबर २०२६",
    "५ डिसेंबर २०२६",
    "5 Dec 2026",
    "5 December 2026",
    "5th December, 2026",
    "5 dec. 2026",
    "December 5, 2026",
    "05/12/2026",
    "5/12/2026",
    "05.12.2026",
    "05-12-26",
    "2026-12-05",
    "०५/१२/२०२६",
    "दिनांक 5 दिसंबर 2026",
    "५डिसेंबर२०२६",
    "५/१२/२०२६पर्यंत",
])
def test_each_way_of_writing_the_fifth_of_december(text):
    assert planned_date("", f"कृपया {text} पर्यंत", received=RECEIVED) == date(2026, 12, 5)
    assert planned_date(text, "", received=RECEIVED) == date(2026, 12, 5)


def test_not_dates():
    assert find_dates("31/02/2026, 2026-13-01, call 020-2550-1234, version 1.2.3, 12/2026") == []
    assert find_dates("मे महिन्यात") == []  # "मे" alone is May only beside a day and a year


def test_a_day_and_month_without_a_year():
    assert planned_date("", "दि. ५ डिसेंबर रोजी प्रसिद्ध करावे", received=RECEIVED) == date(2026, 12, 5)
    assert planned_date("", "कार्यक्रम ५ डिसेंबरला आहे", received=RECEIVED) == date(2026, 12, 5)
    assert planned_date("", "the camp on 5th January", received=RECEIVED) == date(2027, 1, 5)
    assert planned_date("", "Please publish on 5 May.", received=RECEIVED) == date(2027, 5, 5)
    # Recently past, with a cue: this year's (late); without one: no plan.
    assert planned_date("", "प्रसिद्धी १५ नोव्हेंबर", received=RECEIVED) == date(2026, 11, 15)
    assert planned_date("", "letter of 15 November", received=RECEIVED) is None
    # No 29 February in 2026 or 2027, the years a year-less date can be in: no date.
    assert planned_date("", "publish on 29 February", received=RECEIVED) is None
    assert planned_date("", "publish on 29 February", received=date(2027, 11, 1)) == date(2028, 2, 29)
    for words in ("5 may attend", "५ में दिखाया", "5 decorations", "12 marchers"):
        assert find_dates(words, received=RECEIVED) == [], words
    assert find_dates("५ डिसेंबर") == []  # no day to say which year


def test_a_publication_cue_wins_over_an_earlier_date():
    text = ("Our letter dated 18/11/2026. The camp starts on 2 December 2026.\n"
            "Please publish it on 28 November 2026.")
    assert planned_date("", text, received=RECEIVED) == date(2026, 11, 28)
    marathi = "शिबिर दि. २ डिसेंबर २०२६ रोजी. प्रसिद्धी दि. २८ नोव्हेंबर २०२६."
    assert planned_date("", marathi, received=RECEIVED) == date(2026, 11, 28)


def test_an_event_cue_wins_over_a_plain_date():
    text = "Meeting held 25/11/2026 about it. Programme on 3 Dec 2026."
    assert planned_date("", text, received=RECEIVED) == date(2026, 12, 3)


def test_without_a_cue_the_first_date_not_before_the_message():
    text = "Letter no. 12 dated 18/11/2026; the van visits ward 4 on 25/11/2026 and ward 9 on 27/11/2026."
    assert planned_date("", text, received=RECEIVED) == date(2026, 11, 25)
    assert planned_date("", "dated 18/11/2026", received=RECEIVED) is None
    # A stated publication date in the past still is the plan (and it is late).
    assert planned_date("", "publish on 18/11/2026", received=RECEIVED) == date(2026, 11, 18)


def test_never_a_date_from_the_quoted_or_forwarded_part():
    reply = ("Thanks, will do.\n\nOn Fri, 20 Nov 2026, cell@x wrote:\n> publish on 5 Dec 2026\n")
    assert planned_date("Re: posts", reply, received=RECEIVED) is None
    forward = "कृपया पहा.\n\n---------- Forwarded message ---------\nFrom: x\n\nप्रसिद्धी ५ डिसेंबर २०२६"
    assert planned_date("", forward, received=RECEIVED) is None
    marathi_reply = "ठीक आहे.\n\nशुक्र, २० नोव्हें, २०२६ रोजी ६:०० PM ला Cell <c@x> यांनी लिहिले:\n५/१२/२०२६"
    assert planned_date("", marathi_reply, received=RECEIVED) is None
    outlook = "OK\n\nFrom: Cell <c@x>\nSent: Friday\nSubject: x\n\npublish on 5 Dec 2026"
    assert planned_date("", outlook, received=RECEIVED) is None


def test_codes_in_order_once_each():
    assert codes("Re: Approval needed: CR-0042", "मंजूर cr-0042 and CR-0107; not CR-12 nor XCR-0001,"
                 " nor CR-00421x") == ("CR-0042", "CR-0107")
    assert codes("CR-१२३४", "") == ("CR-1234",)


_NAMES = [(m, name) for m, names in _MONTHS.items() for name in names]


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
       st.sampled_from(_NAMES), st.booleans(), st.sampled_from(["", "दि. ", "on ", "\n"]))
def test_any_date_written_with_a_month_name_reads_back(when, month_name, devanagari, before):
    month, name = month_name
    when = when.replace(day=min(when.day, 28), month=month)
    text = f"{before}{when.day} {name} {when.year} रोजी"
    if devanagari:
        text = text.translate(DEVANAGARI)
    assert [f.when for f in find_dates(text)] == [when]


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
       st.sampled_from(["{d:02d}/{m:02d}/{y}", "{d}.{m}.{y}", "{y}-{m:02d}-{d:02d}", "{d}-{m}-{y}"]),
       st.text(alphabet=st.sampled_from(" ,.;:()नमस्कार"), max_size=5))
def test_any_numeric_date_reads_back_day_first(when, form, around):
    text = around + form.format(d=when.day, m=when.month, y=when.year) + around
    assert [f.when for f in find_dates(text)] == [when]


@given(st.text(max_size=200))
def test_any_text_gives_valid_dates_or_none(text):
    for found in find_dates(text):
        assert isinstance(found.when, date)
    result = planned_date(text, text, received=RECEIVED)
    assert result is None or result - RECEIVED > timedelta(days=-40_000)
