"""Running a sync: prepare the tracker, fetch from the sources, read, plan, apply in one write.

A run, in order (:func:`run_sync`):

1. :func:`read_setup`: the checkpoints and the roster, before fetching (slow
   platforms never hold the lock), and so the departments' tabs;
2. the sources' fetch;
3. :func:`prepare_tabs`: the lock, then the structure — new departments' tabs
   made, what people broke put right — before the read;
4. the read, of only the columns planning needs, and :func:`tracker_view`;
5. :func:`sheets_sync.planner.plan_run`, pure: every change of the run;
6. one ``apply`` of those changes and the Sync Log's row;
7. with publishers (``publish``): the replies posted and comments hidden that the
   plan's write recorded as intents, and their outcomes in one more ``apply``.
"""

from __future__ import annotations

import getpass
import logging
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sheets_sync.backends.base import Backend, TrackerSession
from sheets_sync.content_tabs import FIELDS as CONTENT_FIELDS
from sheets_sync.content_tabs import waiting_requests
from sheets_sync.errors import ColumnsMoved, InputError, SourceError
from sheets_sync.gcpause import gc_paused
from sheets_sync.pending import TAB_FIELDS, department_tabs, registered_tabs
from sheets_sync.planner import Plan, TrackerView, index_records, log_row, plan_run
from sheets_sync.publishing import FIELDS as PUBLISH_FIELDS
from sheets_sync.roster import Roster, load_roster_file, roster_from_rows
from sheets_sync.schema import Schema, Tab
from sheets_sync.sources.base import Batch, Source
from sheets_sync.table import (
    AddRow,
    Change,
    DeleteTab,
    Record,
    ReplaceRows,
    Table,
    TrackerRead,
    UpdateRow,
    missing_tab,
    require_headers,
)
from sheets_sync.timeutil import now_ist, to_sheet

log = logging.getLogger(__name__)
# Read before fetching: the checkpoints, and the roster the departments' tabs follow.
SETUP_TABS = ("sync_state", "departments")
# Read under the lock, with the departments' tabs.
READ_TABS = ("posts", "comments", "sync_state")
# The columns planning needs; the rest (citizen text above all) is not read back.
SYNC_FIELDS = {
    "posts": ["platform", "post_id", "department", "text"],
    "content": list(CONTENT_FIELDS),
}
# A comment's own words never change once added: the text, author and link of the
# comments already in the tracker are not read; a comment entering a department's
# tab has them copied there by the backend (table.CopyCells).
UNCHANGING = ("text", "author", "author_id", "url", "added_at")


def _content_read(schema: Schema) -> tuple[str, ...]:
    """The Content tab, read (not locked) for the posts the cell published for a request."""
    return ("content",) if "content" in schema.tabs else ()


def sync_fields(schema: Schema, tabs: Iterable[Tab], *, publishing: bool = False) -> dict[str, list[str]]:
    """Per tab, the columns a run reads (a backend may read more)."""
    fields = dict(SYNC_FIELDS)
    fields["comments"] = _comment_fields(schema, publishing)
    for tab in tabs:
        fields[tab.name] = list(TAB_FIELDS)
    return fields


@dataclass
class SyncResult:
    tracker: str
    sources: list[str]
    plan: Plan
    dry_run: bool
    structure: list[str] = field(default_factory=list)
    source_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # Every tab of the run by name, the departments' under their current titles (describe()).
    tabs: Mapping[str, Tab] = field(default_factory=dict)
    published: object | None = None  # publishing_run.Outcomes, when the run published

    @property
    def publish_actions(self) -> tuple:
        """The platform calls the plan makes (all of them in a dry run)."""
        return self.plan.publishing.actions if self.plan.publishing else ()

    def summary(self) -> dict:
        out = {"tracker": self.tracker, "sources": self.sources, "dry_run": self.dry_run}
        out.update(self.plan.summary())
        out["source_errors"] = list(self.source_errors)
        out["structure"] = list(self.structure)
        out["seconds"] = round(self.seconds, 2)
        if self.plan.publishing is not None:
            out["publishing"] = publishing_summary(self)
        return out


