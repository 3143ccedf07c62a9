"""The four platforms' real fakes, served over HTTP, and a tracker whose comments are
theirs: the world the real publishers are tested in (tests/test_publish_real_*.py).

Facebook and Instagram share one Graph fake (as they share the Graph API); YouTube
and X have their own. ``n`` citizens' comments per platform, all routed to SWM,
are in the tracker (from an export, as a sync would have added them) and on the
fakes (so the publishers can answer them). What the tests count is what the fakes
logged: the POSTs each comment got and the corporation's replies each one holds.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path

from sheets_sync.publish.registry import PUBLISHERS
from sheets_sync.retry import RetryPolicy
from sheets_sync.schema import Schema, load_schema
from sheets_sync.sources import FileSource
from sheets_sync.sources.tokens import Secret
from sheets_sync.sync import run_sync
from sheets_sync.testing.fake_platforms import FakeGraph, FakeX, FakeYouTube
from sheets_sync.timeutil import parse_timestamp
from tests.helpers import comment, post, write_export
from tests.platform_fixtures import CHANNEL_ID, IG_USER_ID, PAGE_ID, X_USER_ID
from tests.trackers import records

PLATFORMS = ("facebook", "instagram", "youtube", "x")
NOW = parse_timestamp("2026-11-26T12:00:00+05:30")
ROOT = Path(__file__).resolve().parent.parent
ACCOUNTS = {"facebook": PAGE_ID, "instagram": IG_USER_ID, "youtube": CHANNEL_ID, "x": X_USER_ID}
POST_IDS = {"facebook": "111_1", "instagram": "m1", "youtube": "vid1", "x": "1001"}


def comment_id(platform: str, i: int) -> str:
    return {"facebook": f"1_c{i:03}", "instagram": f"ig_c{i:03}", "youtube": f"Ugc{i:03}",
            "x": f"2{i:04}"}[platform]


def reply_text(platform: str, i: int) -> str:
    """A reply per comment, each its own (X refuses a post that repeats one word for word)."""
    return f"नमस्कार, तक्रार {i} नोंदवली 🙏 & घंटागाडी उद्या <सकाळी> — SWM ({platform})"


class Fleet:
    """The fakes, their publishers and a tracker with ``n`` comments per platform."""

    def __init__(self, harness, roster_file: Path, tmp_path: Path, *, n: int = 1,
                 real_time: bool = False, schema: Schema | None = None) -> None:
        self.harness, self.roster_file, self.tmp_path, self.n = harness, roster_file, tmp_path, n
        self.schema = schema or load_schema()
        self.now = NOW
        self.real_time = real_time  # a run in another process keeps its own (real) clock
        self.sleeps: list[float] = []
        self._stack = ExitStack()
        self.graph = self._stack.enter_context(FakeGraph(page_size=25))
        self.youtube = self._stack.enter_context(FakeYouTube(page_size=25))
        self.x = self._stack.enter_context(FakeX(page_size=25))
        self.fakes = {"facebook": self.graph, "instagram": self.graph, "youtube": self.youtube, "x": self.x}
        self._tick()
        self._seed()
        self.publishers = {p: self.publisher(p) for p in PLATFORMS}
        self.export = self._export(tmp_path / "export")
        run_sync(harness.backend(), [FileSource(self.export)], self.schema, roster_path=roster_file, now=NOW)

    def close(self) -> None:
        self._stack.close()

    # -- time ----------------------------------------------------------------------
    def _tick(self) -> None:
        # The platforms' clocks follow the run's (a reply is a few seconds younger than
        # the intent written before it); in real time they keep their own.
        for fake in (self.graph, self.youtube, self.x):
            fake.now = None if self.real_time else self.now + timedelta(seconds=5)

    def at(self, minutes: float) -> datetime:
        self.now = NOW + timedelta(minutes=minutes)
        self._tick()
        return self.now

    def platform_now(self) -> datetime:
        return self.graph.current_time()

    # -- the platforms ---------------------------------------------------------------
    def _seed(self) -> None:
        posted = NOW - timedelta(hours=5)
        self.graph.add_page(PAGE_ID, "PMC")
        self.graph.add_post(PAGE_ID, "111_1", posted, "घंटागाडी वेळापत्रक #SwachhMahanagar")
        self.graph.add_ig_user(IG_USER_ID, "pmc_official")
        self.graph.add_media(IG_USER_ID, "m1", posted, "कचरा #SwachhMahanagar")
        self.youtube.add_channel(CHANNEL_ID, "PMC")
        self.youtube.add_video(CHANNEL_ID, "vid1", posted, "कचरा #SwachhMahanagar")
        self.x.add_user(X_USER_ID, "PMCofficial")
        self.x.add_post(X_USER_ID, "1001", posted, "कचरा #SwachhMahanagar")
        for i in range(self.n):
            at = NOW - timedelta(hours=4) + timedelta(seconds=i)
            text = f"घंटागाडी आली नाही {i} 😡"
            self.graph.add_comment("111_1", comment_id("facebook", i), at, text, author=(f"9{i:03}", "Asha"))
            self.graph.add_ig_comment("m1", comment_id("instagram", i), at, text, author=(f"8{i:03}", "asha"))
            self.youtube.add_comment("vid1", comment_id("youtube", i), at, text, author=(f"UC{i:03}", "Asha"))
            self.x.add_user(f"555{i:04}", f"asha{i}")
            self.x.add_reply("1001", comment_id("x", i), at, f"@PMCofficial {text}", author_id=f"555{i:04}")

    def publisher(self, platform: str):
        cls = PUBLISHERS[platform]
        fake = self.fakes[platform]
        token = {"facebook": self.graph.publish_token, "instagram": self.graph.publish_token,
                 "youtube": self.youtube.token, "x": self.x.user_token}[platform]
        return cls(ACCOUNTS[platform], Secret(cls.token_name, token), base_url=fake.url,
                   sleep=self.sleeps.append, clock=self.platform_now,
                   retry=RetryPolicy(attempts=3, base_delay=1.0, max_delay=4.0))

    def _export(self, folder: Path) -> Path:
        posts = [post(POST_IDS[p], "कचरा #SwachhMahanagar", platform=p) for p in PLATFORMS]
        comments = [comment(comment_id(p, i), POST_IDS[p], f"घंटागाडी आली नाही {i} 😡", platform=p,
                            author="asha", at="2026-11-26T08:00:00+05:30")
                    for p in PLATFORMS for i in range(self.n)]
        return write_export(folder, posts, comments)

    def env(self) -> dict[str, str]:
        """The environment a `python cli.py publish` in another process needs for these fakes."""
        config = self.tmp_path / "sources.yaml"
        config.write_text(f"facebook:\n  page_id: '{PAGE_ID}'\ninstagram:\n  ig_user_id: '{IG_USER_ID}'\n"
                          f"youtube:\n  channel_id: {CHANNEL_ID}\nx:\n  user_id: '{X_USER_ID}'\n",
                          encoding="utf-8")
        tokens = {"FACEBOOK_TOKEN": self.graph.token, "INSTAGRAM_TOKEN": self.graph.token,
                  "YOUTUBE_API_KEY": self.youtube.api_key, "X_BEARER_TOKEN": self.x.token,
                  "FACEBOOK_PUBLISH_TOKEN": self.graph.publish_token,
                  "INSTAGRAM_PUBLISH_TOKEN": self.graph.publish_token,
                  "YOUTUBE_PUBLISH_TOKEN": self.youtube.token, "X_PUBLISH_TOKEN": self.x.user_token}
        return {**os.environ, **self.harness.env, "PYTHONPATH": str(ROOT),
                **{f"SHEETS_SYNC_{k}": v for k, v in tokens.items()},
                "SHEETS_SYNC_SOURCES_CONFIG": str(config),
                "SHEETS_SYNC_STATE_DIR": str(self.tmp_path / "state"),
                "SHEETS_SYNC_GRAPH_URL": self.graph.url, "SHEETS_SYNC_YOUTUBE_URL": self.youtube.url,
                "SHEETS_SYNC_X_URL": self.x.url,
                "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}

    def cli(self, *args: str) -> list[str]:
        """The command line of another process running the job on this tracker."""
        return [sys.executable, str(ROOT / "cli.py"), *args, "--tracker", self.harness.tracker_arg]

    # -- what the platforms logged ---------------------------------------------------------
    def posts_per_comment(self, platform: str) -> Counter:
        """How many reply POSTs each citizen's comment got (refused or not)."""
        fake = self.fakes[platform]
        out: Counter = Counter()
        for r in fake.writes():
            if r.method != "POST":
                continue
            if platform in ("facebook", "instagram"):
                parts = [p for p in r.path.split("/") if p]
                edge = "comments" if platform == "facebook" else "replies"
                if len(parts) == 3 and parts[2] == edge:
                    out[parts[1]] += 1
            elif platform == "youtube" and r.path.endswith("/comments"):
                out[((r.body or {}).get("snippet") or {}).get("parentId")] += 1
            elif platform == "x" and r.path == "/2/tweets":
                out[((r.body or {}).get("reply") or {}).get("in_reply_to_tweet_id")] += 1
        return out

    def held(self, platform: str) -> dict[str, list[str]]:
        """The corporation's replies each comment holds on the platform, as typed."""
        out: dict[str, list[str]] = {}
        if platform in ("facebook", "instagram"):
            for c in self.graph.comments:
                if c.author and c.author[0] == ACCOUNTS[platform] and c.parent:
                    out.setdefault(c.parent, []).append(c.text)
        elif platform == "youtube":
            for c in self.youtube.comments:
                if c.author[0] == CHANNEL_ID and c.parent:
                    out.setdefault(c.parent, []).append(c.text)
        else:
            for t in self.x.tweets:
                if t["author_id"] == X_USER_ID and t["id"] != "1001":
                    target = t["referenced_tweets"][0]["id"]
                    out.setdefault(target, []).append(t["text"].split(" ", 1)[1])  # "@asha0 " first
        return out

    def platform_requests(self) -> int:
        return sum(len(f.requests) for f in (self.graph, self.youtube, self.x))

    # -- the tracker ----------------------------------------------------------------
    def publish(self, minutes: float, **kw):
        self.at(minutes)
        backend = kw.pop("backend", None) or self.harness.backend()
        return run_sync(backend, [], kw.pop("schema", self.schema), roster_path=self.roster_file,
                        now=self.now, command="publish", publishers=kw.pop("publishers", self.publishers),
                        sleep=lambda s: None, **kw)

    def type(self, cid: str, header: str, value: str) -> None:
        self.harness.type_in("Comments", "Comment ID", cid, header, value)

    def rows(self) -> dict[str, dict[str, str]]:
        return {r["Comment ID"]: r for r in records(self.harness.values("Comments"))}

    def row(self, cid: str) -> dict[str, str]:
        return self.rows()[cid]

    def approve(self, cids: list[str] | None = None, minutes: float = 0) -> None:
        """Type each reply, let a run show it for approval, then tick Approve."""
        wanted = cids or [comment_id(p, i) for p in PLATFORMS for i in range(self.n)]
        texts = {comment_id(p, i): reply_text(p, i) for p in PLATFORMS for i in range(self.n)}
        bulk_type(self.harness, "Reply", {cid: texts[cid] for cid in wanted})
        self.publish(minutes)
        rows = self.rows()
        assert all(rows[cid]["Publish"] == "waiting for approval" for cid in wanted), rows
        bulk_type(self.harness, "Approve", dict.fromkeys(wanted, "TRUE"))

    def log(self) -> list[dict[str, str]]:
        return records(self.harness.values("Sync Log"))


