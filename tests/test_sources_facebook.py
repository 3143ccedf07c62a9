"""The Facebook Page source against the local Graph API fake.

What every platform source does alike (overlap, crash, throttling midway, an
expired token, far-future times) is in ``test_sources_contract.py``; here, what
is this platform's own.
"""

from __future__ import annotations

import json
import logging

import pytest

from sheets_sync.errors import AuthError, ConfigError, RateLimited, SourceError
from sheets_sync.sources.window import make_checkpoint
from sheets_sync.testing.fake_platforms.graph import FakeGraph, graph_error, graph_throttled
from tests.platform_fixtures import PAGE_ID, at, make_source

PMC = (PAGE_ID, "Pune Municipal Corporation")
MARATHI = "पाणी कधी येणार? 🙏 Ward 14 मध्ये तीन दिवस पाणी नाही"


def seed(graph: FakeGraph) -> None:
    """Three posts; the first has a long thread with replies, the Page's reply and a hidden one."""
    graph.add_page(PAGE_ID, "Pune Municipal Corporation")
    graph.add_post(PAGE_ID, "111_1", at(days=-3), "पाणीपुरवठा बंद: सोमवार")
    graph.add_post(PAGE_ID, "111_2", at(days=-2), "Property tax deadline")
    graph.add_post(PAGE_ID, "111_3", at(days=-1), None)  # a photo post without text
    graph.add_comment("111_1", "1_c1", at(days=-3, hours=1), MARATHI, author=("901", "Asha"))
    graph.add_comment("111_1", "1_c2", at(days=-3, hours=2), "Which wards?", author=("902", "Ravi"))
    graph.add_comment("111_1", "1_r1", at(days=-3, hours=3), "Ward 14 and 15", author=PMC, parent="1_c2")
    graph.add_comment("111_1", "1_r2", at(days=-3, hours=4), "Thanks", author=("902", "Ravi"), parent="1_c2")
    graph.add_comment("111_1", "1_c3", at(days=-3, hours=5), "spam link", hidden=True)
    graph.add_comment("111_2", "2_c1", at(days=-2, hours=1), '=HYPERLINK("x")')
    graph.add_comment("111_3", "3_c1", at(hours=-2), "फोटो छान आहे")


def test_reads_posts_comments_and_replies_across_pages(fake_graph, sleeps):
    seed(fake_graph)
    batch = make_source("facebook", fake_graph, sleeps).fetch(None)

    assert [p.post_id for p in batch.posts] == ["111_1", "111_2", "111_3"]
    post = batch.posts[0]
    assert post.text == "पाणीपुरवठा बंद: सोमवार"
    assert post.posted_at == at(days=-3) and post.posted_at.tzinfo is not None
    assert post.account == "facebook:111" and post.origin == "facebook post 111_1"
    assert batch.posts[2].text == ""

    by_id = {c.comment_id: c for c in batch.comments}
    assert list(by_id) == ["1_c1", "1_c2", "1_r1", "1_r2", "1_c3", "2_c1", "3_c1"]
    assert by_id["1_c1"].text == MARATHI  # byte for byte
    assert by_id["1_c1"].author == "Asha" and by_id["1_c1"].author_id == "901"
    assert by_id["1_r1"].parent_id == "1_c2" and by_id["1_r1"].by_page
    assert by_id["1_r2"].parent_id == "1_c2" and not by_id["1_r2"].by_page
    assert by_id["1_c3"].deleted and not by_id["1_c1"].deleted
    assert by_id["2_c1"].text == '=HYPERLINK("x")'
    assert "reply_comment_id=1_r1" in by_id["1_r1"].url
    assert by_id["1_c1"].origin == "facebook comment 1_c1"
    assert batch.warnings == []

    # Five comments on post 1 at two a page: three pages, followed by paging.next.
    thread = [r for r in fake_graph.requests if r.path.endswith("/111_1/comments")]
    assert len(thread) == 3
    assert all(r.params["filter"] == "stream" for r in thread)
    assert all(r.params["order"] == "chronological" for r in thread)
    assert "from{id,name}" in thread[0].params["fields"] and "parent{id}" in thread[0].params["fields"]
    # The token travels in a header only: the one Graph echoes in paging.next is dropped.
    assert all("access_token" not in r.params for r in fake_graph.requests)
    assert all(r.headers["authorization"] == f"Bearer {fake_graph.token}" for r in fake_graph.requests)
    assert sleeps == []


