"""The run's lock on the spreadsheet: temporary protected ranges, marked with the run.

The mark (run id, process, machine, time) tells a later run whether the lock's
run may still be alive: a dead run's lock is removed at once, another machine's
after ``STALE_LOCK``. Of two runs that lock at once, the later gives way.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta

from gspread.exceptions import APIError
from gspread.urls import SPREADSHEET_BATCH_UPDATE_URL

from sheets_sync.backends.gsheets.cells import (
    _value_ranges,
    stable_sheet_id,
)
from sheets_sync.backends.gsheets.client import UncertainWrite
from sheets_sync.errors import Busy, TrackerError

log = logging.getLogger(__name__)

LOCK_PREFIX = "sheets-sync lock"
#: The named ranges a run reads departments' tabs through, by id (see LockMixin.read_by_id).
READ_NAME_PREFIX = "sheets_sync_read_"
# A lock of a run that may still be alive on another machine counts as left behind
# (removed by the next run) once it is this old. A lock whose run is known to be
# gone (its process on this machine has ended) is removed at once.
STALE_LOCK = timedelta(minutes=10)
LOCK_TRIES = 3
# The Sync State row where a run whose lock request got no answer records, in its last
# write, that it finished (the newest FINISHED_KEPT such runs): a lock that lands late,
# after its run ended — Google may apply a lock request that timed out seconds later —
# is then known as left behind, on any machine, and removed at once instead of keeping
# officers out for STALE_LOCK. (Other runs leave the row alone: a run that changes
# nothing writes nothing.)
FINISHED_RUNS = "runs:finished"
FINISHED_KEPT = 20
# This process's runs that hold (or are taking) a lock: a lock marked with this
# process but another run id was left by a run of this process that died.
_LIVE_RUNS: set[str] = set()
# The tabs the job updates by row position; these (and the departments' tabs) are locked.
LOCKED_TABS = ("posts", "comments")

_LOCK_MARK = re.compile(r"^sheets-sync lock (?P<run>\S+)(?: pid (?P<pid>\d+) on (?P<host>\S+) since)? "
                        r"(?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\+00:00)?)$")


class SheetGone(Exception):
    """A lock was refused because its tab (by id) no longer exists."""

    def __init__(self, sheet_id: int) -> None:
        super().__init__(sheet_id)
        self.sheet_id = sheet_id


class StaleRange(Exception):
    """A range to read names a tab by a title it no longer has (Google applied nothing)."""


def _refusal(exc: APIError) -> Exception | None:
    """A 400 refusal of the lock that means a tab was deleted or renamed, as its exception."""
    message = str(exc.error.get("message", "")) if isinstance(exc.error, dict) else ""
    if exc.response.status_code != 400:
        return None
    if "Unable to parse range" in message:
        return StaleRange(message)
    gone = re.search(r"No grid with id: (\d+)", message)
    return SheetGone(int(gone.group(1))) if gone else None


def _lock_mark(run_id: str, now: datetime) -> str:
    host = re.sub(r"\s+", "-", socket.gethostname()) or "unknown"
    return f"{LOCK_PREFIX} {run_id} pid {os.getpid()} on {host} since {now.isoformat(timespec='seconds')}"


def _lock_time(description: str) -> datetime | None:
    match = _LOCK_MARK.match(description)
    if not match:
        return None
    value = datetime.fromisoformat(match.group("time"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _lock_state(description: str, now: datetime, finished: frozenset[str] = frozenset()) -> str:
    """"dead": its run is known to be gone; "stale": too old to be alive; else "live"."""
    match = _LOCK_MARK.match(description)
    if match and match.group("run") in finished:
        return "dead"
    host = re.sub(r"\s+", "-", socket.gethostname())
    if match and match.group("pid") and match.group("host") == host:
        pid = int(match.group("pid"))
        alive = match.group("run") in _LIVE_RUNS if pid == os.getpid() else _pid_alive(pid)
        if not alive:
            return "dead"
    started = _lock_time(description)
    return "live" if started and now - started < STALE_LOCK else "stale"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _busy_message(description: str) -> str:
    match = _LOCK_MARK.match(description)
    who = ""
    if match and match.group("pid"):
        who = f"pid {match.group('pid')} on {match.group('host')}, "
    started = _lock_time(description)
    since = f"since {started:%H:%M} UTC" if started else "its lock has no time"
    return (f"another sheets-sync run is writing this tracker ({who}{since}); this run changed "
            "nothing, try again when it ends")


class LockMixin:
    # A lock request of this run got no answer: one may land late, after the run, so the
    # run's last write records it as finished (see FINISHED_RUNS).
    lock_uncertain = False
    # A tab's title was stale: the departments' tabs are read through named ranges by id
    # (made with the lock, their ids in read_names, removed with it).
    read_by_id = False
    read_names: list[str] = []  # noqa: RUF012 - set per session before use
    named_reads: list[dict] = []  # noqa: RUF012 - such named ranges as the lock's reply lists them

    def _lock(self, names: Sequence[str], read: Callable[[], list[tuple[str | int, str]]] | None = None
              ) -> tuple[list[tuple[str | int, str]], list[dict]] | None:
        """Take the run's lock: one protected range per tab it writes, marked with this run.

        Two runs (on two machines) may both see no lock and both add theirs.
        Google applies batchUpdates one at a time and the lock's reply shows
        the spreadsheet right after it, so the later of the two sees the
        earlier's lock there and gives way: of two runs, at most one writes.

        With ``read`` (the ranges to read, as (tab title or id, A1 range), asked again after
        each failed try), the lock's reply carries those ranges as they stand under it:
        the read costs no request of its own. Returns them (the ranges and their
        ``valueRanges``), or None when the read could not ride on the lock.
        """
        ids = self._lock_ids(names)
        if not ids:
            return None
        self.mark = _lock_mark(self.run_id, datetime.now(UTC))
        _LIVE_RUNS.add(self.run_id)
        read_with: tuple[list[tuple[str | int, str]], list[dict]] | None = None
        for attempt in range(1, LOCK_TRIES + 1):
            leftovers = self._leftover_locks()  # raises Busy while another run holds one
            body = [*({"deleteProtectedRange": {"protectedRangeId": i}} for i in leftovers),
                    *({"addProtectedRange": {"protectedRange": {
                        # A range from row 1 on, not a "sheet" protection: a sheet has only one
                        # of those, and the job's columns already use it.
                        "range": {"sheetId": i, "startRowIndex": 0}, "description": self.mark,
                        "warningOnly": False,
                        # In a Workspace domain every domain user could edit through it otherwise.
                        "editors": {"users": [self.identity], "domainUsersCanEdit": False}}}}
                      for i in ids)]
            ranges = read() if read is not None else []
            if self.read_by_id and ranges:
                body += [{"addNamedRange": {"namedRange": {"name": self._read_name(i),
                                                           "range": {"sheetId": i}}}}
                         for i in ids if any(key == i for key, _ in ranges)]
            try:
                reply = self._call("locking the tracker for the write", self._lock_request, body,
                                   [a1 for _, a1 in ranges])
            except UncertainWrite:
                # Applied or not? Our mark is unique: look for it.
                self.lock_uncertain = True
                self._refresh_all()
                self.locks = self._own_locks()
                if self.locks:
                    break
                log.warning("the lock request got no answer and was not applied (try %d)", attempt)
                continue
            except (SheetGone, StaleRange) as refusal:
                ids = self._after_refusal(refusal, ids, last=attempt == LOCK_TRIES)
                continue
            except TrackerError as exc:
                if attempt == LOCK_TRIES or "no protected range" not in str(exc).lower():
                    raise
                # Another run removed the same leftover lock first: look again.
                self._refresh_all()
                continue
            self.locks = [r["addProtectedRange"]["protectedRange"]["protectedRangeId"]
                          for r in reply.get("replies", []) if "addProtectedRange" in r]
            self.read_names = [r["addNamedRange"]["namedRange"]["namedRangeId"]
                               for r in reply.get("replies", []) if "addNamedRange" in r]
            spreadsheet = reply.get("updatedSpreadsheet", {})
            self._absorb(spreadsheet)
            self.named_reads = [n for n in spreadsheet.get("namedRanges", [])
                                if n.get("name", "").startswith(READ_NAME_PREFIX)]
            if ranges:
                read_with = self._read_in(spreadsheet, ranges)
            else:
                self.listed = True  # without ranges the reply lists every tab
            # An earlier try that got no answer may have landed meanwhile: its locks carry
            # this run's mark too, and go with the write like the others.
            self.locks = sorted(set(self.locks) | set(self._own_locks()))
            break
        else:
            _LIVE_RUNS.discard(self.run_id)
            raise TrackerError(f"could not lock the tracker for the write ({LOCK_TRIES} tries got no "
                               "answer from Google); nothing was written, run again")
        if leftovers:
            log.warning("removed %d lock(s) left by a run that did not finish", len(leftovers))
        self._give_way_or_clean()
        return read_with

    def _read_in(self, spreadsheet: dict, ranges: list) -> tuple[list, list[dict]] | None:
        try:
            return ranges, _value_ranges(spreadsheet, ranges)
        except ValueError as exc:  # not the answer expected: the read is made on its own
            log.warning("the lock's answer did not carry the read (%s); reading apart", exc)
            return None

    def _read_name(self, sheet_id: int) -> str:
        """The name of this run's named range over a department's tab, to read it by id."""
        return f"{READ_NAME_PREFIX}{self.run_id}_{sheet_id}"

    def _after_refusal(self, refusal: Exception, ids: list[int], *, last: bool) -> list[int]:
        """The tabs to lock after Google refused the lock (and applied nothing) because
        a tab was deleted or renamed since its id or title was seen."""
        gone = isinstance(refusal, SheetGone)
        what = "deleted while the job locks" if gone else "renamed while the job reads"
        if last:
            raise TrackerError(f"the tracker's tabs keep being {what} them; run again") from None
        if gone:
            # A department's tab deleted by hand: lock (and read) the others; the structure's
            # repairs make it again. Known by its id, it needs no listing of the tabs.
            self.gone.add(refusal.sheet_id)
            return [i for i in ids if i != refusal.sheet_id]
        # A tab to read renamed since its title was seen. Once, read the departments' tabs
        # by their ids instead: each through a named range made for this run in the same
        # request (deleted with the lock). If that is refused too, list the tabs.
        if self.read_by_id:
            self._refresh_all()
        self.read_by_id = not self.read_by_id
        return ids

    def _lock_request(self, body: list[dict], ranges: Sequence[str] = ()) -> dict:
        """The lock's batchUpdate; its answer shows the spreadsheet right after it, but only
        what the lock needs (tabs, protections, the new locks' ids): unmasked, Google sends
        every protection's whole detail back, about 120 KB on a tracker of 56 tabs.

        With ``ranges``, the answer also carries their cells (formatted values, as
        ``values:batchGet`` reads them) and lists only their tabs; Google resolves them
        after applying the lock, so they are read under it."""
        sheets = self._META_FIELDS[:-1]
        if ranges:
            sheets += ",data(startRow,startColumn,rowData(values(formattedValue)))"
        fields = ("replies(addProtectedRange(protectedRange(protectedRangeId)),"
                  "addNamedRange(namedRange(namedRangeId))),"
                  f"updatedSpreadsheet({sheets}),namedRanges(namedRangeId,name))")
        payload: dict = {"requests": body, "includeSpreadsheetInResponse": True}
        if ranges:
            # (The mask decides what comes back; Google ignores responseIncludeGridData when
            # a mask is given, and the flag is sent for a server that does not.)
            payload.update(responseRanges=list(ranges), responseIncludeGridData=True)
        try:
            answer = self.client.request("post", SPREADSHEET_BATCH_UPDATE_URL % self.id,
                                         params={"fields": fields}, json=payload)
        except APIError as exc:
            raise _refusal(exc) or exc from None
        return answer.json()

    def _lock_ids(self, names: Sequence[str]) -> list[int]:
        ids = []
        for name in names:
            tab = self.tab(name)
            sheet = self._sheet(tab)
            if sheet is not None:
                ids.append(sheet.sheet_id)
            elif tab.department and stable_sheet_id(name) not in self.gone:
                # Department tabs are not in the first read; their ids are fixed.
                ids.append(stable_sheet_id(name))
        return ids

    def _other_locks(self) -> Iterator[tuple[dict, str]]:
        """Every job lock known on any tab but this run's, with its state (live, dead, stale)."""
        now = datetime.now(UTC)
        finished = frozenset(self.finished_runs())
        for sheet in list(self.sheets.values()):
            for pr in sheet.protections:
                description = pr.get("description", "")
                if description.startswith(LOCK_PREFIX) and description != self.mark:
                    yield pr, _lock_state(description, now, finished)

    def _leftover_locks(self) -> list[int]:
        """Locks of runs that are gone (to remove); Busy when another run may be writing."""
        out = []
        for pr, state in self._other_locks():
            if state == "live":
                raise Busy(_busy_message(pr.get("description", "")))
            out.append(pr["protectedRangeId"])
        return out

    def _give_way_or_clean(self) -> None:
        """After locking: another live run's lock means it was first; else remove dead ones.

        The lock's reply lists the protections of every tab (the first read saw only
        the main tabs), so this is also where a dead run's lock on a department's
        tab is found: officers would otherwise be shut out of it for good.
        """
        others = list(self._other_locks())
        live = [pr for pr, state in others if state == "live"]
        if live:
            self.close()
            raise Busy(_busy_message(live[0].get("description", "")))
        dead = [pr["protectedRangeId"] for pr, _ in others]
        # A run's named ranges go with its lock; a run killed holding them left them in
        # the spreadsheet's list of named ranges, where people would see them pile up.
        # No other run is live now, so every one not of this run is a dead run's.
        mine = self._read_name("")
        names = [n["namedRangeId"] for n in self.named_reads
                 if not n.get("name", "").startswith(mine)]
        if not dead and not names:
            return
        try:
            self._batch_update([*({"deleteProtectedRange": {"protectedRangeId": i}} for i in dead),
                                *({"deleteNamedRange": {"namedRangeId": i}} for i in names)],
                               "removing locks left by runs that did not finish")
            log.warning("removed %d lock(s) and %d named range(s) left by a run that did not finish",
                        len(dead), len(names))
        except (TrackerError, UncertainWrite):
            # Another run removed them first, or no answer: the next run looks again.
            log.warning("could not remove %d lock(s) and %d named range(s) left by a run that did "
                        "not finish; the next run will", len(dead), len(names))

    def finished_runs(self) -> list[str]:
        """The runs whose last write went in, newest first, as the first request read them."""
        table = self.prefetched.get("sync_state")
        tab = self.tab("sync_state")
        for record in table.records(tab) if table is not None and table.header else ():
            if record.get("source") == FINISHED_RUNS:
                return record.get("checkpoint").split()
        return []

    def _own_locks(self) -> list[int]:
        return [pr["protectedRangeId"] for s in self.sheets.values() for pr in s.protections
                if self.mark and pr.get("description") == self.mark]

    def close(self) -> None:
        if self.locks:
            try:
                self._batch_update([*({"deleteProtectedRange": {"protectedRangeId": i}} for i in self.locks),
                                    *self.read_names_removal()], "releasing the lock")
            except Exception:  # noqa: BLE001 - the next run removes a dead run's lock
                log.warning("could not remove this run's lock; the next run will")
            self.locks = []
        _LIVE_RUNS.discard(self.run_id)

    def read_names_removal(self) -> list[dict]:
        """The requests that remove this run's named ranges (they go with the lock)."""
        out = [{"deleteNamedRange": {"namedRangeId": i}} for i in self.read_names]
        self.read_names = []
        return out

    def _find_locks_by_id(self) -> list[int]:
        meta = self._get({"fields": "sheets.protectedRanges.protectedRangeId"})
        return [pr["protectedRangeId"] for s in meta.get("sheets", []) for pr in s.get("protectedRanges", [])]

