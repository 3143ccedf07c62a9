"""Reports: the overdue list and the per-department summary, in every format people read.

Reading the tracker is :func:`read_tracker`; the rest is pure: deadlines
(:mod:`sheets_sync.deadlines`) in, a :class:`Report` out, and the report out as a
terminal table, CSV, JSON, a self-contained HTML page, or the rows of the
tracker's Report tab.

What the measures mean (the README repeats it for the cell):

- *received*, *answered*, reply times and the share answered within the
  deadline are about the comments written in the period;
- *open*, *overdue* and the *oldest open* comment are the backlog at ``as_of``,
  whenever those comments were written.

A reply time is known when the corporation's own account replied on the
platform (the reply's time), or when the tracker has a ``replied_at`` column;
a comment closed in the sheet with no time counts as answered, but not in the
reply times or the share answered within the deadline.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from sheets_sync.backends.base import Backend, TrackerSession
from sheets_sync.deadlines import CommentDeadline, DeadlineRules, deadline_rules, evaluate, overdue
from sheets_sync.roster import Roster
from sheets_sync.schema import Schema
from sheets_sync.sync import keyed_comments, tracker_roster
from sheets_sync.table import AddRow, CellValue, Change, Record, UpdateRow, missing_tab, require_headers
from sheets_sync.timeutil import from_sheet, now_ist, to_sheet

log = logging.getLogger("sheets_sync.report")

ALL = "ALL"
# The Comments tab's columns the deadlines need; others (a flag column the sheet
# side adds, say) may be missing from an older tracker without harm.
NEEDED = ("platform", "comment_id", "post_id", "parent_id", "department", "commented_at", "author",
          "text", "url", "by_page", "category", "status", "reply")


# --- reading -------------------------------------------------------------------------------


@dataclass
class TrackerSnapshot:
    """The parts of the tracker reports need, as read."""

    location: str
    comments: list[Record]
    roster: Roster
    sync_log: list[Record] = field(default_factory=list)
    report_rows: dict[str, Record] = field(default_factory=dict)  # Report tab, by department
    warnings: list[str] = field(default_factory=list)
    has_report_tab: bool = False
    # The content pipeline's requests (#15): (department code, received, late?) of each.
    requests: list[tuple[str, datetime | None, bool]] = field(default_factory=list)


def read_tracker(session: TrackerSession, schema: Schema, location: str, *,
                 roster_path=None) -> TrackerSnapshot:
    """Read comments, departments, the Sync Log and the Report tab in one request.

    The comments and the roster are read as the sync reads them (:func:`sync.keyed_comments`,
    :func:`sync.tracker_roster`), so the report counts what the overdue flags count."""
    names = ["comments", "departments", "sync_log"] + (["report"] if "report" in schema.tabs else [])
    names += ["content"] if "content" in schema.tabs else []
    tables = session.read(names)
    warnings: list[str] = []
    comments_tab = schema.tab("comments")
    if tables["comments"].header:
        require_headers(tables["comments"], comments_tab, NEEDED)
        comments = list(keyed_comments(tables["comments"], schema, warnings).values())
    elif session.is_new():
        comments = []
    else:
        raise missing_tab(comments_tab)
    roster, roster_warnings = tracker_roster(tables["departments"], schema, roster_path,
                                             is_new=session.is_new())
    warnings += roster_warnings
    log = tables["sync_log"].records(schema.tab("sync_log")) if tables["sync_log"].header else []
    report_rows = {}
    has_report_tab = "report" in tables and bool(tables["report"].header)
    if has_report_tab:
        for rec in tables["report"].records(schema.tab("report")):
            code = rec.get("department").strip()
            if code and code not in report_rows:
                report_rows[code] = rec
    return TrackerSnapshot(location, comments, roster, log, report_rows, warnings, has_report_tab,
                           _requests(tables, schema, roster))


def _requests(tables, schema: Schema, roster: Roster) -> list[tuple[str, datetime | None, bool]]:
    """Each request's department, when it came and whether it came late (the Content tab's Late)."""
    if "content" not in tables or not tables["content"].header:
        return []
    return [(roster.resolve(r.get("department")) or r.get("department").strip(),
             from_sheet(r.get("received")), bool(r.get("late").strip()))
            for r in tables["content"].records(schema.tab("content"))]


def load_deadlines(backend: Backend, schema: Schema, as_of: datetime, *, roster_path=None,
                   rules: DeadlineRules | None = None) -> tuple[TrackerSnapshot, list[CommentDeadline]]:
    """Read the tracker (read-only) and evaluate every comment at ``as_of``."""
    rules = rules or deadline_rules(schema)
    with backend.open(schema, write=False) as session:
        snap = read_tracker(session, schema, backend.location, roster_path=roster_path)
    return snap, evaluate(snap.comments, schema, as_of, roster=snap.roster, rules=rules)


def archived_comments(*args, **kwargs):
    from sheets_sync.archive_report import archived_comments as read

    return read(*args, **kwargs)


def run_report(backend: Backend, schema: Schema, as_of: datetime, *, since: datetime | None = None,
               until: datetime | None = None, roster_path=None, write_tab: bool = True,
               now: datetime | None = None) -> tuple[Report, TrackerSnapshot]:
    """Build the report and (unless ``write_tab`` is false) upsert it into the Report tab.

    The caller holds the run lock when writing (:func:`sheets_sync.runlock.run_lock`).
    """
    rules = deadline_rules(schema)
    write_tab = write_tab and "report" in schema.tabs
    with backend.open(schema, write=write_tab) as session:
        snap = read_tracker(session, schema, backend.location, roster_path=roster_path)
        # The part of the period the archive holds (archive_report.py).
        period = default_period(as_of, since, until)
        snap.comments.extend(archived_comments(session, backend, schema, *period, snap.comments))
        deadlines = evaluate(snap.comments, schema, as_of, roster=snap.roster, rules=rules)
        report = build_report(deadlines, snap.roster, as_of, since=since, until=until, requests=snap.requests,
                              rules=rules.describe(), location=backend.location, warnings=snap.warnings)
        if write_tab and session.is_new():
            report.warnings.append(f"{backend.location} has no tabs yet; the Report tab was not written "
                                   "(run `python cli.py init` or a sync first)")
        elif write_tab:
            if not snap.has_report_tab:
                # A tracker made before the Report tab existed: add it (and any other missing tab).
                for line in session.ensure_structure():
                    log.info("%s: %s", backend.location, line)
            session.apply(report_tab_changes(report, snap.report_rows, now or now_ist()))
    return report, snap


# --- the overdue list -------------------------------------------------------------------------


OVERDUE_COLUMNS = ("department", "level", "late_hours", "due_at", "commented_at", "category", "status",
                   "platform", "comment_id", "post_id", "author", "text", "url", "row")


def overdue_rows(deadlines: Sequence[CommentDeadline]) -> list[dict]:
    """The overdue comments as plain rows, per department, oldest due time first."""
    return [{k: d.as_dict()[k] for k in OVERDUE_COLUMNS} for d in overdue(deadlines)]


def how_long(hours: float) -> str:
    """A span of hours the way people say it: hours under two days, then days."""
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def one_line(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def overdue_text(deadlines: Sequence[CommentDeadline], roster: Roster, as_of: datetime) -> str:
    """The terminal listing: per department, oldest first."""
    late = overdue(deadlines)
    departments = sorted({d.department for d in late})
    lines = [f"Overdue at {to_sheet(as_of)} IST: {len(late)} comment(s) in {len(departments)} "
             "department(s)"]
    for code in departments:
        items = [d for d in late if d.department == code]
        lines.append(f"{_dept_label(code, roster)} ({len(items)})")
        for d in items:
            level = "ESCALATED" if d.level == 2 else "overdue  "
            lines.append(f"  {level} {how_long(d.late_hours):>10} late  due {to_sheet(d.due_at)}  "
                         f"{d.platform} {d.comment_id}  {one_line(d.author, 24)}: {one_line(d.text, 60)}")
            if d.url:
                lines.append(f"  {'':>32}{d.url}")
    return "\n".join(lines)


def rows_csv(rows: Sequence[dict], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        # A spreadsheet opening this CSV must not run citizen text as a formula.
        writer.writerow({k: _csv_safe(v) for k, v in row.items()})
    return buf.getvalue()


def _csv_safe(value):
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def _dept_label(code: str, roster: Roster) -> str:
    d = roster.get(code)
    if d is None:
        return code or "(no department)"
    return f"{code} — {d.name_en}" + (f" ({d.name_mr})" if d.name_mr else "")


# --- the summary ------------------------------------------------------------------------------


@dataclass
class DepartmentSummary:
    code: str
    name: str
    name_mr: str
    received: int = 0
    answered: int = 0
    open: int = 0
    overdue: int = 0
    overdue_level_1: int = 0
    overdue_level_2: int = 0
    oldest_open: CommentDeadline | None = None
    median_reply_hours: float | None = None
    p90_reply_hours: float | None = None
    on_time_share: float | None = None
    reply_times_known: int = 0
    late_requests: int = 0  # content requests of the period that came with less lead time than asked

    def as_dict(self) -> dict:
        o = self.oldest_open
        return {
            "department": self.code, "name": self.name, "name_mr": self.name_mr,
            "received": self.received, "answered": self.answered, "open": self.open,
            "overdue": self.overdue, "overdue_level_1": self.overdue_level_1,
            "overdue_level_2": self.overdue_level_2,
            "oldest_open_at": to_sheet(o.commented_at) if o and o.commented_at else "",
            "oldest_open_comment": f"{o.platform} {o.comment_id}" if o else "",
            "median_reply_hours": _round(self.median_reply_hours),
            "p90_reply_hours": _round(self.p90_reply_hours),
            "on_time_share": _round(self.on_time_share, 3),
            "reply_times_known": self.reply_times_known,
            "late_requests": self.late_requests,
        }


SUMMARY_COLUMNS = ("department", "name", "name_mr", "received", "answered", "open", "overdue",
                   "overdue_level_1", "overdue_level_2", "oldest_open_at", "oldest_open_comment",
                   "median_reply_hours", "p90_reply_hours", "on_time_share", "reply_times_known",
                   "late_requests")


@dataclass
class Report:
    as_of: datetime
    since: datetime
    until: datetime
    departments: list[DepartmentSummary]
    total: DepartmentSummary
    overdue: list[CommentDeadline]  # at as_of, per department, oldest first
    rules: str = ""
    location: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def period(self) -> str:
        return f"{to_sheet(self.since)} – {to_sheet(self.until)}"

    def department(self, code: str) -> DepartmentSummary | None:
        return next((d for d in self.departments if d.code == code), None)

    def overdue_of(self, code: str) -> list[CommentDeadline]:
        return [d for d in self.overdue if d.department == code]

    def as_dict(self) -> dict:
        return {
            "tracker": self.location, "as_of": to_sheet(self.as_of), "since": to_sheet(self.since),
            "until": to_sheet(self.until), "deadlines": self.rules,
            "departments": [d.as_dict() for d in self.departments], "total": self.total.as_dict(),
            "overdue": [d.as_dict() for d in self.overdue], "warnings": list(self.warnings),
        }


def default_period(as_of: datetime, since: datetime | None = None,
                   until: datetime | None = None) -> tuple[datetime, datetime]:
    """The last seven days up to ``as_of`` unless told otherwise."""
    until = until or as_of
    since = since or until - timedelta(days=7)
    return since, until


def build_report(deadlines: Sequence[CommentDeadline], roster: Roster, as_of: datetime, *,
                 since: datetime | None = None, until: datetime | None = None, rules: str = "",
                 location: str = "", warnings: Sequence[str] = (),
                 requests: Sequence[tuple[str, datetime | None, bool]] = ()) -> Report:
    """Summarise per department (pure: deadlines in, report out); ``requests`` (department,
    received, late) gives each department's late requests of the period."""
    since, until = default_period(as_of, since, until)
    frame = _frame(deadlines, since, until, as_of)
    codes = [d.code for d in roster]
    codes += sorted({d.department for d in deadlines if d.department and d.department not in codes})
    summaries = [_summarise(code, frame[frame["department"] == code], roster) for code in codes]
    total = _summarise(ALL, frame, roster)
    total.name, total.name_mr = "All departments", "सर्व विभाग"
    late_requests = [code for code, at, late in requests if late and at is not None and since <= at < until]
    for summary in summaries:
        summary.late_requests = late_requests.count(summary.code)
    total.late_requests = len(late_requests)
    late = [d for d in overdue(deadlines) if d.commented_at is None or d.commented_at <= as_of]
    notes = list(warnings) + [f"Comments row {d.row}: {d.note}" for d in deadlines if d.note]
    return Report(as_of, since, until, summaries, total, late, rules, location, notes)


