"""Thanks only, emoji only and obvious spam are seeded "Not required" when they are added,
by the schema's ``no_reply:`` rules; the Sync notes say why; a Status people change is theirs."""

from __future__ import annotations

import pytest

from sheets_sync.errors import ConfigError
from sheets_sync.no_reply import no_reply_rules
from sheets_sync.schema import load_schema
from sheets_sync.sources import FileSource
from sheets_sync.sync import run_sync
from sheets_sync.timeutil import parse_timestamp
from tests.helpers import comment, post, write_export
from tests.trackers import records

SCHEMA = load_schema()
RULES = no_reply_rules(SCHEMA)


@pytest.mark.parametrize("text", [
    "धन्यवाद साहेब 🙏", "खूप खूप आभार!", "मनःपूर्वक धन्यवाद 🙏🙏", "Thank you so much sir!!", "Thanks 👍",
    "THANKS A LOT TEAM", "बहुत बहुत धन्यवाद जी", "शुक्रिया", "Dhanyavad sir",
])
def test_thanks_only(text):
    assert RULES.reason(text) == "thanks only"


@pytest.mark.parametrize("text", [
    "Thanks, but the water is still not here", "धन्यवाद, पण घंटागाडी अजून आली नाही",
    "धन्यवाद! कचरा कधी उचलणार?", "शुक्रिया, लेकिन पानी नहीं आया", "thanks for nothing",
    "Thank you. Pothole on FC road is back", "धन्यवाद 🙏 खड्डे बुजवा",
])
def test_a_complaint_that_starts_with_thanks_needs_a_reply(text):
    assert RULES.reason(text) == ""


@pytest.mark.parametrize("text, expected", [
    ("😍😍👍", "emoji only"), ("🙏", "emoji only"), ("👏👏👏 !!", "emoji only"),
    ("???", ""), ("🤔?", ""), ("", ""), ("   ", ""), ("100 👍", ""), ("😡 कचरा", ""),
])
def test_emoji_only(text, expected):
    assert RULES.reason(text) == expected


@pytest.mark.parametrize("text, word", [
    ("Earn ₹5000 per day from home!! http://bit.ly/xyz", "earn"),
    ("Get your REFUND now: www.fast-refund.top", "refund"),
    ("घरबसल्या रोज कमवा 👉 https://kamva.xyz/join", "कमवा"),
    ("निवेश करें, दोगुना पाएं t.me/paisa123", "निवेश"),
    ("Best crypto investment wa.me/919999999999", "investment"),
])
def test_spam_is_a_link_and_a_spam_word(text, word):
    assert RULES.reason(text) == f"looks like spam ({word!r} and a link)"


@pytest.mark.parametrize("text", [
    "My property tax refund is not received for 3 months",  # no link
    "Please investigate the garbage dump http://photos.example.com/1",  # no spam word
    "Refund of water bill not credited, applied on https://mahapalika.example/tax/123",  # the corporation's
    "Refund not received, see www.maharashtra.gov.in",  # the government's site
])
def test_a_complaint_is_not_spam(text):
    assert RULES.reason(text) == ""


def test_rules_are_checked_with_their_lines(tmp_path):
    text = SCHEMA.path.read_text(encoding="utf-8")
    text = text[: text.index("\nno_reply:")] + (
        "\nno_reply:\n  status: Pending\n  emoji_only: sometimes\n  thanks_words: thanks\n"
        "  spam: {words: [earn], with_lnk: true}\n  sarcasm: true\n")
    path = tmp_path / "schema.yaml"
    path.write_text(text, encoding="utf-8")
    first = text.count("\n", 0, text.index("\nno_reply:")) + 2
    with pytest.raises(ConfigError) as err:
        no_reply_rules(load_schema(path))
    message = str(err.value)
    assert "5 problems in no_reply" in message
    assert (f"schema.yaml:{first + 1}: status 'Pending' must be one of the schema's statuses with "
            "open: false") in message
    assert f"schema.yaml:{first + 2}: emoji_only must be true or false" in message
    assert f"schema.yaml:{first + 3}: thanks_words must be a list of words" in message
    assert f"schema.yaml:{first + 4}: unknown setting 'with_lnk' under spam" in message
    assert f"schema.yaml:{first + 5}: unknown setting 'sarcasm' under no_reply" in message


def test_no_section_no_seeding(tmp_path):
    text = SCHEMA.path.read_text(encoding="utf-8")
    path = tmp_path / "schema.yaml"
    path.write_text(text[: text.index("\nno_reply:")] + "\n", encoding="utf-8")
    assert no_reply_rules(load_schema(path)).reason("धन्यवाद") == ""


# --- in the tracker, both backends --------------------------------------------------------------

NOW = parse_timestamp("2026-11-21T12:00:00+05:30")
SWM = "Solid Waste Management"


def test_seeded_not_required_with_a_note_and_then_the_status_is_peoples(harness, tmp_path, roster_file):
    folder = write_export(tmp_path / "export", [post("P1")], [
        comment("C1", "P1", "धन्यवाद साहेब 🙏", at="2026-11-18T10:00:00+05:30"),  # a remark: 72 h
        comment("C2", "P1", "Thanks, but the garbage is still not collected", at="2026-11-19T10:00:00+05:30"),
        comment("C3", "P1", "😍😍", at="2026-11-19T10:00:00+05:30"),
        comment("C4", "P1", "Earn 5000 daily http://bit.ly/abc", at="2026-11-19T10:00:00+05:30"),
        comment("C5", "P1", "धन्यवाद 🙏", parent="C2", by_page=True, at="2026-11-19T11:00:00+05:30"),
    ])
    run_sync(harness.backend(), [FileSource(folder)], SCHEMA, roster_path=roster_file, now=NOW)
    master = {r["Comment ID"]: r for r in records(harness.values("Comments"))}
    assert master["C1"]["Status"] == "Not required"
    assert master["C1"]["Sync notes"] == "Not required: thanks only"
    assert master["C3"]["Status"] == "Not required"
    assert master["C3"]["Sync notes"] == "Not required: emoji only"
    assert master["C4"]["Status"] == "Not required"
    assert master["C4"]["Sync notes"] == "Not required: looks like spam ('earn' and a link)"
    assert master["C1"]["Comment"] == "धन्यवाद साहेब 🙏" and master["C3"]["Comment"] == "😍😍"
    assert master["C2"]["Status"] == "Replied"  # the corporation's reply C5 closed it, as before
    assert master["C5"]["Sync notes"] == ""  # the corporation's own: Not required, as always
    for cid in ("C1", "C3", "C4"):
        assert master[cid]["Overdue"] == ""  # 50 h after: would be overdue if it needed a reply
    assert [r["Comment ID"] for r in records(harness.values(SWM))] == [""]  # nothing pending

    # A person decides C1 needs a reply after all: the job never puts "Not required" back.
    harness.type_in("Comments", "Comment ID", "C1", "Status", "Pending")
    later = parse_timestamp("2026-11-21T13:00:00+05:30")
    run_sync(harness.backend(), [FileSource(folder)], SCHEMA, roster_path=roster_file, now=later)
    master = {r["Comment ID"]: r for r in records(harness.values("Comments"))}
    assert master["C1"]["Status"] == "Pending" and master["C1"]["Overdue"] == "3 h late"
    assert [r["Comment ID"] for r in records(harness.values(SWM))] == ["C1"]
