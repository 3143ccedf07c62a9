"""One message's bytes turned into a :class:`Mail`: plain facts, the text made safe.

The body is text/plain where the sender's program wrote one, else its HTML made
into text (``htmltext``). Quoted replies and forwarded messages stay in the text
(a forwarded press note is the material), marked as mail programs mark them so
``quoting`` can tell them from the sender's own words. Every other part,
inline images included, is an attachment: saved under a sanitised name
(``files``), or not saved when over the size cap, and never opened.

Hostile mail must not stop the reader: a header that does not parse, a part in
an unknown charset or a broken structure is read as far as it can be, and
``Mail.notes`` says what could not be.
"""

from __future__ import annotations

import email
import hashlib
import re
from datetime import date, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from pathlib import Path

from sheets_sync.errors import SheetsSyncError
from sheets_sync.mail import authres, dates, files
from sheets_sync.mail.htmltext import html_to_text
from sheets_sync.mail.message import Attachment, Mail
from sheets_sync.mail.settings import ImapSettings
from sheets_sync.timeutil import IST

#: Parts nested deeper than this are not read (a nesting bomb, not a message).
MAX_DEPTH = 12
_MSGID_RE = re.compile(r"<[^<>\s]+>")
FORWARD_LINE = "---------- Forwarded message ---------"


def parse_message(raw: bytes, settings: ImapSettings, *, uidvalidity: int, uid: int,
                  received: datetime | None = None, complete: bool = True, size: int = 0) -> Mail:
    """``raw`` (the message as the server holds it) as a Mail; attachments saved.

    ``complete=False`` says ``raw`` is only the beginning of a message too big to
    download (``size`` bytes): its text is read as far as it goes and no
    attachment is saved.
    """
    msg = email.message_from_bytes(raw, policy=policy.default)
    headers = _Headers(msg, raw)
    notes: list[str] = []
    sender_name, sender = headers.address("From")
    received = _received(received, headers)
    walk = _Walk(settings, uidvalidity, uid, complete, size)
    try:
        walk.part(msg, 0, text=True)
    except SheetsSyncError:
        raise  # an attachment that could not be saved: nothing of this run may be filed
    except Exception as exc:  # noqa: BLE001 - a broken body must not stop the mailbox
        notes.append(f"part of the message could not be read ({type(exc).__name__}); "
                     "open it in the mailbox")
    if not complete:
        notes.append(f"the message is {_mb(size)}, over the {_mb(settings.max_message_bytes)} a "
                     "message may be: only its beginning was read and its attachments were not "
                     "downloaded; ask the sender to share them as a link")
    notes += walk.notes
    text = "\n\n".join(t for t in walk.texts if t.strip())
    subject = headers.text("Subject")
    authenticated, reason = authres.verdict(headers.all("Authentication-Results"), sender,
                                            settings.authserv)
    if len(headers.addresses("From")) > 1:
        authenticated, reason = False, "the message names more than one sender (From)"
    return Mail(
        folder=settings.folder, uidvalidity=uidvalidity, uid=uid,
        message_id=_message_id(headers.text("Message-ID"), raw),
        sender=sender, sender_name=sender_name, subject=subject, received=received, text=text,
        to=tuple(a for _, a in headers.addresses("To")),
        cc=tuple(a for _, a in headers.addresses("Cc")),
        in_reply_to=next(iter(_MSGID_RE.findall(headers.text("In-Reply-To"))), ""),
        references=tuple(dict.fromkeys(_MSGID_RE.findall(headers.text("References")))),
        attachments=tuple(walk.attachments),
        authenticated=authenticated, auth_reason=reason,
        planned_date=dates.planned_date(subject, text, received=_ist_day(received)),
        codes=dates.codes(subject, text),
        notes=tuple(notes),
    )


class _Headers:
    """Header values, decoded; a header the modern parser chokes on is read the old way."""

    def __init__(self, msg: EmailMessage, raw: bytes) -> None:
        self.msg = msg
        self.raw = raw
        self._old: Message | None = None

    def _compat(self) -> Message:
        if self._old is None:
            self._old = email.message_from_bytes(self.raw, policy=policy.compat32)
        return self._old

    def all(self, name: str) -> list[str]:
        try:
            return [str(v) for v in self.msg.get_all(name, [])]
        except Exception:  # noqa: BLE001 - see _Headers
            return [_decoded(v) for v in self._compat().get_all(name, [])]

    def text(self, name: str) -> str:
        values = self.all(name)
        # Folded headers and stray controls: one line, as a person reads a subject.
        return re.sub(r"[\r\n\t]+\s*", " ", values[0]).strip() if values else ""

    def addresses(self, name: str) -> list[tuple[str, str]]:
        try:
            found = [(a.display_name, a.addr_spec) for v in self.msg.get_all(name, [])
                     for a in v.addresses]
        except Exception:  # noqa: BLE001 - see _Headers
            found = getaddresses([_decoded(v) for v in self._compat().get_all(name, [])])
        out: dict[str, str] = {}
        for display, address in found:
            address = address.strip().lower()
            if "@" in address and address not in out:
                out[address] = re.sub(r"\s+", " ", display).strip()
        return [(display, address) for address, display in out.items()]

    def address(self, name: str) -> tuple[str, str]:
        found = self.addresses(name)
        if found:
            return found[0]
        display, address = parseaddr(self.text(name))
        return display, address.lower()