def throttled_answer(platform: str, shape: str, reset: datetime):
    """A throttle as the platform sends it: Graph's codes 4/17/32/613 (HTTP 403, with
    X-Business-Use-Case-Usage), YouTube's quotaExceeded or rateLimitExceeded, X's 429
    with x-rate-limit-reset."""
    from sheets_sync.testing.fake_platforms import (
        QUOTA_EXCEEDED,
        graph_throttled,
        x_rate_limited,
        youtube_error,
    )

    if platform in ("facebook", "instagram"):
        return graph_throttled(int(shape), minutes=15)
    if platform == "youtube":
        if shape == "quotaExceeded":
            return QUOTA_EXCEEDED
        return youtube_error(403, "rateLimitExceeded", "The request cannot be completed because you have "
                             "exceeded your rate limit.", "youtube.quota")
    return x_rate_limited(reset)


#: The path of each platform's reply POST, as a fault fragment on its fake.
WRITE_PATH = {"facebook": "/comments", "instagram": "/replies", "youtube": "/comments", "x": "/2/tweets"}


def bulk_type(harness, header: str, values: dict[str, str]) -> None:
    """Type many cells of one column at once, as a person pasting a column."""
    table = harness.values("Comments")
    head = table[0]
    k, c = head.index("Comment ID"), head.index(header)
    column = [[values.get(row[k], row[c] if c < len(row) else "")] for row in table[1:]]
    if harness.kind == "xlsx":
        import openpyxl

        wb = openpyxl.load_workbook(harness.path)
        for i, (value,) in enumerate(column, start=2):
            wb["Comments"].cell(i, c + 1).value = value
        wb.save(harness.path)
    else:
        from tests.trackers import _letter, _q

        harness.person.edit(harness.sid, f"{_q('Comments')}!{_letter(c)}2:{_letter(c)}{len(column) + 1}",
                            column, raw=True)
