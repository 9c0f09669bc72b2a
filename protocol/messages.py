"""Message bodies carried inside envelopes, with strict decoding, and their registry.

Spec: DESIGN.md "Messages" (find, fetch, move_notice, link, error and their
replies; the `cosign` bodies live in `protocol.cosign_messages` and the signed
`RecordSnapshot` a `fetch_reply` carries in `protocol.record_snapshot`). Every
message is a frozen dataclass with a `TYPE`; `to_body` gives the plain map that
`codec.pack` encodes and `from_body` rebuilds any registered message type
(including cosign ones) from an untrusted decoded map, raising `MalformedMessage`
that names the offending field (e.g. `find.criteria.sex`). Unknown fields are
rejected. Scores are integers (match weight × 1000): floats are not allowed on
the wire.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

from protocol.codec import Reader, as_str
from protocol.cosign_messages import Cosign, CosignReply
from protocol.errors import ErrorCode, MalformedMessage
from protocol.record_snapshot import RecordSnapshot

PURPOSES: tuple[str, ...] = (
    "enrollment",
    "placement",
    "credit_accrual",
    "mep_services",
    "move_notice",
    "data_quality",
)
ROLES: tuple[str, ...] = ("staff", "data_admin", "auditor", "operator")
#: purposes a `find` may carry: a move notice is sent, never searched with
SEARCH_PURPOSES: tuple[str, ...] = tuple(p for p in PURPOSES if p != "move_notice")
#: purposes only a data administrator may search with
ADMIN_SEARCH_PURPOSES: tuple[str, ...] = ("data_quality",)


#: roles whose users may search for students (auditors and operators read logs and run
#: the node; they do not look children up)
SEARCH_ROLES: tuple[str, ...] = ("staff", "data_admin")


def search_refusal(purpose: str, role: str) -> str | None:
    """Why a user of `role` may not search with `purpose`, or None when they may
    (DESIGN.md "Messages": purpose of use). Both the requester and the holder ask."""
    if role not in SEARCH_ROLES:
        return f"role {role} may not search for students"
    if purpose not in SEARCH_PURPOSES:
        return f"purpose {purpose!r} is not a purpose a search may have"
    if purpose in ADMIN_SEARCH_PURPOSES and role != "data_admin":
        return f"only a data administrator may search for the purpose {purpose}"
    return None
SEXES: tuple[str, ...] = ("F", "M", "X")
OUTCOMES: tuple[str, ...] = ("match", "near_match")
LINK_ACTIONS: tuple[str, ...] = ("assert", "revoke")

DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
HANDLE_RE = re.compile(r"[A-Za-z0-9_-]{8,128}")
NAME = 100  # max characters of a name field
TEXT = 2000  # max characters of a free-text field
MAX_HANDLES = 50
MAX_CANDIDATES = 50
#: What a `find` without names (a search by student id) carries in `first_name` and
#: `last_name_1`: every release's decoder requires text there, and the matcher folds it to
#: nothing, so a node one release behind answers such a find by its own rules, never with
#: an error.
NO_NAME = "-"


def _opt(r: Reader, key: str, max_len: int = NAME) -> str | None:
    return r.opt_text(key, max_len=max_len)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


@dataclass(frozen=True)
class Requester:
    """The person on whose behalf a node asks (logged for FERPA §99.32)."""

    user_id: str
    role: str
    school: str

    def to_body(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "role": self.role, "school": self.school}

    @classmethod
    def read(cls, r: Reader) -> Requester:
        out = cls(r.text("user_id", max_len=NAME), r.text("role", choices=ROLES),
                  r.text("school", max_len=200))
        r.done()
        return out


@dataclass(frozen=True)
class Demographics:
    """Names (both surnames), sex, birth date and place: what identity is decided on."""

    first_name: str
    last_name_1: str
    middle_name: str | None = None
    last_name_2: str | None = None
    suffix: str | None = None
    sex: str | None = None
    birth_date: str | None = None  # ISO YYYY-MM-DD
    birth_city: str | None = None
    birth_state: str | None = None
    birth_country: str | None = None
    multiple_birth: bool | None = None

    def to_body(self) -> dict[str, Any]:
        return _drop_none(dict(self.__dict__))

    @classmethod
    def read(cls, r: Reader) -> Demographics:
        out = cls(
            first_name=r.text("first_name", max_len=NAME),
            last_name_1=r.text("last_name_1", max_len=NAME),
            middle_name=_opt(r, "middle_name"),
            last_name_2=_opt(r, "last_name_2"),
            suffix=r.opt_text("suffix", max_len=10),
            sex=r.opt_text("sex", choices=SEXES),
            birth_date=r.opt_text("birth_date", max_len=10, pattern=DATE_RE),
            birth_city=_opt(r, "birth_city"),
            birth_state=_opt(r, "birth_state"),
            birth_country=_opt(r, "birth_country"),
            multiple_birth=r.opt_flag("multiple_birth"),
        )
        r.done()
        return out


@dataclass(frozen=True)
class FindCriteria:
    """Demographics plus parents' names and known ids ((kind, value) pairs sorted by kind)."""

    person: Demographics
    parent_names: tuple[str, ...] = ()
    ids: tuple[tuple[str, str], ...] = ()

    def to_body(self) -> dict[str, Any]:
        return {
            "person": self.person.to_body(),
            "parent_names": list(self.parent_names),
            "ids": {k: v for k, v in self.ids},
        }

    @classmethod
    def read(cls, r: Reader) -> FindCriteria:
        person = Demographics.read(r.sub("person"))
        parents = r.array("parent_names", max_len=4)
        ids = r.sub("ids")
        if len(ids.data) > 8:
            raise MalformedMessage(f"{ids.where}: more than 8 ids")
        pairs = tuple(
            (as_str(k, f"{ids.where} key", max_len=32), as_str(v, ids.path(k), max_len=64))
            for k, v in sorted(ids.data.items())
        )
        r.done()
        return cls(
            person,
            tuple(as_str(p, f"{r.where}.parent_names[{i}]", max_len=200)
                  for i, p in enumerate(parents)),
            pairs,
        )


