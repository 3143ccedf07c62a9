"""Report e-mails against a real SMTP server on loopback (aiosmtpd): who gets what,
headers people can filter, plain text and HTML parts, escaped citizen text, Marathi
intact, a refused address, wrong settings, no second sending on the same day."""

from __future__ import annotations

import email
import socket
from email import policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from click.testing import CliRunner

from cli import main
from sheets_sync.emailer import SmtpSettings
from sheets_sync.errors import ConfigError
from tests.helpers import ROSTER_YAML, write_roster
from tests.test_report import AS_OF_ARG, SCRIPT, build_tracker
from tests.trackers import records

CELL = "cell@mahapalika.example"
ADDL = "addl.commissioner@mahapalika.example"
PASSWORD = "s3cret-Pa55"


class Mailbox:
    """An aiosmtpd handler: refuses addresses starting with 'bad', keeps the rest."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bad"):
            return f"550 5.1.1 <{address}>: no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"

    def parsed(self) -> dict[str, email.message.EmailMessage]:
        """Received messages by their (single) envelope recipient."""
        out = {}
        for _, rcpts, content in self.messages:
            assert len(rcpts) == 1
            out[rcpts[0]] = email.message_from_bytes(content, policy=policy.default)
        return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(**kwargs):
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return box, controller


@pytest.fixture
def server(monkeypatch):
    box, controller = start_server()
    env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(controller.port), "SMTP_SECURITY": "none",
           "SMTP_FROM": "Social Media Cell <socialmedia@mahapalika.example>", "CELL_EMAIL": CELL,
           "ADDL_COMMISSIONER_EMAIL": ADDL}
    for name in ("SMTP_USER", "SMTP_PASSWORD"):
        monkeypatch.delenv("SHEETS_SYNC_" + name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv("SHEETS_SYNC_" + name, value)
    yield box
    controller.stop()


@pytest.fixture
def tracker(tmp_path, roster_file):
    return build_tracker(tmp_path, roster_file)


def send(tracker, *extra):
    return CliRunner().invoke(main, ["report", "--tracker", tracker.tracker_arg, "--as-of", AS_OF_ARG,
                                     "--email", *extra])


def parts(msg):
    plain = msg.get_body(preferencelist=("plain",)).get_content()
    html = msg.get_body(preferencelist=("html",)).get_content()
    return plain, html


def test_each_department_gets_only_its_list_and_the_cell_the_summary(server, tracker):
    result = send(tracker)
    assert result.exit_code == 0, result.output
    assert "E-mailed the 2026-11-26 report: 5 message(s) sent." in result.output
    got = server.parsed()
    assert sorted(got) == sorted(["hod.swm@mahapalika.example", "swm.nodal@mahapalika.example",
                                  "hod.ws@mahapalika.example", CELL, ADDL])  # nothing for ROADS
    assert {frm for frm, _, _ in server.messages} == {"socialmedia@mahapalika.example"}

    swm = got["swm.nodal@mahapalika.example"]
    assert swm["Subject"] == ("[sheets-sync] SWM overdue: 2 comments, 2 escalated (2026-11-26) — "
                              "घनकचरा व्यवस्थापन")
    assert swm["To"] == "swm.nodal@mahapalika.example"
    assert swm["From"] == "Social Media Cell <socialmedia@mahapalika.example>"
    assert swm["Auto-Submitted"] == "auto-generated" and swm["X-Sheets-Sync-Report"] == "SWM; day=2026-11-26"
    assert swm["Message-ID"].endswith("@mahapalika.example>") and swm["Date"]
    raw = {rcpts[0]: content for _, rcpts, content in server.messages}
    raw_swm = raw["swm.nodal@mahapalika.example"]
    assert raw_swm.isascii()  # Marathi travels encoded (RFC 2047 subject, base64/QP bodies)
    assert (b"\r\nSubject: [sheets-sync] SWM overdue: 2 comments, 2 escalated (2026-11-26)\r\n"
            b" =?utf-8?b?") in raw_swm
    assert swm.get_content_type() == "multipart/alternative"
    plain, html = parts(swm)
    assert "घंटागाडी ३ दिवस आली नाही 😡" in plain and "घंटागाडी ३ दिवस आली नाही 😡" in html
    assert "रस्ता खराब" in plain  # C6, the oldest
    assert plain.index("रस्ता खराब") < plain.index("घंटागाडी")
    assert "पाणी नाही" not in plain and "पाणी नाही" not in html  # only SWM's own comments
    assert "https://www.facebook.com/mahanagar/posts/P1?comment_id=C1" in plain

    ws_plain, ws_html = parts(got["hod.ws@mahapalika.example"])
    assert got["hod.ws@mahapalika.example"]["Subject"] == (
        "[sheets-sync] WS overdue: 1 comments (2026-11-26) — पाणीपुरवठा")
    assert SCRIPT in ws_plain  # plain text shows it as typed
    assert "<script" not in ws_html.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; पाणी नाही" in ws_html

    summary = got[CELL]
    assert summary["Subject"] == "[sheets-sync] Summary: 3 overdue, 2 escalated in 2 departments (2026-11-26)"
    assert got[ADDL]["Subject"] == summary["Subject"]
    assert summary.get_content_type() == "multipart/mixed"
    s_plain, s_html = parts(summary)
    assert "ALL" in s_plain
    assert "Escalated to the cell and the Additional Commissioner's office (2)" in s_plain
    assert "<script" not in s_html.lower()
    attachment = next(summary.iter_attachments())
    assert attachment.get_filename() == "sheets-sync-report-2026-11-26.html"
    page = attachment.get_content()
    page = page.decode("utf-8") if isinstance(page, bytes) else page
    assert page.count("data:image/png;base64,") == 6 and "&lt;script&gt;" in page

    log = records(tracker.values("Sync Log"))[-1]
    assert log["Command"] == "report" and log["Source"] == "e-mail 2026-11-26"
    assert log["Rows updated"] == "5" and log["Held back"] == "0"
    assert log["Errors and warnings"].startswith("delivered: SWM→hod.swm@mahapalika.example, "
                                                 "SWM→swm.nodal@mahapalika.example, WS→hod.ws@")


def test_same_day_is_not_sent_twice_unless_resend(server, tracker):
    assert send(tracker).exit_code == 0
    assert len(server.messages) == 5
    again = send(tracker)
    assert again.exit_code == 0
    assert "already sent to 5 recipient(s) (see the Sync Log); nothing sent. Use --resend" in again.output
    assert len(server.messages) == 5
    forced = send(tracker, "--resend")
    assert forced.exit_code == 0 and len(server.messages) == 10
    next_day = CliRunner().invoke(main, ["report", "--tracker", tracker.tracker_arg, "--email",
                                         "--as-of", "2026-11-27T09:00:00+05:30"])
    assert next_day.exit_code == 0 and len(server.messages) == 15


def test_include_empty_writes_to_departments_with_nothing_overdue(server, tracker):
    assert send(tracker, "--include-empty").exit_code == 0
    roads = server.parsed()["hod.roads@mahapalika.example"]
    assert roads["Subject"] == "[sheets-sync] ROADS overdue: 0 comments (2026-11-26) — रस्ते"
    plain, _ = parts(roads)
    assert "आपल्या विभागाकडे मुदत संपलेली कोणतीही टिप्पणी नाही" in plain


def test_a_refused_address_does_not_stop_the_others(server, tmp_path):
    roster = write_roster(tmp_path / "roster.yaml", ROSTER_YAML.replace(
        "head: hod.ws@mahapalika.example", "head: bad.ws@mahapalika.example\n    nodal_officers: "
        "[ws.nodal@mahapalika.example]"))
    tracker = build_tracker(tmp_path, roster)
    result = send(tracker)
    assert result.exit_code == 7
    assert ("Error: WS → bad.ws@mahapalika.example: refused by the server: 550 5.1.1 "
            "<bad.ws@mahapalika.example>: no such user here") in result.output
    assert result.output.strip().endswith(
        "Error: 1 report e-mail(s) not sent: bad.ws@mahapalika.example (WS); fix the address in the "
        "Departments tab or the settings, then run again (those already served are not sent twice)")
    assert sorted(server.parsed()) == sorted(["hod.swm@mahapalika.example", "swm.nodal@mahapalika.example",
                                              "ws.nodal@mahapalika.example", CELL, ADDL])
    log = records(tracker.values("Sync Log"))[-1]
    assert log["Held back"] == "1" and "| failed: WS→bad.ws@mahapalika.example (refused" in log[
        "Errors and warnings"]
    # Run again: only the failed address is tried; the others are not sent twice.
    again = send(tracker)
    assert again.exit_code == 7 and len(server.messages) == 5
    assert "0 message(s) sent, 5 already sent earlier, 1 failed" in again.output


def test_department_without_any_address_is_reported(server, tmp_path):
    roster = write_roster(tmp_path / "roster.yaml", ROSTER_YAML.replace(
        "    head: hod.ws@mahapalika.example\n", ""))
    tracker = build_tracker(tmp_path, roster)
    result = send(tracker)
    assert result.exit_code == 7
    assert ("WS → (no address): no head or nodal officer e-mail in the Departments tab; 1 overdue "
            "comment(s) not sent to the department") in result.output
    assert len(server.messages) == 4


def test_missing_and_wrong_settings_name_the_setting_never_the_password(server, tracker, monkeypatch):
    before = tracker.values("Sync Log")
    monkeypatch.delenv("SHEETS_SYNC_SMTP_HOST")
    result = send(tracker)
    assert result.exit_code == 2
    assert result.output.strip() == ("Error: SHEETS_SYNC_SMTP_HOST is not set (the mail server, "
                                     "e.g. smtp.mahapalika.example)")
    monkeypatch.setenv("SHEETS_SYNC_SMTP_HOST", "smtp.mahapalika.example")
    monkeypatch.setenv("SHEETS_SYNC_SMTP_SECURITY", "tls")
    monkeypatch.setenv("SHEETS_SYNC_SMTP_PORT", "smtp")
    monkeypatch.setenv("SHEETS_SYNC_SMTP_PASSWORD", PASSWORD)
    monkeypatch.setenv("SHEETS_SYNC_CELL_EMAIL", "cell at mahapalika")
    result = send(tracker)
    assert result.exit_code == 2 and PASSWORD not in result.output
    assert result.output.startswith("Error: 4 e-mail settings are wrong: SHEETS_SYNC_SMTP_SECURITY='tls' "
                                    "must be starttls, ssl or none; SHEETS_SYNC_SMTP_PORT='smtp' must be")
    assert "SHEETS_SYNC_SMTP_USER is not set but SHEETS_SYNC_SMTP_PASSWORD is" in result.output
    assert "SHEETS_SYNC_CELL_EMAIL: 'cell at mahapalika' is not an e-mail address" in result.output
    assert tracker.values("Sync Log") == before and server.messages == []
    settings_repr = repr(SmtpSettings("h", 25, "none", "u", PASSWORD, "a@b.example", ("c@d.example",), ()))
    assert PASSWORD not in settings_repr


def test_password_over_plain_text_to_a_remote_host_is_refused():
    env = {"SHEETS_SYNC_SMTP_HOST": "smtp.mahapalika.example", "SHEETS_SYNC_SMTP_SECURITY": "none",
           "SHEETS_SYNC_SMTP_USER": "cell", "SHEETS_SYNC_SMTP_PASSWORD": PASSWORD,
           "SHEETS_SYNC_SMTP_FROM": "cell@mahapalika.example", "SHEETS_SYNC_CELL_EMAIL": CELL}
    with pytest.raises(ConfigError) as err:
        SmtpSettings.from_env(env)
    assert "would send the password unencrypted" in str(err.value) and PASSWORD not in str(err.value)
    settings = SmtpSettings.from_env({**env, "SHEETS_SYNC_SMTP_SECURITY": "ssl"})
    assert settings.port == 465 and settings.warnings and "ADDL_COMMISSIONER" in settings.warnings[0]


def test_login_refused_is_a_config_error_without_the_password(tracker, monkeypatch):
    def authenticator(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=auth_data.login == b"cell" and auth_data.password == b"right",
                          handled=False)

    box, controller = start_server(auth_require_tls=False, authenticator=authenticator)
    try:
        env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(controller.port), "SMTP_SECURITY": "none",
               "SMTP_FROM": "cell@mahapalika.example", "CELL_EMAIL": CELL, "SMTP_USER": "cell",
               "SMTP_PASSWORD": PASSWORD}
        for name, value in env.items():
            monkeypatch.setenv("SHEETS_SYNC_" + name, value)
        result = send(tracker)
        assert result.exit_code == 2 and PASSWORD not in result.output
        assert (f"Error: 127.0.0.1:{controller.port} refused the login of "
                "SHEETS_SYNC_SMTP_USER='cell' (535); check SHEETS_SYNC_SMTP_USER and "
                "SHEETS_SYNC_SMTP_PASSWORD") in result.output
        assert box.messages == []
        monkeypatch.setenv("SHEETS_SYNC_SMTP_PASSWORD", "right")
        ok = send(tracker)
        assert ok.exit_code == 0, ok.output
        assert "SHEETS_SYNC_ADDL_COMMISSIONER_EMAIL is not set" in ok.output and len(box.messages) == 4
    finally:
        controller.stop()


def test_server_down_fails_every_message_and_is_logged(server, tracker, monkeypatch):
    monkeypatch.setenv("SHEETS_SYNC_SMTP_PORT", str(free_port()))  # nobody listens there
    result = send(tracker)
    assert result.exit_code == 7
    assert "0 message(s) sent, 5 failed" in result.output
    assert "cannot connect to the mail server 127.0.0.1:" in result.output
    log = records(tracker.values("Sync Log"))[-1]
    assert log["Held back"] == "5" and log["Rows updated"] == "0"


@pytest.mark.parametrize("subject", [
    "[sheets-sync] Summary: 3 overdue, 2 escalated in 2 departments (2026-11-26)",
    "[sheets-sync] HSG overdue: 12 comments, 3 escalated (2026-11-26) — गृहनिर्माण विभाग "
    "(प्रधानमंत्री आवास योजना) 🙏",
    "पूर्ण मराठी विषय",
    "short",
])
def test_subjects_round_trip_through_a_real_parser(subject):
    from sheets_sync.emailer import MAIL_POLICY, encode_header

    msg = email.message.EmailMessage(policy=MAIL_POLICY)
    msg["Subject"] = encode_header(subject)
    msg.set_content("x")
    raw = msg.as_bytes()
    assert raw.isascii() and all(len(line) <= 78 for line in raw.split(b"\r\n"))
    assert email.message_from_bytes(raw, policy=policy.default)["Subject"] == subject
