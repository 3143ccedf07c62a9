"""Replies and hiding on a Facebook Page (Graph API), as the Page.

Reply: ``POST /{comment-id}/comments`` with ``message`` → ``{"id"}``; its time and
link are then read (``GET /{reply-id}``), and if that read fails the reply still
counts as posted, with our clock's time and a link built from its id. Facebook's
threads are two deep: a reply to a reply joins the top-level comment's thread,
which is where :meth:`FacebookPublisher.find_reply` looks (``GET
/{top-level-id}/comments``, the Page's own comments with the same text). Hide:
``POST /{comment-id}`` ``is_hidden=true|false``. Needs a Page token with
``pages_manage_engagement`` (and ``pages_read_engagement`` to read it back).
"""

from __future__ import annotations

from datetime import datetime

from sheets_sync.publish.base import Posted, Reply
from sheets_sync.publish.graph import GraphPublisher, own_items
from sheets_sync.sources.graph import graph_pages
from sheets_sync.sources.platforms import text_field, time_field

FIELDS = "id,message,from{id,name},created_time,permalink_url"


class FacebookPublisher(GraphPublisher):
    platform = "facebook"
    service = "Facebook"
    max_length = 8000
    token_name = "SHEETS_SYNC_FACEBOOK_PUBLISH_TOKEN"
    permission = "pages_manage_engagement"

    def _post(self, reply: Reply, text: str) -> Posted:
        what = f"the reply to Facebook comment {reply.comment_id}"
        answer = self.writer.send("POST", f"{reply.comment_id}/comments", data={"message": text}, what=what)
        reply_id = self.new_id(answer, what)
        read = self.read_or_none(reply_id, {"fields": "id,created_time,permalink_url"},
                                 what=f"the posted reply {reply_id}") or {}
        return Posted(
            reply_id,
            text_field(read, "permalink_url") or f"https://www.facebook.com/{reply_id}",
            time_field(read, "created_time") or self.clock(),
        )

    def find_reply(self, reply: Reply, since: datetime) -> Posted | None:
        thread = reply.parent_id or reply.comment_id
        what = f"the Page's replies to Facebook comment {thread}"
        candidates = (
            (str(raw.get("id", "")), text_field(raw, "message"), time_field(raw, "created_time"),
             text_field(raw, "permalink_url") or f"https://www.facebook.com/{raw.get('id', '')}")
            for items in graph_pages(self.http, f"{thread}/comments",
                                     {"fields": FIELDS, "order": "chronological", "limit": 100}, what=what)
            for raw in own_items(items, self.account_id)
        )
        return self.match(candidates, reply, since)

    def hide(self, reply_to: Reply, hidden: bool) -> None:
        self.writer.send("POST", reply_to.comment_id, data={"is_hidden": "true" if hidden else "false"},
                         what=f"{'hiding' if hidden else 'showing'} Facebook comment {reply_to.comment_id}",
                         idempotent=True)
