"""The jobs a person, cron or the scheduler runs: each opens the tracker, takes its
run lock when it writes, does one thing and returns what it did.

The CLI parses options, calls one job and prints its result; the scheduler calls
the same jobs. Nothing here knows click. A new step of a run belongs in
:func:`sheets_sync.sync.run_sync`; a new command, here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sheets_sync.backends import open_backend
from sheets_sync.backends.base import Backend
from sheets_sync.deadlines import CommentDeadline
from sheets_sync.errors import ConfigError
from sheets_sync.runlock import RunLock, run_lock
from sheets_sync.schema import Schema, load_schema
from sheets_sync.sync import SyncResult, init_tracker, run_sync
from sheets_sync.timeutil import now_ist


def open_sources(spec: str | None):
    """The ``--source`` factory, loaded on first use: code that only plans or reports
    never loads the platforms' modules and their HTTP stack."""
    from sheets_sync.sources.registry import open_sources as factory

    return factory(spec)


@dataclass(frozen=True)
class Tracker:
    """Which tracker, and the files it is read with: what every job needs."""

    location: str | None = None  # --tracker: a workbook path, or a spreadsheet id or URL
    schema_path: str | None = None
    roster_path: str | None = None
    credentials: str | None = None
    #: May :func:`sync` make the workbook when it does not exist? Only for the README's
    #: first ``python cli.py sync`` on the default path (``init`` always may); every
    #: other job stops (exit 2) rather than fill a mistyped path.
    create: bool = False

    def open(self, *, create: bool = False) -> tuple[Backend, Schema]:
        """The schema (checked first: a broken one stops before the tracker is touched)
        and the backend."""
        schema = load_schema(self.schema_path)
        return open_backend(self.location, credentials=self.credentials, create=create), schema


def lock(backend: Backend, command: str) -> RunLock:
    """The run lock of a backend's tracker (one writer at a time), not yet taken."""
    return run_lock(backend.location, command)


def open_publishers(spec: str | None):
    """The platforms' publishers (``--platform``), loaded on first use; the write tokens
    are the publishers' (sheets_sync/publish/registry.py)."""
    try:
        from sheets_sync.publish.registry import open_publishers as factory
    except ImportError:
        raise ConfigError("publishing on the platforms is not part of this installation "
                          "(sheets_sync/publish/registry.py is missing)") from None
    names = [n.strip().lower() for n in (spec or "all").split(",") if n.strip()]
    return factory(None if not names or "all" in names else names)


def sync(tracker: Tracker, source: str | None = None, *, now: datetime | None = None,
         dry_run: bool = False, command: str = "sync", publishers=None) -> SyncResult:
    """New posts and comments from ``source`` (default: the sample exports), overdue
    flags and the departments' tabs; with ``publishers`` (by platform, or a list), the
    approved replies published after that. A dry run takes no lock and writes nothing."""
    backend, schema = tracker.open(create=tracker.create and not dry_run)
    sources = open_sources(source)
    if dry_run:
        return run_sync(backend, sources, schema, roster_path=tracker.roster_path, now=now, dry_run=True,
                        publishers=publishers)
    with lock(backend, command):
        return run_sync(backend, sources, schema, roster_path=tracker.roster_path, now=now,
                        publishers=publishers)


def publish(tracker: Tracker, publishers, *, now: datetime | None = None, dry_run: bool = False,
            sleep=None) -> SyncResult:
    """Post the approved replies and hide the comments set to Hide, exactly once (the
    departments' tabs and flags are brought up to date in the same run, as ``tabs`` does).
    A dry run reads, asks the platforms nothing but look-ups, and writes nothing."""
    backend, schema = tracker.open()
    if dry_run:
        return run_sync(backend, [], schema, roster_path=tracker.roster_path, now=now, dry_run=True,
                        command="publish", publishers=publishers, sleep=sleep)
    with lock(backend, "publish"):
        return run_sync(backend, [], schema, roster_path=tracker.roster_path, now=now, command="publish",
                        publishers=publishers, sleep=sleep)


def replies(tracker: Tracker, *, now: datetime | None = None):
    """The queue of replies as the last publishing run left it; read only."""
    from sheets_sync.reply_queue import read_queue

    backend, schema = tracker.open()
    return read_queue(backend, schema, now or now_ist())


