"""Benchmark: sync N new comments over 56 departments into a Google tracker of M rows.

Runs against the local Sheets API fake on loopback (started here as a separate
process), so it measures the job's requests, bytes, wall time, its own CPU time
(the rest of the wall time is the fake working) and peak memory — not Google's
latency. Each measured sync runs in its own child process so
that its peak memory is its own.

    python benchmarks/bench_sync.py                  # the full table (about 20 minutes)
    python benchmarks/bench_sync.py --quick          # 1,000 and 10,000 only

The existing rows are like a tracker in use: all but ``--open-share`` (5 %) of
them answered (Status "Replied" and a reply), so the departments' tabs hold the
rest. The last line is the worst case: every existing comment still open.

For the smaller sizes it also does the same work the naive way (gspread
``append_row`` per comment) and prints the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sheets_sync.models import Comment, Post  # noqa: E402
from sheets_sync.sources.base import Batch, Source  # noqa: E402
from sheets_sync.timeutil import IST  # noqa: E402

WORDS = ["कचरा", "पाणी", "रस्ता", "खड्डे", "garbage", "water", "pothole", "please", "कृपया",
         "लवकर", "ward", "14", "🙏", "नाही", "आज", "कब", "पानी", "सफाई", "complaint"]


class GeneratedSource(Source):
    """``count`` comments, ids from ``start``, on 5 posts per department."""

    def __init__(self, departments: list[str], count: int, start: int = 0) -> None:
        self.name = "bench"
        self.departments, self.count, self.start = departments, count, start

    def fetch(self, checkpoint):
        rng = random.Random(self.start)
        base = datetime(2026, 11, 20, 9, 0, tzinfo=IST)
        posts = [Post("facebook", f"{d}_{i}", base, f"{d} post {i}", f"https://fb.example/{d}/{i}", d)
                 for d in self.departments for i in range(5)]
        comments = []
        for n in range(self.start, self.start + self.count):
            p = posts[n % len(posts)]
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 30)))
            comments.append(Comment("facebook", f"c{n:08d}", p.post_id, "", f"नागरिक {n % 997}",
                                    str(10_000 + n), base + timedelta(minutes=n % 5000), text,
                                    f"https://fb.example/c/{n}"))
        return Batch(posts=posts, comments=comments)


def start_fake(key: Path) -> tuple[subprocess.Popen, str]:
    """The fake in its own process; it writes the key it trusts (only its own) to ``key``."""
    proc = subprocess.Popen([sys.executable, "-m", "sheets_sync.testing.fake_sheets", "--port", "0",
                             "--key", str(key)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    for line in proc.stdout:
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        if match:
            return proc, match.group(0)
    raise RuntimeError("the fake did not print its URL")


def child(args) -> None:
    """Run one measured sync and print its figures as JSON (in a child process)."""
    from sheets_sync.backends.gsheets import GoogleSheetsBackend
    from sheets_sync.schema import load_schema
    from sheets_sync.sync import run_sync

    departments = json.loads(args.departments)
    started = time.perf_counter()
    result = run_sync(GoogleSheetsBackend(args.sheet, credentials=args.key), [
        GeneratedSource(departments, args.new, args.offset)], load_schema(), now=datetime.now(IST))
    seconds = time.perf_counter() - started
    peak_mb = peak_memory_mb()
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "cpu": time.process_time(),
                      "added": result.summary()["comments_added"]}))


def peak_memory_mb() -> float:
    """This process's peak resident memory. ru_maxrss would count the parent's memory
    at fork time; VmHWM belongs to the process image after exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(url: str, key: str, sheet: str, departments: list[str], new: int, offset: int) -> dict:
    env = dict(os.environ, SHEETS_SYNC_API_ENDPOINT=url)
    out = subprocess.run([sys.executable, __file__, "--child", "--sheet", sheet, "--key", key,
                          "--new", str(new), "--offset", str(offset),
                          "--departments", json.dumps(departments)],
                         env=env, capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise SystemExit(f"the measured sync failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def api_log(url: str) -> list[dict]:
    return requests.get(f"{url}/_fake/requests", timeout=60).json()


def answer_most(gc, sheet: str, schema, existing: int, open_share: float) -> None:
    """Mark all but ``open_share`` of the existing comments answered, in one request."""
    if open_share >= 1:
        return
    ws = gc.open_by_key(sheet).worksheet(schema.tab("comments").title)
    header = ws.row_values(1)
    status = header.index(schema.tab("comments").header_of("status"))
    reply = header.index(schema.tab("comments").header_of("reply"))
    assert reply == status + 1, "the bench expects Reply right after Status"
    every = max(1, round(1 / open_share)) if open_share > 0 else 0
    values = [["Pending", ""] if every and n % every == 0 else ["Replied", "उत्तर दिले / replied"]
              for n in range(existing)]
    start = chr(ord("A") + status)
    ws.update(values, f"{start}2", value_input_option="RAW")


def steady_state(gc, url: str, key: Path, departments: list[str], schema, existing: int,
                 open_share: float) -> None:
    """The everyday syncs: nothing new, 10 and 600 new comments, into a tracker in use."""
    from sheets_sync.backends.gsheets import GoogleSheetsBackend
    from sheets_sync.sync import init_tracker, run_sync

    print(f"\nSteady state: syncs into a tracker of {existing:,} comments, {len(departments)} departments")
    print(f"{'new':>7} {'requests':>8} {'sent KB':>8} {'recv KB':>8} {'largest KB':>10}")
    sheet = gc.create(f"bench steady {existing}").id
    backend = GoogleSheetsBackend(sheet, credentials=str(key))
    init_tracker(backend, schema)
    run_sync(backend, [GeneratedSource(departments, existing, 10_000_000)], schema)
    answer_most(gc, sheet, schema, existing, open_share)
    run_sync(backend, [], schema)
    offset = 0
    for new in (0, 10, 600):
        requests.delete(f"{url}/_fake/requests", timeout=30)
        figures = run_child(url, str(key), sheet, departments, new, offset)
        offset += new
        log = api_log(url)
        assert figures["added"] == new, figures
        print(f"{new:>7,} {len(log):>8} {sum(r['request_bytes'] for r in log) / 1e3:>8.1f} "
              f"{sum(r['response_bytes'] for r in log) / 1e3:>8.1f} "
              f"{max(r['request_bytes'] for r in log) / 1e3:>10.1f}", flush=True)
    gc.del_spreadsheet(sheet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--open-share", type=float, default=0.05,
                        help="share of the existing comments still waiting for a reply")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for name in ("sheet", "key", "departments"):
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
    parser.add_argument("--new", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--offset", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    from sheets_sync.backends.gsheets import GoogleSheetsBackend, load_credentials
    from sheets_sync.endpoint import session_for
    from sheets_sync.roster import load_roster_file
    from sheets_sync.schema import load_schema
    from sheets_sync.sync import init_tracker, run_sync

    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 50_000]
    existing_sizes = [0, 10_000] if args.quick else [0, 10_000, 100_000]
    departments = [d.code for d in load_roster_file()]
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    key = tmp / "key.json"
    proc, url = start_fake(key)
    os.environ["SHEETS_SYNC_API_ENDPOINT"] = url
    creds = load_credentials(key)
    import gspread

    gc = gspread.Client(auth=creds, session=session_for(credentials=creds))
    rows = []
    try:
        print(f"{len(departments)} departments; fake Sheets API at {url}\n")
        print(f"{'existing':>9} {'new':>7} {'requests':>8} {'sent MB':>8} {'recv MB':>8} "
              f"{'seconds':>8} {'job CPU s':>9} {'peak MB':>8}")
        schema = load_schema()
        cases = [(existing, new, args.open_share) for existing in existing_sizes for new in sizes]
        cases.append((existing_sizes[-1], sizes[1], 1.0))  # the worst case: nothing answered
        for existing, new, open_share in cases:
            sheet = gc.create(f"bench {existing} {new}").id
            backend = GoogleSheetsBackend(sheet, credentials=str(key))
            init_tracker(backend, schema)
            if existing:
                run_sync(backend, [GeneratedSource(departments, existing, 10_000_000)], schema)
                answer_most(gc, sheet, schema, existing, open_share)
                run_sync(backend, [], schema)  # the tabs as a tracker in use has them
            requests.delete(f"{url}/_fake/requests", timeout=30)
            figures = run_child(url, str(key), sheet, departments, new, 0)
            log = api_log(url)
            assert figures["added"] == new, figures
            row = {"existing": existing, "new": new, "requests": len(log),
                   "sent_mb": sum(r["request_bytes"] for r in log) / 1e6,
                   "received_mb": sum(r["response_bytes"] for r in log) / 1e6,
                   "seconds": figures["seconds"], "cpu": figures["cpu"], "peak_mb": figures["peak_mb"]}
            rows.append(row)
            note = "" if open_share == args.open_share else "  (worst case: every existing comment open)"
            print(f"{existing:>9,} {new:>7,} {row['requests']:>8} {row['sent_mb']:>8.2f} "
                  f"{row['received_mb']:>8.2f} {row['seconds']:>8.2f} {row['cpu']:>9.2f} "
                  f"{row['peak_mb']:>8.0f}{note}", flush=True)
            gc.del_spreadsheet(sheet)
        steady_state(gc, url, key, departments, schema, 1_000 if args.quick else 10_000, args.open_share)
        naive_sizes = [1_000]
        print("\nThe naive way: gspread append_row per comment, into an empty tracker")
        for new in naive_sizes:
            sh = gc.create(f"naive {new}")
            ws = sh.sheet1
            headers = schema.tab("comments").headers
            ws.resize(cols=max(26, len(headers)))  # the Comments tab has more than 26 columns
            ws.update([headers], "A1")
            requests.delete(f"{url}/_fake/requests", timeout=30)
            batch = GeneratedSource(departments, new).fetch(None)
            started = time.perf_counter()
            for c in batch.comments:
                ws.append_row([c.platform, c.comment_id, c.post_id, c.parent_id, "", str(c.commented_at),
                               c.author, c.author_id, c.text, c.url], value_input_option="RAW")
            seconds = time.perf_counter() - started
            count = len(api_log(url))
            ours = next(r for r in rows if r["existing"] == 0 and r["new"] == new)
            print(f"  {new:,} comments: {count:,} requests in {seconds:.1f} s; sheets-sync: "
                  f"{ours['requests']} requests in {ours['seconds']:.2f} s "
                  f"(×{count / ours['requests']:.0f} fewer requests, "
                  f"×{seconds / ours['seconds']:.1f} faster)")
            print(f"  at Google's 60 requests/minute per user the naive way needs "
                  f"{count / 60:.0f} minutes; sheets-sync one.")
            gc.del_spreadsheet(sh.id)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
