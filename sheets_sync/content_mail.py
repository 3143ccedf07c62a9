"""The e-mails the content pipeline sends, read from the Content rows as the write left
them, and what the Sync Log says was delivered.

A row carries each message's intent as a time the job wrote (Added at: the
acknowledgement; Late notice at; Approval asked at; Reminded at; Flagged to the
cell at). The outbox is every intent of the last :data:`OUTBOX_HOURS` whose
(message, address) the Sync Log does not list as delivered. So a run killed after
its write and before sending sends on the next run; one killed after sending and
before its Sync Log row sends again (the emailer's rule: better twice than never).
Everything that came from a mail or a person is escaped in the HTML part.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from email.utils import parseaddr

from sheets_sync.content_settings import ASKED, SENT, ContentSettings
from sheets_sync.emailer import _DELIVERED, _FAILED, SUBJECT_TAG, Delivery, Outgoing, _page, delivered_pairs
from sheets_sync.layout import is_link
from sheets_sync.report_html import esc
from sheets_sync.roster import Roster
from sheets_sync.table import AddRow, Record
from sheets_sync.timeutil import from_sheet, to_sheet

OUTBOX_HOURS = 48
MAIL_LOG_SOURCE = "e-mail"
HOW_TO_ANSWER = (
    "To approve, reply to this e-mail with APPROVE (or मंजूर) on the first line. To ask for changes, "
    "reply with the changes instead. Keep {code} in the subject. Only the head's own address counts.",
    "मंजुरीसाठी या ई-मेलला पहिल्या ओळीत मंजूर (किंवा APPROVE) लिहून उत्तर द्या. बदल हवे असल्यास ते "
    "लिहून उत्तर द्या. विषयात {code} तसाच ठेवा. फक्त विभागप्रमुखांच्या स्वतःच्या पत्त्यावरून आलेले उत्तर "
    "ग्राह्य धरले जाईल.")


def outbox(requests: Mapping[str, Mapping[str, str]], roster: Roster, settings: ContentSettings,
           cell: Sequence[str], now: datetime) -> tuple[list[Outgoing], list[str]]:
    """Every message the rows ask for, recent enough to send (see the module's doc), and
    those nobody can be sent (no address), said for the cell."""
    since = now - timedelta(hours=OUTBOX_HOURS)
    out: list[Outgoing] = []
    problems: list[str] = []
    for code, row in sorted(requests.items()):
        for make in (_acknowledgement, _late_notice, _approval_request, _reminder, _dept_ask, _dept_reminder,
                     _flag):
            message = make(code, row, roster, settings, cell, since)
            if message is None:
                continue
            if message.recipients:
                out.append(message)
            else:
                who = ("SHEETS_SYNC_CELL_EMAIL is not set" if message.key.startswith(f"{code} not approved")
                       else f"no head's address for {row.get('department', '') or 'its department'} in the "
                            "Departments tab")
                problems.append(f"{message.key}: not sent, {who}")
    return out, problems


def _when(row: Mapping[str, str], name: str, since: datetime) -> str:
    """The intent's time as written, when it is recent enough."""
    text = row.get(name, "").strip()
    at = from_sheet(text)
    return text if at and at >= since else ""


def _head(row: Mapping[str, str], roster: Roster, settings: ContentSettings, *,
          nodal: bool = False) -> tuple[str, ...]:
    dept = roster.get(roster.resolve(row.get("department", "")) or "")
    if dept is None:
        return ()
    out = [dept.head] if dept.head else []
    if nodal:
        out += list(dept.nodal_officers)
    return tuple(dict.fromkeys(a.strip() for a in out if a.strip()))


def _sender(row: Mapping[str, str]) -> str:
    return parseaddr(row.get("sender", ""))[1]


def _facts(code: str, row: Mapping[str, str]) -> list[tuple[str, str]]:
    return [("Request / विनंती", code), ("Subject / विषय", row.get("subject", "")),
            ("Department / विभाग", row.get("department", "")), ("From / पाठवणारे", row.get("sender", "")),
            ("Received / मिळाले", row.get("received", "")),
            ("Planned date / प्रसिद्धीची तारीख", row.get("planned_date", "") or "not stated / नमूद नाही")]


def _message(key: str, to: Iterable[str], subject: str, paragraphs: Sequence[str],
             facts: Sequence[tuple[str, str]], link: str = "") -> Outgoing:
    text = [*paragraphs, "", *(f"{k}: {v}" for k, v in facts)]
    html = "".join(f"<p>{esc(p)}</p>" for p in paragraphs)
    html += "<table>" + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in facts) + "</table>"
    if link:
        text += ["", f"Draft / मसुदा: {link}"]
        shown = f'<a href="{esc(link)}">{esc(link)}</a>' if is_link(link) else esc(link)
        html += f"<p>Draft / मसुदा: {shown}</p>"
    text += ["", "— sheets-sync, for the social media cell"]
    return Outgoing(key, tuple(dict.fromkeys(a for a in to if a)), subject, "\n".join(text), _page(html))


