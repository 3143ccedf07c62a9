"""The Graph API v21.0 fake: Facebook Pages and Instagram professional accounts.

Writes, as the corporation's account (the Page, the Instagram user that owns the
post): a Facebook reply ``POST /{comment-id}/comments`` (``message``; a reply to a
reply joins its top-level comment's thread, Facebook's threads being two deep) and
hide ``POST /{comment-id}`` ``is_hidden=true|false``; an Instagram reply
``POST /{ig-comment-id}/replies`` (top-level, not hidden comments only) and hide
``POST /{ig-comment-id}?hide=true|false``. A posted reply is served by the reads
like any comment. Knobs: ``missing_permissions`` (Graph's code 200 / 10 refusals
naming the permission), :meth:`FakeGraph.delete_comment`, and the server's faults.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from .server import Answer, FakeServer, bearer_token, cursor_offset, page_cursor


def graph_time(when: datetime) -> str:
    """Graph's time format: ``2021-08-10T18:45:03+0000``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def graph_error(
    code: int,
    message: str,
    *,
    status: int = 400,
    subcode: int | None = None,
    headers: dict[str, str] | None = None,
    is_transient: bool | None = None,
) -> Answer:
    """A Graph error answer: ``{"error": {"message", "type", "code", ...}}``."""
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEfGhIjK",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    if is_transient is not None:
        error["is_transient"] = is_transient
    return status, {"error": error}, headers or {}


def graph_throttled(code: int = 4, minutes: int = 12) -> Answer:
    """A throttling answer with ``X-Business-Use-Case-Usage`` saying when access returns.

    As Graph sends its ``(#4)`` limit: HTTP 403, marked ``is_transient``.
    """
    usage = {
        "111": [
            {
                "type": "pages",
                "call_count": 100,
                "total_cputime": 35,
                "total_time": 41,
                "estimated_time_to_regain_access": minutes,
            }
        ]
    }
    return graph_error(
        code,
        "(#4) Application request limit reached",
        status=403,
        headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
        is_transient=True,
    )


AFTER_CURSOR_MESSAGE = "(#100) The After Cursor specified exceeds the max limit supported by this endpoint"


@dataclass
class _GraphComment:
    comment_id: str
    object_id: str  # post or media
    at: datetime
    text: str
    author: tuple[str, str] | None  # (id, name or username)
    parent: str | None
    hidden: bool
    raw: dict | None = None  # served verbatim instead (real payload captures)