def run_by() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def init_tracker(backend: Backend, schema: Schema, roster_path: Path | str | None = None,
                 *, now: datetime | None = None) -> list[str]:
    """Create or repair the tracker's tabs, headers and roster; safe to run again."""
    roster = load_roster_file(roster_path)
    with backend.open(schema, write=True) as session:
        done = session.ensure_structure(list(roster), cell_editors=cell_editors(schema))
        if done:
            session.apply([AddRow("sync_log", {
                "run_at": _stamp(now), "command": "init", "source": "",
                "errors": "; ".join(done), "run_by": run_by()})])
    # The departments' tabs, their editors and the overdue flags.
    result = run_sync(backend, [], schema, roster_path=roster_path, now=now, command="init")
    return done + result.structure


def run_sync(backend: Backend, sources: Sequence[Source], schema: Schema, *,
             roster_path: Path | str | None = None, now: datetime | None = None,
             dry_run: bool = False, command: str = "sync", follow_up: bool = True,
             publishers=None, sleep=None) -> SyncResult:
    """Add new posts and comments, flag overdue replies, rebuild the departments' tabs;
    with ``publishers`` (by platform), publish the approved replies too.

    With no sources it only does the last two (``tabs`` and ``overdue``); with
    ``follow_up`` false it leaves the departments' tabs alone.
    """
    step = _publish_step(publishers, schema, sleep, backend.location)
    try:
        return _sync_once(backend, sources, schema, roster_path=roster_path, now=now, dry_run=dry_run,
                          command=command, follow_up=follow_up, step=step)
    except ColumnsMoved as exc:
        # The write was put right in its columns; a new run reads the new layout and
        # finishes (the sources are read again: what was written is not added twice).
        # Nothing was posted yet: the intents of this attempt are its own to send.
        log.warning("%s; running again", exc)
        return _sync_once(backend, sources, schema, roster_path=roster_path, now=now, dry_run=dry_run,
                          command=command, follow_up=follow_up, step=step)


def _publish_step(publishers, schema: Schema, sleep, location: str):
    if not publishers:
        return None
    from sheets_sync.publishing import publishing_settings
    from sheets_sync.publishing_journal import Journal
    from sheets_sync.publishing_run import PublishStep, as_publishers, new_attempt

    step = PublishStep(as_publishers(publishers), publishing_settings(schema), new_attempt(),
                       journal=Journal.beside(location))
    if sleep is not None:
        step.sleep = sleep
    return step


@gc_paused
def _sync_once(backend: Backend, sources: Sequence[Source], schema: Schema, *,
               roster_path: Path | str | None, now: datetime | None, dry_run: bool, command: str,
               follow_up: bool, step=None) -> SyncResult:
    started = time.monotonic()
    now = now or now_ist()
    with backend.open(schema, write=not dry_run) as session:
        structure = _prepare(session, schema, roster_path, dry_run)
        setup = read_setup(session, schema, roster_path, follow_up=follow_up)
        batches, source_errors = _fetch(sources, setup.checkpoints)
        session.use_tabs(setup.tabs.values())
        if not dry_run:
            structure += prepare_tabs(session, schema, setup)
        read = session.read([*READ_TABS, *_content_read(schema), *(t.name for t in setup.tabs.values())],
                            fields=sync_fields(schema, setup.tabs.values(), publishing=step is not None))
        structure += read.repaired
        view = tracker_view(read, schema, setup, session.is_new(), publishing=step is not None)
        batches = _without_archived(batches, view, backend, schema)
        view.warnings.extend(cell_budget(session.cell_count()))
        inputs = step.inputs({k: r.values for k, r in view.comments.items()}) if step else None
        plan = plan_run(view, batches, schema, now, cell_limit=session.cell_limit, publishing=inputs)
        if not dry_run and (command != "init" or plan.changes):
            def entry(errors: list[str]) -> AddRow:
                return log_row(plan, command=command, source=", ".join(s.name for s in sources),
                               now=now, seconds=time.monotonic() - started, run_by=run_by(), errors=errors)

            if plan.publishing is None or not plan.publishing.actions:
                session.apply([*plan.changes, entry(source_errors)])
            else:
                _apply_and_publish(session, plan, step, schema, now, entry, source_errors)
    return SyncResult(backend.location, [s.name for s in sources], plan, dry_run, structure,
                      source_errors, time.monotonic() - started, {**schema.tabs, **read.tabs},
                      step.outcomes if step else None)