def init(tracker: Tracker) -> tuple[str, list[str]]:
    """Create or repair the tabs, headers and roster: (where, what was done)."""
    backend, schema = tracker.open(create=True)
    with lock(backend, "init"):
        return backend.location, init_tracker(backend, schema, tracker.roster_path)


def tabs(tracker: Tracker, *, now: datetime | None = None) -> SyncResult:
    """Carry what people typed in the departments' tabs, flag overdue, rebuild the tabs."""
    backend, schema = tracker.open()
    with lock(backend, "tabs"):
        return run_sync(backend, [], schema, roster_path=tracker.roster_path, now=now, command="tabs")


def archive(tracker: Tracker, *, now: datetime | None = None, dry_run: bool = False, stores=None):
    """Move closed comments older than ``archive.after_days`` (with their posts once all
    their comments have gone) and Sync Log rows older than ``archive.log_days`` to each
    year's archive; a dry run reads and says what would move, and writes nothing.
    Returns an :class:`~sheets_sync.archive_run.ArchiveResult` (``counts``: (tab, year) → rows)."""
    from sheets_sync.archive_plan import archive_settings
    from sheets_sync.archive_run import archive_stores, run_archive
    from sheets_sync.sync import run_by

    backend, schema = tracker.open()
    archive_settings(schema)  # a bad setting stops before the lock is taken
    kwargs = {"now": now, "stores": stores or archive_stores, "run_by": run_by()}
    if dry_run:
        return run_archive(backend, schema, dry_run=True, **kwargs)
    with lock(backend, "archive"):
        return run_archive(backend, schema, **kwargs)


def archive_restore(tracker: Tracker, ids: Sequence[str], *, now: datetime | None = None, stores=None):
    """Bring archived comments back into the tracker by comment id (their posts too)."""
    from sheets_sync.archive_run import archive_stores, run_restore
    from sheets_sync.sync import run_by

    backend, schema = tracker.open()
    with lock(backend, "archive"):
        return run_restore(backend, schema, ids, now=now, stores=stores or archive_stores, run_by=run_by())


@dataclass
class Overdue:
    location: str
    as_of: datetime
    deadlines: list[CommentDeadline]  # every comment's deadline state at ``as_of``
    snapshot: object  # report.TrackerSnapshot: the roster and the read's warnings


def overdue(tracker: Tracker, *, now: datetime | None = None, flags: bool = True,
            command: str = "overdue", departments: Sequence[str] = ()) -> Overdue:
    """Flag overdue comments (unless ``flags`` is false: read only) and evaluate every
    comment's deadline at ``now``; with ``departments`` (codes or names), only theirs,
    and an unknown one stops the job before anything is written."""
    from sheets_sync.report import load_deadlines
    from sheets_sync.worklist import departments_wanted

    when = now or now_ist()
    backend, schema = tracker.open()
    if flags and departments:
        # Checked before the flags are written: a mistyped code changes nothing.
        snap, _ = load_deadlines(backend, schema, when, roster_path=tracker.roster_path)
        departments_wanted(departments, snap.roster)
    if flags:
        with lock(backend, command):
            run_sync(backend, [], schema, roster_path=tracker.roster_path, now=when, command="overdue")
            snap, deadlines = load_deadlines(backend, schema, when, roster_path=tracker.roster_path)
    else:
        snap, deadlines = load_deadlines(backend, schema, when, roster_path=tracker.roster_path)
    if departments:
        codes = set(departments_wanted(departments, snap.roster))
        deadlines = [d for d in deadlines if d.department in codes]
    return Overdue(backend.location, when, deadlines, snap)


@dataclass
class Pending:
    location: str
    as_of: datetime
    departments: list[str]  # the codes asked for, in their order
    comments: list[CommentDeadline]  # their open comments, department by department, most urgent first
    snapshot: object  # report.TrackerSnapshot


