"""Fixtures: real federations of node processes (see harness.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import GUADALUPE_CA, GUADALUPE_TX, Federation


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    """TX, CA and FL; Guadalupe is in TX (exact) and CA (nickname, one surname)."""
    root: Path = tmp_path_factory.mktemp("fed")
    fed = Federation(root, ["TX", "CA", "FL"],
                     extra_records={"TX": [GUADALUPE_TX], "CA": [GUADALUPE_CA]})
    fed.create().start()
    yield fed
    fed.stop()
