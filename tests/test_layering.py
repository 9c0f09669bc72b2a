"""The dependency direction of DESIGN.md, checked on every module's imports.

config -> nothing of ours; crypto -> nothing of ours; protocol -> crypto;
node -> protocol, crypto, config. Only crypto/ imports `cryptography`; only
node/ imports aiohttp, sqlite_utils, zeroconf, apscheduler, jinja2.
"""

from __future__ import annotations

import ast
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
NODE_ONLY = {"aiohttp", "sqlite_utils", "zeroconf", "apscheduler", "jinja2"}
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


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _modules() -> list[tuple[str, Path]]:
    return [(pkg, p) for pkg in sorted(OURS) for p in sorted((ROOT / pkg).rglob("*.py"))]


@pytest.mark.parametrize(("package", "path"), _modules(), ids=lambda v: str(v))
def test_dependency_direction(package: str, path: Path) -> None:
    imported = _imports(path)
    ours = (imported & OURS) - {package}
    assert ours <= ALLOWED[package], (
        f"{path.relative_to(ROOT)} imports {sorted(ours - ALLOWED[package])}"
    )
    if package != "crypto":
        assert "cryptography" not in imported, f"{path.relative_to(ROOT)} imports cryptography"
    if package != "node":
        bad = imported & NODE_ONLY
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
    if package == "protocol":
        bad = imported & PROTOCOL_FORBIDDEN
        assert not bad, f"{path.relative_to(ROOT)} does I/O through {sorted(bad)}"


def test_our_packages_are_the_repo_ones() -> None:
    import config
    import crypto
    import node
    import protocol

    for mod in (config, crypto, node, protocol):
        assert Path(mod.__file__).resolve().is_relative_to(ROOT), mod.__file__


def test_no_utils_module() -> None:
    assert not [p for p in ROOT.glob("*/utils.py")]
