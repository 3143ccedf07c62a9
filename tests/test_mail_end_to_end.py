"""The content pipeline end to end (#15): messages delivered to a real Dovecot on
loopback, read by ``python cli.py mail`` through the real IMAP reader, filed in the
tracker on both backends, answered through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner

from sheets_sync.cli import main
from tests.content_world import HEAD, NODAL, NOW, content_rows, mail_log, tracker_for, type_in_content
from tests.test_email import server  # noqa: F401 - the aiosmtpd fixture

AUTHSERV = "mail.mahapalika.example"


def message(sender: str, subject: str, text: str, *, dkim: str = "pass", in_reply_to: str = "",
            attachment: tuple[str, bytes] | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "socialmedia@mahapalika.example"
    msg["Subject"] = subject
    msg["Message-ID"] = email.utils.make_msgid(domain="mahapalika.example")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    # Added by the corporation's own mail server on receipt: the only verdict that counts.
    msg["Authentication-Results"] = (f"{AUTHSERV}; dkim={dkim} header.d=mahapalika.example; "
                                     "spf=none smtp.mailfrom=mahapalika.example")
    msg.set_content(text)
    if attachment:
        msg.add_attachment(attachment[1], maintype="application", subtype="pdf", filename=attachment[0])
    return msg


def sent(server):  # noqa: F811 - the fixture's value
    out = []
    for _, rcpts, content in server.messages:
        got = email.message_from_bytes(content, policy=policy.default)
        out.append((rcpts[0], str(got["Subject"]), got.get_body(preferencelist=("plain",)).get_content()))
    return out


@pytest.fixture
def world(harness, roster_file, mailbox, server, monkeypatch, tmp_path):  # noqa: F811
    env = {**harness.env, **mailbox.env(tmp_path)}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    tracker_for(harness, roster_file)
    return harness, roster_file, mailbox, server, tmp_path


def mail(harness, roster_file, when) -> object:
    result = CliRunner().invoke(main, ["mail", "--tracker", harness.tracker_arg, "--roster", str(roster_file),
                                       "--as-of", when.strftime("%Y-%m-%d %H:%M")])
    assert result.exit_code == 0, result.output
    return result


def test_a_departments_mail_is_filed_approved_by_its_head_and_never_filed_twice(world):
    harness, roster, box, smtp, tmp = world
    pdf = b"%PDF-1.4 fake"
    box.deliver(message(NODAL, "स्वच्छ महानगर अभियान — प्रसिद्धी दि. ५ डिसेंबर २०२६",
                        "नमस्कार,\nअभियानाची माहिती सोबत जोडली आहे.\n=HYPERLINK(\"http://evil\")",
                        attachment=("../../माहिती पत्रक.pdf", pdf)), received=NOW)
    mail(harness, roster, NOW + timedelta(minutes=5))

    row = content_rows(harness)["CR-0001"]
    assert row["Department"] == "SWM" and row["Status"] == "Received"
    assert row["Subject"] == "स्वच्छ महानगर अभियान — प्रसिद्धी दि. ५ डिसेंबर २०२६"
    assert row["Planned date"].startswith("2026-12-05") and row["Late"]  # four days' notice, not seven
    saved = list(Path(tmp, "attachments").rglob("*.pdf"))
    assert [p.read_bytes() for p in saved] == [pdf] and ".." not in str(saved[0].relative_to(tmp))
    assert "माहिती पत्रक.pdf" in row["Attachments"]
    told = sent(smtp)
    assert {to for to, _, _ in told} >= {NODAL, HEAD}  # the sender, and the head about the late notice

    # The same mailbox read again files nothing and sends nothing.
    smtp.messages.clear()
    mail(harness, roster, NOW + timedelta(minutes=10))
    assert len(content_rows(harness)) == 1 and len(mail_log(harness)) == 1 and sent(smtp) == []

    # The cell sends the draft for approval; the head gets the code and answers मंजूर.
    type_in_content(harness, "CR-0001", "Draft link", "https://drive.example/d/draft-1")
    type_in_content(harness, "CR-0001", "Status", "Sent for approval")
    mail(harness, roster, NOW + timedelta(hours=1))
    asked = [(to, subject) for to, subject, _ in sent(smtp)]
    subject = "स्वच्छ महानगर अभियान — प्रसिद्धी दि. ५ डिसेंबर २०२६"
    assert asked == [(HEAD, f"[sheets-sync] Approval asked: CR-0001 — {subject}")]

    forged = message(HEAD, "Re: CR-0001", "APPROVE", dkim="fail")
    box.deliver(forged, received=NOW + timedelta(hours=2))
    answer = message(HEAD, "Re: [sheets-sync] Approval asked: CR-0001", "मंजूर\n\n> CR-0001 draft")
    box.deliver(answer, received=NOW + timedelta(hours=3))
    mail(harness, roster, NOW + timedelta(hours=3, minutes=5))

    row = content_rows(harness)["CR-0001"]
    assert row["Status"] == "Approved" and row["Approved by"] == HEAD
    assert row["Approval message id"] == answer["Message-ID"]
    log = mail_log(harness)
    assert [r["Filed as"] for r in log] == ["request CR-0001", "ignored", "approval of CR-0001"]
    assert "dkim=fail" in log[1]["Why ignored"]
    assert "\\Seen" not in box.flags(1)  # the cell's own reading of its mailbox is untouched


def test_a_refused_login_is_one_line_exit_2_and_the_tracker_is_untouched(world, monkeypatch):
    harness, roster, box, _, _ = world
    box.deliver(message(NODAL, "Ward camp", "Details attached."), received=NOW)
    before = harness.values("Content"), harness.values("Sync State")
    monkeypatch.setenv("SHEETS_SYNC_IMAP_PASSWORD", "not-the-password")
    result = CliRunner().invoke(main, ["mail", "--tracker", harness.tracker_arg, "--roster", str(roster)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "SHEETS_SYNC_IMAP_" in lines[0] and "not-the-password" not in result.output
    assert "Traceback" not in result.output
    assert (harness.values("Content"), harness.values("Sync State")) == before
