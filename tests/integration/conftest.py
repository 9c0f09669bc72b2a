"""Fixtures: real federations of node processes (see harness.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import Federation, child

GUADALUPE_TX = child("TX900001", "Guadalupe", "Hernández", "López", "2009-03-04",
                     courses=(("Algebra I", "Mathematics", 1.0, 1.0),
                              ("English I", "English Language Arts", 1.0, 1.0),
                              ("Biology", "Science", 1.0, None)))
GUADALUPE_CA = child("CA700001", "Lupe", "Hernandez", "", "2009-03-04",
                     courses=(("Geometry", "Mathematics", 1.0, 0.5),
                              ("World History", "Social Studies", 1.0, 1.0)))


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    """TX, CA and FL; Guadalupe is in TX (exact) and CA (nickname, one surname)."""
    root: Path = tmp_path_factory.mktemp("fed")
    fed = Federation(root, ["TX", "CA", "FL"],
                     extra_records={"TX": [GUADALUPE_TX], "CA": [GUADALUPE_CA]})
    fed.create().start()
    yield fed
    fed.stop()
