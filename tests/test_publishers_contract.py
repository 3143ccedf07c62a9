"""The contract every publisher passes, on its platform's fake (see tests/publish_worlds.py).

Posting is not idempotent anywhere, so the heart of it: a write that fails after
the platform accepted it is ``Uncertain`` (never retried), the fake then holds
exactly one reply, and ``find_reply`` finds it; a refusal is ``Refused`` and the
fake holds none.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from sheets_sync.publish.base import REASONS, Posted, Refused, Uncertain
from sheets_sync.testing.fake_platforms import graph_error, graph_throttled, x_rate_limited
from tests.platform_fixtures import NOW, at
from tests.publish_worlds import PLATFORMS, TEXT, World, make_publisher, world


@pytest.fixture(params=PLATFORMS)
def w(request) -> Iterator[World]:
    with world(request.param) as built:
        yield built


def _one_reply(w: World, text: str = TEXT, **kw) -> str:
    replies = w.corporation_replies()
    assert [t for _, t in replies] == [w.served(text, **kw)], replies
    return replies[0][0]


def test_a_reply_is_posted_once_as_the_account_byte_for_byte_and_read_back(w):
    posted = w.publisher.post_reply(w.answer(TEXT))
    assert isinstance(posted, Posted)
    assert posted.reply_id == _one_reply(w)
    assert posted.posted_at == NOW and posted.posted_at.tzinfo is not None
    assert posted.url.startswith("https://") and posted.reply_id.split(".")[-1] in posted.url
    assert len(w.fake.writes()) == 1
    # The read side sees it: the corporation's own reply, by_page, under the citizen's comment.
    batch = w.source().fetch(None)
    mine = [c for c in batch.comments if c.comment_id == posted.reply_id]
    assert len(mine) == 1 and mine[0].by_page
    assert mine[0].text == w.served(TEXT)
    if w.platform != "x":  # X threads by conversation; the others by the comment answered
        assert mine[0].parent_id == w.comment.comment_id


def test_find_reply_finds_the_posted_reply_and_nothing_else(w):
    posted = w.publisher.post_reply(w.answer(TEXT))
    found = w.publisher.find_reply(w.answer(TEXT), at(minutes=-1))
    assert found is not None and found.reply_id == posted.reply_id and found.posted_at == NOW
    assert found.url == posted.url
    assert w.publisher.find_reply(w.answer(TEXT), NOW) is not None  # "at or after"
    assert w.publisher.find_reply(w.answer(TEXT + " (edited)"), at(minutes=-1)) is None
    assert w.publisher.find_reply(w.answer(TEXT), at(seconds=1)) is None  # older than since
    assert w.publisher.find_reply(w.answer(TEXT, to=w.reply_to_reply), at(minutes=-1)) is None \
        or w.platform in ("facebook", "youtube")  # these thread replies to replies together
    assert len(w.fake.writes()) == 1


@pytest.mark.parametrize("fault", ["500", "drop"])
def test_a_failure_after_the_platform_accepted_is_uncertain_and_find_reply_finds_the_one_reply(w, fault):
    if fault == "500":
        w.fake.fail(w.write_path, 500, {"error": {"message": "internal", "code": 2}}, method="POST",
                    accepted=True)
    else:
        w.fake.drop(w.write_path, method="POST", accepted=True)
    with pytest.raises(Uncertain) as info:
        w.publisher.post_reply(w.answer(TEXT))
    assert "checked on the platform before anything is sent again" in str(info.value)
    assert len(w.fake.writes()) == 1, "a POST that may have landed was sent again"
    reply_id = _one_reply(w)
    found = w.publisher.find_reply(w.answer(TEXT), at(minutes=-1))
    assert found is not None and found.reply_id == reply_id


@pytest.mark.parametrize("fault", ["500", "drop"])
def test_a_failure_before_the_platform_acted_is_uncertain_too_and_find_reply_says_none(w, fault):
    # The client cannot tell this from the case above; find_reply can.
    if fault == "500":
        w.fake.fail(w.write_path, 503, {"error": {"message": "unavailable", "code": 2}}, method="POST")
    else:
        w.fake.drop(w.write_path, method="POST")
    with pytest.raises(Uncertain):
        w.publisher.post_reply(w.answer(TEXT))
    assert w.corporation_replies() == []
    assert w.publisher.find_reply(w.answer(TEXT), at(minutes=-1)) is None


def _throttle(w: World) -> None:
    if w.platform in ("facebook", "instagram"):
        w.fake.fail(w.write_path, *graph_throttled(80002 if w.platform == "instagram" else 4, 12),
                    method="POST")
    elif w.platform == "youtube":
        w.fake.quota = 49
    else:
        w.fake.fail(w.write_path, *x_rate_limited(at(minutes=15)), method="POST")


def test_throttling_or_the_quota_is_a_refusal_that_stops_the_platform_and_posts_nothing(w):
    _throttle(w)
    with pytest.raises(Refused) as info:
        w.publisher.post_reply(w.answer(TEXT))
    refused = info.value
    assert refused.reason == ("quota" if w.platform == "youtube" else "throttled")
    assert refused.stops_platform and refused.retry_after and refused.retry_after > 0
    assert w.corporation_replies() == []
    assert w.sleeps == [], "a refused write is not retried"


def test_an_expired_token_stops_the_platform_and_names_the_variable(w):
    publisher = make_publisher(w.platform, w.fake, "expired-token-value", w.sleeps)
    with pytest.raises(Refused) as info:
        publisher.post_reply(w.answer(TEXT))
    assert info.value.reason == "token" and info.value.stops_platform
    assert publisher.token_name in str(info.value) and "_PUBLISH_TOKEN" in publisher.token_name
    assert "expired-token-value" not in str(info.value)
    assert w.corporation_replies() == []


def test_a_comment_deleted_on_the_platform_is_gone(w):
    w.delete_comment()
    with pytest.raises(Refused) as info:
        w.publisher.post_reply(w.answer(TEXT))
    assert info.value.reason == "gone" and not info.value.stops_platform
    assert w.corporation_replies() == []


def test_a_missing_permission_is_named_with_the_variable(w):
    permission = {"facebook": "pages_manage_engagement", "instagram": "instagram_manage_comments",
                  "youtube": "youtube.force-ssl", "x": "tweet.write"}[w.platform]
    if w.platform in ("facebook", "instagram"):
        w.fake.missing_permissions.add(permission)
    elif w.platform == "youtube":
        w.fake.scopes.clear()
    else:
        w.fake.scopes.discard("tweet.write")
    with pytest.raises(Refused) as info:
        w.publisher.post_reply(w.answer(TEXT))
    assert info.value.reason == "permission" and info.value.stops_platform
    assert permission in str(info.value) and w.publisher.token_name in str(info.value)
    assert w.corporation_replies() == []


def test_a_reply_too_long_is_refused_before_anything_is_sent(w):
    too_long = "a" * (w.publisher.max_length + 1)
    assert w.publisher.length(too_long) == w.publisher.max_length + 1
    with pytest.raises(Refused) as info:
        w.publisher.post_reply(w.answer(too_long))
    assert info.value.reason == "too_long" and str(w.publisher.max_length) in str(info.value)
    assert w.fake.writes() == []
    w.publisher.post_reply(w.answer("a" * w.publisher.max_length))  # the limit itself goes
    assert len(w.corporation_replies()) == 1


def test_a_platform_that_cannot_be_reached_is_refused_nothing_sent(w):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: the connection is refused before sending
    publisher = make_publisher(w.platform, w.fake, w.token, w.sleeps, base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(Refused) as info:
        publisher.post_reply(w.answer(TEXT))
    assert info.value.reason in REASONS and info.value.stops_platform
    assert "nothing was sent" in str(info.value)


def test_a_reply_to_a_reply_is_posted_in_its_thread_and_found(w):
    reply = w.answer(TEXT, to=w.reply_to_reply)
    posted = w.publisher.post_reply(reply)
    assert posted.reply_id == _one_reply(w, to_reply=True)
    found = w.publisher.find_reply(reply, at(minutes=-1))
    assert found is not None and found.reply_id == posted.reply_id


def test_hide_and_show_again(w):
    target = w.reply_to_reply if w.platform == "x" else w.comment  # X hides replies in its own threads
    w.publisher.hide(target, True)
    assert w.is_hidden(target.comment_id)
    w.publisher.hide(target, True)  # hiding twice is harmless
    assert w.is_hidden(target.comment_id)
    w.publisher.hide(target, False)
    assert not w.is_hidden(target.comment_id)


def test_hiding_is_idempotent_so_it_is_retried(w):
    target = w.reply_to_reply if w.platform == "x" else w.comment
    w.fake.drop("/", method="PUT" if w.platform == "x" else "POST", accepted=True)
    w.publisher.hide(target, True)
    assert w.is_hidden(target.comment_id) and len(w.fake.writes()) == 2 and len(w.sleeps) == 1


def test_tokens_never_in_messages_or_logs(w, caplog):
    caplog.set_level(logging.DEBUG)
    shown = [repr(w.publisher), repr(w.publisher.secret), str(w.publisher.secret), repr(w.publisher.writer)]
    w.publisher.post_reply(w.answer(TEXT))
    w.fake.fail(w.write_path, 500, {"error": {"message": f"echo {w.token}", "code": 2}}, method="POST",
                accepted=True)
    with pytest.raises(Uncertain) as uncertain:
        w.publisher.post_reply(w.answer(TEXT + "!"))
    w.fake.fail(w.write_path, *graph_error(368, f"blocked {w.token}"), method="POST")
    with pytest.raises(Refused) as refused:
        w.publisher.post_reply(w.answer(TEXT + "?"))
    shown += [str(uncertain.value), str(refused.value)] + [r.getMessage() for r in caplog.records]
    assert w.token not in " ".join(shown)
    assert "***" in str(uncertain.value)
