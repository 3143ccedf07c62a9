"""The X API v2 fake: a user, their posts and the recent search of a conversation.

Writes need the user-context token (``user_token``; the app-only bearer token gets
X's 403 ``unsupported-authentication``): a reply ``POST /2/tweets`` with
``{"text", "reply": {"in_reply_to_tweet_id"}}`` → 201 ``{"data": {"id", "text"}}``,
its id a snowflake that carries its time, its text served as X serves it (the
replied-to author's @username first, ``& < >`` HTML-escaped); hide a reply
``PUT /2/tweets/{id}/hidden`` ``{"hidden": true}`` (conversations the account
started only). Knobs: ``not_enrolled`` (read paths the app's access level does not
include, answered with X's 403 ``client-not-enrolled``: a free-tier app's
``{"/2/tweets/search"}``), ``not_mentioned``, ``refuse_duplicates`` (posts whose author did not mention the
account: X's 403 for self-serve apps), ``scopes``, ``post_limit`` (posts per 15
minutes, then 429), :meth:`FakeX.delete_tweet`, and the server's faults.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from typing import Any

from .server import Answer, FakeServer, bearer_token, cursor_offset, page_cursor


def x_time(when: datetime) -> str:
    """X's time format: ``2020-07-06T15:02:44.000Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def x_problem(status: int, kind: str, title: str, detail: str, headers: dict | None = None) -> Answer:
    """An X problem+JSON answer; ``kind`` is the end of the problem type URI."""
    return (
        status,
        {
            "title": title,
            "detail": detail,
            "type": f"https://api.twitter.com/2/problems/{kind}",
            "status": status,
        },
        headers or {},
    )


def x_rate_limited(reset: datetime) -> Answer:
    return x_problem(
        429,
        "rate-limit-exceeded",
        "Too Many Requests",
        "Too Many Requests",
        {
            "x-rate-limit-limit": "450",
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(int(reset.timestamp())),
        },
    )


def _forbidden(detail: str) -> Answer:
    """X's plain 403 (``type: about:blank``): a refusal of this one request."""
    return 403, {"detail": detail, "type": "about:blank", "title": "Forbidden", "status": 403}, {}


def x_not_enrolled(client_id: str = "28907132") -> Answer:
    """X's 403 for an app whose access level does not include the endpoint (the free
    tier's reads): not problem+JSON's usual ``status``, but ``reason``,
    ``required_enrollment`` and ``registration_url``, as X sends it."""
    return (
        403,
        {
            "client_id": client_id,
            "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys "
            "and tokens from a Twitter developer App that is attached to a Project. You can create a "
            "project via the developer portal.",
            "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
            "title": "Client Forbidden",
            "required_enrollment": "Appropriate Level of API Access",
            "reason": "client-not-enrolled",
            "type": "https://api.twitter.com/2/problems/client-forbidden",
        },
        {},
    )


