"""Replies and hiding on a YouTube channel (Data API v3), as the channel.

Reply: ``comments.insert`` (``POST /comments?part=snippet`` with
``{"snippet": {"parentId", "textOriginal"}}``), 50 quota units of the day's
10,000; ``parentId`` is the top-level comment (a reply to a reply goes into its
thread). The answer is the new comment, with its time. Writing needs an OAuth
access token with the ``youtube.force-ssl`` scope: an API key cannot write.
:meth:`YouTubePublisher.find_reply` reads ``comments.list(parentId=…)`` (1 unit a
page) for the channel's own reply with that text. Hide:
``comments.setModerationStatus`` ``heldForReview`` (``published`` shows it again),
by the channel that owns the video, 50 units.

Refusals: 401 → ``token`` (or ``permission`` when an API key was sent);
``quotaExceeded`` → ``quota`` until midnight Pacific time; ``rateLimitExceeded``
→ ``throttled``; ``insufficientPermissions`` → ``permission`` naming the scope;
404 (``parentCommentNotFound``, ``commentNotFound``) → ``gone``;
``commentTextTooLong`` → ``too_long``. All that stop the platform do so.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sheets_sync.publish.base import Posted, Refused, Reply, Uncertain
from sheets_sync.publish.platform import PlatformPublisher
from sheets_sync.sources._http import Response, json_or_text
from sheets_sync.sources.platforms import ist, text_field, time_field
from sheets_sync.sources.youtube import (
    AUTH_DETAIL_REASONS,
    QUOTA_REASONS,
    RETRY_REASONS,
    _detail_reason,
    quota_reset,
)

SCOPE = "youtube.force-ssl"
GONE_REASONS = frozenset({"parentCommentNotFound", "commentNotFound", "notFound", "videoNotFound",
                          "parentCommentIsPrivate"})


class YouTubePublisher(PlatformPublisher):
    platform = "youtube"
    service = "YouTube"
    max_length = 10_000
    token_name = "SHEETS_SYNC_YOUTUBE_PUBLISH_TOKEN"
    url_env = "SHEETS_SYNC_YOUTUBE_URL"
    default_url = "https://www.googleapis.com/youtube/v3"

    def refusal(self, response: Response, what: str) -> Refused | None:
        error = response.data.get("error") if isinstance(response.data, dict) else None
        if not isinstance(error, dict) or response.status >= 500:
            return None
        errors = error.get("errors") if isinstance(error.get("errors"), list) else []
        first = errors[0] if errors and isinstance(errors[0], dict) else {}
        reason, detail = str(first.get("reason", "")), _detail_reason(error)
        said = f"{reason or response.status}: {json_or_text(error.get('message', ''), 160)}"
        needs = (f"an OAuth access token of the channel with the {SCOPE} scope in {self.token_name} "
                 "(an API key cannot write)")
        if response.status == 401 and (reason == "required" or detail == "CREDENTIALS_MISSING"):
            return Refused("permission", f"YouTube refused {what} ({said}): writing needs {needs}",
                           stops_platform=True)
        if response.status == 401 or detail in AUTH_DETAIL_REASONS:
            return Refused("token", f"YouTube rejected the token in {self.token_name} ({said}): it expired "
                           f"or was revoked; put a new one in {self.token_name} ({needs})",
                           stops_platform=True)
        if reason in QUOTA_REASONS:
            now = self.clock()
            back = quota_reset(now)
            return Refused("quota", f"YouTube's daily quota is spent ({said}); each reply costs 50 units; "
                           f"it resets at midnight Pacific time ({ist(back)}), the replies stay queued "
                           "until then", stops_platform=True, retry_after=(back - now).total_seconds())
        if reason in RETRY_REASONS or response.status == 429:
            return Refused("throttled", f"YouTube throttled {what} ({said}); YouTube gives no time: the "
                           "replies stay queued and the next run tries again", stops_platform=True)
        return self._refused_here(response.status, reason, detail, what, said, needs)

    def _refused_here(self, status: int, reason: str, detail: str, what: str, said: str,
                      needs: str) -> Refused:
        """Refusals of this one request (the others may still go)."""
        if reason == "insufficientPermissions" or detail == "ACCESS_TOKEN_SCOPE_INSUFFICIENT":
            return Refused("permission", f"YouTube refused {what} ({said}): it needs {needs}",
                           stops_platform=True)
        if status == 404 or reason in GONE_REASONS:
            return Refused("gone", f"YouTube refused {what} ({said}): the comment was deleted or is no "
                           "longer public, so nothing was posted")
        if reason == "commentTextTooLong":
            return Refused("too_long", f"YouTube refused {what} ({said}): shorten the reply")
        if reason in ("forbidden", "ineligibleAccount"):
            return Refused("permission", f"YouTube refused {what} ({said}): only the channel that owns the "
                           f"video may do this; check that the token in {self.token_name} is that channel's")
        return Refused("not_allowed", f"YouTube refused {what} ({said}); nothing was posted")

    def _post(self, reply: Reply, text: str) -> Posted:
        what = f"the reply to YouTube comment {reply.comment_id}"
        answer = self.writer.send(
            "POST", "comments", params={"part": "snippet"}, what=what,
            json={"snippet": {"parentId": reply.parent_id or reply.comment_id, "textOriginal": text}})
        reply_id = answer.get("id")
        if not isinstance(reply_id, str) or not reply_id:
            raise Uncertain(f"YouTube: {what}: the answer carries no id ({json_or_text(answer, 120)}); the "
                            "reply may have been posted — it is checked before anything is sent again")
        snippet = answer.get("snippet") if isinstance(answer.get("snippet"), dict) else {}
        when = time_field(snippet, "publishedAt") or self.clock()
        return Posted(reply_id, self._link(reply, reply_id), when)

    @staticmethod
    def _link(reply: Reply, reply_id: str) -> str:
        return f"https://www.youtube.com/watch?v={reply.post_id}&lc={reply_id}"

    def find_reply(self, reply: Reply, since: datetime) -> Posted | None:
        candidates = (
            (str(item.get("id", "")), text_field(snippet, "textOriginal"), time_field(snippet, "publishedAt"),
             self._link(reply, str(item.get("id", ""))))
            for item, snippet in self._replies(reply.parent_id or reply.comment_id)
            if str((snippet.get("authorChannelId") or {}).get("value", "")) == self.account_id
        )
        return self.match(candidates, reply, since)

    def _replies(self, parent: str) -> Iterator[tuple[dict, dict[str, Any]]]:
        params = {"part": "snippet", "parentId": parent, "textFormat": "plainText", "maxResults": 100}
        while True:
            answer = self.http.get("comments", params, what=f"the channel's replies to comment {parent}")
            for item in answer.get("items") or []:
                if isinstance(item, dict) and isinstance(item.get("snippet"), dict):
                    yield item, item["snippet"]
            token = answer.get("nextPageToken")
            if not token:
                return
            params = {**params, "pageToken": token}

    def hide(self, reply_to: Reply, hidden: bool) -> None:
        self.writer.send(
            "POST", "comments/setModerationStatus", idempotent=True,
            params={"id": reply_to.comment_id,
                    "moderationStatus": "heldForReview" if hidden else "published"},
            what=f"{'holding' if hidden else 'publishing'} YouTube comment {reply_to.comment_id}")
