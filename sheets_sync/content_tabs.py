"""The requests a department's tab shows (issue #15): pure, no I/O.

Below its open comments, each department's tab lists the requests that wait on it — the
approvals the cell asked of its head, and what the cell asked of the department itself
(Asked of department, once e-mailed) — one row each, in a section the job owns: the
row's Comment ID is the request's code and its Platform ``request``, so the comments'
machinery (:mod:`sheets_sync.pending`) keeps, moves and removes it like any row, and
never carries it to the Comments tab. The head answers by e-mail, not in the sheet; a
value a person types in such a row all the same is never dropped: the row stays, with
what they typed, and the run's warnings ask the cell to move it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sheets_sync.content import planned_date
from sheets_sync.table import Record, Table

PLATFORM = "request"
PEOPLE_FIELDS = ("status", "reply", "replied_by", "notes")
# What the sync reads of the Content tab (with the Post ID and link of routing by request).
FIELDS = ("request", "department", "status", "subject", "draft_link", "asked_at", "planned_date", "post_id",
          "post_link", "dept_asked_at", "dept_asked_text")
SENT = "sent for approval"
ASKED = "asked of department"  # the cell asks the department itself (content_settings.ASKED)


def waiting_requests(records: Sequence[Record], roster, *, month_first: bool = False
                     ) -> dict[str, list[dict[str, str]]]:
    """Department code → its requests waiting for its head's approval (Content rows), by code;
    the planned date as YYYY-MM-DD when it reads as a date (``month_first``: the tracker
    showed it month first), so the tab's Reply due and its red rule read it in any locale."""

    out: dict[str, list[dict[str, str]]] = {}
    for rec in sorted(records, key=lambda r: r.get("request")):
        status = " ".join(rec.get("status").split()).casefold()
        if status not in (SENT, ASKED) or not rec.get("request").strip():
            continue
        if status == ASKED and not rec.get("dept_asked_at").strip():
            continue  # not e-mailed yet (nothing typed in Asked of the department): nothing to answer
        code = roster.resolve(rec.get("department")) if rec.get("department").strip() else None
        if code:
            row = dict(rec.values)
            when, _ = planned_date(row.get("planned_date", ""), month_first=month_first)
            if when is not None:
                row["planned_date"] = when.isoformat()
            out.setdefault(code, []).append(row)
    return out


def request_rows(waiting: Sequence[Mapping[str, str]], table: Table | None, tab,
                 fingerprint) -> tuple[list[dict], list[str]]:
    """The tab rows of a department's waiting requests, and the rows of requests no longer
    waiting that keep what a person typed in them (with a warning each)."""
    have = {r.get("comment_id").strip(): r for r in _records(table, tab)
            if r.get("platform").strip() == PLATFORM}
    rows, warnings = [], []
    shown = set()
    for request in waiting:
        code = request.get("request", "").strip()
        shown.add(code)
        rows.append(_row(code, request, have.get(code), fingerprint))
    for code, rec in have.items():
        typed = {f: rec.get(f) for f in PEOPLE_FIELDS if rec.get(f).strip()}
        if code in shown or not typed:
            continue
        # As it stands (its Synced too: the job's cells are not written again).
        rows.append({"comment_id": code, "platform": PLATFORM, "synced": rec.get("synced"),
                     **{f: rec.get(f) for f in PEOPLE_FIELDS}})
        warnings.append(f"{tab.title} tab: request {code} no longer waits, but its row holds what a person "
                        f"typed ({', '.join(typed)}); the row stays until the cell moves it and empties it")
    return rows, warnings


def _row(code: str, request: Mapping[str, str], had: Record | None, fingerprint) -> dict:
    asked = " ".join(request.get("status", "").split()).casefold() == ASKED
    if asked:
        # What is asked once (a long ask would push the rest out of the row's height).
        text = (f"The cell asks the department, about request {code} / विनंती {code} बाबत कक्ष विभागाकडे मागत "
                f"आहे: {request.get('dept_asked_text', '')} — answer the e-mail, keeping {code} in the "
                "subject / ई-मेलला उत्तर द्या.")
    else:
        text = (f"Request {code} waits for the head's approval: answer the e-mail with APPROVE / मंजूर, or "
                f"the changes. / विनंती {code} विभागप्रमुखांच्या मंजुरीच्या प्रतीक्षेत: ई-मेलला उत्तर द्या.")
    values = {
        "comment_id": code, "platform": PLATFORM, "text": text,
        "post": request.get("subject", ""),
        "commented_at": request.get("dept_asked_at" if asked else "asked_at", ""),
        "due_at": request.get("planned_date", ""),
        "url": request.get("draft_link", ""),
    }
    for name in PEOPLE_FIELDS:  # what a person typed there stays
        values[name] = had.get(name) if had is not None else ""
    values["synced"] = fingerprint(values)
    return values


def _records(table: Table | None, tab) -> list[Record]:
    return table.records(tab) if table is not None and table.header else []
