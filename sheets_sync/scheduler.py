"""The scheduler: sync every N minutes, overdue hourly, the daily report at an IST time.

``python cli.py schedule`` runs :class:`Scheduler` over the jobs of a
:class:`ScheduleConfig` (``schedule.yaml``, or options). Each job calls the
library (never the CLI), takes the tracker's run lock for its own duration
(so a person's manual run or a cron job can slip in between), and reports one
line. A failing job logs its error and the loop goes on; SIGTERM or Ctrl-C
stops the loop between jobs (a second Ctrl-C aborts at once).

The loop is testable: the clock, the sleep and the number of iterations are
injectable. ``schedule`` reads the machine's local clock, so the daily IST
time is converted to local time when the job is registered (and again after
each run, should the machine's zone have summer time).
"""

from __future__ import annotations

import datetime as _dt
import logging
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import schedule

from sheets_sync.errors import Busy, SheetsSyncError

# The settings live in scheduler_config.py; these names are the scheduler's public ones too.
from sheets_sync.scheduler_config import _HHMM, ScheduleConfig, load_schedule_config, parse_hhmm
from sheets_sync.timeutil import IST, to_sheet

log = logging.getLogger("sheets_sync.scheduler")

# --- jobs --------------------------------------------------------------------------------------


@dataclass
class Job:
    """One scheduled job: a name, when, and a function returning a one-line summary."""

    name: str
    func: Callable[[], str]
    every_minutes: int = 0  # an interval job …
    daily_at_ist: str | None = None  # … or a daily one at this IST time
    detail: str = ""
    monthly: bool = False  # a daily job that runs on the 1st of the month only

    @property
    def when(self) -> str:
        if self.monthly:
            return f"monthly, on the 1st at {self.daily_at_ist} IST"
        if self.daily_at_ist:
            return f"daily at {self.daily_at_ist} IST"
        return f"every {self.every_minutes} minute{'s' if self.every_minutes != 1 else ''}"


@dataclass
class JobContext:
    """What the jobs need to open the tracker; built once by the CLI."""

    tracker: str
    schema_path: str | None = None
    roster_path: str | None = None
    credentials: str | None = None
    source: str | None = None


def build_jobs(config: ScheduleConfig, ctx: JobContext, environ=None) -> list[Job]:
    """The jobs a configuration asks for, each calling the library under the run lock."""
    import os

    def wanted(flag: bool | None, setting: str) -> bool:  # None: when its server is set up
        return bool(flag or (flag is None and (env.get(setting) or "").strip()))

    env = os.environ if environ is None else environ
    jobs = []
    if config.sync_every_minutes:
        jobs.append(Job("sync", lambda: sync_job(ctx), every_minutes=config.sync_every_minutes,
                        detail=f"source {ctx.source or 'the sample exports'}"))
        if wanted(config.mail_with_sync, "SHEETS_SYNC_IMAP_HOST"):
            jobs.append(Job("mail", lambda: _content_job("mail_job", ctx), detail="the cell's mailbox",
                            every_minutes=config.sync_every_minutes))
    if config.overdue_every_minutes:
        jobs.append(Job("overdue", lambda: overdue_job(ctx), every_minutes=config.overdue_every_minutes))
    if config.report_at:
        email, empty = config.report_email, config.include_empty
        jobs.append(Job("report", lambda: report_job(ctx, email=email, include_empty=empty),
                        daily_at_ist=config.report_at,
                        detail=("e-mail on" + (", empty lists too" if empty else "")) if email
                        else "e-mail off"))
    if config.digest_at and wanted(config.digest, "SHEETS_SYNC_SMTP_HOST"):
        jobs.append(Job("digest", lambda: _content_job("digest_job", ctx), daily_at_ist=config.digest_at,
                        detail="each department's supervision e-mail"))
    if config.archive_at:
        jobs.append(Job("archive", lambda: archive_job(ctx), daily_at_ist=config.archive_at, monthly=True,
                        detail="closed comments older than archive.after_days"))
    return jobs


def _content_job(name: str, ctx: JobContext) -> str:
    """The content pipeline's jobs live with it (sheets_sync.content_run), loaded when they run."""
    from sheets_sync import content_run

    return getattr(content_run, name)(ctx)


def _tracker(ctx: JobContext):
    from sheets_sync.jobs import Tracker

    return Tracker(ctx.tracker, ctx.schema_path, ctx.roster_path, ctx.credentials)


