"""The SDK has floors: clock types, ids and the wire formats at the bottom, with the execution
context and its storage (contextvars) just above, seeing its owner only through the narrow
`ContextOwner` protocol; then what records events (client calls, the server lifecycle, fork,
the application API); then the tracer and its transport; then the WSGI/ASGI middlewares and
the client integrations. A module imports from its own floor and below, never from above, so
no import cycle can form.

This test reads every module's imports with `ast` (`import` and `from ... import`, absolute
`raceway.` and relative, wherever they stand: in a function or under `if TYPE_CHECKING:` too,
since a cycle of types is the same tangle of responsibilities) and fails on any cycle between
modules, naming it.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable
from pathlib import Path

from raceway.clock import VectorClock
from raceway.context import ExecutionContext
from raceway.context_owner import ContextOwner, Event
from raceway.diagnostics import Diagnostics

PACKAGE = "raceway"
SRC = Path(__file__).resolve().parent.parent / "src"


def module_files(src: Path, package: str = PACKAGE) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its `__init__.py`)."""
    modules: dict[str, Path] = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _nearest_module(name: str, modules: Iterable[str]) -> str | None:
    """`name` if it is a module of the package, else its nearest enclosing one (`a.b.Thing`
    is in `a.b`); None outside the package."""
    known = set(modules)
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of the package that module `name` imports, anywhere in its text."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    # The package a relative import starts from: the module's own for an `__init__.py`.
    here = name.split(".") if is_package else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                if node.level - 1 > len(here):
                    continue
                base_parts = here[: len(here) - (node.level - 1)]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            # `from pkg import sub` imports the module `pkg.sub`; `from pkg import Thing`, `pkg`.
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.append(submodule if submodule in modules else base)
        for target in targets:
            module = _nearest_module(target, modules)
            if module is not None and module != name:
                found.add(module)
    return found


def import_graph(src: Path = SRC, package: str = PACKAGE) -> dict[str, set[str]]:
    modules = module_files(src, package)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _shortest_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One cycle through the first module of a component, as short as any (breadth first)."""
    start = component[0]
    members = set(component)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(graph[node] & members):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if nxt not in came_from:
                came_from[nxt] = node
                queue.append(nxt)
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover


def import_cycles(graph: dict[str, set[str]]) -> list[str]:
    """Each cycle, named: `a -> b -> a (component: a, b)`."""
    named = []
    for component in _strongly_connected(graph):
        cycle = " -> ".join(_shortest_cycle(graph, component))
        named.append(f"{cycle} (strongly connected: {', '.join(component)})")
    return named


def test_src_has_no_import_cycle() -> None:
    graph = import_graph()
    assert "raceway.context" in graph
    cycles = import_cycles(graph)
    assert cycles == [], "import cycles in src/raceway:\n" + "\n".join(cycles)


def test_the_context_does_not_know_the_tracer() -> None:
    """The floor the refactor is about: the execution context sees its owner only through the
    `ContextOwner` protocol, never the tracer, the transport or an integration."""
    graph = import_graph()
    above = {"raceway.tracer", "raceway.transport", "raceway.server", "raceway.client_call"}
    for module in ("raceway.context", "raceway.context_owner"):
        assert graph.get(module, set()) & above == set(), module


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_checker_sees_type_checking_relative_and_local_imports(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import A\n",
            "pkg/a.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from .b import B\n"
                "class A: ...\n"
            ),
            "pkg/b.py": "def f():\n    from pkg import a\n",
            "pkg/sub/__init__.py": "from . import c\n",
            "pkg/sub/c.py": "from ..d import D\n",
            "pkg/d.py": "import pkg.sub.c\nimport os\nD = 1\n",
            "pkg/e.py": "from pkg.sub import c\n",
        },
    )
    graph = import_graph(tmp_path, "pkg")
    assert graph == {
        "pkg": {"pkg.a"},
        "pkg.a": {"pkg.b"},
        "pkg.b": {"pkg.a"},  # `from pkg import a` is the module `pkg.a`, not only `pkg`
        "pkg.sub": {"pkg.sub.c"},
        "pkg.sub.c": {"pkg.d"},
        "pkg.d": {"pkg.sub.c"},
        "pkg.e": {"pkg.sub.c"},
    }
    assert import_cycles(graph) == [
        "pkg.a -> pkg.b -> pkg.a (strongly connected: pkg.a, pkg.b)",
        "pkg.d -> pkg.sub.c -> pkg.d (strongly connected: pkg.d, pkg.sub.c)",
    ]


class _StubOwner:
    """A `ContextOwner` that is not a tracer: what the narrow interface is for."""

    service = "stub"
    instance = "stub-host"
    disabled = False

    def __init__(self) -> None:
        self.diagnostics = Diagnostics()
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def should_propagate(self, url: str) -> bool:
        return url.startswith("http://inside/")


def test_a_context_records_through_any_owner() -> None:
    owner = _StubOwner()
    typed: ContextOwner = owner  # mypy checks the stub against the protocol
    ctx = ExecutionContext(
        typed,
        trace_id="0af7651916cd43dd8448eb211c80319c",
        span_id="b7ad6b7169203331",
        parent_span_id=None,
        component="stub#00000001",
        clock=VectorClock(),
    )
    assert ctx.tracer is ctx.owner is owner
    child = ctx.fork_child("branch")
    child.record("custom", {"name": "in_branch"})
    ctx.join_child(child)
    assert [event["kind"] for event in owner.events] == ["fork", "custom", "join"]
    assert {event["service"] for event in owner.events} == {"stub"}
    assert owner.events[-1]["clock"] == {"stub#00000001": 2, child.component: 1}