def _apply_and_publish(session: TrackerSession, plan: Plan, step, schema: Schema, now: datetime,
                       entry, source_errors: list[str]) -> None:
    """The plan's write (the intents in it), then the platform calls, then their outcomes
    and the Sync Log's row in one more write: at most one write more than a sync."""
    session.apply(plan.changes)
    outcomes = step.finish(plan, schema, now)
    done = [f"replies posted: {outcomes.posted}"] if outcomes.posted else []
    try:
        session.apply([*outcomes.changes, entry([*source_errors, *done, *outcomes.messages()])])
    except ColumnsMoved as exc:
        # Put right in its columns already; never run again after posting (the intents
        # of this attempt would look unsent).
        log.warning("%s", exc)


@dataclass(frozen=True)
class Setup:
    """What a run reads before it fetches: the sources' checkpoints, the roster, and so
    the departments' tabs (by department code)."""

    checkpoints: Mapping[str, str]
    roster: Roster
    warnings: list[str]
    tabs: Mapping[str, Tab]


def read_setup(session: TrackerSession, schema: Schema, roster_path, *, follow_up: bool = True) -> Setup:
    """The Sync State and Departments tabs (not locked: read before the sources' fetch)."""
    read = session.read(list(SETUP_TABS))
    if not session.is_new():
        _require_tabs(read, schema, SETUP_TABS)
    checkpoints = _checkpoints(read["sync_state"], schema)
    roster, warnings = tracker_roster(read["departments"], schema, roster_path, is_new=session.is_new())
    tabs = department_tabs(schema, roster, registered_tabs(checkpoints)) if follow_up else {}
    return Setup(checkpoints, roster, warnings, tabs)


def tracker_roster(table: Table, schema: Schema, roster_path, *,
                   is_new: bool) -> tuple[Roster, list[str]]:
    """The roster as the Departments tab holds it (a malformed row skipped, with a warning);
    the roster file while the tab has no departments. Every reader of the tracker uses this."""
    dept_tab = schema.tab("departments")
    roster, warnings = roster_from_rows([(r.row, r.values) for r in table.records(dept_tab)], dept_tab.title)
    if not len(roster):
        roster = load_roster_file(roster_path)
        if not is_new:
            warnings.append(f"the {dept_tab.title} tab has no departments; the roster file is used "
                            "instead (run `python cli.py init` to fill the tab)")
    return roster, warnings


def keyed_comments(table: Table, schema: Schema, warnings: list[str],
                   fields: list[str] | None = None) -> dict[tuple, Record]:
    """The Comments tab's rows by comment key, as the engine sees them: a row without an id
    is skipped, and a comment copied onto a second row counts once (the first), with a warning."""
    tab = schema.tab("comments")
    return index_records(table.records(tab, fields), tab.key, tab.title, warnings)


def prepare_tabs(session: TrackerSession, schema: Schema, setup: Setup) -> list[str]:
    """Lock the tabs the write changes, then make the new departments' tabs and repair
    what people broke (protections, a frozen header, a department's tab deleted): before
    the read, which then reads the tracker as the write finds it. Says what was done."""
    registered = registered_tabs(setup.checkpoints)
    # A department's tab made in this run is not locked: nobody has it yet.
    session.lock([*READ_TABS, *(t.name for code, t in setup.tabs.items() if code in registered)])
    return session.ensure_structure(list(setup.roster), only=[t.name for t in setup.tabs.values()],
                                    furnish=["posts", "comments"], cell_editors=cell_editors(schema))