def sync_job(ctx: JobContext) -> str:
    from sheets_sync import jobs

    result = jobs.sync(_tracker(ctx), ctx.source, command="sync (scheduler)")
    s = result.summary()
    line = (f"added {s['posts_added']} post(s) and {s['comments_added']} comment(s); "
            f"{s['rows_updated']} row(s) updated")
    if result.source_errors:
        raise SheetsSyncError(line + "; source errors: " + "; ".join(result.source_errors))
    return line


def overdue_job(ctx: JobContext) -> str:
    """Flag overdue comments and rebuild the departments' tabs; log how many are late."""
    from sheets_sync import jobs
    from sheets_sync.deadlines import overdue

    late = overdue(jobs.overdue(_tracker(ctx), command="overdue (scheduler)").deadlines)
    escalated = sum(1 for d in late if d.level == 2)
    return f"{len(late)} comment(s) overdue, {escalated} escalated"


def archive_job(ctx: JobContext) -> str:
    from sheets_sync import jobs
    from sheets_sync.archive_run import moved_text

    result = jobs.archive(_tracker(ctx))
    return "archived " + (moved_text(result.counts) or "nothing")


def report_job(ctx: JobContext, *, email: bool, include_empty: bool = False) -> str:
    from sheets_sync import jobs

    settings = None
    if email:
        from sheets_sync.emailer import SmtpSettings

        settings = SmtpSettings.from_env()
    run = jobs.report(_tracker(ctx), email=settings, include_empty=include_empty,
                      command="report (scheduler)")
    total = run.report.total
    line = f"Report tab updated: {total.overdue} overdue, {total.overdue_level_2} escalated"
    if run.delivery is not None:
        line += "; " + run.delivery.lines()[-1 - len(run.delivery.failed)]
        run.delivery.raise_for_failures()
    return line


# --- the loop --------------------------------------------------------------------------------------


class _ClockModule:
    """Stands in for the ``datetime`` module inside ``schedule`` when a test injects a clock."""

    def __init__(self, clock: Callable[[], _dt.datetime]) -> None:
        class FakeDatetime(_dt.datetime):
            @classmethod
            def now(cls, tz=None):
                value = clock()
                return value if tz is None else value.replace(tzinfo=None).astimezone(tz)

        self.datetime = FakeDatetime

    def __getattr__(self, name):
        return getattr(_dt, name)


