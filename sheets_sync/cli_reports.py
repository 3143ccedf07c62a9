"""The ``report`` and ``schedule`` commands (kept apart from cli.py, which holds the rest)."""

from __future__ import annotations

import sys

import click

from sheets_sync import jobs
from sheets_sync.backends import require_tracker
from sheets_sync.cli import (
    AS_OF_HELP,
    _as_of,
    _fail_cleanly,
    _ist_time,
    credentials_option,
    roster_option,
    schema_option,
    tracker_option,
)
from sheets_sync.runlock import run_lock
from sheets_sync.schema import load_schema


@click.command()
@tracker_option
@credentials_option
@schema_option
@roster_option
@click.option("--since", help="Start of the period: a date (a whole IST day), 'YYYY-MM-DD HH:MM' IST, "
                              "or ISO 8601. Default: seven days before --until.")
@click.option("--until", help="End of the period (a date counts the whole day). Default: --as-of.")
@click.option("--as-of", help=AS_OF_HELP + " Default: now.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the summary as CSV.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary and the overdue list as JSON.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, writable=True),
              help="Also write a self-contained HTML page with charts to this file.")
@click.option("--no-tab", is_flag=True, help="Do not update the tracker's Report tab.")
@click.option("--email", is_flag=True, help="E-mail each department its overdue list, and the cell "
                                            "and the Additional Commissioner's office the summary.")
@click.option("--include-empty", is_flag=True, help="With --email: also write to departments with "
                                                    "nothing overdue.")
@click.option("--resend", is_flag=True, help="With --email: send even if today's report was sent.")
@click.pass_context
@_fail_cleanly
def report(ctx, tracker, credentials, schema_path, roster_path, since, until, as_of, as_csv, as_json,
           html_file, no_tab, email, include_empty, resend):
    """Summarise replies per department over a period, and write the Report tab.

    Received, answered, reply times (median, 90th percentile) and the share
    answered within the deadline count comments written in the period; open,
    overdue and escalated are the backlog at --as-of. Exit codes: 0 done,
    2 settings, 4 tracker, 6 another run holds the lock, 7 some e-mails failed.

    Example:

        python cli.py report --tracker tracker.xlsx --html report.html --email
    """
    from sheets_sync.timeutil import now_ist

    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    if (include_empty or resend) and not email:
        raise click.UsageError("--include-empty and --resend go with --email")
    when = _as_of(as_of) or now_ist()
    start, end = _ist_time(since, "--since"), _ist_time(until, "--until", end_of_day=True)
    if start and end and start >= end:
        raise click.BadParameter("--since must be before --until", param_hint="--since")
    settings = None
    if email:
        from sheets_sync.emailer import SmtpSettings

        settings = SmtpSettings.from_env()  # wrong settings stop the run before anything is written
    quiet = ctx.obj["quiet"]
    run = jobs.report(jobs.Tracker(tracker, schema_path, roster_path, credentials), now=when, since=start,
                      until=end, write_tab=not no_tab, email=settings, include_empty=include_empty,
                      resend=resend, before_email=_show_report(html_file, as_json, as_csv, quiet))
    delivery = run.delivery
    if delivery is not None:
        out = sys.stderr if as_json or as_csv else sys.stdout
        if not quiet or delivery.failed:
            for line in delivery.lines():
                click.echo(line, file=out)
        delivery.raise_for_failures()


def _show_report(html_file: str | None, as_json: bool, as_csv: bool, quiet: bool):
    """What ``report`` prints (and the HTML file it writes), once the report is built and
    before any e-mail goes out."""
    from pathlib import Path

    from sheets_sync.report import report_csv, report_json, report_text
    from sheets_sync.report_html import report_html

    def show(result) -> None:
        if html_file:
            Path(html_file).write_text(report_html(result), encoding="utf-8")
        if as_json:
            click.echo(report_json(result))
        elif as_csv:
            click.echo(report_csv(result), nl=False)
        elif not quiet:
            click.echo(report_text(result))
        if html_file and not (as_json or as_csv or quiet):
            click.echo(f"Wrote {html_file}")

    return show


