"""What can go wrong reading the mailbox, by what the caller should do.

The CLI maps them as every :class:`~sheets_sync.errors.SheetsSyncError`: one
line, and the error's ``exit_code``.
"""

from __future__ import annotations

from sheets_sync.errors import ConfigError, SheetsSyncError, SourceError


class MailboxError(SheetsSyncError):
    """The mailbox could not be read; the message names the setting to check."""


class MailboxSettingsError(MailboxError, ConfigError):
    """A setting is wrong: the login was refused, the certificate is not trusted, no such
    host or folder, not an IMAP server at that port, attachments cannot be saved (exit 2)."""


class MailboxUnavailable(MailboxError, SourceError):
    """The server did not answer or broke off; the next run tries again (exit 5)."""
