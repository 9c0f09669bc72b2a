"""C2SP tlog-witness v1.0.0 `add-checkpoint` (node/audit/witness.py): every status code
the specification names, a rewritten history refused (and recorded), the atomic
check-and-store, the origin migration, and the log's side (submission, a 409 answered
with the size the witness names, the witness's cosignature checked with its key)."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import pytest

from crypto import merkle
from crypto.checkpoint import (
    Checkpoint,
    CosignatureSigner,
    format_add_checkpoint,
    parse_add_checkpoint,
    parse_signature_lines,
    sign_checkpoint,
    verify_cosignature,
)
from crypto.errors import NoteError
from crypto.keys import generate_signing_key
from crypto.note import NoteSigner
from node.audit.cosigning import (
    LogRewriteDetected,
    apply_cosignatures,
    build_cosign_request,
    cosign_peer_checkpoint,
    submission,
)
from node.audit.exchange_log import ExchangeLog
from node.audit.witness import SIZE_TYPE, KnownLog, add_checkpoint, known_logs
from node.errors import BadRequest
from tests.node.auditlog_helpers import Federation, exchange

ORIGIN = "statenode.tea.example/TX/log"
WITNESS_KEY = generate_signing_key()
WITNESS = CosignatureSigner("statenode.cde.example/CA/witness", WITNESS_KEY)


@pytest.fixture
def fed() -> Federation:
    return Federation()


def tx_log(fed: Federation, tmp: Path, origin: str = ORIGIN, name: str = "tx") -> ExchangeLog:
    return ExchangeLog(tmp / f"{name}.db", fed.signing["TX"], origin, node_id="TX")


def ca_log(fed: Federation, tmp: Path) -> ExchangeLog:
    return ExchangeLog(tmp / "ca.db", fed.signing["CA"], "statenode.cde.example/CA/log",
                       node_id="CA", witness_key=WITNESS_KEY, witness_name=WITNESS.name)


def grow(fed: Federation, log: ExchangeLog, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        exchange(fed, {"TX": log}, "TX", "CA", i)


def known(fed: Federation) -> dict[str, KnownLog]:
    return {k.origin: k for k in known_logs("TX", (ORIGIN, "TX"), (fed.signing["TX"].public,))}


def submit(witness: ExchangeLog, fed: Federation, body: bytes):  # type: ignore[no-untyped-def]
    return add_checkpoint(witness, body, known(fed).get, witness.cosigner, now_s=1_760_000_000)


def test_first_submission_is_cosigned_and_the_next_needs_a_proof(fed, tmp_path) -> None:
    tx, ca = tx_log(fed, tmp_path), ca_log(fed, tmp_path)
    grow(fed, tx, 3)
    tx.sign_checkpoint()
    body = submission(tx, WITNESS.name)
    assert body.startswith(b"old 0\n\n" + ORIGIN.encode() + b"\n")
    answer = submit(ca, fed, body)
    assert (answer.status, answer.content_type) == (200, "text/plain; charset=utf-8")
    lines = parse_signature_lines(answer.body)
    assert len(lines) == 1 and lines[0].startswith(f"\u2014 {WITNESS.name} ")
    assert verify_cosignature(answer.note, WITNESS.verifier()) == 1_760_000_000
    stored = apply_cosignatures(tx, body, answer.body, WITNESS.verifier())
    assert verify_cosignature(stored, WITNESS.verifier()) > 0
    assert tx.cosigned_size(WITNESS.name) == 6
    grow(fed, tx, 2, start=3)
    tx.sign_checkpoint()
    body = submission(tx, WITNESS.name)
    req = parse_add_checkpoint(body)
    assert req.old_size == 6 and len(req.proof) > 0
    assert submit(ca, fed, body).status == 200
    assert ca.witnessed(ORIGIN)[0] == 10


def test_every_status_code(fed, tmp_path) -> None:
    tx, ca = tx_log(fed, tmp_path), ca_log(fed, tmp_path)
    grow(fed, tx, 2)
    note = tx.sign_checkpoint()
    assert submit(ca, fed, format_add_checkpoint(0, [], note)).status == 200  # size 4
    grow(fed, tx, 2, start=2)
    note8 = tx.sign_checkpoint()
    proof = tx.consistency_proof(4, 8)

    def status(body: bytes) -> tuple[int, str, str]:
        a = submit(ca, fed, body)
        return a.status, a.body, a.content_type

    # 400: malformed bodies
    for bad in (b"", b"old 4\n" + note8.encode(), b"old 04\n\n" + note8.encode(),
                b"old -1\n\n" + note8.encode(), b"new 4\n\n" + note8.encode(),
                b"old 4\nnot base64!\n\n" + note8.encode(), b"\xff\xfe",
                b"old 4\n\n" + ORIGIN.encode() + b"\n8\nroot\n\n\xe2\x80\x94 x y\n"):
        assert status(bad)[0] == 400, bad
    hash_line = base64.b64encode(b"\x00" * 32) + b"\n"
    assert status(b"old 4\n" + hash_line * 64 + b"\n" + note8.encode())[0] == 400  # > 63
    # 400: old size larger than the checkpoint's
    assert status(format_add_checkpoint(9, [], note8))[0] == 400
    # 404: an origin we do not witness
    other = sign_checkpoint(Checkpoint("example.com/unknown", 1, b"\x01" * 32),
                            [NoteSigner("example.com/unknown", fed.signing["TX"])])
    assert status(format_add_checkpoint(0, [], other))[0] == 404
    # 403: signed by an unknown key, or a bad signature by the known key
    impostor = sign_checkpoint(Checkpoint(ORIGIN, 8, merkle.EMPTY_ROOT),
                               [NoteSigner(ORIGIN, generate_signing_key())])
    assert status(format_add_checkpoint(4, proof, impostor))[0] == 403
    text, sig = note8.split("\n\n")
    raw = bytearray(base64.b64decode(sig.split(" ")[2]))
    raw[10] ^= 1
    forged = text + "\n\n" + f"\u2014 {ORIGIN} {base64.b64encode(bytes(raw)).decode()}\n"
    assert status(format_add_checkpoint(4, proof, forged))[0] == 403
    # 409: an old size other than the one we cosigned, with the size in text/x.tlog.size
    assert status(format_add_checkpoint(2, tx.consistency_proof(2, 8), note8)) == (
        409, "4\n", SIZE_TYPE)
    assert status(format_add_checkpoint(0, [], note8)) == (409, "4\n", SIZE_TYPE)
    # 422: a proof from size 0, or a proof that does not verify
    assert status(format_add_checkpoint(4, [b"\x00" * 32], note8))[0] == 422
    # 200 with the right proof
    assert status(format_add_checkpoint(4, proof, note8))[0] == 200
    # 409: the same size as cosigned, with another root
    fork = sign_checkpoint(Checkpoint(ORIGIN, 8, b"\x07" * 32), [tx.signer])
    assert status(format_add_checkpoint(8, [], fork)) == (409, "8\n", SIZE_TYPE)
    assert ca.alerts()[-1]["message"].endswith("forked its exchange log")
    # the same checkpoint again: fine (idempotent)
    assert status(format_add_checkpoint(8, [], note8))[0] == 200
    # 422: a proof from 0 for a log never seen, and a size-0 checkpoint with another root
    ca2 = ExchangeLog(tmp_path / "ca2.db", fed.signing["CA"], "CA")
    empty_wrong = sign_checkpoint(Checkpoint(ORIGIN, 0, b"\x01" * 32), [tx.signer])
    answer = add_checkpoint(ca2, format_add_checkpoint(0, [], empty_wrong), known(fed).get,
                            ca2.cosigner)
    assert answer.status == 422
    answer = add_checkpoint(ca2, format_add_checkpoint(0, [b"\x00" * 32], note8),
                            known(fed).get, ca2.cosigner)
    assert answer.status == 422


def test_a_rewritten_history_is_refused(fed, tmp_path) -> None:
    """TX's witness cosigned 6 entries; TX then rewrites entry 1 and grows the log. The
    proof from the cosigned size does not hold: 422, nothing cosigned, an alert kept."""
    tx, ca = tx_log(fed, tmp_path), ca_log(fed, tmp_path)
    grow(fed, tx, 3)
    tx.sign_checkpoint()
    assert submit(ca, fed, submission(tx, WITNESS.name)).status == 200
    forged = tx_log(fed, tmp_path, name="forged")
    for i in range(3):
        exchange(fed, {"TX": forged}, "TX", "CA", 100 + i if i == 1 else i)
    grow(fed, forged, 2, start=3)
    forged.sign_checkpoint()
    body = submission(forged, WITNESS.name, old_size=6)
    answer = submit(ca, fed, body)
    assert answer.status == 422
    assert ca.witnessed(ORIGIN)[0] == 6  # our view did not move
    alert = ca.alerts()[-1]
    assert alert["peer"] == "TX" and "TX rewrote its exchange log" in alert["message"]
    # and a rollback (a smaller checkpoint) is refused too
    small = sign_checkpoint(Checkpoint(ORIGIN, 4, tx.root(4)), [tx.signer])
    assert submit(ca, fed, format_add_checkpoint(6, [], small)).status == 400
    assert submit(ca, fed, format_add_checkpoint(0, [], small)).status == 409


def test_the_legacy_origin_state_carries_over(fed, tmp_path) -> None:
    """TX was witnessed under its legacy origin "TX" (by the previous release), then set
    audit.origin: its first checkpoint under the new origin must be consistent with the
    last one we cosigned under the old."""
    legacy = tx_log(fed, tmp_path, origin="TX")
    ca = ca_log(fed, tmp_path)
    grow(fed, legacy, 3)
    legacy.sign_checkpoint()
    assert submit(ca, fed, submission(legacy, "CA")).status == 200
    legacy.close()
    tx = tx_log(fed, tmp_path)  # the same file, now with the configured origin
    grow(fed, tx, 1, start=3)
    tx.sign_checkpoint()
    first = submit(ca, fed, submission(tx, WITNESS.name))
    assert (first.status, first.body) == (409, "6\n")  # the size it knows under "TX"
    answer = submit(ca, fed, submission(tx, WITNESS.name, old_size=6))
    assert answer.status == 200 and ca.witnessed(ORIGIN)[0] == 8
    assert ca.witnessed("TX")[0] == 6
    # the old origin's checkpoints stay stored and verifiable
    assert tx.checkpoint_note(6, origin="TX") is not None
    assert tx.latest_checkpoint().startswith(ORIGIN + "\n8\n")


def test_a_concurrent_request_cannot_roll_back(fed, tmp_path, monkeypatch) -> None:
    tx, ca = tx_log(fed, tmp_path), ca_log(fed, tmp_path)
    grow(fed, tx, 2)
    tx.sign_checkpoint()
    b4 = submission(tx, WITNESS.name)
    grow(fed, tx, 2, start=2)
    tx.sign_checkpoint()
    b8 = submission(tx, WITNESS.name)  # also "old 0": the witness never saw TX yet
    real = ca.witnessed
    calls = {"n": 0}

    def racing(origin: str):  # type: ignore[no-untyped-def]
        """Before the first request stores size 4, another stores size 8."""
        got = real(origin)
        calls["n"] += 1
        if calls["n"] == 1:
            assert submit_plain(ca, fed, b8).status == 200
        return got

    def submit_plain(log, fed, body):  # type: ignore[no-untyped-def]
        monkeypatch.setattr(ca, "witnessed", real)
        try:
            return submit(log, fed, body)
        finally:
            monkeypatch.setattr(ca, "witnessed", racing)

    monkeypatch.setattr(ca, "witnessed", racing)
    answer = submit(ca, fed, b4)
    assert (answer.status, answer.body) == (409, "8\n")
    monkeypatch.setattr(ca, "witnessed", real)
    assert ca.witnessed(ORIGIN)[0] == 8


def test_the_cosign_message_runs_the_same_check(fed, tmp_path) -> None:
    """A node one release behind asks with `cosign` (its origin is its node id); the answer
    carries our legacy cosignature, and a rewrite is refused the same way."""
    legacy = tx_log(fed, tmp_path, origin="TX")
    ca = ca_log(fed, tmp_path)
    grow(fed, legacy, 3)
    legacy.sign_checkpoint()
    reply = cosign_peer_checkpoint(ca, "TX", [fed.signing["TX"].public],
                                   build_cosign_request(legacy, peer="CA"))
    from crypto.checkpoint import CosignatureVerifier
    verify_cosignature(reply.note, CosignatureVerifier("CA", fed.signing["CA"].public))
    with pytest.raises(BadRequest):
        cosign_peer_checkpoint(ca, "TX", [generate_signing_key().public],
                               build_cosign_request(legacy, peer="CA"))
    forged = tx_log(fed, tmp_path, origin="TX", name="forged")
    for i in range(4):
        exchange(fed, {"TX": forged}, "TX", "CA", 50 + i)
    forged.sign_checkpoint()
    with pytest.raises(LogRewriteDetected, match="TX rewrote its exchange log"):
        cosign_peer_checkpoint(ca, "TX", [fed.signing["TX"].public],
                               build_cosign_request(forged, 6))


def test_a_witness_answer_that_does_not_verify_is_not_kept(fed, tmp_path) -> None:
    tx, ca = tx_log(fed, tmp_path), ca_log(fed, tmp_path)
    grow(fed, tx, 1)
    tx.sign_checkpoint()
    body = submission(tx, WITNESS.name)
    answer = submit(ca, fed, body)
    other = CosignatureSigner(WITNESS.name, generate_signing_key())
    with pytest.raises(BadRequest, match="no valid cosignature"):
        apply_cosignatures(tx, body, answer.body, other.verifier())
    with pytest.raises(BadRequest):
        apply_cosignatures(tx, body, "not a signature line\n", WITNESS.verifier())
    assert tx.cosigned_size(WITNESS.name) == 0


def test_request_parsing_rules() -> None:
    note = "example.com/log\n1\n" + base64.b64encode(b"\x01" * 32).decode() + "\n\n\u2014 x y\n"
    h = base64.b64encode(b"\x02" * 32).decode()
    req = parse_add_checkpoint(f"old 0\n{h}\n\n{note}".encode())
    assert (req.old_size, req.proof, req.note) == (0, (b"\x02" * 32,), note)
    for bad in ("old 0\n" + note, f"old 0\n{h[:-1]}\n\n{note}", f"old 0\n{h}x\n\n{note}",
                "old  0\n\n" + note, f"old 0\n{base64.b64encode(b'x' * 31).decode()}\n\n{note}"):
        with pytest.raises(NoteError):
            parse_add_checkpoint(bad.encode())
    assert format_add_checkpoint(3, [b"\x02" * 32], note) == f"old 3\n{h}\n\n{note}".encode()
    with pytest.raises(NoteError):
        format_add_checkpoint(3, [b"\x02" * 32] * 64, note)
    assert dataclasses.is_dataclass(req)
