"""Shared fixtures: a freshly initialised node folder made by the real `init` code path."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    from node.cli.setup import write_node

    folder = tmp_path / "tx"
    write_node(folder, state="TX", name="Texas", endpoint="http://127.0.0.1:0")
    return folder
