"""The publishing journal: what this machine sent, kept beside the run lock, where people
never type.

The tracker's ``sending since …`` intent is the record a later run trusts, but a person
can put a row back as it was: a workbook copy opened during a run and saved after it
(LibreOffice's Ctrl+S) brings back the ticked, unsent row, and the next run would post
the reply a second time. So each reply is also journaled before it is sent — the row,
the attempt, the fingerprint of the text, when — and its outcome after: a reply the
platform took is kept (id, link, time) for :data:`KEEP`, one refused or not tried is
dropped (nothing was posted), one left uncertain stays an intent.

A later run that finds a row showing neither an intent nor a posted reply, with that
same text, asks the journal first: posted → recorded from the journal, no platform call;
an intent → looked up on the platform like any intent. The journal lives next to the
run lock (``tracker.xlsx.publish.json``; ``$SHEETS_SYNC_STATE_DIR`` for Google Sheets),
written whole and atomically. Unreadable, it is said once and the tracker's record
alone is used, as before.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sheets_sync.publish.base import Posted
from sheets_sync.runlock import lock_path
from sheets_sync.timeutil import parse_timestamp

log = logging.getLogger("sheets_sync.publish")
KEEP = timedelta(days=7)  # a reverted copy older than a week is not looked for


@dataclass(frozen=True)
class Entry:
    attempt: str
    fp: str  # the fingerprint of the text sent
    since: str  # ISO 8601: when it was about to be sent
    reply_id: str = ""  # posted: the platform's id, link and time
    url: str = ""
    posted_at: str = ""

    def since_time(self) -> datetime | None:
        try:
            return parse_timestamp(self.since)
        except ValueError:
            return None

    def posted(self) -> Posted | None:
        if not self.reply_id:
            return None
        try:
            return Posted(self.reply_id, self.url, parse_timestamp(self.posted_at))
        except ValueError:
            return None  # a time unreadable: looked up on the platform instead


def _key(key: tuple) -> str:
    return f"{key[0]}:{key[1]}"


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, Entry] = {}
        self.problem = ""  # why it could not be read, said in the run's warnings

    @classmethod
    def beside(cls, location: str) -> Journal:
        lock = lock_path(location, name="publish")
        return cls(lock.with_name(lock.name.removesuffix(".lock") + ".json")).load()

    def load(self) -> Journal:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            self.entries = {k: Entry(**v) for k, v in raw.items()}
        except FileNotFoundError:
            self.entries = {}
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            self.entries = {}
            self.problem = (f"{self.path}: the publishing journal is unreadable ({type(exc).__name__}); "
                            "the tracker's record alone decides what was sent (delete the file to "
                            "silence this)")
        return self

    def get(self, key: tuple) -> Entry | None:
        return self.entries.get(_key(key))

    def sending(self, items: Iterable[tuple[tuple, str]], attempt: str, now: datetime) -> None:
        """Before the posts: each (row key, text fingerprint) about to be sent."""
        for key, fp in items:
            self.entries[_key(key)] = Entry(attempt, fp, now.isoformat())
        self.save(now)

    def outcomes(self, results: Mapping[tuple, object]) -> None:
        """After the posts: kept when posted or uncertain, dropped when nothing was posted."""
        from sheets_sync.publish.base import Uncertain

        for key, outcome in results.items():
            entry = self.entries.get(_key(key))
            if entry is None:
                continue
            if isinstance(outcome, Posted):
                self.entries[_key(key)] = Entry(entry.attempt, entry.fp, entry.since, outcome.reply_id,
                                                outcome.url, outcome.posted_at.isoformat())
            elif not isinstance(outcome, Uncertain):
                del self.entries[_key(key)]
        self.save()

    def save(self, now: datetime | None = None) -> None:
        if now is not None:
            floor = now - KEEP
            self.entries = {k: e for k, e in self.entries.items()
                            if e.since_time() is None or e.since_time() >= floor}
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({k: asdict(e) for k, e in self.entries.items()}, ensure_ascii=False),
                           encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            # The tracker's intents still stand; only the guard against a reverted copy is lost.
            log.warning("%s: could not write the publishing journal (%s)", self.path, exc)


__all__ = ["KEEP", "Entry", "Journal"]
