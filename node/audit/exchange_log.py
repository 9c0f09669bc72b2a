"""The node's signed exchange log: checkpoints, cosignatures, witnessing state, export.

Spec: DESIGN.md "Audit log"; C2SP tlog-checkpoint v1.0.0 / signed-note (origin = key name,
a schema-less URL from `audit.origin`; before that setting, the node id), tlog-cosignature
v1, tlog-proof@v1. `ExchangeLog` extends the Merkle-tree store of node/audit/log_store.py
(schema, group-commit appends, proofs) with the rows of `checkpoints` (every signed tree
head, by origin, with the cosignatures received), `witnessed` (the last checkpoint we
cosigned for each log origin) and `witness_alerts`, receipts for single entries, and the
auditor's export folder. Every operation runs on the store's writer thread.
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

from crypto.checkpoint import (
    Checkpoint,
    CosignatureSigner,
    TlogProof,
    format_tlog_proof,
    parse_checkpoint,
    sign_checkpoint,
)
from crypto.errors import CryptoError
from crypto.keys import SigningKey
from crypto.merkle_verify import verify_consistency
from crypto.note import NoteSigner, OpenedNote, add_signatures, parse_note
from node import clock
from node.audit.log_store import ExchangeLogStore
from node.errors import Conflict, NotFound, StorageError
from node.file_modes import open_private, private_dir, write_private
from protocol.audit import LogEntry, entry_line

log = logging.getLogger(__name__)



class ExchangeLog(ExchangeLogStore):
    """Append-only, signed exchange log of one node (see the module docstring).

    `origin` is the log's C2SP origin and key name (`cfg.log_origin`); `node_id` the
    node's id, which is also the *legacy origin*: every checkpoint the previous release
    signed carries it, and they stay stored and verifiable after the origin changes.
    Checkpoints under the legacy origin are still signed on request (`sign_checkpoint(
    origin=node_id)`) for witnesses one release behind, which know only that origin.
    `witness_key` / `witness_name` are the separate Ed25519 key and name this node
    cosigns peers' checkpoints with (tlog-cosignature v1); `legacy_cosigner` (node id,
    signing key) is the identity witnesses of the previous release cosigned with, used
    only to answer their `cosign` messages.
    """

    def __init__(self, path: str | Path, signing_key: SigningKey, origin: str, *,
                 node_id: str | None = None, witness_key: SigningKey | None = None,
                 witness_name: str | None = None) -> None:
        self.origin = origin
        self.node_id = node_id or origin
        self._witness_key = witness_key
        self._witness_name = witness_name or f"{self.node_id}/witness"
        self.use_signing_key(signing_key)
        super().__init__(path)

    def use_signing_key(self, signing_key: SigningKey) -> None:
        """Sign checkpoints (and legacy cosignatures) with `signing_key` from now on (after
        a signing key rotation's switch); the next `sign_checkpoint` also adds its signature
        to the latest checkpoint when the log has not grown since."""
        self.signer = NoteSigner(self.origin, signing_key)
        self.legacy_signer = NoteSigner(self.node_id, signing_key)
        self.legacy_cosigner = CosignatureSigner(self.node_id, signing_key)
        self.cosigner = (CosignatureSigner(self._witness_name, self._witness_key)
                         if self._witness_key is not None else self.legacy_cosigner)

    def _signer_for(self, origin: str) -> NoteSigner:
        if origin == self.origin:
            return self.signer
        if origin == self.node_id:
            return self.legacy_signer
        raise StorageError(f"{self.path}: {origin!r} is not an origin of this log "
                           f"({self.origin!r} or the legacy {self.node_id!r})")

    # --- checkpoints --------------------------------------------------------------------
    def _latest_row(self, origin: str | None = None) -> tuple[int, bytes, str] | None:
        """The latest checkpoint of `origin` (default: ours); of any origin with "*"."""
        if origin == "*":
            row = self.db.conn.execute(
                "SELECT size, root, note FROM checkpoints ORDER BY size DESC LIMIT 1"
            ).fetchone()
        else:
            row = self.db.conn.execute(
                "SELECT size, root, note FROM checkpoints WHERE origin = ? "
                "ORDER BY size DESC LIMIT 1", (origin or self.origin,)).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]), str(row[2]))

    def _sign(self, now_ms: int, origin: str | None = None) -> str:
        with self._transaction():
            return self._sign_in_tx(now_ms, origin or self.origin)

    def _sign_in_tx(self, now_ms: int, origin: str) -> str:
        signer = self._signer_for(origin)
        size = self._size
        mine = self._latest_row(origin)
        if mine is not None and mine[0] == size:
            return self._countersign(origin, size, mine[2], signer)
        last = self._latest_row("*")  # one tree under every origin: never sign inconsistently
        if last is not None and last[0] > size:
            raise StorageError(f"{self.path}: the last signed checkpoint covers {last[0]} "
                               f"entries but the log has {size}; refusing to sign")
        root = self._root(size)
        if last is not None and last[0] > 0:
            old_size, old_root, _ = last
            if old_size == size and old_root != root:
                raise StorageError(f"{self.path}: refusing to sign a checkpoint of size {size} "
                                   "with another root than the one already signed")
            if old_size < size:
                try:
                    verify_consistency(old_size, size, old_root, root,
                                       self._consistency(old_size, size))
                except CryptoError as exc:
                    raise StorageError(f"{self.path}: refusing to sign a checkpoint of size "
                                       f"{size}: it is not consistent with the signed one of "
                                       f"size {old_size} ({exc})") from exc
        note = sign_checkpoint(Checkpoint(origin, size, root), [signer])
        self.db.conn.execute("INSERT INTO checkpoints (origin, size, root, note, signed_ms) "
                             "VALUES (?, ?, ?, ?, ?)", (origin, size, root, note, now_ms))
        return note

    def _countersign(self, origin: str, size: int, note: str, signer: NoteSigner) -> str:
        """The stored checkpoint of `size`, signed by our current key too (same text, so not
        a second checkpoint: after a key switch the latest one verifies with the new key)."""
        text, sigs = parse_note(note)
        if any(s.name == signer.name and s.key_id == signer.key_id for s in sigs):
            return note
        note = add_signatures(OpenedNote(text, sigs), [signer])
        self.db.conn.execute("UPDATE checkpoints SET note = ? WHERE origin = ? AND size = ?",
                             (note, origin, size))
        return note

    def sign_checkpoint(self, now_ms: int | None = None, *, origin: str | None = None) -> str:
        """Sign a checkpoint of the current tree under `origin` (default: ours; the legacy
        origin for witnesses one release behind); when the size is unchanged return the
        last one (re-signing would give the same bytes), with our signature added if it was
        signed by an earlier key. Raises `StorageError` rather than sign a checkpoint
        inconsistent with the last one signed under any origin (even the empty tree gets
        one)."""
        return self._call(self._sign, clock.now_ms() if now_ms is None else now_ms, origin)

    async def sign_checkpoint_async(self, now_ms: int | None = None, *,
                                    origin: str | None = None) -> str:
        """`sign_checkpoint` for the event loop (the scheduler job)."""
        return await self._run(self._sign, clock.now_ms() if now_ms is None else now_ms,
                               origin)

    def latest_checkpoint(self, origin: str | None = None) -> str:
        """The latest signed checkpoint note of `origin` (default: ours) with its
        cosignatures (signs one if none)."""
        def get() -> str:
            last = self._latest_row(origin)
            return last[2] if last is not None else self._sign(clock.now_ms(), origin)
        return self._call(get)

    def checkpoint_note(self, size: int, origin: str | None = None) -> str | None:
        note = self._call(self._q1, "SELECT note FROM checkpoints WHERE origin = ? AND size = ?",
                          (origin or self.origin, size))
        return None if note is None else str(note)

    def cosigned_checkpoints(self) -> list[str]:
        """Checkpoints of every origin that carry cosignatures, oldest first (for exports)."""
        return self._call(lambda: [str(r[0]) for r in self.db.conn.execute(
            "SELECT note FROM checkpoints WHERE cosigners != '' ORDER BY size, origin")])

    def cosigned_size(self, witness: str, origin: str | None = None) -> int:
        """The largest tree size `witness` (a cosigner name) has cosigned for us under
        `origin` (default: ours); 0 if none."""
        def get() -> int:
            best = 0
            for size, names in self.db.conn.execute(
                    "SELECT size, cosigners FROM checkpoints WHERE cosigners != '' AND "
                    "origin = ?", (origin or self.origin,)):
                if witness in str(names).split(","):
                    best = max(best, int(size))
            return best
        return self._call(get)

    def cosigners_at(self, size: int) -> set[str]:
        """Names of the cosigners of our checkpoints of `size`, under any origin."""
        return self._call(lambda: {n for (names,) in self.db.conn.execute(
            "SELECT cosigners FROM checkpoints WHERE size = ?", (size,))
            for n in str(names).split(",") if n})

    def add_cosignature(self, cosigned_note: str, witness: str) -> str:
        """Merge the (already verified) cosignature lines by `witness` (a cosigner name) of
        `cosigned_note` into our stored checkpoint with the same text; return it."""
        def merge() -> str:
            with self._transaction():
                return merge_in_tx()

        def merge_in_tx() -> str:
            text, sigs = parse_note(cosigned_note)
            cp = parse_checkpoint(text)
            row = self.db.conn.execute(
                "SELECT note, cosigners FROM checkpoints WHERE origin = ? AND size = ?",
                (cp.origin, cp.size)).fetchone()
            if row is None:
                raise NotFound(f"we never signed a checkpoint of size {cp.size} under "
                               f"origin {cp.origin}")
            mine_text, mine = parse_note(row[0])
            if mine_text != text:
                raise Conflict(f"{witness} cosigned a checkpoint of size {cp.size} that is not "
                               "the one we signed")
            have = {(s.name, s.key_id) for s in mine}
            new = (s for s in sigs if s.name == witness and (s.name, s.key_id) not in have)
            merged = OpenedNote(text, (*mine, *new))
            note = merged.text + "\n" + "".join(s.line() for s in merged.signatures)
            names = sorted({*filter(None, str(row[1]).split(",")), witness})
            self.db.conn.execute("UPDATE checkpoints SET note = ?, cosigners = ? WHERE "
                                 "origin = ? AND size = ?",
                                 (note, ",".join(names), cp.origin, cp.size))
            return note
        return self._call(merge)

    def receipt(self, index: int) -> str:
        """A C2SP tlog-proof@v1 for entry `index` (signs a checkpoint first if needed)."""
        def make() -> str:
            if not 0 <= index < self._size:
                raise NotFound(f"entry {index} is not in the exchange log ({self._size} "
                               "entries)")
            last = self._latest_row()
            if last is None or last[0] <= index:
                self._sign(clock.now_ms())
                last = self._latest_row()
            assert last is not None
            proof = self._inclusion(index, last[0])
            return format_tlog_proof(TlogProof(index, tuple(proof), last[2]))
        return self._call(make)

    # --- witnessing state ---------------------------------------------------------------
    def witnessed(self, origin: str) -> tuple[int, bytes, str] | None:
        """(size, root, note) of the last checkpoint we cosigned for the log `origin`."""
        def get() -> tuple[int, bytes, str] | None:
            row = self.db.conn.execute(
                "SELECT size, root, note FROM witnessed WHERE origin = ?", (origin,)).fetchone()
            return None if row is None else (int(row[0]), bytes(row[1]), str(row[2]))
        return self._call(get)

    def set_witnessed(self, origin: str, peer: str, expect_size: int | None, size: int,
                      root: bytes, note: str) -> None:
        """Store the checkpoint we cosigned for `origin` (the log of node `peer`), if our
        stored size is still `expect_size` (check and store in one transaction, so two
        requests can never roll the witnessed size back)."""
        def put() -> None:
            with self._transaction():
                put_in_tx()

        def put_in_tx() -> None:
            cur = self._q1("SELECT size FROM witnessed WHERE origin = ?", (origin,))
            if cur != expect_size:
                raise Conflict(f"a concurrent request for {origin} changed the witnessed "
                               "size; retry")
            self.db.conn.execute("INSERT OR REPLACE INTO witnessed VALUES (?, ?, ?, ?, ?, ?)",
                                 (origin, peer, size, root, note, clock.now_ms()))
        self._call(put)

    def record_alert(self, peer: str, message: str, note: str) -> None:
        log.error("exchange log of %s: %s", peer, message)
        self._call(lambda: self.db.conn.execute(
            "INSERT INTO witness_alerts (peer, time_ms, message, note) VALUES (?, ?, ?, ?)",
            (peer, clock.now_ms(), message, note)))

    def alerts(self) -> list[dict[str, Any]]:
        return self._call(lambda: [
            {"peer": r[0], "time_ms": r[1], "message": r[2]} for r in self.db.conn.execute(
                "SELECT peer, time_ms, message FROM witness_alerts ORDER BY id")])

    # --- export -------------------------------------------------------------------------
    def export(self, out_dir: str | Path, directory_snapshot: bytes,
               authority_key: bytes | None) -> int:
        """Write the auditor's folder for the latest checkpoint; return its entry count."""
        out = private_dir(out_dir)  # an export names who asked for what: owner-only
        note = self.latest_checkpoint()
        size = parse_checkpoint(parse_note(note)[0]).size
        history = [n for n in self.cosigned_checkpoints() if n != note]
        write_private(out / "checkpoint", note)
        write_private(out / "verifier-key", self.signer.verifier().vkey() + "\n")
        write_private(out / "checkpoints", "".join(
            json.dumps({"note": n}) + "\n" for n in history))
        write_private(out / "directory.msgpack", directory_snapshot)
        if authority_key is not None:
            write_private(out / "authority-key",
                          base64.b64encode(authority_key).decode() + "\n")

        def dump() -> None:
            with open_private(out / "entries.jsonl", "w", encoding="utf-8") as fh:
                rows = self.db.conn.execute("SELECT idx, leaf FROM leaves WHERE idx < ? "
                                            "ORDER BY idx", (size,))
                for idx, leaf in rows:
                    leaf = bytes(leaf)
                    fh.write(entry_line(idx, leaf, LogEntry.from_leaf(leaf)) + "\n")
        self._call(dump)
        return size


