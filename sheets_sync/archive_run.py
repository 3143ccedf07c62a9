"""Moving rows to the archive without ever losing one: ``archive`` and ``archive restore``.

The move, in order (:func:`run_archive`), under the tracker's run lock:

1. read the Posts, Comments and Sync Log tabs whole, and plan what moves
   (:func:`sheets_sync.archive_plan.plan_archive`, pure);
2. write those rows to each year's archive, by key (a rerun adds nothing twice),
   then read the archive's keys back: every row must be there;
3. open the tracker again for writing (a workbook loaded afresh; on Google the
   tabs locked) and delete the rows by key — a comment only if its Status is
   still a closed one *as the tracker stands now*, a post only if no comment of
   it stays — in one write with the Sync State's record of each year's archive
   (where it is, its watermark) and the Sync Log's row.

A run killed anywhere leaves each row in the tracker, or in both (the next run
writes it over in the archive and deletes it), or in the archive only once the
last write landed: never in neither.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sheets_sync.archive_plan import (
    STATE_PREFIX,
    TABS,
    ArchivePlan,
    Move,
    YearState,
    advanced,
    archive_settings,
    closed_statuses,
    plan_archive,
    year_states,
)
from sheets_sync.archive_store import ArchiveStore, ArchiveStores, placed, row_key
from sheets_sync.backends.base import Backend
from sheets_sync.errors import TrackerError
from sheets_sync.schema import Schema
from sheets_sync.table import (
    AddRow,
    Change,
    DeleteRows,
    Table,
    UpdateRow,
    as_text,
    header_positions,
    missing_tab,
)
from sheets_sync.timeutil import now_ist, to_sheet

READ = (*TABS, "sync_state")


def archive_stores(backend: Backend) -> ArchiveStores:
    """The archives of a tracker: workbooks beside a workbook, spreadsheets beside a spreadsheet."""
    from sheets_sync.backends.xlsx import XlsxBackend

    if isinstance(backend, XlsxBackend):
        from sheets_sync.backends.xlsx_archive import XlsxArchives

        return XlsxArchives(backend.path)
    from sheets_sync.backends.gsheets.archive import GoogleArchives

    return GoogleArchives(backend)


@dataclass
class ArchiveResult:
    tracker: str
    dry_run: bool
    plan: ArchivePlan
    where: dict[int, str] = field(default_factory=dict)  # year → the archive's name or address
    moved: dict[tuple[str, int], int] = field(default_factory=dict)  # (tab, year) → rows moved
    stayed: list[str] = field(default_factory=list)  # comments reopened meanwhile: not moved
    seconds: float = 0.0

    @property
    def counts(self) -> dict[tuple[str, int], int]:
        """(tab, year) → rows that moved, or would move in a dry run."""
        return self.plan.counts() if self.dry_run else self.moved

    def summary(self) -> dict:
        return {"tracker": self.tracker, "dry_run": self.dry_run,
                "moved": [{"tab": t, "year": y, "rows": n, "to": self.where.get(y, "")}
                          for (t, y), n in sorted(self.counts.items(),
                                                  key=lambda i: (i[0][1], TABS.index(i[0][0])))],
                "stayed": list(self.stayed), "warnings": list(self.plan.warnings),
                "seconds": round(self.seconds, 2)}


def _read(backend: Backend, schema: Schema, keep: list | None = None) -> dict[str, Table]:
    """The tabs the archive moves, read whole; with ``keep``, the session is kept there too
    (a workbook's archive copies the cells' formats from the workbook as read)."""
    with backend.open(schema, write=False) as session:
        read = session.read(list(READ))
        if keep is not None:
            keep.append(session)
    for name in READ:
        if not read[name].header and not session.is_new():
            raise missing_tab(schema.tab(name))
    return dict(read.tables)


def checkpoints_of(table: Table, schema: Schema) -> dict[str, str]:
    tab = schema.tab("sync_state")
    return {r.get("source").strip(): r.get("checkpoint") for r in table.records(tab)
            if r.get("source").strip()}


def run_archive(backend: Backend, schema: Schema, *, now: datetime | None = None, dry_run: bool = False,
                stores: Callable[[Backend], ArchiveStores] = archive_stores,
                run_by: str = "") -> ArchiveResult:
    started = time.monotonic()
    now = now or now_ist()
    settings = archive_settings(schema)  # a bad setting stops before anything is read
    reading: list = []
    tables = _read(backend, schema, reading)
    plan = plan_archive(tables, schema, settings, now)
    states = year_states(checkpoints_of(tables["sync_state"], schema))
    archives = stores(backend)
    if hasattr(archives, "formats_from"):
        archives.formats_from(reading[0])
    result = ArchiveResult(backend.location, dry_run, plan)
    result.where = {y: archives.name(y) for y in plan.years}
    if dry_run or not plan.moves:
        result.seconds = time.monotonic() - started
        return result
    done: dict[int, YearState] = {}
    for year in plan.years:
        state = states.get(year, YearState(year))
        store = archives.open(year, state.location, create=True)
        moves = [m for m in plan.moves if m.year == year]
        for move in moves:
            _put_and_verify(store, schema, plan, move)
        result.where[year] = store.location
        done[year] = advanced(state, moves, store.ref)
    staying = _delete_moved(backend, schema, plan, done, result, now, run_by)
    _put_back_lost(backend, schema, tables, staying, result, now)
    result.seconds = time.monotonic() - started
    return result


def _put_and_verify(store: ArchiveStore, schema: Schema, plan: ArchivePlan, move: Move) -> None:
    tab = schema.tab(move.tab)
    live_header = plan.headers[move.tab]
    store.put(tab, live_header, move.rows)
    header, rows = store.rows(tab)
    have = Counter(row_key(tab, header, r) for r in rows)
    for row in move.rows:
        key = row_key(tab, header, [as_text(c) for c in placed(tab, live_header, row, header)])
        if not have[key]:
            raise TrackerError(f"{store.location}: tab {tab.title!r} does not show row "
                               f"{' '.join(key)[:80]!r} after writing it; the tracker was not changed, "
                               "run again")


def _delete_moved(backend: Backend, schema: Schema, plan: ArchivePlan, done: dict[int, YearState],
                  result: ArchiveResult, now: datetime, run_by: str) -> dict[str, set]:
    """Step 3: the rows out of the tracker by key, as it stands now, with the bookkeeping.
    Returns the keys of the rows that stay, per tab."""
    comments_tab = schema.tab("comments")
    closed = closed_statuses(schema)
    fields = {"comments": [*comments_tab.key, "status", "post_id"], "posts": list(schema.tab("posts").key)}
    with backend.open(schema, write=True) as session:
        session.lock(["posts", "comments"])
        read = session.read(list(READ), fields=fields)
        live = {r.key(comments_tab): r for r in read["comments"].records(comments_tab, fields["comments"])}
        comment_keys, stayed = [], []
        for key in plan.keys_of("comments"):
            rec = live.get(key)
            if rec is None:
                continue  # gone already (an earlier run's last write landed)
            if rec.get("status").strip() in closed:
                comment_keys.append(key)
            else:
                stayed.append(f"{' '.join(key)} (Status {rec.get('status').strip() or 'empty'})")
        gone = set(comment_keys)
        keep_posts = {(k[0], r.get("post_id").strip()) for k, r in live.items() if k not in gone}
        post_keys = [k for k in plan.keys_of("posts") if k not in keep_posts]
        log_keys = list(plan.keys_of("sync_log"))
        changes: list[Change] = [
            DeleteRows("comments", tuple(comment_keys), only_if={"status": closed}),
            DeleteRows("posts", tuple(post_keys)),
            DeleteRows("sync_log", tuple(log_keys), whole_row=True),
        ]
        checkpoints = checkpoints_of(read["sync_state"], schema)
        for year, state in done.items():
            values = {"source": f"{STATE_PREFIX}{year}", "checkpoint": state.encode(),
                      "updated_at": to_sheet(now)}
            name = values["source"]
            changes.append(UpdateRow("sync_state", (name,), values, "archive") if name in checkpoints
                           else AddRow("sync_state", values))
        result.stayed = stayed
        result.moved = _moved_counts(plan, set(comment_keys), set(post_keys))
        changes.append(_log_row(result, now, run_by, time.monotonic()))
        session.apply(changes)
    posts_live = {r.key(schema.tab("posts")) for r in read["posts"].records(schema.tab("posts"))}
    return {"comments": set(live) - gone, "posts": posts_live - set(post_keys)}


def _put_back_lost(backend: Backend, schema: Schema, tables: dict[str, Table], staying: dict[str, set],
                   result: ArchiveResult, now: datetime) -> None:
    """The rows that should have stayed and are gone, put back.

    Google's lock holds every editor but not the spreadsheet's owner: an owner who
    sorts the Comments tab in the instant between the job's read and its delete
    would have other rows deleted than the ones read there. So the key columns are
    read once more; a row that vanished comes back from the run's first read (every
    cell of the schema's columns as they were then), with a Sync note saying so.
    """
    from sheets_sync.backends.xlsx import XlsxBackend

    if isinstance(backend, XlsxBackend):
        return  # a workbook's delete finds its rows in the workbook it writes: none can move under it
    with backend.open(schema, write=False) as session:
        now_read = session.read(["comments", "posts"], fields={n: list(schema.tab(n).key)
                                                              for n in ("comments", "posts")})
    note = f"put back by archive on {to_sheet(now)}: the tab was sorted while rows were moved; check this row"
    back = 0
    for name in ("posts", "comments"):
        tab = schema.tab(name)
        present = {r.key(tab) for r in now_read[name].records(tab)}
        lost = staying[name] - present
        if not lost:
            continue
        table = tables[name]
        rows = [list(r) for r in table.rows if row_key(tab, table.header, r) in lost]
        lost -= {row_key(tab, table.header, r) for r in rows}
        notes_at = tab.index_of("sync_notes", header_positions(table.header)) if name == "comments" else None
        for row in rows:
            if notes_at is not None:
                row += [""] * (notes_at + 1 - len(row))
                row[notes_at] = "; ".join(v for v in (row[notes_at], note) if v)
        if rows:
            # Every cell of the rows as this run first read them, by header, at the end.
            tracker_rows(backend).put(tab, table.header, rows)
            back += len(rows)
        result.plan.warnings.extend(f"{tab.title} {' '.join(k)} vanished while the archive deleted rows and "
                                    "was not in its read; the next sync adds it again" for k in sorted(lost))
    if back:
        result.plan.warnings.append(f"{back} row(s) vanished while the archive deleted rows (the tab was "
                                    "sorted); put back from this run's read")


def tracker_rows(backend: Backend) -> ArchiveStore:
    """A Google tracker itself as a store of rows by header (to put rows back whole)."""
    from sheets_sync.backends.gsheets.archive import GoogleArchive, GoogleArchives

    return GoogleArchive(GoogleArchives(backend), 0, backend.spreadsheet_id)


def _moved_counts(plan: ArchivePlan, comments: set, posts: set) -> dict[tuple[str, int], int]:
    out: Counter = Counter()
    for move in plan.moves:
        wanted = comments if move.tab == "comments" else posts if move.tab == "posts" else None
        out[(move.tab, move.year)] += sum(1 for k in move.keys if wanted is None or k in wanted)
    return {k: n for k, n in out.items() if n}


def moved_text(counts: dict[tuple[str, int], int]) -> str:
    """"2026: 120 comments, 4 posts, 300 Sync Log rows" (one part per year)."""
    years: dict[int, list[str]] = {}
    names = {"comments": "comment(s)", "posts": "post(s)", "sync_log": "Sync Log row(s)"}
    for tab in TABS:
        for (t, year), n in sorted(counts.items()):
            if t == tab:
                years.setdefault(year, []).append(f"{n} {names[tab]}")
    return "; ".join(f"{y}: {', '.join(parts)}" for y, parts in sorted(years.items()))


def _log_row(result: ArchiveResult, now: datetime, run_by: str, clock: float) -> AddRow:
    text = moved_text(result.moved)
    notes = [f"moved to the archive: {text}" if text else "nothing to move"]
    if result.stayed:
        notes.append(f"{len(result.stayed)} comment(s) reopened meanwhile stay: "
                     + ", ".join(result.stayed[:20]))
    return AddRow("sync_log", {"run_at": to_sheet(now), "command": "archive",
                               "source": ", ".join(str(y) for y in sorted(result.where)),
                               "posts_added": 0, "comments_added": 0, "rows_updated": 0, "held": 0,
                               "errors": "; ".join(notes), "seconds": 0.0, "run_by": run_by})


# -- archive restore -------------------------------------------------------------------

@dataclass
class RestoreResult:
    tracker: str
    restored: list[str] = field(default_factory=list)  # "facebook C12 (from …)"
    already: list[str] = field(default_factory=list)  # in the tracker already
    missing: list[str] = field(default_factory=list)  # in no archive


def run_restore(backend: Backend, schema: Schema, ids: Sequence[str], *, now: datetime | None = None,
                stores: Callable[[Backend], ArchiveStores] = archive_stores,
                run_by: str = "") -> RestoreResult:
    """Bring archived comments (by comment id) back into the tracker, with their posts when
    those are archived too. The archive keeps its copy (nothing is ever lost); archiving the
    comment again writes the tracker's row over it."""
    from sheets_sync.archive_known import restore_rows

    now = now or now_ist()
    tables = _read(backend, schema)
    states = year_states(checkpoints_of(tables["sync_state"], schema))
    wanted = [i.strip() for i in ids if i.strip()]
    result = RestoreResult(backend.location)
    comments_tab, posts_tab = schema.tab("comments"), schema.tab("posts")
    live_comments = {r.key(comments_tab) for r in tables["comments"].records(comments_tab)}
    live_posts = {r.key(posts_tab) for r in tables["posts"].records(posts_tab)}
    result.already = [f"{k[0]} {k[1]}" for k in sorted(live_comments) if k[1] in wanted]
    todo = [i for i in wanted if not any(k[1] == i for k in live_comments)]
    archives = stores(backend) if todo and states else None
    changes = restore_rows(archives, states, schema, todo, live_posts, now, result) if archives else []
    result.missing = [i for i in todo if not any(r.split(" ")[1] == i for r in result.restored)]
    if changes:
        with backend.open(schema, write=True) as session:
            session.lock(["posts", "comments"])
            read = session.read(["posts", "comments"], fields={"comments": list(comments_tab.key),
                                                               "posts": list(posts_tab.key)})
            # Added meanwhile by someone else: not added twice.
            present = {(name, r.key(tab)) for name, tab in (("comments", comments_tab), ("posts", posts_tab))
                       for r in read[name].records(tab)}
            changes = [c for c in changes if (c.tab, _key(c, schema)) not in present]
            changes.append(AddRow("sync_log", {"run_at": to_sheet(now), "command": "archive restore",
                                               "source": "",
                                               "posts_added": 0, "comments_added": 0, "rows_updated": 0,
                                               "held": 0, "errors": "restored: " + ", ".join(result.restored),
                                               "seconds": 0.0, "run_by": run_by}))
            session.apply(changes)
    return result


def _key(change: AddRow, schema: Schema) -> tuple:
    return tuple(str(change.values.get(k, "")).strip() for k in schema.tab(change.tab).key)
