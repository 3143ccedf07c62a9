"""The job's columns of the Comments tab — Reply due, Overdue, Replied at, a Status the
corporation's own reply closes — and notes on the times people broke. Planning only, no I/O.

:class:`CommentRows` is the Comments tab as the run will leave it; the steps of
:func:`sheets_sync.planner.plan_run` change it, and it turns into this run's
rows to add (with every value they end with) and cells to update.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sheets_sync.deadlines import CommentDeadline, evaluate
from sheets_sync.roster import Roster
from sheets_sync.schema import Schema, Tab
from sheets_sync.table import AddRow, Record, UpdateRow
from sheets_sync.timeutil import from_sheet, to_sheet

# The job's time columns of the Comments tab (commented at, reply due, replied at) are
# checked: people can type in them, and a moved column puts any text there. Added at
# is neither read nor used.
TIME_EXAMPLE = "2026-11-20 10:15"


class CommentRows:
    """Each comment's row as the run leaves it: as read (with the run's earlier updates),
    or new in this run, plus what the later steps change in it.

    The rows given are never changed: a row is copied on its first change only (a
    100,000-row tracker is not copied whole).
    """

    def __init__(self, tab: Tab, existing: Mapping[tuple, Mapping[str, str]], new: Iterable[AddRow],
                 rows_at: Mapping[tuple, int]) -> None:
        self.tab = tab
        self.tab_fields = frozenset(c.field for c in tab.columns)
        self.rows: dict[tuple, Mapping[str, str]] = dict(existing)
        self.new: set[tuple] = set()
        self.changed: dict[tuple, dict[str, str]] = {}  # key → field → value, in order of change
        self.warnings: list[str] = []
        self._rows_at = rows_at
        for row in new:
            key = (row.values["platform"], row.values["comment_id"])
            self.new.add(key)
            self.rows[key] = {k: str(v) for k, v in row.values.items()}
        self._copied = set(self.new)

    def __contains__(self, key: tuple) -> bool:
        return key in self.rows

    def __getitem__(self, key: tuple) -> Mapping[str, str]:
        return self.rows[key]

    def records(self) -> list[Record]:
        return [Record(0, r) for r in self.rows.values()]

    def set(self, key: tuple, name: str, value: str) -> None:
        if key not in self._copied:
            self.rows[key] = dict(self.rows[key])
            self._copied.add(key)
        self.rows[key][name] = value  # a copy of this run's own: see above
        self.changed.setdefault(key, {})[name] = value

    def note(self, key: tuple, text: str) -> None:
        """Add ``text`` to the row's Sync notes, once."""
        have = self.rows[key].get("sync_notes", "")
        if text not in have:
            self.set(key, "sync_notes", "\n".join(x for x in (have.strip(), text) if x))

    def bad_time(self, key: tuple, name: str, value: str, outcome: str) -> None:
        """A job time column holding something that is not a time: said in the row's Sync
        notes and as a warning. The note leaves out the row number, which a sort changes."""
        shown = f"holds {value!r}, not a time" if value.strip() else "is empty"
        text = f"{self.tab.header_of(name)!r} {shown}; {outcome}"
        self.note(key, text)
        self.warn(key, text)

    def warn(self, key: tuple, text: str) -> None:
        """A warning of the run about one comment, naming its row as read."""
        where = f"{self.tab.title} row {self._rows_at[key]}" if key in self._rows_at else self.tab.title
        self.warnings.append(f"{where}, comment {key[1]}: {text}")

    def updates(self) -> list[UpdateRow]:
        """The cells the later steps change in comments already in the tracker."""
        return [UpdateRow("comments", key, values, "follow-up")
                for key, values in self.changed.items() if key not in self.new]

    def added(self, row: AddRow) -> AddRow:
        """A new comment's row with every value it ends this run with."""
        key = (row.values["platform"], row.values["comment_id"])
        return AddRow(row.tab, {**row.values, **self.changed.get(key, {})})


def comment_deadlines(rows: CommentRows, schema: Schema, as_of: datetime, roster: Roster,
                      exported: Mapping[tuple, datetime]) -> dict[tuple, CommentDeadline]:
    """Every comment's deadline state at ``as_of``, by key: :func:`deadlines.evaluate`, once.

    A comment time people broke that this run's sources give again (``exported``) is put
    back first, and then everything is counted again (a comment's time decides its
    parent's answer too). Rare: only then is anything evaluated twice.
    """
    states = _evaluate(rows, schema, as_of, roster)
    repaired = False
    for key, state in states.items():
        if state.commented_at is None and key in exported and key not in rows.new \
                and "commented_at" in rows[key]:
            fixed = to_sheet(exported[key])
            rows.bad_time(key, "commented_at", rows[key]["commented_at"],
                          f"rewritten from this run's export of the comment: {fixed}")
            rows.set(key, "commented_at", fixed)
            repaired = True
    return _evaluate(rows, schema, as_of, roster) if repaired else states


def _evaluate(rows: CommentRows, schema: Schema, as_of: datetime, roster: Roster) -> dict:
    return {d.key: d for d in evaluate(rows.records(), schema, as_of, roster=roster)}


def flag_rows(rows: CommentRows, states: Mapping[tuple, CommentDeadline], schema: Schema,
              now: datetime) -> list[CommentDeadline]:
    """Write each comment's Reply due, Overdue and Replied at, and close the comments the
    corporation answered on the platform; the overdue ones, in the order of ``states``."""
    overdue = []
    for key, state in states.items():
        due = to_sheet(state.due_at) if state.due_at else ""
        broken = _unreadable_times(rows[key], state, due) if key not in rows.new else set()
        if broken:
            _explain_bad_times(rows, key, state, broken)
        if state.answered and state.answered_how == "page reply":
            _close_by_page_reply(rows, key, schema)
        _replied_at(rows, key, state, "replied_at" in broken, now)
        if state.needs_reply and due and rows[key].get("due_at", "") != due:
            rows.set(key, "due_at", due)
        _due_soon_at(rows, key, state)
        flag = overdue_flag(state)
        if rows[key].get("overdue", "") != flag:
            rows.set(key, "overdue", flag)
        if state.overdue:
            overdue.append(state)
    return overdue


