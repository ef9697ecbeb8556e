"""costlab/replay/ and costlab/testing/ import one way: no cycle between a package's modules, none
imports its package's __init__, no function-level import of a costlab module (a heavy SDK may load
late), and no library module imports costlab.testing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from costlab.replay.providers import PROVIDERS, key_hint, platform_of
from costlab.errors import ConfigError
from helpers import ROOT

PACKAGE = ROOT / "costlab"


def _imports(path: Path) -> tuple[set[str], list[str]]:
    """The costlab modules `path` imports at module level, and those it imports inside a function."""
    top, late = set(), []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        names = [n for n in names if n.split(".")[0] == "costlab"]
        if not names:
            continue
        if node.col_offset == 0 or _in_type_checking(tree, node):
            top.update(names)
        else:
            late.append(f"{path.name}:{node.lineno}")
    return top, late


def _in_type_checking(tree: ast.Module, node: ast.AST) -> bool:
    return any(isinstance(n, ast.If) and isinstance(n.test, ast.Name) and n.test.id == "TYPE_CHECKING"
               and node in ast.walk(n) for n in tree.body)


@pytest.mark.parametrize("package", ["replay", "testing"])
def test_a_package_s_modules_import_one_way_at_module_level(package):
    folder = PACKAGE / package
    modules = {p.stem: p for p in folder.glob("*.py") if p.stem != "__init__"}
    graph, late = {}, []
    for name, path in modules.items():
        top, later = _imports(path)
        late += later
        assert f"costlab.{package}" not in {t for t in top if t.count(".") == 1}, f"{name} imports costlab.{package}'s __init__"
        graph[name] = {t.split(".")[2] for t in top if t.startswith(f"costlab.{package}.")} & set(modules)
    assert not late, f"function-level imports of costlab modules: {late}"

    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"import cycle: {' -> '.join(path + (name,))}"
        if name in done:
            return
        for dep in graph[name]:
            visit(dep, path + (name,))
        done.add(name)

    for name in graph:
        visit(name, ())


def test_no_library_module_imports_costlab_testing():
    users = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if "testing" not in p.relative_to(PACKAGE).parts
             and any(n == "costlab.testing" or n.startswith("costlab.testing.")
                     for n in _imports(p)[0] | set(_late_names(p)))]
    assert users == []


def _late_names(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]


def test_every_provider_is_in_the_registry_with_its_credentials_named():
    assert list(PROVIDERS) == ["anthropic", "bedrock", "vertex"]
    assert all(platform_of({"provider": name}) == name for name in PROVIDERS)
    assert "AWS_BEARER_TOKEN_BEDROCK" in key_hint("bedrock") and "ANTHROPIC_API_KEY" in key_hint("unknown")
    with pytest.raises(ConfigError, match="Did you mean 'bedrock'"):
        platform_of({"provider": "bedrok"})
