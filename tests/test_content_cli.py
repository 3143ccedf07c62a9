"""The content pipeline's commands and scheduler entries: `mail` (with the reader wired),
`content`, bad settings as one line and exit 2 with the tracker untouched."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli import main
from sheets_sync.scheduler import JobContext, ScheduleConfig, build_jobs, load_schedule_config
from tests.content_world import NODAL, Mailbox, content_rows, tracker_for
from tests.helpers import digest
from tests.test_email import server  # noqa: F401 - the aiosmtpd fixture


@pytest.fixture
def world(harness, roster_file, monkeypatch):
    for name, value in harness.env.items():
        monkeypatch.setenv(name, value)
    tracker_for(harness, roster_file)
    box = Mailbox()
    import sheets_sync.content_run as content_run

    monkeypatch.setattr(content_run, "imap_fetcher",
                        lambda tracker, **kw: (box.fetch, "imap:cell@mail/INBOX"))
    return harness, box, roster_file


def cli(harness, *args):
    return CliRunner().invoke(main, [*args, "--tracker", harness.tracker_arg], env=harness.env,
                              catch_exceptions=False)


def test_mail_files_and_sends_and_content_lists(world, server):  # noqa: F811
    harness, box, _ = world
    box.deliver(subject="Health camp in ward 5", text="कार्यक्रम")
    box.deliver(sender="spam@example.com", subject="Win a prize")
    dry = cli(harness, "mail", "--dry-run", "--as-of", "2026-12-01 10:00")
    assert dry.exit_code == 0, dry.output
    assert "Would file 2 message(s)" in dry.output and "CR-0001 received → " + NODAL in dry.output
    assert content_rows(harness) == {} and server.messages == []
    out = cli(harness, "mail", "--as-of", "2026-12-01 10:00")
    assert out.exit_code == 0, out.output
    assert "Filed 2 message(s) from the mailbox" in out.output and "1 ignored" in out.output
    assert "Sent 1 e-mail(s)." in out.output
    assert "spam@example.com: 'Win a prize' → ignored (unknown sender" in out.output
    listed = cli(harness, "content", "--json", "-d", "swm")
    assert [r["request"] for r in json.loads(listed.output)] == ["CR-0001"]
    assert "1 request(s) in" in cli(harness, "content").output
    assert box.fetches[-1] is None and "imap:cell@mail/INBOX" in str(harness.values("Sync State"))


def test_bad_settings_are_one_line_exit_2_and_the_tracker_untouched(world, tmp_path, monkeypatch):
    harness, box, _ = world
    box.deliver(subject="Health camp")
    schema = tmp_path / "schema.yaml"
    from sheets_sync.schema import DEFAULT_SCHEMA

    schema.write_text(DEFAULT_SCHEMA.read_text(encoding="utf-8").replace("lead_days: 7", "lead_days: soon"),
                      encoding="utf-8")
    before = harness.values("Content")
    out = cli(harness, "mail", "--schema", str(schema))
    assert out.exit_code == 2 and out.output.count("\n") == 1, out.output
    assert out.output.startswith("Error: ") and "lead_days must be a whole number of days" in out.output
    monkeypatch.setenv("SHEETS_SYNC_SMTP_HOST", "smtp.example")
    monkeypatch.setenv("SHEETS_SYNC_SMTP_PORT", "smtp")
    out = cli(harness, "mail")
    assert out.exit_code == 2 and out.output.count("\n") == 1 and "SHEETS_SYNC_SMTP_PORT" in out.output
    assert harness.values("Content") == before and box.fetches == []


def test_the_scheduler_reads_mail_with_the_sync_and_sends_the_digest_each_morning(tmp_path):
    ctx = JobContext("tracker.xlsx")
    names = [j.name for j in build_jobs(ScheduleConfig(), ctx, environ={})]
    assert names == ["sync", "overdue", "report", "archive"]  # no mail server: no mail jobs
    jobs = build_jobs(ScheduleConfig(), ctx, environ={"SHEETS_SYNC_IMAP_HOST": "imap.example",
                                                      "SHEETS_SYNC_SMTP_HOST": "smtp.example"})
    assert [(j.name, j.when) for j in jobs] == [
        ("sync", "every 15 minutes"), ("mail", "every 15 minutes"), ("overdue", "every 60 minutes"),
        ("report", "daily at 09:00 IST"), ("digest", "daily at 08:30 IST"), ("archive", jobs[-1].when)]
    path = tmp_path / "schedule.yaml"
    path.write_text('mail: {with_sync: false}\ndigest: {at: "07:45"}\n', encoding="utf-8")
    config = load_schedule_config(path)
    jobs = build_jobs(config, ctx, environ={"SHEETS_SYNC_IMAP_HOST": "imap.example"})
    assert ("digest", "daily at 07:45 IST") in [(j.name, j.when) for j in jobs]
    assert "mail" not in [j.name for j in jobs]
    path.write_text('digest: {at: "25:00"}\n', encoding="utf-8")
    with pytest.raises(Exception, match=r"schedule.yaml:1: digest: at '25:00' must be an IST time"):
        load_schedule_config(path)


def test_the_scheduled_mail_job_files_the_mailbox(world, server, monkeypatch):  # noqa: F811
    harness, box, roster_file = world
    box.deliver(subject="Health camp")
    from sheets_sync.content_run import mail_job

    line = mail_job(JobContext(harness.tracker_arg, roster_path=str(roster_file),
                               credentials=harness.env.get("GOOGLE_APPLICATION_CREDENTIALS")))
    assert line.startswith("1 message(s) filed: 1 request(s)") and "1 e-mail(s) sent" in line
    assert list(content_rows(harness)) == ["CR-0001"]
    assert digest  # (the helper module's digest is a file hash, unused here)