@dataclass(frozen=True)
class Find:
    TYPE: ClassVar[str] = "find"
    criteria: FindCriteria
    requester: Requester
    purpose: str
    max_candidates: int = 10

    def to_body(self) -> dict[str, Any]:
        return {"criteria": self.criteria.to_body(), "requester": self.requester.to_body(),
                "purpose": self.purpose, "max_candidates": self.max_candidates}

    @classmethod
    def read(cls, r: Reader) -> Find:
        return cls(FindCriteria.read(r.sub("criteria")), Requester.read(r.sub("requester")),
                   r.text("purpose", choices=PURPOSES),
                   r.integer("max_candidates", min_value=1, max_value=MAX_CANDIDATES))


@dataclass(frozen=True)
class Candidate:
    """One possible match: an opaque handle for `fetch`, score, outcome, agreements."""

    handle: str
    score: int  # match weight × 1000
    outcome: str
    demographics: Demographics
    agreements: tuple[tuple[str, str], ...] = ()  # (field, comparison level)

    def to_body(self) -> dict[str, Any]:
        return {"handle": self.handle, "score": self.score, "outcome": self.outcome,
                "demographics": self.demographics.to_body(),
                "agreements": {k: v for k, v in self.agreements}}

    @classmethod
    def read(cls, r: Reader) -> Candidate:
        ag = r.sub("agreements")
        if len(ag.data) > 32:
            raise MalformedMessage(f"{ag.where}: more than 32 fields")
        out = cls(
            r.text("handle", pattern=HANDLE_RE, max_len=128),
            r.integer("score", min_value=-(10**9), max_value=10**9),
            r.text("outcome", choices=OUTCOMES),
            Demographics.read(r.sub("demographics")),
            tuple((as_str(k, f"{ag.where} key", max_len=40), as_str(v, ag.path(k), max_len=20))
                  for k, v in sorted(ag.data.items())),
        )
        r.done()
        return out


