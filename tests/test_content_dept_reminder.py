"""A department that does not answer what the cell asked of it (status Asked of department,
e-mailed) is reminded once per ``content.dept_remind_after_hours`` (default 24), on both
backends, over the real SMTP server on loopback: stamped in "Department reminded at",
listed in its daily digest, and no more once it answers (#15)."""

from __future__ import annotations

import email
from email import policy

import pytest

from sheets_sync import jobs
from sheets_sync.content_settings import ASKED, content_settings
from sheets_sync.emailer import SmtpSettings
from sheets_sync.errors import ConfigError
from sheets_sync.schema import DEFAULT_SCHEMA, load_schema
from tests.content_world import HEAD, NODAL, NOW, Mailbox, content_rows, later, tracker_for, type_in_content
from tests.test_email import server  # noqa: F401 - the aiosmtpd fixture

ASK = "प्रभाग क्रमांक <कळवा> & photos"


@pytest.fixture
def world(harness, roster_file, monkeypatch, server):  # noqa: F811
    for name, value in harness.env.items():
        monkeypatch.setenv(name, value)
    tracker = tracker_for(harness, roster_file)
    box = Mailbox()
    box.deliver(subject="Swachh survey poster")
    run(tracker, box, NOW)
    type_in_content(harness, "CR-0001", "Asked of the department", ASK)
    type_in_content(harness, "CR-0001", "Status", ASKED)
    run(tracker, box, later(0.5))  # asked at 10:30 IST
    server.messages.clear()
    return harness, tracker, box


def run(tracker, box, when):
    return jobs.mail(tracker, box.fetch, now=when, send=SmtpSettings.from_env())


def reminders(server):  # noqa: F811
    out = []
    for _, rcpts, content in server.messages:
        msg = email.message_from_bytes(content, policy=policy.default)
        if str(msg["Subject"]).startswith("[sheets-sync] Reminder, the cell asks: CR-0001"):
            out.append((rcpts[0], msg.get_body(preferencelist=("plain",)).get_content(),
                        msg.get_body(preferencelist=("html",)).get_content()))
    return out


def test_no_answer_is_reminded_once_a_period_and_an_answer_stops_it(world, server):  # noqa: F811
    harness, tracker, box = world
    run(tracker, box, later(20))
    assert reminders(server) == []  # not yet a day
    got = run(tracker, box, later(24.5))
    sent = reminders(server)
    assert sorted(to for to, _, _ in sent) == sorted([NODAL, HEAD])  # sender and head, once each
    _, plain, html = sent[0]
    assert ASK in plain and "2026-12-01 10:30" in plain and "स्मरणपत्र" in plain
    assert "&lt;कळवा&gt;" in html and "<कळवा>" not in html
    assert content_rows(harness)["CR-0001"]["Department reminded at (IST)"] == "2026-12-02 10:30"
    assert any("CR-0001: no answer from the department" in n for n in got.plan.notes)
    run(tracker, box, later(30))
    run(tracker, box, later(40))
    assert len(reminders(server)) == 2  # once per period
    # Its daily digest lists the ask with the reminder.
    server.messages.clear()
    jobs.digest(tracker, now=later(46), send=SmtpSettings.from_env())
    digests = [email.message_from_bytes(c, policy=policy.default) for _, r, c in server.messages
               if r[0] == HEAD]
    assert len(digests) == 1
    plain = digests[0].get_body(preferencelist=("plain",)).get_content()
    assert "CR-0001: Swachh survey poster (asked 2026-12-01 10:30, reminded 2026-12-02 10:30)" in plain
    server.messages.clear()
    run(tracker, box, later(48.6))  # a day after the reminder: the next one
    assert len(reminders(server)) == 2
    assert content_rows(harness)["CR-0001"]["Department reminded at (IST)"] == "2026-12-03 10:36"
    box.deliver(subject="Re: CR-0001", codes=("CR-0001",), text="प्रभाग ५, photos attached",
                received=later(49))
    run(tracker, box, later(49.5))
    server.messages.clear()
    run(tracker, box, later(80))
    run(tracker, box, later(110))
    assert reminders(server) == []  # answered: Received again, nothing waits on the department
    assert content_rows(harness)["CR-0001"]["Status"] == "Received"


def test_a_new_ask_starts_a_new_period(world, server):  # noqa: F811
    harness, tracker, box = world
    run(tracker, box, later(24.5))
    assert len(reminders(server)) == 2
    type_in_content(harness, "CR-0001", "Asked of the department", "and the date, please")
    run(tracker, box, later(25))  # a new ask: mailed, its reminder a day after it
    assert content_rows(harness)["CR-0001"]["Department reminded at (IST)"] == ""
    run(tracker, box, later(40))
    assert len(reminders(server)) == 2
    run(tracker, box, later(49.1))
    assert len(reminders(server)) == 4


def _schema(tmp_path, *replacements: tuple[str, str]):
    path = tmp_path / "schema.yaml"
    text = DEFAULT_SCHEMA.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return load_schema(path)


def test_the_setting_is_checked_and_defaults_to_the_heads_reminder_hours(tmp_path):
    line = "  dept_remind_after_hours: 24\n"
    settings = content_settings(_schema(tmp_path, (line, "  dept_remind_after_hours: 6\n")))
    assert settings.dept_remind_after_hours == 6 and settings.remind_after_hours == 24
    with pytest.raises(ConfigError) as exc:
        content_settings(_schema(tmp_path, (line, "  dept_remind_after_hours: soon\n")))
    assert "dept_remind_after_hours must be a number of hours, not 'soon'" in str(exc.value)
    assert "\n" not in str(exc.value)
    # A schema from before the setting: the head's reminder hours.
    schema = _schema(tmp_path, (line, ""), ("  remind_after_hours: 24\n", "  remind_after_hours: 12\n"))
    assert content_settings(schema).dept_remind_after_hours == 12
