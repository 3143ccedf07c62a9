"""Each platform's particulars on the write side: X's weighted count, the limits,
Instagram's @username, YouTube's OAuth and quota, X's user context and mentions,
Graph's codes; and the publish tokens (separate settings, never shown)."""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path

import pytest

from sheets_sync.errors import ConfigError, SourceError
from sheets_sync.publish.base import Refused, Reply, Uncertain
from sheets_sync.publish.facebook import FacebookPublisher
from sheets_sync.publish.registry import open_publishers
from sheets_sync.publish.twitter_text import weighted_length
from sheets_sync.publish.x import normalised, snowflake_time
from sheets_sync.sources.registry import load_platform_sources
from sheets_sync.sources.tokens import Secret
from sheets_sync.testing.fake_platforms import graph_error, graph_throttled
from tests.platform_fixtures import NOW, at
from tests.publish_worlds import TEXT, make_publisher, world

# ---------------------------------------------------------------------------
# Lengths


@pytest.mark.parametrize("text, weight", [
    ("नमस्ते", 6),  # Devanagari: 1 a code point (U+0900–U+097F is below U+10FF)
    ("पाणीपुरवठा उद्या सुरू होईल", 26),
    ("👍", 2), ("👍🏽", 2), ("👨‍👩‍👧", 2), ("🇮🇳", 2), ("1️⃣", 2), ("❤️", 2),  # an emoji is 2, however made
    ("水道", 4),  # CJK: 2 each
    ("“quoted” – ok…", 15),  # curly quotes and the dash are light (U+2010–U+201F), "…" (U+2026) is not
    ("https://pmc.gov.in/water/supply/schedule/ward-14/very/long/path?x=1", 23),
    ("पहा https://pmc.gov.in/a.", 3 + 1 + 23 + 1),  # the final full stop is not the link's
    ("see pmc.gov.in/water now", 4 + 23 + 4),  # a bare domain is a link too
    ("e\u0301", 1),  # NFC first: é is one code point
    ("क्‍ष", 4),  # a ZWJ inside Devanagari is a character of its own, not an emoji join
])
def test_x_counts_as_twitter_text_does(text, weight):
    assert weighted_length(text) == weight


def test_x_limit_is_280_weighted():
    with world("x") as w:
        p = w.publisher
        assert p.max_length == 280
        assert p.length("न" * 280) == 280 and p.length("😀" * 140) == 280
        assert p.length("😀" * 141) == 282 and p.length("a" * 257 + " https://x.co/" + "z" * 300) == 281
        with pytest.raises(Refused) as info:
            p.post_reply(w.answer("😀" * 141))
        assert info.value.reason == "too_long" and "282" in str(info.value)
        p.post_reply(w.answer("😀" * 140))
        assert len(w.corporation_replies()) == 1


@pytest.mark.parametrize("platform, limit", [("facebook", 8000), ("instagram", 2200), ("youtube", 10_000)])
def test_the_other_limits_count_characters(platform, limit):
    with world(platform) as w:
        assert w.publisher.max_length == limit
        assert w.publisher.length("💧" * 10) == 10 and w.publisher.length("नमस्ते") == 6
        with pytest.raises(Refused, match="too_long|over its limit"):
            w.publisher.post_reply(w.answer("न" * (limit + 1)))
        assert w.fake.writes() == []


# ---------------------------------------------------------------------------
# Instagram


@pytest.mark.parametrize("typed, sent", [
    ("Thank you", "@ravi Thank you"),
    ("@ravi Thank you", "@ravi Thank you"),  # already addressed: not twice
    ("@RAVI thank you", "@RAVI thank you"),
    ("@ravindra thank you", "@ravi @ravindra thank you"),  # another name is not his
])
def test_instagram_answers_a_reply_under_its_top_level_comment_with_the_username(typed, sent):
    with world("instagram") as w:
        reply = w.answer(typed, to=w.reply_to_reply)
        posted = w.publisher.post_reply(reply)
        assert w.corporation_replies() == [(posted.reply_id, sent)]
        assert w.fake.writes()[0].path.endswith("/ig_c1/replies")  # never /ig_c2/replies
        assert posted.url == f"https://www.instagram.com/p/m1/c/{posted.reply_id}/"
        assert w.publisher.find_reply(reply, at(minutes=-1)) == posted
        if typed != sent:  # to the top-level comment, the text without the @username is another reply
            assert w.publisher.find_reply(w.answer(typed), at(minutes=-1)) is None


