"""Inbound `POST /federation/v1/exchange`: open, authorize, log, answer, log, reply.

Follows DESIGN.md "Envelope": the clear fields let us drop mail from unknown
senders before any crypto; the envelope is opened with the directory's keys
for the sender; every rejection is counted and answered with a signed `error`
reply where the sender is a known, active node (a plain JSON 4xx otherwise).
Both the request and the reply are appended to the exchange log *before* the
reply leaves. A retried move notice (same message id) is not a replay error:
it gets the receipt of the stored copy, so delivery is exactly-once.

Test hook (never in production): when the environment variable
`STATENODE_RECORD_BODIES` names a file, every envelope this endpoint opens has its
message type and decoded body (`message.to_body()`, what the strict decoder read from the
msgpack body; bytes as `{"hex": ...}`) appended to that file as one JSON line, owner-only
(0600). It exists for the "curious node" integration test (tests/integration/
test_private_find.py), which checks what a peer without the child can read. It writes
student data in the clear: docs/SECURITY.md "Private find" says so, and `statenode
doctor` warns when it is set.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from aiohttp import web

from crypto.seal import HYBRID
from node import clock
from node.appkeys import SERVICES
from node.directory.tls_pinning import client_pin_problem
from node.errors import NodeError
from node.federation.answers import Answer, answer, stored_receipt
from node.federation.log_entries import opened_entry, sealed_entry
from node.federation.peer_client import require_hybrid
from node.file_modes import open_private
from node.services import Services
from node.store import federation_tables as fed
from protocol.audit import LogEntry
from protocol.directory import SealTarget
from protocol.envelope import (
    Header,
    OpenedEnvelope,
    SealedEnvelope,
    WireFields,
    open_envelope,
    peek,
    seal_envelope,
)
from protocol.errors import EnvelopeRejected, ErrorCode, MessageTooLarge, ProtocolError
from protocol.messages import MESSAGE_TYPES, Error, Message

log = logging.getLogger("statenode.exchange")
MSGPACK = "application/msgpack"

STATUS = {
    ErrorCode.MALFORMED: 400,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_VERSION: 400,
    ErrorCode.UNKNOWN_SENDER: 403,
    ErrorCode.SENDER_NOT_ACTIVE: 403,
    ErrorCode.WRONG_RECIPIENT: 421,
    ErrorCode.UNKNOWN_KEY: 400,
    ErrorCode.HEADER_MISMATCH: 400,
    ErrorCode.EXPIRED: 400,
    ErrorCode.NOT_YET_VALID: 400,
    ErrorCode.REPLAY: 409,
    ErrorCode.BAD_SIGNATURE: 401,
    ErrorCode.DECRYPTION_FAILED: 400,
    ErrorCode.INVALID_RECORD: 400,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.DIRECTORY_EXPIRED: 503,
    ErrorCode.INTERNAL: 500,
    ErrorCode.DOWNGRADE: 403,
}
IDEMPOTENT_TYPES = frozenset({"move_notice", "link"})
#: the test hook of the module docstring: never set in production (it writes student data)
RECORD_BODIES_ENV = "STATENODE_RECORD_BODIES"


def _plain(value: Any) -> Any:
    """A decoded body as JSON: bytes as {"hex": ...}, tuples as lists."""
    if isinstance(value, bytes):
        return {"hex": value.hex()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def record_body(opened: OpenedEnvelope) -> None:
    """The test hook: append the opened message's type and body to the file named by
    `STATENODE_RECORD_BODIES` (nothing when it is unset)."""
    path = os.environ.get(RECORD_BODIES_ENV)
    if not path:
        return
    line = json.dumps({"sender": opened.header.sender, "type": opened.header.type,
                       "body": _plain(opened.message.to_body())}, ensure_ascii=False)
    with open_private(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")



def plain_error(code: ErrorCode, message: str) -> web.Response:
    return web.json_response({"error": code.value, "message": message}, status=STATUS[code])


class _ReplayProbe:
    """Passed to open_envelope as its replay cache: remembers a replay instead of raising,
    so a retried idempotent message can be answered with its stored receipt."""

    def __init__(self, services: Services) -> None:
        self.cache = services.replay
        self.replayed = False

    def check_and_add(self, sender: str, message_id: bytes, *, keep_until_ms: int,
                      now_ms: int) -> None:
        try:
            self.cache.check_and_add(sender, message_id, keep_until_ms=keep_until_ms,
                                     now_ms=now_ms)
        except EnvelopeRejected as exc:
            if exc.code is not ErrorCode.REPLAY:
                raise
            self.replayed = True


async def _reply_target(services: Services, peer: str) -> SealTarget:
    now = clock.now_ms()
    entry = services.directory.current(now).entry(peer)
    if entry is None:
        raise ProtocolError(f"{peer} is not in the directory", code=ErrorCode.UNKNOWN_SENDER)
    return await services.peer_keys.seal_target(services.session, entry, now)


async def _seal_reply(services: Services, peer: str, message: Message, *, purpose: str,
                      reply_to: bytes, status: int = 200,
                      target: SealTarget | None = None) -> tuple[SealedEnvelope, web.Response]:
    """Seal a reply to `peer` the way its key document asks (hybrid when it offers it)."""
    if target is None:
        target = await _reply_target(services, peer)
    sealed = seal_envelope(
        signing_key=services.keys.signing, sender=services.node_id, recipient=peer,
        recipient_key=target.key.public, recipient_key_id=target.key.key_id, message=message,
        now_ms=clock.now_ms(), ttl_ms=int(services.cfg.exchange.message_ttl * 1000),
        purpose=purpose, reply_to=reply_to, suite=target.suite, version=target.version)
    return sealed, web.Response(body=sealed.wire, status=status, content_type=MSGPACK)


async def _error_reply(services: Services, clear: WireFields, code: ErrorCode, message: str,
                       *, purpose: str = "data_quality", reply_to: bytes | None = None,
                       request_entry: LogEntry | None = None) -> web.Response:
    """A signed error reply if we can seal one to the sender; a plain JSON error otherwise."""
    kind = clear.type if clear.type in MESSAGE_TYPES else "unknown"  # never attacker text
    services.metrics.rejections[code.value] += 1
    services.metrics.requests[(kind, f"rejected:{code.value}")] += 1
    log.info("rejected %s from %s: %s", kind, clear.sender, code.value)
    if reply_to is None:
        return plain_error(code, message)
    try:
        sealed, response = await _seal_reply(services, clear.sender, Error(code, message),
                                             purpose=purpose, reply_to=reply_to,
                                             status=STATUS[code])
    except Exception:  # no key for the sender: fall back to plain
        return plain_error(code, message)
    out = sealed_entry(services, sealed, peer=clear.sender, direction="out", user_id="",
                       user_role="", student_ids=())
    await services.log.append_many([request_entry, out] if request_entry else [out])
    return response


async def handle_exchange(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    # before anything is authenticated, limit by address too: a stranger claiming to be
    # TX must not use up TX's allowance (4x, since one address may host several peers)
    if not services.allow(f"addr:{request.remote}", factor=4):
        services.metrics.rejections[ErrorCode.RATE_LIMITED.value] += 1
        return plain_error(ErrorCode.RATE_LIMITED, "too many requests from this address")
    try:
        wire = await request.read()
    except web.HTTPRequestEntityTooLarge:
        services.metrics.rejections[ErrorCode.TOO_LARGE.value] += 1
        return plain_error(ErrorCode.TOO_LARGE, "request body is over the size limit")
    try:
        clear = peek(wire)
    except MessageTooLarge as exc:
        services.metrics.rejections[ErrorCode.TOO_LARGE.value] += 1
        return plain_error(ErrorCode.TOO_LARGE, str(exc))
    except ProtocolError as exc:
        services.metrics.rejections[exc.code.value] += 1
        return plain_error(exc.code, str(exc))
    problem = client_pin_problem(request, services.cfg, services.directory, clear.sender)
    if problem is not None:
        services.metrics.rejections["tls_client_cert"] += 1
        log.info("rejected %s from %s: client certificate (%s)", clear.type, clear.sender,
                 problem)
        return plain_error(ErrorCode.FORBIDDEN, problem)
    if not services.allow(clear.sender):
        services.metrics.rejections[ErrorCode.RATE_LIMITED.value] += 1
        return plain_error(ErrorCode.RATE_LIMITED, f"too many requests from {clear.sender}")
    now = clock.now_ms()
    probe = _ReplayProbe(services)
    try:
        opened = open_envelope(
            wire, my_id=services.node_id, my_keys=services.keys.opening,
            sender_key_lookup=lambda node: services.directory.sender_keys(node, now_ms=now),
            now_ms=now, seen=probe,  # type: ignore[arg-type]
            max_skew_ms=int(services.cfg.exchange.max_clock_skew * 1000),
            require_hybrid=require_hybrid(services))
    except ProtocolError as exc:
        header = getattr(exc, "header", None)
        if isinstance(header, Header):  # refused after the signature verified: signed error
            return await _error_reply(services, clear, exc.code, str(exc),
                                      purpose=header.purpose, reply_to=header.message_id)
        # nothing authenticated to reply to: plain error
        return await _error_reply(services, clear, exc.code, str(exc))
    record_body(opened)
    try:
        return await _answer_opened(services, clear, opened, probe.replayed)
    except Exception as exc:
        # nothing was answered: the sender may retry with the same message id
        if not probe.replayed:
            services.replay.discard(opened.header.sender, opened.header.message_id)
        if isinstance(exc, NodeError):  # e.g. the disk is full: tell the sender to retry
            services.metrics.rejections[ErrorCode.INTERNAL.value] += 1
            log.warning("could not answer %s from %s: %s", opened.header.type,
                        clear.sender, exc.__class__.__name__)
            return web.json_response({"error": ErrorCode.INTERNAL.value,
                                      "message": "the node cannot answer now; retry later"},
                                     status=503)
        raise


async def _answer_opened(services: Services, clear: WireFields, opened: OpenedEnvelope,
                         replayed: bool) -> web.StreamResponse:
    """Answer an authenticated envelope; log the request and reply before replying."""
    header = opened.header
    if services.peers.get(clear.sender).failures:
        # heard from a peer we could not reach: deliver what waits for it now
        await services.store.run(fed.outbox_make_due, clear.sender)
    services.peers.success(clear.sender)
    requester = (getattr(opened.message, "requester", None)
                 or getattr(opened.message, "sent_by", None)
                 or getattr(opened.message, "asserted_by", None))
    request_entry: LogEntry | None = None
    target = await _reply_target(services, header.sender)
    if header.suite != HYBRID and target.suite == HYBRID and services.keys.hybrid:
        # the sender's key document (fetched now, if it was not cached when we opened the
        # envelope) offers a hybrid key, and so does ours: an X25519 message is a downgrade
        request_entry = opened_entry(services, opened, peer=header.sender, direction="in",
                                     user_id=getattr(requester, "user_id", ""),
                                     user_role=getattr(requester, "role", ""), student_ids=())
        return await _error_reply(
            services, clear, ErrorCode.DOWNGRADE,
            f"{header.sender} sealed its {header.type} with {header.suite}, but it and "
            f"{services.node_id} both publish {HYBRID} keys: refusing a downgrade",
            purpose=header.purpose, reply_to=header.message_id, request_entry=request_entry)
    if replayed:
        lookup = services.receipt_lookups.get(header.type, stored_receipt)
        receipt = (await lookup(services, header.sender, header.message_id)
                   if header.type in IDEMPOTENT_TYPES else None)
        if receipt is None:
            return await _error_reply(
                services, clear, ErrorCode.REPLAY,
                f"message {header.message_id.hex()} from {header.sender} was already received",
                purpose=header.purpose, reply_to=header.message_id)
        result = Answer(receipt)
    else:
        request_entry = opened_entry(services, opened, peer=header.sender, direction="in",
                                     user_id=getattr(requester, "user_id", ""),
                                     user_role=getattr(requester, "role", ""), student_ids=())
        try:
            result = await answer(services, header.sender, opened)
        except ProtocolError as exc:
            return await _error_reply(services, clear, exc.code, str(exc),
                                      purpose=header.purpose, reply_to=header.message_id,
                                      request_entry=request_entry)
    sealed, response = await _seal_reply(services, header.sender, result.reply,
                                         purpose=header.purpose, reply_to=header.message_id,
                                         target=target)
    reply_entry = sealed_entry(services, sealed, peer=header.sender, direction="out",
                               user_id=getattr(requester, "user_id", ""),
                               user_role=getattr(requester, "role", ""),
                               student_ids=result.student_ids)
    # the request and its reply are durable, in one commit, before the reply leaves
    await services.log.append_many([request_entry, reply_entry] if request_entry
                                   else [reply_entry])
    services.metrics.requests[(header.type, "ok")] += 1
    return response


def setup_exchange_routes(app: web.Application) -> None:
    app.router.add_post("/federation/v1/exchange", handle_exchange)
