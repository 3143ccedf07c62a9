"""Sources of posts and comments: the export folder and the four platforms.

``open_sources`` (the ``--source`` factory) lives in
:mod:`sheets_sync.sources.registry` and is loaded on first use, so code that
needs only :class:`Source` and :class:`Batch` (the engine, the planner) does
not load the platform modules and their HTTP stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sheets_sync.sources.base import Batch, Source, SourceCheck
from sheets_sync.sources.files import FileSource

if TYPE_CHECKING:
    from sheets_sync.sources.registry import open_sources

__all__ = ["Batch", "FileSource", "Source", "SourceCheck", "open_sources"]


def __getattr__(name: str) -> Any:
    if name == "open_sources":
        from sheets_sync.sources.registry import open_sources

        return open_sources
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
