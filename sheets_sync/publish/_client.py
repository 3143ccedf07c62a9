"""The write side's HTTP plumbing: one request, never retried blindly.

Posting a reply is not idempotent on any platform, so a request that may have
reached the platform is never sent again here. What a failure proves decides
what it becomes:

- the platform answered with its own error body for a 4xx (a refusal: the
  platform's mapper turns it into :class:`~sheets_sync.publish.base.Refused`),
  or the connection could not even be opened (nothing was sent): ``Refused``;
- anything after the request may have left — a timeout, a reset or dropped
  connection, a 5xx, a 2xx that is not the answer we expect, a 4xx without
  the platform's error body (a proxy's page): :class:`~sheets_sync.publish.base.Uncertain`.
  Whether it landed is found out later with ``find_reply``, never by posting again.

Hiding a comment is idempotent (the same request twice hides it once), so
:meth:`WriteClient.send` retries it when asked (``idempotent=True``).
Tokens travel in headers and every message is redacted, as in the sources.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import NewConnectionError

from sheets_sync.publish.base import Refused, Uncertain
from sheets_sync.retry import RetryPolicy
from sheets_sync.sources._http import DEFAULT_TIMEOUT, Response, json_or_text

log = logging.getLogger("sheets_sync.publish")

#: A platform's refusals: the :class:`Refused` a response proves, or None when it
#: proves nothing (a temporary error, a 5xx: the request may have been carried out).
RefusalMapper = Callable[[Response, str], "Refused | None"]


class WriteClient:
    """POST/PUT JSON or form fields to one platform, once."""

    def __init__(
        self,
        service: str,
        base_url: str,
        *,
        headers: Mapping[str, str],
        refusal: RefusalMapper,
        secrets: Iterable[str] = (),
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/")
        self._headers = dict(headers)
        self._refusal = refusal
        self._secrets = tuple(s for s in secrets if s)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._session = session or requests.Session()

    def __repr__(self) -> str:
        return f"WriteClient({self.service!r}, {self.base_url!r})"

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def send(self, method: str, path: str, *, what: str, params: Mapping[str, Any] | None = None,
             json: Any = None, data: Mapping[str, str] | None = None, idempotent: bool = False) -> dict:
        """The JSON object the platform answers (``{}`` for an empty answer).

        Raises :class:`Refused` (nothing was done) or :class:`Uncertain` (it may
        have been). ``idempotent``: the request may be repeated (hiding), so an
        ``Uncertain`` is retried under the retry policy first.
        """
        def once() -> dict:
            return self._once(method, path, what=what, params=params, json=json, data=data)

        if not idempotent:
            return once()
        return self.retry.call(once, retry_if=lambda exc: isinstance(exc, Uncertain), sleep=self._sleep)

    def _once(self, method: str, path: str, *, what: str, params: Mapping[str, Any] | None,
              json: Any, data: Mapping[str, str] | None) -> dict:
        url = f"{self.base_url}/{path.lstrip('/')}"
        log.debug("%s: %s %s", self.service, method, urlsplit(url).path)
        try:
            raw = self._session.request(method, url, params=params, json=json, data=data,
                                        headers=self._headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise self._failed(exc, what) from None
        try:
            body = raw.json() if raw.content else {}
        except ValueError:
            body = None
        if 200 <= raw.status_code < 300:
            if isinstance(body, dict):
                return body
            raise Uncertain(self.redact(
                f"{self.service}: {what}: the platform said HTTP {raw.status_code} but its answer is "
                f"not what it sends ({len(raw.content)} bytes); it may have been carried out — "
                "it is checked on the platform before anything is sent again"))
        problem = Response(raw.status_code, raw.headers, body)
        refused = self._refusal(problem, what)
        if refused is not None:
            refused.args = (self.redact(str(refused)),)
            raise refused
        said = f"HTTP {raw.status_code}" + (f": {json_or_text(body, 160)}" if body is not None else "")
        raise Uncertain(self.redact(
            f"{self.service}: {what}: {said}; the platform may have carried it out — it is "
            "checked on the platform before anything is sent again"))

    def _failed(self, exc: requests.RequestException, what: str) -> Refused | Uncertain:
        first = self.redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        if _never_sent(exc):
            # Reachability, not a verdict on the reply: the platform stops for this run
            # and the reply stays queued ("throttled" is the reason that says: try later).
            return Refused(
                "throttled",
                f"{self.service}: {what}: could not connect ({type(exc).__name__}: {first}); nothing "
                "was sent — check the network or the proxy setting, the next run tries again",
                stops_platform=True,
            )
        if isinstance(exc, requests.Timeout):
            cause = f"no answer within {self.timeout[1]:g} s"
        else:
            cause = f"the connection failed ({type(exc).__name__}: {first})"
        return Uncertain(
            f"{self.service}: {what}: {cause} after the request was sent; it may have been carried "
            "out — it is checked on the platform before anything is sent again"
        )


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the connection was never opened, so no byte of the request left."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, NewConnectionError):
            return True
        reason = getattr(cause, "reason", None)
        if isinstance(reason, BaseException):
            cause = reason
            continue
        args = getattr(cause, "args", ())
        cause = args[0] if args and isinstance(args[0], BaseException) else cause.__cause__
    return False
