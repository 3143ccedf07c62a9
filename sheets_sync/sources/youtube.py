"""YouTube channel source (YouTube Data API v3).

Videos: ``channels.list(part=contentDetails)`` gives the uploads playlist;
``playlistItems.list`` pages it newest first back to the post horizon.
Comments: ``commentThreads.list(videoId=…, part=snippet,replies, order=time,
textFormat=plainText, maxResults=100)``; a thread that carries fewer replies
than its ``totalReplyCount`` has the rest read with
``comments.list(parentId=…)``. There is no ``publishedAfter`` for comments:
threads come newest first, and paging stops after the first page whose last
thread is older than the window. A new reply to a thread older than that page
is therefore not seen (YouTube offers no way to find it short of reading
every thread). The channel's own replies (``authorChannelId.value`` equal to
the channel id) are ``by_page``. YouTube returns no hidden comments (held for
review or removed ones are simply absent), so ``deleted`` is always false.
Text is ``textOriginal`` (``textDisplay`` — plain text, since we ask for
``plainText`` — when YouTube withholds the original).

Credentials: an API key (``SHEETS_SYNC_YOUTUBE_API_KEY``, sent as the
``X-goog-api-key`` header) or an OAuth access token
(``SHEETS_SYNC_YOUTUBE_TOKEN``, sent as a bearer token).

Errors: 401 and invalid keys → :class:`AuthError`; 403 ``quotaExceeded``
(daily quota, resets at midnight Pacific time) → :class:`RateLimited` at once,
never retried; per-second ``rateLimitExceeded`` → retried with backoff;
5xx and dropped connections → retried. A video whose comments are disabled is
passed over; one that cannot be read is passed over with a warning.
Incremental reading, the checkpoint and throttling: see
:mod:`sheets_sync.sources.window`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sheets_sync.errors import AuthError, ConfigError, InputError, RateLimited, SourceError
from sheets_sync.models import Comment, Post
from sheets_sync.sources._http import ApiError, Response, Transient, json_or_text, shown
from sheets_sync.sources.platforms import PlatformSource, ist, text_field, time_field
from sheets_sync.sources.window import Harvest, Window, newest_first

PACIFIC = ZoneInfo("America/Los_Angeles")
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
RETRY_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
AUTH_REASONS = frozenset({"keyInvalid", "keyExpired", "authError", "accessNotConfigured", "ipRefererBlocked"})
# A bad or expired key now comes as 400 badRequest; only the ErrorInfo detail names it.
AUTH_DETAIL_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED", "SERVICE_DISABLED"})


def quota_reset(now: datetime) -> datetime:
    """The next midnight in Pacific time, when the daily quota resets."""
    local = now.astimezone(PACIFIC)
    tomorrow = local.date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=PACIFIC)


def _detail_reason(error: Mapping[str, Any]) -> str:
    """The reason of the ``google.rpc.ErrorInfo`` detail, if the error carries one."""
    details = error.get("details")
    for item in details if isinstance(details, list) else []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("google.rpc.ErrorInfo"):
            return str(item.get("reason", ""))
    return ""


class YouTubeSource(PlatformSource):
    """Videos and comments of one YouTube channel."""

    platform = "youtube"
    service = "YouTube"
    account_setting = "channel_id"
    token_names = ("SHEETS_SYNC_YOUTUBE_API_KEY", "SHEETS_SYNC_YOUTUBE_TOKEN")
    url_env = "SHEETS_SYNC_YOUTUBE_URL"
    default_url = "https://www.googleapis.com/youtube/v3"

    @property
    def channel_id(self) -> str:
        return self.config.account_id

    @property
    def _uses_key(self) -> bool:
        return self.secret.name.endswith("API_KEY")

    def auth_headers(self) -> dict[str, str]:
        if self._uses_key:
            return {"X-goog-api-key": self.secret.value}
        return super().auth_headers()

    def _renew(self) -> str:
        if self._uses_key:
            return (
                "create a new API key (Google Cloud console → APIs & Services → "
                f"Credentials, with the YouTube Data API v3 enabled) and put it in {self.secret.name}"
            )
        return (
            "get a new OAuth access token for the channel (scope youtube.force-ssl) and put "
            f"it in {self.secret.name}"
        )

    def map_error(self, response: Response, what: str) -> Exception:
        body = response.data if isinstance(response.data, dict) else {}
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        details = error.get("errors") if isinstance(error.get("errors"), list) else []
        reason = ""
        if details and isinstance(details[0], dict):
            reason = str(details[0].get("reason", ""))
        detail = _detail_reason(error)
        message = json_or_text(error.get("message", "") or f"HTTP {response.status}")
        said = f"HTTP {response.status} {detail or reason or 'error'}: {message}"
        if reason in QUOTA_REASONS:
            reset = quota_reset(self._clock())
            return RateLimited(
                f"YouTube daily quota exhausted while reading {what} ({reason}); the quota "
                f"resets at midnight Pacific time ({ist(reset)}) and retrying before then is "
                "useless; the next run after that resumes from the checkpoint"
            )
        if response.status == 401 or reason in AUTH_REASONS or detail in AUTH_DETAIL_REASONS:
            return AuthError(
                f"YouTube rejected the credential in {self.secret.name} ({said}): {self._renew()}"
            )
        if response.status >= 500:
            return Transient(SourceError(f"YouTube: {what}: {said}"))
        if reason in RETRY_REASONS or response.status == 429:
            return Transient(RateLimited(f"YouTube throttled reading {what} ({said})"))
        return ApiError(f"YouTube refused to give {what} ({said})", status=response.status, reason=reason)

    # reading ----------------------------------------------------------------------

    def _pages(self, path: str, params: Mapping[str, Any], *, what: str) -> Iterator[list[Any]]:
        current = dict(params)
        while True:
            answer = self.http.get(path, current, what=what)
            items = answer.get("items")
            if not isinstance(items, list):
                raise InputError(f"YouTube: {what}: the answer has no 'items' list")
            yield items
            token = answer.get("nextPageToken")
            if not token or not items:
                return
            current["pageToken"] = token

    def _channel(self) -> dict:
        what = f"channel {self.channel_id}"
        try:
            answer = self.http.get(
                "channels", {"part": "snippet,contentDetails", "id": self.channel_id}, what=what
            )
        except ApiError as exc:
            raise ConfigError(f"youtube.channel_id {self.channel_id} in sources.yaml: {exc}") from None
        items = answer.get("items") or []
        if not items:
            raise ConfigError(
                f"youtube.channel_id {self.channel_id} in sources.yaml: YouTube knows no such "
                "channel; use the id that starts with UC (YouTube Studio → Settings → Channel "
                "→ Advanced settings)"
            )
        channel = items[0]
        uploads = (
            channel.get("contentDetails", {}).get("relatedPlaylists", {}).get("uploads")
            if isinstance(channel, dict)
            else None
        )
        if not isinstance(uploads, str) or not uploads:
            raise InputError(f"YouTube: {what}: the answer names no uploads playlist")
        return {"title": channel.get("snippet", {}).get("title", "?"), "uploads": uploads}

    def probe(self) -> str:
        """What a sync reads, one item each: the channel, its newest upload, that
        video's comment threads — so "readable" is said only of what was read."""
        channel = self._channel()
        what = f"uploads of channel {self.channel_id}"
        uploads = next(self._pages("playlistItems", {"part": "contentDetails", "maxResults": 1,
                                                     "playlistId": channel["uploads"]}, what=what))
        found = f"YouTube channel {channel['title']!r} ({self.channel_id})"
        secret = f"with the {'API key' if self._uses_key else 'OAuth token'} from {self.secret.name}"
        details = uploads[0].get("contentDetails", {}) if uploads and isinstance(uploads[0], dict) else {}
        video = details.get("videoId") if isinstance(details, dict) else None
        if not video:
            return f"{found}: uploads readable (no videos yet), {secret}"
        try:
            next(self._pages("commentThreads", {"part": "snippet", "videoId": video, "maxResults": 1,
                                                "textFormat": "plainText"},
                             what=f"comments of video {video}"))
        except ApiError as exc:
            if exc.reason != "commentsDisabled":
                raise
            return (f"{found}: uploads readable {secret}; comments are turned off on the newest "
                    f"video ({video}), so none could be read to check")
        return f"{found}: uploads and comments readable {secret}"

    def collect(self, window: Window, harvest: Harvest) -> None:
        uploads = self._channel()["uploads"]
        for video in self._videos(uploads, window, harvest):
            try:
                self._threads(video, window, harvest)
            except ApiError as exc:
                if exc.reason == "commentsDisabled":
                    continue  # nothing to read, nothing lost
                harvest.warn(f"youtube: video {video.post_id} ({video.url}): {exc} — skipped")

    def _videos(self, uploads: str, window: Window, harvest: Harvest) -> list[Post]:
        videos: list[Post] = []
        pages = self._pages(
            "playlistItems",
            {"part": "snippet,contentDetails", "playlistId": uploads, "maxResults": 50},
            what=f"uploads of channel {self.channel_id}",
        )
        for _, post in newest_first(pages, lambda raw: self._video(raw, harvest), window.post_horizon):
            videos.append(post)
            harvest.add_post(post)
        return sorted(videos, key=lambda p: (p.posted_at, p.post_id))

    def _video(self, raw: Any, harvest: Harvest) -> Post | None:
        if not isinstance(raw, dict):
            harvest.warn(f"youtube: skipped an upload that is not an object: {json_or_text(raw, 80)}")
            return None
        details = raw.get("contentDetails") if isinstance(raw.get("contentDetails"), dict) else {}
        snippet = raw.get("snippet") if isinstance(raw.get("snippet"), dict) else {}
        video_id = details.get("videoId") or snippet.get("resourceId", {}).get("videoId")
        if not isinstance(video_id, str) or not video_id:
            harvest.warn(
                f"youtube: skipped upload {raw.get('id', '?')} without a video id "
                f"({shown(snippet.get('title', ''))})"
            )
            return None
        posted_at = time_field(details, "videoPublishedAt")
        if posted_at is None:
            harvest.warn(
                f"youtube: skipped video {video_id} ({shown(snippet.get('title', ''))}):"
                " no publish time — it is private, deleted or not yet published"
            )
            return None
        url = f"https://www.youtube.com/watch?v={video_id}"
        return self.post(video_id, posted_at, text_field(snippet, "title"), url)

    def _threads(self, video: Post, window: Window, harvest: Harvest) -> None:
        params = {
            "part": "snippet,replies",
            "videoId": video.post_id,
            "order": "time",
            "textFormat": "plainText",
            "maxResults": 100,
        }
        for items in self._pages("commentThreads", params, what=f"comments of video {video.post_id}"):
            oldest = None
            for raw in items:
                top_time = self._thread(raw, video, harvest)
                if top_time is not None:
                    oldest = top_time if oldest is None else min(oldest, top_time)
            if oldest is not None and oldest < window.since:
                break  # newest first: later pages hold older threads

    def _thread(self, raw: Any, video: Post, harvest: Harvest) -> datetime | None:
        """Add one thread's comments; return its top-level comment's time."""
        snippet = raw.get("snippet") if isinstance(raw, dict) else None
        top_raw = snippet.get("topLevelComment") if isinstance(snippet, dict) else None
        top = self._comment(top_raw, video, harvest)
        if top is None:
            return None
        harvest.add_comment(top)
        carried_raw = (
            raw.get("replies", {}).get("comments", []) if isinstance(raw.get("replies"), dict) else []
        )
        total = snippet.get("totalReplyCount", 0)
        if isinstance(total, int) and total > len(carried_raw):
            carried_raw = [
                item
                for page in self._pages(
                    "comments",
                    {
                        "part": "snippet",
                        "parentId": top.comment_id,
                        "textFormat": "plainText",
                        "maxResults": 100,
                    },
                    what=f"replies to YouTube comment {top.comment_id}",
                )
                for item in page
            ]
        for item in carried_raw:
            reply = self._comment(item, video, harvest, parent_id=top.comment_id)
            if reply is not None:
                harvest.add_comment(reply)
        return top.commented_at

    def _comment(self, raw: Any, video: Post, harvest: Harvest, *, parent_id: str = "") -> Comment | None:
        comment_id = raw.get("id") if isinstance(raw, dict) else None
        snippet = raw.get("snippet") if isinstance(raw, dict) else None
        if not isinstance(comment_id, str) or not comment_id or not isinstance(snippet, dict):
            harvest.warn(
                f"youtube: skipped a comment on video {video.post_id} without an id or "
                f"snippet: {json_or_text(raw, 120)}"
            )
            return None
        commented_at = time_field(snippet, "publishedAt")
        if commented_at is None:
            harvest.warn(
                f"youtube: skipped comment {comment_id} on video {video.post_id}: publishedAt "
                f"{shown(snippet.get('publishedAt'))} is not a time"
            )
            return None
        channel = snippet.get("authorChannelId")
        author_id = str(channel.get("value", "")) if isinstance(channel, dict) else ""
        text = snippet.get("textOriginal")
        if not isinstance(text, str):
            text = text_field(snippet, "textDisplay")
        return Comment(
            platform=self.platform,
            comment_id=comment_id,
            post_id=video.post_id,
            parent_id=text_field(snippet, "parentId") or parent_id,
            author=text_field(snippet, "authorDisplayName"),
            author_id=author_id,
            commented_at=commented_at,
            text=text,
            url=f"https://www.youtube.com/watch?v={video.post_id}&lc={comment_id}",
            by_page=bool(author_id) and author_id == self.channel_id,
            origin=f"youtube comment {comment_id}",
        )
