"""Load YAML while remembering the line of every value, for error messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sheets_sync.errors import ConfigError


class Located:
    """Maps a path inside a YAML document (("tabs", "posts", "columns", 3)) to its line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: dict[tuple, int] = {}
        # Mistakes YAML itself lets through (a key given twice: the later one
        # would silently win); the loader reports them with its own problems.
        self.problems: list[str] = []

    def line(self, *keys: Any) -> int:
        # Fall back to the nearest enclosing value that has a line.
        while keys:
            if keys in self.lines:
                return self.lines[keys]
            keys = keys[:-1]
        return self.lines.get((), 1)

    def where(self, *keys: Any) -> str:
        return f"{self.path}:{self.line(*keys)}"


def load_yaml(path: Path, what: str) -> tuple[Any, Located]:
    """Parse ``path``; a missing or malformed file is a one-line ConfigError."""
    located = Located(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found; pass the right path or restore the file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read {what} ({exc})") from None
    try:
        try:
            # libyaml composes in a tenth of the time; every run loads the schema several
            # times. Its messages differ, so a file it refuses is read again the slow way.
            node = yaml.compose(text, Loader=_FAST_LOADER)
        except yaml.YAMLError:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context, opened = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and opened and mark and opened.line != mark.line:
            # An unclosed bracket or quote is found lines later; name where it began.
            problem += f" ({context} that starts on line {opened.line + 1})"
        raise ConfigError(f"{path}{line}: {what} is not valid YAML: {problem}") from None
    if node is None:
        return None, located
    return _construct(node, (), located, yaml.SafeLoader("")), located


_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _construct(node: yaml.Node, keys: tuple, located: Located, loader: yaml.SafeLoader) -> Any:
    located.lines.setdefault(keys, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in result:
                # YAML lets the later one win without a word; say so instead.
                located.problems.append(
                    f"{located.path}:{line}: {key!r} is given twice (also on line "
                    f"{located.lines[keys + (key,)]}), keep only one")
                for old in [k for k in located.lines if k[:len(keys) + 1] == keys + (key,)]:
                    del located.lines[old]
            # A value's line is its key's line: "tabs:" rather than the first tab under it.
            located.lines[keys + (key,)] = line
            result[key] = _construct(value_node, keys + (key,), located, loader)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, keys + (i,), located, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)
