"""The YouTube channel source against the local YouTube Data API fake.

What every platform source does alike (overlap, crash, throttling midway, an
expired token, far-future times) is in ``test_sources_contract.py``; here, what
is this platform's own.
"""

from __future__ import annotations

import json

import pytest

from sheets_sync.errors import AuthError, ConfigError, RateLimited
from sheets_sync.sources.tokens import Secret
from sheets_sync.sources.window import make_checkpoint
from sheets_sync.testing.fake_platforms.youtube import FakeYouTube, youtube_error
from tests.platform_fixtures import CHANNEL_ID, at, make_source

OWN = (CHANNEL_ID, "Pune Municipal Corporation")
REAL_REPLY = {
    "kind": "youtube#comment",
    "id": "Ugw5zYU6n9pmIgAZWvN4AaABAg.91zT3cYb5B291za6voUoRh",
    "snippet": {
        "authorDisplayName": "kun liu",
        "authorChannelUrl": "http://www.youtube.com/channel/UCNvMBmCASzTNNX8lW3JRMbw",
        "authorChannelId": {"value": "UCNvMBmCASzTNNX8lW3JRMbw"},
        "textDisplay": "this is the third reply!",
        "textOriginal": "this is the third reply!",
        "parentId": "Ugw5zYU6n9pmIgAZWvN4AaABAg",
        "canRate": True,
        "viewerRating": "none",
        "likeCount": 0,
        "publishedAt": "2026-11-19T04:46:31.000Z",
        "updatedAt": "2026-11-19T04:46:31.000Z",
    },
}


def seed(yt: FakeYouTube) -> None:
    yt.add_channel(CHANNEL_ID, "Pune Municipal Corporation")
    yt.add_video(CHANNEL_ID, "vid1", at(days=-5), "पावसाळ्यापूर्वी नालेसफाई")
    yt.add_video(CHANNEL_ID, "vid2", at(days=-2), "Budget 2026")
    yt.add_video(CHANNEL_ID, "vid0", at(days=-60), "Too old to follow")
    for n in range(1, 6):  # five threads on vid1: three pages at two a page
        yt.add_comment("vid1", f"T{n}", at(days=-5, hours=n), f"comment {n} 👍")
    for n in range(1, 5):  # T2 has four replies, the thread carries two
        author = OWN if n == 2 else ("UCcitizen2", "Ravi")
        yt.add_comment("vid1", f"R{n}", at(days=-5, hours=10 + n), f"reply {n}", author=author, parent="T2")
    yt.add_comment("vid1", "R9", at(days=-4), "नक्की कधी?", parent="T5")
    yt.add_comment("vid2", "T6", at(hours=-1), "कर भरायची शेवटची तारीख?")


def test_reads_uploads_threads_and_replies(fake_youtube, sleeps):
    seed(fake_youtube)
    batch = make_source("youtube", fake_youtube, sleeps).fetch(None)

    assert [(p.post_id, p.text) for p in batch.posts] == [
        ("vid1", "पावसाळ्यापूर्वी नालेसफाई"),
        ("vid2", "Budget 2026"),
    ]
    assert batch.posts[0].url == "https://www.youtube.com/watch?v=vid1"
    by_id = {c.comment_id: c for c in batch.comments}
    assert set(by_id) == {
        "T1", "T2", "T3", "T4", "T5", "T2.R1", "T2.R2", "T2.R3", "T2.R4", "T5.R9", "T6",
    }  # fmt: skip
    assert by_id["T2.R2"].by_page and by_id["T2.R2"].parent_id == "T2"
    assert not by_id["T2.R1"].by_page and not by_id["T1"].parent_id
    assert by_id["T5.R9"].text == "नक्की कधी?" and by_id["T6"].text == "कर भरायची शेवटची तारीख?"
    assert by_id["T1"].url == "https://www.youtube.com/watch?v=vid1&lc=T1"
    assert by_id["T1"].author == "A Citizen" and by_id["T1"].author_id == "UCcitizen0000000000000000"
    assert all(not c.deleted for c in batch.comments)
    assert batch.warnings == [] and sleeps == []

    threads = [r for r in fake_youtube.requests if r.path.endswith("/commentThreads")]
    assert len([r for r in threads if r.params["videoId"] == "vid1"]) == 3
    assert all(r.params["order"] == "time" and r.params["textFormat"] == "plainText" for r in threads)
    assert all(r.params["part"] == "snippet,replies" for r in threads)
    replies = [r for r in fake_youtube.requests if r.path.endswith("/comments")]
    assert [r.params["parentId"] for r in replies] == ["T2", "T2"]  # two pages of four
    # The key travels in a header, never in the URL.
    assert all("key" not in r.params for r in fake_youtube.requests)
    assert all(r.headers["x-goog-api-key"] == fake_youtube.api_key for r in fake_youtube.requests)


