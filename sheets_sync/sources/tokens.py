"""The platforms' tokens: from environment variables, else from a secrets file.

Each platform names the variables its token may be in (first found wins:
``SHEETS_SYNC_YOUTUBE_API_KEY`` or ``SHEETS_SYNC_YOUTUBE_TOKEN``). A value in
the environment wins over the same name in the YAML/JSON file named by
``SHEETS_SYNC_SECRETS_FILE``, which must lie outside any git repository so it
can never be committed.

A token is never printed or logged: a :class:`Secret` shows only the
variable's name (what a person needs to renew it), and no message about the
secrets file quotes its content.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sheets_sync.errors import ConfigError

SECRETS_ENV = "SHEETS_SYNC_SECRETS_FILE"

#: The tokens that may post replies, one per platform, apart from the reading ones
#: (``sources.yaml`` may say ``publish_token: same`` instead). Named here so the
#: secrets file may hold them whichever side reads it.
PUBLISH_TOKEN_NAMES = {
    "facebook": "SHEETS_SYNC_FACEBOOK_PUBLISH_TOKEN",
    "instagram": "SHEETS_SYNC_INSTAGRAM_PUBLISH_TOKEN",
    "youtube": "SHEETS_SYNC_YOUTUBE_PUBLISH_TOKEN",
    "x": "SHEETS_SYNC_X_PUBLISH_TOKEN",
}


@dataclass(frozen=True)
class Secret:
    """A token and the environment variable it came from.

    The value never appears in ``repr`` or ``str``: only the variable's name
    does, which is what a person needs to know to renew it.
    """

    name: str
    value: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Secret({self.name}=***)"

    __str__ = __repr__


class SecretsLookup:
    """Tokens from the environment, else from the secrets file (read once, lazily).

    ``token_names`` maps each platform to the variables its token may be in;
    together with ``also_known`` and the publish tokens they are the only names
    the secrets file may hold.
    """

    def __init__(self, env: Mapping[str, str], token_names: Mapping[str, Iterable[str]],
                 also_known: Iterable[str] = ()) -> None:
        self._env = env
        self._names = {platform: tuple(names) for platform, names in token_names.items()}
        self._also_known = set(also_known) | set(PUBLISH_TOKEN_NAMES.values())
        self._file: dict[str, str] | None = None

    def get(self, platform: str) -> Secret:
        names = self._names[platform]
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
            known = {name for names in self._names.values() for name in names} | self._also_known
            self._file = read_secrets_file(self._env.get(SECRETS_ENV, ""), known)
        return self._file


def read_secrets_file(name: str, known: set[str]) -> dict[str, str]:
    """The tokens in the secrets file ``name`` (empty: no file), each of a ``known`` name."""
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
