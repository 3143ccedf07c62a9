"""sheets-sync: keep a municipal corporation's Tracker sheet in sync with citizens' comments.

The public API: the jobs (``jobs.sync``, ``jobs.init``, ``jobs.tabs``, ``jobs.overdue``,
``jobs.report``, each on a :class:`Tracker`), the engine's :func:`run_sync` for a
backend and sources of one's own, and the errors, grouped by what the caller does.
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from sheets_sync import jobs
from sheets_sync.backends import open_backend
from sheets_sync.errors import (
    AuthError,
    Busy,
    ColumnsMoved,
    ConfigError,
    DeliveryError,
    InputError,
    RateLimited,
    SheetsSyncError,
    SourceError,
    TrackerError,
)
from sheets_sync.jobs import Tracker, open_sources
from sheets_sync.models import Comment, Post
from sheets_sync.schema import load_schema
from sheets_sync.sync import SyncResult, run_sync

try:
    __version__ = _version("sheets-sync")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "AuthError",
    "Busy",
    "ColumnsMoved",
    "Comment",
    "ConfigError",
    "DeliveryError",
    "InputError",
    "Post",
    "RateLimited",
    "SheetsSyncError",
    "SourceError",
    "SyncResult",
    "Tracker",
    "TrackerError",
    "jobs",
    "load_schema",
    "open_backend",
    "open_sources",
    "run_sync",
]
