"""The daily supervision e-mail (the office order's point 8): each department, every
morning, ONE message about the last day — new comments on its posts, those pending
and overdue, the replies that went out, and the requests waiting on it. A department
with nothing to say gets nothing.

Its subject carries a marker, ``[digest SWM 2026-12-01]``, so the department's answer
is filed as a suggestion on its row of the day in the Supervision tab
(:mod:`sheets_sync.content_filing`). The figures come from the same reading the
reports use (:func:`sheets_sync.report.read_tracker` and the one deadline rule).

Sent once a day per department: the Sync Log says who got it (``digest`` rows, the
emailer's rule), and the Supervision row is written after sending.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sheets_sync.backends.base import Backend
from sheets_sync.content import waiting_on
from sheets_sync.content_mail import delivered, delivery_row
from sheets_sync.content_settings import ASKED, ContentSettings, content_settings
from sheets_sync.deadlines import CommentDeadline, evaluate
from sheets_sync.emailer import SUBJECT_TAG, Delivery, Outgoing, SmtpFactory, _page, connect, send_messages
from sheets_sync.report import one_line, read_tracker
from sheets_sync.report_html import esc
from sheets_sync.roster import Department, Roster
from sheets_sync.schema import Schema, normalize_header
from sheets_sync.table import AddRow, Change, Record, UpdateRow
from sheets_sync.timeutil import IST, now_ist, to_sheet

_ASKED = normalize_header(ASKED)

LIST_LIMIT = 20  # comments listed per section; the rest are counted


@dataclass(frozen=True)
class DepartmentDay:
    """What one department's digest says."""

    department: Department
    day: date
    new: list[CommentDeadline]
    pending: list[CommentDeadline]  # open, not yet overdue
    overdue: list[CommentDeadline]
    replied: list[CommentDeadline]  # answered during the day
    requests: list[tuple[str, Mapping[str, str]]]  # waiting on the department

    @property
    def quiet(self) -> bool:
        return not (self.new or self.pending or self.overdue or self.replied or self.requests)

    @property
    def key(self) -> str:
        return f"digest {self.day.isoformat()} {self.department.code}"

    def row(self, sent_at: str) -> dict[str, str | int]:
        return {"date": self.day.isoformat(), "department": self.department.code, "digest_sent": sent_at,
                "comments_new": len(self.new), "comments_pending": len(self.pending),
                "comments_overdue": len(self.overdue), "replies": len(self.replied),
                "requests_waiting": len(self.requests)}


def marker(code: str, day: date) -> str:
    return f"[digest {code} {day.isoformat()}]"


def plan_days(deadlines: Sequence[CommentDeadline], requests: Mapping[str, Mapping[str, str]], roster: Roster,
              settings: ContentSettings, as_of: datetime) -> list[DepartmentDay]:
    """Every department's day ending at ``as_of`` (the 24 hours before it); pure."""
    since = as_of - timedelta(hours=24)
    day = since.astimezone(IST).date()
    out = []
    for dept in roster:
        mine = [d for d in deadlines if d.department == dept.code and not d.by_page]
        out.append(DepartmentDay(
            dept, day,
            new=[d for d in mine if d.commented_at and since <= d.commented_at < as_of],
            pending=sorted((d for d in mine if d.is_open and not d.overdue), key=_due),
            overdue=sorted((d for d in mine if d.is_open and d.overdue), key=_due),
            replied=[d for d in mine if d.answered_at and since <= d.answered_at < as_of],
            requests=waiting_on(requests, dept.code, settings)))
    return out


def _due(d: CommentDeadline):
    return d.due_at or datetime.max.replace(tzinfo=IST)


