"""Instagram professional account source (Instagram Graph API).

Posts: ``GET /{ig-user-id}/media`` (newest first) back to the post horizon.
Comments: ``GET /{media-id}/comments`` with the replies nested
(``replies{...}``); when a comment has more replies than it carries, the rest
come from ``GET /{comment-id}/replies``. Instagram has one level of replies, so
a reply's ``parent_id`` is always the top-level comment. The account's own
replies (``from.id`` or ``username`` equal to the account's) are
``by_page``. Comments the account hid (``hidden``) are still returned, with
``deleted=True``. Instagram does not return comments on ads, on age-gated
media, or by restricted users.

Instagram does not promise an order for comments, so every page of a
followed post's comments is read; those older than the window are dropped.
Errors are Graph's (see :mod:`sheets_sync.sources.graph`; 80002 is
Instagram's throttle code). Incremental reading, the checkpoint and
throttling: see :mod:`sheets_sync.sources.window`.
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
from sheets_sync.sources.platforms import PlatformSource, text_field
from sheets_sync.sources.window import Harvest, Window, newest_first

MEDIA_FIELDS = "id,caption,comments_count,media_type,permalink,timestamp"
_COMMENT = "id,text,timestamp,username,from{id,username},hidden,parent_id"
COMMENT_FIELDS = f"{_COMMENT},replies{{{_COMMENT}}}"
PERMISSIONS = (
    "the token needs instagram_basic, instagram_manage_comments and "
    "pages_read_engagement for the Page linked to the Instagram account; create a new "
    "token with them and put it in {env}"
)


class InstagramSource(PlatformSource):
    """Media and comments of one Instagram professional account."""

    platform = "instagram"
    service = "Instagram"
    account_setting = "ig_user_id"
    token_names = ("SHEETS_SYNC_INSTAGRAM_TOKEN",)
    url_env = GRAPH_URL_ENV
    default_url = GRAPH_URL_DEFAULT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._username = ""

    def map_error(self, response: Response, what: str) -> Exception:
        return map_graph_error(
            response,
            what,
            service=self.service,
            renew=(
                "create a new access token (a Page token of the Facebook Page linked to the "
                f"Instagram account) and put it in {self.secret.name}"
            ),
            permissions=PERMISSIONS.format(env=self.secret.name),
        )

    @property
    def user_id(self) -> str:
        return self.config.account_id

    def _profile(self) -> dict:
        try:
            profile = self.http.get(
                self.user_id, {"fields": "id,username"}, what=f"Instagram account {self.user_id}"
            )
        except ApiError as exc:
            raise ConfigError(
                f"instagram.ig_user_id {self.user_id} in sources.yaml: {exc}; use the "
                "Instagram professional account's id (not the Page id), readable with "
                f"the token in {self.secret.name}"
            ) from None
        self._username = text_field(profile, "username")
        return profile

    def probe(self) -> str:
        profile = self._profile()
        first = next(
            graph_pages(
                self.http,
                f"{self.user_id}/media",
                {"fields": MEDIA_FIELDS, "limit": 1},
                what=f"media of Instagram account {self.user_id}",
            )
        )
        return (
            f"Instagram account @{profile.get('username', '?')} ({self.user_id}): media "
            f"readable{' (none yet)' if not first else ''}; token from {self.secret.name}"
        )

    def collect(self, window: Window, harvest: Harvest) -> None:
        self._profile()
        for post, count in self._media(window, harvest):
            if count == 0:  # nothing to read: saves a request per quiet post
                continue
            self._comments(post, harvest)

    def _media(self, window: Window, harvest: Harvest) -> list[tuple[Post, int | None]]:
        found: list[tuple[Post, int | None]] = []
        pages = graph_pages(self.http, f"{self.user_id}/media", {"fields": MEDIA_FIELDS, "limit": 50},
                            what=f"media of Instagram account {self.user_id}")
        for raw, post in newest_first(pages, lambda raw: self._post(raw, harvest), window.post_horizon):
            harvest.add_post(post)
            count = raw.get("comments_count")
            found.append((post, count if isinstance(count, int) else None))
        found.sort(key=lambda pair: (pair[0].posted_at, pair[0].post_id))
        return found

    def _post(self, raw: Any, harvest: Harvest) -> Post | None:
        return graph_post(self, raw, harvest, noun="media", time_key="timestamp", text_key="caption",
                          url_key="permalink", home="https://www.instagram.com")

    def _comments(self, post: Post, harvest: Harvest) -> None:
        what = f"comments of Instagram media {post.post_id}"
        try:
            for items in graph_pages(
                self.http,
                f"{post.post_id}/comments",
                {"fields": COMMENT_FIELDS, "limit": 50},
                what=what,
            ):
                for raw in items:
                    comment = self._comment(raw, post, "", harvest)
                    if comment is None:
                        continue
                    harvest.add_comment(comment)
                    self._replies(raw, comment, post, harvest)
        except ApiError as exc:
            if exc.code != 100:
                raise
            harvest.warn(
                f"instagram: media {post.post_id} ({post.url}): its comments cannot be read "
                f"({exc}); it was probably deleted — skipped"
            )

    def _replies(self, raw: dict, parent: Comment, post: Post, harvest: Harvest) -> None:
        nested = raw.get("replies")
        if not isinstance(nested, dict):
            return
        carried = nested.get("data") if isinstance(nested.get("data"), list) else []
        paging = nested.get("paging") if isinstance(nested.get("paging"), dict) else {}
        if paging.get("next"):
            # More replies than the comment carries: read them all from the edge.
            pages = graph_pages(
                self.http,
                f"{parent.comment_id}/replies",
                {"fields": _COMMENT, "limit": 50},
                what=f"replies to Instagram comment {parent.comment_id}",
            )
            carried = [item for page in pages for item in page]
        for item in carried:
            reply = self._comment(item, post, parent.comment_id, harvest)
            if reply is not None:
                harvest.add_comment(reply)

    def _comment(self, raw: Any, post: Post, parent_id: str, harvest: Harvest) -> Comment | None:
        comment_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(comment_id, str) or not comment_id:
            harvest.warn(
                f"instagram: skipped a comment on media {post.post_id} without an id: {describe(raw)}"
            )
            return None
        commented_at = graph_time(raw, "timestamp")
        if commented_at is None:
            harvest.warn(
                f"instagram: skipped comment {comment_id} on media {post.post_id}: timestamp "
                f"{shown(raw.get('timestamp'))} is not a time"
            )
            return None
        author = raw.get("from") if isinstance(raw.get("from"), dict) else {}
        if not author and isinstance(raw.get("user"), dict):
            author = raw["user"]  # older answers carry "user": {"id": …}
        author_id = str(author.get("id", "") or "")
        username = text_field(raw, "username") or text_field(author, "username")
        own = (author_id and author_id == self.user_id) or (
            bool(username) and bool(self._username) and username.lower() == self._username.lower()
        )
        base = post.url if post.url.endswith("/") else post.url + "/"
        return Comment(
            platform=self.platform,
            comment_id=comment_id,
            post_id=post.post_id,
            parent_id=parent_id or text_field(raw, "parent_id"),
            author=username,
            author_id=author_id,
            commented_at=commented_at,
            text=text_field(raw, "text"),
            url=f"{base}c/{comment_id}/",
            by_page=bool(own),
            deleted=raw.get("hidden") is True,
            origin=f"instagram comment {comment_id}",
        )
