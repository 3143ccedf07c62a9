"""Benchmark (#16): a year's tracker, unarchived and archived, on a workbook and on Google.

A tracker with a year of history — 100,000 comments by default, 95 % of them
answered, spread over the 56 departments' posts (one post a department every
three days), and a Sync Log of 40,000 runs — is measured in one run in two
states:

- **unarchived**: every row still in the live tracker;
- **archived**: after ``jobs.archive`` (comments closed and older than 30 days,
  posts with no live comment left, Sync Log rows older than 90 days moved out).
  Where ``sheets_sync.jobs.archive`` does not exist yet, the live tracker is built
  with only what it keeps (what is open, and the last 30 days; the Sync Log's last
  90 days), and the table says "simulated".

For each: the time and peak memory of a workbook sync that adds 1,000 comments,
and the requests, bytes read and time of a steady-state sync (nothing new) on the
local Google Sheets fake. Each measured sync runs in its own process (its peak
memory is its own, as in bench_sync.py).

    python benchmarks/bench_archive.py                  # 100,000 comments (about 15 minutes)
    python benchmarks/bench_archive.py --comments 20000 # smaller, quicker
    python benchmarks/bench_archive.py --no-google      # the workbook only
    python benchmarks/bench_archive.py --no-google --archived-only  # the archived workbook only

The workbook is built directly (openpyxl's write-only mode, from the rows the
planner makes for the generated comments), not through thousands of syncs; one
``init`` then furnishes it and builds the departments' tabs, as a tracker in use
has them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_sync import api_log, peak_memory_mb, start_fake  # noqa: E402

from sheets_sync.models import Comment, Post  # noqa: E402
from sheets_sync.sources.base import Batch, Source  # noqa: E402
from sheets_sync.timeutil import IST, to_sheet  # noqa: E402

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=IST)
YEAR = timedelta(days=365)
POST_EVERY = timedelta(days=3)
KEEP_DAYS, KEEP_LOG_DAYS = 30, 90
WORDS = ["कचरा", "पाणी", "रस्ता", "खड्डे", "garbage", "water", "pothole", "please", "कृपया",
         "लवकर", "ward", "14", "🙏", "नाही", "आज", "कब", "पानी", "सफाई", "complaint"]


@dataclass(frozen=True)
class Year:
    """The generated history: posts and comments over the year before ``NOW``."""

    departments: list[str]
    comments: int
    open_share: float = 0.05

    def posts(self) -> list[Post]:
        out = []
        for n in range(int(YEAR / POST_EVERY) + 1):
            at = NOW - YEAR + n * POST_EVERY
            out += [Post("facebook", f"{d}_{n}", at, f"{d} post {n}: पाणीपुरवठा / works",
                         f"https://fb.example/{d}/{n}", d) for d in self.departments]
        return out

    def comment(self, n: int, *, start: datetime | None = None, step: timedelta | None = None) -> Comment:
        step = step or YEAR / self.comments
        at = (start or NOW - YEAR) + n * step
        d = self.departments[n % len(self.departments)]
        post = f"{d}_{int((at - (NOW - YEAR)) / POST_EVERY)}"
        words = " ".join(WORDS[(n * 7 + k * 3) % len(WORDS)] for k in range(5 + n % 25))
        return Comment("facebook", f"c{n:08d}", post, "", f"नागरिक {n % 997}", str(10_000 + n), at,
                       words, f"https://fb.example/c/{n}")

    def is_open(self, n: int) -> bool:
        return n % round(1 / self.open_share) == 0

    def kept(self, n: int) -> bool:
        """Whether archiving keeps comment ``n`` in the live tracker."""
        return self.is_open(n) or NOW - self.comment(n).commented_at <= timedelta(days=KEEP_DAYS)


class ListSource(Source):
    def __init__(self, batch: Batch, name: str = "bench") -> None:
        self.name, self.batch = name, batch

    def fetch(self, checkpoint):
        return self.batch


def new_comments(year: Year, count: int) -> Batch:
    """``count`` comments of the last hours, under the latest posts (already in the tracker)."""
    comments = []
    for n in range(count):
        c = year.comment(n, start=NOW - timedelta(hours=6), step=timedelta(seconds=20))
        comments.append(Comment(c.platform, f"new{n:07d}", c.post_id, "", c.author, c.author_id,
                                c.commented_at, c.text, c.url))
    return Batch(posts=[], comments=comments)


# -- building the tracker ------------------------------------------------------------------

def build_workbook(path: Path, year: Year, *, archived: bool, log_runs: int) -> None:
    """A workbook tracker holding the year (or what archiving keeps of it), then furnished."""
    import openpyxl

    from sheets_sync.planner import TrackerView, plan_run
    from sheets_sync.roster import load_roster_file
    from sheets_sync.schema import load_schema
    from sheets_sync.sync import init_tracker
    from sheets_sync.table import AddRow

    schema = load_schema()
    numbers = [n for n in range(year.comments) if not archived or year.kept(n)]
    batch = Batch(posts=year.posts(), comments=[year.comment(n) for n in numbers])
    plan = plan_run(TrackerView({}, {}, load_roster_file()), {"bench": batch}, schema, NOW)
    rows: dict[str, list[dict]] = {"posts": [], "comments": []}
    for change in plan.changes:
        if isinstance(change, AddRow) and change.tab in rows:
            rows[change.tab].append(dict(change.values))
    live_posts = {r["post_id"] for r in rows["comments"]}
    if archived:  # a post goes with its last comment, once it is older than 30 days too
        recent = {p.post_id for p in batch.posts if NOW - p.posted_at <= timedelta(days=KEEP_DAYS)}
        rows["posts"] = [r for r in rows["posts"] if r["post_id"] in live_posts | recent]
    opened = {f"c{n:08d}" for n in numbers if year.is_open(n)}
    for r in rows["comments"]:
        if r["comment_id"] not in opened:
            r.update(status="Replied", reply="उत्तर दिले / replied", replied_by="bench")
    wb = openpyxl.Workbook(write_only=True)
    for name in ("posts", "comments", "departments", "sync_log", "sync_state"):
        tab = schema.tab(name)
        ws = wb.create_sheet(tab.title)
        ws.append([c.header for c in tab.columns])
        for r in rows.get(name, []):
            ws.append([r.get(c.field, "") or None for c in tab.columns])
        if name == "sync_log":
            for r in sync_log(log_runs, archived):
                ws.append([r.get(c.field) for c in tab.columns])
    wb.save(path)
    init_tracker(_workbook(path), schema, now=NOW)  # layout, roster, departments' tabs


def sync_log(runs: int, archived: bool):
    every = YEAR / max(runs, 1)
    for n in range(runs):
        at = NOW - YEAR + n * every
        if archived and NOW - at > timedelta(days=KEEP_LOG_DAYS):
            continue
        yield {"run_at": to_sheet(at), "command": "sync", "source": "facebook", "posts_added": 0,
               "comments_added": n % 9, "rows_updated": n % 4, "held": 0, "errors": "",
               "seconds": 3, "run_by": "cron@bench"}


def _workbook(path: Path):
    from sheets_sync.backends.xlsx import XlsxBackend

    return XlsxBackend(path)


def archive_job():
    """H16a's ``jobs.archive``, where this checkout has it."""
    from sheets_sync import jobs

    return getattr(jobs, "archive", None)


