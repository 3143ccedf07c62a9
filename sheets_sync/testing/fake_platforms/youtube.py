"""The YouTube Data API v3 fake: channels, uploads, comment threads and replies.

Writes need the OAuth token (an API key gets YouTube's 401 "API keys are not
supported by this API"): ``comments.insert`` (``POST /comments?part=snippet`` with
``{"snippet": {"parentId", "textOriginal"}}``, 50 quota units, posted as the
channel that owns the video) and ``comments.setModerationStatus`` (``heldForReview``
hides a comment from the reads, ``published`` shows it again; 50 units). Knobs:
``quota`` (units left today), ``not_owned`` (videos whose comments the token may
not moderate), ``scopes`` (the OAuth token's; without
``youtube.force-ssl`` a write is 403 ``insufficientPermissions``),
:meth:`FakeYouTube.delete_comment`, and the server's faults.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .server import Answer, FakeServer, bearer_token, cursor_offset, page_cursor


def youtube_time(when: datetime) -> str:
    """RFC 3339 as YouTube writes it: ``2019-12-01T04:46:31.000Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def youtube_error(
    status: int,
    reason: str,
    message: str,
    domain: str = "youtube.api",
    *,
    grpc_status: str | None = None,
    detail_reason: str | None = None,
) -> Answer:
    """A Google API error answer; ``detail_reason`` adds the ``google.rpc.ErrorInfo``
    detail that Google's newer errors carry (``API_KEY_INVALID``)."""
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "errors": [{"message": message, "domain": domain, "reason": reason}],
    }
    if grpc_status:
        error["status"] = grpc_status
    if detail_reason:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": detail_reason,
                "domain": "googleapis.com",
                "metadata": {"service": "youtube.googleapis.com"},
            }
        ]
    return status, {"error": error}, {}


#: How YouTube answers an invalid or expired API key today (400, reason badRequest).
API_KEY_INVALID = youtube_error(
    400,
    "badRequest",
    "API key not valid. Please pass a valid API key.",
    "global",
    grpc_status="INVALID_ARGUMENT",
    detail_reason="API_KEY_INVALID",
)


QUOTA_EXCEEDED = youtube_error(
    403,
    "quotaExceeded",
    "The request cannot be completed because you have exceeded your "
    '<a href="/youtube/v3/getting-started#quota">quota</a>.',
    domain="youtube.quota",
)


#: How YouTube answers a write made with an API key: only OAuth may write.
API_KEYS_CANNOT_WRITE = youtube_error(
    401,
    "required",
    "API keys are not supported by this API. Expected OAuth2 access token or other authentication "
    "credentials that assert a principal. See https://cloud.google.com/docs/authentication",
    "global",
    grpc_status="UNAUTHENTICATED",
    detail_reason="CREDENTIALS_MISSING",
)


@dataclass
class _YouTubeComment:
    comment_id: str
    video_id: str
    at: datetime
    text: str
    author: tuple[str, str]  # (channel id, display name)
    parent: str | None
    held: bool = False  # held for review: YouTube's reads leave it out


