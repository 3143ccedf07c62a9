"""Benchmark: publish 200 approved replies over the four platforms' fakes.

The tracker is a Google spreadsheet on the local Sheets fake (in this process); the
platforms are the project's fakes of the Graph API (Facebook, Instagram), YouTube and
X, each holding 50 citizens' comments. The replies are typed and shown for approval
(one publishing run), ticked by the cell, then published (the run measured): its
Sheets requests, the platforms' write calls, the seconds (the shipped pacing between
two posts to one platform included).

    python benchmarks/bench_publish.py
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sheets_sync.schema import load_schema  # noqa: E402
from sheets_sync.sources import FileSource  # noqa: E402
from sheets_sync.sync import init_tracker, run_sync  # noqa: E402
from sheets_sync.testing.fake_sheets import FakeSheetsServer, make_service_account_key  # noqa: E402
from tests.helpers import comment, post, write_export, write_roster  # noqa: E402
from tests.publish_worlds import make_publisher  # noqa: E402
from tests.trackers import OWNER, GoogleHarness, _letter, _q  # noqa: E402

PER_PLATFORM = 50
REPLY = "नमस्कार, आपली तक्रार संबंधित विभागाकडे पाठवली आहे 🙏 — Ward office, today"


def seed(fakes: dict, now) -> tuple[list, list]:
    """Each platform: one post and PER_PLATFORM comments; the rows for the tracker."""
    from tests.platform_fixtures import CHANNEL_ID, IG_USER_ID, PAGE_ID, X_USER_ID

    posts, comments = [], []
    fb, ig, yt, x = fakes["facebook"], fakes["instagram"], fakes["youtube"], fakes["x"]
    fb.add_page(PAGE_ID, "PMC")
    fb.add_post(PAGE_ID, "111_1", now - timedelta(hours=5), "Water cut")
    ig.add_ig_user(IG_USER_ID, "pmc_official")
    ig.add_media(IG_USER_ID, "m1", now - timedelta(hours=5), "Water cut")
    yt.add_channel(CHANNEL_ID, "PMC")
    yt.add_video(CHANNEL_ID, "vid1", now - timedelta(hours=5), "Water cut")
    x.add_user(X_USER_ID, "PMCofficial")
    x.add_user("5550001", "asha")
    x.add_post(X_USER_ID, "1001", now - timedelta(hours=5), "Water cut")
    for platform, post_id in (("facebook", "111_1"), ("instagram", "m1"), ("youtube", "vid1"),
                              ("x", "1001")):
        posts.append(post(post_id, "पाणीपुरवठा बंद #Water", platform=platform, department="WS"))
    for n in range(PER_PLATFORM):
        at = now - timedelta(hours=4, minutes=n)
        ids = {"facebook": f"fb_{n}", "instagram": f"ig_{n}", "youtube": f"Ug{n}", "x": str(2000 + n)}
        fb.add_comment("111_1", ids["facebook"], at, f"पाणी कधी? {n}", author=("900", "Asha"))
        ig.add_ig_comment("m1", ids["instagram"], at, f"पाणी कधी? {n}", author=("178", "asha"))
        yt.add_comment("vid1", ids["youtube"], at, f"पाणी कधी? {n}", author=("UCasha", "Asha"))
        x.add_reply("1001", ids["x"], at, f"@PMCofficial पाणी कधी? {n}", author_id="5550001")
        for platform, post_id in (("facebook", "111_1"), ("instagram", "m1"), ("youtube", "vid1"),
                                  ("x", "1001")):
            comments.append(comment(ids[platform], post_id, f"पाणी कधी? {n}", platform=platform,
                                    at=at.isoformat(), author="asha"))
    return posts, comments


def type_column(harness: GoogleHarness, header: str, values: dict[str, str]) -> None:
    """The owner types ``values`` (comment id → text) in a Comments column, one cell each."""
    rows = harness.values("Comments")
    ids, col = rows[0].index("Comment ID"), rows[0].index(header)
    owner = harness.server.as_user(OWNER)
    for n, row in enumerate(rows[1:], start=2):
        if row[ids] in values:
            owner.edit(harness.sid, f"{_q('Comments')}!{_letter(col)}{n}", [[values[row[ids]]]], raw=True)


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    from sheets_sync.testing.fake_platforms import FakeGraph, FakeX, FakeYouTube
    from tests.platform_fixtures import NOW

    tmp = Path(tempfile.mkdtemp(prefix="bench-publish-"))
    with FakeSheetsServer() as sheets, FakeGraph() as fb, FakeGraph() as ig, FakeYouTube() as yt, \
            FakeX() as x:
        fakes = {"facebook": fb, "instagram": ig, "youtube": yt, "x": x}
        for fake in fakes.values():
            fake.now = NOW
        os.environ["SHEETS_SYNC_API_ENDPOINT"] = sheets.url
        key = tmp / "key.json"
        make_service_account_key("job@test-project.iam.gserviceaccount.com", sheets.token_uri, key)
        harness = GoogleHarness(sheets, key, "job@test-project.iam.gserviceaccount.com")
        schema = load_schema()
        roster = write_roster(tmp / "departments.yaml")
        init_tracker(harness.backend(), schema, roster_path=roster)
        posts, comments = seed(fakes, NOW)
        folder = write_export(tmp / "export", posts, comments)
        run_sync(harness.backend(), [FileSource(folder)], schema, roster_path=roster, now=NOW)
        sleeps: list[float] = []
        publishers = {p: make_publisher(p, f, {"facebook": fb.publish_token, "instagram": ig.publish_token,
                                              "youtube": yt.token, "x": x.user_token}[p], sleeps)
                      for p, f in fakes.items()}
        ids = {c["comment_id"] for c in comments}
        type_column(harness, "Reply", {i: REPLY for i in ids})
        run_sync(harness.backend(), [], schema, roster_path=roster, now=NOW, command="publish",
                 publishers=publishers, sleep=sleeps.append)  # shows them for approval
        type_column(harness, "Approve", {i: "TRUE" for i in ids})
        sheets.clear_requests()
        for fake in fakes.values():
            fake.requests.clear()
        started = time.perf_counter()
        paced = []
        result = run_sync(harness.backend(), [], schema, roster_path=roster, now=NOW, command="publish",
                          publishers=publishers, sleep=lambda s: (paced.append(s), time.sleep(s)))
        seconds = time.perf_counter() - started
        writes = {p: sum(1 for r in f.requests if r.method in ("POST", "PUT")) for p, f in fakes.items()}
        sheets_requests = [r for r in sheets.requests if not r["path"].startswith("/_fake")]
        posted = sum(1 for r in _records(harness) if r["Publish"].startswith("posted"))
        print(f"200 approved replies over 4 platforms: {posted} posted")
        print(f"  Sheets API requests in the run: {len(sheets_requests)} "
              f"({', '.join(r['method'] for r in sheets_requests)}); a run with nothing to post makes 4")
        print(f"  platform write calls: {writes} (one per reply)")
        print(f"  seconds: {seconds:.1f}, of which pacing sleeps {sum(paced):.1f}")
        print(f"  summary: {result.summary().get('publishing', {}).get('posted', '?')} posted")


def _records(harness):
    from tests.trackers import records

    return records(harness.values("Comments"))


if __name__ == "__main__":
    main()
