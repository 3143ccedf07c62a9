"""Simulated people for the nothing-lost test: officers and the cell's staffer at work.

Each person acts as their own Google identity on the local Sheets API fake
(``server.as_user``), so Google's permission and protection checks apply to
every edit exactly as in the browser. A person finds a row the way a person
does: by reading the tab at that moment and looking for the comment id, and a
column by its header. Every action returns :class:`Outcome` records that say
what was typed, where, over what, and whether Google accepted it or refused
it with its 400 ("You are trying to edit a protected cell or object").
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from openpyxl.utils import get_column_letter

from sheets_sync.testing.fake_sheets import ApiError
from tests.trackers import english_header

LOCK_PREFIX = "sheets-sync lock"
MASTER = "Comments"
STATUSES = ("Pending", "Replied", "Not required", "Escalated")
OPEN_STATUSES = ("Pending", "Escalated", "")

# Pieces of replies: Marathi, Hindi and English with emoji, as officers write them.
_REPLY_WORDS = ["आपली तक्रार नोंदवली आहे", "उद्या सकाळी घंटागाडी येईल", "जलवाहिनी दुरुस्ती सुरू आहे",
                "खड्डा बुजवण्याचे काम आज होईल", "कृपया प्रभाग क्रमांक कळवा", "पानी कल सुबह आएगा",
                "We have forwarded this to the ward office", "धन्यवाद", "Team dispatched"]
_EMOJI = ["🙏", "✅", "🚛", "💧", "🛠️", "👍🏽", "🙂", "📞", "👨‍👩‍👧"]


@dataclass
class Outcome:
    """One thing a person did (or tried to do)."""

    action: str  # "reply in master", "status in tab", "sort master", ...
    who: str
    where: str  # the tab's title
    comment_id: str = ""
    field: str = ""  # the header of the typed cell ("Reply", "Status"); "" for structure
    value: str = ""
    old: str = ""  # what the cell showed when the person typed over it
    accepted: bool = False
    refused: str = ""  # Google's message when it refused the edit (a 400 or 403)
    locked: bool = False  # a job lock stood on the spreadsheet at that moment
    during_run: bool = False  # done from inside one of the job's requests
    moment: str = ""  # which request of the run, and before or after Google handled it


@dataclass(frozen=True)
class Person:
    email: str
    department: str | None  # their department's code; None for the cell's staffer

    @property
    def is_cell(self) -> bool:
        return self.department is None


class Office:
    """The people of the corporation, acting on one spreadsheet of the fake."""

    def __init__(self, server, spreadsheet_id: str, rng: random.Random,
                 tab_titles: dict[str, str]) -> None:
        self.server = server
        self.sid = spreadsheet_id
        self.rng = rng
        self.tab_titles = tab_titles  # department code → its tab's title, as people see it now
        self.serial = 0  # numbers the replies: every text typed is unique
        self.renames = 0
        self.blank_rows_inserted = 0  # the staffer deletes only blank rows they inserted
        self.during_run = False  # set while actions run from inside the job's requests
        self.moment = ""

    # -- looking ----------------------------------------------------------------------

    def values(self, title: str) -> list[list[str]]:
        """The tab, its columns named by their English headers (see trackers.english_header)."""
        rows = [[str(v) for v in r] for r in self.server.get_values(self.sid, _q(title))]
        width = max((len(r) for r in rows), default=0)
        return [[english_header(h) for h in r] + [""] * (width - len(r)) if i == 0
                else r + [""] * (width - len(r)) for i, r in enumerate(rows)]

    def locked(self) -> bool:
        book = self.server.spreadsheet(self.sid)
        return any(p.get("description", "").startswith(LOCK_PREFIX)
                   for s in book.sheets for p in s.protected_ranges)

    def rows_by_id(self, title: str) -> tuple[list[str], dict[str, tuple[int, list[str]]]]:
        """(header, comment id → (0-based row index, row)) as the tab stands now."""
        grid = self.values(title)
        if not grid:
            return [], {}
        header = grid[0]
        if "Comment ID" not in header:
            return header, {}
        k = header.index("Comment ID")
        out = {}
        for i, row in enumerate(grid[1:], start=1):
            if row[k].strip():
                out.setdefault(row[k].strip(), (i, row))
        return header, out

    def reply_text(self, who: Person) -> str:
        self.serial += 1
        words = self.rng.sample(_REPLY_WORDS, self.rng.randint(1, 2))
        name = who.email.split("@")[0]
        emoji = "".join(self.rng.sample(_EMOJI, self.rng.randint(1, 2)))
        # A fixed-width serial: no reply's tag is a substring of another's.
        return f"R{self.serial:06d} {' / '.join(words)} {emoji} — {name}"

    # -- typing -------------------------------------------------------------------------

    def type_cell(self, who: Person, action: str, title: str, comment_id: str, header: str,
                  value: str) -> Outcome:
        """Find the comment's row by its id now, and type ``value`` in its ``header`` cell."""
        out = Outcome(action, who.email, title, comment_id, header, value,
                      locked=self.locked(), during_run=self.during_run, moment=self.moment)
        head, rows = self.rows_by_id(title)
        if comment_id not in rows or header not in head:
            out.refused = "not found"  # nothing typed: the row is not (or no more) there
            return out
        row_index, row = rows[comment_id]
        col = head.index(header)
        out.old = row[col]
        cell = f"{_q(title)}!{get_column_letter(col + 1)}{row_index + 1}"
        return self._attempt(out, lambda: self.server.as_user(who.email).edit(
            self.sid, cell, [[value]], raw=True))

    def _attempt(self, out: Outcome, do) -> Outcome:
        try:
            do()
        except ApiError as exc:
            # Google refuses a protected cell with 400 (403: not shared with this person).
            if exc.code != 403 and not (exc.code == 400 and "protected cell" in exc.message):
                raise
            out.refused = exc.message
            return out
        out.accepted = True
        return out

    # -- rearranging the master -----------------------------------------------------------

    def _structure(self, who: Person, action: str, title: str, do) -> Outcome:
        out = Outcome(action, who.email, title, locked=self.locked(), during_run=self.during_run,
                      moment=self.moment)
        return self._attempt(out, lambda: do(self.server.as_user(who.email)))

    def sort(self, who: Person, title: str = MASTER) -> Outcome:
        header = self.values(title)[0]
        columns = [i for i, h in enumerate(header) if h.strip()]
        col, ascending = self.rng.choice(columns), self.rng.random() < 0.5
        return self._structure(who, f"sort by {header[col]!r}", title,
                               lambda u: u.sort(self.sid, title, col, ascending))

    def insert_blank_rows(self, who: Person) -> Outcome:
        last = _last_data_row(self.values(MASTER))
        at = self.rng.randint(1, max(1, last))  # between the header and the last row
        count = self.rng.randint(1, 3)
        out = self._structure(who, f"insert {count} blank row(s)", MASTER,
                              lambda u: u.insert_rows(self.sid, MASTER, at, count))
        if out.accepted:
            self.blank_rows_inserted += count
        return out

    def delete_blank_row(self, who: Person) -> Outcome | None:
        """Delete one blank row among the data rows, if this staffer inserted one."""
        grid = self.values(MASTER)
        last = _last_data_row(grid)
        blanks = [i for i in range(1, last) if not any(c.strip() for c in grid[i])]
        if not blanks or self.blank_rows_inserted <= 0:
            return None
        at = self.rng.choice(blanks)
        out = self._structure(who, "delete a blank row", MASTER,
                              lambda u: u.delete_rows(self.sid, MASTER, at, 1))
        if out.accepted:
            self.blank_rows_inserted -= 1
        return out

    def hide_column(self, who: Person) -> Outcome:
        header = self.values(MASTER)[0]
        col = self.rng.choice([i for i, h in enumerate(header) if h.strip()])
        hidden = self.rng.random() < 0.6
        verb = "hide" if hidden else "unhide"
        return self._structure(who, f"{verb} column {header[col]!r}", MASTER,
                               lambda u: u.hide_columns(self.sid, MASTER, col, 1, hidden))

    def move_column(self, who: Person, title: str = MASTER) -> Outcome:
        header = self.values(title)[0]
        width = max(i for i, h in enumerate(header) if h.strip()) + 1
        col = self.rng.choice([i for i, h in enumerate(header) if h.strip()])
        dest = self.rng.choice([d for d in range(width + 1) if d not in (col, col + 1)])
        return self._structure(who, f"move column {header[col]!r} to {dest}", title,
                               lambda u: u.move_columns(self.sid, title, col, 1, dest))

    def rename_tab(self, who: Person, code: str, names: dict[str, tuple[str, str]]) -> Outcome:
        """Rename a department's tab (the job must find it again, by its id)."""
        old = self.tab_titles[code]
        self.renames += 1
        name_en, name_mr = names[code]
        new = self.rng.choice([f"{name_en} ({name_mr}) {self.renames}",
                               f"{code} pending {self.renames}", f"{name_mr} {self.renames}"])
        out = self._structure(who, f"rename tab {old!r} to {new!r}", old,
                              lambda u: u.rename_sheet(self.sid, old, new))
        if out.accepted:
            self.tab_titles[code] = new
        return out


def _last_data_row(grid: list[list[str]]) -> int:
    """0-based index of the last row with anything in it (0 when only the header)."""
    for i in range(len(grid) - 1, 0, -1):
        if any(c.strip() for c in grid[i]):
            return i
    return 0


def _q(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"