def pending(tracker: Tracker, departments: Sequence[str], *, now: datetime | None = None) -> Pending:
    """The open comments of ``departments`` (codes or names) at ``now``, in the order of
    their tabs; read only. An unknown department is a ConfigError naming the closest codes."""
    from sheets_sync.report import load_deadlines
    from sheets_sync.worklist import departments_wanted, pending_of

    when = now or now_ist()
    backend, schema = tracker.open()
    snap, deadlines = load_deadlines(backend, schema, when, roster_path=tracker.roster_path)
    codes = departments_wanted(departments, snap.roster)
    return Pending(backend.location, when, codes, pending_of(deadlines, codes), snap)


@dataclass
class ReportRun:
    report: object  # report.Report
    snapshot: object  # report.TrackerSnapshot
    delivery: object | None  # emailer.Delivery, when e-mailed


def report(tracker: Tracker, *, now: datetime | None = None, since: datetime | None = None,
           until: datetime | None = None, write_tab: bool = True, email=None,
           include_empty: bool = False, resend: bool = False, command: str = "report",
           before_email=None) -> ReportRun:
    """The period's report; the Report tab updated unless ``write_tab`` is false; e-mailed
    with ``email`` (emailer.SmtpSettings). ``before_email(report)`` runs before sending
    (the CLI prints there, so the report shows even when some e-mails fail)."""
    from sheets_sync.report import run_report

    when = now or now_ist()
    backend, schema = tracker.open()
    writes = write_tab or email is not None
    held = lock(backend, command) if writes else None
    if held:
        held.acquire()
    try:
        result, snap = run_report(backend, schema, when, since=since, until=until,
                                  roster_path=tracker.roster_path, write_tab=write_tab)
        if before_email is not None:
            before_email(result)
        delivery = None
        if email is not None:
            from sheets_sync.emailer import email_reports

            delivery = email_reports(backend, schema, result, snap, email, include_empty=include_empty,
                                     resend=resend)
    finally:
        if held:
            held.release()
    return ReportRun(result, snap, delivery)


def mail(tracker: Tracker, fetch, *, now: datetime | None = None, send=None, dry_run: bool = False,
         checkpoint_key: str = "mail"):
    """The cell's mailbox: new messages filed as requests, approvals, changes asked,
    suggestions (or ignored, with the reason), then the e-mails the requests ask for.
    ``fetch(checkpoint) -> (mails, checkpoint)`` reads the mailbox (called under the run
    lock); ``send`` is the emailer's SmtpSettings (None: nothing sent this run). A dry run
    takes no lock, fetches, and writes and sends nothing."""
    from sheets_sync.content_run import run_mail
    from sheets_sync.sync import run_by

    backend, schema = tracker.open()
    if dry_run:
        return run_mail(backend, schema, fetch, now=now, roster_path=tracker.roster_path, dry_run=True,
                        checkpoint_key=checkpoint_key)
    with lock(backend, "mail"):
        return run_mail(backend, schema, fetch, now=now, smtp=send, roster_path=tracker.roster_path,
                        run_by=run_by(), checkpoint_key=checkpoint_key)


def digest(tracker: Tracker, *, now: datetime | None = None, send=None, dry_run: bool = False):
    """Each department's daily supervision e-mail about the day before ``now`` (nothing for a
    quiet department), sent once a day (``send``: the emailer's SmtpSettings)."""
    from sheets_sync.digest import run_digest
    from sheets_sync.sync import run_by

    backend, schema = tracker.open()
    if dry_run or send is None:
        return run_digest(backend, schema, now=now, roster_path=tracker.roster_path, dry_run=True)
    with lock(backend, "digest"):
        return run_digest(backend, schema, now=now, smtp=send, roster_path=tracker.roster_path,
                          run_by=run_by())


def content(tracker: Tracker):
    """The requests of the Content tab as they stand (code → row); read only."""
    from sheets_sync.content_run import read_content

    backend, schema = tracker.open()
    with backend.open(schema, write=False) as session:
        got = read_content(session, schema, tracker.roster_path, names=("content",), dry_run=True)
    return backend.location, got.records["content"], got.roster


__all__ = ["Overdue", "Pending", "ReportRun", "Tracker", "archive", "archive_restore", "content", "digest",
           "init", "lock", "mail", "open_publishers", "open_sources", "overdue", "pending", "publish",
           "replies", "report", "sync", "tabs"]