def test_instagram_refuses_a_hidden_comment():
    with world("instagram") as w:
        w.publisher.hide(w.comment, True)
        with pytest.raises(Refused) as info:
            w.publisher.post_reply(w.answer(TEXT))
        assert info.value.reason == "gone" and w.corporation_replies() == []


# ---------------------------------------------------------------------------
# YouTube


def test_youtube_an_api_key_cannot_write():
    with world("youtube") as w:
        publisher = make_publisher("youtube", w.fake, "", w.sleeps)
        publisher.writer._headers = {"X-goog-api-key": w.fake.api_key}  # what a key-only set-up sends
        with pytest.raises(Refused) as info:
            publisher.post_reply(w.answer(TEXT))
        message = str(info.value)
        assert info.value.reason == "permission" and info.value.stops_platform
        assert "youtube.force-ssl" in message and "SHEETS_SYNC_YOUTUBE_PUBLISH_TOKEN" in message
        assert "API key cannot write" in message and w.fake.api_key not in message


def test_youtube_a_reply_costs_50_units_and_the_quota_stops_the_platform_till_midnight_pacific():
    with world("youtube") as w:
        w.fake.quota = 120
        w.publisher.post_reply(w.answer("one"))
        w.publisher.post_reply(w.answer("two"))
        assert w.fake.quota == 20
        with pytest.raises(Refused) as info:
            w.publisher.post_reply(w.answer("three"))
        assert info.value.reason == "quota" and info.value.stops_platform
        # NOW is 06:00 UTC = 22:00 Pacific (PST): two hours to midnight there.
        assert info.value.retry_after == 2 * 3600
        assert [t for _, t in w.corporation_replies()] == ["one", "two"]


def test_youtube_hide_holds_the_comment_for_review_so_the_reads_leave_it_out():
    with world("youtube") as w:
        w.publisher.hide(w.comment, True)
        assert "Ugc1" not in {c.comment_id for c in w.source().fetch(None).comments}
        w.publisher.hide(w.comment, False)
        assert "Ugc1" in {c.comment_id for c in w.source().fetch(None).comments}
        assert [r.params["moderationStatus"] for r in w.fake.writes()] == ["heldForReview", "published"]


def test_youtube_moderation_refusals():
    with world("youtube") as w:
        w.fake.not_owned.add("vid1")
        with pytest.raises(Refused) as info:
            w.publisher.hide(w.comment, True)
        assert info.value.reason == "permission" and "owns the video" in str(info.value)
        w.fake.not_owned.clear()
        w.fake.delete_comment("Ugc1")
        with pytest.raises(Refused) as gone:
            w.publisher.hide(w.comment, True)
        assert gone.value.reason == "gone" and "commentNotFound" in str(gone.value)


def test_no_answer_in_time_after_sending_is_uncertain():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(listener.accept()[0]), daemon=True).start()
    publisher = FacebookPublisher("111", Secret("SHEETS_SYNC_FACEBOOK_PUBLISH_TOKEN", "tok"),
                                  base_url=f"http://127.0.0.1:{listener.getsockname()[1]}",
                                  timeout=(1.0, 0.3))
    try:
        with pytest.raises(Uncertain, match="no answer within 0.3 s after the request was sent"):
            publisher.post_reply(Reply("facebook", "1_c1", "111_1", "", "Asha", TEXT))
    finally:
        for conn in held:
            conn.close()
        listener.close()


# ---------------------------------------------------------------------------
# X


def test_x_the_app_bearer_token_cannot_post():
    with world("x") as w:
        publisher = make_publisher("x", w.fake, w.fake.token, w.sleeps)
        with pytest.raises(Refused) as info:
            publisher.post_reply(w.answer(TEXT))
        assert info.value.reason == "permission" and info.value.stops_platform
        assert "user-context" in str(info.value) and "tweet.write" in str(info.value)


def test_x_refuses_a_reply_to_a_post_that_did_not_mention_the_account():
    with world("x") as w:
        w.fake.not_mentioned.add("1002")
        with pytest.raises(Refused) as info:
            w.publisher.post_reply(w.answer(TEXT))
        assert info.value.reason == "not_allowed" and not info.value.stops_platform
        assert "mentioned" in str(info.value) and w.corporation_replies() == []


