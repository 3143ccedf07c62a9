"""Planning a run: the tracker as read + new records → the changes to make. No I/O.

:func:`plan_run` is the whole of it, a pure function of its arguments (the time
included), so ``sync --dry-run`` can print exactly what ``sync`` would write, and
tests can check plans without a tracker. Its steps, in order:

1. :func:`plan_new_rows`: new posts and comments, routed to departments; comments
   following their post's department; the sources' checkpoints.
2. :func:`sheets_sync.pending.carry_typed_values`: what people typed in the
   departments' tabs, to the Comments tab; then :func:`sheets_sync.transfer.plan_transfers`:
   the comments the cell moved to another department.
3. :func:`sheets_sync.flags.comment_deadlines` and :func:`~sheets_sync.flags.flag_rows`:
   every comment's deadline (by the one rule, :mod:`sheets_sync.deadlines`), and
   the job's columns of the Comments tab.
   With publishers, :func:`sheets_sync.publishing.plan_publishing`: approvals recorded,
   replies to post, comments to hide, an earlier run's replies found posted.
4. :func:`sheets_sync.pending.plan_department_tabs` and
   :func:`~sheets_sync.pending.plan_tab_registry`: the departments' tabs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from sheets_sync.deadlines import CommentDeadline
from sheets_sync.flags import CommentRows, comment_deadlines, flag_rows
from sheets_sync.models import Comment, Post
from sheets_sync.no_reply import NoReplyRules, no_reply_rules
from sheets_sync.pending import carry_typed_values, plan_department_tabs, plan_tab_registry
from sheets_sync.publishing import Inputs, PublishPlan, plan_publishing
from sheets_sync.roster import Roster, tokenize
from sheets_sync.schema import Schema, Tab
from sheets_sync.sources.base import Batch
from sheets_sync.table import AddRow, Change, Record, Table, UpdateRow
from sheets_sync.timeutil import to_sheet
from sheets_sync.transfer import moved_to, plan_transfers

# Google Sheets refuses more than 50,000 characters in a cell (Excel keeps 32,767);
# backends say which applies, and longer text is cut with a note.
CELL_LIMIT = 50_000
_TRUNCATED = "\n… [cut here: {n} more characters; the full comment is at the link]"


@dataclass(frozen=True)
class Plan:
    """The changes a run will make, and what they mean for people. Made whole by
    :func:`plan_run` (or :func:`plan_new_rows`) and never changed after."""

    changes: list[Change] = field(default_factory=list)
    posts_added: Mapping[str, int] = field(default_factory=Counter)  # department → count
    comments_added: Mapping[str, int] = field(default_factory=Counter)
    rows_updated: int = 0
    held: list[str] = field(default_factory=list)  # comments not added, and why
    warnings: list[str] = field(default_factory=list)
    # The departments' tabs and the overdue flags.
    carried: int = 0  # values people typed in a department's tab, carried to the Comments tab
    conflicts: list[str] = field(default_factory=list)
    overdue: list[CommentDeadline] = field(default_factory=list)
    tabs_rewritten: list[str] = field(default_factory=list)
    # Publishing (only when the run has publishers): the platform calls to make after the
    # write, and the rows they concern as the write leaves them.
    publishing: PublishPlan | None = None
    publish_rows: Mapping[tuple, Mapping[str, str]] = field(default_factory=dict)

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
            "values_carried": self.carried,  # typed in the departments' tabs, now in Comments
            "replies_harvested": self.carried,  # the same, under the name older scripts read
            "conflicts": list(self.conflicts),
            "overdue": len(self.overdue),
            "tabs_rewritten": list(self.tabs_rewritten),
        }


@dataclass(frozen=True)
class TrackerView:
    """What the planner needs of the tracker as read, keyed by id."""

    posts: Mapping[tuple, Record]
    comments: Mapping[tuple, Record]
    roster: Roster
    checkpoints: Mapping[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # The departments' tabs, by department code: each tab as it stands (under the title a
    # person may have given it), and as read.
    tabs: Mapping[str, Tab] = field(default_factory=dict)
    tab_tables: Mapping[str, Table] = field(default_factory=dict)
    # The content pipeline's published posts: a Content row's Post ID (or Post link) →
    # (the request's department, its code). Such a post goes to that department.
    request_posts: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # Department code → its requests waiting for its head's approval (shown in its tab).
    requests_waiting: Mapping[str, list] = field(default_factory=dict)


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


def plan_run(view: TrackerView, batches: Mapping[str, Batch], schema: Schema, now: datetime,
             *, cell_limit: int = CELL_LIMIT, publishing: Inputs | None = None) -> Plan:
    """Everything a run changes, from what it read and what the sources gave: new rows,
    routing, typed values carried, deadlines and overdue flags, publishing (with
    ``publishing``), the departments' tabs."""
    new = plan_new_rows(view, batches, schema, now, cell_limit=cell_limit)
    rows = CommentRows(schema.tab("comments"), _comments_after(view, new.changes),
                       [c for c in new.changes if isinstance(c, AddRow) and c.tab == "comments"],
                       {k: r.row for k, r in view.comments.items()})
    carried = carry_typed_values(rows, view.tabs, view.tab_tables)
    plan_transfers(rows, view.roster)  # after carrying: what was typed in the old tab arrives first
    exported = {c.key: c.commented_at for b in batches.values() for c in b.comments}
    states = comment_deadlines(rows, schema, now, view.roster, exported)
    overdue = flag_rows(rows, states, schema, now)
    published = plan_publishing(rows, publishing, schema, now) if publishing is not None else None
    tab_warnings: list[str] = []
    tab_changes, rewritten = plan_department_tabs(rows, states, view.tabs, view.tab_tables, view.roster,
                                                  _posts_text(view, new.changes), now, schema=schema,
                                                  requests=view.requests_waiting, warnings=tab_warnings)
    updates = rows.updates()
    changes = [rows.added(c) if isinstance(c, AddRow) and c.tab == "comments" else c for c in new.changes]
    changes += [*updates, *tab_changes, *plan_tab_registry(view.tabs, view.roster, view.checkpoints, now)]
    warnings = [*new.warnings, *(f"conflict in {c}: see the Sync notes column" for c in carried.conflicts),
                *rows.warnings, *tab_warnings]
    if published is not None:
        warnings += published.warnings
    return replace(new, changes=changes, rows_updated=new.rows_updated + len(updates), warnings=warnings,
                   carried=carried.values, conflicts=carried.conflicts, overdue=overdue,
                   tabs_rewritten=rewritten, publishing=published,
                   publish_rows={a.key: rows[a.key] for a in published.actions} if published else {})


