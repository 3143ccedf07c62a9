"""What a backend reads (tables of text) and what the planner asks it to write (changes).

Both are in the users' terms: rows are found by their key (the platform and
the post or comment id), columns by their header. Positions only exist inside
a backend, for the moment between its read and its write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from sheets_sync.errors import TrackerError
from sheets_sync.schema import Tab, normalize_header


@dataclass
class Table:
    """One tab as read: its header row and its data rows, all cells as text."""

    title: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    # The sheet row number (1-based) of each entry of ``rows``.
    row_numbers: list[int] = field(default_factory=list)
    # The dates a person typed show month first (5/12/2026 is 12 May): Google shows
    # them so in a month-first locale (en_US) until the job sets the spreadsheet's.
    dates_month_first: bool = False

    def positions(self) -> dict[str, int]:
        """Normalised header → 0-based column index (the first one wins)."""
        return header_positions(self.header)

    def missing_headers(self, tab: Tab) -> list[str]:
        have = self.positions()
        return [c.header for c in tab.columns if c.index_in(have) is None]

    def records(self, tab: Tab, fields: list[str] | None = None) -> list[Record]:
        """Rows as field → text, for the schema's columns that are present."""
        pos = self.positions()
        wanted = [c for c in tab.columns if fields is None or c.field in fields]
        found = ((c.field, c.index_in(pos)) for c in wanted)
        index = [(name, i) for name, i in found if i is not None]
        out = []
        for number, row in zip(self.row_numbers, self.rows, strict=True):
            values = {name: (row[i] if i < len(row) else "") for name, i in index}
            if any(v.strip() for v in values.values()):
                out.append(Record(number, values))
        return out


# In a read's ``fields``: read the tab's first data row whole as well (for the
# department tabs, whose top row is the one the job may rewrite in place).
FIRST_ROW_WHOLE = "*first row whole*"


@dataclass
class Record:
    row: int  # sheet row number when read; for messages only
    values: dict[str, str]

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def key(self, tab: Tab) -> tuple[str, ...]:
        return tuple(self.values.get(k, "").strip() for k in tab.key)


@dataclass(frozen=True)
class TrackerRead(Mapping[str, Table]):
    """What a session's read returns: each tab read, by schema name, and the tab itself
    as it stands (a department's tab under the title a person may have given it)."""

    tables: Mapping[str, Table]
    tabs: Mapping[str, Tab]
    # What the backend put right while reading (a header a person deleted from a
    # department's tab, which it could only check once it had read the header row).
    repaired: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> Table:
        return self.tables[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.tables)

    def __len__(self) -> int:
        return len(self.tables)


# Every cell the job writes is text, so citizens' words are never run as a formula, and
# text that looks like a number ("007", "1e5") stays as typed. Only the job's own figures
# (the Sync Log's counts, the Report tab's measures) are numbers (int or float), so that
# people can sum and chart them.
CellValue = str | int | float


