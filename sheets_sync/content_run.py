"""A ``mail`` run: read the tracker, fetch the new messages, plan, apply in one write, send.

In order (:func:`run_mail`); the caller holds the run lock, so no other run
fetches the same messages or sends the same e-mails meanwhile:

1. the tabs the pipeline writes made where missing (a tracker made before it);
2. the Sync State and Departments tabs: the mailbox's checkpoint and the roster;
3. the fetch, from that checkpoint;
4. the lock on the tabs the write changes, then their read;
5. :func:`sheets_sync.content.plan_mail`, pure;
6. one ``apply``: the rows, the Mail Log, the checkpoint and the run's Sync Log row
   together — a run that dies before it fetches again from the old checkpoint,
   and what it had read is filed once (the Mail Log's keys and Message-IDs);
7. the e-mails the rows ask for (:func:`sheets_sync.content_mail.outbox`), and one
   more write: the Sync Log row of what was delivered.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sheets_sync.backends.base import Backend, TrackerSession
from sheets_sync.content import MAIL_SOURCE, MailPlan, plan_mail, view_from_read
from sheets_sync.content_filing import APPROVAL, CHANGES, FOLLOW_UP
from sheets_sync.content_mail import delivered, delivery_row, outbox
from sheets_sync.content_settings import content_settings
from sheets_sync.emailer import Delivery, Outgoing, SmtpFactory, connect, send_messages
from sheets_sync.errors import ConfigError, DeliveryError, TrackerError
from sheets_sync.mail.message import Mail
from sheets_sync.roster import Roster
from sheets_sync.schema import Schema
from sheets_sync.table import AddRow, Conflict, Record, Table, UpdateRow, require_headers
from sheets_sync.timeutil import IST, now_ist, to_sheet

CONTENT_TABS = ("content", "mail_log", "supervision")
# The mailbox reader: (checkpoint or None) → (the messages after it, the new checkpoint), or
# an object with ``mails``, ``checkpoint`` and ``warnings`` (sheets_sync.mail.imap.MailBatch).
Fetch = Callable[[str | None], "tuple[Sequence[Mail], str] | object"]


@dataclass
class MailRun:
    location: str
    plan: MailPlan
    messages: list[Outgoing]  # what the rows ask to send (all of it in a dry run)
    delivery: Delivery | None = None  # None: nothing sent (dry run, or no mail server set)
    dry_run: bool = False
    structure: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        out = {"tracker": self.location, "dry_run": self.dry_run, **self.plan.summary()}
        out["to_send"] = [{"key": m.key, "to": list(m.recipients), "subject": m.subject}
                          for m in self.messages]
        if self.delivery is not None:
            out["sent"] = [f"{k}→{a}" for k, a in self.delivery.sent]
            out["failed"] = [f"{k}→{a}: {why}" for k, a, why in self.delivery.failed]
        out["warnings"] = list(self.warnings)
        return out


def content_records(table: Table, tab, *, optional: bool = False) -> list[Record]:
    if not table.header:
        if optional:
            return []
        raise TrackerError(f"tab {tab.title!r} is missing; run `python cli.py init` to add it")
    require_headers(table, tab)
    return table.records(tab)


@dataclass
class ContentRead:
    records: dict[str, list[Record]]  # the pipeline's tabs, by name
    roster: Roster
    checkpoints: dict[str, str]
    sync_log: list[Record]
    warnings: list[str]
    dates_month_first: bool  # the Content tab showed its dates month first (table.Table)


def read_content(session: TrackerSession, schema: Schema, roster_path, *, names=CONTENT_TABS,
                 dry_run: bool = False) -> ContentRead:
    """The pipeline's tabs, the roster and the checkpoints as the tracker holds them."""
    from sheets_sync.sync import _checkpoints, tracker_roster

    read = session.read([*names, "sync_state", "departments", "sync_log"])
    records = {n: content_records(read[n], schema.tab(n), optional=dry_run) for n in names}
    roster, warnings = tracker_roster(read["departments"], schema, roster_path, is_new=session.is_new())
    sync_log = read["sync_log"].records(schema.tab("sync_log")) if read["sync_log"].header else []
    return ContentRead(records, roster, _checkpoints(read["sync_state"], schema), sync_log, warnings,
                       read["content"].dates_month_first)


