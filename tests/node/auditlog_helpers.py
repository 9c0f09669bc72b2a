"""Builders for exchange-log tests: real keys, a signed directory, sealed envelopes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from crypto.keys import (
    EncryptionKey,
    SigningKey,
    generate_encryption_key,
    key_id,
    signing_key_from_seed,
)
from node.audit.exchange_log import ExchangeLog
from protocol.audit import LogEntry
from protocol.directory import DirectoryEntry, DirectorySnapshot, sign_snapshot
from protocol.envelope import SealedEnvelope, seal_envelope
from protocol.messages import (
    Candidate,
    Demographics,
    Find,
    FindCriteria,
    FindReply,
    Requester,
)

DAY_MS = 86_400_000


@dataclass
class Federation:
    """Keys of a few nodes and the authority; seeds make it reproducible in subprocesses."""

    nodes: tuple[str, ...] = ("TX", "CA", "NY")
    seed: int = 7
    signing: dict[str, SigningKey] = field(default_factory=dict)
    encryption: dict[str, EncryptionKey] = field(default_factory=dict)
    authority: SigningKey = field(init=False)

    def __post_init__(self) -> None:
        self.authority = signing_key_from_seed(bytes([self.seed]) * 32)
        for n, node in enumerate(self.nodes, start=1):
            self.signing[node] = signing_key_from_seed(bytes([self.seed + n]) * 32)
            self.encryption[node] = generate_encryption_key()

    def snapshot(self, now_ms: int | None = None, signing: dict[str, SigningKey] | None = None,
                 authority: SigningKey | None = None) -> bytes:
        now = int(time.time() * 1000) if now_ms is None else now_ms
        keys = signing or self.signing
        entries = tuple(
            DirectoryEntry(node, f"State {node}", (f"http://127.0.0.1:{9000 + i}",),
                           keys[node].public, key_id(keys[node].public), "active",
                           now + 365 * DAY_MS)
            for i, node in enumerate(self.nodes))
        snap = DirectorySnapshot(1, now, now + DAY_MS, entries)
        return sign_snapshot(snap, authority or self.authority)

    def open_log(self, folder: Path, node: str) -> ExchangeLog:
        return ExchangeLog(folder / f"{node.lower()}-log.db", self.signing[node], node)


FIND = Find(FindCriteria(Demographics("María", "García", last_name_2="López", sex="F",
                                      birth_date="2012-03-04")),
            Requester("u17", "staff", "Lincoln Elementary"), "enrollment")


def seal(fed: Federation, sender: str, recipient: str, message: object, *,
         reply_to: bytes | None = None, now_ms: int | None = None) -> SealedEnvelope:
    enc = fed.encryption[recipient]
    return seal_envelope(signing_key=fed.signing[sender], sender=sender, recipient=recipient,
                         recipient_key=enc.public, recipient_key_id=enc.key_id,
                         message=message,  # type: ignore[arg-type]
                         now_ms=now_ms or int(time.time() * 1000), ttl_ms=60_000,
                         purpose="enrollment", reply_to=reply_to)


def entry_for(env: SealedEnvelope, me: str, *, students: tuple[str, ...] = (),
              user: tuple[str | None, str | None] = ("u17", "staff"),
              time_ms: int | None = None) -> LogEntry:
    h = env.header
    out = h.sender == me
    return LogEntry(time_ms or h.issued_at_ms, "out" if out else "in",
                    h.recipient if out else h.sender, h.type, h.message_id, h.reply_to,
                    h.purpose, user[0], user[1], students, env.header_bytes, env.body_hash,
                    env.signature, h.sender)


def exchange(fed: Federation, logs: dict[str, ExchangeLog], a: str, b: str, n: int,
             *, drop_on: str | None = None) -> None:
    """A find from a to b and b's reply disclosing student `b-<n>`, logged on both sides
    (unless `drop_on` names a side that "forgets" the request)."""
    req = seal(fed, a, b, FIND)
    sid = f"{b.lower()}-{n}"
    cand = Candidate(f"handle{n:04d}x", 12_000, "match", FIND.criteria.person)
    rep = seal(fed, b, a, FindReply((cand,)), reply_to=req.header.message_id)
    for node in (a, b):
        if node in logs and node != drop_on:
            logs[node].append_sync(entry_for(req, node))
        if node in logs:
            logs[node].append_sync(entry_for(rep, node, students=(sid,) if node == b else ()))
