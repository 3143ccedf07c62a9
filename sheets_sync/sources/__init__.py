"""Sources of posts and comments: the export folder and the four platforms."""

from __future__ import annotations

from pathlib import Path

from sheets_sync.errors import ConfigError
from sheets_sync.sources.base import Batch, Source, SourceCheck
from sheets_sync.sources.files import FileSource

DEFAULT_EXPORTS = Path(__file__).resolve().parent.parent / "data" / "examples"
PLATFORM_NAMES = ("facebook", "instagram", "youtube", "x")

__all__ = ["Batch", "FileSource", "Source", "SourceCheck", "open_sources"]


def open_sources(spec: str | None, *, config_path: str | None = None, environ=None) -> list[Source]:
    """Sources for a ``--source`` value: ``files:DIR``, a platform name, or ``all``."""
    spec = (spec or f"files:{DEFAULT_EXPORTS}").strip()
    if spec.startswith("files:"):
        folder = spec[len("files:"):]
        if not folder:
            raise ConfigError("--source files:DIR needs a folder, e.g. files:examples")
        return [FileSource(folder)]
    names = [n.strip().lower() for n in spec.split(",") if n.strip()]
    for n in names:
        if n not in PLATFORM_NAMES and n != "all":
            raise ConfigError(f"--source {spec}: unknown source {n!r}; use files:DIR, "
                              f"{', '.join(PLATFORM_NAMES)} or all")
    from sheets_sync.sources.platforms import load_platform_sources

    return load_platform_sources(None if "all" in names else names,
                                 config_path=config_path, environ=environ)