def _late_text(row: Mapping[str, str], settings: ContentSettings) -> list[str]:
    lead = row.get("lead_days", "")
    return [f"This material reached the cell {lead} day(s) before its planned publication; the office order "
            f"asks for at least {settings.lead_days} days so that the post can be designed. Please move the "
            "date, or ask the cell for an exception by replying to this e-mail.",
            f"हे साहित्य प्रसिद्धीच्या नियोजित तारखेपूर्वी फक्त {lead} दिवस आधी मिळाले आहे; कार्यालयीन आदेशानुसार "
            f"किमान {settings.lead_days} दिवस आधी पाठवणे आवश्यक आहे. कृपया तारीख बदला किंवा कक्षाकडे सवलत मागा."]


def _acknowledgement(code, row, roster, settings, cell, since) -> Outgoing | None:
    at = _when(row, "added_at", since)
    if not at:
        return None
    late_now = bool(row.get("late_told_at", "").strip()) and row.get("late_told_at", "").strip() == at
    paragraphs = [f"Your e-mail was received by the social media cell as request {code}. Please quote {code} "
                  "in every e-mail about it.",
                  f"आपला ई-मेल सोशल मीडिया कक्षाला मिळाला असून त्याचा विनंती क्रमांक {code} आहे. याबाबतच्या "
                  f"प्रत्येक ई-मेलमध्ये {code} नमूद करा."]
    if late_now:
        paragraphs += _late_text(row, settings)
    to = [_sender(row), *(_head(row, roster, settings) if late_now else ())]
    tag = " (late / उशीर)" if late_now else ""
    return _message(f"{code} received", to, f"{SUBJECT_TAG} {code} received{tag}: {row.get('subject', '')}",
                    paragraphs, _facts(code, row))


def _late_notice(code, row, roster, settings, cell, since) -> Outgoing | None:
    at = _when(row, "late_told_at", since)
    if not at or at == row.get("added_at", "").strip() or not row.get("late", "").strip():
        return None  # (late on arrival: the acknowledgement said so)
    return _message(f"{code} late {at}", [_sender(row), *_head(row, roster, settings)],
                    f"{SUBJECT_TAG} {code} is late: {row.get('subject', '')}", _late_text(row, settings),
                    _facts(code, row))


def _approval_request(code, row, roster, settings, cell, since) -> Outgoing | None:
    at = _when(row, "asked_at", since)
    if not at or settings.status(row.get("status", "")) != SENT:
        return None
    link = row.get("asked_link", "").strip()
    paragraphs = [f"The social media cell has designed the post for request {code}. Please check it and "
                  "approve it, or say what to change.",
                  f"विनंती {code} साठी सोशल मीडिया कक्षाने पोस्ट तयार केली आहे. कृपया ती तपासून मंजुरी द्या "
                  "किंवा बदल कळवा.",
                  HOW_TO_ANSWER[0].format(code=code), HOW_TO_ANSWER[1].format(code=code)]
    return _message(f"{code} approval {at}", _head(row, roster, settings, nodal=settings.nodal_may_approve),
                    f"{SUBJECT_TAG} Approval asked: {code} — {row.get('subject', '')}", paragraphs,
                    _facts(code, row), link)


def _reminder(code, row, roster, settings, cell, since) -> Outgoing | None:
    at = _when(row, "reminded_at", since)
    if not at or settings.status(row.get("status", "")) != SENT:
        return None
    asked = row.get("asked_at", "")
    paragraphs = [f"Reminder: the post for request {code} waits for your approval since {asked} IST.",
                  f"स्मरणपत्र: विनंती {code} ची पोस्ट {asked} पासून आपल्या मंजुरीच्या प्रतीक्षेत आहे.",
                  HOW_TO_ANSWER[0].format(code=code), HOW_TO_ANSWER[1].format(code=code)]
    return _message(f"{code} reminder {at}", _head(row, roster, settings, nodal=settings.nodal_may_approve),
                    f"{SUBJECT_TAG} Reminder, approval asked: {code} — {row.get('subject', '')}", paragraphs,
                    _facts(code, row), row.get("asked_link", "").strip())