def run_mail(backend: Backend, schema: Schema, fetch: Fetch, *, now: datetime | None = None,
             smtp=None, roster_path=None, dry_run: bool = False, factory: SmtpFactory = connect,
             run_by: str = "", checkpoint_key: str = MAIL_SOURCE) -> MailRun:
    """File the mailbox's new messages and send what the requests ask for (``smtp``: the
    emailer's SmtpSettings; None sends nothing, and the next run with it sends)."""
    from sheets_sync.sync import cell_editors

    started = time.monotonic()
    now = now or now_ist()
    settings = content_settings(schema)  # a wrong setting stops before anything is read
    structure: list[str] = []
    with backend.open(schema, write=not dry_run) as session:
        if session.is_new():
            raise TrackerError(f"{backend.location} has no tabs yet; run `python cli.py init` first")
        if not dry_run:
            structure = session.ensure_structure(only=list(CONTENT_TABS), cell_editors=cell_editors(schema))
        from sheets_sync.sync import _checkpoints

        # The checkpoint before the fetch (the run lock keeps other runs out meanwhile).
        checkpoints = _checkpoints(session.read(["sync_state"])["sync_state"], schema)
        mails, checkpoint, fetched = _fetch(fetch, checkpoints.get(checkpoint_key) or None)
        if not dry_run:
            session.lock([*CONTENT_TABS, "sync_state"])
        got = read_content(session, schema, roster_path, dry_run=dry_run)
        roster, sync_log, warnings = got.roster, got.sync_log, got.warnings
        view = view_from_read(got.records, roster, got.checkpoints, dates_month_first=got.dates_month_first)
        cell = tuple(getattr(smtp, "cell", ()) or ())
        warnings += fetched
        plan = plan_mail(view, list(mails), checkpoint, settings, now, cell_limit=session.cell_limit,
                         checkpoint_key=checkpoint_key)
        conflicts = []
        if not dry_run:
            session.apply([*plan.changes, _log_row(plan, now, time.monotonic() - started, run_by)])
            conflicts = list(session.conflicts)
    changed: set[str] = set()
    if conflicts:
        conflicts = _again_by_key(backend, schema, conflicts)
        changed = {c.change.key[0] for c in conflicts}
    if conflicts:
        warnings += _settle(backend, schema, conflicts, plan)
    # A request a person changed meanwhile sends nothing now: the next run plans it from
    # what they typed (its e-mail intents were not written either).
    requests = {k: v for k, v in plan.requests.items() if k not in changed}
    messages, unaddressed = outbox(requests, roster, settings, cell, now)
    warnings += unaddressed
    run = MailRun(backend.location, plan, messages, None, dry_run, structure, warnings)
    if dry_run or smtp is None:
        return run
    run.delivery = send_messages(messages, smtp, now.astimezone(IST).date(), skip=delivered(sync_log, "mail"),
                                 factory=factory)
    if run.delivery.sent or run.delivery.failed:
        with backend.open(schema, write=True) as session:
            session.apply([delivery_row(run.delivery, command="mail", now=now,
                                        seconds=time.monotonic() - started, run_by=run_by)])
    return run


def _again_by_key(backend: Backend, schema: Schema, conflicts: Sequence[Conflict]) -> list[Conflict]:
    """The updates that landed nowhere because the owner sorted the rows meanwhile, written
    again by key on a fresh read (the guarded ones still only while their row holds what the
    run read); the conflicts that remain."""
    moved = [c.change for c in conflicts if c.moved]
    if not moved:
        return list(conflicts)
    with backend.open(schema, write=True) as session:
        session.read(["content"])
        session.apply(moved)
        again = list(session.conflicts)
    return [*(c for c in conflicts if not c.moved), *again]


