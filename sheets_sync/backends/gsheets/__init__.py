"""The Google Sheets backend, through gspread's HTTP client and google-auth.

A steady-state sync costs three Sheets API requests, however many rows or
departments it touches:

1. ``spreadsheets.get``: tabs, grid sizes, protections, where the row colours' rules
   end, the time zone, header rows, and the Sync State (checkpoints, the departments'
   tab titles) and Departments (the roster) tabs, in one call.
2. ``spreadsheets.batchUpdate``: the run's lock — a temporary protected range
   on each tab whose rows it updates by position — with the read riding on it:
   ``responseRanges`` name the header rows and only the columns the plan needs,
   and Google answers with their cells (formatted values, as ``values:batchGet``
   gives them) as they stand right after the lock. While the lock stands, a
   person's edit there (a sort, an inserted row, a typed cell) is refused by Google
   with a visible message instead of being lost or shifting rows under the job.
   The departments' tabs are named by the titles the Sync State remembers: a tab
   deleted since is refused by its id (nothing applied) and left out of the retry;
   a tab renamed since makes the ranges unreadable (nothing applied): the tabs
   are listed and the lock with the read sent again.
3. ``spreadsheets.batchUpdate``: every new row (``appendCells``, which Google
   places after the last row at that moment), every changed cell
   (``updateCells`` at positions read under the lock), the departments' tabs
   as row differences, and the lock's removal, atomically. Text goes in as
   ``stringValue``: never parsed as a formula. When it carries values people
   typed, its reply brings back the key columns as they stand after it, to
   check that no row moved under it (owners are not held by the lock).

A payload over about 2 MB is split; the lock and the checkpoints go with the
last part, so a checkpoint never advances past rows that were not written.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sheets_sync.backends.base import Backend
from sheets_sync.backends.gsheets.cells import stable_sheet_id
from sheets_sync.backends.gsheets.client import RetryingHTTPClient, UncertainWrite, load_credentials
from sheets_sync.backends.gsheets.locks import (
    _LIVE_RUNS,
    LOCK_PREFIX,
    LOCK_TRIES,
    READ_NAME_PREFIX,
    STALE_LOCK,
)
from sheets_sync.backends.gsheets.session import GoogleSheetsSession
from sheets_sync.backends.gsheets.write import MAX_PAYLOAD
from sheets_sync.endpoint import session_for
from sheets_sync.schema import Schema

__all__ = ["LOCK_PREFIX", "LOCK_TRIES", "MAX_PAYLOAD", "READ_NAME_PREFIX", "STALE_LOCK",
           "GoogleSheetsBackend",
           "GoogleSheetsSession", "RetryingHTTPClient", "UncertainWrite", "_LIVE_RUNS", "load_credentials",
           "stable_sheet_id"]


class GoogleSheetsBackend(Backend):
    def __init__(self, spreadsheet_id: str, *, credentials: str | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.spreadsheet_id = spreadsheet_id
        self.credentials_path = credentials
        self.location = f"Google Sheets {spreadsheet_id}"
        self.sleep = sleep

    def open(self, schema: Schema, *, write: bool) -> GoogleSheetsSession:
        creds = load_credentials(self.credentials_path)
        # SHEETS_SYNC_API_ENDPOINT, when set, redirects every Sheets and Drive call.
        client = RetryingHTTPClient(creds, session_for(credentials=creds), sleep=self.sleep)
        session = GoogleSheetsSession(self, client, creds.service_account_email, schema, write=write)
        session.load_metadata()  # request 1
        return session


