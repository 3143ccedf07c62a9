"""sheets-sync command line: a thin layer over the ``sheets_sync`` library.

Each command parses its options, calls one library function, and reports.
Expected failures print one ``Error: …`` line and exit with the code the
README documents; they never show a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from functools import wraps

import click

from sheets_sync import SheetsSyncError, __version__, jobs
from sheets_sync.backends import DEFAULT_TRACKER
from sheets_sync.sources.registry import check_sources
from sheets_sync.sync import describe
from sheets_sync.timeutil import parse_when

log = logging.getLogger("sheets_sync")


def _fail_cleanly(func):
    """Turn the library's expected errors into one line and the documented exit code."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except SheetsSyncError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


# Help shown because a group was called without a command: click's own output stays.
_NO_ARGS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


def _one_line(exc: click.UsageError) -> click.ClickException:
    error = click.ClickException(exc.format_message())
    error.exit_code = exc.exit_code
    return error


class _Commands(click.Group):
    """The command group: a wrong option or value is one ``Error: …`` line (exit code 2),
    like every other error, instead of click's Usage/Try/Error lines."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except _NO_ARGS_HELP:
            raise
        except click.UsageError as exc:
            raise _one_line(exc) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except _NO_ARGS_HELP:
            raise
        except click.UsageError as exc:
            raise _one_line(exc) from None


def _as_of(value: str | None):
    """--as-of: ISO 8601 with an offset, or a plain date or time in IST (a date: its start)."""
    return _ist_time(value, "--as-of")


AS_OF_HELP = ("Evaluate the deadlines at this time: a date or 'YYYY-MM-DD HH:MM' in IST, or ISO 8601 "
              "with an offset.")
tracker_option = click.option(
    "--tracker", default=DEFAULT_TRACKER, show_default=True, envvar="SHEETS_SYNC_TRACKER",
    help="A local .xlsx workbook, or a Google spreadsheet id or URL. A relative path is in the current "
         "folder. The workbook must exist: init makes one (and so does the first sync without --tracker).")
credentials_option = click.option(
    "--credentials", type=click.Path(dir_okay=False), envvar="GOOGLE_APPLICATION_CREDENTIALS",
    help="Service-account key file for Google Sheets (default: $GOOGLE_APPLICATION_CREDENTIALS).")
schema_option = click.option(
    "--schema", "schema_path", type=click.Path(dir_okay=False), envvar="SHEETS_SYNC_SCHEMA",
    help="The tracker's schema (default: the shipped sheets_sync/data/sheet_schema.yaml).")
roster_option = click.option(
    "--roster", "roster_path", type=click.Path(dir_okay=False), envvar="SHEETS_SYNC_ROSTER",
    help="Department roster file that seeds the Departments tab (default: the shipped "
         "sheets_sync/data/departments.yaml).")


# What openpyxl says on reading a workbook Excel or LibreOffice saved: parts of the file
# it does not model (the job never writes them) are dropped from its copy in memory.
# Cron mails whatever reaches stderr, so these stay out of a normal run's output.
_OPENPYXL_NOISE = (r".* extension is not supported and will be removed",
                   r"Workbook contains no default style, apply openpyxl's default",
                   r"Cannot parse header or footer so it will be ignored",
                   r".* image format is not supported so the image is being dropped",
                   # A print area of whole columns ($A:$J), as both suites save the job's: the
                   # job sets it again on the tabs it lays out.
                   r"Print area cannot be set to Defined name")


def _quiet_libraries() -> None:
    for message in _OPENPYXL_NOISE:
        warnings.filterwarnings("ignore", message=message, category=UserWarning, module="openpyxl")


@click.group(cls=_Commands)
@click.version_option(__version__, "--version", prog_name="sheets-sync", message="%(prog)s %(version)s")
@click.option("--verbose", "-v", is_flag=True, help="Say more about what happens.")
@click.option("--quiet", "-q", is_flag=True, help="Print errors only.")
@click.pass_context
def main(ctx: click.Context, verbose: bool, quiet: bool) -> None:
    """Keep the social media cell's Tracker in sync with citizens' comments."""
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(message)s")
    if not verbose:
        _quiet_libraries()
    ctx.obj = {"quiet": quiet, "verbose": verbose}


@main.command()
@tracker_option
@credentials_option
@click.option("--source", default=None, envvar="SHEETS_SYNC_SOURCE",
              help="files:DIR (an export folder), a platform (facebook, instagram, youtube, x) "
                   "or all. Default: the sample exports shipped in sheets_sync/data/examples.")
@click.option("--dry-run", is_flag=True, help="Print the planned changes; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--as-of", help=AS_OF_HELP)
@click.option("--publish", "publish_to", default=None, envvar="SHEETS_SYNC_PUBLISH", metavar="PLATFORMS",
              help="Also post the approved replies on these platforms (facebook,x or all), as "
                   "`publish` does. Default: none (or $SHEETS_SYNC_PUBLISH).")
@schema_option
@roster_option
@click.pass_context
@_fail_cleanly
def sync(ctx, tracker, credentials, source, dry_run, as_json, as_of, publish_to, schema_path, roster_path):
    """Add new posts and comments to the tracker, per department.

    Example:

        python cli.py sync --tracker tracker.xlsx --source files:exports/2026-11-20
    """
    now = _as_of(as_of)
    # Only the README's first `python cli.py sync` may make tracker.xlsx; a path someone
    # typed (option or $SHEETS_SYNC_TRACKER) must exist, or it is a typo.
    first_run = ctx.get_parameter_source("tracker") is click.core.ParameterSource.DEFAULT
    publishers = jobs.open_publishers(publish_to) if publish_to else None
    result = jobs.sync(jobs.Tracker(tracker, schema_path, roster_path, credentials, create=first_run),
                       source, now=now, dry_run=dry_run, publishers=publishers)
    summary = result.summary()
    if as_json:
        if dry_run:
            summary["planned_changes"] = describe(result.plan.changes, result.tabs)
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    elif not ctx.obj["quiet"]:
        _print_summary(result, dry_run)
    # A platform that refused its write token stops publishing there: exit 5, as a source.
    errors = [*result.source_errors, *summary.get("publishing", {}).get("token_errors", [])]
    for line in errors:
        click.echo(f"Error: {line}", err=True)
    if errors:
        sys.exit(5)


def _print_summary(result, dry_run: bool) -> None:
    s = result.summary()
    verb = "Would add" if dry_run else "Added"
    for line in result.structure:
        click.echo(line)
    if dry_run:
        lines = describe(result.plan.changes, result.tabs)
        click.echo(f"Dry run on {s['tracker']}: {len(lines)} planned change(s), nothing written.")
        for line in lines:
            click.echo(f"  {line}")
    click.echo(f"{verb} {s['posts_added']} post(s) and {s['comments_added']} comment(s) to "
               f"{s['tracker']} from {', '.join(s['sources'])}; {s['rows_updated']} row(s) updated.")
    for department, counts in s["per_department"].items():
        click.echo(f"  {department:<12} {counts['posts']:>4} post(s) {counts['comments']:>5} comment(s)")
    if s["values_carried"] or s["tabs_rewritten"] or s["overdue"]:
        click.echo(f"{s['values_carried']} value(s) carried from the departments' tabs; "
                   f"{len(s['tabs_rewritten'])} department tab(s) updated; "
                   f"{s['overdue']} comment(s) overdue.")
    if s["held_comments"]:
        click.echo(f"Held back {s['held']} comment(s):")
        for line in s["held_comments"]:
            click.echo(f"  {line}")
    for line in s["warnings"]:
        click.echo(f"Warning: {line}")


@main.command()
@tracker_option
@credentials_option
@schema_option
@roster_option
@click.pass_context
@_fail_cleanly
def init(ctx, tracker, credentials, schema_path, roster_path):
    """Create or repair the tracker's tabs, headers and roster. Safe to run again.

    Example:

        python cli.py init --tracker tracker.xlsx
    """
    location, done = jobs.init(jobs.Tracker(tracker, schema_path, roster_path, credentials))
    if ctx.obj["quiet"]:
        return
    if done:
        for line in done:
            click.echo(line)
    else:
        click.echo(f"{location}: all tabs and headers are in place; nothing to do.")


@main.command()
@tracker_option
@credentials_option
@click.option("--as-of", help=AS_OF_HELP)
@schema_option
@roster_option
@click.pass_context
@_fail_cleanly
def tabs(ctx, tracker, credentials, as_of, schema_path, roster_path):
    """Rebuild each department's pending-action tab (and the Overdue flags) alone.

    Replies typed in a department's tab reach the Comments tab first.

    Example:

        python cli.py tabs --tracker tracker.xlsx
    """
    now = _as_of(as_of)  # a wrong value stops here, before the lock is taken
    result = jobs.tabs(jobs.Tracker(tracker, schema_path, roster_path, credentials), now=now)
    if not ctx.obj["quiet"]:
        s = result.summary()
        click.echo(f"{s['values_carried']} value(s) carried from the departments' tabs; "
                   f"{len(s['tabs_rewritten'])} tab(s) updated; {s['overdue']} comment(s) overdue.")
        for line in s["warnings"]:
            click.echo(f"Warning: {line}")


@main.group()
def sources():
    """Check the configured sources of posts and comments."""


@sources.command("check")
@click.option("--source", default="all", show_default=True,
              help="files:DIR, a platform name, or all configured platforms.")
@click.pass_context
@_fail_cleanly
def sources_check(ctx, source):
    """Tell, per source, whether its token works and what it can read.

    Example:

        python cli.py sources check --source facebook
    """
    failed = False
    for check in check_sources(source):
        mark = "ok  " if check.ok else "FAIL"
        if not (check.ok and ctx.find_root().obj["quiet"]):  # --quiet: the failures only
            click.echo(f"{mark} {check.source}: {check.detail}")
        failed = failed or not check.ok
    if failed:
        sys.exit(5)


# --- reports and scheduling ---


def _ist_time(value: str | None, option: str, *, end_of_day: bool = False):
    """A time for --since/--until: a date (a whole IST day), 'YYYY-MM-DD HH:MM' (IST) or ISO 8601."""
    if value is None:
        return None
    try:
        return parse_when(value, end_of_day=end_of_day)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


@main.command()
@tracker_option
@credentials_option
@schema_option
@roster_option
@click.option("--as-of", help=AS_OF_HELP + " Default: now.")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the list as CSV.")
@click.option("--department", "-d", multiple=True, help="Only this department code (repeatable).")
@click.option("--no-flags", is_flag=True, help="Only print: do not write the Overdue flags and tabs.")
@click.option("--due-soon", is_flag=True, help="Also list the comments due soon (not yet overdue).")
@click.pass_context
@_fail_cleanly
def overdue(ctx, tracker, credentials, schema_path, roster_path, as_of, as_json, as_csv, department,
            no_flags, due_soon):
    """Flag overdue comments in the tracker and list them, per department, oldest first.

    Writes the Overdue column and the departments' tabs as of --as-of (with
    --no-flags it only reads). Exit code 0 whether or not anything is overdue;
    2 for an unknown department code.

    Example:

        python cli.py overdue --tracker tracker.xlsx --as-of 2026-11-26T18:00:00+05:30
    """
    from sheets_sync.worklist import overdue_listing

    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    found = jobs.overdue(jobs.Tracker(tracker, schema_path, roster_path, credentials), now=_as_of(as_of),
                         flags=not no_flags, departments=department)
    if as_json or as_csv or not ctx.obj["quiet"]:
        click.echo(overdue_listing(found, as_json=as_json, as_csv=as_csv, with_due_soon=due_soon),
                   nl=not as_csv)
    if not (as_json or as_csv or ctx.obj["quiet"]):
        for line in found.snapshot.warnings:
            click.echo(f"Warning: {line}", err=True)


@main.command()
@tracker_option
@credentials_option
@schema_option
@roster_option
@click.option("--department", "-d", multiple=True, required=True,
              help="The department's code (repeatable).")
@click.option("--as-of", help="Evaluate the deadlines at this time (ISO 8601 with offset). Default: now.")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the list as CSV.")
@click.pass_context
@_fail_cleanly
def pending(ctx, tracker, credentials, schema_path, roster_path, department, as_of, as_json, as_csv):
    """List a department's open comments, most urgent first (the order of its tab).

    Overdue ones first, then those due soon, then the rest by due time. Reads
    only. Exit code 0, or 2 for an unknown department code.

    Example:

        python cli.py pending -d SWM --tracker tracker.xlsx
    """
    from sheets_sync.worklist import pending_listing

    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    found = jobs.pending(jobs.Tracker(tracker, schema_path, roster_path, credentials), department,
                         now=_as_of(as_of))
    if as_json or as_csv or not ctx.obj["quiet"]:
        click.echo(pending_listing(found, as_json=as_json, as_csv=as_csv), nl=not as_csv)
    if not (as_json or as_csv or ctx.obj["quiet"]):
        for line in found.snapshot.warnings:
            click.echo(f"Warning: {line}", err=True)


# The reports' and the scheduler's commands, and publishing's, live in their own modules;
# they use this one's options.
from sheets_sync.archive_cli import archive  # noqa: E402
from sheets_sync.cli_reports import report, schedule_command  # noqa: E402
from sheets_sync.content_cli import content_command, digest, mail  # noqa: E402
from sheets_sync.publish_cli import publish, replies  # noqa: E402

for command in (report, schedule_command, publish, replies, mail, content_command, digest, archive):
    main.add_command(command)


if __name__ == "__main__":
    main()
