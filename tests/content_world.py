"""A tracker, a mailbox and a mail server for the content pipeline's tests (#15).

The mailbox is a list of :class:`~sheets_sync.mail.message.Mail` with the IMAP
reader's checkpoint rule (UIDVALIDITY and the last UID seen); the mail server is
the real aiosmtpd on loopback of tests/test_email.py.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sheets_sync import jobs
from sheets_sync.mail.message import Attachment, Mail
from sheets_sync.timeutil import IST
from tests.helpers import init_tracker
from tests.trackers import records

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=IST)
HEAD = "hod.swm@mahapalika.example"
NODAL = "swm.nodal@mahapalika.example"
WS_HEAD = "hod.ws@mahapalika.example"
CELL = "cell@mahapalika.example"


class Mailbox:
    """The cell's INBOX as the IMAP reader gives it: UIDs grow, the checkpoint is
    ``UIDVALIDITY:last UID``, a new UIDVALIDITY means every message again."""

    def __init__(self, uidvalidity: int = 1700000000) -> None:
        self.uidvalidity = uidvalidity
        self.mails: list[Mail] = []
        self.fetches: list[str | None] = []

    def deliver(self, **kwargs) -> Mail:
        uid = len(self.mails) + 1
        mail = make_mail(uid=uid, uidvalidity=self.uidvalidity, **kwargs)
        self.mails.append(mail)
        return mail

    def renumber(self, uidvalidity: int) -> None:
        """The server changed UIDVALIDITY: the same messages under new UIDs."""
        from dataclasses import replace

        self.uidvalidity = uidvalidity
        self.mails = [replace(m, uidvalidity=uidvalidity, uid=i + 100) for i, m in enumerate(self.mails)]

    def fetch(self, checkpoint: str | None):
        self.fetches.append(checkpoint)
        validity, _, last = (checkpoint or "").partition(":")
        after = int(last) if validity == str(self.uidvalidity) and last.isdigit() else 0
        new = [m for m in self.mails if m.uid > after]
        top = max([after, *(m.uid for m in self.mails)])
        return new, f"{self.uidvalidity}:{top}"


def make_mail(*, uid: int, uidvalidity: int = 1700000000, sender: str = NODAL, subject: str = "",
              text: str = "", received: datetime | None = None, planned: date | None = None,
              codes: tuple[str, ...] = (), authenticated: bool = True, auth_reason: str = "",
              attachments: tuple[Attachment, ...] = (), message_id: str | None = None,
              sender_name: str = "") -> Mail:
    return Mail(folder="INBOX", uidvalidity=uidvalidity, uid=uid,
                message_id=f"<m{uid}.{uidvalidity}@mahapalika.example>" if message_id is None else message_id,
                sender=sender, sender_name=sender_name, subject=subject, received=received or NOW,
                text=text, attachments=attachments, authenticated=authenticated, auth_reason=auth_reason,
                planned_date=planned, codes=codes)


def tracker_for(harness, roster_file) -> jobs.Tracker:
    init_tracker(harness.tracker_arg, roster_file, env=harness.env or None)
    return jobs.Tracker(harness.tracker_arg, roster_path=str(roster_file),
                        credentials=harness.env.get("GOOGLE_APPLICATION_CREDENTIALS"))


def content_rows(harness) -> dict[str, dict[str, str]]:
    return {r["Request"]: r for r in records(harness.values("Content"))}


def mail_log(harness) -> list[dict[str, str]]:
    return records(harness.values("Mail Log"))


def later(hours: float) -> datetime:
    return NOW + timedelta(hours=hours)


def type_in_content(harness, code: str, header: str, value: str) -> None:
    harness.type_in("Content", "Request", code, header, value)
