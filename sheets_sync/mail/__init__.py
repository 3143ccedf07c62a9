"""The cell's mailbox: departments' material, heads' approvals, suggestions (#15).

``imap`` reads new messages (IMAP UIDs and UIDVALIDITY as the checkpoint) and
turns each into a :class:`~sheets_sync.mail.message.Mail`: plain facts, the
text made safe, attachments saved under sanitised names. What a message *is*
(a request, an approval, a suggestion…) and what it changes in the tracker is
decided by the content pipeline, not here.
"""

from sheets_sync.mail.errors import MailboxError, MailboxSettingsError, MailboxUnavailable
from sheets_sync.mail.imap import MailBatch, check, fetch_new
from sheets_sync.mail.message import Attachment, Mail
from sheets_sync.mail.parse import parse_message
from sheets_sync.mail.quoting import own_text
from sheets_sync.mail.settings import ImapSettings

__all__ = [
    "Attachment",
    "ImapSettings",
    "Mail",
    "MailBatch",
    "MailboxError",
    "MailboxSettingsError",
    "MailboxUnavailable",
    "check",
    "fetch_new",
    "own_text",
    "parse_message",
]
