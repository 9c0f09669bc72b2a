"""Reading an exchange-log export folder for `audit verify`, `cross-check` and the UI.

Spec: DESIGN.md "Audit log". The folder written by `ExchangeLog.export` holds
`checkpoint` (the latest signed note with cosignatures), `checkpoints` (earlier cosigned
checkpoints, one JSON object `{"note": ...}` per line), `verifier-key`, `entries.jsonl`,
`directory.msgpack` (the raw signed directory snapshot) and `authority-key` (base64).
Verification itself is `protocol.audit_verify.verify_export`; this module only reads
files, turns unreadable lines into `Problem`s, and can spread the per-entry signature
checks over several processes.
"""

from __future__ import annotations

import base64
import binascii
import json
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protocol.audit import LogEntry, decode_leaf, parse_line
from protocol.audit_verify import (
    Problem,
    check_entry,
    directory_entries,
    load_directory,
    log_node,
    verify_export,
)
from protocol.directory import DirectoryEntry
from protocol.errors import ProtocolError

FILES = ("checkpoint", "verifier-key", "entries.jsonl", "directory.msgpack")


@dataclass
class ExportFolder:
    checkpoint: str = ""
    verifier_key: str = ""
    leaves: list[bytes] = field(default_factory=list)
    declared: list[dict[str, Any] | None] = field(default_factory=list)
    directory: bytes = b""
    authority_key: bytes | None = None
    history: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _one_line(text: str, what: str) -> str:
    """A file holding one value and its newline, nothing else (so no byte goes unchecked)."""
    if not text.endswith("\n") or text[:-1] != text[:-1].strip() or "\n" in text[:-1]:
        raise ValueError(f"{what} must be one line ending in a newline, without extra spaces")
    return text[:-1]


