"""Overdue reports by e-mail: each department its own list, the cell and the
Additional Commissioner's office the summary.

Settings come from the environment (:mod:`sheets_sync.email_settings`, whose
:class:`SmtpSettings` is re-exported here). Department heads and nodal officers come from the Departments tab.

Every recipient gets a message of their own, so a refused address costs only
that message, and the Sync Log can say exactly who got what: a run records
``delivered: SWM→hod.swm@…, summary→cell@…`` under the report's day, and the
next run of that day sends only to those not yet served (everyone with
``--resend``). A run killed between sending and logging sends again next time:
better twice than never.
"""

from __future__ import annotations

import base64
import logging
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, make_msgid

from sheets_sync.backends.base import Backend
from sheets_sync.deadlines import CommentDeadline
from sheets_sync.email_settings import SmtpSettings
from sheets_sync.errors import ConfigError, DeliveryError
from sheets_sync.report import Report, TrackerSnapshot, how_long, report_text
from sheets_sync.report_html import esc, overdue_table_html, report_html, summary_table_html
from sheets_sync.roster import Department, Roster
from sheets_sync.schema import Schema
from sheets_sync.table import AddRow, Record
from sheets_sync.timeutil import IST, now_ist, to_sheet

log = logging.getLogger("sheets_sync.emailer")

SUBJECT_TAG = "[sheets-sync]"
SUMMARY = "summary"
TIMEOUT = 30


# --- messages ------------------------------------------------------------------------------------


@dataclass
class Outgoing:
    """One message, before it is addressed: to a department, or the summary."""

    key: str  # the department code, or "summary"
    recipients: tuple[str, ...]
    subject: str
    text: str
    html: str
    attachment: tuple[str, str] | None = None  # (file name, HTML)


def department_subject(code: str, items: Sequence[CommentDeadline], day: date, name_mr: str = "") -> str:
    escalated = sum(1 for d in items if d.level == 2)
    extra = f", {escalated} escalated" if escalated else ""
    tail = f" — {name_mr}" if name_mr else ""
    return f"{SUBJECT_TAG} {code} overdue: {len(items)} comments{extra} ({day.isoformat()}){tail}"


def summary_subject(report: Report, day: date) -> str:
    late = [s for s in report.departments if s.overdue]
    return (f"{SUBJECT_TAG} Summary: {report.total.overdue} overdue, {report.total.overdue_level_2} "
            f"escalated in {len(late)} departments ({day.isoformat()})")


def department_message(dept: Department, items: Sequence[CommentDeadline], report: Report,
                       day: date) -> Outgoing:
    recipients = tuple(dict.fromkeys([a for a in (dept.head, *dept.nodal_officers) if a]))
    name = dept.name_en + (f" ({dept.name_mr})" if dept.name_mr else "")
    when = to_sheet(report.as_of)
    if items:
        intro_en = (f"{len(items)} citizens' comment(s) on your department's posts are past their reply "
                    f"deadline as of {when} IST. Please reply in the Tracker (your department's tab or the "
                    "Comments tab) and set the Status.")
        intro_mr = (f"आपल्या विभागाच्या पोस्टवरील {len(items)} नागरिक टिप्पण्यांना उत्तराची मुदत संपली आहे. "
                    "कृपया ट्रॅकर शीटमध्ये उत्तर द्या आणि Status बदला.")
    else:
        intro_en = f"Nothing is overdue for your department as of {when} IST. Thank you."
        intro_mr = "आपल्या विभागाकडे मुदत संपलेली कोणतीही टिप्पणी नाही. धन्यवाद."
    lines = [f"नमस्कार / Dear {name},", "", intro_mr, intro_en, ""]
    for n, d in enumerate(items, start=1):
        tag = "ESCALATED to the cell and the Additional Commissioner" if d.level == 2 else "overdue"
        lines += [f"{n}. {tag}, {how_long(d.late_hours)} late — due {to_sheet(d.due_at)} IST, {d.category}",
                  f"   {d.author}, {to_sheet(d.commented_at)}: {d.text}",
                  f"   {d.url}" if d.url else "   (no link)", ""]
    lines += [_footer(report)]
    html = (f"<p>नमस्कार / Dear {esc(name)},</p><p>{esc(intro_mr)}<br>{esc(intro_en)}</p>"
            + (overdue_table_html(items) if items else "") + f"<p><small>{esc(_footer(report))}</small></p>")
    return Outgoing(dept.code, recipients, department_subject(dept.code, items, day, dept.name_mr),
                    "\n".join(lines), _page(html))


