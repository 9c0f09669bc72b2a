"""C2SP checkpoints, Ed25519 cosignatures and offline proofs for the exchange log.

Owns three text formats, all carried in C2SP signed notes (`crypto.note`):

* `tlog-checkpoint` v1.0.0 — note text `<origin>\\n<size>\\n<base64 root>\\n[extension
  lines]`; parsing is strict (no leading zeros, 32-byte root, origin without spaces or
  '+', non-empty extension lines).
* `tlog-cosignature` v1, Ed25519 flavour (signature type 0x04): the key id is
  `SHA-256(name || 0x0A || 0x04 || public)[:4]`; the signature field is
  `key id || u64 big-endian timestamp || Ed25519 signature` over
  `"cosignature/v1\\ntime <unix seconds>\\n" || checkpoint note text`.
* `tlog-proof@v1` — `c2sp.org/tlog-proof@v1`, optional `extra <base64>`, `index <n>`,
  base64 inclusion-path lines, a blank line, then the signed checkpoint verbatim.
* `tlog-witness` v1.0.0 `add-checkpoint` request bodies — `old <size>`, zero to 63 base64
  consistency-proof lines, a blank line, then the signed checkpoint note
  (`format_add_checkpoint`, `parse_add_checkpoint`); the answer is one or more note
  signature lines (`parse_signature_lines`).

A node's checkpoints use origin = key name = node id, signed with `NoteSigner`; peers
cosign with `CosignatureSigner` (a separate key per cosigner, as the spec requires).
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from crypto import merkle
from crypto.errors import KeyFileError, NoteError, ProofError, SignatureInvalid
from crypto.keys import SigningKey, check_public_key
from crypto.merkle_verify import verify_inclusion
from crypto.note import (
    OpenedNote,
    Signer,
    Verifier,
    b64decode_strict,
    check_name,
    check_text,
    compute_key_id,
    format_verifier_key,
    is_valid_name,
    open_note,
    parse_verifier_key_fields,
    sign_note,
)
from crypto.sign import sign_raw, verify_raw

COSIGNATURE_V1 = 0x04
MAX_TIMESTAMP = 2**63 - 1
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, tree size, RFC 9162 root, optional extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not is_valid_name(self.origin):
            raise NoteError(f"checkpoint origin {self.origin!r} must be non-empty, no spaces/'+'")
        if self.size < 0:
            raise NoteError(f"checkpoint size must not be negative, got {self.size}")
        if len(self.root) != merkle.HASH_LEN:
            raise NoteError(f"checkpoint root must be 32 bytes, got {len(self.root)}")
        for n, ext in enumerate(self.extensions, start=4):
            if not ext or "\n" in ext:
                raise NoteError(f"checkpoint line {n}: an extension line must be non-empty")


def format_checkpoint(cp: Checkpoint) -> str:
    """The checkpoint note text (ends with a newline)."""
    lines = [cp.origin, str(cp.size), base64.b64encode(cp.root).decode(), *cp.extensions]
    text = "\n".join(lines) + "\n"
    check_text(text)
    return text


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse checkpoint note text strictly; raise `NoteError` naming the bad line."""
    check_text(text)
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError(f"checkpoint has {len(lines)} lines; origin, size and root are required")
    origin, size, root, *ext = lines
    if not is_valid_name(origin):
        raise NoteError(f"checkpoint line 1: origin {origin!r} must be non-empty, no spaces/'+'")
    if not _DECIMAL.fullmatch(size):
        raise NoteError(f"checkpoint line 2: size {size!r} is not a decimal without leading zeros")
    raw = b64decode_strict(root, "checkpoint line 3 (root hash)")
    if len(raw) != merkle.HASH_LEN:
        raise NoteError(f"checkpoint line 3: root hash is {len(raw)} bytes, expected 32")
    if base64.b64encode(raw).decode() != root:
        raise NoteError("checkpoint line 3: root hash is not canonical base64")
    return Checkpoint(origin, int(size), raw, tuple(ext))


def sign_checkpoint(cp: Checkpoint, signers: Sequence[Signer]) -> str:
    """A signed checkpoint note."""
    return sign_note(format_checkpoint(cp), signers)


@dataclass(frozen=True)
class OpenedCheckpoint:
    checkpoint: Checkpoint
    note: OpenedNote