def _frame(deadlines: Sequence[CommentDeadline], since, until, as_of) -> pd.DataFrame:
    columns = ["department", "citizen", "needs_reply", "in_period", "written", "answered", "is_open",
               "level", "reply_hours", "on_time", "commented_at", "item"]
    rows = [{
        "department": d.department,
        "citizen": not d.by_page,
        "needs_reply": d.needs_reply,
        "in_period": d.commented_at is not None and since <= d.commented_at < until,
        "written": d.commented_at is None or d.commented_at <= as_of,
        "answered": d.answered,
        "is_open": d.is_open,
        "level": d.level,
        "reply_hours": d.reply_hours,
        "on_time": d.on_time,
        "commented_at": d.commented_at,
        "item": d,
    } for d in deadlines]
    return pd.DataFrame(rows, columns=columns)


def _summarise(code: str, frame: pd.DataFrame, roster: Roster) -> DepartmentSummary:
    d = roster.get(code)
    out = DepartmentSummary(code, d.name_en if d else code, d.name_mr if d else "")
    if frame.empty:
        return out
    period = frame[frame["in_period"] & frame["citizen"]]
    needing = period[period["needs_reply"]]
    out.received = len(period)
    out.answered = int(needing["answered"].sum())
    now = frame[frame["written"] & frame["is_open"]]
    out.open = len(now)
    out.overdue_level_1 = int((now["level"] == 1).sum())
    out.overdue_level_2 = int((now["level"] == 2).sum())
    out.overdue = out.overdue_level_1 + out.overdue_level_2
    dated = now[now["commented_at"].notna()]
    if not dated.empty:
        out.oldest_open = min(dated["item"], key=lambda i: (i.commented_at, i.platform, i.comment_id))
    times = pd.to_numeric(needing["reply_hours"], errors="coerce").dropna()
    out.reply_times_known = len(times)
    if len(times):
        out.median_reply_hours = float(times.median())
        out.p90_reply_hours = float(times.quantile(0.9))
    known = needing["on_time"].dropna()
    if len(known):
        out.on_time_share = float(known.astype(bool).mean())
    return out


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


