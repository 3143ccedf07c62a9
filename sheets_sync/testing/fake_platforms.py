"""Local HTTP fakes of the Graph API (Facebook, Instagram), YouTube Data API v3 and X API v2.

Each fake is a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 (a free port)
that serves the documented shapes — paging, replies, hidden comments, the
platforms' error bodies — from data a test puts in through plain methods::

    with FakeGraph(page_size=2) as graph:
        graph.add_page("111", "PMC")
        graph.add_post("111", "111_1", at(hours=-5), "Water cut on Monday")
        graph.add_comment("111_1", "1_c1", at(hours=-4), "Which wards?", author=("9", "Asha"))
        graph.fail("/111_1/comments", *graph_error(4, "Application request limit reached"))
        source = FacebookSource(config, Secret("SHEETS_SYNC_FACEBOOK_TOKEN", graph.token),
                                base_url=graph.url)

Every request lands in ``fake.requests`` (method, path, query). Faults are
injected per path fragment: ``fail(...)`` answers with a given status/body,
``drop(...)`` closes the connection without an answer; ``after=n`` lets the
first n matching requests through (throttling in the middle of paging),
``times`` says how often the fault fires.
"""

from __future__ import annotations

import base64
import html
import json
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

Answer = tuple[int, Any, dict[str, str]]

#: A fault that closes the connection without answering.
DROP = "drop"


@dataclass
class LoggedRequest:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class _Fault:
    fragment: str
    answer: Answer | str
    times: int
    after: int
    seen: int = 0


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return int(base64.urlsafe_b64decode(padded).decode().split(":", 1)[1])
    except (ValueError, IndexError):
        return -1


