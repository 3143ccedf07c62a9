"""Archived comments never come back as new, without reading the archive every run.

The tracker's Sync State remembers, per year's archive, the newest comment time
and post time it holds (its watermark: the archive only ever takes rows older
than its cut-off, so nothing newer can be in it). A sync looks in an archive only
for incoming comments (and posts) that are not in the live tracker *and* are not
newer than that year's watermark — a platform re-reading an old thread, an
export that holds old rows again, a late reply by the corporation's account —
and then reads only the archive's id columns, one read per year concerned. A
steady-state sync, whose new comments are all newer, reads nothing more.

Such a comment is left out of the run. A post found in the archive is left out
too, unless a comment of the run that is not archived needs it (a citizen's new
reply under an old thread): then it comes back into the tracker with the
department it had, and the new comment links to its parent by Reply to as any
reply does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from sheets_sync.archive_plan import YearState, year_states
from sheets_sync.archive_store import ArchiveStores
from sheets_sync.schema import Schema
from sheets_sync.sources.base import Batch
from sheets_sync.table import AddRow, header_positions
from sheets_sync.timeutil import to_sheet

log = logging.getLogger(__name__)


def _candidates(items, live: Mapping, states: Mapping[int, YearState], tab: str, when) -> dict[int, set]:
    """Year → keys of items not in the tracker and not newer than that year's watermark."""
    out: dict[int, set] = {}
    for item in items:
        if item.key in live:
            continue
        at = when(item)
        state = states.get(at.year)
        newest = state.newest(tab) if state else None
        if newest is not None and at.replace(second=0, microsecond=0) <= newest:
            out.setdefault(at.year, set()).add(item.key)
    return out


def drop_archived(batches: Mapping[str, Batch], live_comments: Mapping, live_posts: Mapping,
                  checkpoints: Mapping[str, str], schema: Schema,
                  archives) -> tuple[dict[str, Batch], list[str]]:
    """The batches without the comments the archive holds, and with the archived posts only
    where a new comment needs them (with their archived department). ``archives``: a
    callable giving the tracker's :class:`ArchiveStores`, called only when needed."""
    states = year_states(checkpoints)
    if not states:
        return dict(batches), []
    comments = [c for b in batches.values() for c in b.comments]
    posts = [p for b in batches.values() for p in b.posts]
    wanted_c = _candidates(comments, live_comments, states, "comments", lambda c: c.commented_at)
    wanted_p = _candidates(posts, live_posts, states, "posts", lambda p: p.posted_at)
    if not wanted_c and not wanted_p:
        return dict(batches), []
    stores: ArchiveStores = archives()
    archived_c = _look_up(stores, states, schema, "comments", wanted_c, [])
    archived_p = _look_up(stores, states, schema, "posts", wanted_p, ["department"])
    needed = {c.post_key for c in comments if c.key not in archived_c and c.post_key not in live_posts}
    out = {}
    for name, batch in batches.items():
        kept_posts = []
        for post in batch.posts:
            if post.key not in archived_p:
                kept_posts.append(post)
            elif post.key in needed:
                department = archived_p[post.key].get("department", "").strip()
                kept_posts.append(replace(post, department=department or post.department))
        out[name] = replace(batch, posts=kept_posts,
                            comments=[c for c in batch.comments if c.key not in archived_c])
    if archived_c:
        # Not a warning: an export that holds every old row would raise it on every run.
        log.info("%d comment(s) the sources gave again are in the archive: not added again", len(archived_c))
    return out, []


def _look_up(stores: ArchiveStores, states: Mapping[int, YearState], schema: Schema, tab: str,
             wanted: Mapping[int, set], fields: list[str]) -> dict[tuple, dict[str, str]]:
    found: dict[tuple, dict[str, str]] = {}
    for year, keys in wanted.items():
        store = stores.open(year, states[year].location)
        if store is None:
            continue
        rows = store.find(schema.tab(tab), fields)
        found.update({k: v for k, v in rows.items() if k in keys})
    return found


def restore_rows(stores: ArchiveStores, states: Mapping[int, YearState], schema: Schema, ids: Sequence[str],
                 live_posts: set, now: datetime, result) -> list[AddRow]:
    """The tracker rows that bring these comment ids back (and their posts, when archived)."""
    comments_tab, posts_tab = schema.tab("comments"), schema.tab("posts")
    wanted = set(ids)
    out: list[AddRow] = []
    posts_needed: set[tuple] = set()
    for year in sorted(states, reverse=True):
        store = stores.open(year, states[year].location)
        if store is None:
            continue
        header, rows = store.rows(comments_tab)
        for values in _records(comments_tab, header, rows):
            key = (values.get("platform", "").strip(), values.get("comment_id", "").strip())
            if key[1] in wanted and not any(r.split(" ")[1] == key[1] for r in result.restored):
                note = f"restored from {store.location} on {to_sheet(now)}"
                values["sync_notes"] = "; ".join(v for v in (values.get("sync_notes", ""), note) if v)
                out.append(AddRow("comments", values))
                result.restored.append(f"{key[0]} {key[1]} (from {store.location})")
                posts_needed.add((key[0], values.get("post_id", "").strip()))
    posts_needed -= live_posts
    for year in sorted(states, reverse=True):
        if not posts_needed:
            break
        store = stores.open(year, states[year].location)
        if store is None:
            continue
        header, rows = store.rows(posts_tab)
        for values in _records(posts_tab, header, rows):
            key = (values.get("platform", "").strip(), values.get("post_id", "").strip())
            if key in posts_needed:
                posts_needed.discard(key)
                out.insert(0, AddRow("posts", values))
    return out


def _records(tab, header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[dict[str, str]]:
    """Rows as the schema's field → text (columns people added stay in the archive's copy)."""
    positions = header_positions(header)
    at = [(c.field, c.index_in(positions)) for c in tab.columns]
    return [{f: str(row[i]) for f, i in at if i is not None and i < len(row) and str(row[i]) != ""}
            for row in rows]
