"""Reports over a period read the archive for the part of the period it holds, so a
year's report is the same before and after archiving.

Only the years the period touches are read, and only archives the tracker's Sync
State records; a comment in the tracker and in the archive (restored, or reopened
during a move) counts once, as the tracker has it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sheets_sync.archive_plan import year_states
from sheets_sync.backends.base import Backend, TrackerSession
from sheets_sync.schema import Schema
from sheets_sync.table import Record, Table

log = logging.getLogger(__name__)


def archived_comments(session: TrackerSession, backend: Backend, schema: Schema, since: datetime,
                      until: datetime, live: list[Record]) -> list[Record]:
    """The archived comments of the years from ``since`` to ``until``, not in ``live``."""
    from sheets_sync.archive_run import archive_stores, checkpoints_of

    state = session.read(["sync_state"])["sync_state"]
    states = year_states(checkpoints_of(state, schema)) if state.header else {}
    years = [y for y in sorted(states) if since.year <= y <= until.year]
    if not years:
        return []
    tab = schema.tab("comments")
    have = {r.key(tab) for r in live}
    stores = archive_stores(backend)
    out: list[Record] = []
    for year in years:
        store = stores.open(year, states[year].location)
        if store is None:
            log.warning("the archive of %d (%s) was not found; the report leaves it out", year,
                        states[year].location)
            continue
        header, rows = store.rows(tab)
        table = Table(tab.title, header, rows, list(range(2, len(rows) + 2)))
        for record in table.records(tab):
            key = record.key(tab)
            if all(key) and key not in have:
                have.add(key)
                out.append(record)
    return out