class FakeServer:
    """The plumbing: a threaded server, a request log and fault injection."""

    prefix = ""  # path prefix of the API ("/v21.0")

    def __init__(self, *, page_size: int = 100) -> None:
        self.page_size = page_size
        self.requests: list[LoggedRequest] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # life cycle ---------------------------------------------------------------

    def start(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # small answers, answered at once

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                fake._serve(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """The base URL a source is configured with."""
        return self.root + self.prefix

    # faults and the log ---------------------------------------------------------

    def fail(
        self,
        fragment: str,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
        *,
        times: int = 1,
        after: int = 0,
    ) -> None:
        """Answer ``status``/``body`` to requests whose path contains ``fragment``."""
        self._faults.append(_Fault(fragment, (status, body, headers or {}), times, after))

    def drop(self, fragment: str, *, times: int = 1, after: int = 0) -> None:
        """Close the connection, unanswered, on requests whose path contains ``fragment``."""
        self._faults.append(_Fault(fragment, DROP, times, after))

    def paths(self, fragment: str = "") -> list[str]:
        return [r.path for r in self.requests if fragment in r.path]

    # serving --------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in handler.headers.items()}
        path = parts.path
        with self._lock:
            self.requests.append(LoggedRequest("GET", path, params, headers))
            answer = self._fault_for(path)
        if answer == DROP:
            handler.close_connection = True
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if answer is None:
            if not path.startswith(self.prefix):
                answer = (404, {"error": "not found"}, {})
            else:
                with self._lock:
                    answer = self.handle(path[len(self.prefix) :], params, headers)
        status, body, extra = answer
        try:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            # Half a surrogate pair (a cut emoji) is no UTF-8: the platforms send it
            # as a JSON escape, "\ud800", and so does the fake.
            data = json.dumps(body).encode("utf-8")
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=UTF-8")
        handler.send_header("Content-Length", str(len(data)))
        for key, value in extra.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _fault_for(self, path: str) -> Answer | str | None:
        for fault in self._faults:
            if fault.fragment in path and fault.times > 0:
                fault.seen += 1
                if fault.seen > fault.after:
                    fault.times -= 1
                    return fault.answer
        return None

    def handle(self, path: str, params: dict[str, str], headers: dict[str, str]) -> Answer:
        raise NotImplementedError

    def _limit(self, params: dict[str, str], key: str, default: int) -> int:
        try:
            asked = int(params.get(key, default))
        except ValueError:
            asked = default
        return max(1, min(asked, self.page_size))


def _bearer(headers: dict[str, str]) -> str:
    value = headers.get("authorization", "")
    return value[7:] if value.lower().startswith("bearer ") else ""


# ==============================================================================
# Graph API: Facebook Pages and Instagram professional accounts


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
    return status, {"error": error}, headers or {}


def graph_throttled(code: int = 4, minutes: int = 12) -> Answer:
    """A throttling answer with ``X-Business-Use-Case-Usage`` saying when access returns."""
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
        status=400,
        headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
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

    def handle(self, path: str, params: dict[str, str], headers: dict[str, str]) -> Answer:
        token = _bearer(headers) or params.get("access_token", "")
        if token != self.token:
            return graph_error(
                190,
                "Error validating access token: Session has expired on Thursday, 20-Nov-25 02:00:00 PST.",
                status=401,
                subcode=463,
            )
        parts = [p for p in path.split("/") if p]
        if len(parts) == 1:
            node = self.accounts.get(parts[0])
            if node is None:
                return self._no_object(parts[0])
            return 200, dict(node), {}
        if len(parts) != 2:
            return self._no_object(path)
        object_id, edge = parts
        if edge in ("published_posts", "posts", "media"):
            if object_id not in self.accounts:
                return self._no_object(object_id)
            return self._list_posts(path, object_id, params, token)
        if edge in ("comments", "replies"):
            return self._list_comments(path, object_id, edge, params, token)
        return graph_error(100, f"(#100) Unknown edge {edge}")

    def _no_object(self, object_id: str) -> Answer:
        return graph_error(
            100,
            f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot "
            "be loaded due to missing permissions, or does not support this operation.",
            subcode=33,
        )

    def _page(self, path: str, items: list[Any], params: dict[str, str], token: str) -> Answer:
        start = _offset(params.get("after"))
        if start < 0:
            return graph_error(100, "(#100) Invalid cursor")
        if self.max_after_offset is not None and start > self.max_after_offset:
            return graph_error(100, AFTER_CURSOR_MESSAGE)
        size = self._limit(params, "limit", 25)
        chunk = items[start : start + size]
        body: dict[str, Any] = {"data": chunk}
        if chunk:
            paging: dict[str, Any] = {
                "cursors": {"before": _cursor(start), "after": _cursor(start + len(chunk))}
            }
            if start + size < len(items):
                # Graph echoes the access token in paging.next when it had one.
                query = {**params, "after": _cursor(start + size), "access_token": token}
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

    def _list_comments(
        self, path: str, object_id: str, edge: str, params: dict[str, str], token: str
    ) -> Answer:
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
                            + urlencode({"after": _cursor(0)})
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


# ==============================================================================
# YouTube Data API v3


def youtube_time(when: datetime) -> str:
    """RFC 3339 as YouTube writes it: ``2019-12-01T04:46:31.000Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def youtube_error(status: int, reason: str, message: str, domain: str = "youtube.api") -> Answer:
    """A Google API error answer."""
    return (
        status,
        {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason}],
            }
        },
        {},
    )


QUOTA_EXCEEDED = youtube_error(
    403,
    "quotaExceeded",
    "The request cannot be completed because you have exceeded your "
    '<a href="/youtube/v3/getting-started#quota">quota</a>.',
    domain="youtube.quota",
)


@dataclass
class _YouTubeComment:
    comment_id: str
    video_id: str
    at: datetime
    text: str
    author: tuple[str, str]  # (channel id, display name)
    parent: str | None


class FakeYouTube(FakeServer):
    """channels.list, playlistItems.list, commentThreads.list, comments.list."""

    prefix = "/youtube/v3"

    def __init__(
        self,
        *,
        page_size: int = 100,
        api_key: str = "fake-youtube-key",
        token: str = "fake-youtube-oauth-token",
    ) -> None:
        super().__init__(page_size=page_size)
        self.api_key = api_key
        self.token = token
        self.quota: int | None = None  # units left today; None = unlimited
        self.carried_replies = 2  # replies a thread carries (real API: up to 5)
        self.channels: dict[str, dict[str, str]] = {}
        self.videos: list[dict[str, Any]] = []
        self.comments: list[_YouTubeComment] = []
        self.comments_disabled: set[str] = set()

    def add_channel(self, channel_id: str, title: str) -> None:
        self.channels[channel_id] = {"title": title, "uploads": "UU" + channel_id[2:]}

    def add_video(self, channel_id: str, video_id: str, at: datetime, title: str) -> None:
        self.videos.append({"channel": channel_id, "id": video_id, "at": at, "title": title})

    def add_comment(
        self,
        video_id: str,
        comment_id: str,
        at: datetime,
        text: str,
        *,
        author: tuple[str, str] = ("UCcitizen0000000000000000", "A Citizen"),
        parent: str | None = None,
    ) -> None:
        if parent:
            comment_id = f"{parent}.{comment_id}"
        self.comments.append(_YouTubeComment(comment_id, video_id, at, text, author, parent))

    def handle(self, path: str, params: dict[str, str], headers: dict[str, str]) -> Answer:
        key = headers.get("x-goog-api-key") or params.get("key")
        bearer = _bearer(headers)
        if bearer:
            if bearer != self.token:
                return youtube_error(
                    401,
                    "authError",
                    "Request had invalid authentication credentials. Expected OAuth 2 "
                    "access token, login cookie or other valid authentication credential.",
                    domain="global",
                )
        elif key != self.api_key:
            if not key:
                return youtube_error(403, "forbidden", "The request is missing a valid API key.", "global")
            return youtube_error(
                400, "keyInvalid", "API key not valid. Please pass a valid API key.", "global"
            )
        if self.quota is not None:
            if self.quota <= 0:
                return QUOTA_EXCEEDED
            self.quota -= 1
        route = {
            "/channels": self._channels,
            "/playlistItems": self._playlist_items,
            "/commentThreads": self._threads,
            "/comments": self._replies,
        }.get(path)
        if route is None:
            return youtube_error(404, "notFound", f"{path} not found")
        return route(params)

    def _page(self, kind: str, items: list[Any], params: dict[str, str]) -> Answer:
        start = _offset(params.get("pageToken"))
        if start < 0:
            return youtube_error(400, "invalidPageToken", "The page token is not valid.")
        size = self._limit(params, "maxResults", 5)
        body: dict[str, Any] = {
            "kind": f"youtube#{kind}ListResponse",
            "etag": "fake-etag",
            "pageInfo": {"totalResults": len(items), "resultsPerPage": size},
            "items": items[start : start + size],
        }
        if start + size < len(items):
            body["nextPageToken"] = _cursor(start + size)
        return 200, body, {}

    def _channels(self, params: dict[str, str]) -> Answer:
        items = []
        for channel_id in params.get("id", "").split(","):
            channel = self.channels.get(channel_id)
            if channel:
                items.append(
                    {
                        "kind": "youtube#channel",
                        "id": channel_id,
                        "snippet": {"title": channel["title"]},
                        "contentDetails": {"relatedPlaylists": {"likes": "", "uploads": channel["uploads"]}},
                    }
                )
        return 200, {"kind": "youtube#channelListResponse", "items": items}, {}

    def _playlist_items(self, params: dict[str, str]) -> Answer:
        owner = next(
            (c for c, v in self.channels.items() if v["uploads"] == params.get("playlistId")),
            None,
        )
        if owner is None:
            return youtube_error(
                404,
                "playlistNotFound",
                "The playlist identified with the request's playlistId parameter cannot be found.",
            )
        videos = sorted(
            (v for v in self.videos if v["channel"] == owner), key=lambda v: v["at"], reverse=True
        )
        items = [
            {
                "kind": "youtube#playlistItem",
                "id": f"PLI{v['id']}",
                "snippet": {
                    "publishedAt": youtube_time(v["at"]),
                    "channelId": owner,
                    "title": v["title"],
                    "description": "",
                    "resourceId": {"kind": "youtube#video", "videoId": v["id"]},
                },
                "contentDetails": {
                    "videoId": v["id"],
                    "videoPublishedAt": youtube_time(v["at"]),
                },
            }
            for v in videos
        ]
        return self._page("playlistItem", items, params)

    def _render(self, c: _YouTubeComment, params: dict[str, str]) -> dict[str, Any]:
        plain = params.get("textFormat") == "plainText"
        snippet: dict[str, Any] = {
            "channelId": "UCowner",
            "videoId": c.video_id,
            "textDisplay": c.text if plain else html.escape(c.text).replace("\n", "<br>"),
            "textOriginal": c.text,
            "authorDisplayName": c.author[1],
            "authorProfileImageUrl": "https://yt3.ggpht.com/fake",
            "authorChannelUrl": f"http://www.youtube.com/channel/{c.author[0]}",
            "authorChannelId": {"value": c.author[0]},
            "canRate": True,
            "viewerRating": "none",
            "likeCount": 0,
            "publishedAt": youtube_time(c.at),
            "updatedAt": youtube_time(c.at),
        }
        if c.parent:
            snippet["parentId"] = c.parent
        return {"kind": "youtube#comment", "etag": "e", "id": c.comment_id, "snippet": snippet}

    def _threads(self, params: dict[str, str]) -> Answer:
        video_id = params.get("videoId", "")
        if video_id not in {v["id"] for v in self.videos}:
            return youtube_error(
                404, "videoNotFound", "The video identified by the videoId parameter could not be found."
            )
        if video_id in self.comments_disabled:
            return youtube_error(
                403,
                "commentsDisabled",
                "The video identified by the videoId parameter has disabled comments.",
            )
        tops = sorted(
            (c for c in self.comments if c.video_id == video_id and not c.parent),
            key=lambda c: c.at,
            reverse=params.get("order", "time") == "time",
        )
        items = []
        for top in tops:
            replies = sorted((r for r in self.comments if r.parent == top.comment_id), key=lambda r: r.at)
            thread: dict[str, Any] = {
                "kind": "youtube#commentThread",
                "etag": "e",
                "id": top.comment_id,
                "snippet": {
                    "channelId": "UCowner",
                    "videoId": video_id,
                    "topLevelComment": self._render(top, params),
                    "canReply": True,
                    "totalReplyCount": len(replies),
                    "isPublic": True,
                },
            }
            if replies and "replies" in params.get("part", ""):
                carried = replies[-self.carried_replies :] if self.carried_replies else []
                thread["replies"] = {"comments": [self._render(r, params) for r in carried]}
            items.append(thread)
        return self._page("commentThread", items, params)

    def _replies(self, params: dict[str, str]) -> Answer:
        parent = params.get("parentId", "")
        replies = sorted((r for r in self.comments if r.parent == parent), key=lambda r: r.at)
        return self._page("comment", [self._render(r, params) for r in replies], params)


# ==============================================================================
# X API v2


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
        if _bearer(headers) != self.token:
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
        start = _offset(params.get(token_name))
        size = self._limit(params, "max_results", least)
        chunk = rows[start : start + size]
        meta: dict[str, Any] = {"result_count": len(chunk)}
        if not chunk:
            return 200, {"meta": meta}, {}
        meta["newest_id"] = chunk[0]["id"]
        meta["oldest_id"] = chunk[-1]["id"]
        if start + size < len(rows):
            meta["next_token"] = _cursor(start + size)
        data = []
        for t in chunk:
            item = {k: v for k, v in t.items() if k != "created_at"}
            item["created_at"] = x_time(t["created_at"])
            data.append(item)
        authors = {t["author_id"] for t in chunk}
        users = [dict(self.users[a]) for a in sorted(authors) if a in self.users]
        body: dict[str, Any] = {"data": data, "meta": meta}
        if users and "author_id" in params.get("expansions", ""):
            body["includes"] = {"users": users}
        return 200, body, {}