@dataclass(frozen=True)
class FindReply:
    TYPE: ClassVar[str] = "find_reply"
    candidates: tuple[Candidate, ...] = ()

    def to_body(self) -> dict[str, Any]:
        return {"candidates": [c.to_body() for c in self.candidates]}

    @classmethod
    def read(cls, r: Reader) -> FindReply:
        items = r.array("candidates", max_len=MAX_CANDIDATES)
        return cls(tuple(Candidate.read(Reader(c, f"{r.where}.candidates[{i}]"))
                         for i, c in enumerate(items)))


def _handles(r: Reader, key: str, min_len: int = 1) -> tuple[str, ...]:
    items = r.array(key, max_len=MAX_HANDLES, min_len=min_len)
    return tuple(as_str(h, f"{r.where}.{key}[{i}]", pattern=HANDLE_RE, max_len=128)
                 for i, h in enumerate(items))


@dataclass(frozen=True)
class Fetch:
    TYPE: ClassVar[str] = "fetch"
    handles: tuple[str, ...]
    requester: Requester
    purpose: str

    def to_body(self) -> dict[str, Any]:
        return {"handles": list(self.handles), "requester": self.requester.to_body(),
                "purpose": self.purpose}

    @classmethod
    def read(cls, r: Reader) -> Fetch:
        return cls(_handles(r, "handles"), Requester.read(r.sub("requester")),
                   r.text("purpose", choices=PURPOSES))


@dataclass(frozen=True)
class FetchReply:
    TYPE: ClassVar[str] = "fetch_reply"
    snapshots: tuple[RecordSnapshot, ...] = ()
    missing: tuple[str, ...] = ()  # handles not found or not released for this purpose

    def to_body(self) -> dict[str, Any]:
        return {"snapshots": [s.to_body() for s in self.snapshots],
                "missing": list(self.missing)}

    @classmethod
    def read(cls, r: Reader) -> FetchReply:
        items = r.array("snapshots", max_len=MAX_HANDLES)
        return cls(tuple(RecordSnapshot.read(Reader(s, f"{r.where}.snapshots[{i}]"))
                         for i, s in enumerate(items)), _handles(r, "missing", min_len=0))


@dataclass(frozen=True)
class MoveNotice:
    TYPE: ClassVar[str] = "move_notice"
    student: Demographics
    sent_by: Requester
    destination: str
    contact: str
    expected_arrival: str | None = None  # ISO date
    comment: str | None = None
    record_id: str | None = None  # the sender's record, for a later fetch or link

    def to_body(self) -> dict[str, Any]:
        return _drop_none({
            "student": self.student.to_body(), "sent_by": self.sent_by.to_body(),
            "destination": self.destination, "contact": self.contact,
            "expected_arrival": self.expected_arrival, "comment": self.comment,
            "record_id": self.record_id})

    @classmethod
    def read(cls, r: Reader) -> MoveNotice:
        return cls(
            Demographics.read(r.sub("student")), Requester.read(r.sub("sent_by")),
            r.text("destination", max_len=200), r.text("contact", max_len=200),
            r.opt_text("expected_arrival", max_len=10, pattern=DATE_RE),
            r.opt_text("comment", max_len=TEXT), r.opt_text("record_id", max_len=128))


@dataclass(frozen=True)
class Receipt:
    """Signed acknowledgement of a move notice or link: binds the exact body received."""

    TYPE: ClassVar[str] = "receipt"
    received_body_hash: bytes
    received_at_ms: int
    note: str | None = None

    def to_body(self) -> dict[str, Any]:
        return _drop_none({"received_body_hash": self.received_body_hash,
                           "received_at_ms": self.received_at_ms, "note": self.note})

    @classmethod
    def read(cls, r: Reader) -> Receipt:
        return cls(r.blob("received_body_hash", length=32), r.integer("received_at_ms"),
                   r.opt_text("note", max_len=TEXT))


