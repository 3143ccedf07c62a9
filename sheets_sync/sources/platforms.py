"""The platform sources' configuration, their shared incremental logic, and the factory.

Configuration
=============

``sources.yaml`` (path: the ``config_path`` argument, else the environment
variable ``SHEETS_SYNC_SOURCES_CONFIG``, else ``sources.yaml`` in the working
directory) says which accounts to read; ``sources.example.yaml`` documents
every setting. Tokens are never in that file: they come from environment
variables, or from a YAML/JSON secrets file outside the repository named by
``SHEETS_SYNC_SECRETS_FILE`` (the environment wins when both have one).

Checkpoints
===========

A checkpoint is JSON text, for example::

    {"v": 1, "account": "1234567890", "newest": "2026-11-20T04:45:03+00:00"}

``newest`` is the newest platform time (post or comment) of the rows a fetch
returned — platform times, not our clock, so a skewed machine clock cannot
move it. The next fetch reads everything from ``newest - overlap_minutes``
(comments that show up late are still caught; the engine drops those it
already has). A first run (no checkpoint, a checkpoint of another account, or
an unreadable one) reads ``lookback_days`` back. Comments are read on posts of
the last ``follow_posts_days`` days (or since the window start, if earlier).

``newest`` never passes something that was not read: when a thread could not
be read to its end (Facebook's cursor limit), the checkpoint stops at the last
comment read on it; and a fetch cut short by throttling hands over what it
read but keeps the old checkpoint (see :meth:`PlatformSource.fetch`). The
engine writes a batch's rows and its checkpoint in one commit, so a crash
between fetch and write simply repeats the fetch from the old checkpoint.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from sheets_sync.errors import ConfigError, RateLimited, SheetsSyncError
from sheets_sync.models import PLATFORMS, Comment, Post
from sheets_sync.sources._http import DEFAULT_TIMEOUT, HttpClient, RetryPolicy, Secret
from sheets_sync.sources.base import Batch, Source, SourceCheck
from sheets_sync.timeutil import to_sheet

CONFIG_ENV = "SHEETS_SYNC_SOURCES_CONFIG"
SECRETS_ENV = "SHEETS_SYNC_SECRETS_FILE"
DEFAULT_CONFIG_NAME = "sources.yaml"

#: Per platform: the setting that names the account, the token variables
#: (first found wins), the base-URL variable and its default.
ACCOUNT_SETTING = {
    "facebook": "page_id",
    "instagram": "ig_user_id",
    "youtube": "channel_id",
    "x": "user_id",
}
TOKEN_ENV = {
    "facebook": ("SHEETS_SYNC_FACEBOOK_TOKEN",),
    "instagram": ("SHEETS_SYNC_INSTAGRAM_TOKEN",),
    "youtube": ("SHEETS_SYNC_YOUTUBE_API_KEY", "SHEETS_SYNC_YOUTUBE_TOKEN"),
    "x": ("SHEETS_SYNC_X_BEARER_TOKEN",),
}
URL_ENV = {
    "facebook": ("SHEETS_SYNC_GRAPH_URL", "https://graph.facebook.com/v21.0"),
    "instagram": ("SHEETS_SYNC_GRAPH_URL", "https://graph.facebook.com/v21.0"),
    "youtube": ("SHEETS_SYNC_YOUTUBE_URL", "https://www.googleapis.com/youtube/v3"),
    "x": ("SHEETS_SYNC_X_URL", "https://api.x.com"),
}
DEFAULTS = {"lookback_days": 30, "follow_posts_days": 14, "overlap_minutes": 120}
_COMMON_KEYS = {"enabled", "department", "account", *DEFAULTS}

#: A platform time later than our clock plus this is not trusted to move the
#: checkpoint (a bogus far-future time would otherwise skip everything after).
FUTURE_SLACK = timedelta(hours=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PlatformConfig:
    """One account to read, as configured in ``sources.yaml``."""

    platform: str
    account_id: str
    lookback_days: int = DEFAULTS["lookback_days"]
    follow_posts_days: int = DEFAULTS["follow_posts_days"]
    overlap_minutes: int = DEFAULTS["overlap_minutes"]
    department: str = ""  # roster code all this account's posts go to
    account: str = ""  # label for routing rules; default "<platform>:<account id>"

    @property
    def account_label(self) -> str:
        return self.account or f"{self.platform}:{self.account_id}"


# --------------------------------------------------------------------------
# The incremental window and what one fetch gathers


def newest_first(pages: Iterable[list], parse: Callable[[Any], Post | None],
                 horizon: datetime) -> Iterator[tuple[Any, Post]]:
    """(raw item, post) from pages that list posts newest first, down to ``horizon``.

    ``parse`` turns an item into a post (None: skipped, it said why). The page on
    which a post older than the horizon appears is the last one read.
    """
    for items in pages:
        reached_horizon = False
        for raw in items:
            post = parse(raw)
            if post is None:
                continue
            if post.posted_at < horizon:
                reached_horizon = True
                continue
            yield raw, post
        if reached_horizon:  # newest first: the rest is older still
            return


@dataclass(frozen=True)
class Window:
    """What one fetch reads: comments since ``since``, on posts since ``post_horizon``."""

    now: datetime
    since: datetime
    post_horizon: datetime
    previous: datetime | None  # the checkpoint's newest time, if any
    notes: tuple[str, ...] = ()

    @classmethod
    def open(cls, checkpoint: str | None, config: PlatformConfig, now: datetime) -> Window:
        notes: list[str] = []
        previous = None
        if checkpoint:
            previous, problem = _read_checkpoint(checkpoint, config.account_id)
            if problem:
                notes.append(
                    f"{config.platform}: {problem}; reading the last "
                    f"{config.lookback_days} days again as on a first run "
                    "(rows already in the tracker are not added twice)"
                )
        if previous is None:
            since = now - timedelta(days=config.lookback_days)
        else:
            since = previous - timedelta(minutes=config.overlap_minutes)
        horizon = min(since, now - timedelta(days=config.follow_posts_days))
        return cls(now, since, horizon, previous, tuple(notes))


def _read_checkpoint(text: str, account_id: str) -> tuple[datetime | None, str]:
    try:
        data = json.loads(text)
        newest = datetime.fromisoformat(data["newest"])
        account = str(data["account"])
    except (ValueError, TypeError, KeyError):
        return None, f"the stored checkpoint {text[:80]!r} is unreadable"
    if newest.tzinfo is None:
        return None, f"the stored checkpoint {text[:80]!r} has a time without a UTC offset"
    if account != account_id:
        return None, f"the stored checkpoint is for account {account}, not {account_id}"
    return newest, ""


def make_checkpoint(account_id: str, newest: datetime) -> str:
    return json.dumps(
        {"v": 1, "account": account_id, "newest": newest.astimezone(UTC).isoformat()},
        separators=(", ", ": "),
    )


@dataclass
class Harvest:
    """Posts and comments one fetch gathered, deduplicated by id."""

    window: Window
    posts: dict[str, Post] = field(default_factory=dict)
    comments: dict[str, Comment] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # Times the checkpoint must not pass: the last comment read on a thread
    # that could not be read to its end.
    caps: list[datetime] = field(default_factory=list)

    def add_post(self, post: Post) -> None:
        """A followed post (returned when new, or when it has new comments)."""
        self.posts.setdefault(post.post_id, post)

    def add_comment(self, comment: Comment) -> None:
        """A comment; those older than the window are already in the tracker."""
        if comment.commented_at >= self.window.since:
            self.comments.setdefault(comment.comment_id, comment)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def cap(self, when: datetime) -> None:
        self.caps.append(when)

    @property
    def empty(self) -> bool:
        return not self.comments and not any(p.posted_at >= self.window.since for p in self.posts.values())

    def batch(self, account_id: str, *, advance: bool) -> Batch:
        since = self.window.since
        comments = sorted(self.comments.values(), key=lambda c: (c.commented_at, c.comment_id))
        commented = {c.post_id for c in comments}
        posts = sorted(
            (p for p in self.posts.values() if p.posted_at >= since or p.post_id in commented),
            key=lambda p: (p.posted_at, p.post_id),
        )
        checkpoint = None
        if advance:
            trusted_until = self.window.now + FUTURE_SLACK
            times = [c.commented_at for c in comments] + [p.posted_at for p in posts]
            times = [t for t in times if t <= trusted_until]
            if self.window.previous is not None:
                times.append(self.window.previous)
            if times:
                newest = min([max(times), *self.caps])
                checkpoint = make_checkpoint(account_id, newest)
        return Batch(
            posts=posts,
            comments=comments,
            checkpoint=checkpoint,
            warnings=[*self.window.notes, *self.warnings],
        )


# --------------------------------------------------------------------------
# The base class of the four sources


class PlatformSource(Source):
    """A source that reads one account on one platform over HTTP.

    Throttling: when a platform throttles us after something was already
    read, :meth:`fetch` returns what was read with ``checkpoint=None`` (the
    engine keeps the old one) and a warning saying when to come back; the
    rows are written now and the next run re-reads the same window, so
    nothing is skipped and the engine's dedupe keeps anything from doubling.
    When nothing was read yet, it raises :class:`RateLimited`.
    """

    platform: str = ""
    service: str = ""  # the platform's name for people ("Facebook")

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
            base_url or URL_ENV[self.platform][1],
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


# --------------------------------------------------------------------------
# Loading the configuration and building the sources


def load_platform_sources(
    names: list[str] | None,
    *,
    config_path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = utc_now,
) -> list[Source]:
    """Build the sources named (platform names; ``None`` or ``["all"]`` = all enabled).

    Raises :class:`ConfigError` naming the file or setting at fault.
    """
    env = os.environ if environ is None else environ
    path = _config_path(config_path, env)
    configs = load_sources_config(path)
    wanted = _select(names, configs, path)
    secrets = _SecretsLookup(env)
    sources: list[Source] = []
    for platform in wanted:
        config = configs[platform]
        secret = secrets.get(platform)
        url_env, url_default = URL_ENV[platform]
        base_url = env.get(url_env) or url_default
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"{url_env}={base_url!r} is not an http(s) URL")
        sources.append(_source_class(platform)(config, secret, base_url=base_url, sleep=sleep, clock=clock))
    return sources


def _config_path(config_path: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path:
    if config_path:
        return Path(config_path)
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    return Path.cwd() / DEFAULT_CONFIG_NAME


def load_sources_config(path: Path) -> dict[str, PlatformConfig]:
    """Read ``sources.yaml``: every platform section, enabled or not, validated."""
    if not path.is_file():
        raise ConfigError(
            f"{path}: no sources configuration there; copy sources.example.yaml to "
            f"{DEFAULT_CONFIG_NAME} and fill in the account ids (or set {CONFIG_ENV})"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{path}: cannot read it as YAML ({first})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of platform names to settings")
    unknown = sorted(set(data) - set(PLATFORMS) - {"defaults"}, key=str)
    if unknown:
        raise ConfigError(
            f"{path}: unknown section {unknown[0]!r}; sections are defaults, " + ", ".join(PLATFORMS)
        )
    defaults = _section(data, "defaults", path)
    bad = sorted(set(defaults) - set(DEFAULTS))
    if bad:
        raise ConfigError(
            f"{path}: defaults.{bad[0]} is not a setting; defaults may set " + ", ".join(DEFAULTS)
        )
    configs: dict[str, PlatformConfig] = {}
    for platform in PLATFORMS:
        if platform not in data:
            continue
        section = _section(data, platform, path)
        if not _enabled(section, platform, path):
            continue
        configs[platform] = _platform_config(platform, {**defaults, **section}, path)
    return configs


def _section(data: dict, key: str, path: Path) -> dict:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {key} must be a mapping of settings")
    return value


def _enabled(section: dict, platform: str, path: Path) -> bool:
    value = section.get("enabled", True)
    if not isinstance(value, bool):
        raise ConfigError(f"{path}: {platform}.enabled must be true or false, not {value!r}")
    return value


def _platform_config(platform: str, section: dict, path: Path) -> PlatformConfig:
    id_key = ACCOUNT_SETTING[platform]
    allowed = _COMMON_KEYS | {id_key}
    unknown = sorted(set(section) - allowed, key=str)
    if unknown:
        raise ConfigError(
            f"{path}: {platform}.{unknown[0]} is not a setting; {platform} takes {', '.join(sorted(allowed))}"
        )
    account_id = section.get(id_key)
    if isinstance(account_id, bool) or not isinstance(account_id, str | int) or not str(account_id).strip():
        raise ConfigError(
            f"{path}: {platform}.{id_key} is missing; set it to the account's id (see sources.example.yaml)"
        )
    numbers = {}
    for key, default in DEFAULTS.items():
        value = section.get(key, default)
        least = 0 if key == "overlap_minutes" else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"{path}: {platform}.{key} must be a whole number ≥ {least}, not {value!r}")
        numbers[key] = value
    labels = {}
    for key in ("department", "account"):
        value = section.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise ConfigError(f"{path}: {platform}.{key} must be text, not {value!r}")
        labels[key] = value.strip()
    return PlatformConfig(platform, str(account_id).strip(), **numbers, **labels)


def _select(names: list[str] | None, configs: dict[str, PlatformConfig], path: Path) -> list[str]:
    if not names or list(names) == ["all"]:
        if not configs:
            raise ConfigError(f"{path}: no platform is enabled; enable at least one section")
        return [p for p in PLATFORMS if p in configs]
    wanted: list[str] = []
    for name in names:
        if name not in PLATFORMS:
            raise ConfigError(f"unknown source {name!r}; sources are all, " + ", ".join(PLATFORMS))
        if name not in configs:
            raise ConfigError(
                f"{path}: {name} is not configured or has enabled: false; "
                f"add a {name} section with {ACCOUNT_SETTING[name]} (see sources.example.yaml)"
            )
        if name not in wanted:
            wanted.append(name)
    return wanted


class _SecretsLookup:
    """Tokens from the environment, else from the secrets file (read once, lazily)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self._file: dict[str, str] | None = None

    def get(self, platform: str) -> Secret:
        names = TOKEN_ENV[platform]
        for name in names:
            value = self._env.get(name, "").strip()
            if value:
                return Secret(name, value)
        for name in names:
            value = self._file_values().get(name, "")
            if value:
                return Secret(name, value)
        where = (
            f"the environment or {SECRETS_ENV}"
            if self._env.get(SECRETS_ENV)
            else (f"the environment (or a secrets file named by {SECRETS_ENV})")
        )
        raise ConfigError(f"{platform}: no token: set {' or '.join(names)} in {where}")

    def _file_values(self) -> dict[str, str]:
        if self._file is None:
            self._file = _read_secrets_file(self._env.get(SECRETS_ENV, ""))
        return self._file