def decode_key(text: str, what: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{what} is not base64") from exc
    if len(key) != 32:
        raise ValueError(f"{what} is {len(key)} bytes, not a 32-byte Ed25519 public key")
    return key


def read_export(folder: str | Path) -> ExportFolder:
    """Read every file; missing files and bad lines become problems, not exceptions."""
    root = Path(folder)
    ex = ExportFolder()
    for name in FILES:
        if not (root / name).is_file():
            ex.problems.append(Problem(name, f"missing from the export folder {root}"))
    if ex.problems:
        return ex
    try:
        _read_files(root, ex)
    except UnicodeDecodeError as exc:
        ex.problems.append(Problem("export", f"a file is not valid UTF-8 ({exc.reason} at byte "
                                   f"{exc.start})"))
    return ex


def _read_files(root: Path, ex: ExportFolder) -> None:
    ex.checkpoint = (root / "checkpoint").read_text(encoding="utf-8")
    try:
        ex.verifier_key = _one_line((root / "verifier-key").read_text(encoding="utf-8"),
                                    "verifier-key")
    except ValueError as exc:
        ex.problems.append(Problem("verifier-key", str(exc)))
        ex.verifier_key = "?"
    ex.directory = (root / "directory.msgpack").read_bytes()
    if (root / "authority-key").is_file():
        try:
            text = _one_line((root / "authority-key").read_text(encoding="utf-8"),
                             "authority-key")
            ex.authority_key = decode_key(text, "authority-key")
        except ValueError as exc:
            ex.problems.append(Problem("authority-key", str(exc)))
    if (root / "checkpoints").is_file():
        lines = (root / "checkpoints").read_text(encoding="utf-8").split("\n")
        if lines[-1] != "":
            ex.problems.append(Problem("checkpoints", "last line does not end in a newline"))
        for n, raw in enumerate(lines[:-1], start=1):
            try:
                ex.history.append(str(json.loads(raw)["note"]))
            except (ValueError, KeyError, TypeError):
                ex.problems.append(Problem(f"checkpoints line {n}", "not a JSON object with "
                                           "a 'note'"))
    with (root / "entries.jsonl").open(encoding="utf-8", newline="\n") as fh:
        for n, text in enumerate(fh, start=1):
            try:
                line = parse_line(text, n)
            except ProtocolError as exc:
                ex.problems.append(Problem(f"entries.jsonl line {n}", str(exc).split(": ", 1)[-1],
                                           n - 1))
                ex.leaves.append(b"")
                ex.declared.append(None)
                continue
            if line.index != n - 1:
                ex.problems.append(Problem(f"entries.jsonl line {n}", f"index is {line.index} "
                                           f"but the line holds entry {n - 1}: entries were "
                                           "deleted, inserted or reordered", n - 1))
            ex.leaves.append(line.leaf)
            ex.declared.append(dict(line.fields))


def _check_chunk(start: int, leaves: Sequence[bytes], origin: str,
                 keys: dict[str, DirectoryEntry]) -> list[Problem]:
    out: list[Problem] = []
    for i, leaf in enumerate(leaves, start=start):
        entry = decode_leaf(leaf)
        if isinstance(entry, LogEntry):
            out.extend(p for p in check_entry(i, entry, origin, keys))
    return out


#: what forked workers read (inherited, never pickled): leaves, log node, directory entries
_SHARED: tuple[Sequence[bytes], str, dict[str, DirectoryEntry]] | None = None


def _check_range(start: int, end: int) -> list[Problem]:
    assert _SHARED is not None
    leaves, origin, keys = _SHARED
    return _check_chunk(start, leaves[start:end], origin, keys)


class SignatureChecks:
    """The per-entry sender-signature checks of an export spread over `jobs` forked
    processes, started at once so the caller can do the rest of the verification while
    they run (`result()` waits). The workers inherit the leaves instead of receiving
    them through pipes."""

    def __init__(self, leaves: Sequence[bytes], origin: str,
                 keys: dict[str, DirectoryEntry], jobs: int) -> None:
        global _SHARED
        _SHARED = (leaves, origin, keys)
        self._pool = ProcessPoolExecutor(max_workers=jobs,
                                         mp_context=multiprocessing.get_context("fork"))
        step = max(1, -(-len(leaves) // (jobs * 8)))  # several chunks a worker: balance
        self._futures = [self._pool.submit(_check_range, s, min(s + step, len(leaves)))
                         for s in range(0, len(leaves), step)]

    def result(self) -> list[Problem]:
        global _SHARED
        try:
            return [p for f in self._futures for p in f.result()]
        finally:
            self._pool.shutdown()
            _SHARED = None


def verify_folder(folder: str | Path, witness_keys: Sequence[str] = (),
                  authority_key: bytes | None = None, *, jobs: int = 1,
                  min_witnesses: int = 0) -> list[Problem]:
    """All problems of an export folder; `authority_key` overrides the folder's copy.
    With `jobs` > 1 the per-entry signatures are checked by that many processes while
    this one checks the tree, the checkpoints and every entry's fields."""
    ex = read_export(folder)
    if any(p.where in FILES for p in ex.problems):
        return ex.problems
    authority = authority_key if authority_key is not None else ex.authority_key
    checks: SignatureChecks | None = None
    if jobs > 1 and len(ex.leaves) >= 10_000 and authority is not None:
        try:
            snap = load_directory(ex.directory, authority)
        except ProtocolError:
            snap = None  # reported by verify_export
        if snap is not None:
            origin = log_node(snap, ex.verifier_key.split("+", 1)[0])
            checks = SignatureChecks(ex.leaves, origin, directory_entries(snap), jobs)
    problems = ex.problems + verify_export(
        ex.checkpoint, ex.verifier_key, ex.leaves, ex.directory, authority, witness_keys,
        declared=ex.declared, history=ex.history, check_signatures=checks is None,
        min_witnesses=min_witnesses)
    if checks is not None:
        problems.extend(checks.result())
        problems.sort(key=lambda p: -1 if p.index is None else p.index)
    return problems


def load_entries(folder: str | Path) -> tuple[str, list[tuple[int, LogEntry]]]:
    """(log node id, [(index, entry)]) of an export, for `cross-check`."""
    ex = read_export(folder)
    if any(p.where in FILES for p in ex.problems):
        raise ValueError(str(ex.problems[0]))
    origin = ex.verifier_key.split("+", 1)[0]
    try:
        origin = log_node(load_directory(ex.directory, ex.authority_key), origin) \
            if ex.authority_key is not None else origin
    except ProtocolError:
        pass  # an origin that is not a node id: the cross-check will say nothing matched
    entries = []
    for i, leaf in enumerate(ex.leaves):
        e = decode_leaf(leaf)
        if isinstance(e, LogEntry):
            entries.append((i, e))
    return origin, entries
