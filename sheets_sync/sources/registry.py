"""Which sources exist, and the factory that builds them for ``--source``.

``--source`` is ``files:DIR`` (an export folder), a platform name, a
comma-separated list of them, or ``all`` (every platform enabled in
``sources.yaml``). :func:`open_sources` turns it into sources: it reads
``sources.yaml`` (:mod:`~sheets_sync.sources.config`), finds each token
(:mod:`~sheets_sync.sources.tokens`) and the base URL (the platform's
``url_env`` variable, else its ``default_url``), and builds the classes of
:data:`SOURCES`.

Adding a fifth platform
=======================

One new module and one line here. The module (``sources/tiktok.py``)
subclasses :class:`~sheets_sync.sources.platforms.PlatformSource`: it sets
``platform``, ``service``, ``account_setting``, ``token_names``, ``url_env``
and ``default_url``, and supplies ``map_error``, ``collect`` and ``probe``;
the window, the checkpoint, throttling, retries and token handling come with
the base class. The line is its entry in :data:`SOURCES` (with its import);
``sources.yaml`` then accepts a ``tiktok`` section, ``--source tiktok`` and
``all`` read it, and the secrets file accepts its token names. (Export
folders are another matter: the platforms their files may name are
:data:`sheets_sync.models.PLATFORMS`.)

Nothing in ``sources/`` imports this module, so it can import them all.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from sheets_sync.errors import ConfigError
from sheets_sync.sources.base import Source, SourceCheck
from sheets_sync.sources.config import PlatformConfig, find_config_file, parse_sources_config
from sheets_sync.sources.facebook import FacebookSource
from sheets_sync.sources.files import FileSource
from sheets_sync.sources.instagram import InstagramSource
from sheets_sync.sources.platforms import PlatformSource
from sheets_sync.sources.tokens import SecretsLookup
from sheets_sync.sources.window import utc_now
from sheets_sync.sources.x import XSource
from sheets_sync.sources.youtube import YouTubeSource

#: Every platform source by name, in the order ``all`` reads them.
SOURCES: dict[str, type[PlatformSource]] = {
    "facebook": FacebookSource,
    "instagram": InstagramSource,
    "youtube": YouTubeSource,
    "x": XSource,
}

#: The export folder ``sync`` reads when no ``--source`` is given.
DEFAULT_EXPORTS = Path(__file__).resolve().parent.parent / "data" / "examples"


def open_sources(spec: str | None, *, config_path: str | None = None, environ=None) -> list[Source]:
    """Sources for a ``--source`` value: ``files:DIR``, a platform name, or ``all``."""
    spec = (spec or f"files:{DEFAULT_EXPORTS}").strip()
    if spec.startswith("files:"):
        folder = spec[len("files:"):]
        if not folder:
            raise ConfigError("--source files:DIR needs a folder, e.g. files:exports/2026-11-20")
        return [FileSource(folder)]
    return load_platform_sources(_names(spec), config_path=config_path, environ=environ)


def _names(spec: str) -> list[str] | None:
    """The platforms a ``--source`` value names (``None``: all that are enabled)."""
    names = [n.strip().lower() for n in spec.split(",") if n.strip()]
    for n in names:
        if n not in SOURCES and n != "all":
            raise ConfigError(f"--source {spec}: unknown source {n!r}; use files:DIR, "
                              f"{', '.join(SOURCES)} or all")
    return None if "all" in names else names


def check_sources(spec: str | None, *, config_path: str | None = None,
                  environ=None) -> list[SourceCheck]:
    """``sources check``: each source of ``spec`` checked by reading what a sync reads;
    one source's problem (no token, a refusal) does not hide the others'."""
    spec = (spec or "all").strip()
    if spec.startswith("files:"):
        return [source.check() for source in open_sources(spec)]
    env = os.environ if environ is None else environ
    path = find_config_file(config_path, env)
    configs = load_sources_config(path)
    secrets = SecretsLookup(env, {name: cls.token_names for name, cls in SOURCES.items()})
    checks = []
    for platform in _select(_names(spec), configs, path):
        try:
            source = _build(platform, configs[platform], secrets, env, time.sleep, utc_now)
        except ConfigError as exc:
            checks.append(SourceCheck(platform, False, str(exc)))
            continue
        checks.append(source.check())
    return checks


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
    path = find_config_file(config_path, env)
    configs = load_sources_config(path)
    secrets = SecretsLookup(env, {name: cls.token_names for name, cls in SOURCES.items()})
    return [_build(platform, configs[platform], secrets, env, sleep, clock)
            for platform in _select(names, configs, path)]


def _build(platform: str, config: PlatformConfig, secrets: SecretsLookup, env: Mapping[str, str],
           sleep: Callable[[float], None], clock: Callable[[], datetime]) -> PlatformSource:
    cls = SOURCES[platform]
    secret = secrets.get(platform)
    base_url = env.get(cls.url_env) or cls.default_url
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"{cls.url_env}={base_url!r} is not an http(s) URL")
    return cls(config, secret, base_url=base_url, sleep=sleep, clock=clock)


def load_sources_config(path: Path) -> dict[str, PlatformConfig]:
    """Read ``sources.yaml``: the enabled platform sections, validated, in :data:`SOURCES` order."""
    return parse_sources_config(path, {name: cls.account_setting for name, cls in SOURCES.items()})


def _select(names: list[str] | None, configs: dict[str, PlatformConfig], path: Path) -> list[str]:
    if not names or list(names) == ["all"]:
        if not configs:
            raise ConfigError(f"{path}: no platform is enabled; enable at least one section")
        return [p for p in SOURCES if p in configs]
    wanted: list[str] = []
    for name in names:
        if name not in SOURCES:
            raise ConfigError(f"unknown source {name!r}; sources are all, " + ", ".join(SOURCES))
        if name not in configs:
            raise ConfigError(
                f"{path}: {name} is not configured or has enabled: false; "
                f"add a {name} section with {SOURCES[name].account_setting} (see sources.example.yaml)"
            )
        if name not in wanted:
            wanted.append(name)
    return wanted
