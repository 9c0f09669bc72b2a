"""Offline checks of an exchange-log export, and the cross-check of two nodes' logs.

Spec: DESIGN.md "Audit log"; RFC 9162 §2.1 (tree), C2SP signed-note, tlog-checkpoint
v1.0.0 and tlog-cosignature v1 (PROTOCOL-ANCHORS.md §3). Pure: the CLI reads the export
folder and passes its contents in. `verify_export` returns one `Problem` per issue, each
naming where (which entry, the checkpoint, a witness) and what is wrong; an empty list
means the export verifies:

* the directory snapshot verifies under the authority key (expiry is not held against an
  old export), and the log's verifier key is the log node's signing key in it, under the
  node's log origin (a version 2 entry's `log_origin`) or its node id (the legacy origin);
* the latest checkpoint, and every earlier cosigned one in the export, is signed by the
  log key (or by a key the directory lists as that node's next or retired signing key)
  under either origin of the node — checkpoints from before an origin migration carry the
  legacy one — and its root equals the RFC 9162 root of that many leaves (so a rewrite of
  history after a witness cosigned shows up as a mismatch at the cosigned size);
* each leaf decodes, agrees with its decoded copy, carries a sender signature that
  verifies with a key the directory lists for the sender at the entry's time
  (`DirectoryEntry.keys_valid_at`, so entries signed before a key rotation still verify),
  and a header that matches the entry;
* cosignatures by directory nodes verify: with their published witness key (version 2
  entries) or, for cosignatures by the previous release, with any of their current, next
  or retired signing keys under their node id; each required witness key
  (`--witness-key`) cosigned at least one checkpoint, and some checkpoint carries at least
  `min_witnesses` verified cosignatures (the quorum; the export's newest checkpoint is
  usually signed at export time, after the last witnessing).

Retired keys come only from the authority-signed directory, never from the export itself:
a node cannot vouch for its own old keys.

`cross_check` matches entries by (sender, message id, type): an "out" on one side must be
an "in" on the other with the same header bytes, body hash and signature.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crypto import merkle
from crypto.checkpoint import (
    COSIGNATURE_V1,
    CosignatureVerifier,
    OpenedCheckpoint,
    open_checkpoint,
    parse_cosigner_key,
    verify_cosignature,
)
from crypto.errors import CryptoError, NoteError
from crypto.note import NoteVerifier, parse_note, parse_verifier_key
from protocol.audit import LogEntry, decode_leaf, field_differences
from protocol.codec import Reader, unpack
from protocol.directory import (
    DEFAULT_MAX_SKEW_MS,
    DirectoryEntry,
    DirectorySnapshot,
    verify_snapshot,
)
from protocol.envelope import Header, verify_logged_signature
from protocol.errors import ProtocolError


@dataclass(frozen=True)
class Problem:
    where: str  # "entry 12", "checkpoint", "witness CA", "directory", ...
    message: str
    index: int | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def load_directory(raw: bytes, authority: bytes) -> DirectorySnapshot:
    """Verify a snapshot as of its own issue time (an export outlives its directory)."""
    outer = Reader(unpack(raw), "directory")
    doc = Reader(unpack(outer.blob("doc", max_len=len(raw))), "directory")
    issued = doc.integer("issued_at_ms")
    return verify_snapshot(raw, authority, now_ms=issued)


def witness_verifier(node_id: str, public: bytes) -> CosignatureVerifier:
    """How the previous release witnessed: its directory signing key under its node id."""
    return CosignatureVerifier(node_id, public)


def witness_verifiers(entry: DirectoryEntry) -> list[CosignatureVerifier]:
    """Every cosigner key the directory lists for a node: its witness key (version 2), then
    its signing keys under its node id (cosignatures made by the previous release)."""
    out = []
    if entry.witness_name is not None and entry.witness_key is not None:
        out.append(CosignatureVerifier(entry.witness_name, entry.witness_key))
    out.extend(witness_verifier(entry.node_id, pub) for pub in all_keys(entry))
    return out


def log_node(snapshot: DirectorySnapshot | None, origin: str) -> str:
    """The node id whose log has `origin` (the origin itself when nobody claims it)."""
    entry = snapshot.entry_for_origin(origin) if snapshot is not None else None
    return entry.node_id if entry is not None else origin


def directory_entries(snapshot: DirectorySnapshot) -> dict[str, DirectoryEntry]:
    """The snapshot's entries by node id (the `entries` argument of `check_entry`)."""
    return {e.node_id: e for e in snapshot.entries}


