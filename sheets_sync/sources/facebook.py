"""Facebook Page source (Graph API), and the Graph helpers Instagram shares.

Posts: ``GET /{page-id}/published_posts`` since the post horizon. Comments:
``GET /{post-id}/comments?filter=stream&order=chronological`` — replies come
mixed with top-level comments, ``parent{id}`` says which comment a reply
answers, ``from.id == page id`` marks the Page's own replies (``by_page``).
Comments the Page hid (``is_hidden``) are still returned, with
``deleted=True``, so the tracker can mark them; comments deleted on Facebook
simply stop appearing.

Incremental reading, the checkpoint and throttling: see
:mod:`sheets_sync.sources.platforms`. Graph cursors are never stored: paging
follows ``paging.next`` within one fetch only.

Errors, as Graph documents them: code 190 → :class:`AuthError` (renew the
token); 1 and 2 → retried with backoff; 4, 17, 32, 613, 80001, 80002 →
:class:`RateLimited` with the wait read from ``X-Business-Use-Case-Usage``;
10 and 200–299 → :class:`AuthError` naming the missing permission;
``(#100) The After Cursor specified exceeds the max limit`` on a long thread →
that thread is read as far as Graph allows, a warning says so, and the
checkpoint stays at the last comment read on it (nothing is skipped for good;
the warning repeats until the post leaves the followed window).
A comment or post without an id or with an unreadable time is skipped with a
warning that names it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sheets_sync.errors import AuthError, ConfigError, InputError, RateLimited, SourceError
from sheets_sync.models import Comment, Post
from sheets_sync.sources._http import ApiError, HttpClient, Response, Transient, json_or_text, shown
from sheets_sync.sources.platforms import (
    Harvest,
    PlatformSource,
    Window,
    ist,
    newest_first,
    text_field,
)
from sheets_sync.timeutil import parse_timestamp

GRAPH_URL_DEFAULT = "https://graph.facebook.com/v21.0"

THROTTLE_CODES = frozenset({4, 17, 32, 613, 80001, 80002})
TEMPORARY_CODES = frozenset({1, 2})

POST_FIELDS = "id,message,created_time,permalink_url"
COMMENT_FIELDS = "id,message,from{id,name},created_time,parent{id},permalink_url,comment_count,is_hidden"
PAGE_PERMISSIONS = (
    "the Page token needs pages_read_engagement and pages_read_user_content "
    "(a Page role with the MODERATE task); create a new Page access token with them "
    "and put it in SHEETS_SYNC_FACEBOOK_TOKEN"
)


# --------------------------------------------------------------------------
# Graph API helpers (Facebook and Instagram)


def map_graph_error(
    response: Response, what: str, *, service: str, renew: str, permissions: str
) -> Exception:
    """Turn a Graph error answer into the exception the caller should see."""
    error = response.data.get("error") if isinstance(response.data, dict) else None
    if not isinstance(error, dict):
        problem = SourceError(f"{service}: {what}: HTTP {response.status} without a Graph error")
        if response.status >= 500 or response.status == 429:
            return Transient(problem)
        return problem
    code = error.get("code")
    message = json_or_text(error.get("message", ""))
    said = f"code {code}: {message}"
    if code == 190:
        return AuthError(f"{service} token expired or revoked ({said}): {renew}")
    if code in TEMPORARY_CODES or error.get("is_transient") is True:
        return Transient(SourceError(f"{service}: {what}: temporary Graph error ({said})"))
    if code in THROTTLE_CODES:
        return RateLimited(
            f"{service} throttled this app while reading {what} ({said}); "
            f"{_regain_access(response.headers)}; the next run resumes from the checkpoint"
        )
    if code == 10 or (isinstance(code, int) and 200 <= code <= 299):
        return AuthError(f"{service} token lacks a permission to read {what} ({said}): {permissions}")
    if code == 100 and "after cursor" in message.lower():
        return ApiError(said, status=response.status, code=100, reason="after-cursor")
    if response.status >= 500:
        return Transient(SourceError(f"{service}: {what}: HTTP {response.status} ({said})"))
    return ApiError(f"{service} refused to give {what} ({said})", status=response.status, code=code)


def _regain_access(headers: Mapping[str, str]) -> str:
    """What ``X-Business-Use-Case-Usage`` says about when access returns."""
    minutes = None
    raw = headers.get("X-Business-Use-Case-Usage")
    try:
        usage = json.loads(raw) if raw else {}
        for entries in usage.values():
            for entry in entries:
                value = entry.get("estimated_time_to_regain_access")
                if isinstance(value, int | float):
                    minutes = max(minutes or 0, value)
    except (ValueError, AttributeError, TypeError):
        minutes = None
    if minutes:
        return f"Facebook expects access back in about {minutes:g} minutes"
    return "Facebook gives no time; try again in an hour"


def graph_pages(http: HttpClient, path: str, params: Mapping[str, Any], *, what: str) -> Iterator[list[Any]]:
    """Yield the ``data`` list of each page, following ``paging.next``.

    The next page is read from our own base URL with the query ``paging.next``
    carries (minus any ``access_token`` Graph echoes), so a configured proxy
    or fake stays in the path and no token lands in a URL.
    """
    current = dict(params)
    while True:
        answer = http.get(path, current, what=what)
        items = answer.get("data")
        if not isinstance(items, list):
            raise InputError(f"{http.service}: {what}: the answer has no 'data' list")
        yield items
        following = answer.get("paging", {}).get("next") if isinstance(answer.get("paging"), dict) else None
        if not following or not items:
            return
        current = {
            key: value
            for key, value in parse_qsl(urlsplit(following).query, keep_blank_values=True)
            if key != "access_token"
        }


def graph_time(raw: Mapping[str, Any], key: str) -> datetime | None:
    value = raw.get(key)
    if not isinstance(value, str):
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def graph_post(source: PlatformSource, raw: Any, harvest: Harvest, *, noun: str, time_key: str,
               text_key: str, url_key: str, home: str) -> Post | None:
    """A Facebook post or Instagram media from the Graph API; None (and a warning)
    when it has no id or no readable time."""
    post_id = raw.get("id") if isinstance(raw, dict) else None
    if not isinstance(post_id, str) or not post_id:
        harvest.warn(f"{source.platform}: skipped a {noun} without an id: {describe(raw)}")
        return None
    posted_at = graph_time(raw, time_key)
    if posted_at is None:
        harvest.warn(
            f"{source.platform}: skipped {noun} {post_id}: {time_key} "
            f"{shown(raw.get(time_key))} is not a time"
        )
        return None
    url = text_field(raw, url_key) or f"{home}/{post_id}"
    return source.post(post_id, posted_at, text_field(raw, text_key), url)


def describe(raw: Any) -> str:
    """Name an object that has no usable id, for a warning."""
    if not isinstance(raw, dict):
        return f"an entry that is not an object ({json_or_text(raw, 80)})"
    for key in ("permalink_url", "permalink", "id"):
        if isinstance(raw.get(key), str) and raw[key]:
            return f"{key} {raw[key]}"
    return json_or_text(raw, 120)


# --------------------------------------------------------------------------
# The Facebook Page source


class FacebookSource(PlatformSource):
    """Posts and comments of one Facebook Page."""

    platform = "facebook"
    service = "Facebook"

    def map_error(self, response: Response, what: str) -> Exception:
        return map_graph_error(
            response,
            what,
            service=self.service,
            renew=(f"create a new Page access token and put it in {self.secret.name}"),
            permissions=PAGE_PERMISSIONS.replace("SHEETS_SYNC_FACEBOOK_TOKEN", self.secret.name),
        )

    @property
    def page_id(self) -> str:
        return self.config.account_id

    def probe(self) -> str:
        try:
            page = self.http.get(self.page_id, {"fields": "id,name"}, what=f"Page {self.page_id}")
            first = next(
                graph_pages(
                    self.http,
                    f"{self.page_id}/published_posts",
                    {"fields": POST_FIELDS, "limit": 1},
                    what=f"posts of Page {self.page_id}",
                )
            )
        except ApiError as exc:
            raise self._bad_page(exc) from None
        return (
            f"Page {page.get('name', '?')!r} ({self.page_id}): posts readable"
            f"{' (none yet)' if not first else ''}; token from {self.secret.name}"
        )

    def _bad_page(self, exc: ApiError) -> ConfigError:
        return ConfigError(
            f"facebook.page_id {self.page_id} in sources.yaml: {exc}; check the Page id "
            f"and that the token in {self.secret.name} belongs to that Page"
        )

    def collect(self, window: Window, harvest: Harvest) -> None:
        posts = self._posts(window, harvest)
        missing_from = 0
        for post in posts:
            missing_from += self._comments(post, harvest)
        if missing_from:
            harvest.warn(
                f"facebook: {missing_from} comments came without their author (from); "
                f"{PAGE_PERMISSIONS} — until then the Page's own replies are not recognised"
            )

    def _posts(self, window: Window, harvest: Harvest) -> list[Post]:
        posts: list[Post] = []
        params = {
            "fields": POST_FIELDS,
            "since": int(window.post_horizon.timestamp()),
            "limit": 100,
        }
        try:
            pages = graph_pages(self.http, f"{self.page_id}/published_posts", params,
                                what=f"posts of Page {self.page_id}")
            for _, post in newest_first(pages, lambda raw: self._post(raw, harvest), window.post_horizon):
                posts.append(post)
                harvest.add_post(post)
        except ApiError as exc:
            raise self._bad_page(exc) from None
        return sorted(posts, key=lambda p: (p.posted_at, p.post_id))

    def _post(self, raw: Any, harvest: Harvest) -> Post | None:
        return graph_post(self, raw, harvest, noun="post", time_key="created_time", text_key="message",
                          url_key="permalink_url", home="https://www.facebook.com")

    def _comments(self, post: Post, harvest: Harvest) -> int:
        """Read all comments (and replies) of ``post``; return how many lacked ``from``."""
        missing_from = 0
        last_read = post.posted_at
        params = {
            "filter": "stream",
            "order": "chronological",
            "fields": COMMENT_FIELDS,
            "limit": 100,
        }
        what = f"comments of post {post.post_id}"
        try:
            for items in graph_pages(self.http, f"{post.post_id}/comments", params, what=what):
                for raw in items:
                    comment = self._comment(raw, post, harvest)
                    if comment is None:
                        continue
                    if not comment.author_id:
                        missing_from += 1
                    last_read = max(last_read, comment.commented_at)
                    harvest.add_comment(comment)
        except ApiError as exc:
            if exc.reason == "after-cursor":
                harvest.warn(
                    f"facebook: post {post.post_id} ({post.url}): Graph refuses to page "
                    f"its comments further ({exc}); comments after {ist(last_read)} on it "
                    "were not read — answer them on Facebook directly. The checkpoint "
                    "stays at that time, so other posts' comments are re-read meanwhile"
                )
                harvest.cap(last_read)
            elif exc.code == 100:
                harvest.warn(
                    f"facebook: post {post.post_id} ({post.url}): its comments cannot be "
                    f"read ({exc}); it was probably deleted — skipped"
                )
            else:
                raise
        return missing_from

    def _comment(self, raw: Any, post: Post, harvest: Harvest) -> Comment | None:
        comment_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(comment_id, str) or not comment_id:
            harvest.warn(f"facebook: skipped a comment on post {post.post_id} without an id: {describe(raw)}")
            return None
        commented_at = graph_time(raw, "created_time")
        if commented_at is None:
            harvest.warn(
                f"facebook: skipped comment {comment_id} on post {post.post_id}: created_time "
                f"{shown(raw.get('created_time'))} is not a time"
            )
            return None
        author = raw.get("from") if isinstance(raw.get("from"), dict) else {}
        parent = raw.get("parent") if isinstance(raw.get("parent"), dict) else {}
        author_id = str(author.get("id", "") or "")
        return Comment(
            platform=self.platform,
            comment_id=comment_id,
            post_id=post.post_id,
            parent_id=str(parent.get("id", "") or ""),
            author=text_field(author, "name"),
            author_id=author_id,
            commented_at=commented_at,
            text=text_field(raw, "message"),
            url=text_field(raw, "permalink_url") or f"https://www.facebook.com/{comment_id}",
            by_page=bool(author_id) and author_id == self.page_id,
            deleted=raw.get("is_hidden") is True,
            origin=f"facebook comment {comment_id}",
        )
