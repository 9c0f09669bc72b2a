"""Outbound exchanges: one request to one peer, and the federated `find` fan-out.

`request()` seals a message to a peer (its current encryption key from its
signed key document: the hybrid MLKEM768-X25519 suite in an envelope of version 2
when the document offers a hybrid key, X25519 otherwise, `PeerKeyCache.seal_target`),
logs it, POSTs it with the per-peer timeout, opens the signed reply (which must answer
our message id and come from that peer) and logs the reply. A `downgrade` error (the
peer says we sealed with X25519 although it publishes hybrid keys: our cached key
document of it is older than its upgrade) drops the cached document and sends once
more, sealed to the fresh one. Failures become `PeerUnavailable` with a reason; the peer's
backoff grows on failure and resets on any signed reply (PROTOCOL-ANCHORS §2.4).

`ask_find()` sends one `find` to one peer and turns its answer, a timeout or a failure
into a `PeerAnswer`; the federated find (`node.federation.federated_find`, with its
discover round in `node.federation.discover_round`) asks every peer at once, so a slow
or dead peer never delays the others beyond the timeout. `FindSummary` names who
answered, who timed out and who failed and why.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import aiohttp

from crypto.seal import HYBRID
from node import clock
from node.errors import BadRequest, NodeError, PeerTimeout, PeerUnavailable
from node.federation.log_entries import log_opened, log_sealed
from node.services import Services
from protocol.directory import DirectoryEntry, EntryStatus
from protocol.envelope import OpenedEnvelope, open_envelope, seal_envelope
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import (
    Error,
    Find,
    FindReply,
    Message,
    from_body,
    to_body,
)

MSGPACK = "application/msgpack"


class AnswerStatus(StrEnum):
    """How one state answered one of our fan-out requests."""

    ANSWERED = "answered"
    TIMEOUT = "timeout"
    FAILED = "failed"


@dataclass(frozen=True)
class PeerAnswer:
    state: str
    status: AnswerStatus
    reply: Message | None = None
    error: str = ""
    latency_ms: float = 0.0
    backoff: bool = False  # the peer was in backoff when asked


@dataclass
class FindSummary:
    answered: list[str] = field(default_factory=list)
    timed_out: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def add(self, a: PeerAnswer) -> None:
        if a.status == AnswerStatus.ANSWERED:
            self.answered.append(a.state)
        elif a.status == AnswerStatus.TIMEOUT:
            self.timed_out.append(a.state)
        else:
            self.failed[a.state] = a.error



def check_sendable(message: Message) -> None:
    """Read `message` back as every peer will (strict decoding, limits); BadRequest
    naming the field when a peer would refuse it as malformed."""
    try:
        from_body(message.TYPE, to_body(message))
    except ProtocolError as exc:
        raise BadRequest(f"the {message.TYPE} cannot be sent: {exc}") from None


def require_hybrid(services: Services) -> Callable[[str], bool]:
    """For `open_envelope`: whether an X25519 message from a node is a downgrade (we and it
    both publish hybrid keys, as far as the directory and our cache know)."""
    def check(node: str) -> bool:
        if not services.keys.hybrid:
            return False
        try:
            entry = services.directory.current().entry(node)
        except NodeError:
            entry = None
        return services.peer_keys.requires_hybrid(entry, node)
    return check


async def request(services: Services, peer: str, message: Message, *, purpose: str,
                  user_id: str = "", user_role: str = "", message_id: bytes | None = None,
                  timeout: float | None = None) -> OpenedEnvelope:
    """Send one message to `peer` and return its opened, authenticated reply. A message
    its recipient's decoder would refuse is never signed or sent (BadRequest)."""
    check_sendable(message)
    try:
        return await _request(services, peer, message, purpose=purpose, user_id=user_id,
                              user_role=user_role, message_id=message_id, timeout=timeout)
    except _Downgraded:
        services.peer_keys.invalidate(peer)
        return await _request(services, peer, message, purpose=purpose, user_id=user_id,
                              user_role=user_role, message_id=None, timeout=timeout,
                              retried=True)


