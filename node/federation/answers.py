"""Answers to inbound peer messages (DESIGN.md "Messages"), after the envelope opened.

Each handler takes the services, the sending peer and the opened message, and
returns the reply message and the local student ids it discloses (for the
exchange log). The holder decides per purpose and role what a reply contains
(data minimization): `find` releases only the demographics needed to decide
identity (`find_hits`, with the student-id rule of `node.matching.id_rule`: a find
without names is answered only by the records holding its id); `fetch` releases the
record tables the purpose needs. A handle given only
as a `near_match` (maybe another child: a sibling, a twin) is released to a data
administrator resolving the match (purpose `data_quality`), and otherwise only once an
active link names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from node import clock
from node.federation.links import ADMIN_ROLE, LINK_PURPOSE, linked_handle
from node.matching.id_rule import ID_FIELD, id_outcomes, id_search, normalize_id, query_ids
from node.matching.index import MAX_SCORED, TermFrequencies, score_candidates
from node.services import Services
from node.store import federation_tables as fed
from node.store.record_reads import IDENTITY_COLUMNS, match_candidates, read_student
from protocol.envelope import OpenedEnvelope
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import (
    NO_NAME,
    Candidate,
    Demographics,
    Fetch,
    FetchReply,
    Find,
    FindReply,
    Message,
    MoveNotice,
    Receipt,
    search_refusal,
)
from protocol.record_snapshot import RecordSnapshot

#: Record parts released per purpose of use ("*" = the whole record).
RELEASE: dict[str, frozenset[str]] = {
    "enrollment": frozenset({"*"}),
    "placement": frozenset({"*"}),
    "data_quality": frozenset({"*"}),
    "credit_accrual": frozenset({"enrollments", "assessments"}),
    "mep_services": frozenset({"qualifying_moves", "enrollments"}),
    "move_notice": frozenset(),
}
#: Roles of the requesting person allowed to receive records at all.
RECORD_ROLES = frozenset({"staff", "data_admin"})
#: Parents' contacts: released only to enroll the child (the school must reach them).
CONTACT_FIELDS = frozenset({"parent1_email", "parent1_phone", "parent2_email",
                            "parent2_phone"})
CANDIDATE_POOL = MAX_SCORED  # candidates scored per find (those sharing most keys)
DEMOGRAPHIC_FIELDS = ("first_name", "last_name_1", "middle_name", "last_name_2", "suffix",
                      "sex", "birth_date", "birth_city", "birth_state", "birth_country",
                      "multiple_birth")


@dataclass(frozen=True)
class Answer:
    reply: Message
    student_ids: tuple[str, ...] = ()


def demographics_of(record: dict[str, Any]) -> Demographics:
    values: dict[str, Any] = {k: record.get(k) for k in DEMOGRAPHIC_FIELDS}
    values = {k: (v[:100] if isinstance(v, str) else v) for k, v in values.items()
              if v not in (None, "")}
    values.setdefault("first_name", "")
    values.setdefault("last_name_1", "")
    return Demographics(**values)


def query_of(find: Find) -> dict[str, Any]:
    """The matcher's query dict from find criteria (parents as 'Role: First Last'; the
    `NO_NAME` of an id search left out)."""
    query: dict[str, Any] = {k: v for k, v in find.criteria.person.to_body().items()
                             if v != NO_NAME}
    for text in find.criteria.parent_names:
        role, _, name = text.partition(":")
        first, _, last = name.strip().partition(" ")
        prefix = {"male": "male_parent", "female": "female_parent"}.get(role.strip().lower())
        if prefix:
            query[f"{prefix}_first_name"] = first
            query[f"{prefix}_last_name"] = last
    for kind, value in find.criteria.ids:
        if kind == "state_student_id":
            query["state_student_id"] = value
    return query


def _forbid(message: str) -> ProtocolError:
    return ProtocolError(message, code=ErrorCode.FORBIDDEN)


def term_frequencies(db: Any) -> TermFrequencies:
    """Name frequencies of this state's records, for the common-name adjustment."""
    rows = db.execute("SELECT first_name, middle_name, last_name_1, last_name_2 FROM students")
    return TermFrequencies.from_records(
        {"first_name": r[0], "middle_name": r[1], "last_name_1": r[2], "last_name_2": r[3]}
        for r in rows)