def digest_message(item: DepartmentDay, location: str) -> Outgoing:
    dept, day = item.department, item.day
    subject = (f"{SUBJECT_TAG} Daily supervision {dept.code} {day.isoformat()}: {len(item.new)} new, "
               f"{len(item.overdue)} overdue, {len(item.requests)} request(s) waiting "
               f"{marker(dept.code, day)}")
    intro = _intro(item)
    text, html = list(intro), "".join(f"<p>{esc(p)}</p>" for p in intro)
    for title, items in (("Overdue / मुदत उलटलेल्या", item.overdue), ("New / नवीन", item.new),
                         ("Pending / प्रलंबित", item.pending), ("Replied / उत्तर दिलेल्या", item.replied)):
        if items:
            lines = [_comment_line(d) for d in items[:LIST_LIMIT]]
            if len(items) > LIST_LIMIT:
                lines.append(f"… and {len(items) - LIST_LIMIT} more in your tab of the Tracker")
            text, html = _section(text, html, f"{title} ({len(items)})", lines)
    if item.requests:
        heads = [(c, r) for c, r in item.requests if normalize_header(r.get("status", "")) != _ASKED]
        asks = [(c, r) for c, r in item.requests if normalize_header(r.get("status", "")) == _ASKED]
        lines = [f"{code}: {row.get('subject', '')} (asked {row.get('asked_at', '')}) "
                 f"{row.get('draft_link', '')}" for code, row in heads]
        if lines:
            text, html = _section(text, html, "Requests waiting for the head's approval / मंजुरीसाठी प्रलंबित "
                                  "विनंत्या", lines)
        lines = [f"{code}: {row.get('subject', '')} (asked {row.get('dept_asked_at', '')}{_reminded(row)}): "
                 f"{row.get('dept_asked_text', '') or row.get('dept_ask', '')}" for code, row in asks]
        if lines:
            text, html = _section(text, html, "The cell asks your department / कक्ष विभागाकडे मागत आहे", lines)
    footer = f"— sheets-sync, for the social media cell. Tracker: {location}"
    recipients = tuple(dict.fromkeys(a for a in (dept.head, *dept.nodal_officers) if a))
    return Outgoing(item.key, recipients, subject, "\n".join([*text, "", footer]),
                    _page(html + f"<p><small>{esc(footer)}</small></p>"))


def _reminded(row) -> str:
    at = row.get("dept_reminded_at", "").strip()
    return f", reminded {at}" if at else ""


def _intro(item: DepartmentDay) -> list[str]:
    dept, day = item.department, item.day.isoformat()
    name = dept.name_en + (f" ({dept.name_mr})" if dept.name_mr else "")
    new, pending, overdue, replied = len(item.new), len(item.pending), len(item.overdue), len(item.replied)
    return [f"नमस्कार / Dear {name},",
            f"Your department's posts on {day}: {new} new comment(s), {pending} pending, {overdue} overdue, "
            f"{replied} reply(ies) sent; {len(item.requests)} request(s) wait for your approval.",
            f"आपल्या विभागाच्या पोस्टवर {day} रोजी {new} नवीन टिप्पण्या, {pending} प्रलंबित, {overdue} मुदत "
            f"उलटलेल्या, {replied} उत्तरे; {len(item.requests)} विनंत्या आपल्या मंजुरीच्या प्रतीक्षेत.",
            "Any suggestion for the cell? Reply to this e-mail (keep the subject): it is filed for the "
            "cell.",
            "कक्षासाठी काही सूचना असल्यास या ई-मेलला उत्तर द्या (विषय तसाच ठेवा)."]


def _section(text: list[str], html: str, title: str, lines: Sequence[str]) -> tuple[list[str], str]:
    """A titled list, in both parts; everything in it escaped in the HTML."""
    items = "".join(f"<li>{esc(line)}</li>" for line in lines)
    html += f"<h3>{esc(title)}</h3><ul>{items}</ul>"
    return [*text, "", f"{title}:", *(f"  - {line}" for line in lines)], html


def _comment_line(d: CommentDeadline) -> str:
    due = f", due {to_sheet(d.due_at)}" if d.due_at else ""
    return f"{d.author}: {one_line(d.text, 120)}{due} {d.url}"


