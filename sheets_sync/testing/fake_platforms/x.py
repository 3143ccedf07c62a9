"""The X API v2 fake: a user, their posts and the recent search of a conversation."""

from __future__ import annotations

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

    def add_user(self, user_id: str, username: str, name: str = "") -> None:
        self.users[user_id] = {"id": user_id, "username": username, "name": name or username}

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
        if bearer_token(headers) != self.token:
            return X_UNAUTHORIZED
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["2", "users"] and len(parts) == 3:
            user = self.users.get(parts[2])
            if user is None:
                return 200, {"errors": [self._not_found("user", parts[2])]}, {}
            return 200, {"data": dict(user)}, {}
        if parts[:2] == ["2", "users"] and len(parts) == 4 and parts[3] == "tweets":
            rows = [t for t in self.tweets if t["author_id"] == parts[2] and t["conversation_id"] == t["id"]]
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
