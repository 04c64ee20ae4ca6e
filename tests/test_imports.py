"""The package's import graph, read from the source (ast): no module imports one that imports it back,
not even through a function-level (lazy) import, and ``config.py`` imports nothing above it."""

from __future__ import annotations

import ast
from pathlib import Path

import unfreeze_core

PACKAGE = Path(unfreeze_core.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Every module of the package that ``path`` imports, at its top or inside a function."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            submodules = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules]
            # `from . import layers` imports the sibling module, not the package's own names
            targets = submodules if len(submodules) == len(node.names) else submodules + [base]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # `from .x import name`: the module x
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imports_of(path, set(files)) for name, path in files.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One import circle per strongly connected group of modules (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on.add(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_walker_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert "unfreeze_core.config" in graph()["unfreeze_core.grid"]  # lazy and relative imports are seen


def test_no_import_circles_in_the_package():
    found = circles(graph())
    assert not found, "import circles: " + "; ".join(" <-> ".join(c) for c in found)


def test_config_imports_nothing_above_it():
    allowed = {"unfreeze_core", "unfreeze_core.errors", "unfreeze_core.options", "unfreeze_core.limits"}  # limits: errors only
    assert graph()["unfreeze_core.config"] <= allowed


def outside_imports(path: Path) -> set[str]:
    """Top-level package names ``path`` imports (absolute imports only), at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_the_engine_imports_nothing_of_unfreeze_report():
    """Presentation stays outside the engine: the seed tables are a listener (``results_view``), as the
    progress view is (planted: runner's old ``from unfreeze_report import tables`` fails it)."""
    offenders = sorted(module_name(p) for p in PACKAGE.rglob("*.py") if "unfreeze_report" in outside_imports(p))
    assert not offenders, f"engine modules importing unfreeze_report: {offenders}"