def archived_copy(unarchived: Path, path: Path, year: Year, log_runs: int) -> bool:
    """The archived tracker at ``path``: by the archive job when there is one (True), else
    built with only what it keeps (False)."""
    job = archive_job()
    if job is None:
        build_workbook(path, year, archived=True, log_runs=log_runs)
        return False
    from sheets_sync.jobs import Tracker

    shutil.copy(unarchived, path)
    job(Tracker(location=str(path)), now=NOW)
    return True


# -- the measured runs (each in a child process) -------------------------------------------

def child(args) -> None:
    from sheets_sync.roster import load_roster_file
    from sheets_sync.schema import load_schema
    from sheets_sync.sync import run_sync

    year = Year([d.code for d in load_roster_file()], args.comments)
    if args.sheet:
        from sheets_sync.backends.gsheets import GoogleSheetsBackend

        backend = GoogleSheetsBackend(args.sheet, credentials=args.key)
    else:
        backend = _workbook(Path(args.workbook))
    sources = [ListSource(new_comments(year, args.new))] if args.new else []
    started = time.perf_counter()
    result = run_sync(backend, sources, load_schema(), now=NOW + timedelta(minutes=5))
    print(json.dumps({"seconds": time.perf_counter() - started, "cpu": time.process_time(),
                      "peak_mb": peak_memory_mb(), "added": result.summary()["comments_added"]}))