class _Downgraded(Exception):
    """The peer refused our X25519 envelope as a downgrade (our key document of it is old)."""


async def _request(services: Services, peer: str, message: Message, *, purpose: str,
                   user_id: str, user_role: str, message_id: bytes | None,
                   timeout: float | None, retried: bool = False) -> OpenedEnvelope:
    timeout = services.cfg.peers.timeout if timeout is None else timeout
    now = clock.now_ms()
    snapshot = services.directory.current(now)
    entry = snapshot.entry(peer)
    if entry is None or entry.status != EntryStatus.ACTIVE:
        raise PeerUnavailable(f"{peer} is not an active node in the directory")
    started = time.monotonic()
    try:
        target = await asyncio.wait_for(
            services.peer_keys.seal_target(services.session, entry, now), timeout)
        sealed = seal_envelope(
            signing_key=services.keys.signing, sender=services.node_id, recipient=peer,
            recipient_key=target.key.public, recipient_key_id=target.key.key_id,
            message=message, now_ms=now, ttl_ms=int(services.cfg.exchange.message_ttl * 1000),
            purpose=purpose, message_id=message_id, suite=target.suite,
            version=target.version)
        await log_sealed(services, sealed, peer=peer, direction="out", user_id=user_id,
                         user_role=user_role, student_ids=())
        body, kind, status = await _post(services, peer, list(entry.endpoints), sealed.wire,
                                         timeout - (time.monotonic() - started), entry=entry)
    except aiohttp.ServerFingerprintMismatch as exc:
        from node.directory.tls_pinning import mismatch_reason

        services.peers.failure(peer, "TLS pin mismatch")
        services.metrics.outgoing[(peer, message.TYPE, "tls_pin")] += 1
        raise PeerUnavailable(mismatch_reason(peer, exc)) from exc
    except TimeoutError as exc:
        services.peers.failure(peer, "timed out")
        services.metrics.outgoing[(peer, message.TYPE, "timeout")] += 1
        raise PeerTimeout(f"{peer} did not answer within {timeout:g}s") from exc
    except (aiohttp.ClientError, OSError) as exc:
        services.peers.failure(peer, f"unreachable: {exc.__class__.__name__}")
        services.metrics.outgoing[(peer, message.TYPE, "unreachable")] += 1
        raise PeerUnavailable(f"{peer} is unreachable ({exc.__class__.__name__}: {exc})") from exc
    except ProtocolError as exc:  # its key document did not verify, etc.
        services.peers.failure(peer, exc.code.value)
        raise PeerUnavailable(f"{peer}: {exc}") from exc
    latency = (time.monotonic() - started) * 1000
    if not kind.startswith(MSGPACK):
        services.peers.failure(peer, f"HTTP {status}")
        services.metrics.outgoing[(peer, message.TYPE, f"http_{status}")] += 1
        detail = body[:200].decode("utf-8", "replace")
        raise PeerUnavailable(f"{peer} refused the request (HTTP {status}: {detail})")
    try:
        reply = open_envelope(
            body, my_id=services.node_id, my_keys=services.keys.opening,
            sender_key_lookup=lambda node: services.directory.sender_keys(
                node, now_ms=clock.now_ms()),
            now_ms=clock.now_ms(), seen=services.replay,
            max_skew_ms=int(services.cfg.exchange.max_clock_skew * 1000),
            require_hybrid=require_hybrid(services))
    except ProtocolError as exc:
        services.peers.failure(peer, f"bad reply: {exc.code.value}")
        raise PeerUnavailable(f"{peer} sent a reply that does not verify: {exc}") from exc
    if reply.header.sender != peer or reply.header.reply_to != sealed.header.message_id:
        services.peers.failure(peer, "reply does not answer our request")
        raise PeerUnavailable(f"{peer} sent a reply that does not answer our request")
    skew = (reply.header.issued_at_ms - clock.now_ms()) / 1000
    services.peers.success(peer, latency_ms=latency, clock_skew_s=skew)
    services.metrics.peer_latency_ms[peer] = latency
    await log_opened(services, reply, peer=peer, direction="in", user_id=user_id,
                     user_role=user_role, student_ids=())
    if isinstance(reply.message, Error):
        services.metrics.outgoing[(peer, message.TYPE, reply.message.code.value)] += 1
        if (reply.message.code is ErrorCode.DOWNGRADE and not retried
                and sealed.header.suite != HYBRID):
            raise _Downgraded(reply.message.message)
        raise PeerUnavailable(f"{peer} answered with error {reply.message.code.value}: "
                              f"{reply.message.message}")
    services.metrics.outgoing[(peer, message.TYPE, "ok")] += 1
    return reply


