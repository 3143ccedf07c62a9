"""One message read from the cell's mailbox, as plain facts.

Everything here came from outside and is untrusted: texts are stored as text
(never a formula), escaped when shown in HTML or e-mail, and kept byte for
byte otherwise. Built by ``sheets_sync.mail.imap``; the content pipeline
builds them directly in its tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class Attachment:
    #: The sanitised file name (no path, no control characters, no leading dot).
    name: str
    size: int  # bytes, as decoded
    content_type: str
    #: Where it was saved (a path relative to the attachments folder, or its Drive link on
    #: the Google backend), or "" when not saved.
    saved_to: str = ""
    #: Why it was not saved ("larger than 25 MB", …), or "".
    skipped: str = ""


@dataclass(frozen=True)
class Mail:
    #: Where it was read: the folder, its UIDVALIDITY and the message's UID. Together
    #: they are the message's identity in the mailbox and the checkpoint's unit.
    folder: str
    uidvalidity: int
    uid: int
    message_id: str  # the Message-ID header, "<...>", or "" when missing
    sender: str  # the From address, lower case
    sender_name: str
    subject: str
    received: datetime  # aware: the server's INTERNALDATE (the Date header when absent)
    text: str  # the body as plain text; HTML turned into text safely
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    #: True when the corporation's mail server vouches for the sender: an
    #: Authentication-Results header added by the configured server (authserv-id)
    #: says dkim=pass or spf=pass for the sender's domain.
    authenticated: bool = False
    #: Why not authenticated ("no Authentication-Results from mail.example", "dkim=fail"…), or "".
    auth_reason: str = ""
    #: The planned publication date stated in the subject or text, if any (Marathi or English).
    planned_date: date | None = None
    #: Request codes quoted in the subject or text (e.g. "CR-0042"), in order, without repeats.
    codes: tuple[str, ...] = field(default=())
    #: What the reader could not do with this message, in plain words ("the message is
    #: 130 MB…: only its beginning was read"), for the cell to see; () when all went well.
    notes: tuple[str, ...] = ()

    @property
    def own_text(self) -> str:
        """The text its sender wrote, above any quoted reply or forwarded message
        (an "APPROVE" or a date below it was someone else's, earlier)."""
        from sheets_sync.mail.quoting import own_text  # the rules live with the reader

        return own_text(self.text)

    @property
    def key(self) -> str:
        """The message's identity, e.g. ``INBOX/1700000000/42``."""
        return f"{self.folder}/{self.uidvalidity}/{self.uid}"
