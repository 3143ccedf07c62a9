"""The shape of ``sheets_sync/sources``: no import circle, small modules, one registry.

The import graph is read from the source text (every ``import`` statement,
also those inside functions), so a circle hidden behind a late import is
found too; then each module is imported alone in a fresh interpreter.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sheets_sync.sources.platforms import PlatformSource
from sheets_sync.sources.registry import SOURCES

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "sheets_sync" / "sources"
PREFIX = "sheets_sync.sources"


def module_name(path: Path) -> str:
    return PREFIX if path.name == "__init__.py" else f"{PREFIX}.{path.stem}"


MODULES = {module_name(path): path for path in sorted(PACKAGE.glob("*.py"))}


def imports_of(path: Path) -> set[str]:
    """The modules of ``sheets_sync.sources`` that ``path`` imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            # "from sheets_sync.sources import registry" imports a module too.
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in MODULES} - {module_name(path)}


GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def find_circle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle of ``graph`` (as a path that ends where it starts), or []."""
    state: dict[str, str] = {}  # "open" while on the path, "done" after
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return path[path.index(target) :] + [target]
            if target not in state:
                circle = visit(target)
                if circle:
                    return circle
        path.pop()
        state[node] = "done"
        return []

    for node in sorted(graph):
        if node not in state:
            circle = visit(node)
            if circle:
                return circle
    return []


def test_the_graph_check_finds_a_circle():
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b"}, "b": set()}) == []


def test_no_module_of_sources_imports_one_that_imports_it_back():
    assert len(MODULES) >= 14  # the graph was really read
    assert GRAPH["sheets_sync.sources.facebook"] >= {"sheets_sync.sources.graph"}
    assert find_circle(GRAPH) == []


def test_the_core_modules_know_no_platform():
    platforms = {f"{PREFIX}.{name}" for name in SOURCES}
    core = ["_http", "base", "config", "tokens", "window", "platforms", "graph", "files"]
    for name in core:
        assert not GRAPH[f"{PREFIX}.{name}"] & platforms, name
    # Only the registry (and nothing that the registry is imported by) names them all.
    importers = {name for name, targets in GRAPH.items() if f"{PREFIX}.registry" in targets}
    assert importers <= {PREFIX}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_imports_alone_in_a_fresh_interpreter(module):
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr


def test_the_engine_loads_no_platform_module():
    code = (
        "import json, sys, sheets_sync.sources.base, sheets_sync.sources;"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('sheets_sync.sources.'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["sheets_sync.sources.base", "sheets_sync.sources.files"]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_is_small(module):
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines < 500, f"{module} has {lines} lines"


def test_the_registry_names_each_source_by_its_platform():
    assert list(SOURCES) == ["facebook", "instagram", "youtube", "x"]
    for name, cls in SOURCES.items():
        assert issubclass(cls, PlatformSource) and cls.platform == name
        assert cls.service and cls.account_setting and cls.token_names
        assert cls.url_env.startswith("SHEETS_SYNC_") and cls.default_url.startswith("https://")
    import sheets_sync.sources.registry as registry

    assert "Adding a fifth platform" in (registry.__doc__ or "")
