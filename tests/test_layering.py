"""The dependency direction of DESIGN.md and docs/ARCHITECTURE.md, checked on every import.

Between packages: config -> nothing of ours; crypto -> nothing of ours; protocol -> crypto;
node -> protocol, crypto, config. Only crypto/ imports the crypto libraries; only node/
imports aiohttp, sqlite_utils, zeroconf, apscheduler, jinja2; protocol/ does no I/O.

Inside node/: every module belongs to a room, every room stands on a floor, and a module
imports only from its own room or from rooms on lower floors; there is no import circle
anywhere. Imports made inside functions count; only imports under `if TYPE_CHECKING:` are
exempt (they never run).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = {"config", "crypto", "protocol", "node"}
ALLOWED = {
    "config": set(),
    "crypto": set(),
    "protocol": {"crypto"},
    "node": {"config", "crypto", "protocol"},
}
NODE_ONLY = {"aiohttp", "sqlite_utils", "zeroconf", "apscheduler", "jinja2", "lxml"}
CRYPTO_ONLY = {"cryptography", "pysodium", "nacl"}
# protocol/ is sans-I/O: no sockets, files, clocks-by-default or subprocesses.
PROTOCOL_FORBIDDEN = {
    "socket",
    "asyncio",
    "subprocess",
    "sqlite3",
    "http",
    "urllib",
    "pathlib",
    "io",
}

#: node/'s floors, lowest first; each floor holds one or more rooms. A room is a
#: subpackage (`store` = node/store/) or a named module directly in node/.
FLOORS: tuple[tuple[str, ...], ...] = (
    ("base",),
    ("matching",),
    ("store",),
    ("directory", "audit", "importing", "authority"),
    ("services",),
    ("federation",),
    ("control",),
    ("web",),
    ("app", "ops"),
    ("cli",),
)
#: modules directly in node/ and the room each belongs to
TOP_MODULES = {
    "node": "base",
    "node.errors": "base",
    "node.clock": "base",
    "node.appkeys": "base",
    "node.http_inputs": "base",
    "node.file_modes": "base",
    "node.services": "services",
    "node.jobs": "services",
    "node.app": "app",
    "node.__main__": "cli",
}
FLOOR_OF = {room: level for level, rooms in enumerate(FLOORS) for room in rooms}


# ---- reading imports --------------------------------------------------------------------

def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_nodes(tree: ast.AST) -> Iterable[ast.AST]:
    """Every node of the tree except the bodies of `if TYPE_CHECKING:` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(source: str, module: str, *, is_package: bool) -> set[str]:
    """Dotted names a module's source imports at run time (relative imports resolved);
    for `from X import a`, both `X` and `X.a` (a may be a submodule)."""
    names: set[str] = set()
    for node in _runtime_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)
    return names


def top_level(names: Iterable[str]) -> set[str]:
    return {n.split(".")[0] for n in names if n}


# ---- the graph of node/ and its rules ---------------------------------------------------

def room_of(module: str) -> str:
    if module in TOP_MODULES:
        return TOP_MODULES[module]
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in FLOOR_OF:
        return parts[1]
    raise AssertionError(f"{module} is in no room: add it to FLOORS/TOP_MODULES in "
                         "tests/test_layering.py and to docs/ARCHITECTURE.md")


def node_graph(sources: Mapping[str, tuple[str, bool]]) -> dict[str, set[str]]:
    """module -> the node modules it imports, from {module: (source, is_package)}."""
    graph: dict[str, set[str]] = {}
    for module, (source, is_package) in sources.items():
        deps = {n for n in imported_names(source, module, is_package=is_package)
                if n in sources and n != module}
        # `from node.store import accounts` names the package and the module: keep the
        # module only, so a package's (empty) __init__ does not stand between rooms.
        graph[module] = {d for d in deps if not any(o.startswith(d + ".") for o in deps)}
    return graph


def layering_problems(graph: Mapping[str, set[str]]) -> list[str]:
    problems = []
    for module, deps in sorted(graph.items()):
        mine = room_of(module)
        for dep in sorted(deps):
            theirs = room_of(dep)
            if theirs == mine:
                continue
            if FLOOR_OF[theirs] >= FLOOR_OF[mine]:
                where = ("a room beside it on the same floor" if FLOOR_OF[theirs] == FLOOR_OF[mine]
                         else "a room above it")
                problems.append(f"{module} ({mine}) imports {dep} ({theirs}), {where}")
    return problems


def import_circles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    circles: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return circles


def _node_sources() -> dict[str, tuple[str, bool]]:
    return {module_name(p): (p.read_text(), p.name == "__init__.py")
            for p in sorted((ROOT / "node").rglob("*.py"))}


# ---- the tree ---------------------------------------------------------------------------

