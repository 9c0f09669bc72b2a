"""node.ops.node_folder: a fresh node folder (statenode init)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import load_config
from node.errors import BadRequest
from node.ops.node_folder import write_node


@pytest.mark.parametrize(("endpoint", "port", "public_url"), [
    ("http://127.0.0.1:0", 0, ""),  # any free port, chosen at start (was written as 80)
    ("http://127.0.0.1", 80, "http://127.0.0.1"),
    ("https://statenode.tea.example", 443, "https://statenode.tea.example"),
    ("https://statenode.tea.example:8443", 8443, "https://statenode.tea.example:8443"),
])
def test_the_endpoint_gives_the_listening_port(tmp_path: Path, endpoint: str, port: int,
                                               public_url: str) -> None:
    cfg = load_config(write_node(tmp_path / "tx", state="TX", name="Texas", endpoint=endpoint))
    assert cfg.server.port == port and cfg.server.public_url == public_url


def test_a_bad_endpoint_is_refused_naming_the_option(tmp_path: Path) -> None:
    with pytest.raises(BadRequest, match="--endpoint must be a URL"):
        write_node(tmp_path / "tx", state="TX", name="Texas", endpoint="ftp://x")
    assert not (tmp_path / "tx" / "node.toml").exists()
