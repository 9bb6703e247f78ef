"""The folders are the layers: walk every module's imports (ast) and refuse an upward one.

engine/  the library: knows nothing of the bot, the database or the settings.
infra/   settings and the database: knows nothing of the engine or the bot.
bot/     the Discord bot: uses infra, and the engine only through its client interface
         (the in-process client is the one adapter that imports the engine).
beautynet/  the top: the command line and the one composition root; nothing imports it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "infra", "bot", "beautynet")
# What each package may import from the project, besides itself.
ALLOWED = {
    "engine": set(),
    "infra": set(),
    "bot": {"infra"},
    "beautynet": {"engine", "infra", "bot"},
    "migrations": {"infra"},
}
ENGINE_ADAPTERS = {"bot.engine_client.inprocess"}  # the bot's one door into the engine library


def module_name(path: Path) -> str:
    """'bot/exts/core/errors.py' -> 'bot.exts.core.errors'; a package is its __init__."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    """Every module of the layered packages (and migrations/env.py), by dotted name."""
    found = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    found["migrations.env"] = ROOT / "migrations" / "env.py"
    return found


def imported(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The project modules `name` imports (also under TYPE_CHECKING, and inside functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from p import m` imports the module p.m when there is one, else names of p.
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        else:
            continue
        for target in targets:
            if target.split(".")[0] in ALLOWED:
                yield target


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    known = project_modules()
    return {name: set(imported(name, path, known)) for name, path in known.items()}


def test_the_walk_sees_imports() -> None:
    graph = import_graph()
    assert "infra.settings" in graph["beautynet.components.engine"]
    assert "bot.engine_client.base" in graph["bot.engine_client"]  # relative, from a package
    assert "engine.core" in graph["bot.engine_client.inprocess"]
    assert "infra.db.models" in graph["migrations.env"]


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_no_import_reaches_up(layer: str) -> None:
    upward = [
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if module.split(".")[0] == layer
        for target in targets
        if target.split(".")[0] not in {layer, *ALLOWED[layer]}
        and not (module in ENGINE_ADAPTERS and target.startswith("engine."))
    ]
    assert upward == []


@pytest.mark.parametrize(
    "adapter", ["engine.service", "beautynet.cli.translate", "beautynet.cli.inputs"]
)
def test_adapters_decode_and_encode_through_the_engine(adapter: str) -> None:
    """The service, its live mode and the command line call `Engine`, the one door."""
    reaching = [
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if module == adapter or module.startswith(f"{adapter}.")
        for target in targets
        if target == "engine.imaging" or target.startswith("engine.imaging.")
    ]
    assert reaching == []


def test_no_import_circle() -> None:
    graph = import_graph()
    circles = [component for component in strongly_connected(graph) if len(component) > 1]
    assert circles == []


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative: import chains can be long)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start] & graph.keys())))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child] & graph.keys()))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found
