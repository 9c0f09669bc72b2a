"""The holder's side of the discover round (issue 14; DESIGN.md "Messages" `discover`,
docs/PROTOCOL.md "Discover filter").

- `answer_discover`: the `discover` handler (registered in `services.message_handlers`
  by `setup_discover`): per-peer rate limit in blinded elements (`[discover]
  elements_per_minute` and `burst`: over it, error `rate_limited`), the search purpose
  rules of a find, then RFC 9497 BlindEvaluate with one DLEQ proof and the version of
  the filter the outputs are to be checked against. The request and reply are logged by
  the endpoint as their own entry types (`discover` in, `discover_reply` out; a discover
  always carries DISCOVER_ELEMENTS elements, so the count is the type's): an auditor
  sees a peer probing the filter in `statenode audit`.
- `GET /federation/v1/discover-filter`: the signed filter (`protocol.discover_signed`)
  our version 2 key document names; 404 when discover is off or no filter is built yet.
- `discover_filter_job`: at start and every `[discover] rebuild_interval`, and after the
  jobs that change students (app.py chains it), switch to a prepared next OPRF key once
  our directory entry pins it, rebuild the filter when it is outdated
  (`node.importing.discover_rebuild`) and publish its FilterInfo in our key documents.
Nothing here logs a key, an element or a record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from crypto.oprf import OprfError, blind_evaluate
from node.appkeys import SERVICES
from node.directory.identity import load_keys, promote_oprf_key_if_pinned
from node.errors import NodeError
from node.federation.answers import Answer
from node.federation.discover_peers import FILTER_PATH, PeerFilters
from node.importing.discover_rebuild import RebuildResult, rebuild
from node.services import Services
from node.store import discover_tables as dt
from protocol.discover_signed import FilterInfo, resign
from protocol.envelope import OpenedEnvelope
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import Discover, DiscoverReply, search_refusal

log = logging.getLogger("statenode.discover")

MSGPACK = "application/msgpack"


@dataclass
class ElementBucket:
    """A token bucket counted in blinded elements: `rate` a minute, at most `burst`
    at once."""

    rate: int
    burst: int
    tokens: float = -1.0
    updated: float = 0.0

    def take(self, n: int, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if self.tokens < 0:
            self.tokens, self.updated = float(self.burst), now
        self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate
                          / 60.0)
        self.updated = now
        if self.tokens >= n:
            self.tokens -= n
            return True
        return False


@dataclass
class DiscoverState:
    """The holder's discover state in the running node."""

    buckets: dict[str, ElementBucket] = field(default_factory=dict)
    signed: bytes = b""  # the signed filter of `version`
    version: int = 0
    last: RebuildResult | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    evaluations: int = 0  # elements evaluated since start (metrics)
    refused: int = 0  # discover messages refused as over the rate limit
    #: as a requester: holders' verified filters (node.federation.discover_peers)
    peer_filters: PeerFilters = field(default_factory=PeerFilters)


def state_of(services: Services) -> DiscoverState:
    """The discover state of this running node (made by `setup_discover`)."""
    if services.discover is None:
        services.discover = DiscoverState()
    return services.discover


def allow_elements(services: Services, peer: str, n: int) -> bool:
    state = state_of(services)
    bucket = state.buckets.get(peer)
    if bucket is None:
        if len(state.buckets) > 10_000:
            state.buckets.clear()
        cfg = services.cfg.discover
        bucket = state.buckets[peer] = ElementBucket(cfg.elements_per_minute, cfg.burst)
    return bucket.take(n)


async def answer_discover(services: Services, peer: str, opened: OpenedEnvelope) -> Answer:
    msg = opened.message
    assert isinstance(msg, Discover)
    key = services.keys.oprf
    if not services.cfg.discover.enabled or key is None:
        raise ProtocolError(f"{services.node_id} does not take part in discover "
                            "([discover] enabled = false)", code=ErrorCode.FORBIDDEN)
    refusal = search_refusal(msg.purpose, msg.requester.role)
    if refusal is not None:
        raise ProtocolError(refusal, code=ErrorCode.FORBIDDEN)
    state = state_of(services)
    if not allow_elements(services, peer, len(msg.elements)):
        state.refused += 1
        log.info("discover from %s refused: over %d elements a minute", peer,
                 services.cfg.discover.elements_per_minute)
        raise ProtocolError(f"{peer} asked for more than "
                            f"{services.cfg.discover.elements_per_minute} OPRF evaluations a "
                            "minute", code=ErrorCode.RATE_LIMITED)
    try:
        evaluated, proof = blind_evaluate(key, msg.elements)
    except OprfError as exc:
        raise ProtocolError(f"discover: {exc}", code=ErrorCode.MALFORMED) from exc
    state.evaluations += len(msg.elements)
    return Answer(DiscoverReply(tuple(evaluated), proof, state.version))


async def serve_filter(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    state = state_of(services)
    if not services.cfg.discover.enabled or not state.signed:
        raise web.HTTPNotFound(text="no discover filter")
    return web.Response(body=state.signed, content_type=MSGPACK,
                        headers={"Cache-Control": "no-cache",
                                 "ETag": f'"{state.version}"'})


def _publish(services: Services, row: dt.FilterRow | None) -> None:
    state = state_of(services)
    if row is None:
        return
    # signed again with our current key: a filter outlives a signing-key rotation
    state.signed, state.version = resign(row.signed, services.keys.signing), row.version
    services.keyring.discover = FilterInfo(row.version, row.sha256, row.members, row.records,
                                           row.false_positive_ppm)


async def discover_filter_job(services: Services) -> dict[str, Any] | None:
    """Rebuild the filter when it is outdated, and publish the latest one."""
    if not services.cfg.discover.enabled or services.keys.oprf is None:
        return None
    state = state_of(services)
    async with state.lock:
        await _promote_if_pinned(services)
        assert services.keys.oprf is not None
        result = await asyncio.to_thread(
            rebuild, services.store, node_id=services.node_id, oprf=services.keys.oprf,
            signing=services.keys.signing)
        state.last = result
        row = await services.store.run(dt.latest_filter)
        _publish(services, row)
    return {"version": result.version, "rebuilt": result.rebuilt,
            "evaluated": result.evaluated, "records": result.records}


def start_discover(services: Services) -> asyncio.Task[None]:
    """At start: rebuild the filter if it is missing or outdated, then publish it."""
    async def first() -> None:
        try:
            await discover_filter_job(services)
        except Exception as exc:  # the node serves anyway; the job retries
            log.warning("discover filter not rebuilt at start: %s", type(exc).__name__)
    return asyncio.create_task(first())


async def _promote_if_pinned(services: Services) -> None:
    """Switch to the next OPRF key (`keys rotate-oprf`) once our directory entry pins it;
    the rebuild that follows makes the filter under it, with a new version."""
    if services.keys.oprf_next is None:
        return
    try:
        entry = services.directory.current().entry(services.node_id)
    except NodeError:  # no usable directory: keep the key peers knew
        return
    pinned = entry.oprf_key if entry is not None else None
    if await asyncio.to_thread(promote_oprf_key_if_pinned, services.cfg, services.keys,
                               pinned):
        services.keyring.keys = await asyncio.to_thread(load_keys, services.cfg)
        log.info("the directory pins the new OPRF key: switched to it; rebuilding the "
                 "discover filter")


def setup_discover(services: Services) -> None:
    """Register the discover handler (the filter is published by the job)."""
    state_of(services)
    services.message_handlers[Discover.TYPE] = answer_discover


def setup_discover_routes(app: web.Application) -> None:
    app.router.add_get(FILTER_PATH, serve_filter)