@dataclass
class DigestRun:
    location: str
    day: date
    days: list[DepartmentDay]
    messages: list[Outgoing]
    delivery: Delivery | None = None
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        out = {"tracker": self.location, "day": self.day.isoformat(), "dry_run": self.dry_run,
               "departments": {d.department.code: {**d.row(""), "quiet": d.quiet} for d in self.days
                               if not d.quiet},
               "to_send": [{"key": m.key, "to": list(m.recipients)} for m in self.messages],
               "warnings": list(self.warnings)}
        if self.delivery is not None:
            out["sent"] = [f"{k}→{a}" for k, a in self.delivery.sent]
            out["failed"] = [f"{k}→{a}: {why}" for k, a, why in self.delivery.failed]
            out["skipped"] = [f"{k}→{a}" for k, a in self.delivery.skipped]
        return out


def run_digest(backend: Backend, schema: Schema, *, now: datetime | None = None, smtp=None, roster_path=None,
               dry_run: bool = False, factory: SmtpFactory = connect, run_by: str = "") -> DigestRun:
    """Each department's digest of the day before ``now``; sent with ``smtp`` (the caller holds
    the run lock), then its Supervision row and the Sync Log's record in one write."""
    from sheets_sync.content_run import content_records

    started = time.monotonic()
    now = now or now_ist()
    settings = content_settings(schema)
    with backend.open(schema, write=False) as session:
        snap = read_tracker(session, schema, backend.location, roster_path=roster_path)
        tables = session.read(["content", "supervision"])
        content = {r.get("request").strip(): r.values for r in
                   content_records(tables["content"], schema.tab("content"), optional=True)}
        supervision = content_records(tables["supervision"], schema.tab("supervision"), optional=True)
    deadlines = evaluate(snap.comments, schema, now, roster=snap.roster)
    days = plan_days(deadlines, content, snap.roster, settings, now)
    loud = [d for d in days if not d.quiet]
    messages = [digest_message(d, backend.location) for d in loud]
    run = DigestRun(backend.location, days[0].day if days else now.date(), days,
                    [m for m in messages if m.recipients], dry_run=dry_run, warnings=list(snap.warnings))
    run.warnings += [f"{m.key}: no head or nodal officer e-mail in the Departments tab; not sent"
                     for m in messages if not m.recipients]
    if dry_run or smtp is None:
        return run
    run.delivery = send_messages(run.messages, smtp, run.day, skip=delivered(snap.sync_log, "digest"),
                                 factory=factory)
    served = {k for k, _ in run.delivery.sent} | {k for k, _ in run.delivery.skipped}
    changes = supervision_changes([d for d in loud if d.key in served], supervision, to_sheet(now))
    if run.delivery.sent or run.delivery.failed:
        changes.append(delivery_row(run.delivery, command="digest", now=now,
                                    seconds=time.monotonic() - started, run_by=run_by))
    if changes:
        with backend.open(schema, write=True) as session:
            if not tables["supervision"].header:  # a tracker made before the tab
                session.ensure_structure(only=["supervision"])
            session.apply(changes)
    return run


def supervision_changes(days: Sequence[DepartmentDay], rows: Sequence[Record], stamp: str) -> list[Change]:
    """The Supervision rows of the departments served: added, or their figures updated (a
    suggestion filed before the digest's row keeps its place)."""
    have = {(r.get("date").strip(), r.get("department").strip()): r for r in rows}
    out: list[Change] = []
    for item in days:
        key = (item.day.isoformat(), item.department.code)
        if key in have:
            if not have[key].get("digest_sent").strip():
                values = {k: v for k, v in item.row(stamp).items() if k not in ("date", "department")}
                out.append(UpdateRow("supervision", key, values, "digest sent"))
        else:
            out.append(AddRow("supervision", item.row(stamp)))
    return out
