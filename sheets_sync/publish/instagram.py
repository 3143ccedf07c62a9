"""Replies and hiding on an Instagram professional account (Graph API).

Reply: ``POST /{ig-comment-id}/replies`` with ``message`` → ``{"id"}``. Instagram
takes replies to top-level comments only: a reply to a reply is posted under its
top-level comment, its text starting with the citizen's ``@username `` (unless
the officer already began with it), which is also the text
:meth:`InstagramPublisher.find_reply` looks for among the account's replies
(``GET /{top-level-id}/replies``). Its time is then read (``GET /{reply-id}``)
and its link built from the post's permalink, as the source builds it. Hide:
``POST /{ig-comment-id}?hide=true|false``. Needs ``instagram_manage_comments``.
"""

from __future__ import annotations

import re
from datetime import datetime

from sheets_sync.publish.base import Posted, Reply
from sheets_sync.publish.graph import GraphPublisher, own_items
from sheets_sync.sources.graph import graph_pages
from sheets_sync.sources.platforms import text_field, time_field

FIELDS = "id,text,timestamp,username,from{id,username}"


class InstagramPublisher(GraphPublisher):
    platform = "instagram"
    service = "Instagram"
    max_length = 2200
    token_name = "SHEETS_SYNC_INSTAGRAM_PUBLISH_TOKEN"
    permission = "instagram_manage_comments"

    def text_for(self, reply: Reply) -> str:
        handle = reply.author.strip().lstrip("@")
        if not reply.parent_id or not handle:
            return reply.text
        if re.match(rf"@{re.escape(handle)}(?![\w.])", reply.text, re.IGNORECASE):
            return reply.text
        return f"@{handle} {reply.text}"

    def _post(self, reply: Reply, text: str) -> Posted:
        target = reply.parent_id or reply.comment_id
        what = f"the reply to Instagram comment {reply.comment_id}"
        answer = self.writer.send("POST", f"{target}/replies", data={"message": text}, what=what)
        reply_id = self.new_id(answer, what)
        read = self.read_or_none(reply_id, {"fields": "id,timestamp"}, what=f"the posted reply {reply_id}")
        when = time_field(read or {}, "timestamp") or self.clock()
        return Posted(reply_id, self._link(reply, reply_id), when)

    def _link(self, reply: Reply, reply_id: str) -> str:
        media = self.read_or_none(reply.post_id, {"fields": "permalink"}, what=f"media {reply.post_id}") or {}
        base = text_field(media, "permalink") or f"https://www.instagram.com/p/{reply.post_id}/"
        return f"{base if base.endswith('/') else base + '/'}c/{reply_id}/"

    def find_reply(self, reply: Reply, since: datetime) -> Posted | None:
        target = reply.parent_id or reply.comment_id
        what = f"the account's replies to Instagram comment {target}"
        found = self.match(
            ((str(raw.get("id", "")), text_field(raw, "text"), time_field(raw, "timestamp"), "")
             for items in graph_pages(self.http, f"{target}/replies", {"fields": FIELDS, "limit": 50},
                                      what=what)
             for raw in own_items(items, self.account_id)),
            reply, since)
        if found is None:
            return None
        return Posted(found.reply_id, self._link(reply, found.reply_id), found.posted_at)

    def hide(self, reply_to: Reply, hidden: bool) -> None:
        self.writer.send("POST", reply_to.comment_id, params={"hide": "true" if hidden else "false"},
                         what=f"{'hiding' if hidden else 'showing'} Instagram comment {reply_to.comment_id}",
                         idempotent=True)