X_UNAUTHORIZED = (
    401,
    {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"},
    {},
)


class FakeX(FakeServer):
    """``/2/users/{id}``, ``/2/users/{id}/tweets``, ``/2/tweets/search/recent``."""

    def __init__(self, *, page_size: int = 100, token: str = "fake-x-bearer") -> None:
        super().__init__(page_size=page_size)
        self.token = token
        self.now = datetime.now(UTC)  # for search's seven-day reach
        self.users: dict[str, dict[str, str]] = {}
        self.tweets: list[dict[str, Any]] = []
        # Per conversation id: partial errors[] a 200 answer carries.
        self.partial_errors: dict[str, list[dict[str, Any]]] = {}
        # The write side: the account's user-context token and what it may do.
        self.user_token = "fake-x-user-token"
        self.me = ""  # the account the user token belongs to (the first user added)
        self.scopes = {"tweet.read", "users.read", "tweet.write", "tweet.moderate.write"}
        self.not_mentioned: set[str] = set()
        self.post_limit = 100  # per 15 minutes
        # X refuses a post whose text repeats one of the account's own (403); off by
        # default so that tests may post the same thanks under many comments.
        self.refuse_duplicates = False
        self.hidden: set[str] = set()
        # Read paths (fragments) the app is not enrolled for: X's free access level
        # refuses the replies search with a 403 "client-not-enrolled".
        self.not_enrolled: set[str] = set()
        self._posted: list[datetime] = []
        self._sequence = 0

    def add_user(self, user_id: str, username: str, name: str = "") -> None:
        self.users[user_id] = {"id": user_id, "username": username, "name": name or username}
        self.me = self.me or user_id

    def delete_tweet(self, tweet_id: str) -> None:
        """The post deleted on X."""
        self.tweets = [t for t in self.tweets if t["id"] != tweet_id]

    def add_post(self, user_id: str, tweet_id: str, at: datetime, text: str) -> None:
        self.tweets.append(
            {
                "id": tweet_id,
                "author_id": user_id,
                "created_at": at,
                "text": text,
                "conversation_id": tweet_id,
            }
        )

    def add_reply(
        self,
        post_id: str,
        tweet_id: str,
        at: datetime,
        text: str,
        *,
        author_id: str,
        replied_to: str | None = None,
    ) -> None:
        target = replied_to or post_id
        target_author = next((t["author_id"] for t in self.tweets if t["id"] == target), "")
        self.tweets.append(
            {
                "id": tweet_id,
                "author_id": author_id,
                "created_at": at,
                "text": text,
                "conversation_id": post_id,
                "in_reply_to_user_id": target_author,
                "referenced_tweets": [{"type": "replied_to", "id": target}],
            }
        )

    def handle(self, path: str, params: dict[str, str], headers: dict[str, str]) -> Answer:
        if bearer_token(headers) not in (self.token, self.user_token):
            return X_UNAUTHORIZED
        if any(fragment in path for fragment in self.not_enrolled):
            return x_not_enrolled()
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["2", "users"] and len(parts) == 3:
            user = self.users.get(parts[2])
            if user is None:
                return 200, {"errors": [self._not_found("user", parts[2])]}, {}
            return 200, {"data": dict(user)}, {}
        if parts[:2] == ["2", "users"] and len(parts) == 4 and parts[3] == "tweets":
            rows = [t for t in self.tweets if t["author_id"] == parts[2]]
            if "replies" in params.get("exclude", ""):
                rows = [t for t in rows if t["conversation_id"] == t["id"]]
            return self._list(rows, params, "pagination_token", 5)
        if parts == ["2", "tweets", "search", "recent"]:
            query = params.get("query", "")
            if not query.startswith("conversation_id:"):
                return x_problem(400, "invalid-request", "Invalid Request", f"bad query {query}")
            conversation = query.split(":", 1)[1]
            start = params.get("start_time")
            if start and datetime.fromisoformat(start.replace("Z", "+00:00")) < self.now - timedelta(days=7):
                return (
                    400,
                    {
                        "errors": [
                            {
                                "parameters": {"start_time": [start]},
                                "message": f"Invalid 'start_time':'{start}'. 'start_time' must "
                                "be a minimum of 10 seconds prior to the request time.",
                            }
                        ],
                        "title": "Invalid Request",
                        "detail": "One or more parameters to your request was invalid.",
                        "type": "https://api.twitter.com/2/problems/invalid-request",
                    },
                    {},
                )
            rows = [t for t in self.tweets if t["conversation_id"] == conversation]
            status, body, extra = self._list(rows, params, "next_token", 10)
            errors = self.partial_errors.get(conversation)
            if errors:
                body["errors"] = errors
            return status, body, extra
        return x_problem(404, "resource-not-found", "Not Found", f"{path} not found")

    # writing --------------------------------------------------------------------

    def handle_write(self, method: str, path: str, params: dict[str, str], body: Any,
                     headers: dict[str, str]) -> Answer:
        token = bearer_token(headers)
        if token == self.token:
            return x_problem(403, "unsupported-authentication", "Unsupported Authentication",
                             "Authenticating with OAuth 2.0 Application-Only is forbidden for this "
                             "endpoint.  Supported authentication types are [OAuth 1.0a User Context, "
                             "OAuth 2.0 User Context].")
        if token != self.user_token:
            return X_UNAUTHORIZED
        parts = [p for p in path.split("/") if p]
        body = body if isinstance(body, dict) else {}
        if method == "POST" and parts == ["2", "tweets"]:
            return self._scoped("tweet.write") or self._post_reply(body)
        if method == "PUT" and len(parts) == 4 and parts[:2] == ["2", "tweets"] and parts[3] == "hidden":
            return self._scoped("tweet.moderate.write") or self._hide(parts[2], body.get("hidden"))
        return x_problem(404, "resource-not-found", "Not Found", f"{method} {path} not found")

    def _scoped(self, scope: str) -> Answer | None:
        if scope in self.scopes:
            return None
        return x_problem(403, "client-forbidden", "Forbidden",
                         f"You are not permitted to perform this action: the token lacks the {scope} scope.")

    def _post_reply(self, body: dict[str, Any]) -> Answer:
        now = self.current_time()
        self._posted = [t for t in self._posted if t > now - timedelta(minutes=15)]
        if len(self._posted) >= self.post_limit:
            return x_rate_limited(self._posted[0] + timedelta(minutes=15))
        text = body.get("text")
        target_id = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        target = next((t for t in self.tweets if t["id"] == target_id), None)
        if target is None:
            return _forbidden("You attempted to reply to a Tweet that is deleted or not visible to you.")
        if target_id in self.not_mentioned:
            return _forbidden("Reply to this conversation is not allowed because you have not been "
                          "mentioned or otherwise engaged by the author of the post you are replying to.")
        if not isinstance(text, str) or not text:
            return x_problem(400, "invalid-request", "Invalid Request", "The text field is required.")
        if self.refuse_duplicates and any(t["author_id"] == self.me and t["text"].endswith(text)
                                          for t in self.tweets):
            return _forbidden("You are not allowed to create a Tweet with duplicate content.")
        self._posted.append(now)
        self._sequence += 1
        # A snowflake: milliseconds since X's epoch, shifted 22 bits, carry the time.
        tweet_id = str(((int(now.timestamp() * 1000) - 1288834974657) << 22) + self._sequence)
        mention = self.users.get(target["author_id"], {}).get("username")
        # Stored as typed; every answer escapes & < > (see the reads), this one too.
        stored = (f"@{mention} " if mention else "") + text
        served = html.escape(stored, quote=False)
        self.tweets.append({
            "id": tweet_id,
            "author_id": self.me,
            "created_at": now,
            "text": stored,
            "conversation_id": target["conversation_id"],
            "in_reply_to_user_id": target["author_id"],
            "referenced_tweets": [{"type": "replied_to", "id": target_id}],
        })
        return 201, {"data": {"id": tweet_id, "text": served, "edit_history_tweet_ids": [tweet_id]}}, {}

    def _hide(self, tweet_id: str, hidden: Any) -> Answer:
        tweet = next((t for t in self.tweets if t["id"] == tweet_id), None)
        if tweet is None:
            return x_problem(404, "resource-not-found", "Not Found Error",
                             f"Could not find tweet with id: [{tweet_id}].")
        root = next((t for t in self.tweets if t["id"] == tweet["conversation_id"]), None)
        if root is None or root["author_id"] != self.me or tweet_id == root["id"]:
            return _forbidden("You can only hide replies in conversations you started.")
        if hidden is True:
            self.hidden.add(tweet_id)
        else:
            self.hidden.discard(tweet_id)
        return 200, {"data": {"hidden": hidden is True}}, {}

    def _not_found(self, kind: str, value: str) -> dict[str, Any]:
        return {
            "value": value,
            "detail": f"Could not find {kind} with id: [{value}].",
            "title": "Not Found Error",
            "resource_type": kind,
            "parameter": "id",
            "resource_id": value,
            "type": "https://api.twitter.com/2/problems/resource-not-found",
        }

    def _list(
        self, rows: list[dict[str, Any]], params: dict[str, str], token_name: str, least: int
    ) -> Answer:
        start_time = params.get("start_time")
        if start_time:
            since = datetime.fromisoformat(start_time.replace("Z", "+00:00"))
            rows = [t for t in rows if t["created_at"] >= since]
        rows = sorted(rows, key=lambda t: (t["created_at"], int(t["id"])), reverse=True)
        start = cursor_offset(params.get(token_name))
        size = self._limit(params, "max_results", least)
        chunk = rows[start : start + size]
        meta: dict[str, Any] = {"result_count": len(chunk)}
        if not chunk:
            return 200, {"meta": meta}, {}
        meta["newest_id"] = chunk[0]["id"]
        meta["oldest_id"] = chunk[-1]["id"]
        if start + size < len(rows):
            meta["next_token"] = page_cursor(start + size)
        data = []
        for t in chunk:
            item = {k: v for k, v in t.items() if k != "created_at"}
            item["created_at"] = x_time(t["created_at"])
            # X sends a post's text with & < > HTML-escaped (and nothing else).
            item["text"] = t["text"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            data.append(item)
        authors = {t["author_id"] for t in chunk}
        users = [dict(self.users[a]) for a in sorted(authors) if a in self.users]
        body: dict[str, Any] = {"data": data, "meta": meta}
        if users and "author_id" in params.get("expansions", ""):
            body["includes"] = {"users": users}
        return 200, body, {}
