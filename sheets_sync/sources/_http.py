"""The HTTP client every platform source shares.

It owns what all four platforms need the same way:

- every request has a timeout (connect, read);
- temporary failures (5xx, dropped connections, timeouts, answers that are
  not JSON, and whatever a platform's error mapper calls temporary) are
  retried under one :class:`~sheets_sync.retry.RetryPolicy` (capped
  exponential backoff with jitter; a longer wait a mapper asks for with
  ``Transient.retry_after`` is honoured, capped too), then reported as a
  :class:`~sheets_sync.errors.SourceError`; the sleep function is
  injectable so tests never sleep;
- platform errors are turned into the project's exceptions by a per-platform
  *error mapper* (a plain function of the response);
- tokens travel in request headers, never in URLs, so they cannot show up in
  URLs that requests, urllib3 or our own messages print; every message built
  from what a server said is still passed through :meth:`HttpClient.redact`;
- an answer's text is whole characters: half a surrogate pair becomes U+FFFD
  (see :func:`whole_characters`), with a note naming the item.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from sheets_sync.errors import SourceError
from sheets_sync.retry import RetryPolicy

log = logging.getLogger("sheets_sync.sources")

#: (connect, read) seconds. A platform that has not answered in 30 s is down
#: for our purposes; the retry loop gives it a few more chances.
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)

# Half of a UTF-16 surrogate pair without its other half: a platform that cuts an
# emoji in two sends the JSON escape "\ud83d" alone, which parses to a string no
# sheet, no UTF-8 file and no terminal can hold. Such a code point is replaced by
# U+FFFD rather than the comment refused: a refused comment would be lost for good
# once the checkpoint passes it, while the replacement only marks the half
# character the platform had already broken, and the note names the comment.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# The escape as it appears in the raw answer (a whole pair is escaped the same way):
# answers without it are not walked at all.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


@dataclass(frozen=True)
class Response:
    """What a platform answered, reduced to what the error mappers read."""

    status: int
    headers: Mapping[str, str]
    data: Any  # the parsed JSON body, or None when it was not JSON


class Transient(Exception):
    """Raised (returned) by an error mapper for a failure worth retrying.

    ``final`` is what the caller gets once the attempts run out.
    """

    def __init__(self, final: SourceError, retry_after: float | None = None) -> None:
        super().__init__(str(final))
        self.final = final
        self.retry_after = retry_after


class ApiError(SourceError):
    """A platform refused one request for a reason a source may handle itself.

    ``code`` is the platform's numeric code (Graph), ``reason`` its word
    (YouTube ``errors[0].reason``, X problem type, or our own label such as
    ``"after-cursor"``).
    """

    def __init__(self, message: str, *, status: int, code: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.reason = reason


ErrorMapper = Callable[[Response, str], Exception]


class HttpClient:
    """GET JSON from one platform, with retries and error mapping."""

    def __init__(
        self,
        service: str,
        base_url: str,
        *,
        headers: Mapping[str, str],
        map_error: ErrorMapper,
        secrets: Iterable[str] = (),
        sleep: Callable[[float], None] = time.sleep,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        rand: Callable[[], float] = random.random,
        session: requests.Session | None = None,
    ) -> None:
        self.service = service  # "Facebook", "YouTube": used in messages
        self.base_url = base_url.rstrip("/")
        self._headers = dict(headers)
        self._map_error = map_error
        self._secrets = tuple(s for s in secrets if s)
        self._sleep = sleep
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._rand = rand
        self._session = session or requests.Session()
        # What was repaired in answers (see whole_characters), for the source's warnings.
        self.notes: list[str] = []

    def __repr__(self) -> str:
        return f"HttpClient({self.service!r}, {self.base_url!r})"

    def redact(self, text: str) -> str:
        """``text`` with every secret this client holds replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, what: str) -> dict:
        """GET ``base_url/path`` and return the JSON object it answers.

        ``what`` says in words what is being read ("comments of post 1_2"),
        for messages. Raises the mapped exception for platform errors and
        :class:`SourceError` once temporary failures outlast the retries.
        """
        url = f"{self.base_url}/{path.lstrip('/')}"

        def on_retry(exc: BaseException, attempt: int, wait: float) -> None:
            assert isinstance(exc, Transient)
            log.info(
                "%s: %s failed (%s); retry %d of %d in %.1f s",
                self.service,
                what,
                exc.final,
                attempt,
                max(1, self.retry.attempts) - 1,
                wait,
            )

        try:
            return self.retry.call(
                lambda: self._get_once(url, params, what),
                retry_if=lambda exc: isinstance(exc, Transient),
                sleep=self._sleep,
                rand=self._rand,
                wait_at_least=lambda exc: exc.retry_after if isinstance(exc, Transient) else None,
                on_retry=on_retry,
            )
        except Transient as gave_up:
            # Same class as the last problem (a throttle that outlasts the
            # retries is still RateLimited), with the story of the retries added.
            problem = gave_up.final
            problem.args = (
                f"{problem} (gave up after {max(1, self.retry.attempts)} attempts; "
                "the next run starts again from the last checkpoint)",
            )
            raise problem from None

    def _get_once(self, url: str, params: Mapping[str, Any] | None, what: str) -> dict:
        """One GET: the JSON object, or the mapped exception (:class:`Transient` to retry)."""
        log.debug("%s: GET %s %s", self.service, url, dict(params or {}))
        try:
            raw = self._session.get(url, params=params, headers=self._headers, timeout=self.timeout)
        except requests.Timeout:
            raise Transient(
                SourceError(f"{self.service}: {what}: no answer within {self.timeout[1]:g} s")
            ) from None
        except requests.RequestException as exc:
            # Dropped connections, resets, truncated bodies. The exception
            # text carries the URL; our URLs hold no token, but redact anyway.
            raise Transient(
                SourceError(
                    f"{self.service}: {what}: connection failed "
                    f"({type(exc).__name__}: {self.redact(_first_line(exc))})"
                )
            ) from None
        try:
            data = raw.json()
        except ValueError:
            data = None
        if data is not None and _SURROGATE_ESCAPE.search(raw.content):
            found: list[tuple[str, str, str]] = []
            data = whole_characters(data, found)
            self.notes += [
                f"{self.service}: {what}: {owner or 'an item'}: {key!r} held \\u{ord(half):04x}, "
                "half of a UTF-16 surrogate pair and not a character; written as \ufffd (the rest "
                "is kept; the platform shows the original)"
                for owner, key, half in found
            ]
        if raw.status_code == 200 and isinstance(data, dict):
            return data
        if raw.status_code == 200:
            problem: Exception = Transient(
                SourceError(
                    f"{self.service}: {what}: the answer was not a JSON object "
                    f"(HTTP 200, {len(raw.content)} bytes)"
                )
            )
        else:
            problem = self._map_error(Response(raw.status_code, raw.headers, data), what)
        if isinstance(problem, Transient):
            _sanitised(problem.final, self.redact)
        raise _sanitised(problem, self.redact)


