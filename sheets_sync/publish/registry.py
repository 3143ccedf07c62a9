"""Which publishers exist, and the factory that builds them from ``sources.yaml``.

A platform publishes for the account its ``sources.yaml`` section names (the same
``page_id``, ``ig_user_id``, ``channel_id``, ``user_id`` the sources read), with
its own token: ``SHEETS_SYNC_FACEBOOK_PUBLISH_TOKEN``,
``SHEETS_SYNC_INSTAGRAM_PUBLISH_TOKEN``, ``SHEETS_SYNC_YOUTUBE_PUBLISH_TOKEN`` (an
OAuth token: an API key cannot write), ``SHEETS_SYNC_X_PUBLISH_TOKEN`` (user
context) — from the environment or the secrets file, like the reading tokens — or
the reading token itself where the section says ``publish_token: same`` (for
YouTube that is ``SHEETS_SYNC_YOUTUBE_TOKEN``, never the API key). Base URLs are
the sources' (``SHEETS_SYNC_GRAPH_URL``, …).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from sheets_sync.errors import ConfigError
from sheets_sync.publish.base import Publisher
from sheets_sync.publish.facebook import FacebookPublisher
from sheets_sync.publish.instagram import InstagramPublisher
from sheets_sync.publish.platform import PlatformPublisher
from sheets_sync.publish.x import XPublisher
from sheets_sync.publish.youtube import YouTubePublisher
from sheets_sync.sources.config import PlatformConfig, find_config_file
from sheets_sync.sources.registry import SOURCES, load_sources_config
from sheets_sync.sources.tokens import PUBLISH_TOKEN_NAMES, SecretsLookup
from sheets_sync.sources.window import utc_now

#: Every publisher by platform, in the sources' order.
PUBLISHERS: dict[str, type[PlatformPublisher]] = {
    "facebook": FacebookPublisher,
    "instagram": InstagramPublisher,
    "youtube": YouTubePublisher,
    "x": XPublisher,
}

#: With ``publish_token: same``, the reading variables that may write (not YouTube's API key).
_SAME = {"youtube": ("SHEETS_SYNC_YOUTUBE_TOKEN",)}


def publish_token_names(config: PlatformConfig) -> tuple[str, ...]:
    """The variables a platform's publish token may be in, per its ``sources.yaml`` section."""
    if config.publish_token == "same":
        return _SAME.get(config.platform, SOURCES[config.platform].token_names)
    return (PUBLISH_TOKEN_NAMES[config.platform],)


def open_publishers(
    platforms: Iterable[str] | None = None,
    config_path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = utc_now,
) -> dict[str, Publisher]:
    """A publisher per platform named (``None``: every platform enabled in ``sources.yaml``).

    Raises :class:`ConfigError` naming the file, the setting or the token variable.
    """
    env = os.environ if environ is None else environ
    path = find_config_file(config_path, env)
    configs = load_sources_config(path)
    names = _select(platforms, configs, path)
    every_name = {n for cls in SOURCES.values() for n in cls.token_names}
    secrets = SecretsLookup(env, {p: publish_token_names(configs[p]) for p in names}, also_known=every_name)
    built: dict[str, Publisher] = {}
    for platform in names:
        cls = PUBLISHERS[platform]
        try:
            secret = secrets.get(platform)
        except ConfigError as exc:
            same = configs[platform].publish_token == "same"
            hint = ("" if same else f", or say publish_token: same in the {platform} section of {path} "
                    "to post with the token that reads")
            raise ConfigError(f"{exc} (the token that posts replies{hint})") from None
        base_url = env.get(cls.url_env) or cls.default_url
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"{cls.url_env}={base_url!r} is not an http(s) URL")
        built[platform] = cls(configs[platform].account_id, secret, base_url=base_url, sleep=sleep,
                              clock=clock)
    return built


def _select(platforms: Iterable[str] | None, configs: dict[str, PlatformConfig],
            path: os.PathLike[str]) -> list[str]:
    wanted = [p.strip().lower() for p in platforms or () if p.strip()]
    if not wanted or wanted == ["all"]:
        if not configs:
            raise ConfigError(f"{path}: no platform is enabled; enable at least one section")
        return [p for p in PUBLISHERS if p in configs]
    for name in wanted:
        if name not in PUBLISHERS:
            raise ConfigError(f"unknown platform {name!r}; platforms are {', '.join(PUBLISHERS)}")
        if name not in configs:
            raise ConfigError(f"{path}: {name} is not configured or has enabled: false; add a {name} section "
                              f"with {SOURCES[name].account_setting} (see sources.example.yaml)")
    return list(dict.fromkeys(wanted))