def tracker_view(read: TrackerRead, schema: Schema, setup: Setup, is_new: bool, *,
                 publishing: bool = False) -> TrackerView:
    """What planning needs of the read, checked: a tab or header people deleted stops the run
    (the publishing columns only when it publishes: a tracker made before them still syncs)."""
    if not is_new:
        _require_tabs(read, schema, READ_TABS, optional=() if publishing else PUBLISH_FIELDS)
    warnings: list[str] = []
    posts_tab = schema.tab("posts")
    # Only the fields planning uses: a 100,000-row tracker stays small in memory.
    posts = index_records(read["posts"].records(posts_tab, SYNC_FIELDS["posts"]), posts_tab.key,
                          posts_tab.title, warnings)
    comments = keyed_comments(read["comments"], schema, warnings, _comment_fields(schema, publishing))
    return TrackerView(posts, comments, setup.roster, _checkpoints(read["sync_state"], schema),
                       warnings + setup.warnings,
                       tabs={code: read.tabs[tab.name] for code, tab in setup.tabs.items()},
                       tab_tables={code: read[tab.name] for code, tab in setup.tabs.items()},
                       request_posts=request_posts(read, schema, warnings),
                       requests_waiting=_waiting(read, schema, setup.roster))


def request_posts(read: Mapping[str, Table], schema: Schema,
                  warnings: list[str]) -> dict[str, tuple[str, str]]:
    """The Content tab's published posts: Post ID and Post link → (department, request)."""
    if "content" not in read or not read["content"].header:
        return {}
    out: dict[str, tuple[str, str]] = {}
    for rec in read["content"].records(schema.tab("content"), SYNC_FIELDS["content"]):
        request, department = rec.get("request").strip(), rec.get("department").strip()
        for value in (rec.get("post_id").strip(), rec.get("post_link").strip()):
            if value and request and department:
                if value in out and out[value][0] != department:
                    warnings.append(f"post {value} is given to two requests, {out[value][1]} and {request}; "
                                    f"its comments follow {out[value][1]}")
                    continue
                out.setdefault(value, (department, request))
    return out


def _waiting(read: Mapping[str, Table], schema: Schema, roster: Roster) -> dict[str, list]:
    if "content" not in read or not read["content"].header:
        return {}
    return waiting_requests(read["content"].records(schema.tab("content"), SYNC_FIELDS["content"]), roster,
                            month_first=read["content"].dates_month_first)


def _without_archived(batches: dict[str, Batch], view: TrackerView, backend: Backend,
                      schema: Schema) -> dict[str, Batch]:
    """The sources' records without the comments the archive holds (archive_known.py)."""
    from sheets_sync.archive_known import drop_archived
    from sheets_sync.archive_run import archive_stores

    out, notes = drop_archived(batches, view.comments, view.posts, view.checkpoints, schema,
                               lambda: archive_stores(backend))
    view.warnings.extend(notes)
    return out


CELL_LIMIT = 10_000_000  # Google's per spreadsheet; the workbook is held to the same budget
CELL_WARNING = 0.8


def cell_budget(cells: int | None) -> list[str]:
    """A warning once the tracker holds 80 % of a spreadsheet's cell limit."""
    if cells is None or cells < CELL_WARNING * CELL_LIMIT:
        return []
    return [f"the tracker holds {cells:,} cells, {cells / CELL_LIMIT:.0%} of the 10,000,000-cell limit of a "
            "spreadsheet; run `python cli.py archive` to move closed old comments out"]


def _comment_fields(schema: Schema, publishing: bool = False) -> list[str]:
    # Publishing names the citizen (Instagram answers a reply to a reply with @username).
    return [c.field for c in schema.tab("comments").columns
            if c.field not in UNCHANGING or publishing and c.field == "author"]


def _require_tabs(read: Mapping[str, Table], schema: Schema, names: Iterable[str], *,
                  optional: Iterable[str] = ()) -> None:
    for name in names:
        tab = schema.tab(name)
        if not read[name].header:
            raise missing_tab(tab)
        skip = set(optional) if name == "comments" else set()
        fields = [c.field for c in tab.columns if c.field not in skip] if skip else None
        require_headers(read[name], tab, fields)


