"""Durable delivery of move notices and links (DESIGN.md "Scheduled jobs": outbox).

`queue()` stores the message body with a fixed message id in node.db; the
delivery job sends every due item, and on the peer's signed receipt marks it
delivered. A failure schedules the next attempt with the peer's jittered
exponential backoff; any contact with the peer makes its queued items due at
once. Because every retry reuses the message id, the receiver stores the
notice exactly once and answers a retry with the same receipt.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from node import clock
from node.errors import BadRequest, PeerUnavailable
from node.federation.peer_client import check_sendable, request
from node.services import Services
from node.store import federation_tables as fed
from protocol.codec import pack, unpack
from protocol.errors import ProtocolError
from protocol.messages import Message, Receipt, from_body, to_body

log = logging.getLogger("statenode.outbox")


def queue_message(db: Any, *, peer: str, message: Message, purpose: str,
                  summary: dict[str, Any]) -> int:
    """Queue one message for `peer` (runs on the store's writer thread).

    The message is first read back as the peer will read it (MalformedMessage if it
    would refuse it), so a malformed item never sits in the outbox failing its job."""
    from_body(message.TYPE, to_body(message))
    return fed.outbox_add(db, peer=peer, type_=message.TYPE, purpose=purpose,
                          message_id=os.urandom(16), body=pack(to_body(message)), summary=summary)


#: an item its peer must refuse waits this long before it is tried again
UNDELIVERABLE_RETRY_MS = 24 * 3600 * 1000


async def deliver_due(services: Services, *, limit: int = 50) -> dict[str, int]:
    """Try every due item once; return counts of delivered, failed and undeliverable.
    An item the peer must refuse as malformed (queued by an older release) is set aside
    with the reason, never retried in a loop, and never stops the others."""
    now = clock.now_ms()
    items = await services.store.run(fed.outbox_due, now, limit)
    counts = {"delivered": 0, "failed": 0, "undeliverable": 0}
    for item in items:
        peer = item["peer"]
        try:
            message = from_body(item["type"], unpack(item["body"]))
            check_sendable(message)
        except (ProtocolError, BadRequest) as exc:
            reason = f"undeliverable (a peer must refuse it): {exc}"
            await services.store.run(fed.outbox_failed, item["id"], reason,
                                     now + UNDELIVERABLE_RETRY_MS)
            counts["undeliverable"] += 1
            log.warning("outbox item %s to %s is undeliverable; set aside", item["id"], peer)
            continue
        requester = getattr(message, "sent_by", None) or getattr(message, "asserted_by", None)
        try:
            reply = await request(services, peer, message, purpose=item["purpose"],
                                  user_id=getattr(requester, "user_id", ""),
                                  user_role=getattr(requester, "role", ""),
                                  message_id=item["message_id"])
            if not isinstance(reply.message, Receipt):
                raise PeerUnavailable(f"{peer} answered a {item['type']} with "
                                      f"{reply.header.type}, not a receipt")
        except PeerUnavailable as exc:
            health = services.peers.get(peer)
            next_ms = int(max(health.next_attempt_at, clock.now() + 1) * 1000)
            await services.store.run(fed.outbox_failed, item["id"], str(exc), next_ms)
            counts["failed"] += 1
            log.info("outbox item %s to %s not delivered: %s", item["id"], peer, exc)
            continue
        await services.store.run(fed.outbox_delivered, item["id"],
                                 reply.message.received_body_hash)
        counts["delivered"] += 1
    return counts