def _settle(backend: Backend, schema: Schema, conflicts: Sequence[Conflict], plan: MailPlan) -> list[str]:
    """Say, in each request's row and as the run's warnings, what the run decided and did
    not write because a person changed the row meanwhile; a mail's answer that could not be
    applied is kept in the row's Later e-mails, for good (the mail is not read again). What
    a mail brought that landed nowhere (the owner sorted the rows meanwhile) is written
    again, by key."""
    tab = schema.tab("content")
    columns = {c.field for c in tab.columns}
    warnings: list[str] = []
    by_key: dict[tuple, dict] = {}
    for conflict in sorted(conflicts, key=lambda c: bool(c.change.guard)):  # facts first
        values = by_key.setdefault(tuple(conflict.change.key), {})
        if not conflict.change.guard:
            values.update(conflict.change.values)
            continue
        code = conflict.change.key[0]
        meant = ", ".join(f"{tab.header_of(f)} → {v or '(empty)'}" for f, v in conflict.change.values.items()
                          if f != "sync_notes" and f in columns)
        if conflict.moved:
            changed = "the Content tab's rows were moved (sorted?) during the run"
            why = "its rows were moved"
        else:
            header = tab.header_of(conflict.column)
            changed = f"{header} was changed to {conflict.now!r} during the run (it read " \
                      f"{conflict.change.guard[conflict.column]!r})"
            why = f"its {header} was {conflict.now!r} by then"
        warnings.append(f"{code}: {changed}: the run's {meant} not written; the next run plans again")
        values["sync_notes"] = f"not written: {changed}; the run meant {meant}; the next run plans again"
        later = values.get("follow_ups", plan.requests.get(code, {}).get("follow_ups", ""))
        for f in plan.filed:
            if f.filing.code == code and f.filing.kind in (APPROVAL, CHANGES, FOLLOW_UP):
                entry = (f"{to_sheet(f.mail.received)} {f.mail.sender}: {f.filing.filed_as} not applied to "
                         f"this row, {why} (see the Mail Log)")
                later = f"{later}\n{entry}" if later.strip() else entry
                values["follow_ups"] = later
    with backend.open(schema, write=True) as session:
        session.read(["content"])
        session.apply([UpdateRow("content", key, values, "conflict") for key, values in by_key.items()])
    return warnings


def smtp_or_none(environ=None):
    """The mail server's settings, or None (with the reason) when none is set up: the
    requests are still filed, and the next run with a server sends what waits."""
    from sheets_sync.emailer import SmtpSettings

    env = os.environ if environ is None else environ
    if not (env.get("SHEETS_SYNC_SMTP_HOST") or "").strip():
        return None, ("no e-mail sent: SHEETS_SYNC_SMTP_HOST is not set (the acknowledgements and "
                      "approval requests wait for a run that has it)")
    return SmtpSettings.from_env(env), ""


def imap_fetcher(tracker: str, *, credentials: str | None = None, dry_run: bool = False, environ=None):
    """The real mailbox (sheets_sync.mail.imap), loaded on first use: (fetch, checkpoint key).

    Attachments go to a folder on this machine (``SHEETS_SYNC_ATTACHMENTS_DIR``, by default
    ``attachments`` beside a workbook); on the Google backend, unless that is set, to a Drive
    folder (``SHEETS_SYNC_ATTACHMENTS_DRIVE_FOLDER``, or one the job makes and shares)."""
    from dataclasses import replace

    try:
        from sheets_sync.mail.imap import fetch_new
        from sheets_sync.mail.settings import ImapSettings
    except ImportError:
        raise ConfigError("reading the mailbox is not part of this installation "
                          "(sheets_sync/mail/imap.py is missing)") from None
    env = os.environ if environ is None else environ
    drive = (env.get("SHEETS_SYNC_ATTACHMENTS_DRIVE_FOLDER") or "").strip()
    local = (env.get("SHEETS_SYNC_ATTACHMENTS_DIR") or "").strip()
    workbook = tracker.lower().strip().endswith(".xlsx")
    if drive and local:
        raise ConfigError("both SHEETS_SYNC_ATTACHMENTS_DRIVE_FOLDER and SHEETS_SYNC_ATTACHMENTS_DIR are "
                          "set; keep one (a Drive folder, or a folder on this machine)")
    if drive and workbook:
        raise ConfigError("SHEETS_SYNC_ATTACHMENTS_DRIVE_FOLDER is for a Google tracker; with a workbook, "
                          "set SHEETS_SYNC_ATTACHMENTS_DIR (or nothing: `attachments` beside it)")
    beside = Path(tracker).resolve().parent / "attachments" if workbook else None
    settings = ImapSettings.from_env(env, default_attachments_dir=beside)
    if not workbook and not local:
        from sheets_sync.backends import spreadsheet_id
        from sheets_sync.backends.gsheets.attachments import DriveStore, folder_id

        if drive:
            folder_id(drive)  # a setting that is no folder id stops here, before anything is read
        sid = spreadsheet_id(tracker)
        if sid is not None:
            settings = replace(settings, store=DriveStore(sid, credentials=credentials, folder=drive,
                                                          dry_run=dry_run))
    return (lambda checkpoint: fetch_new(settings, checkpoint)), settings.checkpoint_key


