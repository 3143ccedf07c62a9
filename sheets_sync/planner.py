"""Planning a sync: the tracker as read + new records → the changes to make. No I/O.

Everything here is a pure function of its arguments (the time included), so
``sync --dry-run`` can print exactly what ``sync`` would write, and tests can
check plans without a tracker.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sheets_sync.models import Comment, Post
from sheets_sync.roster import Roster, tokenize
from sheets_sync.schema import Schema
from sheets_sync.sources.base import Batch
from sheets_sync.table import AddRow, Change, Record, UpdateRow
from sheets_sync.timeutil import to_sheet

# Google Sheets refuses more than 50,000 characters in a cell (Excel keeps 32,767);
# backends say which applies, and longer text is cut with a note.
CELL_LIMIT = 50_000
_TRUNCATED = "\n… [cut here: {n} more characters; the full comment is at the link]"


@dataclass
class Plan:
    """The changes a run will make, and what they mean for people."""

    changes: list[Change] = field(default_factory=list)
    posts_added: Counter = field(default_factory=Counter)  # department → count
    comments_added: Counter = field(default_factory=Counter)
    rows_updated: int = 0
    held: list[str] = field(default_factory=list)  # comments not added, and why
    warnings: list[str] = field(default_factory=list)
    # Filled by the follow-up step (pending tabs, overdue flags).
    harvested: int = 0
    conflicts: list[str] = field(default_factory=list)
    overdue: list = field(default_factory=list)
    tabs_rewritten: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def summary(self) -> dict:
        departments = sorted(set(self.posts_added) | set(self.comments_added))
        return {
            "posts_added": sum(self.posts_added.values()),
            "comments_added": sum(self.comments_added.values()),
            "rows_updated": self.rows_updated,
            "held": len(self.held),
            "per_department": {
                d: {"posts": self.posts_added.get(d, 0), "comments": self.comments_added.get(d, 0)}
                for d in departments
            },
            "held_comments": list(self.held),
            "warnings": list(self.warnings),
            "replies_harvested": self.harvested,
            "conflicts": list(self.conflicts),
            "overdue": len(self.overdue),
            "tabs_rewritten": list(self.tabs_rewritten),
        }


@dataclass
class TrackerView:
    """The parts of the tracker the planner needs, keyed by id."""

    posts: dict[tuple, Record]
    comments: dict[tuple, Record]
    roster: Roster
    checkpoints: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def index_records(records: Iterable[Record], key_fields: tuple[str, ...], title: str,
                  warnings: list[str]) -> dict[tuple, Record]:
    """Key → row. A key seen twice (a person copied a row) keeps the first row and says so."""
    out: dict[tuple, Record] = {}
    for rec in records:
        key = tuple(rec.get(k).strip() for k in key_fields)
        if not all(key):
            continue
        if key in out:
            warnings.append(f"{title} row {rec.row}: id {key[-1]} ({key[0]}) also on row "
                            f"{out[key].row}; the job uses row {out[key].row}, delete the copy")
            continue
        out[key] = rec
    return out


def plan_sync(view: TrackerView, batches: Mapping[str, Batch], schema: Schema, now: datetime,
              *, command: str = "sync", cell_limit: int = CELL_LIMIT) -> Plan:
    """What to add and update so the tracker holds every post and comment in ``batches``."""
    plan = Plan(warnings=list(view.warnings))
    stamp = to_sheet(now)
    unassigned = schema.unassigned

    # Posts: the department a post has in the sheet wins; the rules only fill it once.
    post_department: dict[tuple, str] = {}
    for key, rec in view.posts.items():
        post_department[key] = _sheet_department(rec, view.roster, unassigned, plan)

    new_posts: dict[tuple, Post] = {}
    for batch in batches.values():
        plan.warnings += batch.warnings
        for post in batch.posts:
            if post.key in view.posts:
                rec = view.posts[post.key]
                if post_department[post.key] == unassigned and _is_placeholder(rec, unassigned):
                    code, why = _route(post, view.roster, plan)
                    if code:
                        post_department[post.key] = code
                        plan.changes.append(UpdateRow("posts", post.key, {
                            "department": code, "routed_by": why}, "routed now"))
                        plan.rows_updated += 1
                continue
            if post.key in new_posts:
                continue
            code, why = _route(post, view.roster, plan)
            department = code or unassigned
            new_posts[post.key] = post
            post_department[post.key] = department
            plan.changes.append(AddRow("posts", {
                "platform": post.platform,
                "post_id": post.post_id,
                "posted_at": to_sheet(post.posted_at),
                "department": department,
                "routed_by": why,
                "text": cell_text(post.text, cell_limit),
                "url": post.url,
                "added_at": stamp,
            }))
            plan.posts_added[department] += 1

    # Comments follow their post's department, on new rows and old ones alike.
    new_comments: set[tuple] = set()
    own_status = _own_comment_status(schema)
    for batch in batches.values():
        for comment in batch.comments:
            if comment.key in view.comments or comment.key in new_comments:
                continue
            department = post_department.get(comment.post_key)
            if department is None:
                plan.held.append(f"{comment.origin or comment.comment_id}: comment "
                                 f"{comment.comment_id} is on post {comment.post_id} "
                                 f"({comment.platform}), which is not in the tracker or the export; "
                                 "it will be added once its post is")
                continue
            new_comments.add(comment.key)
            category = classify(comment, schema)
            row = _comment_row(comment, department, category, schema, own_status, stamp)
            row["text"] = cell_text(comment.text, cell_limit)
            plan.changes.append(AddRow("comments", row))
            plan.comments_added[department] += 1

    for key, rec in view.comments.items():
        post_key = (key[0], rec.get("post_id").strip())
        wanted = post_department.get(post_key)
        if wanted and rec.get("department").strip() != wanted:
            plan.changes.append(UpdateRow("comments", key, {"department": wanted},
                                          "follows its post's department"))
            plan.rows_updated += 1

    for name, batch in batches.items():
        if batch.checkpoint is not None and batch.checkpoint != view.checkpoints.get(name):
            values = {"source": name, "checkpoint": batch.checkpoint, "updated_at": stamp}
            if name in view.checkpoints:
                plan.changes.append(UpdateRow("sync_state", (name,), values, "checkpoint"))
            else:
                plan.changes.append(AddRow("sync_state", values))
    return plan


def log_row(plan: Plan, *, command: str, source: str, now: datetime, seconds: float,
            run_by: str, errors: Iterable[str] = ()) -> AddRow:
    """The Sync Log row that records a run."""
    messages = list(errors) + plan.warnings + plan.held
    text = "; ".join(messages)
    return AddRow("sync_log", {
        "run_at": to_sheet(now),
        "command": command,
        "source": source,
        "posts_added": str(sum(plan.posts_added.values())),
        "comments_added": str(sum(plan.comments_added.values())),
        "rows_updated": str(plan.rows_updated),
        "held": str(len(plan.held)),
        "errors": cell_text(text, 30_000) if text else "",
        "seconds": f"{seconds:.1f}",
        "run_by": run_by,
    })


def cell_text(text: str, limit: int = CELL_LIMIT) -> str:
    """Citizen text as a cell can hold it: whole when it fits, else cut with a note.

    Spreadsheets count UTF-16 units (an emoji is two), so that is what is counted.
    """
    if _units(text) <= limit:
        return text
    room = limit - _units(_TRUNCATED.format(n=len(text)))
    keep = len(text.encode("utf-16-le")[: room * 2].decode("utf-16-le", errors="ignore"))
    return text[:keep] + _TRUNCATED.format(n=len(text) - keep)


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def classify(comment: Comment, schema: Schema) -> str:
    """Guess the order's category (complaint, question, remark, comment) from the words."""
    if comment.by_page:
        return schema.categories[-1].name
    tokens = tokenize(comment.text)
    folded = comment.text.casefold()
    for category in schema.categories:
        for word in category.keywords:
            parts = tokenize(word)
            if not parts:
                if word in folded:
                    return category.name
            elif len(parts) == 1:
                if any(t.startswith(parts[0]) for t in tokens):
                    return category.name
            elif " ".join(parts) in " ".join(tokens):
                return category.name
    return schema.categories[-1].name


