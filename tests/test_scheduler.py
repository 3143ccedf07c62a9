"""The scheduler: configuration with line numbers, the printed schedule, a failing job
does not stop the loop, SIGTERM stops it between jobs (in process and as a real
process), jobs run the library under the run lock."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import schedule
from click.testing import CliRunner

from cli import main
from sheets_sync.errors import Busy, ConfigError, TrackerError
from sheets_sync.runlock import run_lock
from sheets_sync.scheduler import (
    Job,
    JobContext,
    ScheduleConfig,
    Scheduler,
    build_jobs,
    load_schedule_config,
    report_job,
    sync_job,
)
from sheets_sync.timeutil import IST
from tests.helpers import comment, init_tracker, post, write_export
from tests.trackers import records

ROOT = Path(__file__).resolve().parent.parent


class FakeTime:
    """The machine's clock (naive local time) that sleeping moves forward."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start
        self.slept: list[float] = []

    def clock(self) -> dt.datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += dt.timedelta(seconds=max(seconds, 1))


def local(ist_text: str) -> dt.datetime:
    """An IST time as the machine's naive local time (the tests run in any zone)."""
    aware = dt.datetime.strptime(ist_text, "%Y-%m-%d %H:%M").replace(tzinfo=IST)
    return aware.astimezone().replace(tzinfo=None)


def collect():
    out, err = [], []
    return out, err, dict(out=out.append, err=err.append)


# --- configuration -------------------------------------------------------------------------------


def test_example_config_and_options(tmp_path, monkeypatch):
    config = load_schedule_config(ROOT / "schedule.example.yaml")
    assert (config.sync_every_minutes, config.overdue_every_minutes, config.report_at) == (15, 60, "09:00")
    assert config.report_email and not config.include_empty
    assert config.with_options(sync_every_minutes=5, report_email=None).sync_every_minutes == 5
    monkeypatch.chdir(tmp_path)  # no schedule.yaml here: the defaults
    assert load_schedule_config() == ScheduleConfig()
    (tmp_path / "schedule.yaml").write_text("sync: {every_minutes: 5}\n", encoding="utf-8")
    assert load_schedule_config().sync_every_minutes == 5


def test_config_problems_name_their_lines(tmp_path):
    path = tmp_path / "schedule.yaml"
    path.write_text("sync:\n  every_minutes: 2000\noverdue: hourly\nreport:\n  at: 9:00\n"
                    "  email: yes please\n  when: daily\nretries: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_schedule_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}: 6 problems: ")
    assert f"{path}:2: sync: every_minutes must be a whole number of minutes from 1 to 1440" in message
    assert f"{path}:3: overdue must be a mapping" in message
    assert f"{path}:5: report: at 540 must be an IST time in quotes" in message  # YAML read 9:00 as 540
    assert f"{path}:6: report: email must be true or false" in message
    assert f"{path}:7: report: unknown setting 'when'" in message
    assert f"{path}:8: unknown setting 'retries'" in message
    off = tmp_path / "off.yaml"
    off.write_text("sync: {every_minutes: 0}\nreport: {at: off}\n", encoding="utf-8")
    config = load_schedule_config(off)
    assert config.sync_every_minutes == 0 and config.report_at is None
    assert [j.name for j in build_jobs(config, JobContext("t.xlsx"))] == ["overdue", "archive"]


# --- the loop ----------------------------------------------------------------------------------------


def test_schedule_printed_with_next_runs():
    fake = FakeTime(local("2026-11-26 10:00"))
    jobs = build_jobs(ScheduleConfig(sync_every_minutes=15, report_at="09:00"), JobContext("t.xlsx"))
    printed = []
    Scheduler(jobs, clock=fake.clock, sleep=fake.sleep, max_iterations=1,
              out=lambda s: None).run(on_start=printed.extend)
    assert printed[0].split() == ["sync", "every", "15", "minutes", "(source", "the", "sample",
                                  "exports)", "next", "2026-11-26", "10:15"]
    assert printed[1].split() == ["overdue", "every", "60", "minutes", "next", "2026-11-26", "11:00"]
    # 09:00 IST has passed today: tomorrow's.
    assert printed[2].split() == ["report", "daily", "at", "09:00", "IST", "(e-mail", "on)", "next",
                                  "2026-11-27", "09:00"]


def test_a_failing_job_does_not_stop_the_loop():
    fake = FakeTime(local("2026-11-26 10:00"))
    ran = []

    def broken():
        raise RuntimeError("disk on fire")

    def tracker_gone():
        raise TrackerError("tab 'Comments' is missing")

    jobs = [Job("broken", broken, every_minutes=1), Job("gone", tracker_gone, every_minutes=1),
            Job("good", lambda: ran.append(fake.now) or "fine", every_minutes=1)]
    out, err, streams = collect()
    sched = Scheduler(jobs, clock=fake.clock, sleep=fake.sleep, max_iterations=6, **streams)
    sched.run()
    assert len(ran) == 5 and sched.runs == {"broken": 5, "gone": 5, "good": 5}
    assert sched.failures == {"broken": 5, "gone": 5}
    assert err[0] == ("2026-11-26 10:01 broken failed unexpectedly: RuntimeError: disk on fire "
                      "(run with --verbose for the traceback)")
    assert err[1] == "2026-11-26 10:01 gone failed (exit 4): tab 'Comments' is missing"
    assert out[0].startswith("2026-11-26 10:01 good ok (") and out[0].endswith("s): fine")
    assert all(s == pytest.approx(60, abs=1) for s in fake.slept[1:])
    assert schedule.datetime is dt  # the fake clock is gone after the run