def _dept_ask(code, row, roster, settings, cell, since) -> Outgoing | None:
    """What the cell asks of the department (Asked of the department), to the one who sent the
    request, the head and the nodal officers."""
    at = _when(row, "dept_asked_at", since)
    if not at or settings.status(row.get("status", "")) != ASKED:
        return None
    asked = row.get("dept_asked_text", "").strip()
    paragraphs = [f"The social media cell asks your department, about request {code}:", asked,
                  f"Please reply to this e-mail with what is asked (attachments welcome). Keep {code} in the "
                  "subject.",
                  f"विनंती {code} बाबत सोशल मीडिया कक्ष आपल्या विभागाकडे वरील माहिती / बदल मागत आहे. कृपया या "
                  f"ई-मेलला उत्तर द्या; विषयात {code} तसाच ठेवा."]
    return _message(f"{code} asked of department {at}", _dept_recipients(row, roster, settings),
                    f"{SUBJECT_TAG} The cell asks: {code} — {row.get('subject', '')}", paragraphs,
                    _facts(code, row), row.get("draft_link", "").strip())


def _dept_reminder(code, row, roster, settings, cell, since) -> Outgoing | None:
    """The department has not answered what the cell asked (Department reminded at)."""
    at = _when(row, "dept_reminded_at", since)
    if not at or settings.status(row.get("status", "")) != ASKED:
        return None
    asked, when = row.get("dept_asked_text", "").strip(), row.get("dept_asked_at", "")
    paragraphs = [f"Reminder: the social media cell asked your department on {when} IST, about request "
                  f"{code}, and has no answer yet:", asked,
                  f"Please reply to this e-mail with what is asked (attachments welcome). Keep {code} in the "
                  "subject.",
                  f"स्मरणपत्र: विनंती {code} बाबत सोशल मीडिया कक्षाने {when} रोजी आपल्या विभागाकडे वरील माहिती / "
                  f"बदल मागितले होते; अद्याप उत्तर मिळालेले नाही. कृपया या ई-मेलला उत्तर द्या; विषयात {code} "
                  "तसाच ठेवा."]
    return _message(f"{code} department reminder {at}", _dept_recipients(row, roster, settings),
                    f"{SUBJECT_TAG} Reminder, the cell asks: {code} — {row.get('subject', '')}", paragraphs,
                    _facts(code, row), row.get("draft_link", "").strip())


def _dept_recipients(row, roster: Roster, settings: ContentSettings) -> list[str]:
    dept = roster.get(roster.resolve(row.get("department", "")) or "")
    return [_sender(row), *(_head(row, roster, settings)), *(dept.nodal_officers if dept else ())]


def _flag(code, row, roster, settings, cell, since) -> Outgoing | None:
    at = _when(row, "flagged_at", since)
    if not at:
        return None
    status = row.get("status", "") or "(empty)"
    paragraphs = [f"Request {code} is not approved on its planned date {row.get('planned_date', '')}: its "
                  f"status is {status}. See the Content tab."]
    return _message(f"{code} not approved {at}", cell,
                    f"{SUBJECT_TAG} {code} not approved on its planned date: {row.get('subject', '')}",
                    paragraphs, [*_facts(code, row), ("Status", status)], row.get("draft_link", "").strip())


# --- the Sync Log: what was delivered -----------------------------------------------------------


def delivered(sync_log: Iterable[Record], command: str) -> set[tuple[str, str]]:
    """(message key, address) pairs the Sync Log says ``command`` delivered."""
    out = set()
    for rec in sync_log:
        if rec.get("command").strip() != command:
            continue
        out |= delivered_pairs(rec.get("errors"))
    return out


def delivery_row(delivery: Delivery, *, command: str, now: datetime, seconds: float, run_by: str) -> AddRow:
    text = _DELIVERED + ", ".join(f"{k}→{a}" for k, a in delivery.sent)
    if delivery.failed:
        text += _FAILED + ", ".join(f"{k}→{a} ({why})" for k, a, why in delivery.failed)
    return AddRow("sync_log", {
        "run_at": to_sheet(now), "command": command, "source": MAIL_LOG_SOURCE,
        "rows_updated": len(delivery.sent), "held": len(delivery.failed),
        "errors": text[:30_000], "seconds": round(seconds, 1), "run_by": run_by})