def due_time(commented_at: datetime, category: str, schema: Schema) -> datetime:
    found = schema.category(category) or schema.categories[-1]
    return commented_at + timedelta(hours=found.reply_within_hours)


def _comment_row(comment: Comment, department: str, category: str, schema: Schema,
                 own_status: str, stamp: str) -> dict[str, str]:
    needs_reply = not comment.by_page
    return {
        "platform": comment.platform,
        "comment_id": comment.comment_id,
        "post_id": comment.post_id,
        "parent_id": comment.parent_id,
        "department": department,
        "commented_at": to_sheet(comment.commented_at),
        "author": comment.author,
        "author_id": comment.author_id,
        "text": comment.text,
        "url": comment.url,
        "by_page": "yes" if comment.by_page else "",
        "category": category,
        "due_at": to_sheet(due_time(comment.commented_at, category, schema)) if needs_reply else "",
        "status": schema.default_status if needs_reply else own_status,
        "added_at": stamp,
    }


def _own_comment_status(schema: Schema) -> str:
    for s in schema.statuses:
        if not s.open and s.name.casefold() == "not required":
            return s.name
    return next((s.name for s in schema.statuses if not s.open), schema.default_status)


def _route(post: Post, roster: Roster, plan: Plan) -> tuple[str | None, str]:
    if post.department:
        code = roster.resolve(post.department)
        if code:
            return code, "named in the export"
        plan.warnings.append(f"{post.origin or post.post_id}: department {post.department!r} is "
                             "not in the roster; routed by the rules instead")
    return roster.route(post.text, post.account)


def _sheet_department(rec: Record, roster: Roster, unassigned: str, plan: Plan) -> str:
    typed = rec.get("department").strip()
    if not typed or typed.casefold() == unassigned.casefold():
        return unassigned
    code = roster.resolve(typed)
    if code:
        return code
    plan.warnings.append(f"Posts row {rec.row}: department {typed!r} is not in the roster; "
                         "its comments keep that name until it is fixed")
    return typed


def _is_placeholder(rec: Record, unassigned: str) -> bool:
    typed = rec.get("department").strip()
    return not typed or typed.casefold() == unassigned.casefold()