def open_checkpoint(
    note: str | bytes, verifiers: Sequence[Verifier], *, origin: str | None = None
) -> OpenedCheckpoint:
    """Verify a signed checkpoint (see `crypto.note.open_note`) and parse its text.

    With `origin`, the checkpoint must be that log's and carry a verified signature by a
    key of that name (the log's own key, not only a witness).
    """
    opened = open_note(note, verifiers)
    cp = parse_checkpoint(opened.text)
    if origin is not None:
        if cp.origin != origin:
            raise NoteError(f"checkpoint is for log {cp.origin!r}, expected {origin!r}")
        if not opened.signed_by(origin):
            raise NoteError(f"checkpoint carries no verified signature by the log {origin!r}")
    return OpenedCheckpoint(cp, opened)


# --- tlog-cosignature v1 (Ed25519, type 0x04) ----------------------------------------------


def cosigned_message(text: bytes, timestamp: int) -> bytes:
    """`cosignature/v1\\ntime <timestamp>\\n` followed by the checkpoint note text."""
    return b"cosignature/v1\ntime %d\n" % timestamp + text


def _check_timestamp(timestamp: int) -> None:
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise NoteError(f"cosignature timestamp {timestamp} is out of range")


@dataclass(frozen=True)
class CosignatureSigner:
    """A witness's Ed25519 cosigning key (type 0x04). `sign` stamps the current time."""

    name: str
    key: SigningKey

    def __post_init__(self) -> None:
        check_name(self.name, "cosigner name")

    @property
    def key_id(self) -> int:
        return compute_key_id(self.name, COSIGNATURE_V1, self.key.public)

    def sign_at(self, text: bytes, timestamp: int) -> bytes:
        _check_timestamp(timestamp)
        sig = sign_raw(self.key, cosigned_message(text, timestamp))
        return timestamp.to_bytes(8, "big") + sig

    def sign(self, text: bytes) -> bytes:
        return self.sign_at(text, int(time.time()))

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.key.public)

    def __repr__(self) -> str:
        return f"CosignatureSigner(name={self.name!r}, key_id={self.key_id:08x})"


@dataclass(frozen=True)
class CosignatureVerifier:
    """A witness's public key for v1 Ed25519 cosignatures (type 0x04)."""

    name: str
    public: bytes
    key_id: int = -1  # computed from name and key when left out

    def __post_init__(self) -> None:
        check_name(self.name, "cosigner name")
        try:
            check_public_key(self.public, what=f"cosigner key {self.name}")
        except KeyFileError as exc:
            raise NoteError(str(exc)) from exc
        expected = compute_key_id(self.name, COSIGNATURE_V1, self.public)
        if self.key_id == -1:
            object.__setattr__(self, "key_id", expected)
        elif self.key_id != expected:
            raise NoteError(f"cosigner key {self.name}: key id does not match the key")

    @property
    def sig_type(self) -> int:
        return COSIGNATURE_V1

    def verify(self, text: bytes, signature: bytes) -> bool:
        if len(signature) != 8 + 64:
            return False
        timestamp = int.from_bytes(signature[:8], "big")
        if timestamp > MAX_TIMESTAMP:
            return False
        try:
            verify_raw(self.public, cosigned_message(text, timestamp), signature[8:])
        except SignatureInvalid:
            return False
        return True

    def vkey(self) -> str:
        return format_verifier_key(self.name, COSIGNATURE_V1, self.public)


def parse_cosigner_key(vkey: str) -> CosignatureVerifier:
    """Parse a witness vkey `<name>+<hex id>+<base64(0x04 || 32-byte key)>`."""
    name, key_id, sig_type, public = parse_verifier_key_fields(vkey)
    if sig_type != COSIGNATURE_V1:
        raise NoteError(
            f"cosigner key {name}: signature type 0x{sig_type:02x} is not a v1 cosignature (0x04)"
        )
    return CosignatureVerifier(name, public, key_id)


def cosign(note_text: str, signer: CosignatureSigner, timestamp: int) -> str:
    """The cosignature line `— <name> <base64(id || timestamp || sig)>\\n` over `note_text`."""
    parse_checkpoint(note_text)
    raw = signer.key_id.to_bytes(4, "big") + signer.sign_at(note_text.encode(), timestamp)
    return f"\u2014 {signer.name} {base64.b64encode(raw).decode()}\n"