def test_posts_page_across_three_pages_and_stop_at_the_horizon(fake_graph):
    fake_graph.add_page(PAGE_ID, "PMC")
    for day in range(1, 6):
        fake_graph.add_post(PAGE_ID, f"111_{day}", at(days=-day), f"post {day}")
    fake_graph.add_post(PAGE_ID, "111_old", at(days=-40), "too old to follow")
    batch = make_source("facebook", fake_graph).fetch(None)
    assert [p.post_id for p in batch.posts] == ["111_5", "111_4", "111_3", "111_2", "111_1"]
    assert len(fake_graph.paths("/published_posts")) == 3
    first = fake_graph.requests[0]
    assert int(first.params["since"]) == int(at(days=-30).timestamp())


def test_first_run_looks_back_and_checkpoint_is_the_newest_time_seen(fake_graph):
    seed(fake_graph)
    fake_graph.add_post(PAGE_ID, "111_9", at(days=-20), "older post")
    fake_graph.add_comment("111_9", "9_old", at(days=-31), "before the look-back")
    fake_graph.add_comment("111_9", "9_new", at(days=-19), "inside the look-back")
    batch = make_source("facebook", fake_graph, lookback_days=30).fetch(None)
    ids = {c.comment_id for c in batch.comments}
    assert "9_new" in ids and "9_old" not in ids
    assert json.loads(batch.checkpoint) == {
        "v": 1,
        "account": PAGE_ID,
        "newest": at(hours=-2).isoformat(),
    }

    short = make_source("facebook", fake_graph, lookback_days=1).fetch(None)
    assert [c.comment_id for c in short.comments] == ["3_c1"]
    assert [p.post_id for p in short.posts] == ["111_3"]


def test_unreadable_or_foreign_checkpoint_falls_back_to_the_look_back(fake_graph):
    seed(fake_graph)
    source = make_source("facebook", fake_graph)
    for stored in ("not json", make_checkpoint("999", at(hours=-1))):
        batch = source.fetch(stored)
        assert len(batch.comments) == 7
        assert "reading the last 30 days again" in batch.warnings[0]


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80001])
def test_throttled_before_anything_was_read_raises(fake_graph, code):
    seed(fake_graph)
    fake_graph.fail("/published_posts", *graph_throttled(code=code, minutes=7))
    with pytest.raises(RateLimited, match="about 7 minutes"):
        make_source("facebook", fake_graph).fetch(None)


@pytest.mark.parametrize("code", [10, 200, 299])
def test_missing_permission_names_it(fake_graph, code):
    seed(fake_graph)
    fake_graph.fail("/comments", *graph_error(code, "(#10) Requires pages_read_engagement"))
    with pytest.raises(AuthError, match="pages_read_user_content"):
        make_source("facebook", fake_graph).fetch(None)


@pytest.mark.parametrize("code", [1, 2])
def test_temporary_graph_errors_are_retried(fake_graph, sleeps, code):
    seed(fake_graph)
    fake_graph.fail("/comments", *graph_error(code, "An unknown error occurred", status=500), times=2)
    batch = make_source("facebook", fake_graph, sleeps).fetch(None)
    assert len(batch.comments) == 7
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0


def test_server_errors_give_up_after_capped_backoff(fake_graph, sleeps):
    seed(fake_graph)
    fake_graph.fail("/published_posts", 503, {"error": "down"}, times=99)
    with pytest.raises(SourceError) as info:
        make_source("facebook", fake_graph, sleeps).fetch(None)
    assert type(info.value) is SourceError
    assert "HTTP 503" in str(info.value) and "gave up after 4 attempts" in str(info.value)
    assert len(sleeps) == 3
    assert all(s <= 8.0 for s in sleeps)


def test_dropped_connection_is_retried(fake_graph, sleeps):
    seed(fake_graph)
    fake_graph.drop("/111_2/comments")
    batch = make_source("facebook", fake_graph, sleeps).fetch(None)
    assert len(batch.comments) == 7 and len(sleeps) == 1


