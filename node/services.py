"""The running node's services, bundled so handlers and jobs share one object.

`Services` is stored under the `SERVICES` app key and built in `create_app`'s
startup context: config, keys, store, directory view, peer key cache, exchange
log, peer health, replay cache, per-peer rate limits, the HTTP client session
and the metrics counters.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import ClientSession

from config.schema import NodeConfig
from node.directory.identity import NodeKeys
from node.directory.peer_health import PeerStates, TokenBucket
from protocol.envelope import ReplayCache

if TYPE_CHECKING:
    from node.audit.exchange_log import ExchangeLog
    from node.directory.client import DirectoryView
    from node.directory.key_documents import KeyRing, PeerKeyCache
    from node.store.database import Store


@dataclass
class Metrics:
    """Counters and gauges for `GET /metrics` (Prometheus text format)."""

    requests: Counter[tuple[str, str]] = field(default_factory=Counter)  # (type, outcome)
    rejections: Counter[str] = field(default_factory=Counter)  # reason code
    peer_latency_ms: dict[str, float] = field(default_factory=dict)
    outgoing: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # peer,type,outcome


@dataclass
class Services:
    cfg: NodeConfig
    keyring: KeyRing
    store: Store
    directory: DirectoryView
    peer_keys: PeerKeyCache
    log: ExchangeLog
    session: ClientSession
    peers: PeerStates
    replay: ReplayCache = field(default_factory=ReplayCache)
    limits: dict[str, TokenBucket] = field(default_factory=dict)
    metrics: Metrics = field(default_factory=Metrics)
    public_url: str = ""
    started: float = field(default_factory=time.time)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def keys(self) -> NodeKeys:
        """Our keys as they are now (the rotation job swaps them)."""
        return self.keyring.keys

    @property
    def node_id(self) -> str:
        return self.cfg.node.id

    def allow(self, peer: str, *, factor: int = 1) -> bool:
        """Rate limit per key (a peer id, or "addr:IP" before authentication)."""
        bucket = self.limits.get(peer)
        if bucket is None:
            if len(self.limits) > 10_000:  # bounded: forget idle buckets
                self.limits.clear()
            bucket = self.limits[peer] = TokenBucket(self.cfg.peers.rate_limit * factor)
        return bucket.allow()


