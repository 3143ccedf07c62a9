"""Overdue flags and the departments' pending-action tabs: planning only, no I/O.

Each run, after the new rows are planned:

1. **Harvest.** What people typed in a department's tab (Status, Reply,
   Replied by, Notes) is carried to the same comment's row in the Comments tab.
   The tab's hidden "Synced" cell holds a fingerprint of what the job last wrote
   there, so the job can tell who changed what since: the tab only, the master
   only, or both. Both changed to different values is a conflict: the master
   keeps its value and its "Sync notes" cell shows the tab's, for the cell to
   settle. Nothing typed is dropped.
2. **Deadlines.** Due times, answers (a person's, or the corporation's own
   reply under the comment, which closes it by itself) and how late each open
   comment is, by :mod:`sheets_sync.deadlines`.
3. **Flags.** The job's own columns of the Comments tab: Overdue, Reply due,
   Replied at.
4. **Tabs.** Each department's tab is rewritten, only when its content changes,
   with that department's open comments, most urgent first.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from sheets_sync.deadlines import CommentDeadline, evaluate
from sheets_sync.roster import Department, Roster
from sheets_sync.schema import Schema, Tab
from sheets_sync.table import FIRST_ROW_WHOLE, Change, ReplaceRows, Table, UpdateRow, kept_by_key, row_key
from sheets_sync.timeutil import from_sheet, to_sheet

PEOPLE_FIELDS = ("status", "reply", "replied_by", "notes")
# What a run reads of a department's tab: enough to harvest and to see what changed.
# The rest (the comment's text, its author, link) never changes for a comment id.
TAB_FIELDS = ["comment_id", "platform", "overdue", *PEOPLE_FIELDS, "synced", FIRST_ROW_WHOLE]
# The job's time columns of the Comments tab (commented at, reply due, replied at) are
# checked: people can type in them, and a moved column puts any text there. Added at
# is neither read nor used.
TIME_EXAMPLE = "2026-11-20 10:15"
# The job's columns of a tab row that follow the master (the "row" part of Synced).
CONTENT_FIELDS = ("post", "commented_at", "due_at")
NOTHING_SYNCED = '{"nothing":"pending"}'
REGISTRY_PREFIX = "tab:"  # Sync State rows that remember each department's tab
_BAD_TITLE = re.compile(r"[\[\]*?:/\\]")
POST_EXCERPT = 300


def tab_name(code: str) -> str:
    return f"pending:{code}"


def pending_tabs(schema: Schema, roster: Roster, registry: Mapping[str, str]) -> dict[str, Tab]:
    """Department code → its tab (for the roster's departments and those still registered).

    A department keeps the title it was given; a new one gets its English name
    (made unique against the other tabs).
    """
    template = schema.pending_tab
    if template is None:
        return {}
    taken = {t.title.casefold() for t in schema.tabs.values()}
    taken |= {title.casefold() for title in registry.values()}
    out: dict[str, Tab] = {}
    for code, title in registry.items():
        out[code] = replace(template, name=tab_name(code), title=title, department=code)
    for dept in roster:
        if dept.code in out:
            continue
        title = _title(dept, taken)
        taken.add(title.casefold())
        out[dept.code] = replace(template, name=tab_name(dept.code), title=title,
                                department=dept.code)
    return out


def _title(dept: Department, taken: set[str]) -> str:
    base = _BAD_TITLE.sub("", dept.name_en).strip()[:90] or dept.code
    if base.casefold() not in taken:
        return base
    return f"{base[:80]} ({dept.code})"


def fingerprint(values: Mapping[str, str]) -> str:
    """What the job wrote in a tab row, as short hashes (for the Synced cell): each people
    column, and ("row") the job's columns that can change."""
    marks = {f: _h(values.get(f, "")) for f in PEOPLE_FIELDS}
    marks["row"] = _h("\x1f".join(str(values.get(f, "")) for f in CONTENT_FIELDS))
    return json.dumps(marks, separators=(",", ":"))


def _h(text: str) -> str:
    return hashlib.sha1(text.strip().encode("utf-8")).hexdigest()[:10]


def _read_fingerprint(text: str) -> dict[str, str]:
    try:
        value = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass
class FollowUp:
    changes: list[Change] = field(default_factory=list)
    harvested: int = 0
    conflicts: list[str] = field(default_factory=list)
    overdue: list[CommentDeadline] = field(default_factory=list)
    tabs_rewritten: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Comments entering a tab whose text was not read (a reopened comment, a new
    # tab): (platform, id) → the tab rows to fill with text, author and link.
    missing: dict[tuple, list[dict]] = field(default_factory=dict)


def plan_follow_up(*, schema: Schema, roster: Roster, comments: Mapping[tuple, Mapping[str, str]],
                   new_rows: Iterable[dict], posts_text: Mapping[tuple, str],
                   tabs: Mapping[str, Tab], tables: Mapping[str, Table], registry: Mapping[str, str],
                   as_of: datetime, now: datetime, rows_at: Mapping[tuple, int] | None = None,
                   exported: Mapping[tuple, datetime] | None = None) -> FollowUp:
    """Harvest the tabs, flag overdue comments, rebuild the tabs: the changes to make.

    ``comments`` are the master's rows as the run will leave them before this
    step (existing rows with this run's planned updates applied), keyed by
    (platform, comment id); ``new_rows`` are this run's added comment rows
    (dicts it may still fill in); ``tables`` the department tabs as read, by code.
    ``rows_at`` gives the Comments tab's row number of each existing comment (for
    messages), ``exported`` the time of each comment this run's sources gave (to
    repair a time a person broke).
    """
    out = FollowUp()
    # Copied on a row's first change only: the caller's rows are never modified.
    rows: dict[tuple, Mapping[str, str]] = dict(comments)
    copied: set[tuple] = set()
    added: dict[tuple, dict] = {}
    for row in new_rows:
        key = (row["platform"], row["comment_id"])
        added[key] = row
        rows[key] = {k: str(v) for k, v in row.items()}
        copied.add(key)
    updates: dict[tuple, dict[str, str]] = {}

    def change(key: tuple, name: str, value: str) -> None:
        if key not in copied:
            rows[key] = dict(rows[key])
            copied.add(key)
        rows[key][name] = value
        if key in added:
            added[key][name] = value
        else:
            updates.setdefault(key, {})[name] = value

    def note(key: tuple, text: str) -> None:
        """Add ``text`` to the row's Sync notes, once."""
        have = rows[key].get("sync_notes", "")
        if text not in have:
            change(key, "sync_notes", "\n".join(x for x in (have.strip(), text) if x))

    comments_tab = schema.tab("comments")

    def bad_time(key: tuple, name: str, value: str, outcome: str) -> None:
        """A job time column holding something that is not a time: said in the row's Sync
        notes and as a warning. The note leaves out the row number, which a sort changes."""
        shown = f"holds {value!r}, not a time" if value.strip() else "is empty"
        text = f"{comments_tab.header_of(name)!r} {shown}; {outcome}"
        note(key, text)
        where = f"{comments_tab.title} row {rows_at[key]}" if rows_at and key in rows_at \
            else comments_tab.title
        out.warnings.append(f"{where}, comment {key[1]}: {text}")

    # 1. Harvest what people typed in the department tabs.
    for code, table in tables.items():
        tab = tabs.get(code)
        if tab is None or not table.header:
            continue
        for rec in table.records(tab):
            cid = rec.get("comment_id").strip()
            key = (rec.get("platform").strip(), cid)
            if not cid or key not in rows:
                continue
            base = _read_fingerprint(rec.get("synced"))
            master = rows[key]
            for name in PEOPLE_FIELDS:
                typed, current = rec.get(name).strip(), master.get(name, "").strip()
                if typed == current or _h(typed) == base.get(name, _h("")):
                    continue  # unchanged in the tab: the master's value stands
                if _h(current) == base.get(name, _h("")) or not current:
                    change(key, name, typed)
                    out.harvested += 1
                else:
                    note(key, f"Two values for {name.replace('_', ' ')}: the {tab.title!r} tab says "
                              f"{typed!r}; this row kept {current!r}. The cell decides.")
                    out.conflicts.append(f"{tab.title}: comment {cid}: {name}")

    # 2. Deadlines on the master as it now stands.
    from sheets_sync.table import Record

    def deadlines() -> dict[tuple, CommentDeadline]:
        records = [Record(0, r) for r in rows.values()]
        return {d.key: d for d in evaluate(records, schema, as_of, roster=roster)}

    states = deadlines()
    # A comment time people broke, that this run's sources give again: put back, and
    # counted again (a comment's time decides its parent's answer too). Rare: only then
    # is anything evaluated twice.
    repaired = False
    for key, state in states.items():
        if state.commented_at is None and exported and key in exported and key not in added \
                and "commented_at" in rows[key]:
            fixed = to_sheet(exported[key])
            bad_time(key, "commented_at", rows[key]["commented_at"],
                     f"rewritten from this run's export of the comment: {fixed}")
            change(key, "commented_at", fixed)
            repaired = True
    if repaired:
        states = deadlines()
    default_status = schema.default_status

    # 3. The job's columns of the master: answered by the corporation, due, overdue.
    for key, state in states.items():
        row = rows[key]
        due = to_sheet(state.due_at) if state.due_at else ""
        broken = _unreadable_times(row, state, due) if key not in added else set()
        if broken:
            _explain_bad_times(key, row, state, broken, bad_time)
        if state.answered and state.answered_how == "page reply":
            if row.get("status", "").strip() in ("", default_status) and not row.get("reply", "").strip():
                change(key, "status", _replied_status(schema))
                if not row.get("replied_by", "").strip():
                    change(key, "replied_by", f"the corporation's {key[0]} account")
        if state.answered and (not row.get("replied_at", "").strip()
                               or "replied_at" in broken and state.answered_at is not None):
            change(key, "replied_at", to_sheet(state.answered_at or now))
        elif state.needs_reply and not state.answered and row.get("replied_at", "").strip():
            change(key, "replied_at", "")  # reopened: its deadline counts again
        if state.needs_reply and due and row.get("due_at", "") != due:
            change(key, "due_at", due)
        flag = late_text(state)
        if row.get("overdue", "") != flag:
            change(key, "overdue", flag)
        if state.overdue:
            out.overdue.append(state)
    for key, values in updates.items():
        out.changes.append(UpdateRow("comments", key, values, "follow-up"))

    # 4. Each department's tab: its open comments, most urgent first.
    by_department: dict[str, list[CommentDeadline]] = {}
    for state in states.values():
        if state.is_open:
            by_department.setdefault(state.department, []).append(state)
    stamp = to_sheet(now)
    for code, tab in tabs.items():
        if code not in roster:
            continue  # a removed department: harvested above, its tab goes below
        open_ = sorted(by_department.get(code, []), key=_urgency)
        wanted = [_tab_row(rows[s.key], s, posts_text) for s in open_]
        if not wanted:
            wanted = [{"text": f"Nothing pending for {roster.get(code).name_en} — "
                               f"every comment has its reply (as of {stamp}).",
                       "synced": NOTHING_SYNCED}]
        rows_out = _tab_changes(tables.get(code), tab, wanted)
        if rows_out is None:
            continue
        rows_out, wordless = rows_out
        for row in wordless:
            out.missing.setdefault((row["platform"], row["comment_id"]), []).append(row)
        out.changes.append(ReplaceRows(tab.name, rows_out))
        out.tabs_rewritten.append(tab.title)
    return out


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


def _explain_bad_times(key: tuple, row: Mapping[str, str], state: CommentDeadline, broken: set[str],
                       bad_time) -> None:
    """Say, for each of a row's unreadable time columns, what the run does about it."""
    fallback = f"empty it, or type a time like {TIME_EXAMPLE} (IST)"
    if "commented_at" in broken:
        fix = f"type the comment's time like {TIME_EXAMPLE} (IST; the Link shows it)"
        if state.is_open:
            fix = f"its reply due time cannot be counted and it is listed last in its department's tab; {fix}"
        bad_time(key, "commented_at", row.get("commented_at", ""), fix)
    if "due_at" in broken:
        due = to_sheet(state.due_at) if state.needs_reply and state.due_at else ""
        if due:
            bad_time(key, "due_at", row.get("due_at", ""),
                     f"rewritten from the comment's time and category: {due}")
        elif "commented_at" not in broken:
            bad_time(key, "due_at", row.get("due_at", ""), fallback)
    if "replied_at" in broken:
        value = row.get("replied_at", "")
        if state.answered and state.answered_at is not None:
            bad_time(key, "replied_at", value, "rewritten with the time of the corporation's reply on the "
                     f"platform: {to_sheet(state.answered_at)}")
        elif state.answered:
            bad_time(key, "replied_at", value, "the reply's time is unknown, so reports leave it out of "
                     f"reply times; type when it was answered like {TIME_EXAMPLE} (IST), or empty it "
                     "and the next run writes its own time")
        elif state.needs_reply:
            bad_time(key, "replied_at", value, "emptied: the comment is still open")
        else:
            bad_time(key, "replied_at", value, fallback)


def _tab_changes(table: Table | None, tab: Tab,
                 wanted: list[dict]) -> tuple[list[dict], list[dict]] | None:
    """The rows a ReplaceRows needs to turn the tab as read into ``wanted``, or None
    when the tab already shows them; and those of them written whole whose words
    (text, author, link) are still to be read. A row the tab keeps carries only the
    cells to write."""
    have = table.records(tab) if table is not None and table.header else []
    if len(wanted) == len(have) == 1 and wanted[0].get("synced") == NOTHING_SYNCED \
            and have[0].get("synced") == NOTHING_SYNCED:
        return None  # still nothing pending (the "as of" time is not worth a write)
    want_keys, kept = kept_by_key(have, wanted, tab)
    # A comment's words as the tab shows them, where they were read (its top row is read whole).
    shown = {row_key(r.values, tab): r.values for r in have if r.get("text")}
    changed = not (len(kept) == len(have) == len(wanted))
    out, wordless = [], []
    for values, key in zip(wanted, want_keys, strict=True):
        if key not in kept:
            if values.get("comment_id") and "text" not in values:
                there = shown.get(key)
                if there is not None:
                    values.update({f: there.get(f, "") for f in ("text", "author", "url")})
                else:
                    wordless.append(values)
            out.append(values)
            changed = True
            continue
        old = kept[key].values
        delta = {f: v for f, v in values.items()
                 if f in ("overdue", *PEOPLE_FIELDS, "synced") and old.get(f, "") != str(v)}
        if _read_fingerprint(old.get("synced", "")).get("row") != \
                _read_fingerprint(str(values.get("synced", ""))).get("row"):
            delta.update({f: values.get(f, "") for f in CONTENT_FIELDS})
        changed = changed or bool(delta)
        out.append({**{k: values[k] for k in tab.key}, "platform": values["platform"], **delta})
    return (out, wordless) if changed else None


def _tab_row(row: Mapping[str, str], state: CommentDeadline, posts_text: Mapping[tuple, str]) -> dict:
    post = posts_text.get((state.platform, row.get("post_id", "")), "")
    values = {
        "comment_id": state.comment_id,
        "platform": state.platform,
        "post": post if len(post) <= POST_EXCERPT else post[:POST_EXCERPT - 1] + "…",
        "commented_at": row.get("commented_at", ""),
        "due_at": to_sheet(state.due_at) if state.due_at else "",
        "overdue": late_text(state),
    }
    if "text" in row:  # not read for the comments already in a tab (see TAB_FIELDS)
        values.update(text=row.get("text", ""), author=row.get("author", ""), url=row.get("url", ""))
    for name in PEOPLE_FIELDS:
        values[name] = row.get(name, "")
    values["synced"] = fingerprint(values)
    return values


def _urgency(state: CommentDeadline):
    # A comment whose time is unreadable has no due time: it goes after every dated one.
    due = state.due_at.timestamp() if state.due_at else math.inf
    return (not state.overdue, -state.late_hours, due, state.comment_id)


def late_text(state: CommentDeadline) -> str:
    """How late an open comment is, in words people read ('5 h late', '3 days late')."""
    if not state.overdue:
        return ""
    hours = state.late_hours
    text = f"{int(hours)} h late" if hours < 48 else f"{int(hours // 24)} days late"
    return text + (" · escalated" if state.level >= 2 else "")


def _replied_status(schema: Schema) -> str:
    for s in schema.statuses:
        if not s.open and s.name.casefold() == "replied":
            return s.name
    return next(s.name for s in schema.statuses if not s.open)
