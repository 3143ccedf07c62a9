"""Where archived rows live: one archive per year, beside the tracker, with the tracker's
tabs (Posts, Comments, Sync Log) and headers.

Two adapters implement :class:`ArchiveStore`: a workbook per year beside a local
tracker (``backends/xlsx_archive.py``) and a spreadsheet per year beside a Google
one (``backends/gsheets/archive.py``). Writing is by key and idempotent: a row
whose key the archive holds already is written over in place (the live row is
the newer truth, e.g. a comment restored, answered again and archived again),
any other row is added at the end. So a run killed half-way and run again adds
nothing twice.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Mapping, Sequence

from sheets_sync.schema import Tab
from sheets_sync.table import CellValue, header_positions, whole_row_key

# The Sync Log's figures are numbers in the tracker (people sum them); they stay
# numbers in the archive. Everything else is text, as it was read.
NUMBER_FIELDS = {"sync_log": ("posts_added", "comments_added", "rows_updated", "held", "seconds")}


class ArchiveStore(ABC):
    """One year's archive."""

    year: int
    #: Shown to people: the workbook's path, or the spreadsheet's title and address.
    location: str
    #: What the tracker's Sync State remembers to find it again (path or spreadsheet id).
    ref: str

    @abstractmethod
    def put(self, tab: Tab, header: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
        """Write rows (every cell, in the order of ``header``, the live tab's header) by
        key: over the row with the same key, or at the end. Columns the archive's tab
        lacks are added at its end. Returns how many rows were added."""

    @abstractmethod
    def rows(self, tab: Tab) -> tuple[list[str], list[list[str]]]:
        """The tab's header and rows, as text (an empty tab: ``([], [])``)."""

    def keys(self, tab: Tab) -> Counter:
        """The keys the tab holds (whole rows for a tab without a key), with how often."""
        header, rows = self.rows(tab)
        return Counter(row_key(tab, header, r) for r in rows if any(str(v).strip() for v in r))

    def find(self, tab: Tab, fields: Sequence[str]) -> dict[tuple, dict[str, str]]:
        """Key → these fields' values, for every row of the tab (the sync's known-ids
        check reads the id columns; a backend may read only those)."""
        header, rows = self.rows(tab)
        positions = header_positions(header)
        at = {f: tab.index_of(f, positions) for f in fields}
        out: dict[tuple, dict[str, str]] = {}
        for row in rows:
            key = row_key(tab, header, row)
            if key and all(key):
                out.setdefault(key, {f: (str(row[i]) if i is not None and i < len(row) else "")
                                     for f, i in at.items()})
        return out


class ArchiveStores(ABC):
    """The archives of one tracker, by year."""

    @abstractmethod
    def name(self, year: int) -> str:
        """What the year's archive is called ("Tracker archive 2026")."""

    @abstractmethod
    def open(self, year: int, ref: str = "", *, create: bool = False) -> ArchiveStore | None:
        """The year's archive (``ref``: where the Sync State says it is); with ``create``,
        made when missing (shared like the tracker). None when it does not exist."""


def row_key(tab: Tab, header: Sequence[str], row: Sequence) -> tuple[str, ...]:
    """A row's key in a tab read with ``header``: its key fields, or its whole row."""
    if not tab.key:
        return whole_row_key([str(v) for v in row])
    positions = header_positions(header)
    out = []
    for name in tab.key:
        i = tab.index_of(name, positions)
        out.append(str(row[i]).strip() if i is not None and i < len(row) else "")
    return tuple(out)


def merged_header(have: Sequence[str], wanted: Sequence[str]) -> tuple[list[str], list[str]]:
    """The archive tab's header with the live header's columns it lacks added at the end:
    (the new header, the added headers)."""
    known = header_positions(have)
    out = list(have)
    while out and not str(out[-1]).strip():
        out.pop()
    added = []
    for h in wanted:
        if str(h).strip() and header_positions([h]) and next(iter(header_positions([h]))) not in known:
            out.append(h)
            added.append(h)
            known = header_positions(out)
    return out, added


def placed(tab: Tab, live_header: Sequence[str], row: Sequence[str],
           archive_header: Sequence[str]) -> list[CellValue]:
    """A live row's cells in the archive's column order (by header), numbers as numbers."""
    at = header_positions(archive_header)
    numbers = {i for f in NUMBER_FIELDS.get(tab.name, ()) if (i := _field_at(tab, f, at)) is not None}
    out: list[CellValue] = [""] * len(archive_header)
    for i, h in enumerate(live_header):
        positions = header_positions([h])
        if not positions or i >= len(row):
            continue
        j = at.get(next(iter(positions)))
        if j is not None:
            out[j] = as_number(row[i]) if j in numbers else row[i]
    return out


def _field_at(tab: Tab, field: str, positions: Mapping[str, int]) -> int | None:
    try:
        return tab.index_of(field, positions)
    except KeyError:
        return None


def as_number(text: str) -> CellValue:
    """A figure of the job's as the number it was (``28``, ``3.5``), other text as it is."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return text
    return int(value) if value.is_integer() and "." not in text else value
