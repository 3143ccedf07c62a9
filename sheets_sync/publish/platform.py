"""The base class of the four publishers: one account on one platform, over HTTP.

A platform module subclasses :class:`PlatformPublisher`, names its settings
(``platform``, ``service``, ``max_length``, ``token_name``, ``url_env``,
``default_url``) and supplies :meth:`~PlatformPublisher.refusal` (which error
answers prove that nothing was done), ``_post`` (one write, its answer read into
:class:`~sheets_sync.publish.base.Posted`), ``find_reply`` and ``hide``.

Writes go through :class:`~sheets_sync.publish._client.WriteClient` (never
retried blindly); reads (``find_reply``, a posted reply's time and link) through
the sources' :class:`~sheets_sync.sources._http.HttpClient`, which retries.
``find_reply`` returns ``None`` only after reading everything under the comment;
a read that fails raises (:class:`Refused` when the platform refused it, e.g. an
expired token, else :class:`~sheets_sync.errors.SourceError`), so "not found" is
never a guess.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, ClassVar

from sheets_sync.errors import SourceError
from sheets_sync.publish._client import WriteClient
from sheets_sync.publish.base import Posted, Publisher, Refused, Reply
from sheets_sync.retry import RetryPolicy
from sheets_sync.sources._http import DEFAULT_TIMEOUT, HttpClient, Response, Transient
from sheets_sync.sources.tokens import Secret
from sheets_sync.sources.window import utc_now


class PlatformPublisher(Publisher):
    """Replies and hiding on one platform, as the account ``account_id``."""

    platform: ClassVar[str] = ""
    service: ClassVar[str] = ""  # the platform's name for people ("Facebook")
    url_env: ClassVar[str] = ""
    default_url: ClassVar[str] = ""

    def __init__(
        self,
        account_id: str,
        secret: Secret,
        *,
        base_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = utc_now,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.account_id = account_id
        self.secret = secret
        # The variable the token actually came from (the read token's with
        # `publish_token: same`): the one a person must renew.
        self.token_name = secret.name
        self.clock = clock
        url = base_url or self.default_url
        headers = {"Authorization": f"Bearer {secret.value}"}
        self.http = HttpClient(self.service, url, headers=headers, map_error=self._read_error,
                               secrets=[secret.value], sleep=sleep, timeout=timeout, retry=retry)
        self.writer = WriteClient(self.service, url, headers=headers, refusal=self.refusal,
                                  secrets=[secret.value], timeout=timeout, retry=retry, sleep=sleep)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.account_id!r}, {self.http.base_url!r})"

    # What each platform supplies ------------------------------------------------

    def refusal(self, response: Response, what: str) -> Refused | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _post(self, reply: Reply, text: str) -> Posted:  # pragma: no cover - abstract
        raise NotImplementedError

    def text_for(self, reply: Reply) -> str:
        """The text as it is sent (Instagram puts the @username first)."""
        return reply.text

    def same_text(self, served: str, sent: str) -> bool:
        """Whether a text the platform serves is the one sent, after its own normalisation."""
        return served == sent

    # Shared ----------------------------------------------------------------------

    def post_reply(self, reply: Reply) -> Posted:
        text = self.text_for(reply)
        if not text.strip():
            raise Refused("not_allowed", f"{self.service}: the reply to comment {reply.comment_id} is "
                          "empty; type the reply in the sheet")
        used = self.length(text)
        if used > self.max_length:
            raise Refused("too_long", f"{self.service}: the reply to comment {reply.comment_id} is {used} "
                          f"characters as {self.service} counts them, over its limit of {self.max_length}; "
                          "shorten it in the sheet (nothing was posted)")
        return self._post(reply, text)

    def _read_error(self, response: Response, what: str) -> Exception:
        refused = self.refusal(response, what)
        if refused is not None:
            return refused
        problem = SourceError(f"{self.service}: {what}: HTTP {response.status}")
        return Transient(problem) if response.status >= 500 or response.data is None else problem

    def match(self, candidates: Iterable[tuple[str, str, datetime | None, str]], reply: Reply,
              since: datetime) -> Posted | None:
        """The first of the account's (id, text, time, url) that is this reply, at or after
        ``since`` (to the second: the platforms give whole seconds)."""
        text = self.text_for(reply)
        floor = since.replace(microsecond=0)
        for reply_id, served, when, url in candidates:
            if when is not None and when >= floor and self.same_text(served, text):
                return Posted(reply_id, url, when)
        return None

    def read_or_none(self, path: str, params: dict[str, Any], what: str) -> dict | None:
        """A read after a successful write (the reply's time, its link): ``None`` if it
        fails — the reply is posted all the same, and the caller falls back."""
        try:
            return self.http.get(path, params, what=what)
        except SourceError:
            return None
