"""Moving one comment to another department: planning only, no I/O.

A comment under one department's post is often about another's (garbage under a
water-supply post). The cell types a department code in the comment's "Move to
department" cell (a people column of the Comments tab). The job then sets the
comment's Department to it, so the comment leaves the first department's tab and
appears in the other's with its Status, Reply and deadline, and says in its Sync
notes where it came from (``moved from WS``). The typed code stays in the cell and
keeps winning: a later re-routing of the post (the cell changing the post's
Department) moves the post's other comments, not this one. Emptying the cell lets
the comment follow its post again. A code that is no department is a warning on
that row; the comment stays where it is.

Why a column of its own rather than an editable Department: the job rewrites
Department whenever a post is re-routed, and could not tell a person's change from
its own; a people column is never written by the job, so what the cell typed is
never lost, and it shows at a glance which comments were moved by hand.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from sheets_sync.flags import CommentRows
from sheets_sync.roster import Roster


def moved_to(values: Mapping[str, str], roster: Roster) -> str | None:
    """The department a person moved the comment to (its code), or None: not moved, or
    to a code the roster does not know."""
    typed = values.get("move_to", "").strip()
    return roster.resolve(typed) if typed else None


def plan_transfers(rows: CommentRows, roster: Roster) -> int:
    """Give each moved comment its new department (``rows`` changed); how many moved now."""
    moved = 0
    for key in list(rows.rows):
        values = rows[key]
        typed = values.get("move_to", "").strip()
        if not typed:
            continue
        code = roster.resolve(typed)
        current = values.get("department", "").strip()
        if code is None:
            text = (f"'Move to department' says {typed!r}, which is not a department code"
                    f"{_closest(typed, roster)}; the comment stays with {current or 'no department'}")
            rows.note(key, text)
            rows.warn(key, text)
        elif current != code:
            rows.set(key, "department", code)
            rows.note(key, f"moved from {current or 'no department'}")
            moved += 1
    return moved


def _closest(typed: str, roster: Roster) -> str:
    codes = [d.code for d in roster]
    close = difflib.get_close_matches(typed.strip().upper(), codes, n=3, cutoff=0.5)
    return f" (closest: {', '.join(close)})" if close else ""


__all__ = ["moved_to", "plan_transfers"]
