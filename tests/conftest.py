"""Shared fixtures: a freshly initialised node folder made by the real `init` code path."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    from node.ops.node_folder import write_node

    folder = tmp_path / "tx"
    write_node(folder, state="TX", name="Texas", endpoint="http://127.0.0.1:0")
    return folder


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run browser tests last: Playwright's sync API keeps an event loop running in the
    main thread for the rest of the session, which async tests cannot share."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