def summary_message(report: Report, day: date, recipients: Sequence[str]) -> Outgoing:
    escalated = [d for d in report.overdue if d.level == 2]
    text = [report_text(report, overdue_limit=10), ""]
    if escalated:
        text.append(f"Escalated to the cell and the Additional Commissioner's office ({len(escalated)}):")
        for d in escalated:
            text.append(f"  {d.department} {how_long(d.late_hours)} late, due {to_sheet(d.due_at)}: "
                        f"{d.author}: {d.text}  {d.url}")
        text.append("")
    text.append("The full report with charts is attached (open it in a browser).")
    text.append(_footer(report))
    html = (f"<p>Replies to citizens' comments, {esc(report.period)} IST "
            f"(as of {esc(to_sheet(report.as_of))} IST). {esc(report.rules)}.</p>"
            + summary_table_html(report) + f"<h3>Escalated ({len(escalated)})</h3>"
            + overdue_table_html(escalated)
            + "<p>The full report with charts is attached.</p>"
            + f"<p><small>{esc(_footer(report))}</small></p>")
    return Outgoing(SUMMARY, tuple(recipients), summary_subject(report, day), "\n".join(text), _page(html),
                    (f"sheets-sync-report-{day.isoformat()}.html", report_html(report)))


def _footer(report: Report) -> str:
    return f"— sheets-sync, for the social media cell. Tracker: {report.location}"


def _page(body: str) -> str:
    return ('<!DOCTYPE html><html><head><meta charset="utf-8"><style>'
            'body{font-family:"Noto Sans","Noto Sans Devanagari","Nirmala UI","Mangal",Arial,sans-serif}'
            "table{border-collapse:collapse}th,td{border:1px solid #ccd;padding:3px 6px;text-align:left;"
            "vertical-align:top}th{background:#dde7f0}tr.l2 td{background:#fde2e1}"
            "tr.l1 td{background:#fff4d6}tr.total td{font-weight:bold}</style></head><body>"
            f"{body}</body></html>")


def plan_messages(report: Report, roster: Roster, settings: SmtpSettings, day: date, *,
                  include_empty: bool = False) -> tuple[list[Outgoing], list[str]]:
    """The messages of one day's report, and the departments that cannot be told (no address)."""
    out, problems = [], []
    for dept in roster:
        items = report.overdue_of(dept.code)
        if not items and not include_empty:
            continue
        message = department_message(dept, items, report, day)
        if not message.recipients:
            problems.append(f"{dept.code}: no head or nodal officer e-mail in the Departments tab; "
                            f"{len(items)} overdue comment(s) not sent to the department")
            continue
        out.append(message)
    out.append(summary_message(report, day, (*settings.cell, *settings.addl_commissioner)))
    return out, problems


class _Folded(str):
    """A header value already encoded and folded here; stored and sent as it is."""


class _MailPolicy(EmailPolicy):
    # Python 3.11's header folder drops the spaces between Marathi words when it
    # turns them into encoded words (each word encoded alone; whitespace between
    # encoded words does not count), so "घनकचरा व्यवस्थापन" would arrive as
    # "घनकचराव्यवस्थापन"; and it may fold a long ASCII subject right after the
    # colon, which readers show as a leading space. Subjects are folded and
    # encoded by encode_header() instead.
    def header_store_parse(self, name, value):
        if isinstance(value, _Folded):
            return (name, str(value))
        return super().header_store_parse(name, value)


