"""C2SP signed notes (signed-note v1.0.0) with Ed25519 keys.

Owns the note grammar, Ed25519 key ids, verifier-key strings and note signing,
opening and cosigning. Follows https://c2sp.org/signed-note@v1.0.0 and matches Go's
`golang.org/x/mod/sumdb/note` (tested against its vectors):

    <text ending in "\\n">
    <blank line>
    — <key name> <base64(4-byte big-endian key id || signature)>
    ...

* key id = `SHA-256(name || 0x0A || type byte || public key)[:4]`; type 0x01 is
  Ed25519 over the note text. Other signature types (the 0x04 timestamped cosignature of
  `crypto.checkpoint`) plug in through the `Verifier` / `Signer` protocols.
* vkey = `<name>+<hex key id>+<base64(type byte || public key)>`; the Go private key
  string `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>` is read for test vectors.
* `open_note` ignores signatures from unknown (name, id) pairs, rejects the whole note if
  a known key's signature fails, and rejects it if no known key verified. At most
  `MAX_SIGNATURES` lines are read (the spec requires accepting at least 16).
* `add_signatures` re-emits the existing signature lines (verified and unknown ones)
  and appends new ones, so a witness can cosign without dropping earlier cosignatures.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from crypto.errors import KeyFileError, NoteError, SignatureInvalid
from crypto.keys import SigningKey, check_public_key, signing_key_from_seed
from crypto.sign import sign_raw, verify_raw

ED25519 = 0x01
MAX_SIGNATURES = 100
SIG_PREFIX = "\u2014 "  # em dash, space
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_SPACE = re.compile(r"\s")


class Verifier(Protocol):
    """Something that can check one signature type for one (name, key id)."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def verify(self, text: bytes, signature: bytes) -> bool:
        """True if `signature` (without the 4-byte key id) is valid over note `text`."""
        ...