def add_cosignature(
    note: str, log: Verifier, signer: CosignatureSigner, timestamp: int
) -> str:
    """Verify `note` as signed by `log`, then re-emit it with this witness's cosignature.

    The caller must already have checked consistency with the last checkpoint it cosigned.
    """
    opened = open_note(note, [log])
    parse_checkpoint(opened.text)
    line = cosign(opened.text, signer, timestamp)
    have = (signer.name, signer.key_id)
    kept = [s for s in opened.signatures + opened.unverified if (s.name, s.key_id) != have]
    return opened.text + "\n" + "".join(s.line() for s in kept) + line


def verify_cosignature(note: str | bytes, witness: CosignatureVerifier) -> int:
    """Check the witness's cosignature on a checkpoint note; return its timestamp.

    Raises `NoteError` if the witness did not cosign, `SignatureInvalid` if it fails.
    """
    opened = open_note(note, [witness])
    parse_checkpoint(opened.text)
    sig = opened.signatures[0]
    return int.from_bytes(sig.signature[:8], "big")


def cosignature_timestamps(opened: OpenedNote, witnesses: Sequence[Verifier]) -> dict[str, int]:
    """Timestamps of the verified cosignatures in `opened`, by witness name."""
    names = {
        (w.name, w.key_id)
        for w in witnesses
        if getattr(w, "sig_type", None) == COSIGNATURE_V1
    }
    return {
        s.name: int.from_bytes(s.signature[:8], "big")
        for s in opened.signatures
        if (s.name, s.key_id) in names
    }


# --- tlog-witness v1.0.0 add-checkpoint ----------------------------------------------------

MAX_WITNESS_PROOF = 63  # "The client MUST NOT send more than 63 consistency proof lines."


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed `add-checkpoint` request body (the checkpoint note is not yet verified)."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str