# 7bit: bodies go as base64/quoted-printable, so any server (8BITMIME or not) carries them.
MAIL_POLICY = _MailPolicy(linesep="\r\n", cte_type="7bit")


def encode_header(text: str, name: str = "Subject") -> str:
    """RFC 2047: the ASCII start stays readable (filters, logs); from the first
    non-ASCII word on, UTF-8 encoded words that carry their spaces inside them."""
    text = " ".join(text.split())
    first = next((i for i, ch in enumerate(text) if ord(ch) > 127), len(text))
    cut = text.rfind(" ", 0, first) if first < len(text) else len(text)
    prefix, rest = (text[:cut], text[cut + 1:]) if cut > 0 else ("", text)
    chunks, chunk = [], ""
    for ch in rest:  # whole characters, at most 45 bytes each: lines stay under 78
        if chunk and len((chunk + ch).encode("utf-8")) > 45:
            chunks.append(chunk)
            chunk = ""
        chunk += ch
    if chunk:
        chunks.append(chunk)
    lines, line = [], ""
    for word in prefix.split(" ") if prefix else []:
        if line and len(name) + 2 + len(line) + 1 + len(word) > 78:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    lines += ["=?utf-8?b?" + base64.b64encode(c.encode("utf-8")).decode("ascii") + "?=" for c in chunks]
    return _Folded("\n ".join(lines))


def compose(message: Outgoing, to: str, settings: SmtpSettings, *, day: date) -> EmailMessage:
    """The e-mail one recipient gets: plain text and HTML, UTF-8, headers people can filter on."""
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["From"] = settings.sender
    msg["To"] = to
    msg["Subject"] = encode_header(message.subject)
    msg["Date"] = format_datetime(datetime.now(IST))
    domain = settings.sender_address.rpartition("@")[2] or None
    msg["Message-ID"] = make_msgid("sheets-sync", domain=domain)
    msg["Auto-Submitted"] = "auto-generated"  # no out-of-office replies (RFC 3834)
    msg["X-Sheets-Sync-Report"] = f"{message.key}; day={day.isoformat()}"
    msg.set_content(message.text, charset="utf-8")
    msg.add_alternative(message.html, subtype="html", charset="utf-8")
    if message.attachment:
        name, content = message.attachment
        msg.add_attachment(content.encode("utf-8"), maintype="text", subtype="html", filename=name)
    return msg


# --- sending ---------------------------------------------------------------------------------


@dataclass
class Delivery:
    day: date
    sent: list[tuple[str, str]] = field(default_factory=list)  # (key, address)
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (key, address, why)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # already sent that day
    warnings: list[str] = field(default_factory=list)
    nothing_to_do: bool = False

    def lines(self) -> list[str]:
        out = [f"Warning: {w}" for w in self.warnings]
        if self.nothing_to_do:
            out.append(f"The {self.day.isoformat()} report was already sent to {len(self.skipped)} "
                       "recipient(s) (see the Sync Log); nothing sent. Use --resend to send it again.")
        else:
                out.append(f"E-mailed the {self.day.isoformat()} report: {len(self.sent)} message(s) sent"
                       + (f", {len(self.skipped)} already sent earlier" if self.skipped else "")
                       + (f", {len(self.failed)} failed" if self.failed else "") + ".")
        for key, address, why in self.failed:
            out.append(f"Error: {key} → {address}: {why}")
        return out

    def raise_for_failures(self) -> None:
        if self.failed:
            who = ", ".join(f"{a} ({k})" for k, a, _ in self.failed[:5])
            more = f" and {len(self.failed) - 5} more" if len(self.failed) > 5 else ""
            raise DeliveryError(f"{len(self.failed)} report e-mail(s) not sent: {who}{more}; fix the "
                                "address in the Departments tab or the settings, then run again "
                                "(those already served are not sent twice)")


SmtpFactory = Callable[[SmtpSettings], smtplib.SMTP]