@dataclass(frozen=True)
class Link:
    """Assert (or revoke) that `my_record` here is the same child as `your_record` there."""

    TYPE: ClassVar[str] = "link"
    my_record: str
    your_record: str
    asserted_by: Requester
    action: str = "assert"
    comment: str | None = None

    def to_body(self) -> dict[str, Any]:
        return _drop_none({"my_record": self.my_record, "your_record": self.your_record,
                           "asserted_by": self.asserted_by.to_body(), "action": self.action,
                           "comment": self.comment})

    @classmethod
    def read(cls, r: Reader) -> Link:
        return cls(r.text("my_record", max_len=128), r.text("your_record", max_len=128),
                   Requester.read(r.sub("asserted_by")), r.text("action", choices=LINK_ACTIONS),
                   r.opt_text("comment", max_len=TEXT))


#: Where a `link` assertion's comment carries the child as the asserting state knows it
#: (its own record, or what it searched for), so the receiving state's administrator can
#: compare before validating. Older releases show it as part of the comment.
LINK_CHILD_MARK = "\n\n[statenode child] "


def comment_with_child(comment: str | None, child: Demographics | None) -> str | None:
    """A `link` comment that also carries `child` (see `LINK_CHILD_MARK`), within `TEXT`."""
    if child is None:
        return comment
    note = LINK_CHILD_MARK + json.dumps(child.to_body(), ensure_ascii=False,
                                        separators=(",", ":"), sort_keys=True)
    return ((comment or "")[:TEXT - len(note)] + note) if len(note) < TEXT else comment


def child_of_comment(comment: str | None) -> tuple[str, Demographics | None]:
    """(the person's comment, the child it carries or None); a note that does not decode
    strictly as `Demographics` is left in the comment as text."""
    text = comment or ""
    head, mark, tail = text.rpartition(LINK_CHILD_MARK)
    if not mark:
        return text, None
    try:
        child = Demographics.read(Reader(json.loads(tail), "link.comment.child"))
    except (ValueError, RecursionError, MalformedMessage):
        return text, None
    return head, child


@dataclass(frozen=True)
class Error:
    TYPE: ClassVar[str] = "error"
    code: ErrorCode
    message: str

    def to_body(self) -> dict[str, Any]:
        return {"code": self.code.value, "message": self.message}

    @classmethod
    def read(cls, r: Reader) -> Error:
        code = r.text("code", choices=frozenset(c.value for c in ErrorCode))
        return cls(ErrorCode(code), r.text("message", max_len=500))


Message: TypeAlias = (
    Find | FindReply | Fetch | FetchReply | MoveNotice | Receipt | Link | Cosign
    | CosignReply | Error
)
_CLASSES: dict[str, Any] = {
    c.TYPE: c for c in (Find, FindReply, Fetch, FetchReply, MoveNotice, Receipt, Link,
                        Cosign, CosignReply, Error)
}
MESSAGE_TYPES: tuple[str, ...] = tuple(_CLASSES)
REPLY_TYPES: frozenset[str] = frozenset(
    {"find_reply", "fetch_reply", "receipt", "cosign_reply", "error"})


def to_body(msg: Message) -> dict[str, Any]:
    """The plain map for `codec.pack`."""
    return msg.to_body()


def from_body(msg_type: str, body: object) -> Message:
    """Rebuild a message of `msg_type` from an untrusted decoded map (MalformedMessage)."""
    cls = _CLASSES.get(msg_type)
    if cls is None:
        raise MalformedMessage(f"unknown message type {msg_type!r}")
    r = Reader(body, msg_type)
    msg: Message = cls.read(r)
    r.done()
    return msg


def purpose_of(msg: Message) -> str | None:
    """The purpose a message states in its body, if it has one."""
    return msg.purpose if isinstance(msg, Find | Fetch) else None


__all__ = [
    "ADMIN_SEARCH_PURPOSES",
    "LINK_CHILD_MARK",
    "MESSAGE_TYPES",
    "NO_NAME",
    "PURPOSES",
    "REPLY_TYPES",
    "ROLES",
    "SEARCH_PURPOSES",
    "Candidate",
    "Demographics",
    "Error",
    "Fetch",
    "FetchReply",
    "Find",
    "FindCriteria",
    "FindReply",
    "Link",
    "Message",
    "MoveNotice",
    "Receipt",
    "Requester",
    "child_of_comment",
    "comment_with_child",
    "from_body",
    "purpose_of",
    "search_refusal",
    "to_body",
]
