"""The running node's services, bundled so handlers and jobs share one object.

`Services` is stored under the `SERVICES` app key and built in `create_app`'s
startup context: config, keys, store, directory view, peer key cache, exchange
log, peer health, replay cache, per-peer rate limits, the HTTP client session,
the metrics counters, and the typed extension points that rooms above register at
startup (message handlers, receipt look-ups, the find hook, LAN discovery). Handlers
and scheduled jobs receive this object, never the aiohttp application.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from aiohttp import ClientSession

from config.schema import NodeConfig
from node import clock
from node.directory.identity import NodeKeys
from node.directory.peer_health import PeerStates, TokenBucket
from protocol.envelope import ReplayCache

if TYPE_CHECKING:
    from node.audit.exchange_log import ExchangeLog
    from node.directory.client import DirectoryView
    from node.directory.key_documents import KeyRing, PeerKeyCache
    from node.directory.lan_discovery import Discovery
    from node.federation.answers import Answer
    from node.federation.discover import DiscoverState
    from node.matching.index import TermFrequencies
    from node.store.database import Store
    from protocol.envelope import OpenedEnvelope
    from protocol.messages import FindCriteria, Receipt, Requester


@dataclass
class Metrics:
    """Counters and gauges for `GET /metrics` (Prometheus text format)."""

    requests: Counter[tuple[str, str]] = field(default_factory=Counter)  # (type, outcome)
    rejections: Counter[str] = field(default_factory=Counter)  # reason code
    peer_latency_ms: dict[str, float] = field(default_factory=dict)
    outgoing: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # peer,type,outcome


#: answers one inbound message type: (services, peer, opened envelope) -> answer
MessageHandler: TypeAlias = "Callable[[Services, str, OpenedEnvelope], Awaitable[Answer]]"
#: for a retried idempotent message: (services, peer, message id) -> the earlier receipt
ReceiptLookup: TypeAlias = "Callable[[Services, str, bytes], Awaitable[Receipt | None]]"
#: runs on each state's answer line of one of our finds: (services, line, criteria,
#: requester, find id) -> the line as shown (links applied, near matches filed)
FindHook: TypeAlias = ("Callable[[Services, dict[str, Any], FindCriteria, Requester, str], "
                       "Awaitable[dict[str, Any]]]")


def open_exchange_log(cfg: NodeConfig, keys: NodeKeys) -> ExchangeLog:
    """The node's exchange log with its origin, legacy origin and witness identity."""
    from node.audit.exchange_log import ExchangeLog

    return ExchangeLog(cfg.storage.exchange_log, keys.signing, cfg.log_origin,
                       node_id=cfg.node.id, witness_key=keys.witness,
                       witness_name=cfg.witness_name)


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
    started: float = field(default_factory=clock.now)
    #: message types answered by rooms above federation/ (link, cosign …)
    message_handlers: dict[str, MessageHandler] = field(default_factory=dict)
    #: receipt look-ups for retried idempotent messages, by message type
    receipt_lookups: dict[str, ReceiptLookup] = field(default_factory=dict)
    find_hook: FindHook | None = None
    #: name-frequency table the find handler scores with (refreshed by a job)
    term_frequencies: TermFrequencies | None = None
    discovery: Discovery | None = None
    #: the discover round's holder state (rate limits, the published filter), issue 14
    discover: DiscoverState | None = None
    #: the last error reading the store for /status ("" when it read fine)
    status_error: str = ""

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