# --- formats -------------------------------------------------------------------------------------


def hours_text(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def share_text(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def report_text(report: Report, *, overdue_limit: int = 20) -> str:
    """The terminal table, then the overdue comments per department."""
    head = ("Dept", "Received", "Answered", "Open", "Overdue", "Escalated", "Oldest open", "Median h",
            "90% h", "On time")
    rows = []
    for s in [*report.departments, report.total]:
        oldest = to_sheet(s.oldest_open.commented_at) if s.oldest_open and s.oldest_open.commented_at else "–"
        # Overdue counts the escalated ones too: all escalated must not read as "0 overdue".
        rows.append((s.code, str(s.received), str(s.answered), str(s.open), str(s.overdue),
                     str(s.overdue_level_2), oldest, hours_text(s.median_reply_hours),
                     hours_text(s.p90_reply_hours), share_text(s.on_time_share)))
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def fmt(r):
        return "  ".join(c.ljust(w) if i in (0, 6) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths,
                                                                                                   strict=True)))

    lines = [f"Report for {report.period} IST (as of {to_sheet(report.as_of)}); {report.rules}",
             fmt(head), "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in rows[:-1]]
    lines += ["  ".join("-" * w for w in widths), fmt(rows[-1])]
    if report.overdue:
        lines.append("")
        lines.append(f"Overdue comments ({len(report.overdue)}), per department, oldest first:")
        for s in report.departments:
            items = report.overdue_of(s.code)
            if not items:
                continue
            lines.append(f"  {s.code} ({len(items)})")
            for d in items[:overdue_limit]:
                tag = "ESCALATED" if d.level == 2 else "overdue"
                lines.append(f"    {tag:<9} {how_long(d.late_hours):>10} late  {d.platform} {d.comment_id}: "
                             f"{one_line(d.text, 60)}")
            if len(items) > overdue_limit:
                lines.append(f"    … and {len(items) - overdue_limit} more (see --csv or --html)")
    late = [s for s in report.departments if s.late_requests]
    if late:
        lines.append("")
        lines.append("Content requests that came late (less lead time than the order asks): "
                     + ", ".join(f"{s.code} {s.late_requests}" for s in late))
    for w in report.warnings:
        lines.append(f"Warning: {w}")
    return "\n".join(lines)


def report_csv(report: Report) -> str:
    rows = [s.as_dict() for s in [*report.departments, report.total]]
    for row in rows:
        row["since"], row["until"] = to_sheet(report.since), to_sheet(report.until)
    return rows_csv(rows, [*SUMMARY_COLUMNS, "since", "until"])


def report_json(report: Report) -> str:
    return json.dumps(report.as_dict(), ensure_ascii=False, indent=2)


# --- the Report tab ---------------------------------------------------------------------------------


def report_tab_rows(report: Report, now: datetime) -> list[dict[str, CellValue]]:
    """One row per department (and ALL) as the Report tab shows it."""
    out = []
    for s in [*report.departments, report.total]:
        o = s.oldest_open
        oldest = ""
        if o is not None and o.commented_at is not None:
            oldest = f"{to_sheet(o.commented_at)} {o.platform} {o.comment_id}"
        out.append({
            "department": s.code, "name": s.name, "period": report.period,
            # Counts and hours as numbers, so people can sum and chart them (table.CellValue);
            # the share stays "67%": a bare 0.67 would need a percent format on both backends.
            "received": s.received, "answered": s.answered, "open": s.open,
            "overdue": s.overdue, "overdue_level_1": s.overdue_level_1,
            "overdue_level_2": s.overdue_level_2, "oldest_open": oldest,
            "median_reply_hours": _figure(s.median_reply_hours),
            "p90_reply_hours": _figure(s.p90_reply_hours),
            "on_time_share": "" if s.on_time_share is None else f"{s.on_time_share:.0%}",
            "updated_at": to_sheet(now),
        })
    return out


def _figure(value: float | None) -> float | str:
    """Hours to one decimal as a number; an unknown one is an empty cell."""
    return "" if value is None else round(value, 1)


def report_tab_changes(report: Report, existing: dict[str, Record], now: datetime) -> list[Change]:
    """Upsert by department: rows found by their code; a department gone from the report is
    emptied (its row stays, saying when), never deleted, so nothing people added beside it moves."""
    changes: list[Change] = []
    rows = report_tab_rows(report, now)
    for row in rows:
        if row["department"] in existing:
            changes.append(UpdateRow("report", (row["department"],), row, "report"))
        else:
            changes.append(AddRow("report", row))
    current = {r["department"] for r in rows}
    for code in existing:
        if code not in current:
            changes.append(UpdateRow("report", (code,), {
                "period": report.period, "received": "", "answered": "", "open": "", "overdue": "",
                "overdue_level_1": "", "overdue_level_2": "", "oldest_open": "",
                "median_reply_hours": "", "p90_reply_hours": "", "on_time_share": "",
                "updated_at": to_sheet(now), "name": "(no longer in the roster or the comments)"},
                "gone"))
    return changes