def overdue_flag(state: CommentDeadline) -> str:
    """The Overdue column: how late an open comment is, in words people read
    ('5 h late', '3 days late · escalated'), or how soon a due-soon one is due
    ('due in 3 h'); empty otherwise."""
    if state.due_soon:
        return due_in_text(state.hours_left)
    if not state.overdue:
        return ""
    hours = state.late_hours
    text = f"{int(hours)} h late" if hours < 48 else f"{int(hours // 24)} days late"
    return text + (" · escalated" if state.level >= 2 else "")


def due_in_text(hours: float) -> str:
    """How soon, the way the Overdue column says it: minutes under an hour, then hours."""
    if hours < 1:
        return f"due in {max(1, int(hours * 60))} min"
    return f"due in {int(hours)} h" if hours < 48 else f"due in {int(hours // 24)} days"


def _due_soon_at(rows: CommentRows, key: tuple, state: CommentDeadline) -> None:
    """The hidden "Due soon from" column the sheet's amber colour compares with the clock:
    the time an open comment becomes due soon; empty for one that needs no reply (or has
    no readable time). A tracker made before the column existed gets it at its next run."""
    if "due_soon_at" not in rows.tab_fields:
        return
    soon = to_sheet(state.due_soon_from) if state.needs_reply and state.due_soon_from else ""
    if rows[key].get("due_soon_at", "") != soon:
        rows.set(key, "due_soon_at", soon)


def _close_by_page_reply(rows: CommentRows, key: tuple, schema: Schema) -> None:
    """The corporation's account replied under the comment: Replied, unless a person chose
    another Status or wrote a Reply."""
    row = rows[key]
    if row.get("status", "").strip() in ("", schema.default_status) and not row.get("reply", "").strip():
        rows.set(key, "status", _replied_status(schema))
        if not row.get("replied_by", "").strip():
            rows.set(key, "replied_by", f"the corporation's {key[0]} account")


def _replied_at(rows: CommentRows, key: tuple, state: CommentDeadline, unreadable: bool,
                now: datetime) -> None:
    """When it was answered (this run's time if unknown); emptied when it is open again."""
    replied = rows[key].get("replied_at", "").strip()
    if state.answered and (not replied or unreadable and state.answered_at is not None):
        rows.set(key, "replied_at", to_sheet(state.answered_at or now))
    elif state.needs_reply and not state.answered and replied:
        rows.set(key, "replied_at", "")  # reopened: its deadline counts again


def _unreadable_times(row: Mapping[str, str], state: CommentDeadline, due: str) -> set[str]:
    """The job's time columns of an existing row that hold something not a time (``due``:
    the due time as the job writes it). Uses what :func:`evaluate` already read, so a
    100,000-row tracker is not parsed twice."""
    out = set()
    if state.commented_at is None and "commented_at" in row:
        out.add("commented_at")  # empty counts: every comment has a time
    shown = row.get("due_at", "")
    if shown.strip() and shown != due and from_sheet(shown) is None:
        out.add("due_at")
    replied = row.get("replied_at", "")
    if replied.strip():
        if state.answered and state.answered_how != "page reply":
            unreadable = state.answered_at is None  # evaluate read it as the answer's time
        else:
            unreadable = from_sheet(replied) is None
        if unreadable:
            out.add("replied_at")
    return out


def _explain_bad_times(rows: CommentRows, key: tuple, state: CommentDeadline, broken: set[str]) -> None:
    """Say, for each of a row's unreadable time columns, what the run does about it."""
    row = rows[key]
    fallback = f"empty it, or type a time like {TIME_EXAMPLE} (IST)"
    if "commented_at" in broken:
        fix = f"type the comment's time like {TIME_EXAMPLE} (IST; the Link shows it)"
        if state.is_open:
            fix = f"its reply due time cannot be counted and it is listed last in its department's tab; {fix}"
        rows.bad_time(key, "commented_at", row.get("commented_at", ""), fix)
    if "due_at" in broken:
        due = to_sheet(state.due_at) if state.needs_reply and state.due_at else ""
        if due:
            rows.bad_time(key, "due_at", row.get("due_at", ""),
                          f"rewritten from the comment's time and category: {due}")
        elif "commented_at" not in broken:
            rows.bad_time(key, "due_at", row.get("due_at", ""), fallback)
    if "replied_at" in broken:
        rows.bad_time(key, "replied_at", row.get("replied_at", ""), _replied_at_fix(state, fallback))


def _replied_at_fix(state: CommentDeadline, fallback: str) -> str:
    if state.answered and state.answered_at is not None:
        return ("rewritten with the time of the corporation's reply on the platform: "
                f"{to_sheet(state.answered_at)}")
    if state.answered:
        return ("the reply's time is unknown, so reports leave it out of reply times; type when it "
                f"was answered like {TIME_EXAMPLE} (IST), or empty it and the next run writes its own time")
    if state.needs_reply:
        return "emptied: the comment is still open"
    return fallback


def _replied_status(schema: Schema) -> str:
    for s in schema.statuses:
        if not s.open and s.name.casefold() == "replied":
            return s.name
    return next(s.name for s in schema.statuses if not s.open)
