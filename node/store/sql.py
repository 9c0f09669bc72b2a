"""Small SQL helpers shared by the store's modules: placeholders, id chunks, timestamps."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TypeVar

T = TypeVar("T")

CHUNK = 500  # ids per IN (...) query, well under SQLite's variable limit


def placeholders(n: int) -> str:
    """`?,?,?` for n values."""
    return ",".join("?" * n)


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """The items in slices of at most `size`, for `IN (...)` queries."""
    for i in range(0, len(items), size):
        yield items[i:i + size]


def now_iso() -> str:
    """The current UTC time as ISO 8601 seconds, as the store's timestamp columns hold it."""
    return datetime.now(UTC).isoformat(timespec="seconds")
