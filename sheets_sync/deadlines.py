"""Reply deadlines and overdue comments: pure functions of the tracker's rows and a time.

A comment that needs a reply is due ``reply_within_hours`` after it was
written (its category's number in ``sheet_schema.yaml``, or the department's
override in the schema's ``deadlines:`` section), counted either on the wall
clock or, when the cell turns ``office_hours_only`` on, in office hours only:
working days, office hours, Maharashtra public holidays. Past due and still
unanswered is overdue, at level 1 (the department's business); past
``escalate_after`` times the deadline it is level 2 (the cell and the
Additional Commissioner's office are told). Before it is due, an open comment
past ``due_soon_at`` of its time to reply (three quarters by default, counted the
same way) is *due soon*: the warning before the breach.

Nothing here reads or writes anything: the sheet side (flags, pending tabs)
and the reports call :func:`evaluate` with the rows they read and a time.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sheets_sync.errors import ConfigError
from sheets_sync.roster import Roster
from sheets_sync.schema import Category, Schema, normalize_header
from sheets_sync.table import Record
from sheets_sync.timeutil import IST, from_sheet
from sheets_sync.yamlfile import load_yaml

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TRUE = {"yes", "true", "y", "1", "✓", "✔"}
# The longest stretch of days the office-hours arithmetic will walk before it
# decides the calendar has no working time at all (a configuration mistake).
_MAX_DAYS = 3 * 366

LEVEL_NAMES = {0: "", 1: "overdue", 2: "escalated"}


@dataclass(frozen=True)
class DeadlineRules:
    """How due times are counted; built from the schema's ``deadlines:`` section."""

    office_hours_only: bool = False
    working_days: frozenset[int] = frozenset(range(5))  # Monday = 0
    # Saturdays of the month that are off when Saturday is a working day
    # (many offices close the 2nd and 4th): numbers 1–5.
    saturdays_off: frozenset[int] = frozenset()
    office_start: time = time(9, 45)
    office_end: time = time(18, 15)
    public_holidays: bool = True  # Maharashtra public holidays (the holidays package)
    extra_holidays: frozenset[date] = frozenset()  # local holidays the cell declares
    escalate_after: float = 2.0
    due_soon_at: float = 0.75  # the share of the time to reply after which a comment is due soon
    no_reply_statuses: frozenset[str] = frozenset({"not required", "hide"})  # normalised status names
    # Department code → category name → hours, overriding the schema's categories.
    department_hours: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = ()

    # -- the calendar ----------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        if day.weekday() not in self.working_days:
            return False
        if day.weekday() == 5 and self.saturdays_off and (day.day - 1) // 7 + 1 in self.saturdays_off:
            return False
        if day in self.extra_holidays:
            return False
        return not (self.public_holidays and is_public_holiday(day))

    def is_office_time(self, moment: datetime) -> bool:
        """True when ``moment`` (any zone) falls in office hours of a working day, edges included."""
        local = moment.astimezone(IST)
        return (self.is_working_day(local.date())
                and self.office_start <= local.time().replace(tzinfo=None) <= self.office_end)

    def add_hours(self, start: datetime, hours: float) -> datetime:
        """``start`` + ``hours``, counted on the wall clock or in office hours only (IST)."""
        if not self.office_hours_only:
            return start.astimezone(IST) + timedelta(hours=hours)
        remaining = timedelta(hours=hours)
        cursor = start.astimezone(IST)
        day = cursor.date()
        for _ in range(_MAX_DAYS + math.ceil(hours / 24) * 7):
            if self.is_working_day(day):
                opens = datetime.combine(day, self.office_start, IST)
                closes = datetime.combine(day, self.office_end, IST)
                begin = max(cursor, opens)
                if begin <= closes:
                    if remaining <= closes - begin:
                        return begin + remaining
                    remaining -= closes - begin
            day += timedelta(days=1)
            cursor = datetime.combine(day, time(0), IST)
        raise ConfigError("deadlines: the working calendar has no office time for years ahead; "
                          "check working_days, saturdays_off and extra_holidays in sheet_schema.yaml")

    # -- deadlines ---------------------------------------------------------------

    def reply_within_hours(self, category: Category, department: str = "") -> float:
        for code, overrides in self.department_hours:
            if code == department:
                for name, hours in overrides:
                    if name == category.name:
                        return hours
        return category.reply_within_hours

    def due_at(self, commented_at: datetime, category: Category, department: str = "") -> datetime:
        """When a reply is due (IST); the sheet side writes this into the Reply due column."""
        return self.add_hours(commented_at, self.reply_within_hours(category, department))

    def escalates_at(self, commented_at: datetime, category: Category, department: str = "") -> datetime:
        """When an unanswered comment reaches level 2 (``escalate_after`` × the deadline)."""
        hours = self.reply_within_hours(category, department) * self.escalate_after
        return self.add_hours(commented_at, hours)

    def due_soon_from(self, commented_at: datetime, category: Category, department: str = "") -> datetime:
        """When an unanswered comment becomes due soon (``due_soon_at`` × the deadline,
        counted like the deadline: in office hours when those are the rule)."""
        hours = self.reply_within_hours(category, department) * self.due_soon_at
        return self.add_hours(commented_at, hours)

    def describe(self) -> str:
        """One line for people: how deadlines are counted."""
        if not self.office_hours_only:
            counted = "on the clock (nights, weekends and holidays count)"
        else:
            days = ", ".join(WEEKDAYS[d].capitalize() for d in sorted(self.working_days))
            extra = (f" except the {', '.join(_ordinal(n) for n in sorted(self.saturdays_off))} Saturday"
                     if self.saturdays_off and 5 in self.working_days else "")
            holidays = " and Maharashtra public holidays" if self.public_holidays else ""
            counted = (f"in office hours {self.office_start:%H:%M}–{self.office_end:%H:%M} IST, "
                       f"{days}{extra}, without {len(self.extra_holidays)} local holiday(s){holidays}")
        return f"deadlines counted {counted}; escalated past {self.escalate_after:g}× the deadline"