def whole_characters(value: Any, found: list[tuple[str, str, str]], owner: str = "", key: str = "") -> Any:
    """``value`` (parsed JSON) with every lone surrogate in its strings, keys included,
    replaced by U+FFFD; ``found`` gets (the id of the nearest object that has one, the
    field, the first half character) for each string repaired."""
    if isinstance(value, str):
        half = _LONE_SURROGATE.search(value)
        if half is None:
            return value
        found.append((owner, key, half.group()))
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [whole_characters(v, found, owner, key) for v in value]
    if isinstance(value, dict):
        ident = value.get("id")
        if isinstance(ident, str | int) and not isinstance(ident, bool):
            owner = _LONE_SURROGATE.sub("\ufffd", str(ident))
        return {whole_characters(k, found, owner, "a field name"): whole_characters(v, found, owner, str(k))
                for k, v in value.items()}
    return value


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else ""


def _sanitised(exc: Exception, redact: Callable[[str], str]) -> Exception:
    """``exc`` with its message passed through ``redact`` (same class, same fields)."""
    text = str(exc)
    clean = redact(text)
    if clean != text:
        exc.args = (clean,)
    return exc


def shown(value: Any, limit: int = 80) -> str:
    """A payload value as JSON (strings quoted), shortened, for messages."""
    return json_or_text(json.dumps(value, ensure_ascii=False), limit)


def json_or_text(value: Any, limit: int = 200) -> str:
    """A short printable rendering of a payload fragment, for messages."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"
