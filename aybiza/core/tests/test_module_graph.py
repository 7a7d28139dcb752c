"""The product's modules import each other without cycles, lazy (function-level) imports
included: a cycle hidden inside a function is still a cycle a newcomer trips over. Imports under
`if TYPE_CHECKING:` are annotations only and do not count. Tests, migrations and the bench aside.

The package-level map in docs/architecture.md is checked against the code too.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[3]
PACKAGES = ("aybiza", "agents", "calls", "tools", "memory", "learning", "compliance")
ARCHITECTURE = BASE_DIR / "docs" / "architecture.md"


def product_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (BASE_DIR / package).rglob("*.py"):
            parts = path.relative_to(BASE_DIR).with_suffix("").parts
            if "tests" in parts or "migrations" in parts:
                continue
            name = ".".join(parts).removesuffix(".__init__")
            modules[name] = path
    return modules


def _runtime_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for node in body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        yield node
        for field in ("body", "orelse", "finalbody", "handlers"):
            yield from _runtime_statements(getattr(node, field, None) or [])


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The product modules `name` imports at run time (a package's own parents excluded: Python
    imports them first anyway)."""
    found: set[str] = set()
    for node in _runtime_statements(ast.parse(path.read_text()).body):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {module for module in found if module in modules and module != name
            and not name.startswith(module + ".")}


def import_graph() -> dict[str, set[str]]:
    modules = product_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
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
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def area(module: str) -> str:
    """The area of the package map a module belongs to."""
    parts = module.split(".")
    if parts[0] == "aybiza" and parts[1:2] in (["core"], ["portal"], ["server"], ["settings"]):
        return ".".join(parts[:2])
    if parts[0] == "aybiza":
        return "aybiza"
    if parts[:2] == ["calls", "realtime"]:
        return "calls.realtime"
    return parts[0]


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_back():
    found = cycles(import_graph())
    assert not found, f"import cycles (lazy imports included): {found}"


def test_the_documented_package_map_matches_the_code():
    # given what each area imports from the others
    actual: dict[str, set[str]] = {}
    for module, imported in import_graph().items():
        for target in imported:
            # Settings are configuration, read by every area: not part of the map.
            if area(module) != area(target) and "aybiza.settings" not in (area(module),
                                                                         area(target)):
                actual.setdefault(area(module), set()).add(area(target))
    # when the table "| area | imports |" in docs/architecture.md is read
    documented: dict[str, set[str]] = {}
    for row in re.findall(r"^\| `([\w.]+)` \| ([^|]*) \|$", ARCHITECTURE.read_text(), re.M):
        documented[row[0]] = set(re.findall(r"`([\w.]+)`", row[1]))
    # then each documented area lists exactly what it imports
    assert documented, "docs/architecture.md has no package map table"
    for name, targets in sorted(actual.items()):
        assert documented.get(name, set()) == targets, (
            f"docs/architecture.md: `{name}` imports {sorted(targets)}")