async def refresh_term_frequencies(services: Services) -> int:
    """Scheduled (and at startup): recompute the frequency table the find handler uses."""
    tf = await services.store.run(term_frequencies)
    services.term_frequencies = tf
    return tf.total


def rows_with_ids(db: Any, ids: frozenset[str]) -> list[dict[str, Any]]:
    """The identity columns of our students holding one of the (normalized) ids; stored
    ids are letters and digits, looked up as typed in upper and in lower case (the
    unique index is used)."""
    wanted = sorted({form for sid in sorted(ids)[:8] for form in (sid, sid.lower())})
    if not wanted:
        return []
    cols = ", ".join(f'"{c}"' for c in IDENTITY_COLUMNS)
    found = db.execute(
        f"SELECT {cols} FROM students WHERE state_student_id IN "  # noqa: S608
        f"({', '.join('?' for _ in wanted)})", wanted).fetchall()
    out = []
    for row in found:
        item = {k: v for k, v in zip(IDENTITY_COLUMNS, row, strict=True) if v is not None}
        if "multiple_birth" in item:
            item["multiple_birth"] = bool(item["multiple_birth"])
        out.append(item)
    return out


@dataclass(frozen=True)
class FoundHit:
    """One candidate of this node's answer to a find, after the id rule."""

    row: dict[str, Any]
    score: int  # match weight × 1000, as on the wire
    probability: float | None  # the matcher's (Hit.probability), when it gives one
    outcome: str
    agreements: dict[str, str]


def _scored(query: dict[str, Any], rows: list[dict[str, Any]],
            tf: TermFrequencies | None) -> list[tuple[Any, dict[str, Any]]]:
    """(hit, row) for a few rows fetched by id (scored from their columns)."""
    if not rows:
        return []
    return [(h, rows[h.position]) for h in score_candidates(query, rows, limit=len(rows), tf=tf)]


def find_hits(db: Any, find: Find, limit: int, tf: TermFrequencies | None) -> list[FoundHit]:
    """Our students answering a find, best first, `no_match` left out (DESIGN.md
    "Identity matching"; the student-id rule of `node.matching.id_rule`): a find
    without names is answered only by the students holding its id."""
    query = query_of(find)
    ids = query_ids(find.criteria.ids)
    for sid in sorted(ids)[:1]:
        query["state_student_id"] = sid
    held = rows_with_ids(db, ids)
    if id_search(query):
        pairs = _scored(query, held, tf)
    else:  # stored normalized forms, typo-tolerant candidate keys (node.store.record_reads)
        pairs = match_candidates(db, query, max(limit, 1), tf, CANDIDATE_POOL)
        known = {normalize_id(row.get("state_student_id")) for _hit, row in pairs}
        pairs += _scored(query, [r for r in held
                                 if normalize_id(r.get("state_student_id")) not in known], tf)
    if not pairs:
        return []
    holds = [normalize_id(row.get("state_student_id")) in ids for _hit, row in pairs]
    agreements = [{**{k: str(v)[:20] for k, v in h.agreements.items()},
                   **({ID_FIELD: "agree"} if held_id else {})}
                  for (h, _row), held_id in zip(pairs, holds, strict=True)]
    outcomes = id_outcomes([h.outcome for h, _row in pairs], agreements, holds)
    found = [FoundHit(row, round(h.score * 1000), getattr(h, "probability", None), out, ag)
             for (h, row), out, ag in zip(pairs, outcomes, agreements, strict=True)
             if out != "no_match"]
    found.sort(key=lambda f: (f.outcome != "match", -f.score))
    return found[:max(limit, sum(holds))]