def test_after_cursor_limit_warns_and_holds_the_checkpoint(fake_graph):
    seed(fake_graph)
    fake_graph.max_after_offset = 2  # Graph refuses the third page of any thread
    batch = make_source("facebook", fake_graph).fetch(None)
    ids = [c.comment_id for c in batch.comments]
    assert "1_c3" not in ids and {"1_r2", "2_c1", "3_c1"} <= set(ids)
    (warning,) = batch.warnings
    assert warning.startswith("facebook: post 111_1")
    assert "After Cursor" in warning and "were not read" in warning
    # Held at the last comment read on that thread, not at the newest overall.
    assert json.loads(batch.checkpoint)["newest"] == at(days=-3, hours=4).isoformat()


def test_real_capture_without_ids_is_skipped_with_a_warning_naming_it(fake_graph):
    fake_graph.add_page(PAGE_ID, "PMC")
    fake_graph.add_post(PAGE_ID, "111_1", at(days=-1), "post")
    # pyfacebook's recorded answer (fields without id and from), times moved into the window.
    fake_graph.add_raw_comment(
        "111_1",
        {
            "comment_count": 2,
            "created_time": "2026-11-19T19:38:44+0000",
            "like_count": 0,
            "message": "Can someone from Instagram please assist me in getting my business Instagram back?",
            "permalink_url": "https://www.facebook.com/19292868552/posts/10158407654328553/"
            "?comment_id=10158407903973553",
        },
        at(hours=-10),
    )
    fake_graph.add_raw_comment(
        "111_1",
        {
            "from": {"name": "Kun Liu", "id": "2711636948859886"},
            "id": "2954961744718970_2966313500250461",
            "message": "My Nice Car ",
            "created_time": "yesterday",
            "is_hidden": False,
        },
        at(hours=-9),
    )
    fake_graph.add_raw_comment(
        "111_1",
        {
            "id": "2954961744718970_2966313500250462",
            "from": {"name": "Kun Liu", "id": "2711636948859886"},
            "message": "My Nice Car ",
            "created_time": "2026-11-19T20:35:18+0000",
            "comment_count": 0,
            "like_count": 0,
            "is_hidden": False,
            "permalink_url": "https://www.facebook.com/x?comment_id=2966313500250462",
        },
        at(hours=-8),
    )
    batch = make_source("facebook", fake_graph).fetch(None)
    assert [c.comment_id for c in batch.comments] == ["2954961744718970_2966313500250462"]
    assert batch.comments[0].text == "My Nice Car "  # trailing space kept
    assert batch.warnings == [
        "facebook: skipped a comment on post 111_1 without an id: permalink_url "
        "https://www.facebook.com/19292868552/posts/10158407654328553/?comment_id=10158407903973553",
        "facebook: skipped comment 2954961744718970_2966313500250461 on post 111_1: "
        'created_time "yesterday" is not a time',
    ]


def test_comments_without_author_warn_about_the_permission(fake_graph):
    fake_graph.add_page(PAGE_ID, "PMC")
    fake_graph.add_post(PAGE_ID, "111_1", at(days=-1), "post")
    fake_graph.add_comment("111_1", "1_c1", at(hours=-5), "no from", author=None)
    batch = make_source("facebook", fake_graph).fetch(None)
    assert batch.comments[0].author == "" and not batch.comments[0].by_page
    assert "came without their author" in batch.warnings[0]
    assert "pages_read_user_content" in batch.warnings[0]


def test_deleted_post_is_skipped_with_a_warning(fake_graph):
    seed(fake_graph)
    fake_graph.fail("/111_2/comments", *graph_error(100, "Object with ID '111_2' does not exist"))
    batch = make_source("facebook", fake_graph).fetch(None)
    assert "2_c1" not in {c.comment_id for c in batch.comments}
    assert batch.warnings[0].startswith("facebook: post 111_2")


def test_unknown_page_is_a_config_error(fake_graph):
    with pytest.raises(ConfigError, match=r"facebook\.page_id 111 in sources\.yaml"):
        make_source("facebook", fake_graph).fetch(None)


