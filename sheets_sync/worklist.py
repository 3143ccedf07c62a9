"""What a department has to do, as lists people read: its open comments most urgent
first (``pending``), and the comments due soon (``overdue --due-soon``). Pure: the
deadlines in, rows and text out; the jobs read the tracker.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from sheets_sync.deadlines import CommentDeadline, due_soon, overdue
from sheets_sync.errors import ConfigError
from sheets_sync.flags import due_in_text, overdue_flag
from sheets_sync.pending import urgency
from sheets_sync.report import OVERDUE_COLUMNS, one_line, overdue_rows, overdue_text, rows_csv
from sheets_sync.roster import Roster
from sheets_sync.timeutil import to_sheet

# One row per comment, for --json and --csv: what the Overdue list has, and where it stands.
WORK_COLUMNS = ("department", "state", "level", "late_hours", "hours_left", "due_at", "due_soon_at",
                "commented_at", "category", "status", "platform", "comment_id", "post_id", "author",
                "text", "url", "row")


def department_label(code: str, roster: Roster) -> str:
    d = roster.get(code)
    if d is None:
        return code or "(no department)"
    return f"{code} — {d.name_en}" + (f" ({d.name_mr})" if d.name_mr else "")


def state_of(d: CommentDeadline) -> str:
    """Where an open comment stands, in the words of the Overdue column's colours."""
    if d.overdue:
        return "escalated" if d.level >= 2 else "overdue"
    return "due soon" if d.due_soon else "open"


def work_rows(items: Iterable[CommentDeadline]) -> list[dict]:
    rows = []
    for d in items:
        values = d.as_dict()
        values["state"] = state_of(d)
        rows.append({k: values[k] for k in WORK_COLUMNS})
    return rows


def departments_wanted(typed: Sequence[str], roster: Roster, option: str = "-d") -> list[str]:
    """The department codes people asked for (code or name, any case), in their order;
    an unknown one stops the command (exit 2) naming it and the closest known codes."""
    out, unknown = [], []
    for text in typed:
        code = roster.resolve(text)
        if code is None:
            unknown.append(text)
        elif code not in out:
            out.append(code)
    if unknown:
        codes = [d.code for d in roster]
        parts = []
        for text in unknown:
            close = difflib.get_close_matches(text.strip().upper(), codes, n=3, cutoff=0.5)
            # A word of a department's name ("water") points to its code too.
            close += [d.code for d in roster if text.strip().casefold() in d.name_en.casefold()
                      and d.code not in close][:3]
            hint = f"closest known: {', '.join(close)}" if close else f"known: {', '.join(codes[:8])}" + (
                ", …" if len(codes) > 8 else "")
            parts.append(f"{text!r} ({hint})")
        raise ConfigError(f"{option}: unknown department code {'; '.join(parts)}; the codes are in the "
                          "tracker's Departments tab")
    return out


def pending_of(deadlines: Iterable[CommentDeadline], codes: Sequence[str]) -> list[CommentDeadline]:
    """The open comments of ``codes``, department by department in that order, each
    department's most urgent first: the order of its tab."""
    by_code: dict[str, list[CommentDeadline]] = {c: [] for c in codes}
    for d in deadlines:
        if d.is_open and d.department in by_code:
            by_code[d.department].append(d)
    return [d for code in codes for d in sorted(by_code[code], key=urgency)]


def _line(d: CommentDeadline) -> str:
    # The state column already says "escalated"; the flag's own " · escalated" would say it twice.
    how = overdue_flag(d).removesuffix(" · escalated") or "open"
    due = f"due {to_sheet(d.due_at)}" if d.due_at else "no deadline (time unreadable)"
    return (f"  {state_of(d):<9} {how:>24}  {due}  {d.platform} {d.comment_id}  "
            f"{one_line(d.author, 24)}: {one_line(d.text, 60)}")


def pending_text(items: Sequence[CommentDeadline], codes: Sequence[str], roster: Roster,
                 as_of: datetime) -> str:
    """Per department: a heading with its counts, then its open comments, most urgent first."""
    lines = []
    for code in codes:
        mine = [d for d in items if d.department == code]
        late = sum(d.overdue for d in mine)
        soon = sum(d.due_soon for d in mine)
        lines.append(f"Pending at {to_sheet(as_of)} IST, {department_label(code, roster)}: {len(mine)} open "
                     f"comment(s), {late} overdue, {soon} due soon")
        lines += [_line(d) for d in mine]
        if not mine:
            lines.append("  nothing pending")
    return "\n".join(lines)


def due_soon_text(deadlines: Iterable[CommentDeadline], roster: Roster, as_of: datetime) -> str:
    """The ones due soon, per department, the first due first (after the overdue list)."""
    soon = due_soon(deadlines)
    departments = sorted({d.department for d in soon})
    lines = [f"Due soon at {to_sheet(as_of)} IST: {len(soon)} comment(s) in {len(departments)} "
             "department(s)"]
    for code in departments:
        items = [d for d in soon if d.department == code]
        lines.append(f"{department_label(code, roster)} ({len(items)})")
        for d in items:
            lines.append(f"  due soon  {due_in_text(d.hours_left):>14}  due {to_sheet(d.due_at)}  "
                         f"{d.platform} {d.comment_id}  {one_line(d.author, 24)}: {one_line(d.text, 60)}")
    return "\n".join(lines)


def overdue_listing(found, *, as_json: bool = False, as_csv: bool = False,
                    with_due_soon: bool = False) -> str:
    """What ``overdue`` prints of a :class:`sheets_sync.jobs.Overdue`: text, JSON or CSV;
    ``with_due_soon``, the comments due soon after the overdue ones."""
    deadlines, when = found.deadlines, found.as_of
    if as_json:
        data = {"tracker": found.location, "as_of": when.isoformat(), "overdue": overdue_rows(deadlines)}
        if with_due_soon:
            data["due_soon"] = work_rows(due_soon(deadlines))
        return json.dumps(data, ensure_ascii=False, indent=2)
    if as_csv and with_due_soon:
        rows = work_rows([*overdue(deadlines), *due_soon(deadlines)])
        return rows_csv(rows, [*OVERDUE_COLUMNS, "state", "hours_left", "due_soon_at"])
    if as_csv:
        return rows_csv(overdue_rows(deadlines), OVERDUE_COLUMNS)
    text = overdue_text(deadlines, found.snapshot.roster, when)
    return text + "\n" + due_soon_text(deadlines, found.snapshot.roster, when) if with_due_soon else text


def pending_listing(found, *, as_json: bool = False, as_csv: bool = False) -> str:
    """What ``pending`` prints of a :class:`sheets_sync.jobs.Pending`: text, JSON or CSV."""
    if as_json:
        return json.dumps({"tracker": found.location, "as_of": found.as_of.isoformat(),
                           "departments": found.departments, "pending": work_rows(found.comments)},
                          ensure_ascii=False, indent=2)
    if as_csv:
        return rows_csv(work_rows(found.comments), WORK_COLUMNS)
    return pending_text(found.comments, found.departments, found.snapshot.roster, found.as_of)


__all__ = ["WORK_COLUMNS", "departments_wanted", "due_soon_text", "overdue_listing", "pending_listing",
           "pending_of", "pending_text", "state_of", "work_rows"]