def all_keys(entry: DirectoryEntry) -> tuple[bytes, ...]:
    """Every key the directory ever lists for a node: current, next and retired ones."""
    return entry.keys_valid_at(-(2**63))


def tree_levels(hashes: list[bytes]) -> list[list[bytes]]:
    """Every complete aligned subtree hash, level by level (one SHA-256 per node)."""
    sha = hashlib.sha256
    levels = [hashes]
    level = hashes
    while len(level) > 1:
        it = iter(level)
        level = [sha(b"\x01" + a + b).digest() for a, b in zip(it, it, strict=False)]
        levels.append(level)
    return levels


def check_entry(index: int, entry: LogEntry, origin: str,
                entries: Mapping[str, DirectoryEntry] | None,
                skew_ms: int = DEFAULT_MAX_SKEW_MS) -> list[Problem]:
    """Sender signature (when the directory `entries` are given) and header/entry agreement
    of one entry. The signature may be by any key the sender's directory entry lists as
    valid `skew_ms` before the entry was logged (so clocks need not agree exactly)."""
    where = f"entry {index}"
    out: list[Problem] = []
    if entry.direction == "out" and entry.signer != origin:
        out.append(Problem(where, f"sent by {origin} but signed by {entry.signer}", index))
    if entry.direction == "in" and entry.signer != entry.peer:
        out.append(Problem(where, f"received from {entry.peer} but signed by {entry.signer}",
                           index))
    if entries is not None:
        signer = entries.get(entry.signer)
        if signer is None:
            out.append(Problem(where, f"sender {entry.signer} is not in the directory", index))
            return out
        signer_keys = signer.keys_valid_at(entry.time_ms - skew_ms)
        header: Header | None = None
        reason = ""
        for public in signer_keys:
            try:
                header = verify_logged_signature(entry.header_bytes, entry.body_hash,
                                                 entry.signature, public)
                break
            except ProtocolError as exc:
                reason = reason or str(exc)
        if header is None:
            out.append(Problem(where, f"sender signature does not verify with any of the "
                               f"{len(signer_keys)} key(s) the directory lists for "
                               f"{entry.signer} at time {entry.time_ms} ({reason})", index))
            return out
        sender, recipient = (origin, entry.peer) if entry.direction == "out" else (
            entry.peer, origin)
        pairs = (("type", header.type, entry.type), ("message_id", header.message_id,
                                                     entry.message_id),
                 ("reply_to", header.reply_to, entry.reply_to),
                 ("purpose", header.purpose, entry.purpose),
                 ("sender", header.sender, sender), ("recipient", header.recipient, recipient))
        for name, signed, logged in pairs:
            if signed != logged:
                out.append(Problem(where, f"signed header {name} differs from the logged "
                                          f"entry ({signed!r} vs {logged!r})", index))
    return out


@dataclass
class _Context:
    problems: list[Problem] = field(default_factory=list)
    snapshot: DirectorySnapshot | None = None
    log_key: NoteVerifier | None = None
    log_keys: list[NoteVerifier] = field(default_factory=list)  # log key + directory's keys
    node_id: str = ""  # the log's node
    origins: tuple[str, ...] = ()  # its origins: the verifier key's, then the legacy one


def _directory_and_key(ctx: _Context, directory: bytes, authority: bytes | None,
                       verifier_key: str) -> None:
    if authority is None:
        ctx.problems.append(Problem("directory", "no authority key given, so the directory "
                                    "snapshot and the peers' keys cannot be trusted"))
    else:
        try:
            ctx.snapshot = load_directory(directory, authority)
        except ProtocolError as exc:
            ctx.problems.append(Problem("directory", f"snapshot does not verify ({exc})"))
    try:
        ctx.log_key = parse_verifier_key(verifier_key)
    except CryptoError as exc:
        ctx.problems.append(Problem("verifier-key", str(exc)))
        return
    ctx.log_keys = [ctx.log_key]
    name = ctx.log_key.name
    ctx.node_id, ctx.origins = name, (name,)
    if ctx.snapshot is not None:
        e = ctx.snapshot.entry_for_origin(name)
        if e is None or ctx.log_key.public not in e.signing_keys():
            ctx.problems.append(Problem("verifier-key", f"is not the signing key of {name} in "
                                        "the directory"))
        if e is not None:  # checkpoints signed before a rotation or under the legacy origin
            ctx.node_id = e.node_id
            ctx.origins = tuple(dict.fromkeys((name, *e.log_origins())))
            seen = {(ctx.log_key.name, ctx.log_key.key_id)}
            for origin in ctx.origins:
                for public in all_keys(e):
                    v = NoteVerifier(origin, public)
                    if (v.name, v.key_id) not in seen:
                        seen.add((v.name, v.key_id))
                        ctx.log_keys.append(v)


