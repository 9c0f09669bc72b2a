"""Turning envelopes into exchange-log entries (DESIGN.md "Audit log").

One place decides what is logged for an exchange, in and out: time, direction,
peer, type, message id, reply-to, purpose, requesting user and role, disclosed
local student ids, the signed header bytes, the body hash and the sender's
signature. The signer of an "in" entry is the peer; of an "out" entry, us.
"""

from __future__ import annotations

from node import clock
from node.services import Services
from protocol.audit import LogEntry
from protocol.envelope import Header, OpenedEnvelope, SealedEnvelope


def _entry(services: Services, header: Header, header_bytes: bytes, body_hash: bytes,
           signature: bytes, *, peer: str, direction: str, user_id: str, user_role: str,
           student_ids: tuple[str, ...]) -> LogEntry:
    return LogEntry(
        time_ms=clock.now_ms(),
        direction=direction,
        peer=peer,
        type=header.type,
        message_id=header.message_id,
        reply_to=header.reply_to,
        purpose=header.purpose,
        user_id=user_id or None,
        user_role=user_role or None,
        student_ids=tuple(student_ids),
        header_bytes=header_bytes,
        body_hash=body_hash,
        signature=signature,
        signer=header.sender,
    )


def opened_entry(services: Services, opened: OpenedEnvelope, *, peer: str, direction: str,
                 user_id: str, user_role: str, student_ids: tuple[str, ...]) -> LogEntry:
    return _entry(services, opened.header, opened.header_bytes, opened.body_hash,
                  opened.signature, peer=peer, direction=direction, user_id=user_id,
                  user_role=user_role, student_ids=student_ids)


def sealed_entry(services: Services, sealed: SealedEnvelope, *, peer: str, direction: str,
                 user_id: str, user_role: str, student_ids: tuple[str, ...]) -> LogEntry:
    return _entry(services, sealed.header, sealed.header_bytes, sealed.body_hash,
                  sealed.signature, peer=peer, direction=direction, user_id=user_id,
                  user_role=user_role, student_ids=student_ids)


async def log_opened(services: Services, opened: OpenedEnvelope, *, peer: str, direction: str,
                     user_id: str, user_role: str, student_ids: tuple[str, ...]) -> int:
    return await services.log.append(opened_entry(
        services, opened, peer=peer, direction=direction, user_id=user_id,
        user_role=user_role, student_ids=student_ids))


async def log_sealed(services: Services, sealed: SealedEnvelope, *, peer: str, direction: str,
                     user_id: str, user_role: str, student_ids: tuple[str, ...]) -> int:
    return await services.log.append(sealed_entry(
        services, sealed, peer=peer, direction=direction, user_id=user_id,
        user_role=user_role, student_ids=student_ids))
