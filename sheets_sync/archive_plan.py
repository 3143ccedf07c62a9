"""What the archive moves out of the live tracker, and to which year: pure, no I/O.

The live tracker holds what is still open or recent; the rest moves to an
archive per year (``archive_run.py`` carries it out, ``archive_store.py`` is where
it goes). A row moves when:

- a comment: its Status is a closed one (``open: false`` in the schema: Replied,
  Not required, Hide…), it was written more than ``archive.after_days`` ago, and
  publishing has no work left on it (a ticked reply posted, a Hide done);
- a post: every comment of it moves (or has moved before) and it was published
  more than ``after_days`` ago — a post with a comment still open stays, so the
  open comment keeps its post;
- a Sync Log row: it is more than ``archive.log_days`` old.

Each row goes to the archive of its own year (the comment's time, the post's, the
run's), with every cell of the row as read, people's columns and columns people
added themselves included.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sheets_sync.errors import ConfigError
from sheets_sync.schema import Schema, Tab
from sheets_sync.table import Table, whole_row_key
from sheets_sync.timeutil import from_sheet, to_sheet

SETTINGS = ("after_days", "log_days")
# The tabs the archive holds, in the order they are written and deleted: a comment
# before its post, so a post never leaves while a comment of it is still live.
TABS = ("comments", "posts", "sync_log")
# Each tab's time column: the row's year, and how old it is.
TIME_FIELD = {"comments": "commented_at", "posts": "posted_at", "sync_log": "run_at"}
# Sync State rows of the archive: "archive 2026" → where it is and its watermark.
STATE_PREFIX = "archive "


@dataclass(frozen=True)
class ArchiveSettings:
    after_days: int = 30
    log_days: int = 90


def archive_settings(schema: Schema) -> ArchiveSettings:
    """The ``archive:`` section, checked; a problem names its ``file:line``."""
    from sheets_sync.publishing import _where

    raw = schema.extra.get("archive") or {}

    def fail(keys: tuple, text: str) -> ConfigError:
        return ConfigError(f"{_where(schema, ('archive', *keys))}: archive: {text} "
                           "(see the README, Archive)")

    if not isinstance(raw, Mapping):
        raise fail((), "must be a mapping, e.g. {after_days: 30, log_days: 90}")
    unknown = sorted(set(raw) - set(SETTINGS))
    if unknown:
        raise fail((unknown[0],), f"unknown setting {unknown[0]!r}; use {', '.join(SETTINGS)}")

    def days(name: str, default: int) -> int:
        value = raw.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise fail((name,), f"{name} must be a whole number of days, at least 1, not {value!r}")
        return value

    return ArchiveSettings(days("after_days", 30), days("log_days", 90))


def closed_statuses(schema: Schema) -> frozenset[str]:
    """The Status texts that let a comment leave: the schema's closed ones."""
    return frozenset(s.name for s in schema.statuses if not s.open)


@dataclass(frozen=True)
class Move:
    """Rows of one tab going to one year's archive: their keys and every cell as read."""

    tab: str
    year: int
    keys: tuple[tuple[str, ...], ...]
    rows: tuple[tuple[str, ...], ...]
    # The newest time among them (the tracker's text), for the year's watermark.
    newest: str = ""


@dataclass(frozen=True)
class ArchivePlan:
    headers: Mapping[str, list[str]]  # tab → the live tab's header row, every column
    moves: tuple[Move, ...] = ()
    cutoff: datetime | None = None  # comments and posts older than this may move
    log_cutoff: datetime | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def years(self) -> list[int]:
        return sorted({m.year for m in self.moves})

    def counts(self) -> dict[tuple[str, int], int]:
        """(tab, year) → rows that move."""
        out: Counter = Counter()
        for move in self.moves:
            out[(move.tab, move.year)] += len(move.keys)
        return dict(out)

    def keys_of(self, tab: str) -> set[tuple[str, ...]]:
        return {k for m in self.moves if m.tab == tab for k in m.keys}