def _open(ctx: _Context, note: str, what: str) -> OpenedCheckpoint | None:
    assert ctx.log_key is not None
    try:
        opened = open_checkpoint(note, ctx.log_keys)
        origin = opened.checkpoint.origin
        if origin not in ctx.origins:
            raise NoteError(f"checkpoint is for log {origin!r}, expected "
                            f"{' or '.join(map(repr, ctx.origins))}")
        if not opened.note.signed_by(origin):
            raise NoteError(f"checkpoint carries no verified signature by the log {origin!r}")
        return opened
    except CryptoError as exc:
        ctx.problems.append(Problem(what, f"not validly signed by the log key "
                                    f"{ctx.log_key.name} ({exc})"))
        return None


def _cosigners(ctx: _Context, note: str, what: str,
               required: Mapping[tuple[str, int], CosignatureVerifier]) -> set[tuple[str, int]]:
    """Verify every cosignature we have a key for; return the (name, id) that verified."""
    known: dict[tuple[str, int], CosignatureVerifier] = dict(required)
    if ctx.snapshot is not None:
        for e in ctx.snapshot.entries:
            for v in witness_verifiers(e):
                known.setdefault((v.name, v.key_id), v)
    ok: set[tuple[str, int]] = set()
    try:
        _, sigs = parse_note(note)
    except CryptoError:
        return ok
    for sig in sigs:
        w = known.get((sig.name, sig.key_id))
        if w is None or (sig.name, sig.key_id) in ok:
            continue
        try:
            verify_cosignature(note, w)
        except CryptoError as exc:
            ctx.problems.append(Problem(what, f"cosignature by witness {sig.name} does not "
                                        f"verify ({exc})"))
            continue
        ok.add((sig.name, sig.key_id))
    return ok


def verify_export(
    checkpoint_note: str,
    verifier_key: str,
    leaves: Sequence[bytes],
    directory: bytes,
    authority_key: bytes | None,
    witness_keys: Sequence[str] = (),
    *,
    declared: Sequence[Mapping[str, Any] | None] | None = None,
    history: Sequence[str] = (),
    check_signatures: bool = True,
    min_witnesses: int = 0,
) -> list[Problem]:
    """Check an export (see the module docstring); return the problems found."""
    ctx = _Context()
    _directory_and_key(ctx, directory, authority_key, verifier_key)
    required: dict[tuple[str, int], CosignatureVerifier] = {}
    for vkey in witness_keys:
        try:
            w = parse_cosigner_key(vkey)
        except CryptoError as exc:
            ctx.problems.append(Problem("--witness-key", str(exc)))
            continue
        required[(w.name, w.key_id)] = w
    if ctx.log_key is None:
        return ctx.problems
    origin = ctx.node_id
    sha = hashlib.sha256
    hashes = [sha(b"\x00" + leaf).digest() for leaf in leaves]
    levels = tree_levels(hashes)

    def root_at(size: int) -> bytes:
        return merkle.root_hash(size, lambda lv, i: levels[lv][i])

    cosigned: set[tuple[str, int]] = set()
    best = 0  # the most verified cosignatures on one checkpoint
    latest = _open(ctx, checkpoint_note, "checkpoint")
    if latest is not None:
        cp = latest.checkpoint
        if cp.size != len(leaves):
            ctx.problems.append(Problem("checkpoint", f"covers {cp.size} entries but the "
                                        f"export has {len(leaves)}"))
        if cp.size <= len(leaves) and root_at(cp.size) != cp.root:
            ctx.problems.append(Problem("checkpoint", f"the first {cp.size} entries do not hash "
                                        "to its root: an entry was changed, added, removed or "
                                        "reordered"))
        latest_cosigners = _cosigners(ctx, checkpoint_note, "checkpoint", required)
        cosigned |= latest_cosigners
        best = max(best, len(latest_cosigners))
    for n, note in enumerate(history, start=1):
        what = f"checkpoints line {n}"
        old = _open(ctx, note, what)
        if old is None:
            continue
        got = _cosigners(ctx, note, what, required)
        cosigned |= got
        best = max(best, len(got))
        size, names = old.checkpoint.size, ", ".join(sorted(g[0] for g in got)) or "nobody"
        if size > len(leaves):
            ctx.problems.append(Problem(what, f"checkpoint of size {size} (cosigned by {names}) "
                                        f"is larger than the export ({len(leaves)} entries)"))
        elif root_at(size) != old.checkpoint.root:
            ctx.problems.append(Problem(what, f"checkpoint of size {size} (cosigned by {names}) "
                                        f"does not match entries 0..{size - 1}: the log's "
                                        "history was rewritten"))
    if best < min_witnesses:
        ctx.problems.append(Problem("checkpoint", f"no checkpoint in the export carries "
                                    f"{min_witnesses} verified witness cosignatures (the most "
                                    f"is {best})"))
    for key in required:
        if key not in cosigned:
            ctx.problems.append(Problem(f"witness {key[0]}", "no checkpoint in the export "
                                        "carries a valid cosignature by this witness"))
    keys: dict[str, DirectoryEntry] | None = None
    if check_signatures and ctx.snapshot is not None:
        keys = directory_entries(ctx.snapshot)
    for i, leaf in enumerate(leaves):
        entry = decode_leaf(leaf)
        if isinstance(entry, str):
            ctx.problems.append(Problem(f"entry {i}", f"leaf is not a valid entry ({entry})", i))
            continue
        if declared is not None and i < len(declared) and declared[i] is not None:
            diff = field_differences(entry, declared[i] or {})
            if diff:
                ctx.problems.append(Problem(f"entry {i}", f"decoded field(s) {', '.join(diff)} "
                                            "differ from the leaf bytes", i))
        ctx.problems.extend(check_entry(i, entry, origin, keys))
    return ctx.problems


