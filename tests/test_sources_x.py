"""The X source against the local X API v2 fake.

What every platform source does alike (overlap, crash, throttling midway, an
expired token, far-future times) is in ``test_sources_contract.py``; here, what
is this platform's own.
"""

from __future__ import annotations

import json

import pytest

from sheets_sync.errors import AuthError, ConfigError, RateLimited, SourceError
from sheets_sync.testing.fake_platforms.x import FakeX, x_problem
from tests.platform_fixtures import X_USER_ID, at, make_source

DOCS_CONVERSATION = {
    "data": [
        {
            "conversation_id": "1279944223114900000",
            "in_reply_to_user_id": "3001960000",
            "author_id": "1102323333",
            "created_at": "2026-11-19T15:02:44.000Z",
            "id": "1280155225706433333",
            "referenced_tweets": [{"type": "replied_to", "id": "1279944223114900000"}],
            "text": "@OriginalPerson000 Third reply",
        },
        {
            "conversation_id": "1279944223114900000",
            "in_reply_to_user_id": "3001960000",
            "author_id": "179201111",
            "created_at": "2026-11-19T01:10:15.000Z",
            "id": "1279945722494811111",
            "referenced_tweets": [{"type": "replied_to", "id": "1279944223114900000"}],
            "text": "@OriginalPerson000 First Reply",
        },
    ],
    "includes": {
        "users": [
            {"name": "Original person", "id": "3001960000", "username": "OriginalPerson000"},
            {"name": "Third person", "id": "1102323333", "username": "ThirdPerson333"},
            {"name": "First person", "id": "179201111", "username": "FirstPerson111"},
        ]
    },
    "meta": {
        "newest_id": "1280155225706433333",
        "oldest_id": "1279945722494811111",
        "result_count": 2,
    },
}


def seed(x: FakeX) -> None:
    x.add_user(X_USER_ID, "PMCPune", "Pune Municipal Corporation")
    x.add_user("201", "asha_p")
    x.add_user("202", "ravi_k")
    x.add_post(X_USER_ID, "1001", at(days=-3), "रस्ते दुरुस्ती सुरू 🚧 #Pune")
    x.add_post(X_USER_ID, "1002", at(days=-1), "Water supply update")
    x.add_reply("1001", "2001", at(days=-3, hours=1), "@PMCPune कधी पूर्ण होणार?", author_id="201")
    x.add_reply("1001", "2002", at(days=-3, hours=2), "@PMCPune potholes again", author_id="202")
    x.add_reply(
        "1001", "2003", at(days=-3, hours=3), "@asha_p by Friday", author_id=X_USER_ID, replied_to="2001"
    )
    x.add_reply("1001", "2004", at(days=-3, hours=4), "@PMCPune thanks", author_id="201", replied_to="2003")
    x.add_reply("1001", "2005", at(days=-2), "still waiting", author_id="202")
    x.add_reply("1002", "2006", at(hours=-1), "which areas?", author_id="201")


def test_reads_posts_and_replies_across_pages(fake_x, sleeps):
    seed(fake_x)
    batch = make_source("x", fake_x, sleeps, lookback_days=6).fetch(None)

    assert [(p.post_id, p.text) for p in batch.posts] == [
        ("1001", "रस्ते दुरुस्ती सुरू 🚧 #Pune"),
        ("1002", "Water supply update"),
    ]
    assert batch.posts[0].url == "https://x.com/PMCPune/status/1001"
    by_id = {c.comment_id: c for c in batch.comments}
    assert list(by_id) == ["2001", "2002", "2003", "2004", "2005", "2006"]  # not the post itself
    assert by_id["2001"].parent_id == "" and by_id["2001"].text == "@PMCPune कधी पूर्ण होणार?"
    assert by_id["2003"].by_page and by_id["2003"].parent_id == "2001"
    assert by_id["2004"].parent_id == "2003" and not by_id["2004"].by_page
    assert by_id["2001"].author == "asha_p" and by_id["2001"].url == "https://x.com/asha_p/status/2001"
    assert by_id["2005"].commented_at == at(days=-2)
    assert batch.warnings == [] and sleeps == []

    searches = [r for r in fake_x.requests if r.path.endswith("/search/recent")]
    thread = [r for r in searches if r.params["query"] == "conversation_id:1001"]
    assert len(thread) == 3  # the post and five replies at two a page
    assert "next_token" in thread[1].params
    assert "referenced_tweets" in thread[0].params["tweet.fields"]
    assert thread[0].params["expansions"] == "author_id"
    timeline = [r for r in fake_x.requests if r.path.endswith(f"/users/{X_USER_ID}/tweets")]
    assert timeline[0].params["exclude"] == "retweets,replies"
    assert all(r.headers["authorization"] == f"Bearer {fake_x.token}" for r in fake_x.requests)


def test_first_run_warns_that_search_reaches_seven_days_only(fake_x):
    seed(fake_x)
    fake_x.add_post(X_USER_ID, "900", at(days=-20), "older post, still followed on a first run")
    batch = make_source("x", fake_x).fetch(None)
    assert "900" in {p.post_id for p in batch.posts}
    assert batch.warnings == [
        "x: X search reaches back seven days only: replies from 2026-10-21 11:30 IST to "
        "2026-11-13 11:35 IST could not be read"
    ]
    starts = {r.params["start_time"] for r in fake_x.requests if "search" in r.path}
    assert starts == {"2026-11-13T06:05:00Z"}