def test_check_says_what_the_token_can_read(fake_graph):
    seed(fake_graph)
    check = make_source("facebook", fake_graph).check()
    assert check.ok and check.source == "facebook"
    assert "Pune Municipal Corporation" in check.detail and "posts readable" in check.detail
    assert len(fake_graph.requests) == 2

    source = make_source("facebook", fake_graph)
    fake_graph.token = "rotated"
    bad = source.check()
    assert not bad.ok and "SHEETS_SYNC_FACEBOOK_TOKEN" in bad.detail


def test_token_never_appears_in_errors_reprs_or_logs(fake_graph, caplog):
    from sheets_sync.sources.tokens import Secret

    seed(fake_graph)
    token = fake_graph.token
    caplog.set_level(logging.DEBUG)
    source = make_source("facebook", fake_graph)
    texts = [repr(source), repr(source.secret), str(source.secret), repr(source.config)]
    texts.append(str(source.fetch(None).warnings))
    fake_graph.fail("/comments", 500, {"error": {"code": 2, "message": f"echo {token}"}}, times=99)
    with pytest.raises(SourceError) as info:
        make_source("facebook", fake_graph).fetch(None)
    texts += [str(info.value), repr(info.value)]
    fake_graph.token = "other"
    wrong = Secret("SHEETS_SYNC_FACEBOOK_TOKEN", token)
    with pytest.raises(AuthError) as info:
        make_source("facebook", fake_graph, secret=wrong).fetch(None)
    texts += [str(info.value), repr(info.value)]
    texts += [record.getMessage() for record in caplog.records]
    assert caplog.records  # requests were logged ...
    assert not [t for t in texts if token in t]  # ... and the token is in none of it
    assert "echo ***" in str(texts)


def test_a_lone_surrogate_is_replaced_and_the_comment_named(fake_graph):
    # Graph sends "\ud800" (half an emoji, cut) as a JSON escape: the comment is kept
    # with U+FFFD in its place, and a warning names it; the others are untouched.
    fake_graph.add_page(PAGE_ID, "PMC")
    fake_graph.add_post(PAGE_ID, "111_1", at(days=-1), "post")
    fake_graph.add_comment("111_1", "1_c1", at(hours=-5), "bad \ud800 text", author=("901", "Asha \udc00"))
    fake_graph.add_comment("111_1", "1_c2", at(hours=-4), MARATHI)
    batch = make_source("facebook", fake_graph).fetch(None)
    by_id = {c.comment_id: c for c in batch.comments}
    assert by_id["1_c1"].text == "bad \ufffd text" and by_id["1_c1"].author == "Asha \ufffd"
    assert by_id["1_c2"].text == MARATHI
    assert batch.checkpoint is not None
    assert batch.warnings == [
        "Facebook: comments of post 111_1: 1_c1: 'message' held \\ud800, half of a UTF-16 surrogate pair "
        "and not a character; written as \ufffd (the rest is kept; the platform shows the original)",
        "Facebook: comments of post 111_1: 901: 'name' held \\udc00, half of a UTF-16 surrogate pair "
        "and not a character; written as \ufffd (the rest is kept; the platform shows the original)",
    ]


def test_a_lone_surrogate_from_the_platform_reaches_either_tracker_whole(fake_graph, harness, roster_file):
    from sheets_sync.schema import load_schema
    from sheets_sync.sync import run_sync
    from tests.trackers import records

    fake_graph.add_page(PAGE_ID, "PMC")
    fake_graph.add_post(PAGE_ID, "111_1", at(days=-1), "कचरा #SwachhMahanagar")
    fake_graph.add_comment("111_1", "1_c1", at(hours=-5), "bad \ud800 text")
    result = run_sync(harness.backend(), [make_source("facebook", fake_graph)], load_schema(),
                      roster_path=roster_file, now=at())
    assert result.summary()["comments_added"] == 1
    rows = {r["Comment ID"]: r for r in records(harness.values("Comments"))}
    assert rows["1_c1"]["Comment"] == "bad \ufffd text"
    assert "1_c1: 'message' held \\ud800" in records(harness.values("Sync Log"))[-1]["Errors and warnings"]