def connect(settings: SmtpSettings) -> smtplib.SMTP:
    """An open, logged-in connection; wrong settings are a ConfigError naming the setting."""
    where = f"{settings.host}:{settings.port}"
    context = ssl.create_default_context()
    try:
        if settings.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=TIMEOUT,
                                                   context=context)
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=TIMEOUT)
        smtp.ehlo()
        if settings.security == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
    except smtplib.SMTPNotSupportedError:
        raise ConfigError(f"{where} does not offer STARTTLS; set SHEETS_SYNC_SMTP_SECURITY=ssl "
                          "(usually port 465) or none for a local relay") from None
    except ssl.SSLError as exc:
        raise ConfigError(f"{where}: TLS failed ({exc.reason or exc}); check SHEETS_SYNC_SMTP_SECURITY "
                          "(ssl for port 465, starttls for 587) and SHEETS_SYNC_SMTP_PORT") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise _Unreachable(f"cannot connect to the mail server {where} ({_why(exc)}); check "
                           "SHEETS_SYNC_SMTP_HOST and SHEETS_SYNC_SMTP_PORT") from None
    if settings.user:
        try:
            smtp.login(settings.user, settings.password)
        except smtplib.SMTPAuthenticationError as exc:
            _quit(smtp)
            raise ConfigError(f"{where} refused the login of SHEETS_SYNC_SMTP_USER={settings.user!r} "
                              f"({exc.smtp_code}); check SHEETS_SYNC_SMTP_USER and "
                              "SHEETS_SYNC_SMTP_PASSWORD") from None
        except smtplib.SMTPNotSupportedError:
            _quit(smtp)
            raise ConfigError(f"{where} offers no login; unset SHEETS_SYNC_SMTP_USER and "
                              "SHEETS_SYNC_SMTP_PASSWORD, or use SHEETS_SYNC_SMTP_SECURITY=starttls"
                              ) from None
        except (OSError, smtplib.SMTPException) as exc:
            smtp.close()
            raise _Unreachable(f"the mail server {where} failed during login ({_why(exc)})") from None
    return smtp


class _Unreachable(Exception):
    """The server cannot be reached: every message of the run fails with this reason."""


def _why(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        return f"{exc.smtp_code} {' '.join(str(text).split())}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        return f"refused by the server: {code} {' '.join(str(text).split())}"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def send_messages(messages: Sequence[Outgoing], settings: SmtpSettings, day: date, *,
                  skip: Iterable[tuple[str, str]] = (), factory: SmtpFactory = connect) -> Delivery:
    """Send each message to each of its recipients, one e-mail per address; go on past failures."""
    delivery = Delivery(day, warnings=list(settings.warnings))
    todo = _to_send(messages, set(skip), delivery)
    if not todo:
        delivery.nothing_to_do = bool(delivery.skipped)
        return delivery
    line = _Line(settings, factory)
    for i, (message, address) in enumerate(todo):
        try:
            line.send(message, address, day)
            delivery.sent.append((message.key, address))
        except _Unreachable as exc:
            # No server, no point trying the rest one by one.
            delivery.failed += [(m.key, a, str(exc)) for m, a in todo[i:]]
            line.smtp = None
            break
        except smtplib.SMTPException as exc:  # refused recipient, sender or data: the next may pass
            delivery.failed.append((message.key, address, _why(exc)))
        except OSError as exc:  # the connection broke: start a new one for the next message
            delivery.failed.append((message.key, address, _why(exc)))
            line.drop()
    line.close()
    return delivery


def _to_send(messages: Sequence[Outgoing], skip: set[tuple[str, str]],
             delivery: Delivery) -> list[tuple[Outgoing, str]]:
    """(message, address) pairs not yet served today; the others noted as skipped."""
    todo = []
    for message in messages:
        for address in message.recipients:
            if (message.key, address) in skip:
                delivery.skipped.append((message.key, address))
            else:
                todo.append((message, address))
    return todo