def _modules() -> list[tuple[str, Path]]:
    return [(pkg, p) for pkg in sorted(OURS) for p in sorted((ROOT / pkg).rglob("*.py"))]


@pytest.mark.parametrize(("package", "path"), _modules(), ids=lambda v: str(v))
def test_dependency_direction(package: str, path: Path) -> None:
    module = module_name(path)
    imported = top_level(imported_names(path.read_text(), module,
                                        is_package=path.name == "__init__.py"))
    ours = (imported & OURS) - {package}
    assert ours <= ALLOWED[package], (
        f"{path.relative_to(ROOT)} imports {sorted(ours - ALLOWED[package])}"
    )
    if package != "crypto":
        bad = imported & CRYPTO_ONLY
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
    if package != "node":
        bad = imported & NODE_ONLY
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
    if package == "protocol":
        bad = imported & PROTOCOL_FORBIDDEN
        assert not bad, f"{path.relative_to(ROOT)} does I/O through {sorted(bad)}"


def test_node_rooms_import_only_downwards() -> None:
    problems = layering_problems(node_graph(_node_sources()))
    assert not problems, "\n".join(problems)


def test_no_import_circle_in_any_package() -> None:
    for package in sorted(OURS):
        sources = {module_name(p): (p.read_text(), p.name == "__init__.py")
                   for p in sorted((ROOT / package).rglob("*.py"))}
        circles = import_circles(node_graph(sources))
        assert not circles, f"import circles in {package}/: {circles}"


def test_every_room_is_a_real_folder() -> None:
    rooms = {room for floor in FLOORS for room in floor} - set(TOP_MODULES.values())
    for room in rooms:
        assert (ROOT / "node" / room / "__init__.py").is_file(), room
    top = {module_name(p) for p in (ROOT / "node").glob("*.py")}
    assert top == set(TOP_MODULES), f"modules directly in node/: {sorted(top ^ set(TOP_MODULES))}"
    assert len(top) <= 10


def test_architecture_doc_names_every_room() -> None:
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    for path in sorted((ROOT / "node").rglob("*.py")):
        rel = path.relative_to(ROOT / "node")
        if path.name == "__init__.py":
            rel = rel.parent
            if str(rel) == ".":
                continue
            assert f"{rel}/" in doc, f"docs/ARCHITECTURE.md does not name node/{rel}/"
        else:
            assert path.name in doc, f"docs/ARCHITECTURE.md does not name {rel}"


# ---- the checker itself catches what it should ------------------------------------------

def _fake(**modules: str) -> dict[str, tuple[str, bool]]:
    return {name.replace("__", "."): (source, False) for name, source in modules.items()}


def test_checker_flags_an_upward_import_inside_a_function() -> None:
    graph = node_graph(_fake(
        node__store__database="def f():\n    from node.web.site import render\n",
        node__web__site="import node.store.database\n",
    ))
    problems = layering_problems(graph)
    assert problems == ["node.store.database (store) imports node.web.site (web), "
                        "a room above it"]


def test_checker_flags_a_sibling_room_on_the_same_floor() -> None:
    graph = node_graph(_fake(
        node__audit__exchange_log="from node.importing import importer\n",
        node__importing__importer="x = 1\n",
    ))
    assert layering_problems(graph) == [
        "node.audit.exchange_log (audit) imports node.importing.importer (importing), "
        "a room beside it on the same floor"]


def test_checker_flags_a_circle_made_inside_functions() -> None:
    graph = node_graph(_fake(
        node__store__database="def f():\n    from node.store import record_reads\n",
        node__store__record_reads="def g():\n    from . import database\n",
    ))
    assert layering_problems(graph) == []  # one room: allowed by the floors ...
    assert import_circles(graph) == [["node.store.database", "node.store.record_reads"]]


def test_checker_ignores_type_checking_imports_only() -> None:
    source = ("from typing import TYPE_CHECKING\n"
              "if TYPE_CHECKING:\n    from node.web.site import WebState\n"
              "else:\n    from node.errors import NodeError\n")
    graph = node_graph(_fake(node__store__database=source, node__web__site="",
                             node__errors=""))
    assert graph["node.store.database"] == {"node.errors"}


def test_checker_names_a_module_in_no_room() -> None:
    with pytest.raises(AssertionError, match="in no room"):
        room_of("node.kitchen_sink")


def test_our_packages_are_the_repo_ones() -> None:
    import config
    import crypto
    import node
    import protocol

    for mod in (config, crypto, node, protocol):
        assert Path(mod.__file__).resolve().is_relative_to(ROOT), mod.__file__


def test_no_utils_module() -> None:
    assert not [p for pkg in sorted(OURS) for p in (ROOT / pkg).rglob("utils.py")]
