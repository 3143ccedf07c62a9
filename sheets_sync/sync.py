"""Running a sync: read the tracker, fetch from the sources, plan, apply in one write."""

from __future__ import annotations

import getpass
import logging
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sheets_sync.backends.base import Backend, TrackerSession
from sheets_sync.errors import ColumnsMoved, InputError, SourceError
from sheets_sync.pending import REGISTRY_PREFIX, TAB_FIELDS, pending_tabs, plan_follow_up
from sheets_sync.planner import Plan, TrackerView, index_records, log_row, plan_sync
from sheets_sync.roster import Roster, load_roster_file, roster_from_rows
from sheets_sync.schema import Schema
from sheets_sync.sources.base import Batch, Source
from sheets_sync.table import (
    AddRow,
    Change,
    DeleteTab,
    ReplaceRows,
    Table,
    UpdateRow,
    missing_tab,
    require_headers,
)
from sheets_sync.timeutil import now_ist, to_sheet

log = logging.getLogger(__name__)
SYNC_TABS = ("posts", "comments", "departments", "sync_state")
# The columns planning needs; the rest (citizen text above all) is not read back.
SYNC_FIELDS = {
    "posts": ["platform", "post_id", "department", "text"],
}
# A comment's own words never change once added: the text, author and link of
# the comments already in the tracker are read only when one enters a
# department's tab again (see plan_follow_up's ``missing``).
UNCHANGING = ("text", "author", "author_id", "url", "added_at")


def sync_fields(schema: Schema, tabs) -> dict[str, list[str]]:
    """Per tab, the columns a run reads (on backends where reading less is cheaper)."""
    fields = dict(SYNC_FIELDS)
    fields["comments"] = [c.field for c in schema.tab("comments").columns if c.field not in UNCHANGING]
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
    schema: Schema | None = None  # with the departments' tabs, for describe()

    def summary(self) -> dict:
        out = {"tracker": self.tracker, "sources": self.sources, "dry_run": self.dry_run}
        out.update(self.plan.summary())
        out["source_errors"] = list(self.source_errors)
        out["structure"] = list(self.structure)
        out["seconds"] = round(self.seconds, 2)
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
             dry_run: bool = False, command: str = "sync", follow_up: bool = True) -> SyncResult:
    """Add new posts and comments, flag overdue replies, rebuild the departments' tabs.

    With no sources it only does the last two (``tabs`` and ``overdue``).
    """
    try:
        return _sync_once(backend, sources, schema, roster_path=roster_path, now=now, dry_run=dry_run,
                          command=command, follow_up=follow_up)
    except ColumnsMoved as exc:
        # The write was put right in its columns; a new run reads the new layout and
        # finishes (the sources are read again: what was written is not added twice).
        log.warning("%s; running again", exc)
        return _sync_once(backend, sources, schema, roster_path=roster_path, now=now, dry_run=dry_run,
                          command=command, follow_up=follow_up)


def _sync_once(backend: Backend, sources: Sequence[Source], schema: Schema, *,
               roster_path: Path | str | None, now: datetime | None, dry_run: bool, command: str,
               follow_up: bool) -> SyncResult:
    started = time.monotonic()
    now = now or now_ist()
    with backend.open(schema, write=not dry_run) as session:
        structure = _prepare(session, schema, roster_path, dry_run)
        # Checkpoints are read before fetching, so slow platforms never hold the lock.
        state = session.read(["sync_state"])["sync_state"]
        checkpoints = _checkpoints(state, schema)
        registry = registered_tabs(checkpoints)
        batches, source_errors = _fetch(sources, checkpoints)
        # The departments' tabs as they stand now are read (and locked) with the rest.
        known = pending_tabs(schema, Roster([]), registry) if follow_up else {}
        session.schema = schema.with_tabs(list(known.values()))
        names = [*SYNC_TABS, *(t.name for t in known.values())]
        fields = sync_fields(schema, known.values()) if session.partial_reads else SYNC_FIELDS
        if not dry_run:
            session.lock(names)
        tables = session.read(names, fields=fields)
        view = _view(tables, schema, roster_path, session.is_new(), fields.get("comments"))
        plan = plan_sync(view, batches, schema, now, command=command, cell_limit=session.cell_limit)
        extra: list[Change] = []
        if follow_up and schema.pending_tab is not None:
            extra, structure_done = _follow_up(session, schema, view, plan, tables, registry, now, dry_run,
                                               batches)
            structure += structure_done
        seconds = time.monotonic() - started
        if not dry_run and (command != "init" or plan.changes or extra):
            entry = log_row(plan, command=command, source=", ".join(s.name for s in sources),
                            now=now, seconds=seconds, run_by=run_by(), errors=source_errors)
            session.apply([*plan.changes, *extra, entry])
        plan.changes += extra
        final = session.schema
    return SyncResult(backend.location, [s.name for s in sources], plan, dry_run, structure,
                      source_errors, time.monotonic() - started, final)


