"""Exchange-log leaves, export lines, verify_export and cross_check (pure, no I/O)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto import merkle
from crypto.checkpoint import Checkpoint, CosignatureSigner, add_cosignature, sign_checkpoint
from crypto.keys import generate_encryption_key, key_id, signing_key_from_seed
from crypto.note import NoteSigner
from protocol.audit import LEAF_TAG, LogEntry, entry_line, field_differences, parse_line
from protocol.audit_verify import cross_check, verify_export
from protocol.codec import pack
from protocol.directory import DirectoryEntry, DirectorySnapshot, sign_snapshot
from protocol.envelope import seal_envelope
from protocol.errors import MalformedMessage, ProtocolError
from protocol.messages import Demographics, Find, FindCriteria, Requester

NOW = 1_760_000_000_000
AUTH = signing_key_from_seed(b"\x01" * 32)
KEYS = {"TX": signing_key_from_seed(b"\x02" * 32), "CA": signing_key_from_seed(b"\x03" * 32)}
ENC = generate_encryption_key()
FIND = Find(FindCriteria(Demographics("Ana", "Ruiz")), Requester("u1", "staff", "S"),
            "placement")


def entry(sender: str = "TX", recipient: str = "CA", me: str = "TX", n: int = 0) -> LogEntry:
    env = seal_envelope(signing_key=KEYS[sender], sender=sender, recipient=recipient,
                        recipient_key=ENC.public, recipient_key_id=ENC.key_id, message=FIND,
                        now_ms=NOW + n, ttl_ms=60_000, purpose="placement")
    out = sender == me
    return LogEntry(NOW + n, "out" if out else "in", recipient if out else sender, "find",
                    env.header.message_id, None, "placement", "u1", "staff", ("s-1",),
                    env.header_bytes, env.body_hash, env.signature, sender)


def directory() -> bytes:
    entries = tuple(DirectoryEntry(n, n, ("http://127.0.0.1:1",), k.public, key_id(k.public),
                                   "active", NOW + 10**10) for n, k in KEYS.items())
    return sign_snapshot(DirectorySnapshot(1, NOW, NOW + 1000, entries), AUTH)


def checkpoint(leaves: list[bytes], key=KEYS["TX"]) -> str:  # type: ignore[no-untyped-def]
    root = merkle.root_from_leaf_hashes([merkle.leaf_hash(x) for x in leaves])
    return sign_checkpoint(Checkpoint("TX", len(leaves), root), [NoteSigner("TX", key)])


def test_leaf_round_trip_and_line() -> None:
    e = entry()
    leaf = e.to_leaf()
    assert LogEntry.from_leaf(leaf) == e
    line = parse_line(entry_line(3, leaf, e), 4)
    assert line.index == 3 and line.leaf == leaf
    assert field_differences(e, line.fields) == []


def test_leaf_is_strict() -> None:
    e = entry()
    items = [LEAF_TAG, e.time_ms, e.direction, e.peer, e.type, e.message_id, e.reply_to,
             e.purpose, e.user_id, e.user_role, list(e.student_ids), e.header_bytes,
             e.body_hash, e.signature, e.signer]
    assert pack(items) == e.to_leaf()
    for i, bad, msg in ((0, "other/v1", "tag"), (2, "sideways", "leaf.direction"),
                        (5, b"short", "leaf.message_id"), (13, b"x" * 63, "leaf.signature"),
                        (3, "texas", "leaf.peer")):
        broken = list(items)
        broken[i] = bad
        with pytest.raises(MalformedMessage, match=msg):
            LogEntry.from_leaf(pack(broken))
    with pytest.raises(MalformedMessage):
        LogEntry.from_leaf(e.to_leaf() + b"\x00")
    # a non-canonical encoding (str8 where a fixstr fits) is refused
    leaf = e.to_leaf()
    assert b"\xa3out" in leaf
    with pytest.raises(MalformedMessage, match="canonical"):
        LogEntry.from_leaf(leaf.replace(b"\xa3out", b"\xd9\x03out", 1))


@given(st.binary(max_size=200))
def test_from_leaf_never_crashes(data: bytes) -> None:
    try:
        LogEntry.from_leaf(data)
    except ProtocolError:
        pass


def test_parse_line_errors() -> None:
    for text, msg in (("{", "not valid JSON"), ("[]", "not a JSON object"),
                      ('{"index": -1, "leaf": ""}', "'index'"),
                      ('{"index": 0, "leaf": "!!"}', "not valid base64"),
                      ('{"index": 0, "leaf": "", "zzz": 1}', "unexpected field")):
        with pytest.raises(MalformedMessage, match=f"line 7: .*{msg}"):
            parse_line(text, 7)


def test_verify_export_happy_and_problems() -> None:
    entries = [entry(n=i) for i in range(3)] + [entry("CA", "TX", n=9)]
    leaves = [e.to_leaf() for e in entries]
    vkey = NoteSigner("TX", KEYS["TX"]).verifier().vkey()
    note = checkpoint(leaves)
    assert verify_export(note, vkey, leaves, directory(), AUTH.public) == []
    # a witness cosignature from a directory node is checked; a required one must exist
    ca = CosignatureSigner("CA", KEYS["CA"])
    cosigned = add_cosignature(note, NoteSigner("TX", KEYS["TX"]).verifier(), ca, 1_700_000_000)
    assert verify_export(cosigned, vkey, leaves, directory(), AUTH.public,
                         [ca.verifier().vkey()]) == []
    probs = verify_export(note, vkey, leaves, directory(), AUTH.public, [ca.verifier().vkey()])
    assert [p.where for p in probs] == ["witness CA"]
    # wrong authority, unknown sender, header/entry mismatch
    other = signing_key_from_seed(b"\x09" * 32)
    assert "directory" in str(verify_export(note, vkey, leaves, directory(), other.public)[0])
    e = entries[1]
    lying = LogEntry(e.time_ms, e.direction, e.peer, e.type, e.message_id, None, "enrollment",
                     e.user_id, e.user_role, e.student_ids, e.header_bytes, e.body_hash,
                     e.signature, e.signer)
    leaves2 = [leaves[0], lying.to_leaf(), *leaves[2:]]
    probs = verify_export(checkpoint(leaves2), vkey, leaves2, directory(), AUTH.public)
    assert [str(p) for p in probs] == [
        "entry 1: signed header purpose differs from the logged entry "
        "('placement' vs 'enrollment')"]
    bad_sig = LogEntry(*(e.__dict__[k] for k in list(e.__dict__)[:12]),
                       hashlib.sha256(b"x").digest()[:0] + bytes(64), e.signer)
    leaves3 = [leaves[0], bad_sig.to_leaf(), *leaves[2:]]
    probs = verify_export(checkpoint(leaves3), vkey, leaves3, directory(), AUTH.public)
    assert str(probs[0]).startswith("entry 1: sender signature does not verify")


def test_verify_export_without_authority_says_so() -> None:
    leaves = [entry().to_leaf()]
    vkey = NoteSigner("TX", KEYS["TX"]).verifier().vkey()
    probs = verify_export(checkpoint(leaves), vkey, leaves, directory(), None)
    assert probs[0].where == "directory" and "no authority key" in probs[0].message


def test_cross_check_matches_both_sides() -> None:
    sent = entry("TX", "CA", me="TX", n=1)
    got = LogEntry(*(sent.__dict__[k] for k in list(sent.__dict__)[:1]), "in", "TX",
                   *(sent.__dict__[k] for k in list(sent.__dict__)[3:]))
    assert cross_check([(0, sent)], "TX", [(0, got)], "CA") == []
    assert "logged by TX (entry 0, out) but not by CA" in str(
        cross_check([(0, sent)], "TX", [], "CA")[0])
    tampered = LogEntry(*(got.__dict__[k] for k in list(got.__dict__)[:11]),
                        hashlib.sha256(b"other").digest(), got.signature, got.signer)
    diffs = cross_check([(0, sent)], "TX", [(5, tampered)], "CA")
    assert "body hash differ between TX entry 0 and CA entry 5" in str(diffs[0])