def plan_archive(tables: Mapping[str, Table], schema: Schema, settings: ArchiveSettings,
                 now: datetime) -> ArchivePlan:
    """What moves, from the Posts, Comments and Sync Log tabs read whole."""
    cutoff = now - timedelta(days=settings.after_days)
    log_cutoff = now - timedelta(days=settings.log_days)
    closed = closed_statuses(schema)
    comments_tab, posts_tab = schema.tab("comments"), schema.tab("posts")
    comments = _rows(tables["comments"], comments_tab)
    moving: dict[tuple, tuple[int, tuple, tuple]] = {}  # key → (year, row, time text)
    staying_posts: set[tuple] = set()
    for key, values, row in comments:
        when = from_sheet(values.get("commented_at", ""))
        if (values.get("status", "").strip() in closed and when is not None and when < cutoff
                and not publishing_pending(values)):
            moving[key] = (when.year, row, values.get("commented_at", "").strip())
        else:
            staying_posts.add((key[0], values.get("post_id", "").strip()))
    posts: dict[tuple, tuple[int, tuple, tuple]] = {}
    for key, values, row in _rows(tables["posts"], posts_tab):
        when = from_sheet(values.get("posted_at", ""))
        if key not in staying_posts and when is not None and when < cutoff:
            posts[key] = (when.year, row, values.get("posted_at", "").strip())
    logs: dict[tuple, tuple[int, tuple, str]] = {}
    log_table = tables["sync_log"]
    log_at = schema.tab("sync_log").index_of("run_at", log_table.positions()) if log_table.header else None
    for row in log_table.rows if log_at is not None else ():
        text = row[log_at] if log_at < len(row) else ""
        when = from_sheet(text)
        if when is not None and when < log_cutoff:
            key = whole_row_key(row)
            logs.setdefault(key, (when.year, key, text.strip()))
    moves = [*_group("comments", moving), *_group("posts", posts), *_group("sync_log", logs)]
    headers = {name: list(tables[name].header) for name in TABS}
    return ArchivePlan(headers, tuple(moves), cutoff, log_cutoff)


def publishing_pending(values: Mapping[str, str]) -> bool:
    """Publishing still has work on the comment (a reply ticked and not yet posted, a Hide not
    yet done on the platform, a reply being sent or refused): it stays until that is settled."""
    from sheets_sync.publishing import HIDE_STATUS, is_posted, is_ticked

    publish = values.get("publish", "").strip()
    if values.get("status", "").strip().casefold() == HIDE_STATUS.casefold():
        return not publish.startswith("hidden")
    if is_ticked(values.get("approve", "")) and not is_posted(values):
        return True
    return bool(publish) and not publish.startswith(("posted", "hidden"))


def _rows(table: Table, tab: Tab) -> list[tuple[tuple, dict[str, str], tuple]]:
    """(key, the schema's fields, every cell) of each row with a key; the first of a key wins."""
    if not table.header:
        return []
    by_number = dict(zip(table.row_numbers, table.rows, strict=True))
    out = []
    seen: set[tuple] = set()
    for record in table.records(tab):
        key = record.key(tab)
        if all(key) and key not in seen:
            seen.add(key)
            out.append((key, record.values, tuple(str(v) for v in by_number[record.row])))
    return out


def _group(tab: str, rows: Mapping[tuple, tuple[int, tuple, str]]) -> list[Move]:
    by_year: dict[int, list[tuple[tuple, tuple, str]]] = {}
    for key, (year, row, when) in rows.items():
        by_year.setdefault(year, []).append((key, row, when))
    out = []
    for year in sorted(by_year):
        items = by_year[year]
        newest = max((from_sheet(w), w) for _, _, w in items)[1]
        out.append(Move(tab, year, tuple(k for k, _, _ in items), tuple(r for _, r, _ in items), newest))
    return out


# -- the archive's bookkeeping in the Sync State tab -------------------------------------

@dataclass(frozen=True)
class YearState:
    """What the tracker remembers of one year's archive: where it is, and the newest
    comment and post time it holds (nothing newer can be in it: see archive_known.py)."""

    year: int
    location: str = ""  # the workbook's path, or the spreadsheet's id
    comments: str = ""  # the newest Commented at (IST) archived, as the tracker shows it
    posts: str = ""

    def encode(self) -> str:
        return json.dumps({"at": self.location, "comments": self.comments, "posts": self.posts},
                          ensure_ascii=False, separators=(",", ":"))

    def newest(self, tab: str) -> datetime | None:
        return from_sheet(self.comments if tab == "comments" else self.posts)


def year_states(checkpoints: Mapping[str, str]) -> dict[int, YearState]:
    """The archive's years as the Sync State tab records them (an unreadable entry is skipped)."""
    out = {}
    for name, text in checkpoints.items():
        if not name.startswith(STATE_PREFIX) or not name[len(STATE_PREFIX):].strip().isdigit():
            continue
        year = int(name[len(STATE_PREFIX):])
        try:
            data = json.loads(text)
        except ValueError:
            continue
        if isinstance(data, dict):
            out[year] = YearState(year, str(data.get("at") or ""), str(data.get("comments") or ""),
                                  str(data.get("posts") or ""))
    return out


def later(a: str, b: str) -> str:
    """The later of two tracker times (text); an empty one loses."""
    ta, tb = from_sheet(a), from_sheet(b)
    if ta is None:
        return b
    if tb is None:
        return a
    return a if ta >= tb else b


def advanced(state: YearState, moves: Sequence[Move], location: str) -> YearState:
    """The year's state once ``moves`` (of that year) are in its archive."""
    comments, posts = state.comments, state.posts
    for move in moves:
        if move.tab == "comments":
            comments = later(comments, move.newest)
        elif move.tab == "posts":
            posts = later(posts, move.newest)
    return YearState(state.year, location or state.location, comments, posts)


def stamp(now: datetime) -> str:
    return to_sheet(now)
