"""The cell asks a department itself for changes or more material (#15, "changes asked by the
cell"), on both backends: status Asked of department e-mails what is asked once (also when a
run dies between its write and sending), the department's tab shows it, and the department's
answer quoting the code puts the request back to Received for the cell."""

from __future__ import annotations

import email
from email import policy

import pytest

from sheets_sync import jobs
from sheets_sync.content_settings import ASKED, STATUSES, content_settings
from sheets_sync.emailer import SmtpSettings
from sheets_sync.schema import load_schema
from tests.content_world import NODAL, NOW, Mailbox, content_rows, later, tracker_for, type_in_content
from tests.test_email import server  # noqa: F401 - the aiosmtpd fixture
from tests.trackers import records

SWM_TAB = "Solid Waste Management"
ASK = "फोटो <b>मोठ्या</b> आकारात पाठवा & the ward number"


@pytest.fixture
def world(harness, roster_file, monkeypatch, server):  # noqa: F811
    for name, value in harness.env.items():
        monkeypatch.setenv(name, value)
    tracker = tracker_for(harness, roster_file)
    box = Mailbox()
    box.deliver(subject="Swachh survey poster")
    jobs.mail(tracker, box.fetch, now=NOW, send=SmtpSettings.from_env())
    return harness, tracker, box


def _send():
    return SmtpSettings.from_env()


def _asks(server):  # noqa: F811
    out = []
    for _, rcpts, content in server.messages:
        msg = email.message_from_bytes(content, policy=policy.default)
        if "The cell asks" in str(msg["Subject"]):
            out.append((rcpts[0], msg.get_body(preferencelist=("plain",)).get_content(),
                        msg.get_body(preferencelist=("html",)).get_content()))
    return out


def _tab(harness):
    return {r["Comment ID"]: r for r in records(harness.values(SWM_TAB))}


def test_the_ask_is_mailed_once_shown_in_the_tab_and_the_answer_puts_it_back(world, server):  # noqa: F811
    harness, tracker, box = world
    type_in_content(harness, "CR-0001", "Asked of the department", ASK)
    type_in_content(harness, "CR-0001", "Status", ASKED)
    jobs.mail(tracker, box.fetch, now=later(0.5), send=_send())
    asks = _asks(server)  # one message per address
    assert sorted(to for to, _, _ in asks) == ["hod.swm@mahapalika.example", NODAL]
    _, plain, html = asks[0]
    assert ASK in plain and "CR-0001" in plain
    assert "<b>मोठ्या</b>" not in html and "&lt;b&gt;मोठ्या&lt;/b&gt;" in html  # escaped
    row = content_rows(harness)["CR-0001"]
    assert row["Department asked at (IST)"] and row["Status"] == ASKED
    jobs.mail(tracker, box.fetch, now=later(1), send=_send())
    assert len(_asks(server)) == 2  # once per ask and address
    jobs.tabs(tracker, now=later(1.5))
    tab = _tab(harness)["CR-0001"]
    assert "The cell asks the department" in tab["Comment"] and ASK in tab["Comment"]
    assert "कक्ष विभागाकडे मागत" in tab["Comment"]
    box.deliver(subject="Re: CR-0001", codes=("CR-0001",), text="फोटो जोडले आहेत, प्रभाग ५",
                received=later(2))
    jobs.mail(tracker, box.fetch, now=later(2.5), send=_send())
    row = content_rows(harness)["CR-0001"]
    assert row["Status"] == "Received" and row["Department answered at (IST)"]
    assert "फोटो जोडले आहेत, प्रभाग ५" in row["Later e-mails"]
    jobs.tabs(tracker, now=later(3))
    assert "CR-0001" not in _tab(harness)
    # Asked again, the same words: a new ask, mailed once more.
    type_in_content(harness, "CR-0001", "Status", ASKED)
    jobs.mail(tracker, box.fetch, now=later(4), send=_send())
    assert len(_asks(server)) == 4


def test_a_run_killed_between_its_write_and_sending_sends_the_ask_on_the_next_run(
        world, server, monkeypatch):  # noqa: F811
    harness, tracker, box = world
    import sheets_sync.content_run as content_run

    type_in_content(harness, "CR-0001", "Asked of the department", ASK)
    type_in_content(harness, "CR-0001", "Status", ASKED)
    real = content_run.send_messages

    def killed(*args, **kwargs):
        raise RuntimeError("killed before sending")

    monkeypatch.setattr(content_run, "send_messages", killed)
    with pytest.raises(RuntimeError):
        jobs.mail(tracker, box.fetch, now=later(0.5), send=_send())
    assert content_rows(harness)["CR-0001"]["Department asked at (IST)"] and _asks(server) == []
    monkeypatch.setattr(content_run, "send_messages", real)
    jobs.mail(tracker, box.fetch, now=later(1), send=_send())
    jobs.mail(tracker, box.fetch, now=later(1.5), send=_send())
    assert len(_asks(server)) == 2  # the head and the sender, each once


def test_a_status_a_person_changed_before_the_answer_stays(world, server):  # noqa: F811
    harness, tracker, box = world
    type_in_content(harness, "CR-0001", "Asked of the department", "the ward number")
    type_in_content(harness, "CR-0001", "Status", ASKED)
    jobs.mail(tracker, box.fetch, now=later(0.5), send=_send())
    type_in_content(harness, "CR-0001", "Status", "In design")  # the cell got it by phone
    box.deliver(subject="Re: CR-0001", codes=("CR-0001",), text="प्रभाग ५", received=later(2))
    jobs.mail(tracker, box.fetch, now=later(2.5), send=_send())
    row = content_rows(harness)["CR-0001"]
    assert row["Status"] == "In design" and "प्रभाग ५" in row["Later e-mails"]


def test_asked_without_what_is_asked_sends_nothing_and_says_what_to_type(world, server):  # noqa: F811
    harness, tracker, box = world
    type_in_content(harness, "CR-0001", "Status", ASKED)
    jobs.mail(tracker, box.fetch, now=later(0.5), send=_send())
    assert _asks(server) == []
    assert "Asked of the department" in content_rows(harness)["CR-0001"]["Sync notes"]


def test_a_schema_from_before_the_status_still_loads_and_offers_it(tmp_path):
    text = load_schema().path.read_text(encoding="utf-8").replace(
        "Changes asked, Asked of department, Published,", "Changes asked, Published,")
    assert "Asked of department" not in text.split("statuses: [Received", 1)[1].split("]")[0]
    path = tmp_path / "old_schema.yaml"
    path.write_text(text, encoding="utf-8")
    settings = content_settings(load_schema(path))
    assert ASKED in settings.statuses and set(STATUSES) == set(settings.statuses)
