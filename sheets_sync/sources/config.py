"""``sources.yaml``: which accounts the platform sources read, and how far back.

The file's path is the ``config_path`` argument, else the environment
variable ``SHEETS_SYNC_SOURCES_CONFIG``, else ``sources.yaml`` in the working
directory; ``sources.example.yaml`` documents every setting. Tokens are never
in that file (see :mod:`sheets_sync.sources.tokens`).

This module knows no platform by name: the caller (the registry) says which
platforms exist, in which order, and the setting that names each one's
account (``facebook: page_id``), so a new platform needs no change here.
Every problem is a :class:`~sheets_sync.errors.ConfigError` naming the file
and the setting.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from sheets_sync.errors import ConfigError

CONFIG_ENV = "SHEETS_SYNC_SOURCES_CONFIG"
DEFAULT_CONFIG_NAME = "sources.yaml"

#: The settings every platform section (and ``defaults``) may set.
DEFAULTS = {"lookback_days": 30, "follow_posts_days": 14, "overlap_minutes": 120}
_COMMON_KEYS = {"enabled", "department", "account", "publish_token", *DEFAULTS}
#: ``publish_token``: ``separate`` (the default: the platform's own publish token
#: variable) or ``same`` (post with the token that reads).
PUBLISH_TOKEN_CHOICES = ("separate", "same")


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
    publish_token: str = "separate"  # or "same": replies are posted with the reading token

    @property
    def account_label(self) -> str:
        return self.account or f"{self.platform}:{self.account_id}"


def find_config_file(given: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path:
    """Where ``sources.yaml`` is: the argument, else ``$SHEETS_SYNC_SOURCES_CONFIG``, else ./."""
    if given:
        return Path(given)
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    return Path.cwd() / DEFAULT_CONFIG_NAME


def parse_sources_config(path: Path, account_settings: Mapping[str, str]) -> dict[str, PlatformConfig]:
    """The enabled platform sections of ``path``, validated, in ``account_settings`` order.

    ``account_settings`` maps each known platform to the setting naming its
    account (``{"facebook": "page_id", …}``).
    """
    data = _read(path)
    platforms = list(account_settings)
    unknown = sorted(set(data) - set(platforms) - {"defaults"}, key=str)
    if unknown:
        raise ConfigError(
            f"{path}: unknown section {unknown[0]!r}; sections are defaults, " + ", ".join(platforms)
        )
    defaults = _section(data, "defaults", path)
    bad = sorted(set(defaults) - set(DEFAULTS))
    if bad:
        raise ConfigError(
            f"{path}: defaults.{bad[0]} is not a setting; defaults may set " + ", ".join(DEFAULTS)
        )
    configs: dict[str, PlatformConfig] = {}
    for platform in platforms:
        if platform not in data:
            continue
        section = _section(data, platform, path)
        if not _enabled(section, platform, path):
            continue
        configs[platform] = _platform_config(
            platform, account_settings[platform], {**defaults, **section}, path
        )
    return configs


def _read(path: Path) -> dict:
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
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of platform names to settings")
    return data


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


def _platform_config(platform: str, id_key: str, section: dict, path: Path) -> PlatformConfig:
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
    publish = section.get("publish_token", "separate")
    if publish not in PUBLISH_TOKEN_CHOICES:
        raise ConfigError(
            f"{path}: {platform}.publish_token must be same (post with the token that reads) or "
            f"separate (its own publish token), not {publish!r}"
        )
    return PlatformConfig(platform, str(account_id).strip(), **numbers, **labels, publish_token=publish)
