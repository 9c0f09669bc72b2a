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
from node.errors import PeerUnavailable
from node.federation.peer_client import request
from node.services import Services
from node.store import federation_tables as fed
from protocol.codec import pack, unpack
from protocol.messages import Message, Receipt, from_body, to_body

log = logging.getLogger("statenode.outbox")


def queue_message(db: Any, *, peer: str, message: Message, purpose: str,
                  summary: dict[str, Any]) -> int:
    """Queue one message for `peer` (runs on the store's writer thread)."""
    return fed.outbox_add(db, peer=peer, type_=message.TYPE, purpose=purpose,
                          message_id=os.urandom(16), body=pack(to_body(message)), summary=summary)


async def deliver_due(services: Services, *, limit: int = 50) -> dict[str, int]:
    """Try every due item once; return counts of delivered and failed."""
    now = clock.now_ms()
    items = await services.store.run(fed.outbox_due, now, limit)
    counts = {"delivered": 0, "failed": 0}
    for item in items:
        peer = item["peer"]
        message = from_body(item["type"], unpack(item["body"]))
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
