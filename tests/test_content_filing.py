"""How a message is filed (pure): approvals in English and Marathi, what is not one, quoted
parts, the settings' checks, kinds and attachments as the Content tab shows them."""

from __future__ import annotations

from datetime import date

import pytest

from sheets_sync.content import attachments_text, guess_kind, planned_date
from sheets_sync.content_filing import (
    APPROVAL,
    CHANGES,
    FOLLOW_UP,
    IGNORED,
    REQUEST,
    SUGGESTION,
    file_mail,
    is_approval,
    own_text,
)
from sheets_sync.content_settings import ContentSettings, content_settings
from sheets_sync.errors import ConfigError
from sheets_sync.mail.message import Attachment
from sheets_sync.roster import load_roster_file
from sheets_sync.schema import load_schema
from tests.content_world import HEAD, NODAL, make_mail

SETTINGS = content_settings(load_schema())


@pytest.mark.parametrize("text", ["APPROVE", "Approved.", "approved, thank you sir", "मंजूर", "मंजूर आहे",
                                  "मान्य 🙏", "CR-0042 approved", "\n\n  Approve!\n> quoted"])
def test_approvals(text):
    assert is_approval(own_text(text), SETTINGS)


@pytest.mark.parametrize("text", ["Not approved", "Approved with changes: new logo", "please change the date",
                                  "", "मंजूर नाही", "> APPROVE"])
def test_not_approvals(text):
    assert not is_approval(own_text(text), SETTINGS)


def test_own_text_stops_at_the_quote():
    assert own_text("Change the logo\n\nOn Tue, 1 Dec 2026 the cell wrote:\n> APPROVE?") == "Change the logo"
    assert own_text("लोगो बदला\n\nसोशल मीडिया कक्ष यांनी लिहिले:\n> मंजूर") == "लोगो बदला"


@pytest.fixture
def roster(roster_file):
    return load_roster_file(roster_file)


SENT = {"CR-0001": {"request": "CR-0001", "department": "SWM", "status": "Sent for approval"}}


def test_the_order_of_the_rules(roster):
    def kind(**kw):
        return file_mail(make_mail(uid=1, **kw), SENT, roster, SETTINGS).kind

    assert kind(sender=HEAD, codes=("CR-0001",), text="APPROVE") == APPROVAL
    assert kind(sender=HEAD, codes=("CR-0001",), text="Use the new photo") == CHANGES
    assert kind(sender=NODAL, codes=("CR-0001",), text="More photos attached") == FOLLOW_UP
    assert kind(sender=NODAL, codes=("CR-0001",), text="APPROVE") == IGNORED
    assert kind(sender=NODAL, subject="Re: [digest SWM 2026-11-30]", codes=("CR-0001",)) == SUGGESTION
    assert kind(sender="hod.ws@mahapalika.example", subject="Re: [digest SWM 2026-11-30]") == REQUEST
    assert kind(sender=NODAL.upper(), subject="New scheme") == REQUEST  # addresses in any case
    assert kind(sender="x@y.example", subject="New scheme") == IGNORED
    nodal = ContentSettings(nodal_may_approve=True)
    assert file_mail(make_mail(uid=1, sender=NODAL, codes=("CR-0001",), text="मंजूर"), SENT, roster,
                     nodal).kind == APPROVAL


def test_bad_settings_are_named_at_once(tmp_path):
    from sheets_sync.schema import DEFAULT_SCHEMA

    text = DEFAULT_SCHEMA.read_text(encoding="utf-8")
    text = text.replace("lead_days: 7", "lead_days: -1").replace("nodal_may_approve: false",
                                                                 "nodal_may_approve: perhaps")
    path = tmp_path / "schema.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        content_settings(load_schema(path))
    assert "lead_days must be a whole number of days, not -1" in str(info.value)
    assert "nodal_may_approve must be true or false, not 'perhaps'" in str(info.value)


def test_kinds_dates_and_attachments():
    assert guess_kind("जाहीर सूचना: पाणीपुरवठा बंद", SETTINGS) == "notice"
    assert guess_kind("Press note on the budget", SETTINGS) == "press note"
    assert guess_kind("आरोग्य शिबिर", SETTINGS) == "programme"
    assert guess_kind("Photos of the ward", SETTINGS) == "other"
    assert planned_date("05/12/2026") == (date(2026, 12, 5), "")
    assert planned_date("2026-12-05 00:00") == (date(2026, 12, 5), "")
    assert planned_date("soon")[1].startswith("Planned date 'soon' is not a date")
    assert attachments_text([Attachment("a.mp4", 40_000_000, "video/mp4", skipped="larger than 25 MB"),
                             Attachment("b.pdf", 1000, "application/pdf", "2026-12/1/b.pdf")]) == (
        "a.mp4 (38.1 MB) (not saved: larger than 25 MB)\nb.pdf (1 KB) → 2026-12/1/b.pdf")
