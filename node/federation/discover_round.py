"""The requester's discover round: which states a find discloses its criteria to (issue 14
item 2; DESIGN.md "Messages" `discover` and `find`, docs/SECURITY.md "Private find").

`disclosure_answers` runs, for every target peer at once, one small pipeline and yields
each peer's `PeerAnswer` as it completes, so the slowest peer pins the find but no other:

- a peer that does not speak discover (no `discover/v1` in its directory entry or no OPRF
  key pinned: a node one release behind, or one with discover switched off), or when our
  own discover is switched off: the plain `find`, as before this release;
- a state that a validated link or a move notice already connects with this child
  (`connected_states`): the plain `find` too, its holder is known;
- every other peer: the `discover` (`node.federation.discover_ask`), then the `find` only
  on a hit. No hit is an answer with no candidate (`Route.NO_HIT`), never "missing"; a
  timeout or failure of the discover is reported as the find's would be; a filter fuller
  than its records allow (`suspicious`) gets no find and is counted against its holder.

Each holder's round is counted (`discover_status.record_round`): hits, hits whose find
found no candidate (how a stuffed filter shows), refused filters. The query's keys
(`node.matching.discover_keys.query_discover_keys`) are blinded once a find; neither keys
nor outputs are logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from node import clock
from node.federation.answers import find_hits, query_of
from node.federation.discover_ask import BlindedQuery, DiscoverStatus, ask_discover, blind_query
from node.federation.discover_status import record_round, speaks_discover
from node.federation.peer_client import AnswerStatus, PeerAnswer, ask_find
from node.matching.discover_keys import query_discover_keys, record_discover_keys
from node.matching.id_rule import query_ids
from node.matching.index import TermFrequencies
from node.services import Services
from node.store.federation_tables import recent_notices
from node.store.link_tables import linked_children, peers_connected_to
from protocol.messages import Find, FindReply

#: our students (best first) whose links and notices name the states to ask directly
CONNECTED_LOOKUP = 5
#: received move notices compared with each search (the most recent)
RECENT_NOTICES = 5000
#: the query fields of the names-only comparison with a link's searched child
NAME_FIELDS = ("first_name", "middle_name", "last_name_1", "last_name_2")


class Route(StrEnum):
    """How a find reached (or did not reach) one state."""

    PLAIN = "plain"  # the peer does not speak discover: the find as before
    CONNECTED = "connected"  # a link or move notice connects it with this child
    HIT = "hit"  # its filter had a hit: it got the find
    NO_HIT = "no_hit"  # answered the discover, no hit: no candidate, criteria not sent
    NOT_SENT = "not_sent"  # the discover timed out, failed or its filter was refused


@dataclass(frozen=True)
class RoutedAnswer:
    answer: PeerAnswer
    route: Route


@dataclass
class Disclosure:
    """Which states received the readable criteria of one find, and why."""

    routes: dict[str, Route] = field(default_factory=dict)

    def sent_find(self) -> list[str]:
        return sorted(p for p, r in self.routes.items()
                      if r in (Route.PLAIN, Route.CONNECTED, Route.HIT))

    def to_summary(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {"find_sent": self.sent_find()}
        for route in Route:
            out[str(route)] = sorted(p for p, r in self.routes.items() if r == route)
        return out


def discover_query(find: Find) -> dict[str, Any]:
    """The matcher's query of a find with its first student id, as the holders see it."""
    query = query_of(find)
    for sid in sorted(query_ids(find.criteria.ids))[:1]:
        query["state_student_id"] = sid
    return query