class Signer(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def sign(self, text: bytes) -> bytes:
        """Signature bytes over note `text` (without the 4-byte key id)."""
        ...


def compute_key_id(name: str, sig_type: int, public: bytes) -> int:
    """C2SP key id: first 4 bytes, big-endian, of SHA-256(name || 0x0A || type || key)."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public).digest()
    return int.from_bytes(digest[:4], "big")


def is_valid_name(name: str) -> bool:
    """Key names are non-empty, with no Unicode space, no '+' and no control character."""
    return bool(name) and not _SPACE.search(name) and "+" not in name and not _CONTROL.search(
        name
    )


def check_name(name: str, what: str = "key name") -> None:
    if not is_valid_name(name):
        raise NoteError(f"{what} {name!r} must be non-empty, without spaces or '+'")


@dataclass(frozen=True)
class NoteVerifier:
    """An Ed25519 (type 0x01) note verifier."""

    name: str
    public: bytes
    key_id: int = -1  # computed from name and key when left out

    def __post_init__(self) -> None:
        check_name(self.name)
        try:
            check_public_key(self.public, what=f"verifier key {self.name}")
        except KeyFileError as exc:
            raise NoteError(str(exc)) from exc
        expected = compute_key_id(self.name, ED25519, self.public)
        if self.key_id == -1:
            object.__setattr__(self, "key_id", expected)
        elif self.key_id != expected:
            raise NoteError(
                f"verifier key {self.name}: key id {self.key_id:08x} does not match the key"
                f" ({expected:08x})"
            )

    @property
    def sig_type(self) -> int:
        return ED25519

    def verify(self, text: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        try:
            verify_raw(self.public, text, signature)
        except SignatureInvalid:
            return False
        return True

    def vkey(self) -> str:
        return format_verifier_key(self.name, ED25519, self.public)


@dataclass(frozen=True)
class NoteSigner:
    """An Ed25519 (type 0x01) note signer: a key name and a signing key."""

    name: str
    key: SigningKey

    def __post_init__(self) -> None:
        check_name(self.name)

    @property
    def key_id(self) -> int:
        return compute_key_id(self.name, ED25519, self.key.public)

    def sign(self, text: bytes) -> bytes:
        return sign_raw(self.key, text)

    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.name, self.key.public)

    def __repr__(self) -> str:
        return f"NoteSigner(name={self.name!r}, key_id={self.key_id:08x})"


# --- key strings -------------------------------------------------------------------------


def format_verifier_key(name: str, sig_type: int, public: bytes) -> str:
    """`<name>+<hex key id>+<base64(type || public)>`."""
    check_name(name)
    key_id = compute_key_id(name, sig_type, public)
    return f"{name}+{key_id:08x}+{base64.b64encode(bytes([sig_type]) + public).decode()}"


def b64decode_strict(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise NoteError(f"{what}: not valid base64") from exc


def parse_verifier_key_fields(vkey: str) -> tuple[str, int, int, bytes]:
    """Split a vkey into (name, key id, signature type, public key) and check the id."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise NoteError(f"verifier key {vkey!r}: expected <name>+<hex id>+<base64 key>")
    name, hex_id, b64 = parts
    check_name(name, "verifier key name")
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise NoteError(f"verifier key {name}: key id {hex_id!r} is not 8 lowercase hex digits")
    raw = b64decode_strict(b64, f"verifier key {name}")
    if len(raw) < 2:
        raise NoteError(f"verifier key {name}: key material is empty")
    sig_type, public = raw[0], raw[1:]
    key_id = int(hex_id, 16)
    if compute_key_id(name, sig_type, public) != key_id:
        raise NoteError(f"verifier key {name}: key id {hex_id} does not match the key")
    return name, key_id, sig_type, public


def parse_verifier_key(vkey: str) -> NoteVerifier:
    """Parse an Ed25519 (type 0x01) vkey string; raise `NoteError` naming the problem."""
    name, key_id, sig_type, public = parse_verifier_key_fields(vkey)
    if sig_type != ED25519:
        raise NoteError(
            f"verifier key {name}: signature type 0x{sig_type:02x} is not Ed25519 (0x01)"
        )
    if len(public) != 32:
        raise NoteError(f"verifier key {name}: an Ed25519 key is 32 bytes, got {len(public)}")
    return NoteVerifier(name, public, key_id)


def parse_signer_key(skey: str) -> NoteSigner:
    """Parse Go's `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`."""
    parts = skey.strip().split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise NoteError("signer key: expected PRIVATE+KEY+<name>+<hex id>+<base64 key>")
    name, hex_id, b64 = parts[2:]
    check_name(name, "signer key name")
    raw = b64decode_strict(b64, f"signer key {name}")
    if len(raw) != 33 or raw[0] != ED25519:
        raise NoteError(f"signer key {name}: not an Ed25519 private key")
    signer = NoteSigner(name, signing_key_from_seed(raw[1:]))
    if f"{signer.key_id:08x}" != hex_id:
        raise NoteError(f"signer key {name}: key id {hex_id} does not match the key")
    return signer


def format_signer_key(signer: NoteSigner) -> str:
    """Go's private key string (for tests and interop; treat the result as a secret)."""
    seed = base64.b64encode(b"\x01" + signer.key.seed()).decode()
    return f"PRIVATE+KEY+{signer.name}+{signer.key_id:08x}+{seed}"


# --- notes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, key id and the base64 of `key id || signature`."""

    name: str
    key_id: int
    base64: str

    @property
    def signature(self) -> bytes:
        """Signature bytes after the 4-byte key id."""
        return base64.b64decode(self.base64)[4:]

    def line(self) -> str:
        return f"{SIG_PREFIX}{self.name} {self.base64}\n"


@dataclass(frozen=True)
class OpenedNote:
    """A note whose text is trusted: `signatures` verified; `unverified` are unknown keys."""

    text: str
    signatures: tuple[NoteSignature, ...]
    unverified: tuple[NoteSignature, ...] = ()

    def signed_by(self, name: str, key_id: int | None = None) -> bool:
        return any(
            s.name == name and (key_id is None or s.key_id == key_id) for s in self.signatures
        )


def check_text(text: str) -> None:
    """Note text must end in a newline and contain no control character but newline."""
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    m = _CONTROL.search(text)
    if m:
        raise NoteError(f"note text contains control character 0x{ord(m.group()):02x}")


def _as_str(note: str | bytes) -> str:
    if isinstance(note, bytes):
        try:
            return note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError("note is not valid UTF-8") from exc
    return note


def parse_note(note: str | bytes) -> tuple[str, tuple[NoteSignature, ...]]:
    """Split a note into text and signature lines, checking syntax only.

    The text returned is NOT trusted; use `open_note` before acting on it.
    """
    s = _as_str(note)
    m = _CONTROL.search(s)
    if m:
        raise NoteError(f"note contains control character 0x{ord(m.group()):02x}")
    split = s.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    text, block = s[: split + 1], s[split + 2 :]
    if not block or not block.endswith("\n"):
        raise NoteError("note has no signature lines, or its last line does not end in newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has {len(lines)} signatures; at most {MAX_SIGNATURES} are read")
    sigs: list[NoteSignature] = []
    for n, line in enumerate(lines, start=1):
        if not line.startswith(SIG_PREFIX):
            raise NoteError(f"note signature line {n} does not start with an em dash and space")
        name, _, b64 = line[len(SIG_PREFIX) :].partition(" ")
        if not is_valid_name(name) or not b64:
            raise NoteError(f"note signature line {n} has a bad key name or no signature")
        raw = b64decode_strict(b64, f"note signature line {n} ({name})")
        if len(raw) < 5:
            raise NoteError(f"note signature line {n} ({name}) is too short")
        sigs.append(NoteSignature(name, int.from_bytes(raw[:4], "big"), b64))
    return text, tuple(sigs)


def _index(verifiers: Sequence[Verifier]) -> dict[tuple[str, int], Verifier]:
    known: dict[tuple[str, int], Verifier] = {}
    for v in verifiers:
        k = (v.name, v.key_id)
        if k in known:
            raise NoteError(f"two verifier keys share name {v.name} and key id {v.key_id:08x}")
        known[k] = v
    return known


def open_note(note: str | bytes, verifiers: Sequence[Verifier]) -> OpenedNote:
    """Verify a signed note against known keys; raise `NoteError` or `SignatureInvalid`.

    Unknown signatures are kept in `unverified` (duplicates dropped) so they can be
    re-emitted. A known key's bad signature rejects the note (`SignatureInvalid`); so
    does having no verified signature (`NoteError`).
    """
    known = _index(verifiers)
    text, sigs = parse_note(note)
    text_bytes = text.encode()
    verified: list[NoteSignature] = []
    unverified: list[NoteSignature] = []
    seen: set[tuple[str, int]] = set()
    seen_unknown: set[str] = set()
    for sig in sigs:
        v = known.get((sig.name, sig.key_id))
        if v is None:
            if sig.line() not in seen_unknown:
                seen_unknown.add(sig.line())
                unverified.append(sig)
            continue
        if (sig.name, sig.key_id) in seen:
            continue
        seen.add((sig.name, sig.key_id))
        if not v.verify(text_bytes, sig.signature):
            raise SignatureInvalid(
                f"note signature from {sig.name} (key {sig.key_id:08x}) does not verify"
            )
        verified.append(sig)
    if not verified:
        names = ", ".join(sorted({s.name for s in sigs}))
        raise NoteError(f"note is not signed by any known key (signed by: {names})")
    return OpenedNote(text, tuple(verified), tuple(unverified))


def _signature_line(text: bytes, signer: Signer) -> NoteSignature:
    check_name(signer.name, "signer name")
    raw = signer.key_id.to_bytes(4, "big") + signer.sign(text)
    return NoteSignature(signer.name, signer.key_id, base64.b64encode(raw).decode())


def sign_note(text: str, signers: Sequence[Signer]) -> str:
    """A new note: `text` (ending in newline), a blank line, one line per signer."""
    return add_signatures(OpenedNote(text, ()), signers)


def add_signatures(note: OpenedNote, signers: Sequence[Signer]) -> str:
    """Re-emit `note` with its existing signature lines plus one new line per signer.

    An existing line with the same (name, key id) as a new signer is replaced.
    """
    check_text(note.text)
    if not signers:
        raise NoteError("a note needs at least one signer")
    text = note.text.encode()
    new = [_signature_line(text, s) for s in signers]
    have = {(s.name, s.key_id) for s in new}
    old = [s for s in (*note.signatures, *note.unverified) if (s.name, s.key_id) not in have]
    if len(old) + len(new) > MAX_SIGNATURES:
        raise NoteError(f"a note may carry at most {MAX_SIGNATURES} signatures")
    return note.text + "\n" + "".join(s.line() for s in (*old, *new))