def test_usage_cap(fake_x):
    seed(fake_x)
    source = make_source("x", fake_x)
    fake_x.fail(
        "/users/",
        *x_problem(429, "usage-capped", "UsageCapExceeded", "Usage cap exceeded: Monthly product cap"),
    )
    with pytest.raises(RateLimited, match=r"^X usage cap reached while reading account 3001960000"):
        source.fetch(None)


def test_forbidden_is_an_auth_error(fake_x):
    seed(fake_x)
    fake_x.fail("/search/recent", *x_problem(403, "client-forbidden", "Client Forbidden", "not enrolled"))
    with pytest.raises(AuthError, match="needs access to this endpoint"):
        make_source("x", fake_x, lookback_days=6).fetch(None)


def test_partial_errors_become_warnings_naming_the_objects(fake_x):
    seed(fake_x)
    fake_x.partial_errors["1002"] = [
        {
            "value": "999",
            "detail": "Sorry, you are not authorized to see the user with id: [999].",
            "title": "Authorization Error",
            "resource_type": "user",
            "parameter": "entities.mentions.username",
            "resource_id": "999",
            "type": "https://api.twitter.com/2/problems/not-authorized-for-resource",
        }
    ]
    batch = make_source("x", fake_x, lookback_days=6).fetch(None)
    assert len(batch.comments) == 6
    assert batch.warnings == [
        "x: replies to post 1002: X could not return everything: user 999: Sorry, you are not "
        "authorized to see the user with id: [999]."
    ]


def test_server_errors_and_dropped_connections_retry(fake_x, sleeps):
    seed(fake_x)
    fake_x.fail("/tweets", *x_problem(503, "service-unavailable", "Service Unavailable", "busy"))
    fake_x.drop("/search/recent")
    batch = make_source("x", fake_x, sleeps, lookback_days=6).fetch(None)
    assert len(batch.comments) == 6 and len(sleeps) == 2

    fake_x.fail("/search/recent", 500, {"title": "Internal Error"}, times=99)
    with pytest.raises(SourceError, match="gave up after 4 attempts"):
        make_source("x", fake_x, sleeps, lookback_days=6).fetch(None)


def test_docs_conversation_payload_and_malformed_posts(fake_x):
    fake_x.add_user(X_USER_ID, "OriginalPerson000")
    fake_x.add_post(X_USER_ID, "1279944223114900000", at(days=-2), "the post")
    conversation = json.loads(json.dumps(DOCS_CONVERSATION))
    conversation["data"].append({"id": "5", "text": "no time"})
    conversation["data"].append({"text": "no id", "created_at": "2026-11-19T01:10:15.000Z"})
    fake_x.fail("/search/recent", 200, conversation)
    batch = make_source("x", fake_x, lookback_days=6).fetch(None)
    assert [(c.comment_id, c.author, c.parent_id) for c in batch.comments] == [
        ("1279945722494811111", "FirstPerson111", ""),
        ("1280155225706433333", "ThirdPerson333", ""),
    ]
    assert batch.warnings == [
        "x: skipped post 5 (a reply to post 1279944223114900000): created_at null is not a time",
        'x: skipped a reply to post 1279944223114900000 without an id: {"text": "no id", '
        '"created_at": "2026-11-19T01:10:15.000Z"}',
    ]


def test_unknown_account_and_check(fake_x):
    with pytest.raises(ConfigError, match=r"x\.user_id 3001960000 in sources\.yaml: X knows no such"):
        make_source("x", fake_x).fetch(None)
    seed(fake_x)
    check = make_source("x", fake_x).check()
    assert check.ok and check.detail.startswith("X account @PMCPune (3001960000): posts and replies "
                                                "readable")
    # What a sync reads: the account, its posts, and the replies search of the newest one.
    assert [r.path for r in fake_x.requests[-3:]] == [
        "/2/users/3001960000", "/2/users/3001960000/tweets", "/2/tweets/search/recent"]


def test_a_lone_surrogate_is_replaced_and_the_reply_named(fake_x):
    fake_x.add_user(X_USER_ID, "PMCPune")
    fake_x.add_user("201", "asha_p")
    fake_x.add_post(X_USER_ID, "1001", at(days=-1), "post")
    fake_x.add_reply("1001", "2001", at(hours=-5), "@PMCPune bad \ud800", author_id="201")
    batch = make_source("x", fake_x).fetch(None)
    assert [c.text for c in batch.comments] == ["@PMCPune bad \ufffd"]
    assert any(": 2001: 'text' held \\ud800" in w for w in batch.warnings)


def test_text_is_stored_as_typed_although_x_escapes_it(fake_x):
    """X answers `& < >` as `&amp; &lt; &gt;`; the tracker shows what the citizen typed,
    including a literal `&lt;` they typed (sent as `&amp;lt;`)."""
    typed = "Water & drainage <urgent> — see &lt;ward 5&gt; पाणी 🚰"
    fake_x.add_user(X_USER_ID, "PMCPune")
    fake_x.add_user("201", "asha_p")
    fake_x.add_post(X_USER_ID, "1001", at(days=-1), "Roads & <drains>")
    fake_x.add_reply("1001", "2001", at(hours=-5), typed, author_id="201")
    batch = make_source("x", fake_x).fetch(None)
    assert [p.text for p in batch.posts] == ["Roads & <drains>"]
    assert [c.text for c in batch.comments] == [typed]
