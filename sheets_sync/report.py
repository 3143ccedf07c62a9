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

import base64
import csv
import html
import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from sheets_sync.backends.base import Backend, TrackerSession
from sheets_sync.deadlines import CommentDeadline, DeadlineRules, deadline_rules, evaluate, overdue
from sheets_sync.errors import TrackerError
from sheets_sync.roster import DEFAULT_ROSTER, Roster, load_roster_file, roster_from_rows
from sheets_sync.schema import Schema
from sheets_sync.table import AddRow, Change, Record, Table, UpdateRow
from sheets_sync.timeutil import now_ist, to_sheet

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


def read_tracker(session: TrackerSession, schema: Schema, location: str, *,
                 roster_path=None) -> TrackerSnapshot:
    """Read comments, departments, the Sync Log and the Report tab in one request."""
    names = ["comments", "departments", "sync_log"] + (["report"] if "report" in schema.tabs else [])
    tables = session.read(names)
    warnings: list[str] = []
    comments_tab = schema.tab("comments")
    table = tables["comments"]
    if not table.header:
        if not session.is_new():
            raise TrackerError(f"tab {comments_tab.title!r} is missing (deleted or renamed?); restore it "
                               "from the spreadsheet's version history or rename it back")
        comments: list[Record] = []
    else:
        _require(table, schema, "comments", NEEDED)
        comments = table.records(comments_tab)
    dept_tab = schema.tab("departments")
    rows = [(r.row, r.values) for r in tables["departments"].records(dept_tab)]
    roster, roster_warnings = roster_from_rows(rows, dept_tab.title)
    warnings += roster_warnings
    if not len(roster):
        if roster_path or DEFAULT_ROSTER.exists():
            roster = load_roster_file(roster_path)
        if not session.is_new():
            warnings.append(f"the {dept_tab.title} tab has no departments; run `python cli.py init`")
    log = tables["sync_log"].records(schema.tab("sync_log")) if tables["sync_log"].header else []
    report_rows = {}
    has_report_tab = "report" in tables and bool(tables["report"].header)
    if has_report_tab:
        for rec in tables["report"].records(schema.tab("report")):
            code = rec.get("department").strip()
            if code and code not in report_rows:
                report_rows[code] = rec
    return TrackerSnapshot(location, comments, roster, log, report_rows, warnings, has_report_tab)


def _require(table: Table, schema: Schema, name: str, fields: Sequence[str]) -> None:
    tab = schema.tab(name)
    have = table.positions()
    missing = [tab.header_of(f) for f in fields if tab.index_of(f, have) is None]
    if missing:
        raise TrackerError(f"tab {tab.title!r}: column(s) {', '.join(map(repr, missing))} not found in "
                           "row 1 (renamed or deleted?); restore the header, or run `python cli.py init`")


def load_deadlines(backend: Backend, schema: Schema, as_of: datetime, *, roster_path=None,
                   rules: DeadlineRules | None = None) -> tuple[TrackerSnapshot, list[CommentDeadline]]:
    """Read the tracker (read-only) and evaluate every comment at ``as_of``."""
    rules = rules or deadline_rules(schema)
    with backend.open(schema, write=False) as session:
        snap = read_tracker(session, schema, backend.location, roster_path=roster_path)
    return snap, evaluate(snap.comments, schema, as_of, roster=snap.roster, rules=rules)


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
        deadlines = evaluate(snap.comments, schema, as_of, roster=snap.roster, rules=rules)
        report = build_report(deadlines, snap.roster, as_of, since=since, until=until,
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


def late_text(hours: float) -> str:
    """How late, the way people say it: hours under two days, then days."""
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
            lines.append(f"  {level} {late_text(d.late_hours):>10} late  due {to_sheet(d.due_at)}  "
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
        }


SUMMARY_COLUMNS = ("department", "name", "name_mr", "received", "answered", "open", "overdue",
                   "overdue_level_1", "overdue_level_2", "oldest_open_at", "oldest_open_comment",
                   "median_reply_hours", "p90_reply_hours", "on_time_share", "reply_times_known")


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
                 location: str = "", warnings: Sequence[str] = ()) -> Report:
    """Summarise per department (pure: deadlines in, report out)."""
    since, until = default_period(as_of, since, until)
    frame = _frame(deadlines, since, until, as_of)
    codes = [d.code for d in roster]
    codes += sorted({d.department for d in deadlines if d.department and d.department not in codes})
    summaries = [_summarise(code, frame[frame["department"] == code], roster) for code in codes]
    total = _summarise(ALL, frame, roster)
    total.name, total.name_mr = "All departments", "सर्व विभाग"
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