@dataclass
class Scheduler:
    """Runs jobs at their times until stopped. ``clock`` returns the machine's local (naive) time."""

    jobs: list[Job]
    out: Callable[[str], None] = print
    err: Callable[[str], None] = print
    clock: Callable[[], _dt.datetime] | None = None
    sleep: Callable[[float], None] | None = None
    max_iterations: int | None = None
    tick: float = 5.0  # the longest sleep without looking at the stop flag
    quiet: bool = False
    verbose: bool = False
    status: Callable[[str], None] | None = None  # a progress line (a terminal only)
    stop_reason: str = ""
    runs: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._sched = schedule.Scheduler()
        self._wake = threading.Event()
        self._by_name: dict[str, schedule.Job] = {}
        self._stopping = False

    # -- stopping -------------------------------------------------------------------------

    def request_stop(self, reason: str) -> None:
        self._stopping = True
        self.stop_reason = reason
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stopping

    @contextmanager
    def signals(self) -> Iterator[None]:
        """SIGTERM and Ctrl-C stop the loop between jobs; a second Ctrl-C aborts at once."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def on_term(signum, frame):
            self.request_stop("SIGTERM")

        def on_int(signum, frame):
            if self._stopping:
                raise KeyboardInterrupt
            self.request_stop("Ctrl-C")
            self.err("Stopping after the current job (Ctrl-C again to abort now)…")

        old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_int)
        try:
            yield
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)

    # -- time ---------------------------------------------------------------------------------

    @contextmanager
    def _time(self) -> Iterator[None]:
        if self.clock is None:
            yield
            return
        real = schedule.datetime
        schedule.datetime = _ClockModule(self.clock)
        try:
            yield
        finally:
            schedule.datetime = real

    def _now(self) -> _dt.datetime:
        return self.clock() if self.clock else _dt.datetime.now()

    def _sleep(self, seconds: float) -> None:
        if self.sleep is not None:
            self.sleep(seconds)
        else:
            self._wake.wait(seconds)

    def _local_time_of(self, hhmm_ist: str) -> str:
        """The machine's local HH:MM that is ``hhmm_ist`` in India today."""
        today = self._now().astimezone(IST).date()
        at = _dt.datetime.combine(today, parse_hhmm(hhmm_ist), IST)
        return at.astimezone(self._now().astimezone().tzinfo).strftime(_HHMM)

    # -- running -----------------------------------------------------------------------------

    def _register(self) -> None:
        for job in self.jobs:
            if job.daily_at_ist:
                entry = self._sched.every().day.at(self._local_time_of(job.daily_at_ist))
            else:
                entry = self._sched.every(job.every_minutes).minutes
            self._by_name[job.name] = entry.do(self._runner(job))

    def next_runs(self) -> dict[str, _dt.datetime]:
        """Each job's next run, in IST."""
        return {name: entry.next_run.astimezone(IST) for name, entry in self._by_name.items()
                if entry.next_run is not None}

    def describe(self) -> list[str]:
        nexts = self.next_runs()
        width = max((len(j.name) for j in self.jobs), default=4)
        lines = []
        for job in self.jobs:
            detail = f" ({job.detail})" if job.detail else ""
            when = f"{job.when}{detail}"
            nxt = nexts.get(job.name)
            lines.append(f"  {job.name:<{width}}  {when:<44} next {to_sheet(nxt) if nxt else '?'}")
        return lines

    def _runner(self, job: Job) -> Callable[[], None]:
        def run() -> None:
            if self._stopping:
                return  # stopping: no new job starts
            if job.monthly and self._now().astimezone(IST).day != 1:
                return
            started = time.monotonic()
            stamp = to_sheet(self._now().astimezone(IST))
            self.runs[job.name] = self.runs.get(job.name, 0) + 1
            try:
                line = job.func()
            except Busy as exc:
                self._say(self.err, f"{stamp} {job.name} skipped: {exc}")
            except SheetsSyncError as exc:
                self.failures[job.name] = self.failures.get(job.name, 0) + 1
                self._say(self.err, f"{stamp} {job.name} failed (exit {exc.exit_code}): {exc}")
            except Exception as exc:  # noqa: BLE001 - one broken job must not stop the others
                self.failures[job.name] = self.failures.get(job.name, 0) + 1
                self._say(self.err, f"{stamp} {job.name} failed unexpectedly: {type(exc).__name__}: {exc}"
                          + ("" if self.verbose else " (run with --verbose for the traceback)"))
                if self.verbose:
                    self._say(self.err, traceback.format_exc().rstrip())
            else:
                if not self.quiet:
                    self._say(self.out, f"{stamp} {job.name} ok ({time.monotonic() - started:.1f} s): {line}")
            if job.daily_at_ist:
                # Summer time on the machine (not in India) would move the local hour.
                self._by_name[job.name].at_time = parse_hhmm(self._local_time_of(job.daily_at_ist))

        return run

    def _say(self, stream: Callable[[str], None], line: str) -> None:
        if self.status is not None:
            self.status("")
        stream(line)

    def run(self, *, run_now: bool = False, on_start: Callable[[list[str]], None] | None = None) -> None:
        """Loop until stopped (or ``max_iterations`` rounds). Never raises for a failing job."""
        with self._time():
            self._register()
            if on_start is not None:
                on_start(self.describe())
            if run_now:
                for job in self.jobs:
                    if job.every_minutes and not self._stopping:
                        self._by_name[job.name].run()
            iterations = 0
            while not self._stopping:
                for entry in sorted(e for e in self._sched.jobs if e.should_run):
                    if self._stopping:
                        break
                    entry.run()
                iterations += 1
                if self._stopping or (self.max_iterations is not None and iterations >= self.max_iterations):
                    break
                idle = self._sched.idle_seconds
                wait = max(0.0, idle if idle is not None else self.tick)
                if self.status is not None:
                    nxt = min(self.next_runs().items(), key=lambda kv: kv[1], default=None)
                    if nxt:
                        self.status(f"next: {nxt[0]} at {nxt[1]:%H:%M} IST "
                                    f"(in {max(wait, 0) / 60:.0f} min) — Ctrl-C to stop")
                self._sleep(min(wait, self.tick) if self.sleep is None else wait)
        if self.status is not None:
            self.status("")


__all__ = ["Job", "JobContext", "ScheduleConfig", "Scheduler", "build_jobs", "load_schedule_config",
           "overdue_job", "report_job", "sync_job"]