def _comments_after(view: TrackerView, changes: Iterable[Change]) -> dict[tuple, Mapping[str, str]]:
    """The comments' rows as read, with the updates of :func:`plan_new_rows` (not copied:
    a 100,000-row tracker)."""
    comments: dict[tuple, Mapping[str, str]] = {k: r.values for k, r in view.comments.items()}
    for change in changes:
        if isinstance(change, UpdateRow) and change.tab == "comments" and change.key in comments:
            comments[change.key] = {**comments[change.key], **{k: str(v) for k, v in change.values.items()}}
    return comments


def _posts_text(view: TrackerView, changes: Iterable[Change]) -> dict[tuple, str]:
    """Each post's text (shown in the departments' tabs), this run's new ones included."""
    out = {k: r.get("text") for k, r in view.posts.items()}
    out.update({(c.values["platform"], c.values["post_id"]): c.values["text"]
                for c in changes if isinstance(c, AddRow) and c.tab == "posts"})
    return out


@dataclass
class _NewRows:
    """What :func:`plan_new_rows` gathers as it goes, before it becomes a Plan."""

    changes: list[Change] = field(default_factory=list)
    posts_added: Counter = field(default_factory=Counter)
    comments_added: Counter = field(default_factory=Counter)
    rows_updated: int = 0
    held: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def update(self, change: UpdateRow) -> None:
        self.changes.append(change)
        self.rows_updated += 1