def test_x_refuses_duplicate_content_and_says_so():
    with world("x") as w:
        w.fake.refuse_duplicates = True
        w.publisher.post_reply(w.answer("Thank you, noted."))
        with pytest.raises(Refused) as info:
            w.publisher.post_reply(w.answer("Thank you, noted.", to=w.reply_to_reply))
        assert info.value.reason == "not_allowed" and "duplicate" in str(info.value)
        assert not info.value.stops_platform and len(w.corporation_replies()) == 1


def test_x_about_100_posts_in_15_minutes_then_429_until_the_reset():
    with world("x") as w:
        w.fake.post_limit = 3
        for n in range(3):
            w.publisher.post_reply(w.answer(f"reply {n}"))
        with pytest.raises(Refused) as info:
            w.publisher.post_reply(w.answer("reply 3"))
        assert info.value.reason == "throttled" and info.value.stops_platform
        assert info.value.retry_after == 15 * 60
        assert len(w.corporation_replies()) == 3


def test_x_serves_replies_escaped_and_addressed_and_find_reply_undoes_both():
    with world("x") as w:
        posted = w.publisher.post_reply(w.answer("Tanks 3 & 4 <closed>"))
        # Held as typed, served with & < > escaped (the source undoes that, see test_sources_x).
        assert w.corporation_replies() == [(posted.reply_id, "@asha Tanks 3 & 4 <closed>")]
        assert w.publisher.find_reply(w.answer("Tanks 3 & 4 <closed>"), NOW) == posted
        assert w.publisher.find_reply(w.answer("Tanks 3 &amp; 4 &lt;closed&gt;"), NOW) is None
        literal = w.publisher.post_reply(w.answer("AT&amp;T"))  # typed as is: X escapes it again
        assert w.publisher.find_reply(w.answer("AT&amp;T"), NOW) == literal
        assert snowflake_time(posted.reply_id) == NOW and posted.posted_at == NOW
        assert normalised("@a @b_c hi @d") == "hi @d"


def test_x_hides_only_in_conversations_the_account_started():
    with world("x") as w:
        w.fake.add_post("5550001", "2001", at(hours=-1), "my own post")
        w.fake.add_reply("2001", "2002", at(minutes=-30), "a reply", author_id="5550002")
        with pytest.raises(Refused) as info:
            w.publisher.hide(Reply("x", "2002", "2001", "", "ravi", ""), True)
        assert info.value.reason == "not_allowed"


# ---------------------------------------------------------------------------
# Graph


@pytest.mark.parametrize("platform", ["facebook", "instagram"])
def test_graph_throttling_says_when_access_returns(platform):
    with world(platform) as w:
        w.fake.fail(w.write_path, *graph_throttled(32, 7), method="POST")
        with pytest.raises(Refused) as info:
            w.publisher.post_reply(w.answer(TEXT))
        assert info.value.reason == "throttled" and info.value.retry_after == 7 * 60
        assert "about 7 minutes" in str(info.value)


@pytest.mark.parametrize("answer, reason", [
    (graph_error(1, "An unknown error occurred", status=500), None),  # may have posted
    (graph_error(2, "Service temporarily unavailable", status=400), None),
    (graph_error(100, "(#100) Some other thing", status=400, is_transient=True), None),
    (graph_error(368, "The action attempted has been deemed abusive", status=400), "not_allowed"),
    (graph_error(10, "(#10) Permission denied", status=403), "permission"),
    (graph_error(230, "(#230) Requires pages_messaging permission", status=403), "permission"),
    (graph_error(190, "Error validating access token", status=400), "token"),
    ((404, "<html>not found</html>", {}), None),  # a proxy's page, no Graph error: proves nothing
])
def test_graph_answers_to_a_reply(answer, reason):
    with world("facebook") as w:
        w.fake.fail(w.write_path, *answer, method="POST")
        with pytest.raises(Refused if reason else Uncertain) as info:
            w.publisher.post_reply(w.answer(TEXT))
        if reason:
            assert info.value.reason == reason
        assert len(w.fake.writes()) == 1


def test_facebook_reply_still_counts_when_reading_its_time_fails():
    with world("facebook") as w:
        w.fake.fail("/", 500, {"error": {"message": "down", "code": 2}}, method="GET", times=10)
        posted = w.publisher.post_reply(w.answer(TEXT))
        assert posted.reply_id == w.corporation_replies()[0][0]
        assert posted.posted_at == NOW and posted.url == f"https://www.facebook.com/{posted.reply_id}"