def connected_states(db: Any, find: Find, tf: TermFrequencies | None, keys: Sequence[str],
                     ours: Sequence[str] | None = None) -> set[str]:
    """States a validated link or a move notice already connects with this child (runs on
    the store's thread): links and notices sent of our students matching the find; links
    made from a near match whose searched child has the same names; received notices
    (the most recent `RECENT_NOTICES`) whose child shares a discover key with the query.
    The comparisons are local: nothing is sent to decide them. `keys` are the query's
    discover keys; `ours`, our students matching the find when the caller has already
    searched them (else they are searched here)."""
    states: set[str] = set()
    if ours is None:
        ours = [h.row["state_student_id"] for h in find_hits(db, find, CONNECTED_LOOKUP, tf)
                if h.outcome == "match"]
    states.update(peers_connected_to(db, ours))
    query = discover_query(find)
    names = set(query_discover_keys({k: v for k, v in query.items() if k in NAME_FIELDS}))
    for peer, searched in linked_children(db):
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            if names & set(record_discover_keys(json.loads(searched))):
                states.add(peer)
    key_set = set(keys)
    for sender, notice in recent_notices(db, RECENT_NOTICES):
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            student = json.loads(notice).get("student") or {}
            if not key_set.isdisjoint(record_discover_keys(student)):
                states.add(sender)
    return states


async def disclosure_answers(services: Services, find: Find, targets: Iterable[str], *,
                             timeout: float, disclosure: Disclosure,
                             local_matches: Sequence[str] | None = None,
                             ) -> AsyncIterator[RoutedAnswer]:
    """Each target's answer as it completes, routed as the module docstring says.
    `local_matches`: our students the caller already found as a match for this find."""
    targets = list(targets)
    use_discover = services.cfg.discover.enabled
    blinded: BlindedQuery | None = None
    connected: set[str] = set()
    if use_discover:
        keys = query_discover_keys(discover_query(find))
        blinded = await asyncio.to_thread(blind_query, keys)
        connected = await services.store.run(connected_states, find,
                                             services.term_frequencies, keys, local_matches)
    snapshot = services.directory.current(clock.now_ms())

    async def one(peer: str) -> RoutedAnswer:
        entry = snapshot.entry(peer)
        if blinded is None or entry is None or not speaks_discover(entry):
            return RoutedAnswer(await ask_find(services, peer, find, timeout), Route.PLAIN)
        if peer in connected:
            return RoutedAnswer(await ask_find(services, peer, find, timeout),
                                Route.CONNECTED)
        return await _discover_then_find(services, entry, find, blinded, timeout)

    tasks = [asyncio.create_task(one(p)) for p in targets]
    try:
        for next_done in asyncio.as_completed(tasks):
            routed = await next_done
            disclosure.routes[routed.answer.state] = routed.route
            yield routed
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t


async def _discover_then_find(services: Services, entry: Any, find: Find,
                              blinded: BlindedQuery, timeout: float) -> RoutedAnswer:
    peer, started = entry.node_id, asyncio.get_running_loop().time()
    outcome = await ask_discover(services, entry, blinded, requester=find.requester,
                                 purpose=find.purpose, timeout=timeout)
    spent = (asyncio.get_running_loop().time() - started) * 1000
    if outcome.status is DiscoverStatus.NO_HIT:
        await record_round(services, peer, hit=False,
                           false_positive_ppm=outcome.false_positive_ppm)
        return RoutedAnswer(PeerAnswer(peer, AnswerStatus.ANSWERED, FindReply(()),
                                       latency_ms=spent), Route.NO_HIT)
    if outcome.status is DiscoverStatus.TIMEOUT:
        return RoutedAnswer(PeerAnswer(peer, AnswerStatus.TIMEOUT, error=outcome.detail,
                                       latency_ms=spent), Route.NOT_SENT)
    if outcome.status is not DiscoverStatus.HIT:
        if outcome.status is DiscoverStatus.SUSPICIOUS:
            await record_round(services, peer, hit=False, suspicious=True)
        return RoutedAnswer(PeerAnswer(peer, AnswerStatus.FAILED,
                                       error=f"discover: {outcome.detail}", latency_ms=spent),
                            Route.NOT_SENT)
    answer = await ask_find(services, peer, find, timeout)
    found = isinstance(answer.reply, FindReply) and bool(answer.reply.candidates)
    if answer.status is AnswerStatus.ANSWERED:
        await record_round(services, peer, hit=True, no_candidate=not found,
                           false_positive_ppm=outcome.false_positive_ppm)
    return RoutedAnswer(replace(answer, latency_ms=spent + answer.latency_ms), Route.HIT)