@click.command("schedule")
@tracker_option
@credentials_option
@schema_option
@roster_option
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="SHEETS_SYNC_SCHEDULE",
              help="Schedule file (default: schedule.yaml in the current folder, if it exists; see "
                   "schedule.example.yaml).")
@click.option("--source", default=None, envvar="SHEETS_SYNC_SOURCE",
              help="What the sync job reads: files:DIR, a platform, or all. Default: the file's, "
                   "else the shipped sample exports.")
@click.option("--sync-every", type=click.IntRange(0, 1440), help="Minutes between syncs (0: off).")
@click.option("--overdue-every", type=click.IntRange(0, 1440), help="Minutes between overdue runs (0: off).")
@click.option("--report-at", help="Daily report time in IST, HH:MM, or 'off'.")
@click.option("--email/--no-email", default=None, help="E-mail the daily report (default: on).")
@click.option("--include-empty", is_flag=True, default=None,
              help="E-mail departments with nothing overdue too.")
@click.option("--run-now", is_flag=True, help="Run the sync and overdue jobs once at start.")
@click.option("--max-iterations", type=int, hidden=True, help="Stop after this many rounds (tests).")
@click.pass_context
@_fail_cleanly
def schedule_command(ctx, tracker, credentials, schema_path, roster_path, config_path, source, sync_every,
                     overdue_every, report_at, email, include_empty, run_now, max_iterations):
    """Run sync, overdue and the daily report on a schedule until stopped.

    Prints the schedule at start, one line per job run (errors only with
    --quiet), and keeps going when a job fails. SIGTERM or Ctrl-C stops it
    between jobs, exit 0. Exit codes: 2 settings, 6 another scheduler runs
    for this tracker.

    Example:

        python cli.py schedule --tracker tracker.xlsx --config schedule.yaml
    """
    from sheets_sync.scheduler import JobContext, Scheduler, build_jobs, load_schedule_config, parse_hhmm

    config = load_schedule_config(config_path)
    if report_at is not None and report_at.strip().lower() != "off" and parse_hhmm(report_at) is None:
        raise click.BadParameter(f"{report_at!r}: give HH:MM (IST) or off", param_hint="--report-at")
    config = config.with_options(
        sync_every_minutes=sync_every, overdue_every_minutes=overdue_every, report_email=email,
        include_empty=include_empty, source=source,
        tracker=tracker if ctx.get_parameter_source("tracker").name != "DEFAULT" else None)
    if report_at is not None:
        config = config.with_options(report_at="") if report_at.strip().lower() == "off" else \
            config.with_options(report_at=report_at.strip())
    tracker = config.tracker or tracker
    load_schema(schema_path)  # a broken schema stops here, not in every job
    require_tracker(tracker)  # and a mistyped tracker, before its schedule lock is made
    if config.report_at and config.report_email:
        from sheets_sync.emailer import SmtpSettings

        SmtpSettings.from_env()  # wrong e-mail settings stop here too
    jobs = build_jobs(config, JobContext(tracker, schema_path, roster_path, credentials, config.source))
    if not jobs:
        raise click.UsageError("every job is turned off; nothing to schedule")
    quiet, verbose = ctx.obj["quiet"], ctx.obj["verbose"]
    status = None
    if sys.stdout.isatty() and not quiet:
        def status(text):
            click.echo("\r\033[K" + text, nl=False)

    scheduler = Scheduler(jobs, out=click.echo, err=lambda line: click.echo(line, err=True),
                          max_iterations=max_iterations, quiet=quiet, verbose=verbose, status=status)

    def on_start(lines):
        if not quiet:
            source_note = f" from {config.path}" if config.path else ""
            click.echo(f"sheets-sync scheduler for {tracker}{source_note} (times in IST); "
                       "stop with Ctrl-C or SIGTERM")
            for line in lines:
                click.echo(line)

    with run_lock(tracker, "schedule", name="schedule"), scheduler.signals():
        scheduler.run(run_now=run_now, on_start=on_start)
    if not quiet:
        reason = f" ({scheduler.stop_reason})" if scheduler.stop_reason else ""
        click.echo(f"Scheduler stopped{reason}.")


