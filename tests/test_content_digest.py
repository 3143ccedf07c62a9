"""The daily supervision e-mail (point 8 of the order) on both backends, over real SMTP on
loopback: one message per department with something to say, nothing for a quiet one, once
a day however often it runs, its Supervision row; and the department's answer filed there."""

from __future__ import annotations

import email
from email import policy

import pytest
from click.testing import CliRunner

from cli import main
from sheets_sync import jobs
from sheets_sync.emailer import SmtpSettings
from tests.content_world import HEAD, NODAL, NOW, Mailbox, later, mail_log, tracker_for, type_in_content
from tests.helpers import comment, post, write_export
from tests.test_email import server  # noqa: F401 - the aiosmtpd fixture
from tests.trackers import records

EVIL = "<script>alert('x')</script> =HYPERLINK(\"https://evil.example\") कचरा उचलला नाही"


@pytest.fixture
def world(harness, roster_file, monkeypatch, tmp_path):
    for name, value in harness.env.items():
        monkeypatch.setenv(name, value)
    tracker = tracker_for(harness, roster_file)
    folder = write_export(tmp_path / "export", [post("P1", at="2026-11-29T09:00:00+05:30")], [
        comment("C1", "P1", "घंटागाडी आली नाही 😡", at="2026-11-29T10:00:00+05:30"),  # overdue by now
        comment("C2", "P1", EVIL, at="2026-12-01T07:00:00+05:30"),  # new yesterday
    ])
    jobs.sync(tracker, f"files:{folder}", now=later(-2))
    return harness, tracker, Mailbox()


def _got(server):  # noqa: F811
    out = {}
    for _, rcpts, content in server.messages:
        msg = email.message_from_bytes(content, policy=policy.default)
        out.setdefault(rcpts[0], []).append(
            (str(msg["Subject"]), msg.get_body(preferencelist=("plain",)).get_content(),
             msg.get_body(preferencelist=("html",)).get_content()))
    return out


def test_each_department_with_something_gets_one_digest_and_a_quiet_one_nothing(world, server):  # noqa: F811
    harness, tracker, box = world
    box.deliver(subject="Swachh survey programme")
    jobs.mail(tracker, box.fetch, now=later(-1))
    type_in_content(harness, "CR-0001", "Draft link", "https://drive.example/d/1")
    type_in_content(harness, "CR-0001", "Status", "Sent for approval")
    jobs.mail(tracker, box.fetch, now=later(-0.5))
    server.messages.clear()
    run = jobs.digest(tracker, now=NOW, send=SmtpSettings.from_env())
    got = _got(server)
    assert sorted(got) == sorted([HEAD, NODAL])  # SWM's head and nodal officer; WS and ROADS: nothing
    (subject, plain, html), = got[HEAD]
    assert subject == ("[sheets-sync] Daily supervision SWM 2026-11-30: 1 new, 1 overdue, 1 request(s) "
                       "waiting [digest SWM 2026-11-30]")
    assert "घंटागाडी आली नाही 😡" in plain and "CR-0001: Swachh survey programme" in plain
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert [d.department.code for d in run.days if not d.quiet] == ["SWM"]
    (row,) = records(harness.values("Supervision"))
    assert row["Date"] == "2026-11-30" and row["Department"] == "SWM" and row["Digest sent (IST)"]
    assert (row["Comments new"], row["Overdue"], row["Requests waiting"]) == ("1", "1", "1")
    # Again the same morning: nothing twice, the row stays one.
    again = jobs.digest(tracker, now=later(0.5), send=SmtpSettings.from_env())
    assert again.delivery.sent == [] and len(server.messages) == 2
    assert len(records(harness.values("Supervision"))) == 1


def test_an_answer_to_the_digest_is_filed_as_a_suggestion_on_the_days_row(world, server):  # noqa: F811
    harness, tracker, box = world
    jobs.digest(tracker, now=NOW, send=SmtpSettings.from_env())
    box.deliver(sender=HEAD, received=later(1),
                subject="Re: [sheets-sync] Daily supervision SWM 2026-11-30: 1 new, 1 overdue, 0 request(s) "
                        "waiting [digest SWM 2026-11-30]",
                text="Please pin the ghantagadi timetable post.\n\nOn Tue, sheets-sync wrote:\n"
                     "> Dear\n> CR-0001",
                codes=("CR-0001",))  # quoted from the digest: still a suggestion
    jobs.mail(tracker, box.fetch, now=later(1.5))
    assert mail_log(harness)[-1]["Filed as"] == "suggestion"
    (row,) = records(harness.values("Supervision"))
    assert row["Suggestions"] == f"2026-12-01 11:00 {HEAD}: Please pin the ghantagadi timetable post."
    assert row["Digest sent (IST)"]  # the digest's figures stay


def test_digest_dry_run_and_bad_settings(world, monkeypatch):
    harness, tracker, _ = world
    args = ["digest", "--tracker", harness.tracker_arg, "--as-of", "2026-12-01 10:00"]
    out = CliRunner().invoke(main, [*args, "--dry-run"], env=harness.env, catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert "Would send 2026-11-30: 1 department(s) with something to say, 2 quiet" in out.output
    monkeypatch.setenv("SHEETS_SYNC_SMTP_HOST", "")
    out = CliRunner().invoke(main, args, env=harness.env, catch_exceptions=False)
    assert out.exit_code == 2 and out.output.count("\n") == 1
    assert out.output.startswith("Error: ") and "SHEETS_SYNC_SMTP_HOST is not set" in out.output


def test_the_digest_lists_what_the_cell_asked_of_the_department_apart(world, server):  # noqa: F811
    harness, tracker, box = world
    box.deliver(subject="Swachh survey programme")
    box.deliver(subject="Ward 5 camp")
    jobs.mail(tracker, box.fetch, now=later(-1))
    type_in_content(harness, "CR-0001", "Draft link", "https://drive.example/d/1")
    type_in_content(harness, "CR-0001", "Status", "Sent for approval")
    type_in_content(harness, "CR-0002", "Asked of the department", "प्रभाग क्रमांक <कळवा>")
    type_in_content(harness, "CR-0002", "Status", "Asked of department")
    jobs.mail(tracker, box.fetch, now=later(-0.5))
    server.messages.clear()
    jobs.digest(tracker, now=NOW, send=SmtpSettings.from_env())
    (subject, plain, html), = _got(server)[HEAD]
    assert "2 request(s) waiting" in subject
    head_part, _, asked_part = plain.partition("The cell asks your department")
    assert "CR-0001: Swachh survey programme" in head_part and "CR-0002" not in head_part
    assert "CR-0002: Ward 5 camp" in asked_part and "प्रभाग क्रमांक <कळवा>" in asked_part
    assert "&lt;कळवा&gt;" in html and "<कळवा>" not in html
    (row,) = records(harness.values("Supervision"))
    assert row["Requests waiting"] == "2"
