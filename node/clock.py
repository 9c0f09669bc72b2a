"""The node's one clock: wall time in seconds and in milliseconds.

Every module asks this module for the time, so a test can move time for the whole node
at once (`set_clock`) instead of patching `time.time` in a dozen places. Monotonic time
(rate limits, timeouts) stays with `time.monotonic`: it measures intervals, not dates.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_source: Callable[[], float] = time.time


def now() -> float:
    """Seconds since the epoch (float)."""
    return _source()


def now_ms() -> int:
    """Milliseconds since the epoch, as the wire formats and the log carry them."""
    return int(_source() * 1000)


def set_clock(source: Callable[[], float]) -> Callable[[], float]:
    """Replace the clock (tests); return the previous source so it can be put back."""
    global _source
    previous, _source = _source, source
    return previous


@contextmanager
def frozen_at(seconds: float) -> Iterator[None]:
    """Within the block, every `now()` answers `seconds`."""
    previous = set_clock(lambda: seconds)
    try:
        yield
    finally:
        set_clock(previous)
