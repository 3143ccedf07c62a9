"""The ``publish`` and ``replies`` commands (kept apart from cli.py, which holds the rest)."""

from __future__ import annotations

import json
import sys

import click

from sheets_sync import jobs
from sheets_sync.cli import (
    _as_of,
    _fail_cleanly,
    credentials_option,
    roster_option,
    schema_option,
    tracker_option,
)

platform_option = click.option(
    "--platform", default="all", show_default=True,
    help="facebook, instagram, youtube, x, a comma-separated list, or all.")


@click.command()
@tracker_option
@credentials_option
@platform_option
@click.option("--dry-run", is_flag=True, help="List what would be posted, per platform; post nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@schema_option
@roster_option
@click.pass_context
@_fail_cleanly
def publish(ctx, tracker, credentials, platform, dry_run, as_json, schema_path, roster_path):
    """Post the approved replies under the citizens' comments, exactly once, and hide the
    comments set to Hide.

    Example:

        python cli.py publish --tracker tracker.xlsx --dry-run
    """
    publishers = jobs.open_publishers(platform)
    result = jobs.publish(jobs.Tracker(tracker, schema_path, roster_path, credentials), publishers,
                          dry_run=dry_run)
    summary = result.summary().get("publishing", {})
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    elif not ctx.obj["quiet"]:
        _print_publish(result, summary, dry_run)
    token_errors = summary.get("token_errors") or []
    for line in token_errors:
        click.echo(f"Error: {line}", err=True)
    if token_errors:
        sys.exit(5)


def _print_publish(result, summary: dict, dry_run: bool) -> None:
    actions = summary.get("to_send", [])
    if dry_run:
        click.echo(f"Dry run on {result.tracker}: {len(actions)} call(s) to the platforms, nothing posted.")
        for name in sorted({a["platform"] for a in actions}):
            mine = [a for a in actions if a["platform"] == name]
            click.echo(f"  {name}: {len(mine)}")
            for a in mine:
                text = a["text"].replace("\n", " ")
                click.echo(f"    {a['action']} {a['comment_id']} ({a['department']}) {text[:70]!r}")
        return
    click.echo(f"Posted {summary.get('posted', 0)} reply(ies), hid or showed {summary.get('hidden', 0)} "
               f"comment(s) on {result.tracker}; {summary.get('recovered', 0)} found posted by an "
               "earlier run. `python cli.py replies` lists the queue.")
    for key in ("refused", "uncertain", "not_sent"):
        for line in summary.get(key, []):
            click.echo(f"Warning: {line}")


@click.command()
@tracker_option
@credentials_option
@click.option("--json", "as_json", is_flag=True, help="Print the queue as JSON.")
@click.option("--as-of", help="Which day is today, for 'posted today' (IST).")
@schema_option
@click.pass_context
@_fail_cleanly
def replies(ctx, tracker, credentials, as_json, as_of, schema_path):
    """The queue of replies: waiting for approval, approved, posted today, refused.

    Example:

        python cli.py replies --tracker tracker.xlsx --json
    """
    queue = jobs.replies(jobs.Tracker(tracker, schema_path, None, credentials), now=_as_of(as_of))
    if as_json:
        click.echo(json.dumps(queue.as_dict(), ensure_ascii=False, indent=2))
        return
    from sheets_sync.reply_queue import GROUPS

    for name in GROUPS:
        group = queue.group(name)
        click.echo(f"{name.capitalize()}: {len(group)}")
        for r in group:
            text = r.reply.replace("\n", " ")
            click.echo(f"  {r.department:<8} {r.platform:<9} {r.comment_id}  {r.state}  {text[:60]!r}")