def as_text(value: CellValue) -> str:
    """A value as a read gives it back on either backend: a number as the sheet shows it
    (``28``, ``3.5``, a whole float without its ``.0``), text as it is."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def is_number(value: CellValue) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class AddRow:
    tab: str  # the schema's tab name
    values: Mapping[str, CellValue]  # field → value; fields left out stay empty


@dataclass(frozen=True)
class UpdateRow:
    tab: str
    key: tuple[str, ...]
    values: Mapping[str, CellValue]  # only the fields to change
    reason: str = ""
    # Field → its text as the run read it: the fields the plan's decision rests on (a
    # Status a person may change meanwhile). The backend writes the update only while
    # the row still holds them; otherwise it writes none of it and says so in its
    # session's ``conflicts``.
    guard: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Conflict:
    """A guarded :class:`UpdateRow` not written: a person changed ``field`` meanwhile."""

    change: UpdateRow
    column: str  # the field a person changed
    now: str  # what the row holds instead of ``change.guard[column]``
    # The row was not where the run read it (the owner sorted the tab): none of the update
    # was written, guarded or not (``now``: the key found there instead).
    moved: bool = False


def guard_broken(change: UpdateRow, holds: Callable[[str], str]) -> Conflict | None:
    """The first guard of ``change`` the row no longer holds (``holds``: field → text now)."""
    for name, was in change.guard.items():
        now = holds(name)
        if now.strip() != str(was).strip():
            return Conflict(change, name, now)
    return None


@dataclass(frozen=True)
class ReplaceRows:
    """Make a tab the job owns whole (a department's pending tab) hold exactly these rows.

    A backend may write only the difference from what it read: rows kept in
    place (see :func:`kept_rows`) get only the fields their mapping names
    written; rows it must insert get every field (absent ones empty).
    """

    tab: str
    rows: list[Mapping[str, CellValue]]


@dataclass(frozen=True)
class DeleteTab:
    """Remove a tab the job made (a department no longer in the roster), in the write that
    carries the last values people typed there to the Comments tab."""

    tab: str


@dataclass(frozen=True)
class CopyCells:
    """Fill cells of a row of a :class:`ReplaceRows` with the same comment's cells in
    another tab, which the run did not read: a comment's words (text, author, link)
    entering a department's tab. The backend reads them when it applies the plan."""

    tab: str  # the tab of the ReplaceRows
    row: tuple[str, ...]  # the row's key there
    source: str  # the tab to copy from
    key: tuple[str, ...]  # the row's key there
    fields: tuple[str, ...]


@dataclass(frozen=True)
class DeleteRows:
    """Remove rows found by key: the archive taking rows out of the live tracker once they
    are safely in the archive (archive_run.py). ``whole_row``: the keys are the rows' every
    cell, as text with trailing empty cells left out (a tab without a key, the Sync Log).
    ``only_if``: field → the values it must still hold when the backend writes (a Status a
    person changed back to open keeps its row where it is)."""

    tab: str
    keys: tuple[tuple[str, ...], ...]
    whole_row: bool = False
    only_if: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def allows(self, values: Mapping[str, str]) -> bool:
        return all(values.get(f, "").strip() in allowed for f, allowed in self.only_if.items())


def whole_row_key(row: Sequence[str]) -> tuple[str, ...]:
    """A row as a key, every cell as text, without its trailing empty cells (see DeleteRows)."""
    out = [str(v) for v in row]
    while out and not out[-1].strip():
        out.pop()
    return tuple(out)


Change = AddRow | UpdateRow | ReplaceRows | DeleteTab | CopyCells | DeleteRows
ReadRows = Callable[[str, Sequence[tuple], Sequence[str]], Mapping[tuple, Mapping[str, str]]]


def with_copies(changes: Sequence[Change], read_rows: ReadRows,
                tab_of: Callable[[str], Tab]) -> list[Change]:
    """The changes with each :class:`CopyCells` done: its cells, read with ``read_rows``
    (tab, keys, fields → key → field → text), put into the row of its ReplaceRows."""
    copies = [c for c in changes if isinstance(c, CopyCells)]
    if not copies:
        return list(changes)
    wanted: dict[tuple[str, tuple[str, ...]], list[CopyCells]] = {}
    for copy in copies:
        wanted.setdefault((copy.source, copy.fields), []).append(copy)
    cells: dict[tuple[str, tuple], dict[str, str]] = {}  # (tab, row key) → cells to fill
    for (source, fields), group in wanted.items():
        found = read_rows(source, [c.key for c in group], fields)
        for copy in group:
            cells.setdefault((copy.tab, copy.row), {}).update(found.get(copy.key, {}))
    out: list[Change] = []
    for change in changes:
        if isinstance(change, CopyCells):
            continue
        if isinstance(change, ReplaceRows):
            tab = tab_of(change.tab)
            change = ReplaceRows(change.tab, [{**values, **cells.get((change.tab, row_key(values, tab)), {})}
                                              for values in change.rows])
        out.append(change)
    return out


def row_key(values: Mapping[str, CellValue], tab: Tab) -> tuple | None:
    """A row's key by the tab's key fields, or None for a row without one."""
    key = tuple(str(values.get(k, "")).strip() for k in tab.key)
    return key if all(key) else None


def kept_by_key(have: list[Record], wanted: list[Mapping[str, CellValue]],
                tab: Tab) -> tuple[list[tuple | None], dict[tuple, Record]]:
    """The wanted rows' keys, and the rows the tab holds that stay (see
    :func:`kept_rows`) by key: what the planner and both backends agree on."""
    have_keys = [row_key(r.values, tab) for r in have]
    want_keys = [row_key(v, tab) for v in wanted]
    return want_keys, {have_keys[i]: have[i] for i in kept_rows(have_keys, want_keys)}


def kept_rows(have: list, wanted: list) -> set[int]:
    """Which of the rows a tab holds (their keys, in sheet order) can stay where they are.

    A row stays when its key is wanted and it keeps the wanted order; the others
    are deleted and the missing ones inserted. Both lists are usually sorted the
    same way (most urgent first), so a new comment costs one inserted row and an
    answered one a deleted row, not a rewrite of everything below it.
    """
    import bisect

    index = {key: i for i, key in enumerate(wanted) if key is not None}
    seen: set = set()
    items = []  # (position in the tab, position wanted), first copy of each key only
    for position, key in enumerate(have):
        if key is not None and key in index and key not in seen:
            seen.add(key)
            items.append((position, index[key]))
    # The longest run of rows already in the wanted order (patience sorting):
    # a row a person moved costs itself, not every row after it.
    tails: list[int] = []  # tails[n]: smallest wanted position ending a run of n + 1
    tail_item: list[int] = []
    parent: list[int] = [-1] * len(items)
    for i, (_, at) in enumerate(items):
        n = bisect.bisect_left(tails, at)
        if n == len(tails):
            tails.append(at)
            tail_item.append(i)
        else:
            tails[n], tail_item[n] = at, i
        parent[i] = tail_item[n - 1] if n else -1
    kept: set[int] = set()
    i = tail_item[-1] if tail_item else -1
    while i >= 0:
        kept.add(items[i][0])
        i = parent[i]
    if 0 in kept and have[0] != (wanted[0] if wanted else None):
        # The top row is kept only as the top row: nothing is ever inserted above it,
        # because rows inserted there fall outside every range that starts at the
        # first data row (the dropdowns, the red colour, the columns officers may edit).
        kept.discard(0)
    return kept


def header_positions(header) -> dict[str, int]:
    """Normalised header text → 0-based column index; the first of two equal headers wins."""
    out: dict[str, int] = {}
    for i, h in enumerate(header):
        key = normalize_header(h)
        if key and key not in out:
            out[key] = i
    return out


def missing_tab(tab: Tab) -> TrackerError:
    """The error for a tab someone deleted or renamed, with the way out."""
    return TrackerError(f"tab {tab.title!r} is missing (deleted or renamed?); restore it from the "
                        "spreadsheet's version history or rename it back, or run "
                        "`python cli.py init` to create an empty one")


def require_headers(table: Table, tab: Tab, fields: Sequence[str] | None = None) -> None:
    """A tab whose headers were renamed or deleted stops the run with a way out (only the
    columns of ``fields`` when given: a reader that needs no more)."""
    missing = table.missing_headers(tab)
    if fields is not None:
        wanted = {tab.header_of(f) for f in fields}
        missing = [m for m in missing if m in wanted]
    if missing:
        names = ", ".join(repr(m) for m in missing)
        raise TrackerError(
            f"tab {tab.title!r}: column{'s' if len(missing) > 1 else ''} {names} not found in row 1 "
            "(renamed or deleted?); restore the header, or run `python cli.py init` to add it back "
            "as a new column"
        )