def _follow_up(session: TrackerSession, schema: Schema, view: TrackerView, plan: Plan,
               tables: dict[str, Table], registry: dict[str, str], now: datetime,
               dry_run: bool, batches: dict[str, Batch]) -> tuple[list[Change], list[str]]:
    """Harvest the departments' tabs, flag overdue comments, rebuild the tabs."""
    tabs = pending_tabs(schema, view.roster, registry)
    # A tab a person renamed keeps its new name: the backend found it by its id.
    for code, tab in list(tabs.items()):
        current = session.schema.tabs.get(tab.name)
        if current is not None and current.title != tab.title:
            tabs[code] = current
    session.schema = schema.with_tabs(list(tabs.values()))
    done: list[str] = []
    if not dry_run:
        # Create new departments' tabs; repair what someone broke (protections,
        # frozen header, a deleted tab). Costs a request only when something is off.
        done = session.ensure_structure(list(view.roster),
                                        only=["posts", "comments", *(t.name for t in tabs.values())],
                                        cell_editors=cell_editors(schema))
    # The rows as read (not copied: a 100,000-row tracker), with this run's updates.
    comments = {k: r.values for k, r in view.comments.items()}
    for change in plan.changes:
        if isinstance(change, UpdateRow) and change.tab == "comments" and change.key in comments:
            comments[change.key] = {**comments[change.key],
                                    **{k: str(v) for k, v in change.values.items()}}
    new_rows = [c.values for c in plan.changes if isinstance(c, AddRow) and c.tab == "comments"]
    posts_text = {k: r.get("text") for k, r in view.posts.items()}
    posts_text.update({(c.values["platform"], c.values["post_id"]): c.values["text"]
                       for c in plan.changes if isinstance(c, AddRow) and c.tab == "posts"})
    by_code = {code: tables.get(tab.name, Table(tab.title, [])) for code, tab in tabs.items()}
    follow = plan_follow_up(schema=schema, roster=view.roster, comments=comments, new_rows=new_rows,
                            posts_text=posts_text, tabs=tabs, tables=by_code, registry=registry,
                            as_of=now, now=now, rows_at={k: r.row for k, r in view.comments.items()},
                            exported={c.key: c.commented_at for b in batches.values() for c in b.comments})
    if follow.missing:
        # Comments (re)entering a tab whose words were not read: one more read, of just those.
        found = session.read_rows("comments", list(follow.missing), ["text", "author", "url"])
        for key, rows in follow.missing.items():
            for row in rows:
                row.update(found.get(key, {}))
    changes = list(follow.changes)
    stamp = to_sheet(now)
    for code, tab in tabs.items():
        key = f"{REGISTRY_PREFIX}{code}"
        if code not in view.roster:
            # Harvested above in this same write; now the tab can go.
            changes += [DeleteTab(tab.name),
                        UpdateRow("sync_state", (key,), {"checkpoint": "", "updated_at": stamp})]
        elif registry.get(code) != tab.title:
            values = {"source": key, "checkpoint": tab.title, "updated_at": stamp}
            changes.append(UpdateRow("sync_state", (key,), values) if key in view.checkpoints
                           else AddRow("sync_state", values))
    plan.rows_updated += sum(1 for c in follow.changes if isinstance(c, UpdateRow))
    plan.harvested = follow.harvested
    plan.conflicts = follow.conflicts
    plan.overdue = follow.overdue
    plan.tabs_rewritten = follow.tabs_rewritten
    plan.warnings += [f"conflict in {c}: see the Sync notes column" for c in follow.conflicts]
    plan.warnings += follow.warnings
    return changes, done


def registered_tabs(checkpoints: dict[str, str]) -> dict[str, str]:
    """Department code → title of its tab, as the Sync State tab remembers them."""
    return {k[len(REGISTRY_PREFIX):]: v for k, v in checkpoints.items()
            if k.startswith(REGISTRY_PREFIX) and v.strip()}


def cell_editors(schema: Schema) -> list[str]:
    access = schema.extra.get("access") or {}
    return [str(e).strip() for e in access.get("cell_editors") or [] if str(e).strip()]


def describe(changes: Sequence[Change], schema: Schema) -> list[str]:
    """One line per planned change, for --dry-run."""
    lines = []
    for change in changes:
        tab = schema.tab(change.tab)
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
    return lines


def _prepare(session: TrackerSession, schema: Schema, roster_path, dry_run: bool) -> list[str]:
    if not session.is_new():
        return []
    if dry_run:
        return ["would create the tracker's tabs (run `python cli.py init` or a sync without --dry-run)"]
    return session.ensure_structure(list(load_roster_file(roster_path)),
                                    cell_editors=cell_editors(schema))


def _fetch(sources: Sequence[Source], checkpoints: dict[str, str]) -> tuple[dict[str, Batch], list[str]]:
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


def _view(tables: dict[str, Table], schema: Schema, roster_path, is_new: bool,
          comment_fields: list[str] | None = None) -> TrackerView:
    warnings: list[str] = []
    if not is_new:
        for name in SYNC_TABS:
            table = tables[name]
            tab = schema.tab(name)
            if not table.header:
                raise missing_tab(tab)
            require_headers(table, tab)
    posts_tab, comments_tab = schema.tab("posts"), schema.tab("comments")
    # Only the fields planning uses: a 100,000-row tracker stays small in memory.
    posts = index_records(tables["posts"].records(posts_tab, SYNC_FIELDS["posts"]), posts_tab.key,
                          posts_tab.title, warnings)
    comments = index_records(tables["comments"].records(comments_tab, comment_fields), comments_tab.key,
                             comments_tab.title, warnings)
    dept_tab = schema.tab("departments")
    rows = [(r.row, r.values) for r in tables["departments"].records(dept_tab)]
    roster, roster_warnings = roster_from_rows(rows, dept_tab.title)
    warnings += roster_warnings
    if not len(roster):
        roster = load_roster_file(roster_path)
        if not is_new:
            warnings.append(f"the {dept_tab.title} tab has no departments; routed with the roster "
                            "file instead (run `python cli.py init` to fill the tab)")
    return TrackerView(posts, comments, roster, _checkpoints(tables["sync_state"], schema), warnings)


def _stamp(now: datetime | None) -> str:
    return to_sheet(now or now_ist())