def _decoded(value: object) -> str:
    try:
        return str(make_header(decode_header(str(value))))
    except Exception:  # noqa: BLE001 - an undecodable word stays as it came
        return str(value)


def _message_id(value: str, raw: bytes) -> str:
    found = _MSGID_RE.search(value)
    if found:
        return found.group(0)
    # No Message-ID: one derived from the header block, which the server keeps
    # unchanged, so the same message read again (after a UIDVALIDITY change, or
    # from a second copy) gets the same id and the content pipeline files it once.
    head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
    return f"<{hashlib.sha256(head).hexdigest()[:40]}@sheets-sync.invalid>"


def _received(internaldate: datetime | None, headers: _Headers) -> datetime:
    if internaldate is None:
        try:
            internaldate = parsedate_to_datetime(headers.text("Date"))
        except (TypeError, ValueError, IndexError):
            internaldate = None
        if internaldate is not None and internaldate.tzinfo is None:
            internaldate = internaldate.replace(tzinfo=IST)
    return (internaldate or datetime.now(IST)).astimezone(IST)


def _ist_day(when: datetime) -> date:
    return when.astimezone(IST).date()


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB".replace(".0 MB", " MB")


class _Walk:
    """The texts and attachments of a message, in the order its sender put them."""

    def __init__(self, settings: ImapSettings, uidvalidity: int, uid: int, complete: bool,
                 size: int) -> None:
        self.settings = settings
        self.uidvalidity, self.uid = uidvalidity, uid
        self.complete, self.size = complete, size
        self.texts: list[str] = []
        self.attachments: list[Attachment] = []
        self.notes: list[str] = []
        self.store = settings.store or files.FolderStore(Path(settings.attachments_dir))

    def part(self, part: Message, depth: int, *, text: bool) -> None:
        """``text=False``: a branch not chosen as the body (the HTML twin of a plain text): only
        its attachments count."""
        if depth > MAX_DEPTH:
            self.notes.append(f"parts nested deeper than {MAX_DEPTH} levels were not read")
            return
        kind = part.get_content_type()
        if kind == "message/rfc822":  # forwarded inline or as an .eml: its words are the material
            self._forwarded(part, depth, text)
        elif part.is_multipart():
            children = list(part.iter_parts()) if isinstance(part, EmailMessage) else part.get_payload()
            chosen = _body_of_alternatives(children) if kind == "multipart/alternative" else None
            for child in children:
                self.part(child, depth + 1, text=text and (chosen is None or child is chosen))
        elif text and _is_body(part):
            body = _text_of(part)
            self.texts.append(html_to_text(body) if kind == "text/html" else body)
        elif not (kind in ("text/plain", "text/html") and _is_body(part)):
            self._attachment(part)

    def _forwarded(self, part: Message, depth: int, text: bool) -> None:
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        if not isinstance(inner, Message):
            self._attachment(part)
            return
        if text:
            head = [FORWARD_LINE]
            for name in ("From", "Date", "Subject", "To"):
                value = inner.get(name)
                if value is not None:
                    head.append(f"{name}: {_decoded(value)}")
            self.texts.append("\n".join(head))
        self.part(inner, depth + 1, text=text)

    def _attachment(self, part: Message) -> None:
        n = len(self.attachments) + 1
        kind = part.get_content_type()
        name = files.safe_name(_filename(part), kind, n)
        cap = self.settings.max_attachment_bytes
        if not self.complete:
            self.attachments.append(Attachment(name, 0, kind, skipped=(
                f"not downloaded: the message is {_mb(self.size)}, over the "
                f"{_mb(self.settings.max_message_bytes)} a message may be")))
            return
        data = part.get_payload(decode=True)
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        data = data or b""
        if len(data) > cap:
            self.attachments.append(Attachment(name, len(data), kind, skipped=(
                f"larger than {_mb(cap)} ({_mb(len(data))}): not saved; ask the sender for a link")))
            return
        key = f"{self.uidvalidity}-{self.uid}-{n}"
        where = self.store.save(key, name, data, kind)
        self.attachments.append(Attachment(name, len(data), kind, saved_to=where))


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:  # noqa: BLE001 - a broken parameter: no name, the type gives one
        name = ""
    return _decoded(name) if "=?" in name else name


def _is_body(part: Message) -> bool:
    """A text part meant to be read in the message, not a text file attached to it."""
    if part.get_content_type() not in ("text/plain", "text/html"):
        return False
    return part.get_content_disposition() != "attachment" and not _filename(part)


def _body_of_alternatives(children: list[Message]) -> Message | None:
    """text/plain preferred, else HTML (possibly inside multipart/related), else the richest.

    An empty plain twin (some programs send one beside the real HTML) does not count.
    """
    for child in children:
        if child.get_content_type() == "text/plain" and _text_of(child).strip():
            return child
    for child in children:
        if child.get_content_type() == "text/html" or (child.is_multipart() and _holds(child, "text/html")):
            return child
    return children[-1] if children else None


def _holds(part: Message, kind: str) -> bool:
    return any(p.get_content_type() == kind for p in part.walk())


def _text_of(part: Message) -> str:
    try:
        text = part.get_content() if isinstance(part, EmailMessage) else None
    except (LookupError, UnicodeError, ValueError, AssertionError):
        text = None
    if not isinstance(text, str):
        data = part.get_payload(decode=True) or b""
        charset = part.get_content_charset() or "utf-8"
        try:
            text = data.decode(charset, "replace")
        except LookupError:  # a charset Python does not know
            text = data.decode("utf-8", "replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")