def plan_new_rows(view: TrackerView, batches: Mapping[str, Batch], schema: Schema, now: datetime,
                  *, cell_limit: int = CELL_LIMIT) -> Plan:
    """What to add and update so the tracker holds every post and comment in ``batches``
    (step 1 of :func:`plan_run`; a new comment's Reply due is counted in step 3)."""
    out = _NewRows(warnings=list(view.warnings))
    stamp = to_sheet(now)
    # The department a post has in the sheet wins; the rules only fill it once.
    departments = {key: _sheet_department(rec, view.roster, schema.unassigned, out.warnings)
                   for key, rec in view.posts.items()}
    for batch in batches.values():
        out.warnings += batch.warnings
        for post in batch.posts:
            _plan_post(post, view, schema, departments, out, stamp, cell_limit)
    new_comments: set[tuple] = set()
    no_reply = no_reply_rules(schema)
    for batch in batches.values():
        for comment in batch.comments:
            if comment.key not in view.comments and comment.key not in new_comments:
                _plan_comment(comment, schema, departments, new_comments, out, stamp, cell_limit, no_reply)
    _request_posts(view, departments, out, schema.unassigned)
    _follow_posts(view, departments, out)
    _plan_checkpoints(view, batches, out, stamp)
    return Plan(out.changes, out.posts_added, out.comments_added, out.rows_updated, out.held, out.warnings)


def _plan_post(post: Post, view: TrackerView, schema: Schema, departments: dict[tuple, str],
               out: _NewRows, stamp: str, cell_limit: int) -> None:
    unassigned = schema.unassigned
    if post.key in view.posts:
        # While a post is Unassigned, each run tries the rules again.
        if departments[post.key] == unassigned and _is_placeholder(view.posts[post.key], unassigned):
            code, why = _route(post, view.roster, out.warnings, view.request_posts)
            if code:
                departments[post.key] = code
                out.update(UpdateRow("posts", post.key, {"department": code, "routed_by": why}, "routed now"))
        return
    if post.key in departments:
        return  # twice in this run's sources
    code, why = _route(post, view.roster, out.warnings, view.request_posts)
    department = code or unassigned
    departments[post.key] = department
    out.changes.append(AddRow("posts", {
        "platform": post.platform,
        "post_id": post.post_id,
        "posted_at": to_sheet(post.posted_at),
        "department": department,
        "routed_by": why,
        "text": cell_text(post.text, cell_limit),
        "url": post.url,
        "added_at": stamp,
    }))
    out.posts_added[department] += 1


def _plan_comment(comment: Comment, schema: Schema, departments: Mapping[tuple, str], new: set[tuple],
                  out: _NewRows, stamp: str, cell_limit: int, no_reply: NoReplyRules) -> None:
    """A comment new to the tracker, in its post's department; held back while its post is unknown."""
    department = departments.get(comment.post_key)
    if department is None:
        out.held.append(f"{comment.origin or comment.comment_id}: comment {comment.comment_id} is on post "
                        f"{comment.post_id} ({comment.platform}), which is not in the tracker or the "
                        "export; it will be added once its post is")
        return
    new.add(comment.key)
    row = _comment_row(comment, department, classify(comment, schema), schema, stamp)
    reason = "" if comment.by_page else no_reply.reason(comment.text)
    if reason:  # only the first Status: one people change later is theirs
        row.update(status=no_reply.status, sync_notes=f"{no_reply.status}: {reason}")
    out.changes.append(AddRow("comments", {**row, "text": cell_text(comment.text, cell_limit)}))
    out.comments_added[department] += 1


def _follow_posts(view: TrackerView, departments: Mapping[tuple, str], out: _NewRows) -> None:
    """Comments already in the tracker follow their post's department."""
    for key, rec in view.comments.items():
        if moved_to(rec.values, view.roster):
            continue  # moved by a person to another department: it stays (transfer.py)
        wanted = departments.get((key[0], rec.get("post_id").strip()))
        if wanted and rec.get("department").strip() != wanted:
            out.update(UpdateRow("comments", key, {"department": wanted}, "follows its post's department"))


