"""What Facebook and Instagram share on the write side: the Graph API's refusals.

Graph's codes, as the sources read them (:mod:`sheets_sync.sources.graph`): 190
→ ``token`` (renew it; stops the platform); 4, 17, 32, 613, 80001–80009 →
``throttled`` with the wait from ``X-Business-Use-Case-Usage`` (stops the
platform); 10 and 200–299 → ``permission``, naming the permission and the token
variable (stops the platform: every reply would be refused alike); 100 "Object
with ID … does not exist" or a hidden comment → ``gone``. Codes 1 and 2 and
anything marked ``is_transient`` prove nothing: the reply may have been posted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sheets_sync.publish.base import Refused, Uncertain
from sheets_sync.publish.platform import PlatformPublisher
from sheets_sync.sources._http import Response, json_or_text
from sheets_sync.sources.graph import (
    GRAPH_URL_DEFAULT,
    GRAPH_URL_ENV,
    TEMPORARY_CODES,
    THROTTLE_CODES,
    regain_access,
)


def regain_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds until Graph gives access back (``estimated_time_to_regain_access``)."""
    try:
        usage = json.loads(headers.get("X-Business-Use-Case-Usage") or "{}")
        minutes = [entry.get("estimated_time_to_regain_access") for entries in usage.values()
                   for entry in entries]
    except (ValueError, AttributeError, TypeError):
        return None
    numbers = [m for m in minutes if isinstance(m, int | float) and not isinstance(m, bool) and m > 0]
    return max(numbers) * 60 if numbers else None


def graph_refusal(response: Response, what: str, *, service: str, token_name: str,
                  permission: str) -> Refused | None:
    """The refusal a Graph error answer proves, or None when it proves nothing."""
    error = response.data.get("error") if isinstance(response.data, dict) else None
    if not isinstance(error, dict) or response.status >= 500:
        return None
    code = error.get("code")
    message = json_or_text(error.get("message", ""))
    said = f"code {code}: {message}"
    if code == 190:
        return Refused("token", f"{service} token in {token_name} expired or was revoked ({said}): create "
                       f"a new token with {permission} and put it in {token_name}", stops_platform=True)
    if code in THROTTLE_CODES:
        return Refused("throttled", f"{service} throttled this app while it was sending {what} ({said}); "
                       f"{regain_access(response.headers, service)}; the replies stay queued for the next "
                       "run",
                       stops_platform=True, retry_after=regain_seconds(response.headers))
    if code in TEMPORARY_CODES or error.get("is_transient") is True:
        return None
    if code == 10 or (isinstance(code, int) and 200 <= code <= 299):
        return Refused("permission", f"{service} refused {what} ({said}): the token in {token_name} needs "
                       f"the {permission} permission; create a new token with it and put it in "
                       f"{token_name}", stops_platform=True)
    lowered = message.lower()
    deleted = "does not exist" in lowered or error.get("error_subcode") == 33
    if code == 100 and (deleted or "hidden" in lowered):
        return Refused("gone", f"{service} refused {what} ({said}): the comment was deleted or hidden on "
                       f"{service}, so nothing was posted; answer the citizen another way or set the row "
                       "to Not required")
    return Refused("not_allowed", f"{service} refused {what} ({said}); nothing was posted")


class GraphPublisher(PlatformPublisher):
    """A publisher on the Graph API; ``permission`` is the one that lets it write."""

    url_env = GRAPH_URL_ENV
    default_url = GRAPH_URL_DEFAULT
    permission = ""

    def refusal(self, response: Response, what: str) -> Refused | None:
        return graph_refusal(response, what, service=self.service, token_name=self.token_name,
                             permission=self.permission)

    def new_id(self, answer: dict, what: str) -> str:
        reply_id = answer.get("id")
        if isinstance(reply_id, str | int) and not isinstance(reply_id, bool) and str(reply_id):
            return str(reply_id)
        raise Uncertain(f"{self.service}: {what}: the answer carries no id ({json_or_text(answer, 120)}); "
                        "the reply may have been posted — it is checked before anything is sent again")


def own_items(items: list[Any], account_id: str) -> list[dict]:
    """The items of a Graph comment list written by the account ``account_id``."""
    return [raw for raw in items if isinstance(raw, dict) and isinstance(raw.get("from"), dict)
            and str(raw["from"].get("id", "")) == account_id]
