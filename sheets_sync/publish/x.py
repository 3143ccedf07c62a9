"""Replies and hiding on X (API v2), as the account.

Reply: ``POST /2/tweets`` with ``{"text", "reply": {"in_reply_to_tweet_id"}}`` →
201 ``{"data": {"id", "text"}}``; the id is a snowflake, which carries the
reply's time. Needs a user-context token (OAuth 2.0 with ``tweet.write``, or
OAuth 1.0a): the app's bearer token cannot post. A self-serve app may reply only
to posts whose author mentioned the account (else 403 → ``not_allowed``); about
100 posts per 15 minutes (429 → ``throttled`` until ``x-rate-limit-reset``).

:meth:`XPublisher.find_reply` reads the account's own timeline
(``GET /2/users/{id}/tweets`` from ``since``), which shows a reply at once — the
conversation search indexes it only after a while — and matches the reply to
that post by text, after X's normalisation: the @usernames X puts first in a
reply, and ``& < >`` HTML-escaped. Hide: ``PUT /2/tweets/{id}/hidden``
(``tweet.moderate.write``; in conversations the account started). Length:
twitter-text's weighted count (:mod:`sheets_sync.publish.twitter_text`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sheets_sync.publish.base import Posted, Refused, Reply, Uncertain
from sheets_sync.publish.platform import PlatformPublisher
from sheets_sync.publish.twitter_text import MAX_WEIGHTED_LENGTH, weighted_length
from sheets_sync.sources._http import Response, json_or_text
from sheets_sync.sources.platforms import ist, text_field, time_field

X_EPOCH_MS = 1288834974657
_LEADING_MENTIONS = re.compile(r"^(?:@\w{1,15}\s+)+")
_WRITE = "a user-context token (OAuth 2.0 with the tweet.write scope — tweet.moderate.write to hide " \
         "replies — or OAuth 1.0a) of the account in {env}; the app's bearer token cannot post"


def snowflake_time(tweet_id: str) -> datetime | None:
    """The time an X id carries (milliseconds since X's epoch, above bit 22)."""
    try:
        return datetime.fromtimestamp(((int(tweet_id) >> 22) + X_EPOCH_MS) / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        return None


def normalised(text: str, *, served: bool = True) -> str:
    """A post's text as people typed it: X's escaping undone (``served``: a text X
    serves, not one we send), the @usernames X puts first in a reply dropped."""
    if served:
        text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return _LEADING_MENTIONS.sub("", text)


class XPublisher(PlatformPublisher):
    platform = "x"
    service = "X"
    max_length = MAX_WEIGHTED_LENGTH
    token_name = "SHEETS_SYNC_X_PUBLISH_TOKEN"
    url_env = "SHEETS_SYNC_X_URL"
    default_url = "https://api.x.com"

    def length(self, text: str) -> int:
        return weighted_length(text)

    def same_text(self, served: str, sent: str) -> bool:
        return normalised(served) == normalised(sent, served=False)

    def refusal(self, response: Response, what: str) -> Refused | None:
        body = response.data if isinstance(response.data, dict) else None
        if body is None or response.status >= 500:
            return None
        kind = str(body.get("type", "")).rsplit("/", 1)[-1]
        detail = json_or_text(body.get("detail", "") or body.get("title", ""), 200)
        said = f"{body.get('title', response.status)}: {detail}"
        if response.status == 401:
            return Refused("token", f"X rejected the token in {self.token_name} ({said}): put a new "
                           f"{_WRITE.format(env=self.token_name)}", stops_platform=True)
        if response.status == 429:
            capped = kind == "usage-capped"
            wait = self._wait(response.headers)
            back = ("X gives no time, try again in 15 minutes" if wait is None
                    else f"X resets the limit at {ist(self.clock() + timedelta(seconds=wait))} "
                         "(x-rate-limit-reset)")
            return Refused("quota" if capped else "throttled",
                           f"X {'usage cap' if capped else 'rate limit'} reached while sending {what} "
                           f"({said}); {back}; the replies stay queued for the next run", stops_platform=True,
                           retry_after=wait)
        if response.status == 403 and body.get("reason") == "client-not-enrolled":
            needs = json_or_text(body.get("required_enrollment", "") or "a paid access level", 80)
            return Refused("permission", f"X refused {what} (client-not-enrolled): the app behind "
                           f"{self.token_name} is not enrolled for this endpoint (X asks for {needs!r}); in "
                           "the X developer portal attach the app to a Project with that access level; the "
                           "replies stay queued", stops_platform=True)
        if response.status == 403:
            return self._forbidden(kind, detail.lower(), what, said)
        if response.status == 404:
            return Refused("gone", f"X refused {what} ({said}): the post was deleted")
        if "too long" in detail.lower():
            return Refused("too_long", f"X refused {what} ({said}): shorten the reply")
        return Refused("not_allowed", f"X refused {what} ({said}); nothing was posted")

    def _forbidden(self, kind: str, detail: str, what: str, said: str) -> Refused:
        if "deleted or not visible" in detail:
            return Refused("gone", f"X refused {what} ({said}): the post was deleted or is not visible")
        if "mentioned" in detail or "engaged" in detail:
            return Refused("not_allowed", f"X refused {what} ({said}): X lets this app reply only to posts "
                           "whose author mentioned the account; answer on X by hand or set the row to "
                           "Not required")
        if "duplicate" in detail:
            return Refused("not_allowed", f"X refused {what} ({said}): X refuses a post that repeats one "
                           "of the account's own word for word; change the wording a little")
        if "conversations you started" in detail:
            return Refused("not_allowed", f"X refused {what} ({said}): X hides replies only under the "
                           "account's own posts")
        needs = _WRITE.format(env=self.token_name)
        return Refused("permission", f"X refused {what} ({said}): it needs {needs}", stops_platform=True)

    def _wait(self, headers: Mapping[str, str]) -> float | None:
        try:
            reset = datetime.fromtimestamp(int(headers.get("x-rate-limit-reset", "")), UTC)
        except (TypeError, ValueError, OverflowError):
            return None
        return max(0.0, (reset - self.clock()).total_seconds())

    def _post(self, reply: Reply, text: str) -> Posted:
        what = f"the reply to X post {reply.comment_id}"
        answer = self.writer.send("POST", "2/tweets", what=what,
                                  json={"text": text, "reply": {"in_reply_to_tweet_id": reply.comment_id}})
        data = answer.get("data") if isinstance(answer.get("data"), dict) else {}
        reply_id = data.get("id")
        if not isinstance(reply_id, str) or not reply_id.isdigit():
            raise Uncertain(f"X: {what}: the answer carries no id ({json_or_text(answer, 120)}); the reply "
                            "may have been posted — it is checked before anything is sent again")
        now = self.clock()
        when = snowflake_time(reply_id)
        if when is None or abs(when - now) > timedelta(days=1):
            when = now  # not a snowflake we can read: our clock
        return Posted(reply_id, f"https://x.com/i/web/status/{reply_id}", when)

    def find_reply(self, reply: Reply, since: datetime) -> Posted | None:
        floor = since.astimezone(UTC).replace(microsecond=0)
        candidates = (
            (str(raw["id"]), text_field(raw, "text"), time_field(raw, "created_at"),
             f"https://x.com/i/web/status/{raw['id']}")
            for raw in self._timeline(floor)
            if _replies_to(raw) == reply.comment_id
            and str(raw.get("author_id", self.account_id)) == self.account_id
        )
        return self.match(candidates, reply, since)

    def _timeline(self, since: datetime) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {
            "start_time": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "max_results": 100,
            "exclude": "retweets",
            "tweet.fields": "author_id,created_at,conversation_id,referenced_tweets",
        }
        what = f"the account's posts since {params['start_time']}"
        while True:
            answer = self.http.get(f"2/users/{self.account_id}/tweets", params, what=what)
            for raw in answer.get("data") or []:
                if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                    yield raw
            token = (answer.get("meta") or {}).get("next_token")
            if not token:
                return
            params = {**params, "pagination_token": token}

    def hide(self, reply_to: Reply, hidden: bool) -> None:
        self.writer.send("PUT", f"2/tweets/{reply_to.comment_id}/hidden", json={"hidden": hidden},
                         what=f"{'hiding' if hidden else 'showing'} X reply {reply_to.comment_id}",
                         idempotent=True)


def _replies_to(raw: dict[str, Any]) -> str:
    for ref in raw.get("referenced_tweets") or []:
        if isinstance(ref, dict) and ref.get("type") == "replied_to":
            return str(ref.get("id", ""))
    return ""
