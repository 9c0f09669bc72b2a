"""What operators watch of the discover round (issue 14 item 3 and 5): which peers speak
it, and which holders' hits end with no candidate far more often than their filter's
stated false-positive rate allows (a stuffed filter draws every find).

Spec: DESIGN.md "Messages" `discover`; docs/SECURITY.md "Threat model" (filter stuffing).

- `record_round`: the requester's counters of one round with one holder (a hit or not,
  whether the find it drew found no candidate, a filter refused as stuffed), in
  `discover_peer_counts` (node.store.discover_tables). The requester round
  (`node.federation.federated_find`) calls it once per holder per find.
- `false_hit_problem`: a holder is flagged when at least `MIN_HITS` of its hits are
  counted and its false hits a round exceed `FLAG_FACTOR` × its filter's stated
  false-positive rate × DISCOVER_ELEMENTS (or when we ever refused its filter as
  stuffed).
- `peer_report`: per directory entry, whether it speaks discover (lists
  `FEATURE_DISCOVER` and has an `oprf_key` pinned: else it gets the plain find, and
  /status and `doctor` name it) and its counters and flag. Used by `/local/v1/status`,
  the web status page and `statenode doctor` (which reads node.db itself).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from node.federation.discover import state_of
from node.matching.discover_keys import DISCOVER_ELEMENTS
from node.services import Services
from node.store import discover_tables as dt
from protocol.directory import FEATURE_DISCOVER, DirectoryEntry, EntryStatus

MIN_HITS = 20
FLAG_FACTOR = 10.0


def speaks_discover(entry: DirectoryEntry) -> bool:
    """Whether a requester may send `entry`'s node a discover (else: the plain find)."""
    return entry.has(FEATURE_DISCOVER) and entry.oprf_key is not None


async def record_round(services: Services, peer: str, *, hit: bool,
                       no_candidate: bool = False, suspicious: bool = False,
                       false_positive_ppm: int = 0) -> None:
    await services.store.run(lambda db: dt.count_round(
        db, peer, hit=hit, no_candidate=no_candidate, suspicious=suspicious,
        false_positive_ppm=false_positive_ppm))


def false_hit_problem(counts: Mapping[str, Any]) -> str | None:
    """Why a holder's counters look like a stuffed filter (None when they do not)."""
    if counts.get("suspicious"):
        return (f"its filter was refused {counts['suspicious']} time(s): fuller than its "
                "declared record count allows")
    hits, rounds = int(counts.get("hits") or 0), int(counts.get("rounds") or 0)
    false_hits = int(counts.get("no_candidate") or 0)
    ppm = int(counts.get("false_positive_ppm") or 0) or 1000
    if hits < MIN_HITS or rounds == 0:
        return None
    expected = ppm / 1_000_000 * DISCOVER_ELEMENTS
    rate = false_hits / rounds
    if rate > FLAG_FACTOR * expected:
        return (f"{false_hits} of {hits} hits in {rounds} discover rounds found no candidate "
                f"({rate:.1%} of rounds; its filter states {ppm / 10_000:.2g}% per element, "
                f"about {expected:.1%} a round)")
    return None


def peer_report(entries: Iterable[DirectoryEntry], own_id: str,
                counts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The discover facts of every other active node."""
    by_peer = {c["peer"]: c for c in counts}
    peers = []
    for e in sorted(entries, key=lambda e: e.node_id):
        if e.node_id == own_id or e.status != EntryStatus.ACTIVE:
            continue
        c = dict(by_peer.get(e.node_id, {}))
        c.pop("peer", None)
        peers.append({"peer": e.node_id, "speaks_discover": speaks_discover(e),
                      "rounds": c.get("rounds", 0), "hits": c.get("hits", 0),
                      "no_candidate": c.get("no_candidate", 0),
                      "suspicious": c.get("suspicious", 0),
                      "flag": false_hit_problem(c) if c else None})
    return {"peers": peers,
            "plain_find": [p["peer"] for p in peers if not p["speaks_discover"]],
            "flagged": [p["peer"] for p in peers if p["flag"]]}


async def discover_status(services: Services) -> dict[str, Any]:
    """The `discover` part of /local/v1/status: our filter, our answers, the peers."""
    state = state_of(services)
    counts = await services.store.run(dt.peer_counts)
    latest = await services.store.run(dt.latest_filter)
    entries: list[DirectoryEntry] = []
    if services.directory.snapshot is not None:
        entries = list(services.directory.snapshot.entries)
    report = peer_report(entries, services.node_id, counts)
    return {"enabled": services.cfg.discover.enabled,
            "oprf_key": services.keys.oprf is not None,
            "filter": None if latest is None else {
                "version": latest.version, "records": latest.records,
                "members": latest.members, "bytes": len(latest.signed),
                "built_at": latest.built_at,
                "false_positive": latest.false_positive_ppm / 1_000_000},
            "evaluations": state.evaluations, "rate_limited": state.refused, **report}
