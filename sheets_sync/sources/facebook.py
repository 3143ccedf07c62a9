"""Facebook Page source (Graph API).

Posts: ``GET /{page-id}/published_posts`` since the post horizon. Comments:
``GET /{post-id}/comments?filter=stream&order=chronological`` — replies come
mixed with top-level comments, ``parent{id}`` says which comment a reply
answers, ``from.id == page id`` marks the Page's own replies (``by_page``).
Comments the Page hid (``is_hidden``) are still returned, with
``deleted=True``, so the tracker can mark them; comments deleted on Facebook
simply stop appearing.

Incremental reading, the checkpoint and throttling: see
:mod:`sheets_sync.sources.window`. Paging and errors are Graph's (see
:mod:`sheets_sync.sources.graph`); a missing permission names
``pages_read_engagement`` and ``pages_read_user_content``. When Graph refuses
to page a long thread further (``(#100) The After Cursor specified exceeds
the max limit``), that thread is read as far as Graph allows, a warning says
so, and the checkpoint stays at the last comment read on it (nothing is
skipped for good; the warning repeats until the post leaves the followed
window). A comment or post without an id or with an unreadable time is
skipped with a warning that names it.
"""

from __future__ import annotations

from typing import Any

from sheets_sync.errors import ConfigError
from sheets_sync.models import Comment, Post
from sheets_sync.sources._http import ApiError, Response, shown
from sheets_sync.sources.graph import (
    GRAPH_URL_DEFAULT,
    GRAPH_URL_ENV,
    describe,
    graph_pages,
    graph_post,
    graph_time,
    map_graph_error,
)
from sheets_sync.sources.platforms import PlatformSource, ist, text_field
from sheets_sync.sources.window import Harvest, Window, newest_first

POST_FIELDS = "id,message,created_time,permalink_url"
COMMENT_FIELDS = "id,message,from{id,name},created_time,parent{id},permalink_url,comment_count,is_hidden"
PAGE_PERMISSIONS = (
    "the Page token needs pages_read_engagement and pages_read_user_content "
    "(a Page role with the MODERATE task); create a new Page access token with them "
    "and put it in SHEETS_SYNC_FACEBOOK_TOKEN"
)


class FacebookSource(PlatformSource):
    """Posts and comments of one Facebook Page."""

    platform = "facebook"
    service = "Facebook"
    account_setting = "page_id"
    token_names = ("SHEETS_SYNC_FACEBOOK_TOKEN",)
    url_env = GRAPH_URL_ENV
    default_url = GRAPH_URL_DEFAULT

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
