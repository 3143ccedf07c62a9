"""The content pipeline's commands: ``mail``, ``content`` and ``digest`` (kept apart from
cli.py, which holds the rest). Thin: parse, call one job, print."""

from __future__ import annotations

import json
import sys

import click

from sheets_sync import content_run, jobs
from sheets_sync.cli import (
    _as_of,
    _fail_cleanly,
    credentials_option,
    roster_option,
    schema_option,
    tracker_option,
)
from sheets_sync.errors import DeliveryError


@click.command()
@tracker_option
@credentials_option
@click.option("--dry-run", is_flag=True, help="Read the mailbox and say how each message would be filed; "
                                             "write and send nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--as-of", help="Count lead times and reminders at this time (a date or 'YYYY-MM-DD HH:MM' "
                              "in IST). Default: now.")
@schema_option
@roster_option
@click.pass_context
@_fail_cleanly
def mail(ctx, tracker, credentials, dry_run, as_json, as_of, schema_path, roster_path):
    """Read the cell's mailbox and file each new message: a request (a new Content row), the
    head's approval or changes asked, a suggestion, or ignored with the reason; then send the
    acknowledgements, approval requests, reminders and flags the requests ask for.

    Settings: SHEETS_SYNC_IMAP_HOST, …_PORT, …_USER, …_PASSWORD, …_FOLDER (the mailbox) and
    the report e-mails' SHEETS_SYNC_SMTP_* (what the job sends).

    Example:

        python cli.py mail --tracker tracker.xlsx --dry-run
    """
    now = _as_of(as_of)
    fetch, key = content_run.imap_fetcher(tracker or "", credentials=credentials, dry_run=dry_run)
    smtp, why = (None, "") if dry_run else content_run.smtp_or_none()
    run = jobs.mail(jobs.Tracker(tracker, schema_path, roster_path, credentials), fetch, now=now, send=smtp,
                    dry_run=dry_run, checkpoint_key=key)
    if why:
        run.warnings.append(why)
    if as_json:
        click.echo(json.dumps(run.summary(), ensure_ascii=False, indent=2))
    elif not ctx.obj["quiet"]:
        _print_mail(run)
    if run.delivery is not None and run.delivery.failed:
        raise_failed(run.delivery.failed)


def raise_failed(failed) -> None:
    who = ", ".join(f"{a} ({k})" for k, a, _ in failed[:5])
    error = DeliveryError(f"{len(failed)} e-mail(s) not sent: {who}; they are sent again by the next run")
    click.echo(f"Error: {error}", err=True)
    sys.exit(error.exit_code)


def _print_mail(run) -> None:
    s = run.summary()
    for line in run.structure:
        click.echo(line)
    verb = "Would file" if run.dry_run else "Filed"
    click.echo(f"{verb} {len(run.plan.filed)} message(s) from the mailbox in {s['tracker']}: "
               f"{s['requests']} request(s), {s['approvals']} approval(s), {s['changes_asked']} with changes "
               f"asked, {s['suggestions']} suggestion(s), {len(s['ignored'])} ignored"
               + (f"; {s['already_read']} read before" if s["already_read"] else "") + ".")
    for f in run.plan.filed:
        click.echo(f"  {f.mail.sender}: {f.mail.subject[:70]!r} → {f.filing.filed_as}"
                   + (f" ({f.filing.reason})" if f.filing.reason else ""))
    for line in run.plan.notes:
        click.echo(f"  {line}")
    if run.dry_run:
        click.echo(f"Would send {len(run.messages)} e-mail(s):")
        for m in run.messages:
            click.echo(f"  {m.key} → {', '.join(m.recipients)}")
    elif run.delivery is not None:
        click.echo(f"Sent {len(run.delivery.sent)} e-mail(s)"
                   + (f", {len(run.delivery.skipped)} sent before" if run.delivery.skipped else "")
                   + (f", {len(run.delivery.failed)} failed" if run.delivery.failed else "") + ".")
    for line in run.warnings:
        click.echo(f"Warning: {line}")


LIST_FIELDS = ("request", "department", "status", "planned_date", "lead_days", "late", "kind", "subject",
               "sender", "received", "draft_link", "approved_by", "approved_at", "post_id", "sync_notes")


@click.command("content")
@tracker_option
@credentials_option
@click.option("--department", "-d", multiple=True, help="Only this department's requests (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the requests as JSON.")
@schema_option
@roster_option
@click.pass_context
@_fail_cleanly
def content_command(ctx, tracker, credentials, department, as_json, schema_path, roster_path):
    """List the requests of the Content tab: code, department, status, planned date, late or not.

    Reads only.

    Example:

        python cli.py content -d SWM
    """
    from sheets_sync.worklist import departments_wanted

    location, rows, roster = jobs.content(jobs.Tracker(tracker, schema_path, roster_path, credentials))
    wanted = set(departments_wanted(department, roster)) if department else None
    items = [{f: r.get(f) for f in LIST_FIELDS} for r in rows
             if wanted is None or (roster.resolve(r.get("department")) or r.get("department")) in wanted]
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    click.echo(f"{len(items)} request(s) in {location}")
    for i in items:
        late = f" LATE ({i['lead_days']} days)" if i["late"] else ""
        click.echo(f"  {i['request']:<8} {i['department']:<8} {i['status']:<18} "
                   f"{i['planned_date'] or '(no date)':<11}{late}  {i['subject'][:60]}")


@click.command()
@tracker_option
@credentials_option
@click.option("--dry-run", is_flag=True, help="Say who would get what; send and write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--as-of", help="The digest of the 24 hours before this time (a date or 'YYYY-MM-DD HH:MM' "
                              "in IST). Default: now.")
@schema_option
@roster_option
@click.pass_context
@_fail_cleanly
def digest(ctx, tracker, credentials, dry_run, as_json, as_of, schema_path, roster_path):
    """E-mail each department its daily supervision digest: new comments on its posts,
    pending and overdue ones, replies sent, requests waiting on it. A department with
    nothing gets nothing; each gets it once a day, however often this runs. Answers to
    it are filed as suggestions in the Supervision tab by `mail`.

    Example:

        python cli.py digest --tracker tracker.xlsx --dry-run
    """
    from sheets_sync.emailer import SmtpSettings

    now = _as_of(as_of)
    smtp = None if dry_run else SmtpSettings.from_env()
    run = jobs.digest(jobs.Tracker(tracker, schema_path, roster_path, credentials), now=now, send=smtp,
                      dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(run.summary(), ensure_ascii=False, indent=2))
    elif not ctx.obj["quiet"]:
        quiet = sum(1 for d in run.days if d.quiet)
        verb = "Would send" if run.dry_run else "Digest of"
        click.echo(f"{verb} {run.day.isoformat()}: {len(run.messages)} department(s) with something to "
                   f"say, {quiet} quiet (nothing sent to them).")
        for m in run.messages:
            click.echo(f"  {m.key} → {', '.join(m.recipients)}")
        if run.delivery is not None:
            click.echo(f"Sent {len(run.delivery.sent)} e-mail(s)"
                       + (f", {len(run.delivery.skipped)} sent earlier today" if run.delivery.skipped else "")
                       + (f", {len(run.delivery.failed)} failed" if run.delivery.failed else "") + ".")
        for line in run.warnings:
            click.echo(f"Warning: {line}")
    if run.delivery is not None and run.delivery.failed:
        raise_failed(run.delivery.failed)
