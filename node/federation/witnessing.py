"""The node's side of witnessing (DESIGN.md "Audit log"): the C2SP tlog-witness endpoint
every node serves, the `cosign` message of the previous release, and submitting our
checkpoints to the witnesses our config names.

- `POST /witness/add-checkpoint` (C2SP tlog-witness v1.0.0; submission prefix
  `<endpoint>/witness`): the body is checked by `node.audit.witness.add_checkpoint` and
  cosigned with our separate witness key (`keys.witness_key`, name `cfg.witness_name`),
  which the directory publishes for auditors and peers. We witness the logs of the peers
  `audit.witness_for` names (every active peer with "*"), under each origin the
  directory lists for them (their `log_origin`, and their node id, the legacy origin of
  their older checkpoints); any other origin is 404.
- the `cosign` message: a node one release behind asks with it; the same check runs on
  the same bytes (`node.audit.cosigning.cosign_peer_checkpoint`).
- `cosign_job` (every `audit.cosign_interval`): signs a checkpoint and submits it to each
  witness of `audit.witnesses`: with `add-checkpoint` to a peer whose directory entry
  publishes a witness key (after a 409 once more, from the size the witness names), with
  the `cosign` message and our legacy origin to a peer one release behind. The result says
  whether the checkpoint has `audit.witness_quorum` cosignatures (`witness_status`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
from aiohttp import web

from crypto.checkpoint import CosignatureVerifier, parse_checkpoint
from crypto.note import parse_note
from node.appkeys import SERVICES
from node.audit.cosigning import (
    apply_cosign_reply,
    apply_cosignatures,
    build_cosign_request,
    cosign_reply,
    submission,
)
from node.audit.witness import SIZE_TYPE, KnownLog, add_checkpoint, known_logs
from node.errors import BadRequest, Conflict, NodeError, NotFound, PeerUnavailable
from node.federation.answers import Answer
from node.federation.peer_client import active_peers, request
from node.services import Services
from protocol.cosign_messages import Cosign, CosignReply
from protocol.directory import DirectoryEntry
from protocol.envelope import OpenedEnvelope
from protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger("statenode.witness")
WITNESS_PATH = "/witness/add-checkpoint"
MAX_SUBMISSION = 64 * 1024


# --- witness side -------------------------------------------------------------------------

def witnessed_peers(services: Services) -> list[DirectoryEntry]:
    """Active peers whose logs we witness (`audit.witness_for`)."""
    wanted = services.cfg.audit.witness_for
    try:
        peers = services.directory.peers()
    except NodeError:
        return []
    return [e for e in peers if "*" in wanted or e.node_id in wanted]


def known_log(services: Services, origin: str) -> KnownLog | None:
    """The log with `origin` if it is one we witness (with its current directory keys)."""
    for entry in witnessed_peers(services):
        if origin in entry.log_origins():
            logs = known_logs(entry.node_id, entry.log_origins(), entry.signing_keys())
            return next(k for k in logs if k.origin == origin)
    return None


async def add_checkpoint_route(request: web.Request) -> web.Response:
    """`POST /witness/add-checkpoint` exactly as C2SP tlog-witness v1.0.0 specifies."""
    services = request.app[SERVICES]
    if not services.allow(f"addr:{request.remote}", factor=4):
        return web.Response(status=429, text="too many requests\n")
    if request.content_length is not None and request.content_length > MAX_SUBMISSION:
        return web.Response(status=413, text="request body too large\n")
    body = await request.content.read(MAX_SUBMISSION + 1)
    if len(body) > MAX_SUBMISSION:
        return web.Response(status=413, text="request body too large\n")
    answer = await asyncio.to_thread(add_checkpoint, services.log, body,
                                     lambda o: known_log(services, o), services.log.cosigner)
    services.metrics.requests[("add-checkpoint", str(answer.status))] += 1
    if not answer.ok:
        log.info("add-checkpoint answered %d: %s", answer.status, answer.body.strip()[:200])
    # exactly the media type the specification names (no charset added to x.tlog.size)
    return web.Response(status=answer.status, body=answer.body.encode(),
                        headers={"Content-Type": answer.content_type})


async def handle_cosign(services: Services, peer: str, opened: OpenedEnvelope) -> Answer:
    """The `cosign` message (a node one release behind): the same check, legacy identity."""
    msg = opened.message
    assert isinstance(msg, Cosign)

    def known(origin: str) -> KnownLog | None:
        found = known_log(services, origin)
        return found if found is not None and found.peer == peer else None

    try:
        reply = await asyncio.to_thread(cosign_reply, services.log, peer, msg, known)
    except Conflict as exc:  # includes LogRewriteDetected: recorded as an alert
        raise ProtocolError(str(exc), code=ErrorCode.FORBIDDEN) from exc
    except NotFound as exc:
        raise ProtocolError(str(exc), code=ErrorCode.NOT_FOUND) from exc
    except BadRequest as exc:
        raise ProtocolError(str(exc), code=ErrorCode.MALFORMED) from exc
    return Answer(reply)


# --- log side -----------------------------------------------------------------------------

def witnesses(services: Services) -> list[str]:
    """The peers `audit.witnesses` names that are active now ("*": every active peer)."""
    wanted = services.cfg.audit.witnesses
    active = active_peers(services)
    return active if "*" in wanted else [p for p in wanted if p in active]


async def _post_submission(services: Services, entry: DirectoryEntry,
                           body: bytes) -> tuple[int, str, str]:
    from node.directory.tls_pinning import request_ssl

    errors = []
    for endpoint in entry.endpoints:
        url = endpoint.rstrip("/") + WITNESS_PATH
        try:
            pin = request_ssl(services.cfg, entry, url)
            async with services.session.post(
                    url, data=body, headers={"Content-Type": "text/plain; charset=utf-8"},
                    ssl=pin, timeout=aiohttp.ClientTimeout(total=services.cfg.peers.timeout),
            ) as resp:
                text = (await resp.content.read(MAX_SUBMISSION)).decode("utf-8", "replace")
                return resp.status, text, resp.headers.get("Content-Type", "")
        except (ValueError, TimeoutError, aiohttp.ClientError, OSError) as exc:
            errors.append(f"{url}: {type(exc).__name__} {exc}".rstrip())
    raise PeerUnavailable(f"witness {entry.node_id} is unreachable: " + "; ".join(errors))


async def submit_to_witness(services: Services, entry: DirectoryEntry) -> str:
    """Submit our latest checkpoint to a witness that speaks C2SP; return the stored note."""
    assert entry.witness_name is not None and entry.witness_key is not None
    verifier = CosignatureVerifier(entry.witness_name, entry.witness_key)
    body = await asyncio.to_thread(submission, services.log, verifier.name)
    status, text, kind = await _post_submission(services, entry, body)
    if status == 409 and kind.startswith(SIZE_TYPE) and text.strip().isdigit():
        # the witness holds another size for us (e.g. it witnessed our legacy origin, or
        # forgot us): once more, with a proof from its size
        body = await asyncio.to_thread(submission, services.log, verifier.name,
                                       old_size=int(text.strip()))
        status, text, kind = await _post_submission(services, entry, body)
    if status != 200:
        raise PeerUnavailable(f"witness {entry.node_id} answered {status}: "
                              f"{text.strip()[:200]}")
    return await asyncio.to_thread(apply_cosignatures, services.log, body, text, verifier)


async def cosign_by_legacy_witness(services: Services, entry: DirectoryEntry) -> str:
    """Ask a witness one release behind with the `cosign` message (our legacy origin)."""
    await services.log.sign_checkpoint_async(origin=services.log.node_id)
    peer = entry.node_id
    message = await asyncio.to_thread(build_cosign_request, services.log, peer=peer)
    reply = await request(services, peer, message, purpose="data_quality")
    if not isinstance(reply.message, CosignReply):
        raise PeerUnavailable(f"{peer} answered cosign with {reply.header.type}")
    return await asyncio.to_thread(apply_cosign_reply, services.log, peer,
                                   entry.signing_keys(), reply.message)


def witness_status(services: Services) -> dict[str, Any]:
    """Whether our latest checkpoint counts as witnessed: cosigned, at its size, by at least
    `audit.witness_quorum` of the configured witnesses (their witness or legacy names)."""
    note = services.log.latest_checkpoint()
    size = parse_checkpoint(parse_note(note)[0]).size
    names = services.log.cosigners_at(size)
    counted = []
    for peer in witnesses(services):
        entry = services.directory.current().entry(peer)
        if entry is not None and (entry.witness_name in names or peer in names):
            counted.append(peer)
    quorum = services.cfg.audit.witness_quorum
    return {"size": size, "cosigned_by": counted, "quorum": quorum,
            "witnessed": len(counted) >= quorum}


async def cosign_job(services: Services) -> dict[str, Any]:
    """Submit our latest checkpoint to every configured witness; peer -> outcome, and the
    quorum status under "_status"."""
    await services.log.sign_checkpoint_async()
    outcomes: dict[str, Any] = {}

    async def one(peer: str) -> None:
        started = time.monotonic()
        try:
            entry = services.directory.current().entry(peer)
            if entry is None:
                raise PeerUnavailable(f"{peer} is not in the directory")
            if entry.witness_key is not None:
                await submit_to_witness(services, entry)
            else:
                await cosign_by_legacy_witness(services, entry)
            outcomes[peer] = "cosigned"
        except (NodeError, ProtocolError) as exc:
            outcomes[peer] = f"failed: {exc}"
            log.info("witness %s did not cosign (%.1f s): %s", peer,
                     time.monotonic() - started, exc)

    await asyncio.gather(*(one(p) for p in witnesses(services)))
    status = await asyncio.to_thread(witness_status, services)
    outcomes["_status"] = status
    if not status["witnessed"]:
        log.warning("checkpoint of size %d has %d of the %d cosignatures it needs "
                    "(audit.witness_quorum)", status["size"], len(status["cosigned_by"]),
                    status["quorum"])
    return outcomes


async def checkpoint_job(services: Services) -> str:
    """Scheduler job (every `audit.checkpoint_interval`): sign a checkpoint if the log grew."""
    return await services.log.sign_checkpoint_async()


def setup_witnessing(services: Services) -> None:
    services.message_handlers["cosign"] = handle_cosign


def setup_witness_routes(app: web.Application) -> None:
    app.router.add_post(WITNESS_PATH, add_checkpoint_route)


__all__ = ["WITNESS_PATH", "checkpoint_job", "cosign_job", "setup_witness_routes",
           "setup_witnessing", "witness_status"]
