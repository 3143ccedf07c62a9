"""The exceptions sheets-sync raises, grouped by what the caller should do.

Every expected failure is a :class:`SheetsSyncError` whose message is one line
that names the file, row, field or setting at fault and says what to do. The
CLI prints that line and exits with the error's ``exit_code``; it never shows
a traceback for these.
"""

from __future__ import annotations


class SheetsSyncError(Exception):
    """Base class: an expected failure with a message meant for a person."""

    exit_code = 1


class ConfigError(SheetsSyncError):
    """A setting, the schema, the roster or the credentials are wrong."""

    exit_code = 2


class InputError(SheetsSyncError):
    """An export file (or a platform payload) cannot be used as it is."""

    exit_code = 3


class TrackerError(SheetsSyncError):
    """The tracker cannot be opened, read or written safely."""

    exit_code = 4


class ColumnsMoved(TrackerError):
    """A column was moved between the job's read and its write.

    What the write put by the old positions was moved to the columns it was
    meant for; a new run (the engine starts one at once) finishes the work.
    """


class SourceError(SheetsSyncError):
    """A source of posts failed; other sources may still have run."""

    exit_code = 5


class AuthError(SourceError):
    """A platform token is expired, revoked or lacks a permission: renew it."""


class RateLimited(SourceError):
    """A platform throttled us; the next run resumes from the checkpoint."""


class Busy(SheetsSyncError):
    """Another run holds the tracker's lock; this run changed nothing."""

    exit_code = 6


class DeliveryError(SheetsSyncError):
    """Some report e-mails could not be sent."""

    exit_code = 7
