"""The report as a self-contained HTML page: tables, and charts as embedded PNG.

Everything shown is escaped (citizens' words above all); the measures are
:mod:`sheets_sync.report`'s.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence

from sheets_sync.deadlines import CommentDeadline
from sheets_sync.report import ALL, Report, hours_text, how_long, share_text
from sheets_sync.timeutil import to_sheet

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
.charts figure.empty{border:1px solid #e3e6ea;padding:.6em .9em;max-width:22em}
.charts figcaption{font-weight:bold;font-size:.92em}
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
# Charts of counts: their axis has whole-number ticks (no "0.5 comments").
COUNTS = {"received", "open", "overdue"}
# What a chart with nothing to draw says instead.
NOTHING = {
    "received": "No comments were received in the period.",
    "open": "No comment is open.",
    "overdue": "Nothing is overdue.",
    "median_reply_hours": "No reply time is known for the period (the page's own replies, or a "
                          "Replied at column, give one).",
    "p90_reply_hours": "No reply time is known for the period.",
    "on_time_share": "No comment of the period has a reply time to compare with its deadline.",
}


def chart_values(report: Report, measure: str) -> list[float] | None:
    """A bar per department, or None when there is nothing to draw (all zero or unknown)."""
    if measure == "overdue":
        values = [float(s.overdue_level_1 + s.overdue_level_2) for s in report.departments]
        return values if any(values) else None
    known = [getattr(s, measure) for s in report.departments]
    if all(v is None for v in known) or (measure in COUNTS and not any(known)):
        return None
    scale = 100 if measure == "on_time_share" else 1
    return [0.0 if v is None else v * scale for v in known]


def chart_figure(report: Report, measure: str, title: str):
    """One horizontal bar chart, departments by code (a matplotlib Figure; Agg, no display
    needed), or None when there is nothing to draw."""
    if chart_values(report, measure) is None:
        return None
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

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
        ax.barh(y, chart_values(report, measure), color="#3b6ea5")
        if measure == "on_time_share":
            ax.set_xlim(0, 100)
    if measure in COUNTS:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(left=0)
    ax.set_yticks(y, codes)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=10)
    ax.tick_params(labelsize=8)
    fig.tight_layout()
    return fig


def chart_png(report: Report, measure: str, title: str) -> bytes | None:
    """The chart as PNG bytes; None when there is nothing to draw."""
    fig = chart_figure(report, measure, title)
    if fig is None:
        return None
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def chart_html(report: Report, measure: str, title: str) -> str:
    """The chart as an embedded image, or, with nothing to draw, a sentence saying so."""
    png = chart_png(report, measure, title)
    if png is None:
        return (f'<figure class="empty"><figcaption>{esc(title)}</figcaption>'
                f"<p>{esc(NOTHING[measure])}</p></figure>")
    data = base64.b64encode(png).decode("ascii")
    return f'<figure><img alt="{esc(title)}" src="data:image/png;base64,{data}"></figure>'


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
            f"<td class=n>{s.answered}</td><td class=n>{s.open}</td><td class=n>{s.overdue}</td>"
            f"<td class=n>{s.overdue_level_2}</td><td>{oldest or '–'}</td>"
            f"<td class=n>{hours_text(s.median_reply_hours)}</td>"
            f"<td class=n>{hours_text(s.p90_reply_hours)}</td>"
            f"<td class=n>{share_text(s.on_time_share)}</td></tr>")
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
            f'<tr class="l{d.level}"><td>{level}</td><td class=n>{esc(how_long(d.late_hours))}</td>'
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
        parts += [chart_html(report, measure, title) for measure, title in CHARTS]
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