def _hours(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def report_text(report: Report, *, overdue_limit: int = 20) -> str:
    """The terminal table, then the overdue comments per department."""
    head = ("Dept", "Received", "Answered", "Open", "Overdue", "Escalated", "Oldest open", "Median h",
            "90% h", "On time")
    rows = []
    for s in [*report.departments, report.total]:
        oldest = to_sheet(s.oldest_open.commented_at) if s.oldest_open and s.oldest_open.commented_at else "–"
        rows.append((s.code, str(s.received), str(s.answered), str(s.open), str(s.overdue_level_1),
                     str(s.overdue_level_2), oldest, _hours(s.median_reply_hours),
                     _hours(s.p90_reply_hours), _share(s.on_time_share)))
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
                lines.append(f"    {tag:<9} {late_text(d.late_hours):>10} late  {d.platform} {d.comment_id}: "
                             f"{one_line(d.text, 60)}")
            if len(items) > overdue_limit:
                lines.append(f"    … and {len(items) - overdue_limit} more (see --csv or --html)")
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


def report_tab_rows(report: Report, now: datetime) -> list[dict[str, str]]:
    """One row per department (and ALL) as the Report tab shows it."""
    out = []
    for s in [*report.departments, report.total]:
        o = s.oldest_open
        oldest = ""
        if o is not None and o.commented_at is not None:
            oldest = f"{to_sheet(o.commented_at)} {o.platform} {o.comment_id}"
        out.append({
            "department": s.code, "name": s.name, "period": report.period,
            "received": str(s.received), "answered": str(s.answered), "open": str(s.open),
            "overdue": str(s.overdue), "overdue_level_1": str(s.overdue_level_1),
            "overdue_level_2": str(s.overdue_level_2), "oldest_open": oldest,
            "median_reply_hours": "" if s.median_reply_hours is None else f"{s.median_reply_hours:.1f}",
            "p90_reply_hours": "" if s.p90_reply_hours is None else f"{s.p90_reply_hours:.1f}",
            "on_time_share": "" if s.on_time_share is None else f"{s.on_time_share:.0%}",
            "updated_at": to_sheet(now),
        })
    return out


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


# --- HTML ------------------------------------------------------------------------------------------

_CSS = """
body{font-family:"Noto Sans","Noto Sans Devanagari","Mukta","Nirmala UI","Mangal","Kohinoor Devanagari",
"Lohit Devanagari",system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:2em;color:#1d2733;
line-height:1.45}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccd}
.meta{color:#556}table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #ccd;padding:.3em .55em;vertical-align:top;text-align:left}
th{background:#dde7f0}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.total td{font-weight:bold;background:#f3f6f9}tr.l2 td{background:#fde2e1}tr.l1 td{background:#fff4d6}
.charts{display:flex;flex-wrap:wrap;gap:1em}.charts figure{margin:0}
.charts img{max-width:100%;height:auto;border:1px solid #e3e6ea}
.text{max-width:36em;white-space:pre-wrap;overflow-wrap:anywhere}.warn{color:#8a4b00}
"""

CHARTS = (
    ("received", "Comments received"),
    ("open", "Open now"),
    ("overdue", "Overdue now (department / escalated)"),
    ("median_reply_hours", "Median reply time (hours)"),
    ("p90_reply_hours", "90% replied within (hours)"),
    ("on_time_share", "Answered within deadline (%)"),
)


def chart_png(report: Report, measure: str, title: str) -> bytes:
    """One horizontal bar chart, departments by code (Agg: no display needed)."""
    from matplotlib.figure import Figure

    codes = [s.code for s in report.departments]
    fig = Figure(figsize=(5.2, 0.35 * max(len(codes), 3) + 1.0), dpi=96)
    ax = fig.subplots()
    y = list(range(len(codes)))
    if measure == "overdue":
        l1 = [s.overdue_level_1 for s in report.departments]
        l2 = [s.overdue_level_2 for s in report.departments]
        ax.barh(y, l1, color="#f0b429", label="overdue")
        ax.barh(y, l2, left=l1, color="#d64545", label="escalated")
        ax.legend(loc="lower right", fontsize=8)
    else:
        values = []
        for s in report.departments:
            v = getattr(s, measure)
            values.append(0 if v is None else (v * 100 if measure == "on_time_share" else v))
        ax.barh(y, values, color="#3b6ea5")
        if measure == "on_time_share":
            ax.set_xlim(0, 100)
    ax.set_yticks(y, codes)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=10)
    ax.tick_params(labelsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def esc(value) -> str:
    """HTML-escape anything (citizen text above all); None is empty."""
    return html.escape("" if value is None else str(value), quote=True)


def _link(url: str, label: str) -> str:
    if url.startswith(("https://", "http://")):
        return f'<a href="{esc(url)}">{esc(label)}</a>'
    return esc(label)


def summary_table_html(report: Report) -> str:
    head = ("Department", "Received", "Answered", "Open", "Overdue", "Escalated", "Oldest open",
            "Median reply (h)", "90% within (h)", "On time")
    out = ["<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"]
    for s in [*report.departments, report.total]:
        name = s.name + (f" / {s.name_mr}" if s.name_mr else "")
        o = s.oldest_open
        oldest = ""
        if o is not None and o.commented_at is not None:
            oldest = f"{to_sheet(o.commented_at)} · " + _link(o.url, f"{o.platform} {o.comment_id}")
        cls = ' class="total"' if s.code == ALL else ""
        out.append(
            f"<tr{cls}><td><b>{esc(s.code)}</b> {esc(name)}</td><td class=n>{s.received}</td>"
            f"<td class=n>{s.answered}</td><td class=n>{s.open}</td><td class=n>{s.overdue_level_1}</td>"
            f"<td class=n>{s.overdue_level_2}</td><td>{oldest or '–'}</td>"
            f"<td class=n>{_hours(s.median_reply_hours)}</td><td class=n>{_hours(s.p90_reply_hours)}</td>"
            f"<td class=n>{_share(s.on_time_share)}</td></tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def overdue_table_html(items: Sequence[CommentDeadline]) -> str:
    if not items:
        return "<p>Nothing overdue.</p>"
    head = ("Level", "Late", "Due (IST)", "Written (IST)", "Category", "Author", "Comment", "Link")
    out = ["<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"]
    for d in items:
        level = "escalated" if d.level == 2 else "overdue"
        out.append(
            f'<tr class="l{d.level}"><td>{level}</td><td class=n>{esc(late_text(d.late_hours))}</td>'
            f"<td>{esc(to_sheet(d.due_at))}</td><td>{esc(to_sheet(d.commented_at))}</td>"
            f"<td>{esc(d.category)}</td><td>{esc(d.author)}</td><td class=text>{esc(d.text)}</td>"
            f"<td>{_link(d.url, f'{d.platform} {d.comment_id}')}</td></tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def report_html(report: Report, *, charts: bool = True) -> str:
    """A self-contained page: inline CSS, charts as embedded PNG, all citizen text escaped."""
    parts = [
        "<!DOCTYPE html>", '<html lang="mr"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Tracker report {esc(report.period)}</title><style>{_CSS}</style></head><body>",
        "<h1>Replies to citizens' comments — per department</h1>",
        f'<p class="meta">Period {esc(report.period)} IST · as of {esc(to_sheet(report.as_of))} IST · '
        f"{esc(report.rules)}" + (f" · {esc(report.location)}" if report.location else "") + "</p>",
        "<h2>Summary</h2>", summary_table_html(report),
        "<p class=meta>Received, answered, reply times and “on time” count comments written in the "
        "period; open, overdue and escalated are the backlog at the report time.</p>",
    ]
    if charts and report.departments:
        parts.append('<h2>Charts</h2><div class="charts">')
        for measure, title in CHARTS:
            png = base64.b64encode(chart_png(report, measure, title)).decode("ascii")
            parts.append(f'<figure><img alt="{esc(title)}" src="data:image/png;base64,{png}"></figure>')
        parts.append("</div>")
    parts.append("<h2>Overdue comments, per department (oldest first)</h2>")
    any_late = False
    for s in report.departments:
        items = report.overdue_of(s.code)
        if items:
            any_late = True
            parts.append(f"<h3>{esc(s.code)} — {esc(s.name)} ({len(items)})</h3>")
            parts.append(overdue_table_html(items))
    if not any_late:
        parts.append("<p>Nothing overdue.</p>")
    if report.warnings:
        parts.append("<h2>Warnings</h2><ul>" + "".join(f'<li class="warn">{esc(w)}</li>'
                                                      for w in report.warnings) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)
