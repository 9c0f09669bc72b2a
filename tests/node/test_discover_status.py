"""Monitoring of the discover round: the requester's counters per holder in node.db and
the flag on a holder whose hits end with no candidate far more often than its filter's
stated rate allows; peers without discover named (node.federation.discover_status)."""

from __future__ import annotations

from pathlib import Path

from crypto.keys import generate_signing_key, key_id
from crypto.oprf import OprfKey
from node.federation.discover_status import MIN_HITS, false_hit_problem, peer_report
from node.store import discover_tables as dt
from node.store.database import Store
from protocol.directory import FEATURE_DISCOVER, DirectoryEntry, EntryStatus


def _entry(node: str, *, discover: bool, status: EntryStatus = EntryStatus.ACTIVE
           ) -> DirectoryEntry:
    key = generate_signing_key()
    return DirectoryEntry(node, node, (f"http://{node.lower()}.example",), key.public,
                          key_id(key.public), status, 10**13,
                          features=(FEATURE_DISCOVER,) if discover else (),
                          oprf_key=OprfKey.generate().public if discover else None)


def test_counters_and_the_false_hit_flag(tmp_path: Path) -> None:
    with Store(tmp_path / "node.db") as store:
        store.call(dt.apply_migrations)
        for i in range(200):  # CA: honest, 1 false hit in 200 rounds
            store.call(lambda db, i=i: dt.count_round(db, "CA", hit=i < 25,
                                                      no_candidate=i == 0,
                                                      false_positive_ppm=1000))
        for i in range(200):  # AZ: 40 hits, all without a candidate
            store.call(lambda db, i=i: dt.count_round(db, "AZ", hit=i < 40,
                                                      no_candidate=True,
                                                      false_positive_ppm=1000))
        store.call(lambda db: dt.count_round(db, "NV", hit=True, suspicious=True))
        counts = store.call(dt.peer_counts)
    by = {c["peer"]: c for c in counts}
    assert by["CA"]["rounds"] == 200 and by["CA"]["hits"] == 25
    assert by["CA"]["no_candidate"] == 1 and by["AZ"]["no_candidate"] == 40
    assert false_hit_problem(by["CA"]) is None
    assert "40 of 40 hits in 200 discover rounds" in (false_hit_problem(by["AZ"]) or "")
    assert "refused 1 time" in (false_hit_problem(by["NV"]) or "")
    few = dict(by["AZ"], hits=MIN_HITS - 1)
    assert false_hit_problem(few) is None  # too few hits to say
    entries = [_entry("TX", discover=True), _entry("CA", discover=True),
               _entry("AZ", discover=True), _entry("NM", discover=False),
               _entry("NV", discover=True), _entry("OK", discover=False,
                                                   status=EntryStatus.SUSPENDED)]
    report = peer_report(entries, "TX", counts)
    assert report["plain_find"] == ["NM"]
    assert report["flagged"] == ["AZ", "NV"]
    assert [p["peer"] for p in report["peers"]] == ["AZ", "CA", "NM", "NV"]
