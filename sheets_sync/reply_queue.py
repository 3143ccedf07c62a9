"""The queue of replies (``python cli.py replies``): what waits for approval, what is
approved or being sent, what was posted today, what a platform refused. Read only: it is
what the last publishing run wrote in the Publish column."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sheets_sync.backends.base import Backend
from sheets_sync.schema import Schema
from sheets_sync.table import require_headers
from sheets_sync.timeutil import to_sheet

GROUPS = ("waiting for approval", "approved", "posted today", "refused")
_FIELDS = ["platform", "comment_id", "department", "reply", "publish", "reply_url"]


@dataclass(frozen=True)
class QueuedReply:
    group: str
    platform: str
    comment_id: str
    department: str
    state: str  # the Publish cell
    reply: str
    link: str  # the posted reply's

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Queue:
    location: str
    as_of: datetime
    replies: tuple[QueuedReply, ...]

    def group(self, name: str) -> list[QueuedReply]:
        return [r for r in self.replies if r.group == name]

    def as_dict(self) -> dict:
        return {"tracker": self.location, "as_of": to_sheet(self.as_of),
                **{name: [r.as_dict() for r in self.group(name)] for name in GROUPS}}


def group_of(publish: str, today: str) -> str | None:
    """Which part of the queue a Publish cell puts its reply in (None: not in the queue)."""
    if publish.startswith(("waiting", "reply changed", "too long")):
        return "waiting for approval"
    if publish.startswith(("approved", "sending")):
        return "approved"
    if publish.startswith(f"posted {today}"):
        return "posted today"
    if publish.startswith("refused"):
        return "refused"
    return None


def read_queue(backend: Backend, schema: Schema, now: datetime) -> Queue:
    tab = schema.tab("comments")
    with backend.open(schema, write=False) as session:
        table = session.read(["comments"], fields={"comments": _FIELDS})["comments"]
    require_headers(table, tab, _FIELDS)
    today = to_sheet(now)[:10]
    out = []
    for rec in table.records(tab, _FIELDS):
        publish = rec.get("publish").strip()
        group = group_of(publish, today)
        if group is not None:
            out.append(QueuedReply(group, rec.get("platform").strip(), rec.get("comment_id").strip(),
                                   rec.get("department").strip(), publish, rec.get("reply").strip(),
                                   rec.get("reply_url").strip()))
    order = {g: i for i, g in enumerate(GROUPS)}
    out.sort(key=lambda r: (order[r.group], r.department, r.platform))
    return Queue(backend.location, now, tuple(out))
