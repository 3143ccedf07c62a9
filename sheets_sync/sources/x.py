"""X source (API v2): the account's own posts and the replies in their conversations.

Posts: ``GET /2/users/{id}/tweets`` (retweets and the account's replies
excluded) since the post horizon. Replies: ``GET /2/tweets/search/recent``
with ``query=conversation_id:{post id}`` — which reaches back seven days
only, so replies older than that cannot be read (a warning says so when the
window starts earlier, e.g. on a first run). Paging follows
``meta.next_token``. ``parent_id`` is the reply's ``replied_to`` target when
that is another comment in the conversation, empty when it answers the post
itself. The account's own replies (``author_id`` equal to the account) are
``by_page``. X reports no hidden replies, so ``deleted`` is always false.

Errors: 401 → :class:`AuthError` (renew the bearer token); 403 →
:class:`AuthError` (the app's access level; ``client-not-enrolled``, X's answer to a
free-tier app's reads, says what that means and what to do); 429 → :class:`RateLimited`
saying when to come back (``x-rate-limit-reset``) or that the usage cap is
reached (problem type ``usage-capped``); 5xx and dropped connections →
retried. A 200 that carries partial ``errors[]`` becomes a warning naming
the objects. Reading is paid per post read, so each run reads only the
window it needs. Incremental reading, the checkpoint and throttling: see
:mod:`sheets_sync.sources.window`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sheets_sync.errors import AuthError, ConfigError, InputError, RateLimited, SourceError
from sheets_sync.models import Comment, Post
from sheets_sync.sources._http import ApiError, Response, Transient, json_or_text, shown
from sheets_sync.sources.platforms import PlatformSource, ist, text_field
from sheets_sync.sources.window import Harvest, Window
from sheets_sync.timeutil import parse_timestamp

#: How far back ``search/recent`` reaches, less a margin for clock skew.
SEARCH_REACH = timedelta(days=7) - timedelta(minutes=5)
TWEET_FIELDS = "author_id,conversation_id,created_at,in_reply_to_user_id,referenced_tweets"
RENEW = "create a new bearer token in the X developer portal (your app → Keys and tokens) and put it in {env}"


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class XSource(PlatformSource):
    """Posts of one X account and the replies under them."""

    platform = "x"
    service = "X"
    account_setting = "user_id"
    token_names = ("SHEETS_SYNC_X_BEARER_TOKEN",)
    url_env = "SHEETS_SYNC_X_URL"
    default_url = "https://api.x.com"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._username = ""

    @property
    def user_id(self) -> str:
        return self.config.account_id

    def map_error(self, response: Response, what: str) -> Exception:
        body = response.data if isinstance(response.data, dict) else {}
        kind = str(body.get("type", "")).rsplit("/", 1)[-1]
        title = json_or_text(body.get("title", "") or f"HTTP {response.status}", 80)
        detail = json_or_text(body.get("detail", ""), 200)
        said = f"{title}: {detail}" if detail and detail != title else title
        if response.status == 401:
            return AuthError(
                f"X rejected the bearer token in {self.secret.name} ({said}): "
                + RENEW.format(env=self.secret.name)
            )
        if response.status == 403 and body.get("reason") == "client-not-enrolled":
            return AuthError(self._not_enrolled(what, body))
        if response.status == 403:
            return AuthError(
                f"X refused {what} ({said}): the app behind {self.secret.name} needs access "
                "to this endpoint (an app attached to a Project, with read access and credits, "
                "in the X developer portal)"
            )
        if response.status == 429:
            if kind == "usage-capped":
                return RateLimited(
                    f"X usage cap reached while reading {what} ({said}): no more reading "
                    "until the cap resets or the plan/credits are raised in the X developer "
                    "portal; the next run resumes from the checkpoint"
                )
            return RateLimited(
                f"X rate limit reached while reading {what} ({said}); "
                f"{self._come_back(response.headers)}; the next run resumes from the checkpoint"
            )
        if response.status >= 500:
            return Transient(SourceError(f"X: {what}: HTTP {response.status} ({said})"))
        return ApiError(f"X refused {what} ({said})", status=response.status, reason=kind)

    def _not_enrolled(self, what: str, body: Mapping[str, Any]) -> str:
        # X's free access level answers its reads so: the token is good, the plan is not.
        needs = json_or_text(body.get("required_enrollment", "") or "a paid access level", 80)
        return (
            f"X refused {what}: the app behind {self.secret.name} is not enrolled for this "
            f"endpoint (client-not-enrolled; X asks for {needs!r}) — X's free access level may post "
            "but not read replies. So X's comments are not read into the tracker (the other "
            "platforms still are). To read them: in the X developer portal attach the app to a "
            "Project with read access (pay-per-use credits, or X's free access for public-utility "
            "apps), then run `python cli.py sources check`; or leave x out of --source until then"
        )

    @staticmethod
    def _come_back(headers: Mapping[str, str]) -> str:
        try:
            reset = datetime.fromtimestamp(int(headers.get("x-rate-limit-reset", "")), UTC)
        except (TypeError, ValueError, OverflowError):
            return "X did not say when; try again in 15 minutes"
        return f"try again after {ist(reset)} (x-rate-limit-reset)"

    # reading ----------------------------------------------------------------------

    def _pages(self, path: str, params: Mapping[str, Any], token_param: str, *, what: str) -> Iterator[dict]:
        current = dict(params)
        while True:
            answer = self.http.get(path, current, what=what)
            data = answer.get("data", [])
            if not isinstance(data, list):
                raise InputError(f"X: {what}: 'data' is not a list")
            yield answer
            meta = answer.get("meta") if isinstance(answer.get("meta"), dict) else {}
            token = meta.get("next_token")
            if not token or not data:
                return
            current[token_param] = token

    def _user(self) -> dict:
        what = f"account {self.user_id}"
        try:
            answer = self.http.get(f"2/users/{self.user_id}", {"user.fields": "username,name"}, what=what)
        except ApiError as exc:
            raise ConfigError(f"x.user_id {self.user_id} in sources.yaml: {exc}") from None
        user = answer.get("data")
        if not isinstance(user, dict):
            raise ConfigError(
                f"x.user_id {self.user_id} in sources.yaml: X knows no such account "
                f"({_describe_errors(answer.get('errors'))}); use the numeric user id, not the @name"
            )
        self._username = text_field(user, "username")
        return user

    def probe(self) -> str:
        """What a sync reads, a little of each: the account, its posts, the replies search
        (which X's free access level refuses: better said here than in the first sync)."""
        user = self._user()
        what = f"posts of account {self.user_id}"
        posts = next(self._pages(f"2/users/{self.user_id}/tweets",
                                 {"max_results": 5, "exclude": "retweets,replies"},
                                 "pagination_token", what=what)).get("data") or []
        latest = next((p["id"] for p in posts if isinstance(p, dict) and isinstance(p.get("id"), str)),
                      None)
        found = f"X account @{user.get('username', '?')} ({self.user_id})"
        if latest is None:
            return f"{found}: posts readable (none yet) with the bearer token from {self.secret.name}"
        next(self._pages("2/tweets/search/recent",
                         {"query": f"conversation_id:{latest}", "max_results": 10},
                         "next_token", what=f"replies to post {latest}"))
        return (f"{found}: posts and replies readable with the bearer token "
                f"from {self.secret.name}")

    def collect(self, window: Window, harvest: Harvest) -> None:
        self._user()
        reach = window.now - SEARCH_REACH
        if window.since < reach:
            harvest.warn(
                f"x: X search reaches back seven days only: replies from {ist(window.since)} "
                f"to {ist(reach)} could not be read"
            )
        start = max(window.since, reach)
        for post in self._posts(window, harvest):
            self._replies(post, start, harvest)

    def _posts(self, window: Window, harvest: Harvest) -> list[Post]:
        params = {
            "max_results": 100,
            "start_time": _iso(window.post_horizon),
            "exclude": "retweets,replies",
            "tweet.fields": "created_at,conversation_id,author_id",
        }
        posts: list[Post] = []
        what = f"posts of account {self.user_id}"
        for answer in self._pages(f"2/users/{self.user_id}/tweets", params, "pagination_token", what=what):
            self._partial_errors(answer, what, harvest)
            for raw in answer.get("data", []):
                tweet = self._tweet(raw, f"a post of account {self.user_id}", harvest)
                if tweet is None:
                    continue
                tweet_id, created = tweet
                if created < window.post_horizon:
                    continue
                post = self.post(
                    tweet_id, created, _typed(raw), self._url(self._username, tweet_id)
                )
                posts.append(post)
                harvest.add_post(post)
        return sorted(posts, key=lambda p: (p.posted_at, p.post_id))

    def _replies(self, post: Post, start: datetime, harvest: Harvest) -> None:
        params = {
            "query": f"conversation_id:{post.post_id}",
            "start_time": _iso(start),
            "max_results": 100,
            "tweet.fields": TWEET_FIELDS,
            "expansions": "author_id",
            "user.fields": "username,name",
        }
        what = f"replies to post {post.post_id}"
        for answer in self._pages("2/tweets/search/recent", params, "next_token", what=what):
            self._partial_errors(answer, what, harvest)
            users = {}
            includes = answer.get("includes") if isinstance(answer.get("includes"), dict) else {}
            for user in includes.get("users", []) or []:
                if isinstance(user, dict) and isinstance(user.get("id"), str):
                    users[user["id"]] = user
            for raw in answer.get("data", []):
                tweet = self._tweet(raw, f"a reply to post {post.post_id}", harvest)
                if tweet is None:
                    continue
                tweet_id, created = tweet
                if tweet_id == post.post_id:  # the post itself shares its conversation id
                    continue
                harvest.add_comment(self._comment(raw, tweet_id, created, post, users))

    def _tweet(self, raw: Any, context: str, harvest: Harvest) -> tuple[str, datetime] | None:
        tweet_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(tweet_id, str) or not tweet_id:
            harvest.warn(f"x: skipped {context} without an id: {json_or_text(raw, 120)}")
            return None
        try:
            created = parse_timestamp(raw["created_at"])
        except (KeyError, TypeError, ValueError, AttributeError):
            harvest.warn(
                f"x: skipped post {tweet_id} ({context}): created_at "
                f"{shown(raw.get('created_at'))} is not a time"
            )
            return None
        return tweet_id, created

    def _comment(
        self, raw: dict, tweet_id: str, created: datetime, post: Post, users: dict[str, dict]
    ) -> Comment:
        author_id = str(raw.get("author_id", "") or "")
        username = text_field(users.get(author_id, {}), "username")
        parent = ""
        for ref in raw.get("referenced_tweets") or []:
            if isinstance(ref, dict) and ref.get("type") == "replied_to":
                target = str(ref.get("id", ""))
                parent = "" if target == post.post_id else target
        return Comment(
            platform=self.platform,
            comment_id=tweet_id,
            post_id=post.post_id,
            parent_id=parent,
            author=username,
            author_id=author_id,
            commented_at=created,
            text=_typed(raw),
            url=self._url(username, tweet_id),
            by_page=bool(author_id) and author_id == self.user_id,
            origin=f"x post {tweet_id}",
        )

    @staticmethod
    def _url(username: str, tweet_id: str) -> str:
        if username:
            return f"https://x.com/{username}/status/{tweet_id}"
        return f"https://x.com/i/web/status/{tweet_id}"

    @staticmethod
    def _partial_errors(answer: dict, what: str, harvest: Harvest) -> None:
        errors = answer.get("errors")
        if errors:
            harvest.warn(f"x: {what}: X could not return everything: {_describe_errors(errors)}")


def _describe_errors(errors: Any) -> str:
    """Name the objects a partial ``errors[]`` is about."""
    if not isinstance(errors, list) or not errors:
        return "no detail"
    parts = []
    for error in errors[:5]:
        if not isinstance(error, dict):
            parts.append(json_or_text(error, 80))
            continue
        what = " ".join(str(error[key]) for key in ("resource_type", "resource_id") if error.get(key)) or str(
            error.get("value", "?")
        )
        parts.append(f"{what}: {json_or_text(error.get('detail') or error.get('title', ''), 120)}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def _typed(raw: Any) -> str:
    """What the person typed: X escapes ``&``, ``<`` and ``>`` in a post's text, and
    only those (so ``&amp;lt;`` was typed as ``&lt;``: ``&amp;`` is undone last)."""
    text = text_field(raw, "text")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