FORCE_SSL = "https://www.googleapis.com/auth/youtube.force-ssl"
WRITE_UNITS = 50  # comments.insert and setModerationStatus


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
        self.scopes: set[str] = {FORCE_SSL}  # the OAuth token's scopes
        # Videos the token's channel does not own: moderating their comments is 403 forbidden.
        self.not_owned: set[str] = set()
        self._next_id = 1

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

    def delete_comment(self, comment_id: str) -> None:
        """The comment (and its replies) deleted on YouTube."""
        self.comments = [c for c in self.comments if comment_id not in (c.comment_id, c.parent)]

    def handle(self, path: str, params: dict[str, str], headers: dict[str, str]) -> Answer:
        key = headers.get("x-goog-api-key") or params.get("key")
        bearer = bearer_token(headers)
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
            return API_KEY_INVALID
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
        start = cursor_offset(params.get("pageToken"))
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
            body["nextPageToken"] = page_cursor(start + size)
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
            (c for c in self.comments if c.video_id == video_id and not c.parent and not c.held),
            key=lambda c: c.at,
            reverse=params.get("order", "time") == "time",
        )
        items = []
        for top in tops:
            replies = sorted((r for r in self.comments if r.parent == top.comment_id and not r.held),
                             key=lambda r: r.at)
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
        replies = sorted((r for r in self.comments if r.parent == parent and not r.held), key=lambda r: r.at)
        return self._page("comment", [self._render(r, params) for r in replies], params)

    # writing --------------------------------------------------------------------

    def handle_write(self, method: str, path: str, params: dict[str, str], body: Any,
                     headers: dict[str, str]) -> Answer:
        refused = self._may_write(headers)
        if refused:
            return refused
        if self.quota is not None:
            if self.quota < WRITE_UNITS:
                return QUOTA_EXCEEDED
            self.quota -= WRITE_UNITS
        if method == "POST" and path == "/comments":
            snippet = body.get("snippet") if isinstance(body, dict) else None
            return self._insert(snippet if isinstance(snippet, dict) else {})
        if method == "POST" and path == "/comments/setModerationStatus":
            return self._moderate(params)
        return youtube_error(404, "notFound", f"{method} {path} not found")

    def _may_write(self, headers: dict[str, str]) -> Answer | None:
        bearer = bearer_token(headers)
        if not bearer:
            return API_KEYS_CANNOT_WRITE
        if bearer != self.token:
            return youtube_error(
                401, "authError", "Request had invalid authentication credentials. Expected OAuth 2 "
                "access token, login cookie or other valid authentication credential.", domain="global")
        if FORCE_SSL not in self.scopes:
            return youtube_error(403, "insufficientPermissions", "Request had insufficient authentication "
                                 "scopes.", domain="global", grpc_status="PERMISSION_DENIED",
                                 detail_reason="ACCESS_TOKEN_SCOPE_INSUFFICIENT")
        return None

    def _insert(self, snippet: dict[str, Any]) -> Answer:
        parent = next((c for c in self.comments if c.comment_id == snippet.get("parentId")), None)
        if parent is None or parent.parent is not None:
            return youtube_error(404, "parentCommentNotFound", "The comment identified by the request's "
                                 "parentId parameter could not be found.")
        text = snippet.get("textOriginal")
        if not isinstance(text, str) or not text:
            return youtube_error(400, "invalidCommentMetadata", "The request metadata is invalid.")
        if len(text) > 10_000:
            return youtube_error(400, "commentTextTooLong", "The comment resource that is being inserted "
                                 "contains too many characters in the snippet.textOriginal property.")
        owner = next(v["channel"] for v in self.videos if v["id"] == parent.video_id)
        reply = _YouTubeComment(f"{parent.comment_id}.AzFake{self._next_id:08d}", parent.video_id,
                                self.current_time(), text, (owner, self.channels[owner]["title"]),
                                parent.comment_id)
        self._next_id += 1
        self.comments.append(reply)
        return 200, self._render(reply, {}), {}

    def _moderate(self, params: dict[str, str]) -> Answer:
        status = params.get("moderationStatus", "")
        if status not in ("heldForReview", "published", "rejected"):
            return youtube_error(400, "invalidModerationStatus", "The moderationStatus is not valid.")
        found = [c for c in self.comments if c.comment_id in params.get("id", "").split(",")]
        if not found:
            return youtube_error(404, "commentNotFound", "The comment identified by the id parameter "
                                 "could not be found.")
        if any(c.video_id in self.not_owned for c in found):
            return youtube_error(403, "forbidden", "The comment could not be moderated: only the owner "
                                 "of the video's channel may moderate its comments.")
        for comment in found:
            comment.held = status != "published"
        return 204, None, {}
