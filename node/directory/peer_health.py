"""Per-peer health: last contact, consecutive failures and jittered backoff.

Follows Synapse's per-destination retry (PROTOCOL-ANCHORS §2.4): after a
failure the next attempt waits `initial * 2^(failures-1)`, multiplied by a
random factor in [0.8, 1.4) and capped at `maximum`; any signed contact from
the peer (a reply, or a valid inbound message) resets it. Interactive fan-out
(a `find` a person is waiting for) still tries a peer in backoff but with the
result marked; queued deliveries (outbox) wait for `next_attempt_at`.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from node import clock


@dataclass
class PeerHealth:
    peer: str
    failures: int = 0
    last_contact: float | None = None
    last_failure: float | None = None
    last_error: str = ""
    next_attempt_at: float = 0.0
    latency_ms: float | None = None
    clock_skew_s: float | None = None

    def in_backoff(self, now: float | None = None) -> bool:
        return self.failures > 0 and (clock.now() if now is None else now) < self.next_attempt_at


def backoff_delay(failures: int, *, initial: float, maximum: float, rng: random.Random) -> float:
    if failures <= 0:
        return 0.0
    base = initial * (2 ** min(failures - 1, 30))
    return float(min(maximum, base * rng.uniform(0.8, 1.4)))


@dataclass
class PeerStates:
    initial: float
    maximum: float
    rng: random.Random = field(default_factory=random.Random)
    peers: dict[str, PeerHealth] = field(default_factory=dict)

    def get(self, peer: str) -> PeerHealth:
        if peer not in self.peers:
            self.peers[peer] = PeerHealth(peer)
        return self.peers[peer]

    def success(self, peer: str, *, latency_ms: float | None = None, now: float | None = None,
                clock_skew_s: float | None = None) -> None:
        h = self.get(peer)
        h.failures = 0
        h.next_attempt_at = 0.0
        h.last_error = ""
        h.last_contact = clock.now() if now is None else now
        if latency_ms is not None:
            h.latency_ms = latency_ms
        if clock_skew_s is not None:
            h.clock_skew_s = clock_skew_s

    def failure(self, peer: str, reason: str, *, now: float | None = None) -> float:
        """Record a failure; return the delay until the next attempt."""
        now = clock.now() if now is None else now
        h = self.get(peer)
        h.failures += 1
        h.last_failure = now
        h.last_error = reason
        delay = backoff_delay(h.failures, initial=self.initial, maximum=self.maximum, rng=self.rng)
        h.next_attempt_at = now + delay
        return delay


@dataclass
class TokenBucket:
    """Requests per minute from one peer; `allow()` is False when over the rate (answer 429)."""

    rate_per_minute: int
    tokens: float = -1.0
    updated: float = 0.0

    def allow(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        cap = float(max(1, self.rate_per_minute))
        if self.tokens < 0:
            self.tokens, self.updated = cap, now
        self.tokens = min(cap, self.tokens + (now - self.updated) * cap / 60.0)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