def test_paging_stops_once_threads_are_older_than_the_window(fake_youtube):
    seed(fake_youtube)
    checkpoint = make_checkpoint(CHANNEL_ID, at(days=-5, hours=5))  # reads from hour 3 on
    batch = make_source("youtube", fake_youtube).fetch(checkpoint)
    ids = {c.comment_id for c in batch.comments}
    # Threads T5..T3, new replies on T2 (whose page was read), and vid2's thread.
    assert ids == {"T5", "T4", "T3", "T2.R1", "T2.R2", "T2.R3", "T2.R4", "T5.R9", "T6"}
    vid1 = [r for r in fake_youtube.requests if r.params.get("videoId") == "vid1"]
    assert len(vid1) == 2  # page 2 reaches older threads; page 3 is never asked for
    assert json.loads(batch.checkpoint)["newest"] == at(hours=-1).isoformat()


def test_quota_exhausted_at_once_raises_without_retrying(fake_youtube, sleeps):
    seed(fake_youtube)
    fake_youtube.quota = 0
    with pytest.raises(RateLimited, match="quota resets at midnight Pacific time"):
        make_source("youtube", fake_youtube, sleeps).fetch(None)
    assert len(fake_youtube.requests) == 1 and sleeps == []


def test_bad_api_key_and_expired_oauth_token(fake_youtube):
    seed(fake_youtube)
    with pytest.raises(AuthError) as info:
        make_source("youtube", fake_youtube, secret=Secret("SHEETS_SYNC_YOUTUBE_API_KEY", "nope")).fetch(None)
    assert "SHEETS_SYNC_YOUTUBE_API_KEY" in str(info.value) and "API_KEY_INVALID" in str(info.value)
    assert "nope" not in str(info.value)

    token = Secret("SHEETS_SYNC_YOUTUBE_TOKEN", "expired-oauth")
    with pytest.raises(AuthError) as info:
        make_source("youtube", fake_youtube, secret=token).fetch(None)
    assert "HTTP 401" in str(info.value)
    assert str(info.value).endswith("(scope youtube.force-ssl) and put it in SHEETS_SYNC_YOUTUBE_TOKEN")

    good = Secret("SHEETS_SYNC_YOUTUBE_TOKEN", fake_youtube.token)
    assert len(make_source("youtube", fake_youtube, secret=good).fetch(None).comments) == 11
    assert fake_youtube.requests[-1].headers["authorization"] == f"Bearer {fake_youtube.token}"


def test_per_second_limits_and_server_errors_are_retried(fake_youtube, sleeps):
    seed(fake_youtube)
    fake_youtube.fail("/commentThreads", *youtube_error(403, "rateLimitExceeded", "slow down"))
    fake_youtube.fail("/playlistItems", *youtube_error(503, "backendError", "Backend Error"))
    fake_youtube.drop("/comments")
    batch = make_source("youtube", fake_youtube, sleeps).fetch(None)
    assert len(batch.comments) == 11 and len(sleeps) == 3


def test_throttled_past_the_retries_is_rate_limited(fake_youtube, sleeps):
    seed(fake_youtube)
    fake_youtube.fail("/channels", *youtube_error(403, "userRateLimitExceeded", "slow"), times=9)
    with pytest.raises(RateLimited, match="gave up after 4 attempts"):
        make_source("youtube", fake_youtube, sleeps).fetch(None)
    assert len(sleeps) == 3