def test_busy_job_is_skipped_and_quiet_prints_errors_only():
    fake = FakeTime(local("2026-11-26 10:00"))

    def busy():
        raise Busy("tracker.xlsx: another sheets-sync run holds the lock")

    out, err, streams = collect()
    sched = Scheduler([Job("sync", busy, every_minutes=5), Job("ok", lambda: "done", every_minutes=5)],
                      clock=fake.clock, sleep=fake.sleep, max_iterations=2, quiet=True, **streams)
    sched.run()
    assert out == [] and sched.failures == {}
    assert err == ["2026-11-26 10:05 sync skipped: tracker.xlsx: another sheets-sync run holds the lock"]


def test_sigterm_stops_between_jobs():
    fake = FakeTime(local("2026-11-26 10:00"))
    ran = []

    def first():
        ran.append("first")
        os.kill(os.getpid(), signal.SIGTERM)  # arrives while this job runs
        return "done"

    jobs = [Job("first", first, every_minutes=1), Job("second", lambda: ran.append("second") or "",
                                                        every_minutes=1)]
    out, err, streams = collect()
    sched = Scheduler(jobs, clock=fake.clock, sleep=fake.sleep, max_iterations=100, **streams)
    before = signal.getsignal(signal.SIGTERM)
    with sched.signals():
        sched.run()
    assert ran == ["first"] and sched.stop_reason == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) == before  # handlers restored


def test_run_now_and_daily_job_at_its_ist_time():
    fake = FakeTime(local("2026-11-26 08:58"))
    ran = []
    jobs = [Job("report", lambda: ran.append(("report", fake.now)) or "", daily_at_ist="09:00"),
            Job("sync", lambda: ran.append(("sync", fake.now)) or "", every_minutes=30)]
    Scheduler(jobs, clock=fake.clock, sleep=fake.sleep, max_iterations=3, out=lambda s: None).run(
        run_now=True)
    assert ran[0] == ("sync", local("2026-11-26 08:58"))  # --run-now
    assert ("report", local("2026-11-26 09:00")) in ran


# --- jobs call the library under the run lock ---------------------------------------------------------


@pytest.fixture
def exported(tmp_path, roster_file):
    folder = write_export(tmp_path / "export", [post("P1")], [
        comment("C1", "P1", at="2026-11-20T11:00:00+05:30")])
    init_tracker(tmp_path / "tracker.xlsx", roster_file)
    return JobContext(str(tmp_path / "tracker.xlsx"), roster_path=str(roster_file), source=f"files:{folder}")


def test_sync_and_report_jobs(exported, tmp_path):
    assert sync_job(exported) == "added 1 post(s) and 1 comment(s); 0 row(s) updated"
    line = report_job(exported, email=False)
    assert line.startswith("Report tab updated: 1 overdue")
    from tests.trackers import XlsxHarness

    report = {r["Department"]: r for r in records(XlsxHarness(tmp_path).values("Report"))}
    assert report["SWM"]["Open now"] == "1"
    with run_lock(exported.tracker, "sync"), pytest.raises(Busy):
        sync_job(exported)


# --- the command ------------------------------------------------------------------------------------------


def test_schedule_command_prints_and_stops(exported, tmp_path):
    result = CliRunner().invoke(main, [
        "schedule", "--tracker", exported.tracker, "--roster", exported.roster_path, "--source",
        exported.source, "--no-email", "--report-at", "off", "--sync-every", "30", "--run-now",
        "--max-iterations", "1", "--config", str(ROOT / "schedule.example.yaml")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"sheets-sync scheduler for {exported.tracker} from ")
    assert lines[1].split()[:4] == ["sync", "every", "30", "minutes"]
    assert lines[2].split()[:4] == ["overdue", "every", "60", "minutes"]
    assert any(" sync ok (" in line and "added 1 post(s)" in line for line in lines)
    assert any(" overdue ok (" in line for line in lines)
    assert lines[-1] == "Scheduler stopped."


def test_schedule_command_needs_mail_settings_when_emailing(exported, monkeypatch):
    monkeypatch.delenv("SHEETS_SYNC_SMTP_HOST", raising=False)
    result = CliRunner().invoke(main, ["schedule", "--tracker", exported.tracker, "--max-iterations", "1"])
    assert result.exit_code == 2 and "SHEETS_SYNC_SMTP_HOST is not set" in result.output


def test_sigterm_stops_a_real_scheduler_process_and_a_second_one_is_busy(exported, tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, str(ROOT / "cli.py"), "schedule", "--tracker", exported.tracker,
            "--source", exported.source, "--roster", exported.roster_path, "--no-email",
            "--sync-every", "60", "--overdue-every", "0", "--report-at", "off"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=tmp_path)
    try:
        first = proc.stdout.readline()
        assert first.startswith("sheets-sync scheduler for "), first + proc.stderr.read()
        assert proc.stdout.readline().split()[:4] == ["sync", "every", "60", "minutes"]
        second = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=30)
        assert second.returncode == 6
        assert "another sheets-sync run holds the lock (schedule, pid" in second.stderr
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert time.monotonic() - started < 10
    assert out.strip().endswith("Scheduler stopped (SIGTERM).")
    assert "Traceback" not in err