def _fetch(fetch: Fetch, checkpoint: str | None) -> tuple[list[Mail], str, list[str]]:
    got = fetch(checkpoint)
    if hasattr(got, "mails"):
        return list(got.mails), got.checkpoint, list(getattr(got, "warnings", []) or [])
    mails, new = got
    return list(mails), new, []


def _log_row(plan: MailPlan, now: datetime, seconds: float, run_by: str) -> AddRow:
    ignored = [f"ignored {f.mail.sender}: {f.filing.reason}" for f in plan.filed
               if f.filing.kind == "ignored"]
    filed = [f"{f.mail.key} → {f.filing.filed_as}" for f in plan.filed if f.filing.kind != "ignored"]
    text = "; ".join([*filed, *ignored, *plan.notes])
    return AddRow("sync_log", {
        "run_at": to_sheet(now), "command": "mail", "source": "mailbox", "rows_updated": len(plan.filed),
        "held": len(ignored), "errors": text[:30_000], "seconds": round(seconds, 1), "run_by": run_by})


# --- the scheduler's jobs (scheduler.build_jobs) --------------------------------------------------


def _scheduled_tracker(ctx):
    from sheets_sync.jobs import Tracker

    return Tracker(ctx.tracker, ctx.schema_path, ctx.roster_path, ctx.credentials)


def _pairs(failed) -> str:
    return ", ".join(f"{k}→{a}" for k, a, _ in failed)


def mail_job(ctx) -> str:
    """The cell's mailbox filed, and what the requests ask sent (sheets_sync.content_run)."""
    from sheets_sync import jobs

    fetch, key = imap_fetcher(ctx.tracker, credentials=ctx.credentials)
    smtp, why = smtp_or_none()
    run = jobs.mail(_scheduled_tracker(ctx), fetch, send=smtp, checkpoint_key=key)
    s = run.summary()
    line = (f"{s['read'] - s['already_read']} message(s) filed: {s['requests']} request(s), {s['approvals']} "
            f"approval(s), {s['changes_asked']} changes asked, {s['suggestions']} suggestion(s), "
            f"{len(s['ignored'])} ignored")
    if run.delivery is not None:
        line += f"; {len(run.delivery.sent)} e-mail(s) sent"
        if run.delivery.failed:
            raise DeliveryError(line + "; not sent: " + _pairs(run.delivery.failed))
    return line + (f"; {why}" if why else "")


def digest_job(ctx) -> str:
    from sheets_sync import jobs
    from sheets_sync.emailer import SmtpSettings

    run = jobs.digest(_scheduled_tracker(ctx), send=SmtpSettings.from_env())
    line = f"digest of {run.day.isoformat()}: {len(run.messages)} department(s)"
    if run.delivery is not None:
        line += f", {len(run.delivery.sent)} e-mail(s) sent"
        if run.delivery.failed:
            raise DeliveryError(line + "; not sent: " + _pairs(run.delivery.failed))
    return line