def test_disabled_or_missing_videos_and_private_uploads(fake_youtube):
    seed(fake_youtube)
    fake_youtube.comments_disabled.add("vid2")
    fake_youtube.fail("/commentThreads", *youtube_error(404, "videoNotFound", "gone"))
    batch = make_source("youtube", fake_youtube).fetch(None)
    assert [p.post_id for p in batch.posts] == ["vid1", "vid2"]
    assert batch.comments == []
    assert batch.warnings == [
        "youtube: video vid1 (https://www.youtube.com/watch?v=vid1): YouTube refused to give "
        "comments of video vid1 (HTTP 404 videoNotFound: gone) — skipped"
    ]

    private = {
        "items": [
            {
                "id": "PLIpriv",
                "snippet": {"title": "Private video", "resourceId": {"videoId": "priv"}},
                "contentDetails": {"videoId": "priv"},
            }
        ]
    }
    fake_youtube.fail("/playlistItems", 200, private)
    batch = make_source("youtube", fake_youtube).fetch(None)
    assert batch.warnings == [
        'youtube: skipped video priv ("Private video"): no publish time — it is private, '
        "deleted or not yet published"
    ]


def test_real_reply_payload_and_malformed_ones(fake_youtube):
    seed(fake_youtube)
    fake_youtube.add_comment("vid2", "Ugw5zYU6n9pmIgAZWvN4AaABAg", at(hours=-30), "top")
    fake_youtube.add_comment("vid2", "x1", at(hours=-29), "a", parent="Ugw5zYU6n9pmIgAZWvN4AaABAg")
    fake_youtube.add_comment("vid2", "x2", at(hours=-28), "b", parent="Ugw5zYU6n9pmIgAZWvN4AaABAg")
    fake_youtube.add_comment("vid2", "x3", at(hours=-27), "c", parent="Ugw5zYU6n9pmIgAZWvN4AaABAg")
    bad_time = {"id": "Ugw.bad", "snippet": {"publishedAt": "soon", "textOriginal": "?"}}
    no_id = {"snippet": {"publishedAt": "2026-11-19T04:46:31.000Z"}}
    canned = {"items": [REAL_REPLY, bad_time, no_id]}
    fake_youtube.fail("/comments", 200, canned, times=9)  # every comments.list
    batch = make_source("youtube", fake_youtube).fetch(None)
    reply = next(c for c in batch.comments if c.comment_id == REAL_REPLY["id"])
    assert reply.parent_id == "Ugw5zYU6n9pmIgAZWvN4AaABAg" and reply.author == "kun liu"
    assert reply.text == "this is the third reply!" and reply.author_id == "UCNvMBmCASzTNNX8lW3JRMbw"
    assert reply.commented_at.isoformat() == "2026-11-19T04:46:31+00:00"
    assert 'youtube: skipped comment Ugw.bad on video vid1: publishedAt "soon" is not a time' in (
        batch.warnings
    )
    assert any(w.startswith("youtube: skipped a comment on video vid2 without an id") for w in batch.warnings)


def test_unknown_channel_and_check(fake_youtube):
    with pytest.raises(ConfigError, match="youtube.channel_id UCcorporation000000000000 in sources.yaml"):
        make_source("youtube", fake_youtube).fetch(None)
    seed(fake_youtube)
    check = make_source("youtube", fake_youtube).check()
    assert check.ok and "API key" in check.detail and "SHEETS_SYNC_YOUTUBE_API_KEY" in check.detail
    # The failed fetch above, then what a sync reads: the channel, its newest upload, and
    # that video's comments (a check that read the channel only said "comments readable").
    assert [r.path.rsplit("/", 1)[-1] for r in fake_youtube.requests[1:]] == [
        "channels", "playlistItems", "commentThreads"]


def test_a_lone_surrogate_is_replaced_and_the_comment_named(fake_youtube):
    fake_youtube.add_channel(CHANNEL_ID, "PMC")
    fake_youtube.add_video(CHANNEL_ID, "vid1", at(days=-1), "video")
    fake_youtube.add_comment("vid1", "T1", at(hours=-5), "bad \udbff")
    batch = make_source("youtube", fake_youtube).fetch(None)
    assert [c.text for c in batch.comments] == ["bad \ufffd"]
    assert any(w.startswith("YouTube: comments of video vid1: T1: 'textDisplay' held \\udbff")
               for w in batch.warnings)