# --- cross-check -----------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    key: tuple[str, bytes, str]  # (sender, message id, type)
    message: str
    a_index: int | None = None
    b_index: int | None = None

    def __str__(self) -> str:
        sender, mid, typ = self.key
        return f"{typ} {mid.hex()} from {sender}: {self.message}"


def _by_key(entries: Iterable[tuple[int, LogEntry]], other: str) -> dict[
        tuple[str, bytes, str], tuple[int, LogEntry]]:
    return {e.key(): (i, e) for i, e in entries if e.peer == other}


def cross_check(a_entries: Iterable[tuple[int, LogEntry]], a_node: str,
                b_entries: Iterable[tuple[int, LogEntry]], b_node: str) -> list[Difference]:
    """Every exchange between A and B that one side logged and the other did not, or
    logged differently. Entries are (index, entry) pairs of each node's log."""
    a = _by_key(a_entries, b_node)
    b = _by_key(b_entries, a_node)
    out: list[Difference] = []
    for key, (ai, ae) in a.items():
        if key not in b:
            out.append(Difference(key, f"logged by {a_node} (entry {ai}, {ae.direction}) but "
                                  f"not by {b_node}", ai, None))
            continue
        bi, be = b[key]
        if ae.direction == be.direction:
            out.append(Difference(key, f"both sides logged it as {ae.direction!r} "
                                  f"({a_node} entry {ai}, {b_node} entry {bi})", ai, bi))
        diff = [n for n, x, y in (("header", ae.header_bytes, be.header_bytes),
                                  ("body hash", ae.body_hash, be.body_hash),
                                  ("signature", ae.signature, be.signature)) if x != y]
        if diff:
            out.append(Difference(key, f"{', '.join(diff)} differ between {a_node} entry {ai} "
                                  f"and {b_node} entry {bi}", ai, bi))
    for key, (bi, be) in b.items():
        if key not in a:
            out.append(Difference(key, f"logged by {b_node} (entry {bi}, {be.direction}) but "
                                  f"not by {a_node}", None, bi))
    out.sort(key=lambda d: (min(x for x in (d.a_index, d.b_index, 2**63) if x is not None)))
    return out


__all__ = ["COSIGNATURE_V1", "Difference", "Problem", "all_keys", "check_entry", "cross_check",
           "directory_entries", "load_directory", "log_node", "verify_export",
           "witness_verifier", "witness_verifiers"]