def run_child(comments: int, *, new: int, workbook: Path | None = None, sheet: str = "",
              key: str = "", url: str = "") -> dict:
    env = dict(os.environ, SHEETS_SYNC_API_ENDPOINT=url) if url else dict(os.environ)
    command = [sys.executable, __file__, "--child", "--comments", str(comments), "--new", str(new)]
    command += ["--sheet", sheet, "--key", key] if sheet else ["--workbook", str(workbook)]
    out = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise SystemExit(f"the measured sync failed:\n{out.stderr[-3000:]}")
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["added"] == new, figures
    return figures


def workbook_case(tmp: Path, year: Year, log_runs: int, new: int, *, archived_only: bool = False) -> dict:
    figures = {}
    unarchived = tmp / "unarchived.xlsx"
    started = time.perf_counter()
    build_workbook(unarchived, year, archived=False, log_runs=log_runs)
    print(f"  built the unarchived workbook in {time.perf_counter() - started:.0f} s", flush=True)
    archived = tmp / "archived.xlsx"
    by_job = archived_copy(unarchived, archived, year, log_runs)
    for state, path in (("unarchived", unarchived), ("archived", archived)):
        if archived_only and state == "unarchived":
            continue
        measured = tmp / f"measured-{state}.xlsx"
        shutil.copy(path, measured)
        figures[state] = run_child(year.comments, new=new, workbook=measured)
        figures[state]["rows"] = comment_rows(path)
        f = figures[state]
        print(f"  workbook, {state}: {f['rows']:,} comments, sync adding {new:,} in {f['seconds']:.2f} s "
              f"({f['cpu']:.1f} s CPU), peak {f['peak_mb']:.0f} MB", flush=True)
    figures["by_job"] = by_job
    return figures


def comment_rows(path: Path) -> int:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return wb["Comments"].max_row - 1
    finally:
        wb.close()


