"""The base class of the platform sources: one account on one platform, over HTTP.

A platform module subclasses :class:`PlatformSource`, says what the registry
and the configuration need to know of it (its name, the setting naming the
account, the token variables, the base-URL variable and its default), and
supplies three things: :meth:`~PlatformSource.map_error` (the platform's error
answers as the project's exceptions), :meth:`~PlatformSource.collect` (read
the window's posts and comments into a harvest) and
:meth:`~PlatformSource.probe` (``sources check``). The window, the checkpoint
and throttling are the same for every platform (:mod:`sheets_sync.sources.window`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar

from sheets_sync.errors import ConfigError, RateLimited, SheetsSyncError
from sheets_sync.models import Post
from sheets_sync.retry import RetryPolicy
from sheets_sync.sources._http import DEFAULT_TIMEOUT, HttpClient
from sheets_sync.sources.base import Batch, Source, SourceCheck
from sheets_sync.sources.config import PlatformConfig
from sheets_sync.sources.tokens import Secret
from sheets_sync.sources.window import Harvest, Window, utc_now
from sheets_sync.timeutil import parse_timestamp, to_sheet


class PlatformSource(Source):
    """A source that reads one account on one platform over HTTP.

    Throttling: when a platform throttles us after something was already
    read, :meth:`fetch` returns what was read with ``checkpoint=None`` (the
    engine keeps the old one) and a warning saying when to come back; the
    rows are written now and the next run re-reads the same window, so
    nothing is skipped and the engine's dedupe keeps anything from doubling.
    When nothing was read yet, it raises :class:`RateLimited`.
    """

    #: The platform's name: the ``--source`` value, the ``sources.yaml``
    #: section and the checkpoint's key ("facebook").
    platform: ClassVar[str] = ""
    #: Its name for people, in messages ("Facebook").
    service: ClassVar[str] = ""
    #: The ``sources.yaml`` setting that names the account ("page_id").
    account_setting: ClassVar[str] = ""
    #: The variables the token may be in, first found wins.
    token_names: ClassVar[tuple[str, ...]] = ()
    #: The variable that points the source at a proxy (or a fake), and the
    #: platform's own address used when it is not set.
    url_env: ClassVar[str] = ""
    default_url: ClassVar[str] = ""

    def __init__(
        self,
        config: PlatformConfig,
        secret: Secret,
        *,
        base_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = utc_now,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
    ) -> None:
        if config.platform != self.platform:
            raise ConfigError(f"{type(self).__name__} reads {self.platform}, not {config.platform}")
        self.name = self.platform
        self.config = config
        self.secret = secret
        self._clock = clock
        self.http = HttpClient(
            self.service,
            base_url or self.default_url,
            headers=self.auth_headers(),
            map_error=self.map_error,
            secrets=[secret.value],
            sleep=sleep,
            timeout=timeout,
            retry=retry,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config.account_label!r}, {self.http.base_url!r})"

    # What each platform supplies -------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret.value}"}

    def map_error(self, response: Any, what: str) -> Exception:  # pragma: no cover - abstract
        raise NotImplementedError

    def collect(self, window: Window, harvest: Harvest) -> None:  # pragma: no cover - abstract
        """Read posts since ``window.post_horizon`` and their comments into ``harvest``."""
        raise NotImplementedError

    def probe(self) -> str:  # pragma: no cover - abstract
        """One or two cheap reads; return what the token can read, in words."""
        raise NotImplementedError

    # Shared ------------------------------------------------------------------

    def fetch(self, checkpoint: str | None) -> Batch:
        window = Window.open(checkpoint, self.config, self._clock())
        harvest = Harvest(window)
        self.http.notes.clear()
        try:
            self.collect(window, harvest)
        except RateLimited as exc:
            if harvest.empty:
                raise
            self._pass_notes(harvest)
            harvest.warn(
                f"{exc} — the {len(harvest.comments)} comments read before that are "
                "passed on, and the checkpoint stays where it was so the next run "
                "reads the rest"
            )
            return harvest.batch(self.config.account_id, advance=False)
        self._pass_notes(harvest)
        return harvest.batch(self.config.account_id, advance=True)

    def _pass_notes(self, harvest: Harvest) -> None:
        """What the HTTP client repaired in the answers becomes the batch's warnings."""
        for note in self.http.notes:
            harvest.warn(note)
        self.http.notes.clear()

    def check(self) -> SourceCheck:
        try:
            detail = self.probe()
        except SheetsSyncError as exc:
            return SourceCheck(self.name, False, str(exc))
        return SourceCheck(self.name, True, detail)

    # Helpers for the platform modules -------------------------------------------

    def post(self, post_id: str, posted_at: datetime, text: str, url: str) -> Post:
        return Post(
            platform=self.platform,
            post_id=post_id,
            posted_at=posted_at,
            text=text,
            url=url,
            department=self.config.department,
            account=self.config.account_label,
            origin=f"{self.platform} post {post_id}",
        )


def text_field(raw: Mapping[str, Any], key: str) -> str:
    """A text field kept byte for byte; absent or null is empty."""
    value = raw.get(key)
    return value if isinstance(value, str) else ""


def time_field(raw: Mapping[str, Any], key: str) -> datetime | None:
    """A platform's ISO 8601 time; absent, null or unreadable is None."""
    value = raw.get(key)
    if not isinstance(value, str):
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def ist(when: datetime) -> str:
    """A time as people in the cell read it (IST)."""
    return f"{to_sheet(when)} IST"