def _request_posts(view: TrackerView, departments: dict[tuple, str], out: _NewRows, unassigned: str) -> None:
    """Posts already in the tracker that the cell linked to a request (its Post ID or link): an
    Unassigned one goes to the request's department; one with another department keeps it (the
    Department is people's) and the job says so."""
    for key, rec in view.posts.items():
        request = view.request_posts.get(key[1])
        code = view.roster.resolve(request[0]) if request else None
        if not code or departments.get(key) in (code, None):
            continue
        if departments[key] == unassigned and _is_placeholder(rec, unassigned):
            departments[key] = code
            out.update(UpdateRow("posts", key, {"department": code, "routed_by": f"request {request[1]}"},
                                 "published for a request"))
        else:
            out.warnings.append(f"Posts row {rec.row}: post {key[1]} is request {request[1]}'s, of {code}, "
                                f"but its Department is {departments[key]!r}; type {code} there if the "
                                "request is right")


def _plan_checkpoints(view: TrackerView, batches: Mapping[str, Batch], out: _NewRows, stamp: str) -> None:
    for name, batch in batches.items():
        if batch.checkpoint is not None and batch.checkpoint != view.checkpoints.get(name):
            values = {"source": name, "checkpoint": batch.checkpoint, "updated_at": stamp}
            if name in view.checkpoints:
                out.changes.append(UpdateRow("sync_state", (name,), values, "checkpoint"))
            else:
                out.changes.append(AddRow("sync_state", values))


def log_row(plan: Plan, *, command: str, source: str, now: datetime, seconds: float,
            run_by: str, errors: Iterable[str] = ()) -> AddRow:
    """The Sync Log row that records a run."""
    messages = list(errors) + plan.warnings + plan.held
    text = "; ".join(messages)
    return AddRow("sync_log", {
        "run_at": to_sheet(now),
        "command": command,
        "source": source,
        # The counts as numbers, so people can sum and chart them (table.CellValue).
        "posts_added": sum(plan.posts_added.values()),
        "comments_added": sum(plan.comments_added.values()),
        "rows_updated": plan.rows_updated,
        "held": len(plan.held),
        "errors": cell_text(text, 30_000) if text else "",
        "seconds": round(seconds, 1),
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


def _comment_row(comment: Comment, department: str, category: str, schema: Schema,
                 stamp: str) -> dict[str, str]:
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
        "due_at": "",  # counted with every other comment's (flags.comment_deadlines)
        "status": schema.default_status if needs_reply else _own_comment_status(schema),
        "added_at": stamp,
    }


def _own_comment_status(schema: Schema) -> str:
    for s in schema.statuses:
        if not s.open and s.name.casefold() == "not required":
            return s.name
    return next((s.name for s in schema.statuses if not s.open), schema.default_status)


def _route(post: Post, roster: Roster, warnings: list[str],
           requests: Mapping[str, tuple[str, str]] | None = None) -> tuple[str | None, str]:
    request = (requests or {}).get(post.post_id) or (requests or {}).get(post.url)
    if request and roster.resolve(request[0]):
        # The cell published this post for a department's request: whatever the rules say.
        return roster.resolve(request[0]), f"request {request[1]}"
    if post.department:
        code = roster.resolve(post.department)
        if code:
            return code, "named in the export"
        warnings.append(f"{post.origin or post.post_id}: department {post.department!r} is "
                        "not in the roster; routed by the rules instead")
    return roster.route(post.text, post.account)


def _sheet_department(rec: Record, roster: Roster, unassigned: str, warnings: list[str]) -> str:
    typed = rec.get("department").strip()
    if not typed or typed.casefold() == unassigned.casefold():
        return unassigned
    code = roster.resolve(typed)
    if code:
        return code
    warnings.append(f"Posts row {rec.row}: department {typed!r} is not in the roster; "
                    "its comments keep that name until it is fixed")
    return typed


def _is_placeholder(rec: Record, unassigned: str) -> bool:
    typed = rec.get("department").strip()
    return not typed or typed.casefold() == unassigned.casefold()
