"""Rebuilding the holder's discover filter (issue 14; docs/PROTOCOL.md "Discover filter").

After each import run, Ed-Fi pull and retention purge, at start when the filter is
missing or outdated (DISCOVER_KEYS_VERSION or the OPRF key changed), and after
`statenode keys rotate-oprf`: for every student whose `discover_values` row is missing
or outdated, `record_discover_keys` → `crypto.oprf.evaluate` with the node's OPRF key
(in worker processes when there are many: ~70 µs an evaluation, ~6 keys a student); then,
in one transaction, store those values, build the Bloom filter of every stored value at a
0.1% false-positive rate (`protocol.discover_filter`), sign it (`protocol.discover_signed`)
and save it under the next version. Only changed students are evaluated.

The workers are the importer's (`node.importing.workers`: forked, with a parent
watchdog; they run pure Python and libsodium, take no lock and never touch the parent's
SQLite connection), get the OPRF private scalar as bytes and return only 64-byte outputs
(marshal bytes); nothing here logs a key or a record.
"""

from __future__ import annotations

import logging
import marshal
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from crypto.keys import SigningKey
from crypto.oprf import OprfKey, evaluate
from node import clock
from node.importing.workers import in_order, start_pool
from node.matching.discover_keys import DISCOVER_KEYS_VERSION, record_discover_keys
from node.store import discover_tables as dt
from node.store.database import Store
from node.store.sql import now_iso
from protocol.discover_filter import DEFAULT_FALSE_POSITIVE, DiscoverFilter, key_id
from protocol.discover_signed import sign_filter

log = logging.getLogger("statenode.discover")

FALSE_POSITIVE_PPM = round(DEFAULT_FALSE_POSITIVE * 1_000_000)
PARALLEL_MIN = 4_000  # stale students before worker processes are worth starting
CHUNK = 2_000


@dataclass(frozen=True)
class RebuildResult:
    version: int | None  # the filter version now published (None: no filter)
    rebuilt: bool  # a new version was made
    evaluated: int  # students whose values were computed
    records: int
    members: int
    seconds: float


#: in a worker process: outputs of keys already evaluated in this rebuild (common names
#: and shared surnames repeat: ~20% of a state's keys), for the OPRF key in _CACHE_OWNER
_CACHE: dict[bytes, bytes] = {}
_CACHE_OWNER: list[bytes] = []
CACHE_MAX = 400_000


def _evaluate_chunk(private: bytes, rows: Sequence[dict[str, Any]],
                    cache: dict[bytes, bytes] | None = None) -> bytes:
    """marshal of [(student id, row hash, outputs)] of `rows`; runs in a worker process
    (with its process-wide cache) or, given `cache`, in the calling one."""
    if cache is None:
        if _CACHE_OWNER != [private]:
            _CACHE.clear()
            _CACHE_OWNER[:] = [private]
        cache = _CACHE
    key = OprfKey.from_private(private)
    out = []
    for row in rows:
        values = []
        for k in record_discover_keys(row):
            data = k.encode()
            value = cache.get(data)
            if value is None:
                value = evaluate(key, data)
                if len(cache) < CACHE_MAX:
                    cache[data] = value
            values.append(value)
        out.append((int(row["id"]), str(row["row_hash"]), b"".join(values)))
    return marshal.dumps(out)


def _chunks(rows: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    for i in range(0, len(rows), CHUNK):
        yield rows[i:i + CHUNK]


def compute_values(oprf: OprfKey, rows: Sequence[dict[str, Any]], *, workers: int = 2
                   ) -> list[tuple[int, str, bytes]]:
    """The values of `rows`, in worker processes when there are at least PARALLEL_MIN."""
    if workers <= 1 or len(rows) < PARALLEL_MIN:
        done: list[tuple[int, str, bytes]] = marshal.loads(  # noqa: S302 (our own bytes)
            _evaluate_chunk(oprf.private, rows, {}))
        return done
    out: list[tuple[int, str, bytes]] = []
    pool = start_pool(workers)
    try:
        for part in in_order(pool, _evaluate_chunk,
                             ((oprf.private, chunk) for chunk in _chunks(rows)), workers):
            out.extend(part)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return out


def is_stale(store: Store, oprf: OprfKey) -> bool:
    """Whether the published filter misses a change (a student added, changed or removed;
    new discover keys; another OPRF key)."""
    kid = key_id(oprf.public)

    def check(db: Any) -> bool:
        latest = dt.latest_filter(db)
        if latest is None or latest.keys_version != DISCOVER_KEYS_VERSION \
                or latest.oprf_key_id != kid:
            return True
        return (latest.records != dt.student_count(db)
                or dt.count_stale(db, DISCOVER_KEYS_VERSION, kid) > 0)
    return bool(store.call(check))


def rebuild(store: Store, *, node_id: str, oprf: OprfKey, signing: SigningKey,
            workers: int = 2, force: bool = False) -> RebuildResult:
    """Bring the filter up to date (a new version) unless it already is (and not `force`).
    Synchronous: the CLI calls it, the running node in a worker thread."""
    started = time.perf_counter()
    kid = key_id(oprf.public)
    store.call(dt.apply_migrations)
    if not force and not is_stale(store, oprf):
        latest = store.call(dt.latest_filter)
        assert latest is not None
        return RebuildResult(latest.version, False, 0, latest.records, latest.members,
                             time.perf_counter() - started)
    rows = store.call(dt.stale_students, DISCOVER_KEYS_VERSION, kid)
    values = compute_values(oprf, rows, workers=workers)

    def commit(db: Any) -> dt.FilterRow:
        dt.save_values(db, values, DISCOVER_KEYS_VERSION, kid)
        records = dt.student_count(db)
        members = dt.member_count(db, DISCOVER_KEYS_VERSION, kid)
        f = DiscoverFilter.build(dt.all_outputs(db, DISCOVER_KEYS_VERSION, kid),
                                 count=members, oprf_public_key=oprf.public)
        version = dt.next_version(db)
        signed, info = sign_filter(f.to_bytes(), node_id=node_id, version=version,
                                   records=records, false_positive_ppm=FALSE_POSITIVE_PPM,
                                   issued_at_ms=clock.now_ms(), signing_key=signing)
        row = dt.FilterRow(version, now_iso(), DISCOVER_KEYS_VERSION, kid, records,
                           info.members, info.sha256, FALSE_POSITIVE_PPM, signed)
        dt.save_filter(db, row)
        return row
    row = store.call(commit)
    seconds = time.perf_counter() - started
    log.info("discover filter version %d: %d records, %d members, %d students evaluated, "
             "%.1f s", row.version, row.records, row.members, len(values), seconds)
    return RebuildResult(row.version, True, len(values), row.records, row.members, seconds)
