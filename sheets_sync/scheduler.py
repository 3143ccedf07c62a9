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
from dataclasses import dataclass, field, replace
from pathlib import Path

import schedule

from sheets_sync.errors import Busy, ConfigError, SheetsSyncError
from sheets_sync.timeutil import IST, to_sheet
from sheets_sync.yamlfile import load_yaml

log = logging.getLogger("sheets_sync.scheduler")
DEFAULT_CONFIG = Path("schedule.yaml")
_HHMM = "%H:%M"


# --- configuration -----------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleConfig:
    """What runs when. ``0`` minutes or a ``None`` time turns a job off."""

    tracker: str | None = None
    source: str | None = None
    sync_every_minutes: int = 15
    overdue_every_minutes: int = 60
    report_at: str | None = "09:00"  # IST, every day
    report_email: bool = True
    include_empty: bool = False
    # The archive (``archive``): on the 1st of every month at this IST time, or None (off).
    archive_at: str | None = "03:00"
    path: Path | None = None  # the file it came from, for messages

    def with_options(self, **options) -> ScheduleConfig:
        """Command-line options win over the file; None means "not given"."""
        return replace(self, **{k: v for k, v in options.items() if v is not None})


def load_schedule_config(path: Path | str | None = None) -> ScheduleConfig:
    """Read ``schedule.yaml`` (a missing default file means the defaults); every problem with its line."""
    if path is None:
        if not DEFAULT_CONFIG.exists():
            return ScheduleConfig()
        path = DEFAULT_CONFIG
    path = Path(path)
    data, loc = load_yaml(path, "schedule configuration")
    if data is None:
        return ScheduleConfig(path=path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the schedule must be a mapping with sync, overdue and report")
    problems: list[str] = []

    def problem(keys: tuple, text: str) -> None:
        problems.append(f"{loc.where(*keys)}: {text}")

    known = {"tracker", "source", "sync", "overdue", "report", "archive"}
    for key in data:
        if key not in known:
            problem((key,), f"unknown setting {key!r}; known: {', '.join(sorted(known))}")
    kw: dict = {"path": path, **_texts(data, problem)}
    for job in ("sync", "overdue"):
        kw.update(_every(data, job, problem))
    kw.update(_report_settings(data, problem))
    kw.update(_archive_settings(data, problem))
    if problems:
        raise ConfigError(problems[0] if len(problems) == 1 else
                          f"{path}: {len(problems)} problems: " + "; ".join(problems))
    return ScheduleConfig(**kw)


def _texts(data: dict, problem) -> dict:
    """tracker: and source:, as text."""
    out = {}
    for key in ("tracker", "source"):
        if data.get(key) is not None:
            if not isinstance(data[key], str) or not data[key].strip():
                problem((key,), f"{key} must be text")
            else:
                out[key] = data[key].strip()
    return out


def _every(data: dict, job: str, problem) -> dict:
    """A job's every_minutes: (sync or overdue): minutes, 0 or off turning it off."""
    section = _section(data, job, ("every_minutes",), problem)
    if "every_minutes" not in section:
        return {}
    minutes = section["every_minutes"]
    if minutes is False or minutes == "off":
        minutes = 0
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= 24 * 60:
        problem((job, "every_minutes"), f"{job}: every_minutes must be a whole number of minutes "
                "from 1 to 1440, or 0 (off)")
        return {}
    return {f"{job}_every_minutes": minutes}


def _report_settings(data: dict, problem) -> dict:
    """The report: section: at (an IST time, or off), email and include_empty."""
    report = _section(data, "report", ("at", "email", "include_empty"), problem)
    out: dict = {}
    if "at" in report:
        at = report["at"]
        if at in (None, False, "off"):
            out["report_at"] = None
        elif not isinstance(at, str) or parse_hhmm(at) is None:
            problem(("report", "at"), f"report: at {at!r} must be an IST time in quotes, e.g. \"09:00\", "
                    "or off")
        else:
            out["report_at"] = at.strip()
    for key, name in (("email", "report_email"), ("include_empty", "include_empty")):
        if key in report:
            if not isinstance(report[key], bool):
                problem(("report", key), f"report: {key} must be true or false")
            else:
                out[name] = report[key]
    return out


def _archive_settings(data: dict, problem) -> dict:
    """The archive: section: at (an IST time on the 1st of each month, or off)."""
    section = _section(data, "archive", ("at",), problem)
    if "at" not in section:
        return {}
    at = section["at"]
    if at in (None, False, "off"):
        return {"archive_at": None}
    if not isinstance(at, str) or parse_hhmm(at) is None:
        problem(("archive", "at"), f"archive: at {at!r} must be an IST time in quotes, e.g. \"03:00\", "
                "or off")
        return {}
    return {"archive_at": at.strip()}


def _section(data: dict, name: str, keys: tuple[str, ...], problem) -> dict:
    section = data.get(name)
    if section is None:
        return {}
    if not isinstance(section, dict):
        problem((name,), f"{name} must be a mapping ({', '.join(keys)})")
        return {}
    for key in section:
        if key not in keys:
            problem((name, key), f"{name}: unknown setting {key!r}; known: {', '.join(keys)}")
    return section


def parse_hhmm(text: str) -> _dt.time | None:
    try:
        return _dt.datetime.strptime(text.strip(), _HHMM).time()
    except (ValueError, AttributeError):
        return None


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


def build_jobs(config: ScheduleConfig, ctx: JobContext) -> list[Job]:
    """The jobs a configuration asks for, each calling the library under the run lock."""
    jobs = []
    if config.sync_every_minutes:
        jobs.append(Job("sync", lambda: sync_job(ctx), every_minutes=config.sync_every_minutes,
                        detail=f"source {ctx.source or 'the sample exports'}"))
    if config.overdue_every_minutes:
        jobs.append(Job("overdue", lambda: overdue_job(ctx), every_minutes=config.overdue_every_minutes))
    if config.report_at:
        email, empty = config.report_email, config.include_empty
        jobs.append(Job("report", lambda: report_job(ctx, email=email, include_empty=empty),
                        daily_at_ist=config.report_at,
                        detail=("e-mail on" + (", empty lists too" if empty else "")) if email
                        else "e-mail off"))
    if config.archive_at:
        jobs.append(Job("archive", lambda: archive_job(ctx), daily_at_ist=config.archive_at, monthly=True,
                        detail="closed comments older than archive.after_days"))
    return jobs


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
