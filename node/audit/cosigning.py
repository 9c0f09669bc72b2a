"""Witnessing: cosigning peers' checkpoints, and asking peers to cosign ours.

Spec: DESIGN.md "Audit log" (peers cosign each other's checkpoints after checking a
consistency proof); C2SP tlog-checkpoint v1.0.0, tlog-cosignature v1 (Ed25519, type
0x04) and the tlog-witness rule "cosign only what is consistent with what you cosigned
before". A node witnesses with its directory signing key under its node id, so an
auditor derives every witness key from the signed directory
(`protocol.audit_verify.witness_verifier`); the cosigned message starts with
"cosignature/v1\\n", so it can never be mistaken for a checkpoint or an envelope.

Witness side: `cosign_peer_checkpoint` verifies the peer's note with the peer's
directory keys, checks the consistency proof from the (size, root) we last cosigned for
that peer (trust on first use when there is none), stores the new one and returns our
cosignature. An inconsistent checkpoint is a rewrite of history: it is recorded as an
alert and `LogRewriteDetected` is raised. Requesting side: `build_cosign_request` and
`apply_cosign_reply`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from crypto.checkpoint import (
    CosignatureVerifier,
    add_cosignature,
    open_checkpoint,
    parse_checkpoint,
    verify_cosignature,
)
from crypto.errors import CryptoError
from crypto.merkle_verify import verify_consistency
from crypto.note import NoteVerifier, parse_note
from node import clock
from node.audit.exchange_log import ExchangeLog
from node.errors import BadRequest, Conflict
from protocol.cosign_messages import Cosign, CosignReply

log = logging.getLogger(__name__)


class LogRewriteDetected(Conflict):
    """A peer presented a checkpoint inconsistent with one we cosigned: it rewrote history."""


def _note_verifiers(peer: str, keys: Sequence[bytes]) -> list[NoteVerifier]:
    return [NoteVerifier(peer, k) for k in keys]


def cosign_peer_checkpoint(log_: ExchangeLog, peer: str, peer_keys: Sequence[bytes],
                           request: Cosign, *, now_s: int | None = None) -> CosignReply:
    """Check `request` from `peer` and return our cosignature (see module docstring).

    Raises `BadRequest` for a note that does not verify or a malformed proof, `Conflict`
    when the proof starts from a size other than the one we hold (the reply names it),
    and `LogRewriteDetected` (a `Conflict`) for an inconsistent history.
    """
    try:
        opened = open_checkpoint(request.checkpoint, _note_verifiers(peer, peer_keys),
                                 origin=peer)
    except CryptoError as exc:
        raise BadRequest(f"checkpoint from {peer} does not verify: {exc}") from exc
    cp = opened.checkpoint
    stored = log_.witnessed(peer)
    if stored is not None:
        old_size, old_root, old_note = stored
        if cp.size < old_size:
            _rewrite(log_, peer, f"{peer} presented a checkpoint of size {cp.size}, smaller "
                     f"than the size {old_size} we already cosigned (rollback)",
                     request.checkpoint)
        if request.old_size != old_size:
            raise Conflict(f"we last cosigned {peer} at size {old_size}; send a consistency "
                           f"proof from size {old_size}, not {request.old_size}")
        try:
            if old_size > 0:
                verify_consistency(old_size, cp.size, old_root, cp.root, request.proof)
        except CryptoError as exc:
            _rewrite(log_, peer, f"{peer}'s checkpoint of size {cp.size} is not consistent "
                     f"with the checkpoint of size {old_size} we cosigned ({exc}): {peer} "
                     "rewrote its exchange log", request.checkpoint + "\n" + old_note)
    t = int(clock.now()) if now_s is None else now_s
    verifier = next(v for v in _note_verifiers(peer, peer_keys) if opened.note.signed_by(
        v.name, v.key_id))
    cosigned = add_cosignature(request.checkpoint, verifier, log_.cosigner, t)
    log_.set_witnessed(peer, None if stored is None else stored[0], cp.size, cp.root, cosigned)
    return CosignReply(cosigned)


def _rewrite(log_: ExchangeLog, peer: str, message: str, evidence: str) -> None:
    log_.record_alert(peer, message, evidence)
    raise LogRewriteDetected(message)


def build_cosign_request(log_: ExchangeLog, peer_last_size: int | None = None,
                         *, peer: str | None = None) -> Cosign:
    """A `cosign` message with our latest checkpoint and a consistency proof from the size
    the peer last cosigned (`peer_last_size`, or looked up by `peer`; 0 = never)."""
    if peer_last_size is None:
        peer_last_size = log_.cosigned_size(peer) if peer is not None else 0
    note = log_.latest_checkpoint()
    size = parse_checkpoint(parse_note(note)[0]).size
    if peer_last_size > size:
        raise Conflict(f"the peer last cosigned size {peer_last_size} but our latest "
                       f"checkpoint has size {size}")
    proof: tuple[bytes, ...] = ()
    if 0 < peer_last_size < size:
        proof = tuple(log_.consistency_proof(peer_last_size, size))
    return Cosign(note, peer_last_size, proof)


def apply_cosign_reply(log_: ExchangeLog, peer: str, peer_keys: Sequence[bytes],
                       reply: CosignReply) -> str:
    """Check the peer's cosignature on our checkpoint and keep it; return the stored note."""
    for key in peer_keys:
        try:
            verify_cosignature(reply.note, CosignatureVerifier(peer, key))
        except CryptoError:
            continue
        return log_.add_cosignature(reply.note, peer)
    raise BadRequest(f"the cosign reply from {peer} carries no valid cosignature by {peer}")


__all__ = ["LogRewriteDetected", "apply_cosign_reply", "build_cosign_request",
           "cosign_peer_checkpoint"]