def google_case(tmp: Path, year: Year, log_runs: int) -> dict:
    import gspread
    import requests

    from sheets_sync.backends.gsheets import GoogleSheetsBackend, load_credentials
    from sheets_sync.endpoint import session_for

    key = tmp / "key.json"
    proc, url = start_fake(key)
    os.environ["SHEETS_SYNC_API_ENDPOINT"] = url
    try:
        creds = load_credentials(key)
        gc = gspread.Client(auth=creds, session=session_for(credentials=creds))
        figures = {}
        for state in ("unarchived", "archived"):
            sheet = gc.create(f"bench {state}").id
            fill_google(gc, GoogleSheetsBackend(sheet, credentials=str(key)), sheet, str(key), year,
                        archived=state == "archived")
            requests.delete(f"{url}/_fake/requests", timeout=60)
            run = run_child(year.comments, new=0, sheet=sheet, key=str(key), url=url)
            log = api_log(url)
            figures[state] = {**run, "requests": len(log),
                              "read_mb": sum(r["response_bytes"] for r in log) / 1e6,
                              "sent_mb": sum(r["request_bytes"] for r in log) / 1e6}
            gc.del_spreadsheet(sheet)
            f = figures[state]
            print(f"  Google fake, {state}: steady sync {f['requests']} requests, {f['read_mb']:.2f} MB "
                  f"read, {f['seconds']:.2f} s", flush=True)
        return figures
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def fill_google(gc, backend, sheet: str, key: str, year: Year, *, archived: bool) -> None:
    """The year (or what archiving keeps) on the fake: one sync adds it, then the answers.

    With the archive job, the unarchived tracker is archived by it instead."""
    from sheets_sync.schema import load_schema
    from sheets_sync.sync import init_tracker, run_sync

    schema = load_schema()
    init_tracker(backend, schema, now=NOW)
    job = archive_job()
    keep = (lambda n: year.kept(n)) if archived and job is None else (lambda n: True)
    numbers = [n for n in range(year.comments) if keep(n)]
    batch = Batch(posts=year.posts(), comments=[year.comment(n) for n in numbers])
    run_sync(backend, [ListSource(batch)], schema, now=NOW)
    opened = {f"c{n:08d}" for n in numbers if year.is_open(n)}
    ws = gc.open_by_key(sheet).worksheet(schema.tab("comments").title)
    header = ws.row_values(1)
    tab = schema.tab("comments")
    status, reply = (header.index(tab.header_of(f)) for f in ("status", "reply"))
    assert reply == status + 1, "the bench expects Reply right after Status"
    ids = ws.col_values(header.index(tab.header_of("comment_id")) + 1)[1:]
    values = [["Pending", ""] if c in opened else ["Replied", "उत्तर दिले / replied"] for c in ids]
    ws.update(values, f"{chr(ord('A') + status)}2", value_input_option="RAW")
    run_sync(backend, [], schema, now=NOW)  # the departments' tabs as a tracker in use has them
    if archived and job is not None:
        from sheets_sync.jobs import Tracker

        job(Tracker(location=sheet, credentials=key), now=NOW)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=100_000, help="comments of history")
    parser.add_argument("--log-runs", type=int, default=40_000, help="Sync Log rows of history")
    parser.add_argument("--new", type=int, default=1_000, help="comments the workbook sync adds")
    parser.add_argument("--no-google", action="store_true", help="measure the workbook only")
    parser.add_argument("--archived-only", action="store_true",
                        help="measure the archived tracker only (the unarchived workbook sync takes minutes)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for name in ("sheet", "key", "workbook"):
        parser.add_argument(f"--{name}", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    from sheets_sync.roster import load_roster_file

    year = Year([d.code for d in load_roster_file()], args.comments)
    tmp = Path(tempfile.mkdtemp(prefix="bench-archive-"))
    try:
        print(f"{args.comments:,} comments of history over {len(year.departments)} departments, "
              f"{args.log_runs:,} Sync Log rows; {time.strftime('%Y-%m-%d')}", flush=True)
        book = workbook_case(tmp, year, args.log_runs, args.new, archived_only=args.archived_only)
        cloud = None if args.no_google else google_case(tmp, year, args.log_runs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    how = "jobs.archive" if book["by_job"] else "simulated: built with what archiving keeps"
    print(f"\narchived = {how}\n")
    print(f"{'tracker':<11} {'live rows':>9} | {'workbook sync +' + format(args.new, ','):>22} "
          f"{'peak MB':>8} | {'Google steady sync':>18} {'read MB':>8} {'seconds':>8}")
    print(f"{'':<11} {'':>9} | {'seconds':>22} {'':>8} | {'requests':>18} {'':>8} {'':>8}")
    for state in [s for s in ("unarchived", "archived") if s in book]:
        w = book[state]
        g = cloud[state] if cloud else None
        google = (f"{g['requests']:>18} {g['read_mb']:>8.2f} {g['seconds']:>8.2f}" if g
                  else f"{'-':>18} {'-':>8} {'-':>8}")
        print(f"{state:<11} {w['rows']:>9,} | {w['seconds']:>22.2f} {w['peak_mb']:>8.0f} | {google}")
    measured = [s for s in ("unarchived", "archived") if s in book]
    print("\n(workbook job CPU s: " + ", ".join(f"{s} {book[s]['cpu']:.1f}" for s in measured) + ")")


if __name__ == "__main__":
    main()