def _read_secrets_file(name: str) -> dict[str, str]:
    if not name:
        return {}
    path = Path(name).expanduser()
    if not path.is_file():
        raise ConfigError(f"{SECRETS_ENV}: {path} does not exist")
    repo = _enclosing_repository(path.resolve())
    if repo is not None:
        raise ConfigError(
            f"{SECRETS_ENV}: {path} is inside the repository {repo}; move it outside "
            "(e.g. ~/.config/sheets-sync/secrets.yaml) so it can never be committed"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML too
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        # Say nothing of the content: it is full of secrets.
        raise ConfigError(f"{SECRETS_ENV}: {path} is not a YAML or JSON mapping") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{SECRETS_ENV}: {path} is not a YAML or JSON mapping")
    known = {name for names in TOKEN_ENV.values() for name in names}
    values: dict[str, str] = {}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(
                f"{SECRETS_ENV}: {path}: unknown name {str(key)[:40]!r}; names are "
                + ", ".join(sorted(known))
            )
        if not isinstance(value, str):
            raise ConfigError(f"{SECRETS_ENV}: {path}: {key} must be text")
        values[key] = value.strip()
    return values


def _enclosing_repository(path: Path) -> Path | None:
    for parent in path.parents:
        if (parent / ".git").exists():
            return parent
    return None


def _source_class(platform: str) -> type[PlatformSource]:
    # Imported here: the platform modules import this one.
    if platform == "facebook":
        from sheets_sync.sources.facebook import FacebookSource

        return FacebookSource
    if platform == "instagram":
        from sheets_sync.sources.instagram import InstagramSource

        return InstagramSource
    if platform == "youtube":
        from sheets_sync.sources.youtube import YouTubeSource

        return YouTubeSource
    from sheets_sync.sources.x import XSource

    return XSource


def ist(when: datetime) -> str:
    """A time as people in the cell read it (IST)."""
    return f"{to_sheet(when)} IST"
