"""The ``archive`` command and ``archive restore`` (kept apart from cli.py)."""

from __future__ import annotations

import json
import sys

import click

from sheets_sync import jobs
from sheets_sync.cli import (
    _as_of,
    _Commands,
    _fail_cleanly,
    credentials_option,
    schema_option,
    tracker_option,
)

_NAMES = {"comments": "comment(s)", "posts": "post(s)", "sync_log": "Sync Log row(s)"}


@click.group(cls=_Commands, invoke_without_command=True)
@tracker_option
@credentials_option
@click.option("--dry-run", is_flag=True, help="Say what would move, and to where; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--as-of", "as_of", default=None, help="Count ages from this time instead of now.")
@schema_option
@click.pass_context
@_fail_cleanly
def archive(ctx, tracker, credentials, dry_run, as_json, as_of, schema_path):
    """Move closed comments older than archive.after_days (30) days, their posts once all
    their comments have moved, and Sync Log rows older than archive.log_days (90) to each
    year's archive beside the tracker; reports still count them.

    Example:

        python cli.py archive --tracker tracker.xlsx --dry-run
        python cli.py archive restore 10155_2001
    """
    if ctx.invoked_subcommand is not None:
        return
    result = jobs.archive(jobs.Tracker(tracker, schema_path, None, credentials), now=_as_of(as_of),
                          dry_run=dry_run)
    summary = result.summary()
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    if ctx.obj["quiet"]:
        return
    verb = "would move" if dry_run else "moved"
    if not summary["moved"]:
        click.echo(f"{result.tracker}: nothing to archive (no closed comment written {_days(result)})")
    for item in summary["moved"]:
        click.echo(f"{verb} {item['rows']} {_NAMES[item['tab']]} of {item['year']} → {item['to']}")
    for line in summary["stayed"]:
        click.echo(f"stayed (reopened meanwhile): {line}")
    for line in summary["warnings"]:
        click.echo(f"warning: {line}")


def _days(result) -> str:
    cutoff = result.plan.cutoff
    return cutoff.strftime("before %Y-%m-%d") if cutoff else "more than archive.after_days ago"


@archive.command()
@tracker_option
@credentials_option
@schema_option
@click.argument("ids", nargs=-1, required=True)
@click.pass_context
@_fail_cleanly
def restore(ctx, tracker, credentials, schema_path, ids):
    """Bring archived comments back into the tracker by comment id (with their posts when
    those were archived too). The archive keeps its copy.

    Example:

        python cli.py archive restore --tracker tracker.xlsx 10155_2001 10155_2002
    """
    result = jobs.archive_restore(jobs.Tracker(tracker, schema_path, None, credentials), ids)
    quiet = ctx.obj["quiet"]
    for line in result.restored:
        if not quiet:
            click.echo(f"restored {line}")
    for line in result.already:
        if not quiet:
            click.echo(f"already in the tracker: {line}")
    if result.missing:
        click.echo("Error: not in any archive: " + ", ".join(result.missing)
                   + " (check the comment ids: the Comment ID column)", err=True)
        sys.exit(2)