def endpoints_for(services: Services, peer: str, signed: list[str]) -> list[str]:
    """The directory's endpoints, then LAN-discovered ones (each already checked against the
    peer's key in the signed directory by `node.directory.lan_discovery`)."""
    discovery = services.discovery
    found = discovery.discovered(peer) if discovery is not None else []
    return signed + [u for u in found if u not in signed]


async def _post(services: Services, peer: str, signed: list[str], wire: bytes,
                budget: float, entry: DirectoryEntry | None = None) -> tuple[bytes, str, int]:
    """POST to the first endpoint that accepts a connection, within `budget` seconds; a peer
    whose entry publishes a TLS pin is reached over https only, its pin checked
    (node.directory.tls_pinning)."""
    from node.directory.tls_pinning import request_ssl

    deadline = time.monotonic() + budget
    urls = endpoints_for(services, peer, signed)
    for i, url in enumerate(urls):
        remaining = max(0.1, deadline - time.monotonic())
        try:
            pin = request_ssl(services.cfg, entry, url)
        except ValueError as exc:
            if i == len(urls) - 1:
                raise aiohttp.ClientConnectionError(str(exc)) from exc
            continue
        try:
            async with services.session.post(
                url.rstrip("/") + "/federation/v1/exchange", data=wire,
                headers={"Content-Type": MSGPACK}, ssl=pin,
                timeout=aiohttp.ClientTimeout(total=remaining),
            ) as resp:
                return await resp.read(), resp.headers.get("Content-Type", ""), resp.status
        except aiohttp.ClientConnectionError:
            if i == len(urls) - 1:
                raise
    raise aiohttp.ClientConnectionError(f"no endpoint for {peer}")


async def ask_find(services: Services, peer: str, find: Find, timeout: float) -> PeerAnswer:
    """Send one find to `peer`; its answer, a timeout or a failure as a PeerAnswer."""
    started = time.monotonic()
    backoff = services.peers.get(peer).in_backoff()
    try:
        reply = await asyncio.wait_for(
            request(services, peer, find, purpose=find.purpose,
                    user_id=find.requester.user_id, user_role=find.requester.role,
                    timeout=timeout), timeout + 0.5)
    except TimeoutError:
        services.peers.failure(peer, "timed out")
        return PeerAnswer(peer, AnswerStatus.TIMEOUT, error=f"no answer within {timeout:g}s",
                          latency_ms=(time.monotonic() - started) * 1000, backoff=backoff)
    except PeerUnavailable as exc:
        status = (AnswerStatus.TIMEOUT if isinstance(exc, PeerTimeout)
                  else AnswerStatus.FAILED)
        return PeerAnswer(peer, status, error=str(exc),
                          latency_ms=(time.monotonic() - started) * 1000, backoff=backoff)
    return PeerAnswer(peer, AnswerStatus.ANSWERED, reply=reply.message,
                      latency_ms=(time.monotonic() - started) * 1000, backoff=backoff)


def active_peers(services: Services) -> list[str]:
    snapshot = services.directory.current(clock.now_ms())
    return sorted(e.node_id for e in snapshot.entries
                  if e.status == EntryStatus.ACTIVE and e.node_id != services.node_id
                  and e.valid_until_ms > clock.now_ms())


def candidates_of(answer: PeerAnswer) -> list:  # type: ignore[type-arg]
    if isinstance(answer.reply, FindReply):
        return list(answer.reply.candidates)
    return []


__all__ = ["ErrorCode", "FindSummary", "PeerAnswer", "active_peers", "ask_find", "request"]
