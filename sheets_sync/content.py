"""The content pipeline's plan (issue #15): the messages read + the tracker as read →
the Content, Mail Log, Supervision and Sync State changes, in one write. Pure.

:func:`plan_mail` files each new message (:mod:`sheets_sync.content_filing`), then
looks over every request as the write will leave it (:func:`follow_up`): the lead
time and the Late flag, an approval to ask for, a reminder due, a request not
approved on its planned date. What that asks to be e-mailed is not planned here:
the rows carry the intent (Approval asked at, Reminded at…), and
:mod:`sheets_sync.content_mail` reads the messages to send from the rows, so a run
killed after its write sends them on the next run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sheets_sync.content_filing import (
    APPROVAL,
    CHANGES,
    FOLLOW_UP,
    IGNORED,
    REQUEST,
    SUGGESTION,
    Filing,
    addresses,
    file_mail,
)
from sheets_sync.content_settings import ASKED, CLOSED, RECEIVED, SENT, WITHDRAWN, ContentSettings
from sheets_sync.mail.dates import find_dates
from sheets_sync.mail.message import Attachment, Mail
from sheets_sync.planner import cell_text
from sheets_sync.roster import Roster, tokenize
from sheets_sync.table import AddRow, Change, Record, UpdateRow
from sheets_sync.timeutil import IST, from_sheet, to_sheet

# The Sync State rows of the pipeline: the mailbox's checkpoint, and the last request
# code given (so a code is never given twice, even when a person deletes the last row).
MAIL_SOURCE = "mail"
CODES_SOURCE = "content codes"
_CODE_RE = re.compile(r"\b([A-Z]{1,6})-(\d{1,6})\b")
# The cell's columns every decision of the plan rests on: a request whose row a person
# changes there between the run's read and its write gets none of the run's decisions
# (they are planned again next run); what a mail brought (FACTS) is written anyway.
GUARDED = ("status", "draft_link", "planned_date")
FACTS = frozenset({"follow_ups", "attachments", "head_answer"})
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")
# Where the tracker shows dates month first (Google in an en_US locale), 12/5/2026 is what
# Google made of what was typed: 5 December. Text it could not read so (13/12/2026) was
# typed day first all the same.
_MONTH_FIRST = ("%m/%d/%Y",)
_DIGIT = re.compile(r"[0-9०-९]")


@dataclass(frozen=True)
class ContentView:
    """What the plan needs of the tracker as read."""

    requests: Mapping[str, Record]  # code → Content row
    mail_keys: frozenset[str]  # the Mail Log's mailbox keys
    message_ids: frozenset[str]  # the Mail Log's Message-IDs
    supervision: Mapping[tuple[str, str], Record]  # (date, department) → row
    roster: Roster
    checkpoints: Mapping[str, str] = field(default_factory=dict)  # the Sync State
    mail_log_codes: tuple[str, ...] = ()  # codes the Mail Log names ("request CR-0042")
    dates_month_first: bool = False  # the Content tab showed its dates month first (see Table)


@dataclass
class Filed:
    mail: Mail
    filing: Filing


@dataclass(frozen=True)
class MailPlan:
    changes: list[Change]
    filed: list[Filed]  # this run's messages, as filed
    skipped: list[Mail]  # read before (same mailbox key or Message-ID): filed nothing
    requests: Mapping[str, Mapping[str, str]]  # every request as the write leaves it
    notes: list[str]  # what the follow-up did ("CR-0004: approval asked of hod.swm@…")

    def count(self, kind: str) -> int:
        return sum(1 for f in self.filed if f.filing.kind == kind)

    def summary(self) -> dict:
        return {"read": len(self.filed) + len(self.skipped), "already_read": len(self.skipped),
                "requests": self.count(REQUEST), "approvals": self.count(APPROVAL),
                "changes_asked": self.count(CHANGES), "suggestions": self.count(SUGGESTION),
                "ignored": [{"from": f.mail.sender, "subject": f.mail.subject, "reason": f.filing.reason}
                            for f in self.filed if f.filing.kind == IGNORED],
                "filed": [{"key": f.mail.key, "from": f.mail.sender, "filed_as": f.filing.filed_as}
                          for f in self.filed],
                "notes": list(self.notes)}


class _Rows:
    """Rows of a keyed tab as the write will leave them: one AddRow per new row and one
    UpdateRow per changed row, whatever order the run changed them in."""

    def __init__(self, tab: str, rows: Mapping[tuple, Mapping[str, str]]) -> None:
        self.tab = tab
        self.rows: dict[tuple, dict[str, str]] = {k: dict(v) for k, v in rows.items()}
        self.read = {k: dict(v) for k, v in rows.items()}
        self.added: list[tuple] = []

    def add(self, key: tuple, values: Mapping[str, str]) -> None:
        self.rows[key] = dict(values)
        self.added.append(key)

    def set(self, key: tuple, **values: str) -> None:
        self.rows[key].update(values)

    def changes(self, reason: str, guard: Sequence[str] = (), facts: frozenset[str] = frozenset()
                ) -> list[Change]:
        """With ``guard``: each row's changes are written only while the row still holds
        those fields as read (a person's Status typed meanwhile stays; see UpdateRow.guard),
        except the ``facts`` (what a mail brought), which are written whatever happens."""
        out: list[Change] = [AddRow(self.tab, self.rows[k]) for k in self.added]
        for key, was in self.read.items():
            now = self.rows[key]
            diff = {f: v for f, v in now.items() if v != was.get(f, "")}
            kept = {f: v for f, v in diff.items() if f in facts or not guard}
            decided = {f: v for f, v in diff.items() if f not in kept}
            if kept:
                out.append(UpdateRow(self.tab, key, kept, reason))
            if decided:
                out.append(UpdateRow(self.tab, key, decided, reason, {f: was.get(f, "") for f in guard}))
        return out


def plan_mail(view: ContentView, mails: Sequence[Mail], checkpoint: str | None, settings: ContentSettings,
              now: datetime, *, cell_limit: int = 50_000, checkpoint_key: str = MAIL_SOURCE) -> MailPlan:
    """Every change of a ``mail`` run. ``checkpoint`` is the mailbox's after ``mails``, kept in
    the Sync State's row ``checkpoint_key`` (a mailbox and folder of its own)."""
    stamp = to_sheet(now)
    content = _Rows("content", {(k,): r.values for k, r in view.requests.items()})
    supervision = _Rows("supervision", {k: r.values for k, r in view.supervision.items()})
    codes = _Codes(view, settings)
    known = addresses(view.roster)
    seen_keys, seen_ids = set(view.mail_keys), set(view.message_ids)
    filed, skipped, log = [], [], []
    for mail in sorted(mails, key=lambda m: (m.received, m.key)):
        mid = mail.message_id.strip()
        if mail.key in seen_keys or (mid and mid in seen_ids):
            skipped.append(mail)  # read before a crash, or again after a UIDVALIDITY change
            continue
        seen_keys.add(mail.key)
        if mid:
            seen_ids.add(mid)
        requests = {k[0]: v for k, v in content.rows.items()}
        filing = file_mail(mail, requests, view.roster, settings, known)
        if filing.kind == REQUEST:
            filing = Filing(REQUEST, filing.department, codes.next())
            content.add((filing.code,), request_row(mail, filing, settings, stamp, cell_limit))
        elif filing.kind in (APPROVAL, CHANGES):
            content.set((filing.code,), **_answer_values(mail, filing, cell_limit))
        elif filing.kind == FOLLOW_UP:
            content.set((filing.code,), **_follow_up_values(content.rows[(filing.code,)], mail, filing,
                                                            cell_limit))
            content.set((filing.code,), **_answered(content, filing.code, mail, settings))
        elif filing.kind == SUGGESTION:
            _file_suggestion(supervision, mail, filing, cell_limit)
        filed.append(Filed(mail, filing))
        log.append(AddRow("mail_log", _log_row(mail, filing, stamp, cell_limit)))
    notes = follow_up(content, settings, now, view.roster, month_first=view.dates_month_first)
    changes: list[Change] = [*content.changes("content", GUARDED, FACTS), *log,
                             *supervision.changes("suggestion")]
    changes += _sync_state(view.checkpoints, checkpoint_key, checkpoint, codes, stamp)
    return MailPlan(changes, filed, skipped, {k[0]: v for k, v in content.rows.items()}, notes)


class _Codes:
    """CR-0001, CR-0002…: the next after the highest the tracker knows anywhere."""

    def __init__(self, view: ContentView, settings: ContentSettings) -> None:
        self.prefix = settings.code_prefix
        found = [*view.requests, *view.mail_log_codes, view.checkpoints.get(CODES_SOURCE, "")]
        self.last = max((int(m.group(2)) for c in found for m in _CODE_RE.finditer(c)
                         if m.group(1) == self.prefix), default=0)
        self.was = self.last

    def next(self) -> str:
        self.last += 1
        return f"{self.prefix}-{self.last:04d}"

    @property
    def changed(self) -> bool:
        return self.last != self.was


def request_row(mail: Mail, filing: Filing, settings: ContentSettings, stamp: str,
                cell_limit: int) -> dict[str, str]:
    return {
        "request": filing.code, "department": filing.department,
        "sender": (f"{mail.sender_name} <{mail.sender}>" if mail.sender_name else mail.sender),
        "received": to_sheet(mail.received), "subject": cell_text(mail.subject, cell_limit),
        "kind": guess_kind(f"{mail.subject}\n{mail.text}", settings),
        "attachments": cell_text(attachments_text(mail.attachments), cell_limit),
        "planned_date": mail.planned_date.isoformat() if mail.planned_date else "",
        "status": RECEIVED, "message_id": mail.message_id, "added_at": stamp,
    }


def guess_kind(text: str, settings: ContentSettings) -> str:
    """The first kind one of whose words starts a word of the text (a phrase: appears whole)."""
    tokens = tokenize(text)
    joined = " ".join(tokens)
    for name, words in settings.kinds:
        for word in words:
            parts = tokenize(word)
            if len(parts) == 1 and any(t.startswith(parts[0]) for t in tokens):
                return name
            if len(parts) > 1 and " ".join(parts) in joined:
                return name
    return settings.kind_names[-1] if settings.kinds else ""


def attachments_text(attachments: Iterable[Attachment]) -> str:
    lines = []
    for a in attachments:
        where = f" → {a.saved_to}" if a.saved_to else f" (not saved: {a.skipped})" if a.skipped else ""
        lines.append(f"{a.name} ({size_text(a.size)}){where}")
    return "\n".join(lines)


def size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


def _answer_values(mail: Mail, filing: Filing, cell_limit: int) -> dict[str, str]:
    if filing.kind == APPROVAL:
        return {"status": "Approved", "approved_by": mail.sender, "approved_at": to_sheet(mail.received),
                "approval_message_id": mail.message_id,
                "head_answer": cell_text(filing.text, cell_limit)}
    # Changes asked: the cell designs again and sets Sent for approval again, which asks anew.
    return {"status": "Changes asked", "head_answer": cell_text(
        f"{to_sheet(mail.received)} {mail.sender}: {filing.text}", cell_limit),
        "asked_at": "", "asked_link": "", "reminded_at": ""}


def _follow_up_values(row: Mapping[str, str], mail: Mail, filing: Filing,
                      cell_limit: int) -> dict[str, str]:
    """A later e-mail about a request: its first lines and its attachments added to the row."""
    line = " ".join(filing.text.split())[:300]
    entry = f"{to_sheet(mail.received)} {mail.sender}: {mail.subject}" + (f" — {line}" if line else "")
    out = {"follow_ups": cell_text(_joined(row.get("follow_ups", ""), entry), cell_limit)}
    if mail.attachments:
        more = attachments_text(mail.attachments)
        out["attachments"] = cell_text(_joined(row.get("attachments", ""), more), cell_limit)
    return out


def _answered(content: _Rows, code: str, mail: Mail, settings: ContentSettings) -> dict[str, str]:
    """The department answered what the cell asked: back to Received for the cell — only when
    the status is still the Asked of department this run read (a person's change stays)."""
    row, read = content.rows[(code,)], content.read.get((code,), {})
    if settings.status(row.get("status", "")) != ASKED or row.get("status", "") != read.get("status", ""):
        return {}
    # (the text as sent emptied: Asked of department again asks anew, even the same words)
    return {"status": RECEIVED, "dept_answered_at": to_sheet(mail.received), "dept_asked_text": ""}


def _joined(had: str, more: str) -> str:
    return f"{had}\n{more}" if had.strip() else more


def _file_suggestion(rows: _Rows, mail: Mail, filing: Filing, cell_limit: int) -> None:
    key = (filing.day.isoformat() if filing.day else "", filing.department)
    entry = f"{to_sheet(mail.received)} {mail.sender}: {filing.text}"
    if key not in rows.rows:
        rows.add(key, {"date": key[0], "department": key[1], "suggestions": cell_text(entry, cell_limit)})
        return
    had = rows.rows[key].get("suggestions", "")
    rows.set(key, suggestions=cell_text(f"{had}\n{entry}" if had.strip() else entry, cell_limit))


def _log_row(mail: Mail, filing: Filing, stamp: str, cell_limit: int) -> dict[str, str]:
    return {"received": to_sheet(mail.received), "sender": mail.sender,
            "subject": cell_text(mail.subject, cell_limit), "filed_as": filing.filed_as,
            "reason": filing.reason, "message_id": mail.message_id, "mail_key": mail.key, "read_at": stamp}


def _sync_state(checkpoints: Mapping[str, str], key: str, checkpoint: str | None, codes: _Codes,
                stamp: str) -> list[Change]:
    out: list[Change] = []
    wanted = [(key, checkpoint)] + ([(CODES_SOURCE, f"{codes.prefix}-{codes.last:04d}")]
                                            if codes.changed else [])
    for source, value in wanted:
        if value is None or checkpoints.get(source) == value:
            continue
        values = {"source": source, "checkpoint": value, "updated_at": stamp}
        out.append(UpdateRow("sync_state", (source,), values, "checkpoint") if source in checkpoints
                   else AddRow("sync_state", values))
    return out


# --- the follow-up of every request ------------------------------------------------------------


def follow_up(content: _Rows, settings: ContentSettings, now: datetime, roster: Roster, *,
              month_first: bool = False) -> list[str]:
    """Lead time and Late, approvals to ask, reminders, the flag on the planned date: the job's
    columns of every request as the write leaves it (``month_first``: the dates as read show
    month first). Says what it set in motion."""
    notes: list[str] = []
    stamp = to_sheet(now)
    for (code,), row in content.rows.items():
        status = settings.status(row.get("status", ""))
        planned, problem = planned_date(row.get("planned_date", ""), month_first=month_first)
        values = {"lead_days": "", "late": ""}
        received = from_sheet(row.get("received", ""))
        if planned and received:
            lead = (planned - received.astimezone(IST).date()).days
            values["lead_days"] = str(lead)
            if lead < settings.lead_days and status != WITHDRAWN:
                values["late"] = f"late: {lead} of {settings.lead_days} days"
                if not row.get("late_told_at", "").strip():
                    values["late_told_at"] = stamp
                    notes.append(f"{code}: late ({lead} day(s) before the planned date); "
                                 "the department is told")
        notes_text = [problem] if problem else []
        values.update(_approval(code, row, status, settings, now, notes, notes_text))
        values.update(_dept_ask(code, row, status, settings, now, notes, notes_text))
        if planned and status not in CLOSED and now.astimezone(IST).date() >= planned \
                and not row.get("flagged_at", "").strip():
            values["flagged_at"] = stamp
            notes.append(f"{code}: not approved on its planned date {planned.isoformat()}; the cell is told")
        if row.get("department", "").strip() and not roster.resolve(row["department"]):
            notes_text.append(f"department {row['department']!r} is not in the Departments tab")
        values["sync_notes"] = "; ".join(notes_text)
        content.set((code,), **{k: v for k, v in values.items() if v != row.get(k, "")})
    return notes


def _approval(code: str, row: Mapping[str, str], status: str, settings: ContentSettings, now: datetime,
              notes: list[str], problems: list[str]) -> dict[str, str]:
    """An approval to ask for (Sent for approval with a draft link not asked for yet), or a
    reminder due (no answer ``remind_after_hours`` after the request or the last reminder)."""
    if status != SENT:
        return {}
    link = row.get("draft_link", "").strip()
    if not link:
        problems.append("type the Draft link: Sent for approval e-mails it to the head")
        return {}
    if row.get("asked_link", "").strip() != link or not from_sheet(row.get("asked_at", "")):
        notes.append(f"{code}: approval asked of the head")
        return {"asked_at": to_sheet(now), "asked_link": link, "reminded_at": ""}
    last = from_sheet(row.get("reminded_at", "")) or from_sheet(row.get("asked_at", ""))
    if last and now - last >= timedelta(hours=settings.remind_after_hours):
        notes.append(f"{code}: no answer since {to_sheet(last)}; the head is reminded")
        return {"reminded_at": to_sheet(now)}
    return {}


def _dept_ask(code: str, row: Mapping[str, str], status: str, settings: ContentSettings, now: datetime,
              notes: list[str], problems: list[str]) -> dict[str, str]:
    """Asked of department with what is asked typed and not e-mailed yet: the intent to e-mail
    it (Department asked at, and the text as sent, so a new text asks anew); asked and not
    answered ``dept_remind_after_hours`` after the ask or the last reminder: a reminder."""
    if status != ASKED:
        return {}
    text = row.get("dept_ask", "").strip()
    if not text:
        problems.append("type what is asked in Asked of the department: Asked of department e-mails it")
        return {}
    if row.get("dept_asked_text", "").strip() == text and from_sheet(row.get("dept_asked_at", "")):
        last = from_sheet(row.get("dept_reminded_at", "")) or from_sheet(row.get("dept_asked_at", ""))
        if last and now - last >= timedelta(hours=settings.dept_remind_after_hours):
            notes.append(f"{code}: no answer from the department since {to_sheet(last)}; it is reminded")
            return {"dept_reminded_at": to_sheet(now)}
        return {}
    notes.append(f"{code}: asked of the department")
    return {"dept_asked_at": to_sheet(now), "dept_asked_text": text, "dept_answered_at": "",
            "dept_reminded_at": ""}


def planned_date(text: str, *, month_first: bool = False) -> tuple[date | None, str]:
    """A planned date as the cell shows it (2026-12-05, 05/12/2026, 5 Dec 2026, दि. ५ डिसेंबर
    २०२६…), or a note saying what to type. ``month_first``: the tracker shows dates month
    first (see ``_MONTH_FIRST``)."""
    text = str(text).strip()
    if not text:
        return None, ""
    for fmt in (*_MONTH_FIRST, *_DATE_FORMATS) if month_first else _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date(), ""
        except ValueError:
            continue
    # The forms a mail states a date in, as the mail's reader knows them: one date, and no
    # other figure ("5 or 6 Dec 2026" is no date to plan by).
    found = find_dates(text)
    if len(found) == 1 and not _DIGIT.search(text[:found[0].start] + text[found[0].end:]):
        return found[0].when, ""
    return None, f"Planned date {text!r} is not a date: type it as YYYY-MM-DD (2026-12-05)"


def view_from_read(tables: Mapping[str, list[Record]], roster: Roster,
                   checkpoints: Mapping[str, str], *, dates_month_first: bool = False) -> ContentView:
    """The plan's view of the Content, Mail Log and Supervision tabs as read (records)."""
    requests: dict[str, Record] = {}
    for rec in tables.get("content", []):
        code = rec.get("request").strip().upper()
        if code and code not in requests:  # a row copied by a person counts once
            requests[code] = rec
    log = tables.get("mail_log", [])
    supervision = {}
    for rec in tables.get("supervision", []):
        key = (rec.get("date").strip(), rec.get("department").strip())
        if all(key):
            supervision.setdefault(key, rec)
    return ContentView(requests, frozenset(r.get("mail_key").strip() for r in log),
                       frozenset(r.get("message_id").strip() for r in log if r.get("message_id").strip()),
                       supervision, roster, checkpoints,
                       tuple(r.get("filed_as") for r in log if r.get("filed_as").startswith("request ")),
                       dates_month_first)


def waiting_on(requests: Mapping[str, Mapping[str, str]], code: str,
               settings: ContentSettings) -> list[tuple[str, Mapping[str, str]]]:
    """A department's requests that wait on it: approvals asked of its head, and what the cell
    asked of the department (Asked of department) — in code order."""
    out = []
    for request, row in sorted(requests.items()):
        if row.get("department", "").strip().upper() != code.upper():
            continue
        status = settings.status(row.get("status", ""))
        if status == SENT or (status == ASKED and row.get("dept_asked_at", "").strip()):
            out.append((request, row))  # (Asked of department: once e-mailed, as the tab shows it)
    return out
