"""The witness side of C2SP tlog-witness v1.0.0: checking a submitted checkpoint against
what we last cosigned for its log, and cosigning it.

Spec: https://c2sp.org/tlog-witness@v1.0.0 (`add-checkpoint`), tlog-cosignature v1
(Ed25519 cosignatures, type 0x04), tlog-checkpoint v1.0.0; DESIGN.md "Audit log".
`add_checkpoint` takes the exact request body (`old <size>`, consistency-proof lines, an
empty line, the signed checkpoint) and answers what the specification says:

- 400: the body is malformed, or the checkpoint text is; or the old size is larger than
  the checkpoint's size;
- 404: the origin is not a log we witness;
- 403: no signature verifies with the log's keys, or a known key's signature fails;
- 409 (body `<size>\\n`, `text/x.tlog.size`: the size we last cosigned for that origin, 0
  when never): the old size is not that size, or it is the same size with another root;
- 422: a proof with an old size of 0, a size-0 checkpoint that is not the empty tree, or a
  consistency proof that does not verify;
- 200: all checks pass; the body is our cosignature line.

A consistency failure or a second root for a size is a rewritten history: it is also
recorded as an alert (`ExchangeLog.record_alert`) with both notes as evidence. The check
of the old size and the storing of the new checkpoint are one transaction
(`ExchangeLog.set_witnessed`), so concurrent requests can never roll our view back.

A log that changed its origin (`audit.origin`) is witnessed on from the state of its
legacy origin (`KnownLog.carry_from`): its first checkpoint under the new origin must be
consistent with the last one we cosigned under the old, so a migration cannot hide a
rewrite.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from crypto import merkle
from crypto.checkpoint import (
    CosignatureSigner,
    cosign,
    parse_add_checkpoint,
    parse_checkpoint,
)
from crypto.errors import CryptoError, NoteError, SignatureInvalid
from crypto.merkle_verify import verify_consistency
from crypto.note import NoteVerifier, open_note, parse_note
from node import clock
from node.audit.exchange_log import ExchangeLog
from node.errors import Conflict

log = logging.getLogger("statenode.witness")

SIZE_TYPE = "text/x.tlog.size"
TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class KnownLog:
    """A log we witness: its origin, the node it belongs to, the keys it signs with."""

    origin: str
    peer: str
    verifiers: tuple[NoteVerifier, ...]
    carry_from: str | None = None  # the legacy origin whose witnessed state we continue


@dataclass(frozen=True)
class WitnessAnswer:
    status: int
    body: str
    content_type: str = TEXT
    note: str = ""  # on 200: the checkpoint with our cosignature added (for `cosign` replies)

    @property
    def ok(self) -> bool:
        return self.status == 200


def known_logs(peer: str, origins: Sequence[str], keys: Sequence[bytes]) -> list[KnownLog]:
    """The logs of node `peer` under each of its `origins` (configured first, then legacy),
    verified with its signing `keys`."""
    out = []
    legacy = origins[-1] if len(origins) > 1 else None
    for origin in origins:
        out.append(KnownLog(origin, peer, tuple(NoteVerifier(origin, k) for k in keys),
                            carry_from=legacy if origin != legacy else None))
    return out


def _size_answer(size: int) -> WitnessAnswer:
    return WitnessAnswer(409, f"{size}\n", SIZE_TYPE)


def add_checkpoint(log_: ExchangeLog, body: bytes, known: Callable[[str], KnownLog | None],
                   cosigner: CosignatureSigner, *, now_s: int | None = None,
                   retries: int = 1) -> WitnessAnswer:
    """Answer one `add-checkpoint` request (see the module docstring). Blocking: call it
    off the event loop."""
    try:
        req = parse_add_checkpoint(body)
        text, _ = parse_note(req.note)
    except NoteError as exc:
        return WitnessAnswer(400, f"malformed request: {exc}\n")
    origin = text.split("\n", 1)[0]
    target = known(origin)
    if target is None:
        return WitnessAnswer(404, f"unknown log origin {origin[:200]!r}\n")
    try:
        opened = open_note(req.note, target.verifiers)
    except (NoteError, SignatureInvalid) as exc:
        return WitnessAnswer(403, f"the checkpoint is not validly signed by {origin}: {exc}\n")
    try:
        cp = parse_checkpoint(opened.text)
    except NoteError as exc:
        return WitnessAnswer(400, f"malformed checkpoint: {exc}\n")
    if req.old_size > cp.size:
        return WitnessAnswer(400, f"old size {req.old_size} is larger than the checkpoint's "
                                  f"size {cp.size}\n")
    stored = log_.witnessed(origin)
    stored_key = stored
    if stored is None and target.carry_from is not None:
        stored = log_.witnessed(target.carry_from)
    old_size, old_root, old_note = stored if stored is not None else (0, merkle.EMPTY_ROOT, "")
    if req.old_size != old_size:
        return _size_answer(old_size)
    if req.old_size == 0:
        if req.proof:
            return WitnessAnswer(422, "a consistency proof from size 0 must be empty\n")
        if cp.size == 0 and cp.root != merkle.EMPTY_ROOT:
            return WitnessAnswer(422, "a checkpoint of size 0 must have the empty tree's root\n")
    elif cp.size == old_size:
        if cp.root != old_root:
            _rewrite(log_, target, f"{target.peer} presented a second root for size {cp.size}, "
                     f"which we cosigned with another root: {target.peer} forked its "
                     "exchange log", req.note, old_note)
            return _size_answer(old_size)
        if req.proof:
            return WitnessAnswer(422, "the sizes are equal, so the proof must be empty\n")
    else:
        try:
            verify_consistency(old_size, cp.size, old_root, cp.root, req.proof)
        except CryptoError as exc:
            _rewrite(log_, target, f"{target.peer}'s checkpoint of size {cp.size} is not "
                     f"consistent with the checkpoint of size {old_size} we cosigned ({exc}): "
                     f"{target.peer} rewrote its exchange log", req.note, old_note)
            return WitnessAnswer(422, f"the consistency proof from size {old_size} to "
                                      f"{cp.size} does not verify\n")
    t = int(clock.now()) if now_s is None else now_s
    line = cosign(opened.text, cosigner, max(t, 1))
    kept = [s for s in (*opened.signatures, *opened.unverified)
            if (s.name, s.key_id) != (cosigner.name, cosigner.key_id)]
    cosigned = opened.text + "\n" + "".join(s.line() for s in kept) + line
    try:
        log_.set_witnessed(origin, target.peer, None if stored_key is None else stored_key[0],
                           cp.size, cp.root, cosigned)
    except Conflict:
        if retries > 0:  # another request for this origin went first: check against it
            return add_checkpoint(log_, body, known, cosigner, now_s=now_s, retries=retries - 1)
        current = log_.witnessed(origin)
        return _size_answer(current[0] if current else 0)
    return WitnessAnswer(200, line, TEXT, cosigned)


def _rewrite(log_: ExchangeLog, target: KnownLog, message: str, note: str,
             old_note: str) -> None:
    log_.record_alert(target.peer, message, note + "\n" + old_note)


__all__ = ["SIZE_TYPE", "KnownLog", "WitnessAnswer", "add_checkpoint", "known_logs"]
