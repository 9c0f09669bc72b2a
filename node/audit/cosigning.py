"""The log's side of witnessing, and the `cosign` message of the previous release.

Spec: DESIGN.md "Audit log"; C2SP tlog-witness v1.0.0, tlog-cosignature v1 (Ed25519,
type 0x04), tlog-checkpoint v1.0.0.

Log side (`node.federation.witnessing` runs it for each configured witness):
`submission` builds the exact `add-checkpoint` body for a witness (old size = the largest
size that witness cosigned for us under that origin), and `apply_cosignatures` checks
the witness's answer lines with its published key and merges them into our stored
checkpoint.

The `cosign` message (a node one release behind sends it, and is the only witness that
answers it) carries the same bytes: `cosign_peer_checkpoint` turns it into an
`add-checkpoint` body and runs the one witness check (`node.audit.witness`), cosigning
with the identity those nodes expect (our node id, our signing key: the legacy
cosigner). `build_cosign_request` / `apply_cosign_reply` are the log side towards such a
witness: the checkpoint under our legacy origin (our node id), which is the only origin
it knows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from crypto.checkpoint import (
    CosignatureVerifier,
    format_add_checkpoint,
    parse_checkpoint,
    parse_signature_lines,
    verify_cosignature,
)
from crypto.errors import CryptoError
from crypto.note import parse_note
from node.audit.exchange_log import ExchangeLog
from node.audit.witness import KnownLog, WitnessAnswer, add_checkpoint, known_logs
from node.errors import BadRequest, Conflict, NotFound
from protocol.cosign_messages import Cosign, CosignReply

log = logging.getLogger(__name__)


class LogRewriteDetected(Conflict):
    """A peer presented a checkpoint inconsistent with one we cosigned: it rewrote history."""


# --- log side, C2SP ----------------------------------------------------------------------

def submission(log_: ExchangeLog, witness: str, *, old_size: int | None = None,
               origin: str | None = None) -> bytes:
    """The `add-checkpoint` body of our latest checkpoint under `origin` for `witness` (its
    cosigner name), with a consistency proof from `old_size` (default: the largest size
    it cosigned for us under that origin)."""
    origin = origin or log_.origin
    note = log_.latest_checkpoint(origin)
    size = parse_checkpoint(parse_note(note)[0]).size
    old = log_.cosigned_size(witness, origin) if old_size is None else old_size
    if old > size:
        raise Conflict(f"witness {witness} last cosigned size {old}, but our latest checkpoint "
                       f"has size {size}")
    proof = log_.consistency_proof(old, size) if 0 < old < size else []
    return format_add_checkpoint(old, proof, note)


def apply_cosignatures(log_: ExchangeLog, body: bytes, answer: str,
                       witness: CosignatureVerifier) -> str:
    """Check the signature lines a witness answered for `body` (our submission) with its
    key and keep them on our checkpoint; return the stored note. BadRequest if they do
    not verify."""
    note = body.decode().split("\n\n", 1)[1]
    text, _ = parse_note(note)
    try:
        lines = parse_signature_lines(answer)
        with_lines = text + "\n" + "".join(lines)
        verify_cosignature(with_lines, witness)
    except CryptoError as exc:
        raise BadRequest(f"witness {witness.name} answered no valid cosignature: {exc}") from exc
    mine = [ln for ln in lines if ln.startswith(f"\u2014 {witness.name} ")]
    return log_.add_cosignature(text + "\n" + "".join(mine), witness.name)


# --- the `cosign` message (nodes one release behind) -------------------------------------

def cosign_peer_checkpoint(log_: ExchangeLog, peer: str, peer_keys: Sequence[bytes],
                           request: Cosign, *, now_s: int | None = None) -> CosignReply:
    """Answer a `cosign` message from `peer` (a node one release behind, whose log's origin
    is its node id) with the C2SP witness check and our legacy cosignature.

    Raises `BadRequest` for a note that does not verify or a malformed request, `NotFound`
    for an origin that is not `peer`'s, `Conflict` when the proof starts from a size other
    than the one we hold (the message names it), and `LogRewriteDetected` (a `Conflict`)
    for an inconsistent history (recorded as an alert).
    """
    logs = {k.origin: k for k in known_logs(peer, (peer,), peer_keys)}
    return cosign_reply(log_, peer, request, logs.get, now_s=now_s)


def cosign_reply(log_: ExchangeLog, peer: str, request: Cosign,
                 known: Callable[[str], KnownLog | None], *,
                 now_s: int | None = None) -> CosignReply:
    """`cosign_peer_checkpoint` with the logs we witness given by `known`."""
    try:
        body = format_add_checkpoint(request.old_size, request.proof, request.checkpoint)
    except CryptoError as exc:
        raise BadRequest(f"cosign request from {peer}: {exc}") from exc
    answer = add_checkpoint(log_, body, known, log_.legacy_cosigner, now_s=now_s)
    if answer.ok:
        return CosignReply(answer.note)
    raise _as_error(peer, answer)


def _as_error(peer: str, answer: WitnessAnswer) -> Exception:
    text = answer.body.strip()
    if answer.status == 409:
        return Conflict(f"we last cosigned {peer} at size {text}; send a consistency proof "
                        f"from size {text}")
    if answer.status == 422:
        return LogRewriteDetected(f"{peer}'s checkpoint is not consistent with the one we "
                                  f"cosigned: {peer} rewrote its exchange log ({text})")
    if answer.status == 404:
        return NotFound(f"cosign request from {peer}: {text}")
    return BadRequest(f"checkpoint from {peer} does not verify: {text}")


def build_cosign_request(log_: ExchangeLog, peer_last_size: int | None = None,
                         *, peer: str | None = None) -> Cosign:
    """A `cosign` message with our latest checkpoint under our legacy origin (our node id,
    the only origin a witness one release behind knows) and a consistency proof from the
    size the peer last cosigned (`peer_last_size`, or looked up by `peer`; 0 = never)."""
    origin = log_.node_id
    if peer_last_size is None:
        peer_last_size = log_.cosigned_size(peer, origin) if peer is not None else 0
    note = log_.latest_checkpoint(origin)
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
    """Check the peer's (legacy) cosignature on our checkpoint and keep it; return the note."""
    for key in peer_keys:
        try:
            verify_cosignature(reply.note, CosignatureVerifier(peer, key))
        except CryptoError:
            continue
        return log_.add_cosignature(reply.note, peer)
    raise BadRequest(f"the cosign reply from {peer} carries no valid cosignature by {peer}")


__all__ = ["LogRewriteDetected", "apply_cosign_reply", "apply_cosignatures",
           "build_cosign_request", "cosign_peer_checkpoint", "cosign_reply", "submission"]