class _Line:
    """The connection to the mail server: opened when first needed, opened again when it broke."""

    def __init__(self, settings: SmtpSettings, factory: SmtpFactory) -> None:
        self.settings, self.factory = settings, factory
        self.smtp: smtplib.SMTP | None = None

    def send(self, message: Outgoing, address: str, day: date) -> None:
        if self.smtp is None:
            self.smtp = self.factory(self.settings)
        try:
            _send_one(self.smtp, message, address, self.settings, day)
        except smtplib.SMTPServerDisconnected:
            # The server hung up (idle limit, per-connection cap): once more on a fresh connection.
            self.smtp = None
            self.smtp = self.factory(self.settings)
            _send_one(self.smtp, message, address, self.settings, day)

    def drop(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
        self.smtp = None

    def close(self) -> None:
        if self.smtp is not None:
            _quit(self.smtp)


def _send_one(smtp: smtplib.SMTP, message: Outgoing, address: str, settings: SmtpSettings, day: date) -> None:
    msg = compose(message, address, settings, day=day)
    smtp.send_message(msg, from_addr=settings.sender_address, to_addrs=[address])
    log.info("sent %s report to %s", message.key, address)


# --- the Sync Log: what was sent -------------------------------------------------------------------

_DELIVERED = "delivered: "
_FAILED = " | failed: "


def log_source(day: date) -> str:
    return f"e-mail {day.isoformat()}"


def already_sent(sync_log: Iterable[Record], day: date) -> set[tuple[str, str]]:
    """(key, address) pairs the Sync Log says were delivered for ``day``'s report."""
    out = set()
    for rec in sync_log:
        if rec.get("command").strip() != "report" or rec.get("source").strip() != log_source(day):
            continue
        out |= delivered_pairs(rec.get("errors"))
    return out


def delivered_pairs(text: str) -> set[tuple[str, str]]:
    """The (key, address) pairs a Sync Log row's "delivered: key→address, …" names."""
    out = set()
    if not text.startswith(_DELIVERED):
        return out
    for pair in text[len(_DELIVERED):].split(_FAILED)[0].split(", "):
        key, arrow, address = pair.partition("→")
        if arrow and address.strip():
            out.add((key.strip(), address.strip()))
    return out


def log_row(delivery: Delivery, *, now: datetime, seconds: float, run_by: str) -> AddRow:
    text = _DELIVERED + ", ".join(f"{k}→{a}" for k, a in delivery.sent)
    if delivery.failed:
        text += _FAILED + ", ".join(f"{k}→{a} ({why})" for k, a, why in delivery.failed)
    return AddRow("sync_log", {
        "run_at": to_sheet(now), "command": "report", "source": log_source(delivery.day),
        "rows_updated": len(delivery.sent), "held": len(delivery.failed),  # numbers: table.CellValue
        "errors": text[:30_000], "seconds": round(seconds, 1), "run_by": run_by,
    })


def email_reports(backend: Backend, schema: Schema, report: Report, snapshot: TrackerSnapshot,
                  settings: SmtpSettings, *, include_empty: bool = False, resend: bool = False,
                  now: datetime | None = None, factory: SmtpFactory = connect) -> Delivery:
    """Send the report of ``report.as_of``'s day and record it in the Sync Log.

    The caller holds the run lock, so no other run sends the same day's report meanwhile.
    """
    from sheets_sync.sync import run_by

    started = time.monotonic()
    day = report.as_of.astimezone(IST).date()
    messages, problems = plan_messages(report, snapshot.roster, settings, day, include_empty=include_empty)
    skip = set() if resend else already_sent(snapshot.sync_log, day)
    delivery = send_messages(messages, settings, day, skip=skip, factory=factory)
    delivery.failed += [(p.split(":", 1)[0], "(no address)", p.split(": ", 1)[1]) for p in problems]
    if delivery.sent or delivery.failed:
        with backend.open(schema, write=True) as session:
            session.apply([log_row(delivery, now=now or now_ist(), seconds=time.monotonic() - started,
                                   run_by=run_by())])
    return delivery


__all__ = ["Delivery", "Outgoing", "SmtpSettings", "already_sent", "compose", "connect", "email_reports",
           "plan_messages", "send_messages"]
