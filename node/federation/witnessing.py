"""The node's side of witnessing (DESIGN.md "Audit log"): answering `cosign`
requests from peers and asking peers to cosign our checkpoints.

The checks themselves live in `node.audit.cosigning`; this module connects them to the
exchange handler (an extra handler for the `cosign` type) and to the scheduler.
"""

from __future__ import annotations

import asyncio
import logging

from node import clock
from node.audit.cosigning import apply_cosign_reply, build_cosign_request, cosign_peer_checkpoint
from node.errors import BadRequest, Conflict, PeerUnavailable
from node.federation.answers import Answer
from node.federation.peer_client import active_peers, request
from node.services import Services
from protocol.cosign_messages import Cosign, CosignReply
from protocol.envelope import OpenedEnvelope
from protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger("statenode.witness")


async def handle_cosign(services: Services, peer: str, opened: OpenedEnvelope) -> Answer:
    msg = opened.message
    assert isinstance(msg, Cosign)
    keys = services.directory.sender_keys(peer, now_ms=clock.now_ms())
    try:
        reply = await asyncio.to_thread(cosign_peer_checkpoint, services.log, peer, keys, msg)
    except Conflict as exc:  # includes LogRewriteDetected: recorded as an alert
        raise ProtocolError(str(exc), code=ErrorCode.FORBIDDEN) from exc
    except BadRequest as exc:
        raise ProtocolError(str(exc), code=ErrorCode.MALFORMED) from exc
    return Answer(reply)


async def checkpoint_job(services: Services) -> str:
    """Scheduler job (every `audit.checkpoint_interval`): sign a checkpoint if the log grew."""
    return await services.log.sign_checkpoint_async()


async def cosign_job(services: Services) -> dict[str, str]:
    """Ask every active peer to cosign our latest checkpoint; returns peer -> outcome."""
    await services.log.sign_checkpoint_async()
    outcomes: dict[str, str] = {}

    async def one(peer: str) -> None:
        try:
            message = await asyncio.to_thread(build_cosign_request, services.log, peer=peer)
            reply = await request(services, peer, message, purpose="data_quality")
            if not isinstance(reply.message, CosignReply):
                raise PeerUnavailable(f"{peer} answered cosign with {reply.header.type}")
            entry = services.directory.current().entry(peer)
            keys = entry.signing_keys() if entry else ()
            await asyncio.to_thread(apply_cosign_reply, services.log, peer, keys, reply.message)
            outcomes[peer] = "cosigned"
        except (PeerUnavailable, Conflict, BadRequest, ProtocolError) as exc:
            outcomes[peer] = f"failed: {exc}"
            log.info("cosign by %s failed: %s", peer, exc)

    await asyncio.gather(*(one(p) for p in active_peers(services)))
    return outcomes


def setup_witnessing(services: Services) -> None:
    services.message_handlers["cosign"] = handle_cosign