@functools.lru_cache(maxsize=4096)
def is_public_holiday(day: date) -> bool:
    """Maharashtra's public holidays as the ``holidays`` package lists them."""
    return day in _maharashtra_holidays()


@functools.lru_cache(maxsize=1)
def _maharashtra_holidays():
    import holidays

    # holidays >= 0.50 knows India's states; "MH" is Maharashtra (Gudi Padwa,
    # Maharashtra Day, Shivaji Maharaj Jayanti on top of the national days).
    return holidays.India(subdiv="MH")


def _ordinal(n: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


# --- evaluation ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommentDeadline:
    """Where one comment stands at ``as_of``."""

    platform: str
    comment_id: str
    department: str
    category: str
    commented_at: datetime | None
    due_at: datetime | None  # None: needs no reply, or its time is unreadable
    escalates_at: datetime | None
    by_page: bool  # written by the corporation's own account
    needs_reply: bool
    answered: bool
    answered_at: datetime | None  # None when unanswered, or answered at an unknown time
    answered_how: str  # "page reply", "status", "reply text" or ""
    is_open: bool  # needs a reply and has none yet
    overdue: bool
    late_hours: float  # wall-clock hours past due (0 when not overdue)
    level: int  # 0 not overdue, 1 past due, 2 past escalate_after × the deadline
    status: str = ""
    row: int = 0
    post_id: str = ""
    author: str = ""
    text: str = ""
    url: str = ""
    note: str = ""  # a problem with the row (unreadable time, unknown status)
    due_soon_from: datetime | None = None  # when it becomes due soon (None: no deadline)
    due_soon: bool = False  # open, not yet due, past due_soon_from
    hours_left: float = 0.0  # wall-clock hours until due, while it is due soon

    @property
    def key(self) -> tuple[str, str]:
        return (self.platform, self.comment_id)

    @property
    def on_time(self) -> bool | None:
        """Answered within the deadline? None while that is not known yet."""
        if not self.needs_reply or self.due_at is None:
            return None
        if self.answered_at is not None:
            return self.answered_at <= self.due_at
        if self.overdue:
            return False
        return None

    @property
    def reply_hours(self) -> float | None:
        if self.answered_at is None or self.commented_at is None:
            return None
        return max(0.0, (self.answered_at - self.commented_at).total_seconds() / 3600)

    def as_dict(self) -> dict[str, Any]:
        from sheets_sync.timeutil import to_sheet

        def t(value):
            return to_sheet(value) if value else ""

        return {
            "department": self.department, "platform": self.platform, "comment_id": self.comment_id,
            "post_id": self.post_id, "category": self.category, "status": self.status,
            "commented_at": t(self.commented_at), "due_at": t(self.due_at),
            "escalates_at": t(self.escalates_at), "late_hours": round(self.late_hours, 1),
            "level": self.level, "due_soon_at": t(self.due_soon_from), "due_soon": self.due_soon,
            "hours_left": round(self.hours_left, 1),
            "answered_at": t(self.answered_at), "author": self.author,
            "text": self.text, "url": self.url, "row": self.row, "note": self.note,
        }


def evaluate(records: Iterable[Record], schema: Schema, as_of: datetime, *,
             roster: Roster | None = None, rules: DeadlineRules | None = None) -> list[CommentDeadline]:
    """Every comment row's deadline state at ``as_of``, in the order of ``records``.

    ``records`` are the Comments tab's rows (``Table.records(schema.tab("comments"))``).
    A row read twice (same platform and id) is evaluated once, from its first row.
    """
    rules = rules or deadline_rules(schema)
    rows = [r for r in records if r.get("comment_id").strip()]
    page_replies = _page_replies(rows, as_of)
    out: list[CommentDeadline] = []
    seen: set[tuple[str, str]] = set()
    for rec in rows:
        key = (rec.get("platform").strip(), rec.get("comment_id").strip())
        if key in seen:
            continue
        seen.add(key)
        out.append(_evaluate_one(rec, key, schema, rules, roster, page_replies, as_of))
    return out


def overdue(deadlines: Iterable[CommentDeadline]) -> list[CommentDeadline]:
    """The overdue ones, per department (by code), oldest due time first."""
    late = [d for d in deadlines if d.overdue]
    return sorted(late, key=lambda d: (d.department, d.due_at, d.platform, d.comment_id))


def due_soon(deadlines: Iterable[CommentDeadline]) -> list[CommentDeadline]:
    """The due-soon ones (open, not yet due), per department, the first due first."""
    soon = [d for d in deadlines if d.due_soon]
    return sorted(soon, key=lambda d: (d.department, d.due_at, d.platform, d.comment_id))


def _evaluate_one(rec: Record, key, schema: Schema, rules: DeadlineRules, roster: Roster | None,
                  page_replies: Mapping[tuple[str, str], datetime], as_of: datetime) -> CommentDeadline:
    notes: list[str] = []
    department = rec.get("department").strip()
    if roster is not None and department:
        department = roster.resolve(department) or department
    category = _category(rec, schema, notes)
    commented_at = from_sheet(rec.get("commented_at"))
    status_text = rec.get("status").strip()
    status = schema.status(status_text) if status_text else None
    if status_text and status is None:
        notes.append(f"status {status_text!r} is not one of {', '.join(schema.status_names)}; "
                     "counted as open")
    by_page = rec.get("by_page").strip().casefold() in _TRUE
    needs_reply = not by_page and normalize_header(status_text) not in rules.no_reply_statuses
    answered_how, answered_at = _answer(rec, status, schema, page_replies.get(key), as_of)
    answered = bool(answered_how) and needs_reply

    due = escalates = soon = None
    if needs_reply:
        if commented_at is None:
            notes.append(f"time {rec.get('commented_at')!r} is not readable; no deadline")
        else:
            due = rules.due_at(commented_at, category, department)
            escalates = rules.escalates_at(commented_at, category, department)
            soon = rules.due_soon_from(commented_at, category, department)
    is_open = needs_reply and not answered
    is_overdue = is_open and due is not None and as_of > due
    late = (as_of - due).total_seconds() / 3600 if is_overdue and due else 0.0
    level = 0
    if is_overdue:
        level = 2 if escalates is not None and as_of > escalates else 1
    is_due_soon = is_open and not is_overdue and soon is not None and as_of >= soon
    left = (due - as_of).total_seconds() / 3600 if is_due_soon and due else 0.0
    return CommentDeadline(
        platform=key[0], comment_id=key[1], department=department, category=category.name,
        commented_at=commented_at, due_at=due, escalates_at=escalates, by_page=by_page,
        needs_reply=needs_reply,
        answered=answered, answered_at=answered_at if answered else None,
        answered_how=answered_how if answered else "", is_open=is_open, overdue=is_overdue,
        late_hours=late, level=level, status=status.name if status else status_text, row=rec.row,
        post_id=rec.get("post_id").strip(), author=rec.get("author"), text=rec.get("text"),
        url=rec.get("url").strip(), note="; ".join(notes), due_soon_from=soon, due_soon=is_due_soon,
        hours_left=left)


def _category(rec: Record, schema: Schema, notes: list[str]) -> Category:
    """The row's category; one the schema does not know counts as the last (with a note)."""
    typed = rec.get("category").strip()
    category = schema.category(rec.get("category")) if typed else None
    if category is None:
        if typed:
            notes.append(f"category {typed!r} is not one of {', '.join(schema.category_names)}; "
                         f"counted as {schema.categories[-1].name}")
        category = schema.categories[-1]
    return category


def _answer(rec: Record, status, schema: Schema, page_reply: datetime | None,
            as_of: datetime) -> tuple[str, datetime | None]:
    """How the comment was answered by ``as_of`` ("page reply", "status", "reply text" or
    ""), and when, where that is known."""
    if page_reply is not None and status is not None and status.open \
            and status.name != schema.default_status:
        # A person keeps it open on purpose (e.g. Escalated) though the corporation replied.
        page_reply = None
    if page_reply is not None:
        return "page reply", page_reply
    if status is not None and not status.open:
        how = "status"
    elif rec.get("reply").strip():
        how = "reply text"
    else:
        return "", None
    # A time people (or the sheet side) recorded, when the schema has such a column.
    answered_at = from_sheet(rec.get("replied_at"))
    if answered_at is not None and answered_at > as_of:
        return "", None  # evaluating a past moment: that answer had not come yet
    return how, answered_at


def _page_replies(rows: list[Record], as_of: datetime) -> dict[tuple[str, str], datetime]:
    """(platform, comment id) → the time of the corporation's first reply under it by ``as_of``."""
    out: dict[tuple[str, str], datetime] = {}
    for rec in rows:
        parent = rec.get("parent_id").strip()
        if not parent or rec.get("by_page").strip().casefold() not in _TRUE:
            continue
        at = from_sheet(rec.get("commented_at"))
        if at is None or at > as_of:
            continue
        key = (rec.get("platform").strip(), parent)
        if key not in out or at < out[key]:
            out[key] = at
    return out


# --- configuration ---------------------------------------------------------------------


def deadline_rules(schema: Schema) -> DeadlineRules:
    """The rules of the schema's ``deadlines:`` section (defaults when it is absent);
    the section's checks are in :mod:`sheets_sync.deadline_settings`."""
    # Imported here: that module builds this one's DeadlineRules.
    from sheets_sync.deadline_settings import parse_deadlines

    raw = schema.extra.get("deadlines")
    if raw is None:
        return DeadlineRules()
    try:
        return parse_deadlines(raw, schema)
    except ConfigError:
        # Again, with the file's lines, so each message names the line to fix.
        return parse_deadlines(raw, schema, _lines(schema.path))


def _lines(path):
    try:
        return load_yaml(path, "schema")[1]
    except ConfigError:
        return None


__all__ = ["CommentDeadline", "DeadlineRules", "LEVEL_NAMES", "deadline_rules", "due_soon", "evaluate",
           "is_public_holiday", "overdue"]