def format_add_checkpoint(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """`old <size>\n` + one base64 line per proof hash + `\n` + the signed checkpoint."""
    if old_size < 0:
        raise NoteError(f"old size must not be negative, got {old_size}")
    if len(proof) > MAX_WITNESS_PROOF:
        raise NoteError(f"a consistency proof of {len(proof)} hashes is longer than "
                        f"{MAX_WITNESS_PROOF}")
    lines = [f"old {old_size}", *(base64.b64encode(h).decode() for h in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode()


def parse_add_checkpoint(body: bytes | str) -> AddCheckpoint:
    """Parse an `add-checkpoint` body strictly; `NoteError` names the bad line."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError("request body is not valid UTF-8") from exc
    else:
        text = body
    head, sep, note = text.partition("\n\n")
    if not sep or not note:
        raise NoteError("request body has no empty line before the checkpoint")
    lines = head.split("\n")
    first = lines[0]
    if not first.startswith("old ") or not _DECIMAL.fullmatch(first[4:]):
        raise NoteError(f"line 1 must be 'old <size>' in decimal without leading zeros, "
                        f"got {first[:40]!r}")
    if len(lines) - 1 > MAX_WITNESS_PROOF:
        raise NoteError(f"{len(lines) - 1} consistency proof lines; at most "
                        f"{MAX_WITNESS_PROOF} are allowed")
    proof = []
    for n, line in enumerate(lines[1:], start=2):
        h = b64decode_strict(line, f"line {n} (consistency proof)")
        if len(h) != merkle.HASH_LEN or base64.b64encode(h).decode() != line:
            raise NoteError(f"line {n}: a consistency proof line is one base64 SHA-256 hash")
        proof.append(h)
    return AddCheckpoint(int(first[4:]), tuple(proof), note)


def parse_signature_lines(text: str) -> tuple[str, ...]:
    """The note signature lines of an `add-checkpoint` answer (each `— name sig\n`)."""
    if not text or not text.endswith("\n"):
        raise NoteError("the answer must be note signature lines, each ending in a newline")
    lines = text[:-1].split("\n")
    for n, line in enumerate(lines, start=1):
        name, _, sig = line.removeprefix("\u2014 ").partition(" ")
        if not line.startswith("\u2014 ") or not is_valid_name(name) or not sig:
            raise NoteError(f"answer line {n} is not a note signature line")
    return tuple(line + "\n" for line in lines)


# --- tlog-proof@v1 -------------------------------------------------------------------------

TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"


@dataclass(frozen=True)
class TlogProof:
    """An offline inclusion receipt: leaf index, audit path and the signed checkpoint."""

    index: int
    proof: tuple[bytes, ...]
    checkpoint_note: str
    extra: bytes | None = None


def format_tlog_proof(p: TlogProof) -> str:
    lines = [TLOG_PROOF_HEADER]
    if p.extra is not None:
        lines.append("extra " + base64.b64encode(p.extra).decode())
    lines.append(f"index {p.index}")
    lines.extend(base64.b64encode(h).decode() for h in p.proof)
    return "\n".join(lines) + "\n\n" + p.checkpoint_note


def parse_tlog_proof(text: str) -> TlogProof:
    """Parse a tlog-proof; the checkpoint is kept verbatim (verify with `verify_tlog_proof`)."""
    head, sep, note = text.partition("\n\n")
    if not sep or not note:
        raise NoteError("tlog-proof: no blank line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != TLOG_PROOF_HEADER:
        raise NoteError(f"tlog-proof line 1 must be {TLOG_PROOF_HEADER!r}")
    pos = 1
    extra = None
    if pos < len(lines) and lines[pos].startswith("extra "):
        extra = b64decode_strict(lines[pos][6:], "tlog-proof line 2 (extra)")
        pos += 1
    if pos >= len(lines) or not lines[pos].startswith("index "):
        raise NoteError(f"tlog-proof line {pos + 1} must be 'index <n>'")
    index = lines[pos][6:]
    if not _DECIMAL.fullmatch(index):
        raise NoteError(f"tlog-proof line {pos + 1}: index {index!r} is not a plain decimal")
    proof = []
    for n, line in enumerate(lines[pos + 1 :], start=pos + 2):
        h = b64decode_strict(line, f"tlog-proof line {n}")
        if len(h) != merkle.HASH_LEN:
            raise NoteError(f"tlog-proof line {n}: proof hash is {len(h)} bytes, expected 32")
        proof.append(h)
    if len(proof) > 64:
        raise NoteError(f"tlog-proof has {len(proof)} proof hashes; at most 64 are possible")
    return TlogProof(int(index), tuple(proof), note, extra)


def verify_tlog_proof(
    proof: str | TlogProof,
    leaf_hash: bytes,
    log: Verifier,
    witnesses: Sequence[Verifier] = (),
    *,
    min_witnesses: int = 0,
) -> OpenedCheckpoint:
    """Verify a receipt: log signature (origin = log key name), witness quorum, inclusion.

    Raises `NoteError`/`SignatureInvalid` for the checkpoint, `ProofError` for the path.
    """
    p = parse_tlog_proof(proof) if isinstance(proof, str) else proof
    opened = open_checkpoint(p.checkpoint_note, [log, *witnesses], origin=log.name)
    if not opened.note.signed_by(log.name, log.key_id):
        raise NoteError(f"checkpoint carries no verified signature by the log key {log.name}")
    cosigned = sum(opened.note.signed_by(w.name, w.key_id) for w in witnesses)
    if cosigned < min_witnesses:
        raise NoteError(
            f"checkpoint has {cosigned} verified witness cosignatures, {min_witnesses} required"
        )
    cp = opened.checkpoint
    try:
        verify_inclusion(leaf_hash, p.index, cp.size, p.proof, cp.root)
    except ProofError as exc:
        raise ProofError(f"tlog-proof for entry {p.index} of log {cp.origin}: {exc}") from exc
    return opened


__all__ = [
    "COSIGNATURE_V1",
    "MAX_WITNESS_PROOF",
    "TLOG_PROOF_HEADER",
    "AddCheckpoint",
    "Checkpoint",
    "CosignatureSigner",
    "CosignatureVerifier",
    "OpenedCheckpoint",
    "TlogProof",
    "add_cosignature",
    "cosign",
    "cosignature_timestamps",
    "cosigned_message",
    "format_add_checkpoint",
    "format_checkpoint",
    "format_tlog_proof",
    "open_checkpoint",
    "parse_add_checkpoint",
    "parse_checkpoint",
    "parse_cosigner_key",
    "parse_signature_lines",
    "parse_tlog_proof",
    "sign_checkpoint",
    "verify_cosignature",
    "verify_tlog_proof",
]
