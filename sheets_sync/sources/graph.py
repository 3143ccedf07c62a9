"""The Graph API, as Facebook Pages and Instagram professional accounts share it.

Errors, as Graph documents them: code 190 → :class:`AuthError` (renew the
token); 4, 17, 32, 613, 80001–80009 → :class:`RateLimited` with the wait
read from ``X-Business-Use-Case-Usage``, whatever ``is_transient`` says (Graph
marks its ``(#4)`` limit transient, yet retrying at once only spends the wait);
1 and 2, and any other error Graph marks ``is_transient`` → retried with
backoff; 10 and 200–299 → :class:`AuthError`
naming the missing permission; ``(#100) The After Cursor specified exceeds
the max limit`` → an :class:`ApiError` with reason ``after-cursor`` for the
source to handle; other 5xx → retried.

Paging follows ``paging.next`` within one fetch only: Graph cursors are never
stored, and the next page is asked of our own base URL, so a proxy or fake
stays in the path and no token lands in a URL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sheets_sync.errors import AuthError, InputError, RateLimited, SourceError
from sheets_sync.models import Post
from sheets_sync.sources._http import ApiError, HttpClient, Response, Transient, json_or_text, shown
from sheets_sync.sources.platforms import PlatformSource, text_field, time_field
from sheets_sync.sources.window import Harvest

GRAPH_URL_ENV = "SHEETS_SYNC_GRAPH_URL"
GRAPH_URL_DEFAULT = "https://graph.facebook.com/v21.0"

THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80001, 80010)})
TEMPORARY_CODES = frozenset({1, 2})


def map_graph_error(
    response: Response, what: str, *, service: str, renew: str, permissions: str
) -> Exception:
    """Turn a Graph error answer into the exception the caller should see."""
    error = response.data.get("error") if isinstance(response.data, dict) else None
    if not isinstance(error, dict):
        problem = SourceError(f"{service}: {what}: HTTP {response.status} without a Graph error")
        if response.status >= 500 or response.status == 429:
            return Transient(problem)
        return problem
    code = error.get("code")
    message = json_or_text(error.get("message", ""))
    said = f"code {code}: {message}"
    if code == 190:
        return AuthError(f"{service} token expired or revoked ({said}): {renew}")
    if code in THROTTLE_CODES:
        return RateLimited(
            f"{service} throttled this app while reading {what} ({said}); "
            f"{regain_access(response.headers, service)}; the next run resumes from the checkpoint"
        )
    if code in TEMPORARY_CODES or error.get("is_transient") is True:
        return Transient(SourceError(f"{service}: {what}: temporary Graph error ({said})"))
    if code == 10 or (isinstance(code, int) and 200 <= code <= 299):
        return AuthError(f"{service} token lacks a permission to read {what} ({said}): {permissions}")
    if code == 100 and "after cursor" in message.lower():
        return ApiError(said, status=response.status, code=100, reason="after-cursor")
    if response.status >= 500:
        return Transient(SourceError(f"{service}: {what}: HTTP {response.status} ({said})"))
    return ApiError(f"{service} refused to give {what} ({said})", status=response.status, code=code)


def regain_access(headers: Mapping[str, str], service: str = "Facebook") -> str:
    """What ``X-Business-Use-Case-Usage`` says about when access returns, in the name of
    the platform that throttled (Instagram's answers come through the same Graph API)."""
    minutes = None
    raw = headers.get("X-Business-Use-Case-Usage")
    try:
        usage = json.loads(raw) if raw else {}
        for entries in usage.values():
            for entry in entries:
                value = entry.get("estimated_time_to_regain_access")
                if isinstance(value, int | float):
                    minutes = max(minutes or 0, value)
    except (ValueError, AttributeError, TypeError):
        minutes = None
    if minutes:
        return f"{service} expects access back in about {minutes:g} minutes"
    return f"{service} gives no time; try again in an hour"


def graph_pages(http: HttpClient, path: str, params: Mapping[str, Any], *, what: str) -> Iterator[list[Any]]:
    """Yield the ``data`` list of each page, following ``paging.next``.

    The next page is read from our own base URL with the query ``paging.next``
    carries (minus any ``access_token`` Graph echoes), so a configured proxy
    or fake stays in the path and no token lands in a URL.
    """
    current = dict(params)
    while True:
        answer = http.get(path, current, what=what)
        items = answer.get("data")
        if not isinstance(items, list):
            raise InputError(f"{http.service}: {what}: the answer has no 'data' list")
        yield items
        following = answer.get("paging", {}).get("next") if isinstance(answer.get("paging"), dict) else None
        if not following or not items:
            return
        current = {
            key: value
            for key, value in parse_qsl(urlsplit(following).query, keep_blank_values=True)
            if key != "access_token"
        }


graph_time = time_field  # the Graph's times are ISO 8601 like every platform's


def graph_post(source: PlatformSource, raw: Any, harvest: Harvest, *, noun: str, time_key: str,
               text_key: str, url_key: str, home: str) -> Post | None:
    """A Facebook post or Instagram media from the Graph API; None (and a warning)
    when it has no id or no readable time."""
    post_id = raw.get("id") if isinstance(raw, dict) else None
    if not isinstance(post_id, str) or not post_id:
        harvest.warn(f"{source.platform}: skipped a {noun} without an id: {describe(raw)}")
        return None
    posted_at = graph_time(raw, time_key)
    if posted_at is None:
        harvest.warn(
            f"{source.platform}: skipped {noun} {post_id}: {time_key} "
            f"{shown(raw.get(time_key))} is not a time"
        )
        return None
    url = text_field(raw, url_key) or f"{home}/{post_id}"
    return source.post(post_id, posted_at, text_field(raw, text_key), url)


def describe(raw: Any) -> str:
    """Name an object that has no usable id, for a warning."""
    if not isinstance(raw, dict):
        return f"an entry that is not an object ({json_or_text(raw, 80)})"
    for key in ("permalink_url", "permalink", "id"):
        if isinstance(raw.get(key), str) and raw[key]:
            return f"{key} {raw[key]}"
    return json_or_text(raw, 120)