def _find(db: Any, peer: str, find: Find, limit: int, tf: TermFrequencies | None) -> Answer:
    if find.requester.role not in RECORD_ROLES:
        raise _forbid(f"role {find.requester.role} may not search for students")
    refusal = search_refusal(find.purpose, find.requester.role)
    if refusal is not None:
        raise _forbid(refusal)
    out, ids = [], []
    for hit in find_hits(db, find, min(limit, find.max_candidates), tf):
        sid = hit.row["state_student_id"]
        out.append(Candidate(
            handle=fed.handle_for(db, peer, sid, matched=hit.outcome == "match"),
            score=hit.score,
            outcome=hit.outcome,
            demographics=demographics_of(hit.row),
            agreements=tuple(sorted(hit.agreements.items())),
        ))
        ids.append(sid)
    return Answer(FindReply(tuple(out)), tuple(ids))


def release(record: dict[str, Any], purpose: str) -> dict[str, Any]:
    """The part of a record released for a purpose (demographics always)."""
    parts = RELEASE.get(purpose, frozenset())
    out = {k: v for k, v in record.items() if not isinstance(v, list)
           and (purpose == "enrollment" or k not in CONTACT_FIELDS)}
    for key, value in record.items():
        if isinstance(value, list) and ("*" in parts or key in parts):
            out[key] = value
    return out


def _resolving(fetch: Fetch) -> bool:
    """A data administrator resolving a near match (identity, not enrollment)."""
    return fetch.requester.role == ADMIN_ROLE and fetch.purpose == LINK_PURPOSE


def _fetch(db: Any, peer: str, fetch: Fetch, services: Services) -> Answer:
    if fetch.requester.role not in RECORD_ROLES:
        raise _forbid(f"role {fetch.requester.role} may not read student records")
    snaps, missing, ids = [], [], []
    now = clock.now_ms()
    for handle in fetch.handles:
        found = fed.resolve_handle_matched(db, peer, handle)
        if found is None:
            missing.append(handle)
            continue
        sid, matched = found
        if not (matched or _resolving(fetch) or linked_handle(db, peer, handle)):
            raise _forbid(f"record {handle} was given to {peer} only as a near match: it is "
                          "released once data administrators have linked the child (worklist, "
                          f"two-person rule), or to a data administrator for {LINK_PURPOSE}")
        try:
            record = read_student(db, sid)
        except Exception:  # deleted since the find
            missing.append(handle)
            continue
        version = int(record.pop("record_version", 1) or 1)
        record.pop("owner_state", None)
        snaps.append(RecordSnapshot.create(
            services.keys.signing, owner=services.node_id, record_id=handle, version=version,
            issued_at_ms=now, record=release(record, fetch.purpose)))
        ids.append(sid)
    return Answer(FetchReply(tuple(snaps), tuple(missing)), tuple(ids))


def _move_notice(db: Any, peer: str, opened: OpenedEnvelope) -> Answer:
    notice = opened.message
    assert isinstance(notice, MoveNotice)
    _new, received_ms, body_hash = fed.inbox_add(
        db, sender=peer, message_id=opened.header.message_id, body_hash=opened.body_hash,
        notice=notice.to_body(), received_ms=clock.now_ms())
    return Answer(Receipt(body_hash, received_ms))


async def answer(services: Services, peer: str, opened: OpenedEnvelope) -> Answer:
    """Dispatch one opened request to its handler; ProtocolError becomes an error reply."""
    msg = opened.message
    store = services.store
    if isinstance(msg, Find):
        # durable=False: a power cut may lose the record handles of the last finds (not
        # their exchanges, which the exchange log holds durably); a later find makes them
        # again, and a fetch of a lost one is answered as missing
        return await store.run(_find, peer, msg, services.cfg.matching.max_candidates,
                               services.term_frequencies, durable=False)
    if isinstance(msg, Fetch):
        return await store.run(_fetch, peer, msg, services)
    if isinstance(msg, MoveNotice):
        return await store.run(_move_notice, peer, opened)
    handler = services.message_handlers.get(opened.header.type)
    if handler is not None:
        result: Answer = await handler(services, peer, opened)
        return result
    raise ProtocolError(f"this node does not accept {opened.header.type} requests",
                        code=ErrorCode.MALFORMED)


async def stored_receipt(services: Services, peer: str, message_id: bytes) -> Receipt | None:
    """For a retried move notice already in the inbox: the same receipt again."""
    found = await services.store.run(lambda db: fed.inbox_lookup(db, peer, message_id))
    if found is None:
        return None
    return Receipt(found[1], found[0])
