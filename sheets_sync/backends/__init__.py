"""Tracker backends: a local .xlsx workbook, or a Google Sheets spreadsheet."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from sheets_sync.backends.base import Backend, TrackerSession
from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.errors import ConfigError

DEFAULT_TRACKER = "tracker.xlsx"
_SHEET_URL = re.compile(r"https://docs\.google\.com/spreadsheets/d/([A-Za-z0-9_-]+)")
_SHEET_ID = re.compile(r"^[A-Za-z0-9_-]{20,}$")

__all__ = ["Backend", "TrackerSession", "XlsxBackend", "open_backend", "require_tracker", "spreadsheet_id"]


def spreadsheet_id(tracker: str) -> str | None:
    """The spreadsheet id in a Google Sheets URL or id; None for anything else."""
    match = _SHEET_URL.match(tracker.strip())
    if match:
        return match.group(1)
    if _SHEET_ID.match(tracker.strip()):
        return tracker.strip()
    return None


def require_tracker(tracker: str | None) -> None:
    """Stop unless the workbook ``tracker`` names exists (a spreadsheet is Google's to find).

    A mistyped path must not become a second, empty tracker that cron then
    reports "0 overdue" from forever: only ``init`` (and the README's first
    ``sync`` on the default path) makes a workbook.
    """
    tracker = (tracker or DEFAULT_TRACKER).strip()
    if not tracker.lower().endswith(".xlsx") or Path(tracker).exists():
        return
    # Relative paths are relative to the current folder: say which, since cron's is not yours.
    where = "" if Path(tracker).is_absolute() else f" (looked for {Path(tracker).absolute()})"
    raise ConfigError(f"{tracker}: no such workbook{where}; check the path (--tracker or "
                      f"$SHEETS_SYNC_TRACKER), or make a new tracker there with "
                      f"`python cli.py init --tracker {shlex.quote(tracker)}`")


def open_backend(tracker: str | None, *, credentials: str | None = None, create: bool = False) -> Backend:
    """The backend for a ``--tracker`` value: a path ending in .xlsx, or a spreadsheet id/URL.

    A workbook must exist unless ``create`` (``init``; the first default sync).
    """
    tracker = (tracker or DEFAULT_TRACKER).strip()
    if tracker.lower().endswith(".xlsx"):
        if not create:
            require_tracker(tracker)
        return XlsxBackend(Path(tracker))
    sheet_id = spreadsheet_id(tracker)
    if sheet_id is None:
        raise ConfigError(f"--tracker {tracker!r}: give a path ending in .xlsx, or a Google "
                          "spreadsheet id or URL (https://docs.google.com/spreadsheets/d/…)")
    from sheets_sync.backends.gsheets import GoogleSheetsBackend

    return GoogleSheetsBackend(sheet_id, credentials=credentials)
