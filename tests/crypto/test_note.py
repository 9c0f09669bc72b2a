"""crypto.note: C2SP signed-note, checked against golang/mod sumdb/note vectors."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from crypto import keys, note
from crypto.errors import NoteError, SignatureInvalid

# golang/mod sumdb/note test values (BSD-3-Clause), vendored; see vectors/README.md
VECTOR_FILE = Path(__file__).parent / "vectors" / "signed-note" / "go-sumdb-note.json"
GO = json.loads(VECTOR_FILE.read_text())
PETER = note.parse_verifier_key(GO["keys"]["PeterNeumann"]["verifier"])
ENOCH = note.parse_verifier_key(GO["keys"]["EnochRoot"]["verifier"])
PETER_SIGNER = note.parse_signer_key(GO["keys"]["PeterNeumann"]["signer"])


def test_go_vector_only_peter_known() -> None:
    opened = note.open_note(GO["note"], [PETER])
    assert opened.text == GO["text"]
    assert [s.name for s in opened.signatures] == ["PeterNeumann"]
    assert [s.name for s in opened.unverified] == ["EnochRoot"]
    assert opened.unverified[0].base64 == GO["signatures"]["EnochRoot"]


def test_go_vector_both_known() -> None:
    opened = note.open_note(GO["note"], [PETER, ENOCH])
    assert [s.name for s in opened.signatures] == ["PeterNeumann", "EnochRoot"]
    assert opened.unverified == ()
    assert opened.signed_by("EnochRoot", ENOCH.key_id)


def test_go_vector_no_known_key() -> None:
    stranger = note.NoteSigner("PeterNeumann", keys.generate_signing_key()).verifier()
    with pytest.raises(NoteError, match="not signed by any known key"):
        note.open_note(GO["note"], [stranger])
    with pytest.raises(NoteError):
        note.open_note(GO["note"], [])


def test_go_vector_signature_reproduced() -> None:
    signed = note.sign_note(GO["text"], [PETER_SIGNER])
    _, sigs = note.parse_note(signed)
    assert sigs[0].base64 == GO["signatures"]["PeterNeumann"]
    assert note.format_signer_key(PETER_SIGNER) == GO["keys"]["PeterNeumann"]["signer"]


def test_go_vector_key_ids_and_vkeys() -> None:
    for name, v in (("PeterNeumann", PETER), ("EnochRoot", ENOCH)):
        digest = hashlib.sha256(name.encode() + b"\n\x01" + v.public).digest()
        assert v.key_id == int.from_bytes(digest[:4], "big")
        assert v.vkey() == GO["keys"][name]["verifier"]
    assert PETER_SIGNER.key_id == PETER.key_id == 0xC74F20A3
    assert PETER_SIGNER.verifier() == PETER


@pytest.mark.parametrize("vkey", GO["bad_verifier_keys"])
def test_go_bad_verifier_keys(vkey: str) -> None:
    with pytest.raises(NoteError):
        note.parse_verifier_key(vkey)


@pytest.mark.parametrize(
    ("vkey", "message"),
    [
        ("PeterNeumann+c74f20a3", "expected"),
        ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "name"),
        ("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "hex"),
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
        ("PeterNeumann+c74f20a3+!!!", "base64"),
        ("PeterNeumann+c74f20a3+", "base64|empty"),
    ],
)
def test_bad_verifier_key_messages(vkey: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        note.parse_verifier_key(vkey)


def test_bad_signer_keys() -> None:
    with pytest.raises(NoteError):
        note.parse_signer_key("PRIVATE+KEY+x+00000000")
    skey = GO["keys"]["PeterNeumann"]["signer"]
    with pytest.raises(NoteError, match="does not match"):
        note.parse_signer_key(skey.replace("c74f20a3", "00000000"))


def test_bad_signature_from_known_key_rejects() -> None:
    _text, sigs = note.parse_note(GO["note"])
    raw = bytearray(base64.b64decode(sigs[0].base64))
    raw[10] ^= 1
    bad = GO["note"].replace(sigs[0].base64, base64.b64encode(bytes(raw)).decode())
    with pytest.raises(SignatureInvalid, match="PeterNeumann"):
        note.open_note(bad, [PETER, ENOCH])
    # also when the other, good signature is known
    with pytest.raises(SignatureInvalid):
        note.open_note(bad, [PETER])


def test_name_or_id_match_alone_is_ignored() -> None:
    other = note.NoteSigner("EnochRoot", keys.generate_signing_key())
    signed = note.sign_note(GO["text"], [other])
    with pytest.raises(NoteError, match="not signed by any known key"):
        note.open_note(signed, [ENOCH])


def test_tampered_text_rejects() -> None:
    bad = GO["note"].replace("cryptography", "Cryptography", 1)
    with pytest.raises(SignatureInvalid):
        note.open_note(bad, [PETER])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no newline", "end with a newline"),
        ("tab\there\n", "control character 0x09"),
        ("cr\r\n", "control character 0x0d"),
    ],
)
def test_sign_rejects_bad_text(text: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        note.sign_note(text, [PETER_SIGNER])


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("text\n", "no blank line"),
        ("text\n\n", "no signature lines"),
        ("text\n\n— PeterNeumann x08go", "does not end in newline"),
        ("text\n\n- PeterNeumann AAAAAAA=\n", "em dash"),
        ("text\n\n— Peter+Neumann AAAAAAA=\n", "bad key name"),
        ("text\n\n— PeterNeumann\n", "bad key name or no signature"),
        ("text\n\n— PeterNeumann AAAA\n", "too short"),
        ("text\n\n— PeterNeumann ***\n", "base64"),
        ("te\x01xt\n\n— PeterNeumann AAAAAAA=\n", "control character"),
    ],
)
def test_malformed_notes(raw: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        note.open_note(raw, [PETER])


def test_invalid_utf8() -> None:
    with pytest.raises(NoteError, match="UTF-8"):
        note.open_note(b"\xff\n\n\xe2\x80\x94 x AAAAAAA=\n", [PETER])
    assert note.open_note(GO["note"].encode(), [PETER]).text == GO["text"]


def test_text_with_blank_lines_uses_last_blank_line() -> None:
    text = "first\n\nsecond paragraph\n"
    signed = note.sign_note(text, [PETER_SIGNER])
    assert note.open_note(signed, [PETER]).text == text


def _signers(n: int) -> list[note.NoteSigner]:
    seed = hashlib.sha256(b"statenode-test").digest()
    return [note.NoteSigner(f"w{i}.example", keys.signing_key_from_seed(
        hashlib.sha256(seed + bytes([i])).digest())) for i in range(n)]


SIGNERS = _signers(20)


def test_sixteen_and_more_signatures_accepted() -> None:
    signed = note.sign_note("hello\n", SIGNERS)
    opened = note.open_note(signed, [s.verifier() for s in SIGNERS[:16]])
    assert len(opened.signatures) == 16 and len(opened.unverified) == 4


def test_signature_cap() -> None:
    line = note.sign_note("hello\n", SIGNERS[:1]).split("\n\n")[1]
    extra = "".join(f"— x{i} AAAAAAA=\n" for i in range(note.MAX_SIGNATURES))
    with pytest.raises(NoteError, match="at most"):
        note.open_note("hello\n\n" + line + extra, [SIGNERS[0].verifier()])


def test_duplicates_are_dropped() -> None:
    signed = note.sign_note("hello\n", SIGNERS[:2])
    _, block = signed.split("\n\n")
    doubled = signed + block
    opened = note.open_note(doubled, [SIGNERS[0].verifier()])
    assert len(opened.signatures) == 1 and len(opened.unverified) == 1


def test_ambiguous_verifiers_refused() -> None:
    with pytest.raises(NoteError, match="share name"):
        note.open_note(GO["note"], [PETER, PETER])


def test_add_signatures_keeps_existing_lines() -> None:
    opened = note.open_note(GO["note"], [PETER])
    cosigned = note.add_signatures(opened, [SIGNERS[0]])
    assert cosigned.startswith(GO["note"])  # existing lines kept, in order
    again = note.open_note(cosigned, [PETER, ENOCH, SIGNERS[0].verifier()])
    assert [s.name for s in again.signatures] == ["PeterNeumann", "EnochRoot", "w0.example"]
    # re-signing with the same key replaces its line rather than duplicating it
    resigned = note.add_signatures(again, [SIGNERS[0]])
    assert resigned.count("w0.example") == 1


def test_signer_validation() -> None:
    with pytest.raises(NoteError, match="key name"):
        note.NoteSigner("bad name", keys.generate_signing_key())
    with pytest.raises(NoteError, match="at least one signer"):
        note.sign_note("x\n", [])
    with pytest.raises(NoteError, match="32 raw bytes"):
        note.NoteVerifier("x", b"short")
    with pytest.raises(NoteError, match="does not match"):
        note.NoteVerifier("x", PETER.public, key_id=1)
    assert "c74f20a3" in repr(PETER_SIGNER)
