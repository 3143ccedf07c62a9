"""The interface every tracker backend implements (local workbook, Google Sheets).

A run opens a session, repairs the tracker's structure, reads what it needs,
plans, and applies the plan in one write. Backends speak in tabs, headers and
keys; only they know positions, and only between their read and their write,
which they protect from other writers (a file lock; protected ranges on Google
Sheets). The schema is configuration; what a run finds (the departments' tabs,
the titles people gave them, positions) is the session's.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence

from sheets_sync.roster import Department
from sheets_sync.schema import Schema, Tab
from sheets_sync.table import Change, TrackerRead


class TrackerSession(ABC):
    """One run's access to the tracker. Use as a context manager."""

    schema: Schema  # configuration: never changed by a run
    #: The tabs this session works with, by name: the schema's and the departments'
    #: (:meth:`use_tabs`), each under the title it has now.
    tabs: dict[str, Tab]
    #: The most characters one cell holds (Google Sheets: 50,000; Excel: 32,767).
    cell_limit: int = 50_000
    #: The guarded updates (``UpdateRow.guard``) the last :meth:`apply` did not write,
    #: because a person changed their row meanwhile (a list of ``table.Conflict``).
    conflicts: Sequence = ()

    def tab(self, name: str) -> Tab:
        return self.tabs[name]

    def use_tabs(self, tabs: Iterable[Tab]) -> None:
        """Tabs beyond the schema's that this run works with (the departments' tabs):
        from now on :meth:`lock`, :meth:`ensure_structure`, :meth:`read` and
        :meth:`apply` know them by name. A tab found renamed keeps its new title."""
        for tab in tabs:
            self.tabs.setdefault(tab.name, tab)

    @abstractmethod
    def is_new(self) -> bool:
        """True when the tracker has none of the schema's tabs yet."""

    @abstractmethod
    def ensure_structure(self, departments: Sequence[Department] = (), *,
                         only: Sequence[str] | None = None, furnish: Sequence[str] = (),
                         cell_editors: Sequence[str] = ()) -> list[str]:
        """Create missing tabs and headers, repair the sheet's furniture; say what was done.

        Safe to run again: an intact tracker gets no changes. Missing headers
        are added as new columns at the end, so nothing people typed moves.
        ``departments`` seeds the Departments tab with codes it does not hold
        (and gives each department's tab its editors); ``only`` limits the work
        to those tabs; ``furnish`` names tabs whose furniture only is repaired
        (protections, frozen header, dropdowns…): a sync does not make them or
        add their headers, its read stops on what is missing instead, with a way
        out. ``cell_editors`` may edit every tab and the job's columns.
        """

    def lock(self, tabs: Sequence[str]) -> None:  # noqa: B027 - optional hook
        """Keep other writers (people, other runs) out of these tabs until :meth:`apply`
        or :meth:`close`; then :meth:`read` them. Raises ``Busy`` when another run writes.

        A backend whose ``open(write=True)`` already keeps them out does nothing here.
        """

    @abstractmethod
    def read(self, tabs: Sequence[str], *,
             fields: Mapping[str, Sequence[str]] | None = None) -> TrackerRead:
        """Read tabs by name. A tab that does not exist reads as empty.

        ``fields`` may name, per tab, the only columns the caller needs; a
        backend may then leave the other cells empty (to save bytes), or read
        them all. With ``table.FIRST_ROW_WHOLE`` among them, the first data row
        is read whole. The result also gives each tab as it stands now.
        """

    def read_rows(self, tab: str, keys: Sequence[tuple],
                  fields: Sequence[str]) -> dict[tuple, dict[str, str]]:
        """Some fields of the rows with these keys (for :class:`~sheets_sync.table.CopyCells`).

        The default reads the whole tab again; a backend that reads by column
        (Google Sheets) reads just those cells, still under the read's lock.
        """
        tab_ = self.tab(tab)
        table = self.read([tab])[tab]
        wanted = set(keys)
        return {r.key(tab_): {f: r.get(f) for f in fields}
                for r in table.records(tab_) if r.key(tab_) in wanted}

    def cell_count(self) -> int | None:
        """How many cells the tracker's tabs hold (their grids), for the cell budget; None
        when the backend cannot tell cheaply."""
        return None

    @abstractmethod
    def apply(self, changes: Sequence[Change]) -> None:
        """Write all changes at once; rows found by key, columns by header. A
        :class:`~sheets_sync.table.CopyCells` is read here, before the write."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release locks; changes not applied are dropped."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Backend(ABC):
    """Where the tracker lives."""

    #: Shown to people ("tracker.xlsx", "Google Sheets 1AbC…").
    location: str

    @abstractmethod
    def open(self, schema: Schema, *, write: bool) -> TrackerSession:
        """Open a session; ``write=False`` never changes anything (dry runs)."""
