"""The requester's discover with one holder (issue 14; DESIGN.md "Messages" `discover`,
docs/PROTOCOL.md "Discover messages"): the step the federated find's discover round
(`node.federation.federated_find`) runs for every peer that `speaks_discover`.

- `blind_query(keys)`: the query's discover keys (`query_discover_keys`, at most
  DISCOVER_ELEMENTS) blinded (RFC 9497 Blind), then padded to exactly DISCOVER_ELEMENTS
  with blinded *random* inputs: every element is a uniformly random group element to the
  holder, so it cannot tell padding from keys nor how many fields the query has.
- `ask_discover(services, entry, query, …)`: send the `discover`, verify the DLEQ proof
  with the OPRF key **pinned in the directory entry** (never one the holder offers),
  unblind (Finalize), fetch or reuse the holder's filter (`PeerFilters`, refetched when
  the reply names a newer version) and count the query keys whose outputs hit it. A proof
  that does not verify, a timeout, a refusal or an unusable filter is an outcome, not an
  exception; a filter fuller than its declared records allow is `suspicious`.
Neither the keys nor the outputs are logged; the holder sees only blinded elements.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from crypto.oprf import OprfError, blind, finalize
from node.errors import PeerTimeout, PeerUnavailable
from node.federation.discover import state_of
from node.federation.discover_peers import SuspiciousFilter
from node.federation.peer_client import request
from node.matching.discover_keys import DISCOVER_ELEMENTS
from node.services import Services
from protocol.directory import DirectoryEntry
from protocol.messages import Discover, DiscoverReply, Requester

PAD_INPUT_LEN = 32


class DiscoverStatus(StrEnum):
    HIT = "hit"  # at least one key hit the holder's filter: it gets the find
    NO_HIT = "no_hit"  # answered, nothing hit: "answered, no candidate"
    SUSPICIOUS = "suspicious"  # its filter is fuller than its records allow
    FAILED = "failed"  # refused, unreachable, proof or filter did not verify
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class BlindedQuery:
    """One query's blinded elements (sent to every holder) and what unblinds them."""

    inputs: tuple[bytes, ...]
    blinds: tuple[bytes, ...]
    elements: tuple[bytes, ...]
    keys: int  # the first `keys` inputs are the query's discover keys, the rest padding


@dataclass(frozen=True)
class DiscoverOutcome:
    peer: str
    status: DiscoverStatus
    hits: int = 0
    filter_version: int = 0
    false_positive_ppm: int = 0
    detail: str = ""


def blind_query(keys: Sequence[str]) -> BlindedQuery:
    inputs = [k.encode() for k in keys[:DISCOVER_ELEMENTS]]
    n = len(inputs)
    inputs += [secrets.token_bytes(PAD_INPUT_LEN) for _ in range(DISCOVER_ELEMENTS - n)]
    pairs = [blind(x) for x in inputs]
    return BlindedQuery(tuple(inputs), tuple(r for r, _ in pairs),
                        tuple(e for _, e in pairs), n)


async def ask_discover(services: Services, entry: DirectoryEntry, query: BlindedQuery, *,
                       requester: Requester, purpose: str,
                       timeout: float | None = None) -> DiscoverOutcome:
    peer = entry.node_id
    if entry.oprf_key is None:
        return DiscoverOutcome(peer, DiscoverStatus.FAILED, detail="no OPRF key pinned")
    try:
        opened = await request(services, peer, Discover(query.elements, requester, purpose),
                               purpose=purpose, user_id=requester.user_id,
                               user_role=requester.role, timeout=timeout)
    except PeerTimeout as exc:
        return DiscoverOutcome(peer, DiscoverStatus.TIMEOUT, detail=str(exc))
    except PeerUnavailable as exc:
        return DiscoverOutcome(peer, DiscoverStatus.FAILED, detail=str(exc))
    reply = opened.message
    if not isinstance(reply, DiscoverReply):
        return DiscoverOutcome(peer, DiscoverStatus.FAILED,
                               detail=f"{peer} answered a discover with {reply.TYPE}")
    try:  # CPU work (~4 ms): off the event loop, libsodium releases the GIL
        outputs = await asyncio.to_thread(finalize, query.inputs, query.blinds,
                                          reply.evaluated, query.elements, entry.oprf_key,
                                          reply.proof)
    except OprfError as exc:
        services.peers.failure(peer, "discover proof does not verify")
        return DiscoverOutcome(peer, DiscoverStatus.FAILED, filter_version=reply.filter_version,
                               detail=f"{peer}'s evaluations do not verify with its pinned "
                                      f"OPRF key ({exc})")
    try:
        signed = await state_of(services).peer_filters.filter_of(
            services, entry, at_least=reply.filter_version)
    except SuspiciousFilter as exc:
        return DiscoverOutcome(peer, DiscoverStatus.SUSPICIOUS,
                               filter_version=reply.filter_version, detail=str(exc))
    except PeerUnavailable as exc:
        return DiscoverOutcome(peer, DiscoverStatus.FAILED,
                               filter_version=reply.filter_version, detail=str(exc))
    hits = sum(1 for out in outputs[:query.keys] if out in signed.filter)
    return DiscoverOutcome(peer, DiscoverStatus.HIT if hits else DiscoverStatus.NO_HIT,
                           hits=hits, filter_version=signed.info.version,
                           false_positive_ppm=signed.info.false_positive_ppm)