class FakeGraph(FakeServer):
    """Graph API v21.0: Pages, published posts, comments; IG users, media, comments."""

    prefix = "/v21.0"

    def __init__(self, *, page_size: int = 100, token: str = "fake-graph-token") -> None:
        super().__init__(page_size=page_size)
        self.token = token
        self.accounts: dict[str, dict[str, str]] = {}  # Page or IG user: id -> node
        self.posts: dict[str, dict[str, Any]] = {}  # post or media id -> fields + owner
        self.comments: list[_GraphComment] = []
        # Deepest offset an "after" cursor may reach before Graph refuses (#100).
        self.max_after_offset: int | None = None
        # Replies an Instagram comment carries inline before its nested paging.
        self.inline_replies = 2
        # The write side: a second token that is also accepted (a separate publish
        # token), the permissions that token lacks, and the ids of new replies.
        self.publish_token = "fake-graph-publish-token"
        self.missing_permissions: set[str] = set()
        self._next_id = 1

    # data ---------------------------------------------------------------------

    def add_page(self, page_id: str, name: str) -> None:
        self.accounts[page_id] = {"id": page_id, "name": name}

    def add_post(self, page_id: str, post_id: str, at: datetime, message: str | None, url: str = "") -> None:
        self.posts[post_id] = {
            "owner": page_id,
            "at": at,
            "id": post_id,
            "message": message,
            "permalink_url": url or f"https://www.facebook.com/{post_id.replace('_', '/posts/')}",
        }

    def add_comment(
        self,
        post_id: str,
        comment_id: str,
        at: datetime,
        message: str,
        *,
        author: tuple[str, str] | None = ("900", "A Citizen"),
        parent: str | None = None,
        hidden: bool = False,
    ) -> None:
        self.comments.append(_GraphComment(comment_id, post_id, at, message, author, parent, hidden))

    def add_raw_comment(self, post_id: str, raw: dict, at: datetime) -> None:
        """Serve ``raw`` verbatim among the comments of ``post_id`` (sorted by ``at``)."""
        self.comments.append(_GraphComment("", post_id, at, "", None, None, False, raw))

    def add_ig_user(self, user_id: str, username: str) -> None:
        self.accounts[user_id] = {"id": user_id, "username": username}

    def add_media(
        self, user_id: str, media_id: str, at: datetime, caption: str | None, permalink: str = ""
    ) -> None:
        self.posts[media_id] = {
            "owner": user_id,
            "at": at,
            "id": media_id,
            "caption": caption,
            "media_type": "IMAGE",
            "permalink": permalink or f"https://www.instagram.com/p/{media_id[-6:]}/",
        }

    def add_ig_comment(
        self,
        media_id: str,
        comment_id: str,
        at: datetime,
        text: str,
        *,
        author: tuple[str, str] | None = ("178", "citizen"),
        parent: str | None = None,
        hidden: bool = False,
    ) -> None:
        self.comments.append(_GraphComment(comment_id, media_id, at, text, author, parent, hidden))

    # serving ------------------------------------------------------------------

    def delete_comment(self, comment_id: str) -> None:
        """The comment (and its replies) deleted on the platform."""
        self.comments = [c for c in self.comments if comment_id not in (c.comment_id, c.parent)]

    def _comment(self, comment_id: str) -> _GraphComment | None:
        return next((c for c in self.comments if c.comment_id == comment_id and c.raw is None), None)

    def _expired(self, headers: dict[str, str], params: dict[str, str]) -> Answer | None:
        token = bearer_token(headers) or params.get("access_token", "")
        if token in (self.token, self.publish_token):
            return None
        return graph_error(
            190,
            "Error validating access token: Session has expired on Thursday, 20-Nov-25 02:00:00 PST.",
            status=401,
            subcode=463,
        )

    def handle(self, path: str, params: dict[str, str], headers: dict[str, str]) -> Answer:
        expired = self._expired(headers, params)
        if expired:
            return expired
        token = bearer_token(headers) or params.get("access_token", "")
        parts = [p for p in path.split("/") if p]
        if len(parts) == 1:
            return self._node(parts[0])
        if len(parts) != 2:
            return self._no_object(path)
        object_id, edge = parts
        if edge in ("published_posts", "posts", "media"):
            if object_id not in self.accounts:
                return self._no_object(object_id)
            return self._list_posts(path, object_id, params, token)
        if edge in ("comments", "replies"):
            return self._list_comments(path, object_id, params, token)
        return graph_error(100, f"(#100) Unknown edge {edge}")

    def _node(self, object_id: str) -> Answer:
        if object_id in self.accounts:
            return 200, dict(self.accounts[object_id]), {}
        if object_id in self.posts:
            post = self.posts[object_id]
            return 200, {k: v for k, v in post.items() if k not in ("owner", "at") and v is not None}, {}
        comment = self._comment(object_id)
        if comment is None:
            return self._no_object(object_id)
        return 200, self._render(comment, self._on_instagram(comment)), {}

    def _on_instagram(self, comment: _GraphComment) -> bool:
        return "caption" in self.posts.get(comment.object_id, {})

    def _no_object(self, object_id: str, verb: str = "get") -> Answer:
        return graph_error(
            100,
            f"Unsupported {verb} request. Object with ID '{object_id}' does not exist, cannot "
            "be loaded due to missing permissions, or does not support this operation.",
            subcode=33,
        )

    # writing --------------------------------------------------------------------

    def handle_write(self, method: str, path: str, params: dict[str, str], body: Any,
                     headers: dict[str, str]) -> Answer:
        fields = {**params, **(body if isinstance(body, dict) else {})}
        expired = self._expired(headers, fields)
        if expired:
            return expired
        parts = [p for p in path.split("/") if p]
        target = self._comment(parts[0]) if parts and method == "POST" else None
        if target is None:
            return self._no_object(parts[0] if parts else path, "post")
        instagram = self._on_instagram(target)
        refused = self._lacks("instagram_manage_comments" if instagram else "pages_manage_engagement")
        if refused:
            return refused
        if len(parts) == 1:
            return self._hide(target, fields, instagram)
        if parts[1] == ("replies" if instagram else "comments"):
            return self._reply(target, str(fields.get("message", "")), instagram)
        return graph_error(100, f"(#100) Unknown edge {parts[1]}")

    def _lacks(self, permission: str) -> Answer | None:
        if permission not in self.missing_permissions:
            return None
        if permission == "pages_manage_engagement":
            return graph_error(200, f"(#200) Requires {permission} permission to manage the object",
                               status=403)
        return graph_error(10, f"(#10) Application does not have permission for this action ({permission})",
                           status=403)

    def _hide(self, target: _GraphComment, fields: dict[str, Any], instagram: bool) -> Answer:
        key = "hide" if instagram else "is_hidden"
        if key not in fields:
            return graph_error(100, f"(#100) Param {key} must be set")
        target.hidden = str(fields[key]).lower() == "true"
        return 200, {"success": True}, {}

    def _reply(self, target: _GraphComment, message: str, instagram: bool) -> Answer:
        if not message:
            return graph_error(100, "(#100) Param message must be a non-empty UTF-8 encoded string")
        if instagram and target.parent is not None:
            return graph_error(100, "(#100) Replies can be made to top-level comments only", subcode=2534023)
        if instagram and target.hidden:
            return graph_error(100, "(#100) The comment is hidden and cannot be replied to", subcode=2534022)
        owner = self.accounts[self.posts[target.object_id]["owner"]]
        author = (owner["id"], owner.get("username") or owner.get("name", ""))
        if instagram:
            reply_id = f"1790{self._next_id:013d}"
        else:
            reply_id = f"{target.object_id.split('_')[-1]}_{900000 + self._next_id}"
        self._next_id += 1
        thread = target.parent or target.comment_id  # Facebook's threads are two deep
        self.comments.append(_GraphComment(reply_id, target.object_id, self.current_time(), message,
                                           author, thread, False))
        return 200, {"id": reply_id}, {}

    def _page(self, path: str, items: list[Any], params: dict[str, str], token: str) -> Answer:
        start = cursor_offset(params.get("after"))
        if start < 0:
            return graph_error(100, "(#100) Invalid cursor")
        if self.max_after_offset is not None and start > self.max_after_offset:
            return graph_error(100, AFTER_CURSOR_MESSAGE)
        size = self._limit(params, "limit", 25)
        chunk = items[start : start + size]
        body: dict[str, Any] = {"data": chunk}
        if chunk:
            paging: dict[str, Any] = {
                "cursors": {"before": page_cursor(start), "after": page_cursor(start + len(chunk))}
            }
            if start + size < len(items):
                # Graph echoes the access token in paging.next when it had one.
                query = {**params, "after": page_cursor(start + size), "access_token": token}
                paging["next"] = f"{self.root}/v21.0{path}?{urlencode(query)}"
            body["paging"] = paging
        return 200, body, {}

    def _list_posts(self, path: str, owner: str, params: dict[str, str], token: str) -> Answer:
        since = int(params["since"]) if params.get("since") else None
        rows = [
            p
            for p in self.posts.values()
            if p["owner"] == owner and (since is None or p["at"].timestamp() >= since)
        ]
        rows.sort(key=lambda p: p["at"], reverse=True)
        rendered = []
        for row in rows:
            item = {k: v for k, v in row.items() if k not in ("owner", "at") and v is not None}
            if "caption" in row or row.get("media_type"):
                item["timestamp"] = graph_time(row["at"])
                item["comments_count"] = sum(1 for c in self.comments if c.object_id == row["id"])
            else:
                item["created_time"] = graph_time(row["at"])
            rendered.append(item)
        return self._page(path, rendered, params, token)

    def _list_comments(self, path: str, object_id: str, params: dict[str, str], token: str) -> Answer:
        on_post = object_id in self.posts
        is_comment = any(c.comment_id == object_id for c in self.comments)
        if not on_post and not is_comment:
            return self._no_object(object_id)
        if on_post:
            rows = [c for c in self.comments if c.object_id == object_id]
            instagram = "caption" in self.posts[object_id]
            if instagram or params.get("filter", "toplevel") != "stream":
                rows = [c for c in rows if c.parent is None]
        else:
            rows = [c for c in self.comments if c.parent == object_id]
            instagram = self.posts.get(rows[0].object_id, {}).get("caption") is not None if rows else False
        rows.sort(key=lambda c: c.at, reverse=params.get("order") == "reverse_chronological")
        rendered = [self._render(c, instagram) for c in rows]
        return self._page(path, rendered, params, token)

    def _render(self, c: _GraphComment, instagram: bool) -> dict[str, Any]:
        if c.raw is not None:
            return c.raw
        if instagram:
            item: dict[str, Any] = {
                "id": c.comment_id,
                "text": c.text,
                "timestamp": graph_time(c.at),
                "hidden": c.hidden,
                "like_count": 0,
                "media": {"id": c.object_id},
            }
            if c.author:
                item["from"] = {"id": c.author[0], "username": c.author[1]}
                item["username"] = c.author[1]
            if c.parent:
                item["parent_id"] = c.parent
            else:
                replies = sorted((r for r in self.comments if r.parent == c.comment_id), key=lambda r: r.at)
                if replies:
                    shown = replies[: self.inline_replies]
                    nested: dict[str, Any] = {"data": [self._render(r, True) for r in shown]}
                    if len(replies) > len(shown):
                        nested["paging"] = {
                            "next": f"{self.root}/v21.0/{c.comment_id}/replies?"
                            + urlencode({"after": page_cursor(0)})
                        }
                    item["replies"] = nested
            return item
        post = self.posts[c.object_id]
        link = f"{post['permalink_url']}?comment_id={c.parent or c.comment_id}"
        if c.parent:
            link += f"&reply_comment_id={c.comment_id}"
        item = {
            "id": c.comment_id,
            "message": c.text,
            "created_time": graph_time(c.at),
            "comment_count": sum(1 for r in self.comments if r.parent == c.comment_id),
            "like_count": 0,
            "is_hidden": c.hidden,
            "permalink_url": link,
        }
        if c.author:
            item["from"] = {"id": c.author[0], "name": c.author[1]}
        if c.parent:
            item["parent"] = {"id": c.parent}
        return item