def cell_editors(schema: Schema) -> list[str]:
    access = schema.extra.get("access") or {}
    return [str(e).strip() for e in access.get("cell_editors") or [] if str(e).strip()]


def describe(changes: Sequence[Change], tabs: Mapping[str, Tab]) -> list[str]:
    """One line per planned change, for --dry-run (``tabs``: :attr:`SyncResult.tabs`)."""
    lines = []
    for change in changes:
        tab = tabs[change.tab]
        if isinstance(change, AddRow):
            v = change.values
            if change.tab == "posts":
                lines.append(f"add post {v['platform']} {v['post_id']} → {v['department']} "
                             f"({v['routed_by']})")
            elif change.tab == "comments":
                text = v["text"].replace("\n", " ")
                lines.append(f"add comment {v['platform']} {v['comment_id']} → {v['department']} "
                             f"[{v['category']}] {text[:60]!r}")
            else:
                lines.append(f"add row to {tab.title}: " + ", ".join(
                    f"{k}={str(x)[:40]}" for k, x in change.values.items()))
        elif isinstance(change, ReplaceRows):
            lines.append(f"update tab {tab.title!r}: {len(change.rows)} row(s) after the run")
        elif isinstance(change, DeleteTab):
            lines.append(f"delete tab {tab.title!r} (its department left the roster)")
        elif isinstance(change, UpdateRow):
            values = ", ".join(f"{tab.header_of(k)} → {str(x)[:60]!r}" for k, x in change.values.items())
            lines.append(f"update {tab.title} {' '.join(change.key)}: {values}"
                         + (f" ({change.reason})" if change.reason else ""))
        # A CopyCells is part of its tab's update: no line of its own.
    return lines


def _prepare(session: TrackerSession, schema: Schema, roster_path, dry_run: bool) -> list[str]:
    if not session.is_new():
        return []
    if dry_run:
        return ["would create the tracker's tabs (run `python cli.py init` or a sync without --dry-run)"]
    return session.ensure_structure(list(load_roster_file(roster_path)),
                                    cell_editors=cell_editors(schema))


def _fetch(sources: Sequence[Source], checkpoints: Mapping[str, str]) -> tuple[dict[str, Batch], list[str]]:
    """Fetch every source. With one source its failure stops the run before any write;
    with several, a failing one is reported and the others' rows are still written."""
    batches: dict[str, Batch] = {}
    errors: list[str] = []
    for source in sources:
        try:
            batches[source.name] = source.fetch(checkpoints.get(source.name))
        except (InputError, SourceError) as exc:
            if len(sources) == 1:
                if source.name.startswith("files:"):
                    raise  # its messages already name the file, line and column
                raise type(exc)(f"{source.name}: {exc}") from None
            errors.append(f"{source.name}: {exc}")
    return batches, errors


def _checkpoints(table: Table, schema: Schema) -> dict[str, str]:
    tab = schema.tab("sync_state")
    if not table.header:
        return {}
    require_headers(table, tab)
    return {r.get("source").strip(): r.get("checkpoint") for r in table.records(tab)
            if r.get("source").strip()}


def _stamp(now: datetime | None) -> str:
    return to_sheet(now or now_ist())


def publishing_summary(result: SyncResult) -> dict:
    """What a publishing run did (or, in a dry run, would do), for the summary and --json."""
    plan = result.plan.publishing
    out = {"attempt": plan.attempt, "recovered": len(plan.recovered),
           "to_send": [{"platform": a.key[0], "comment_id": a.key[1], "action": a.kind,
                        "department": a.department, "text": a.reply.text} for a in plan.actions]}
    done = result.published
    if done is not None:
        out.update(posted=done.posted, hidden=done.hidden, refused=list(done.refused),
                   uncertain=list(done.uncertain), not_sent=list(done.not_tried),
                   token_errors=list(done.token_errors))
    return out
