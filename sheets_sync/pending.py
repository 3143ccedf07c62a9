"""The departments' tabs: planning only, no I/O.

Each department has a tab of its open comments (its "pending" tab). In a run:

1. **Carry typed values.** What people typed in a department's tab (Status,
   Reply, Replied by, Notes) is carried to the same comment's row in the
   Comments tab. The tab's hidden "Synced" cell holds a fingerprint of what the
   job last wrote there, so the job can tell who changed what since: the tab
   only, the Comments tab only, or both. Both changed to different values is a
   conflict: the Comments tab keeps its value and its "Sync notes" cell shows
   the tab's, for the cell to settle. Nothing typed is dropped.
2. (The deadlines and the flags of the Comments tab: :mod:`sheets_sync.flags`.)
3. **The tabs' rows.** Each department's tab is changed, only where its content
   changes, to hold that department's open comments, most urgent first.
4. **The registry.** The Sync State tab remembers each tab's title (a person
   may rename it); a department gone from the roster loses its tab.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from sheets_sync.deadlines import CommentDeadline
from sheets_sync.flags import CommentRows, overdue_flag
from sheets_sync.roster import Department, Roster
from sheets_sync.schema import Schema, Tab
from sheets_sync.table import (
    FIRST_ROW_WHOLE,
    AddRow,
    Change,
    CopyCells,
    DeleteTab,
    Record,
    ReplaceRows,
    Table,
    UpdateRow,
    kept_by_key,
    row_key,
)
from sheets_sync.timeutil import to_sheet
from sheets_sync.titles import valid_title

PEOPLE_FIELDS = ("status", "reply", "replied_by", "notes")
# What a run reads of a department's tab: enough to carry typed values and to see what
# changed. The rest (the comment's words: text, author, link) never changes for a comment id.
TAB_FIELDS = ["comment_id", "platform", "overdue", *PEOPLE_FIELDS, "synced", FIRST_ROW_WHOLE]
WORDS = ("text", "author", "url")
# The job's columns of a tab row that follow the Comments tab (the "row" part of Synced).
CONTENT_FIELDS = ("post", "commented_at", "due_at", "due_soon_at")
NOTHING_SYNCED = '{"nothing":"pending"}'
REGISTRY_PREFIX = "tab:"  # Sync State rows that remember each department's tab
POST_EXCERPT = 300


def tab_name(code: str) -> str:
    return f"pending:{code}"


def department_tabs(schema: Schema, roster: Roster, registry: Mapping[str, str]) -> dict[str, Tab]:
    """Department code → its tab (for the roster's departments and those still registered).

    A department keeps the title it was given; a new one gets its English name,
    shortened to what a workbook accepts and made unique against the other tabs.
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
    # Valid in a workbook too (31 characters): a longer English name is cut and marked
    # with the code; the whole name stays in the Departments tab.
    return valid_title(dept.name_en, dept.code, taken)


def registered_tabs(checkpoints: Mapping[str, str]) -> dict[str, str]:
    """Department code → title of its tab, as the Sync State tab remembers them."""
    return {k[len(REGISTRY_PREFIX):]: v for k, v in checkpoints.items()
            if k.startswith(REGISTRY_PREFIX) and v.strip()}


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


@dataclass(frozen=True)
class Carried:
    """What step 1 did: typed values carried to the Comments tab, and conflicts left
    for the cell ("tab: comment id: field")."""

    values: int
    conflicts: list[str]


def carry_typed_values(rows: CommentRows, tabs: Mapping[str, Tab],
                       tables: Mapping[str, Table]) -> Carried:
    """Carry what people typed in the departments' tabs (``tables``, by code) to ``rows``."""
    carried, conflicts = 0, []
    for code, table in tables.items():
        tab = tabs.get(code)
        if tab is None or not table.header:
            continue
        for rec in table.records(tab):
            key = (rec.get("platform").strip(), rec.get("comment_id").strip())
            if key[1] and key in rows:
                carried += _carry_row(rows, tab, rec, key, conflicts)
    return Carried(carried, conflicts)


def _carry_row(rows: CommentRows, tab: Tab, rec: Record, key: tuple, conflicts: list[str]) -> int:
    base = _read_fingerprint(rec.get("synced"))
    carried = 0
    for name in PEOPLE_FIELDS:
        typed, current = rec.get(name).strip(), rows[key].get(name, "").strip()
        if typed == current or _h(typed) == base.get(name, _h("")):
            continue  # unchanged in the tab: the Comments tab's value stands
        if _h(current) == base.get(name, _h("")) or not current:
            rows.set(key, name, typed)
            carried += 1
        else:
            rows.note(key, f"Two values for {name.replace('_', ' ')}: the {tab.title!r} tab says "
                           f"{typed!r}; this row kept {current!r}. The cell decides.")
            conflicts.append(f"{tab.title}: comment {key[1]}: {name}")
    return carried


def plan_department_tabs(rows: CommentRows, states: Mapping[tuple, CommentDeadline],
                         tabs: Mapping[str, Tab], tables: Mapping[str, Table], roster: Roster,
                         posts_text: Mapping[tuple, str], now: datetime,
                         schema: Schema | None = None, requests: Mapping[str, list] | None = None,
                         warnings: list[str] | None = None) -> tuple[list[Change], list[str]]:
    """Each roster department's tab made to hold its open comments, most urgent first, then
    the content requests waiting on it (``requests``: code → Content rows; see
    :mod:`sheets_sync.content_tabs`): the changes (a ReplaceRows per tab whose content
    changes, and the CopyCells of the comments' words it lacks), and the titles of those tabs."""
    from sheets_sync.content_tabs import request_rows

    by_department: dict[str, list[CommentDeadline]] = {}
    for state in states.values():
        if state.is_open:
            by_department.setdefault(state.department, []).append(state)
    stamp = to_sheet(now)
    changes: list[Change] = []
    titles = []
    for code, tab in tabs.items():
        if code not in roster:
            continue  # a removed department: carried from above, its tab goes (plan_tab_registry)
        open_ = sorted(by_department.get(code, []), key=urgency)
        wanted = [_tab_row(rows[s.key], s, posts_text) for s in open_] or [
            _nothing_pending(roster.get(code), stamp, schema)]
        asked, kept = request_rows((requests or {}).get(code, []), tables.get(code), tab, fingerprint)
        wanted += asked
        if warnings is not None:
            warnings += kept
        planned = _tab_changes(tables.get(code), tab, wanted)
        if planned is None:
            continue
        tab_rows, copies = planned
        changes += [ReplaceRows(tab.name, tab_rows), *copies]
        titles.append(tab.title)
    return changes, titles


def plan_tab_registry(tabs: Mapping[str, Tab], roster: Roster, checkpoints: Mapping[str, str],
                      now: datetime) -> list[Change]:
    """The Sync State rows that remember each tab's title (``tabs``: as they stand, a
    person may have renamed one), and the tabs of departments no longer in the roster
    removed (their typed values are carried in the same write)."""
    registry = registered_tabs(checkpoints)
    stamp = to_sheet(now)
    changes: list[Change] = []
    for code, tab in tabs.items():
        key = f"{REGISTRY_PREFIX}{code}"
        if code not in roster:
            changes += [DeleteTab(tab.name),
                        UpdateRow("sync_state", (key,), {"checkpoint": "", "updated_at": stamp})]
        elif registry.get(code) != tab.title:
            values = {"source": key, "checkpoint": tab.title, "updated_at": stamp}
            changes.append(UpdateRow("sync_state", (key,), values) if key in checkpoints
                           else AddRow("sync_state", values))
    return changes


def _nothing_pending(department: Department, stamp: str, schema: Schema | None = None) -> dict:
    english = f"Nothing pending for {department.name_en} — every comment has its reply (as of {stamp})."
    marathi = (f"{department.name_mr or department.name_en}: काहीही प्रलंबित नाही — प्रत्येक टिप्पणीला "
               f"उत्तर दिले आहे ({stamp} पर्यंत).")
    text = schema.in_language(english, marathi, between="\n") if schema is not None else english
    return {"text": text, "synced": NOTHING_SYNCED}


def _tab_changes(table: Table | None, tab: Tab,
                 wanted: list[dict]) -> tuple[list[dict], list[CopyCells]] | None:
    """The rows a ReplaceRows needs to turn the tab as read into ``wanted``, or None when
    the tab already shows them; and the CopyCells of the words (text, author, link) of
    those rows written whole that neither the Comments tab nor this tab gave in the read.
    A row the tab keeps carries only the cells to write."""
    have = table.records(tab) if table is not None and table.header else []
    if len(wanted) == len(have) == 1 and wanted[0].get("synced") == NOTHING_SYNCED \
            and have[0].get("synced") == NOTHING_SYNCED:
        return None  # still nothing pending (the "as of" time is not worth a write)
    want_keys, kept = kept_by_key(have, wanted, tab)
    # A comment's words as the tab shows them, where they were read (its top row is read whole).
    shown = {row_key(r.values, tab): r.values for r in have if r.get("text")}
    changed = not (len(kept) == len(have) == len(wanted))
    out: list[dict] = []
    copies: list[CopyCells] = []
    for values, key in zip(wanted, want_keys, strict=True):
        if key in kept:
            delta = _kept_delta(values, kept[key].values)
            changed = changed or bool(delta)
            out.append({**{k: values[k] for k in tab.key}, "platform": values["platform"], **delta})
            continue
        changed = True
        if not values.get("comment_id") or "text" in values:
            out.append(values)
        elif key in shown:
            out.append({**values, **{f: shown[key].get(f, "") for f in WORDS}})
        else:
            out.append(values)
            copies.append(CopyCells(tab.name, key, "comments", (values["platform"], values["comment_id"]),
                                    WORDS))
    return (out, copies) if changed else None


def _kept_delta(values: Mapping[str, str], old: Mapping[str, str]) -> dict[str, str]:
    """The cells of a row the tab keeps that the job writes again."""
    delta = {f: v for f, v in values.items()
             if f in ("overdue", *PEOPLE_FIELDS, "synced") and old.get(f, "") != str(v)}
    if _read_fingerprint(old.get("synced", "")).get("row") != \
            _read_fingerprint(str(values.get("synced", ""))).get("row"):
        delta.update({f: values.get(f, "") for f in CONTENT_FIELDS})
    return delta


def _tab_row(row: Mapping[str, str], state: CommentDeadline, posts_text: Mapping[tuple, str]) -> dict:
    post = posts_text.get((state.platform, row.get("post_id", "")), "")
    values = {
        "comment_id": state.comment_id,
        "platform": state.platform,
        "post": post_excerpt(post),
        "commented_at": row.get("commented_at", ""),
        "due_at": to_sheet(state.due_at) if state.due_at else "",
        "due_soon_at": to_sheet(state.due_soon_from) if state.due_soon_from else "",
        "overdue": overdue_flag(state),
    }
    if "text" in row:  # a comment new in this run (the words of the others are not read)
        values.update(text=row.get("text", ""), author=row.get("author", ""), url=row.get("url", ""))
    for name in PEOPLE_FIELDS:
        values[name] = row.get(name, "")
    values["synced"] = fingerprint(values)
    return values


def post_excerpt(post: str) -> str:
    """What a department's tab shows of a post: its first line that has words (the
    hashtags usually close a post, its subject opens it), cut with … if long."""
    lines = [line.strip() for line in post.splitlines() if line.strip()]
    first = lines[0] if lines else ""
    more = len(lines) > 1
    if len(first) > POST_EXCERPT:
        return first[:POST_EXCERPT - 1] + "…"
    return first + " …" if more else first


def urgency(state: CommentDeadline):
    """The order of a department's tab (and of ``pending``): overdue first, the latest
    first, then by due time."""
    # A comment whose time is unreadable has no due time: it goes after every dated one.
    due = state.due_at.timestamp() if state.due_at else math.inf
    return (not state.overdue, -state.late_hours, due, state.comment_id)