def test_find_reply_says_none_only_after_reading_everything():
    with world("facebook") as w:
        w.fake.fail("/1_c1/comments", 500, {"error": {"message": "down", "code": 2}}, method="GET", times=3)
        with pytest.raises(SourceError) as info:
            w.publisher.find_reply(w.answer(TEXT), NOW)
        assert "gave up after 3 attempts" in str(info.value) and len(w.sleeps) == 2  # reads retry
        with pytest.raises(Refused) as expired:
            make_publisher("facebook", w.fake, "old", w.sleeps).find_reply(w.answer(TEXT), NOW)
        assert expired.value.reason == "token"


# ---------------------------------------------------------------------------
# Publish tokens

CONFIG = """
facebook:
  page_id: "111"
instagram:
  ig_user_id: "17841400000000001"
  publish_token: same
youtube:
  channel_id: UCcorporation000000000000
x:
  user_id: "3001960000"
"""
READ = {"SHEETS_SYNC_FACEBOOK_TOKEN": "fb-read-1", "SHEETS_SYNC_INSTAGRAM_TOKEN": "ig-read-2",
        "SHEETS_SYNC_YOUTUBE_API_KEY": "yt-key-3", "SHEETS_SYNC_X_BEARER_TOKEN": "x-read-4"}
WRITE = {"SHEETS_SYNC_FACEBOOK_PUBLISH_TOKEN": "fb-write-5",
         "SHEETS_SYNC_YOUTUBE_PUBLISH_TOKEN": "yt-oauth-6", "SHEETS_SYNC_X_PUBLISH_TOKEN": "x-user-7"}


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_publish_tokens_are_their_own_settings_or_the_reading_one_when_said(config_file, caplog):
    caplog.set_level(logging.DEBUG)
    publishers = open_publishers(None, config_path=config_file, environ={**READ, **WRITE})
    assert {p: pub.token_name for p, pub in publishers.items()} == {
        "facebook": "SHEETS_SYNC_FACEBOOK_PUBLISH_TOKEN", "instagram": "SHEETS_SYNC_INSTAGRAM_TOKEN",
        "youtube": "SHEETS_SYNC_YOUTUBE_PUBLISH_TOKEN", "x": "SHEETS_SYNC_X_PUBLISH_TOKEN"}
    assert publishers["facebook"].secret.value == "fb-write-5"
    assert publishers["instagram"].secret.value == "ig-read-2"
    shown = " ".join(repr(p) + repr(p.secret) + str(p.secret) + repr(p.http) + repr(p.writer)
                     for p in publishers.values()) + caplog.text
    assert not [v for v in {**READ, **WRITE}.values() if v in shown]
    assert list(open_publishers(["x"], config_path=config_file, environ={**READ, **WRITE})) == ["x"]


def test_a_missing_publish_token_names_it_and_the_way_to_share_the_reading_one(config_file):
    with pytest.raises(ConfigError) as info:
        open_publishers(["facebook"], config_path=config_file, environ=READ)
    message = str(info.value)
    assert "SHEETS_SYNC_FACEBOOK_PUBLISH_TOKEN" in message and "publish_token: same" in message
    assert "fb-read-1" not in message


def test_youtube_same_token_means_the_oauth_one_never_the_api_key(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text("youtube:\n  channel_id: UCx\n  publish_token: same\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="SHEETS_SYNC_YOUTUBE_TOKEN"):
        open_publishers(None, config_path=path, environ={"SHEETS_SYNC_YOUTUBE_API_KEY": "k"})
    found = open_publishers(None, config_path=path, environ={"SHEETS_SYNC_YOUTUBE_TOKEN": "oauth"})
    assert found["youtube"].token_name == "SHEETS_SYNC_YOUTUBE_TOKEN"


def test_publish_token_setting_is_checked(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text("facebook:\n  page_id: '1'\n  publish_token: yes-please\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"facebook.publish_token must be same .* or separate"):
        open_publishers(None, config_path=path, environ={})


def test_a_secrets_file_may_hold_reading_and_publish_tokens_for_both_sides(config_file, tmp_path):
    secrets = tmp_path / "outside" / "secrets.yaml"
    secrets.parent.mkdir()
    secrets.write_text("\n".join(f"{k}: {v}" for k, v in {**READ, **WRITE}.items()), encoding="utf-8")
    env = {"SHEETS_SYNC_SECRETS_FILE": str(secrets)}
    assert open_publishers(["facebook"], config_path=config_file, environ=env)["facebook"].secret.value \
        == "fb-write-5"
    sources = load_platform_sources(["facebook"], config_path=config_file, environ=env)
    assert sources[0].secret.value == "fb-read-1"
