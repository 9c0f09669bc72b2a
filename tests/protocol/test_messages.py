"""Message bodies: round trips, field-naming validation errors, signed snapshots."""

from __future__ import annotations

import pytest

from crypto.keys import generate_signing_key
from protocol.codec import pack, unpack
from protocol.cosign_messages import Cosign, CosignReply
from protocol.errors import ErrorCode, InvalidRecord, MalformedMessage
from protocol.messages import (
    DISCOVER_ELEMENTS,
    MESSAGE_TYPES,
    PURPOSES,
    Candidate,
    Demographics,
    Discover,
    DiscoverReply,
    Error,
    Fetch,
    FetchReply,
    Find,
    FindCriteria,
    FindReply,
    Link,
    Message,
    MoveNotice,
    Receipt,
    Requester,
    from_body,
    to_body,
)
from protocol.record_snapshot import RecordSnapshot

KEY = generate_signing_key()
WHO = Requester("u1", "staff", "Lincoln Elementary")
KID = Demographics("José", "Hernández", last_name_2="Ruiz", sex="M", birth_date="2011-12-01",
                   multiple_birth=False)
SNAP = RecordSnapshot.create(KEY, owner="TX", record_id="tx-000123", version=3,
                             issued_at_ms=1_700_000_000_000,
                             record={"first_name": "José", "credits": 0.5, "courses": []})
ALL: list[Message] = [
    Find(FindCriteria(KID, ("Ana Ruiz",), (("TX", "55"), ("msix", "1234"))), WHO, "placement", 5),
    FindReply((Candidate("h_12345678", 12_500, "near_match", KID,
                         (("birth_date", "agree"), ("last_name_1", "partial"))),)),
    Fetch(("h_12345678", "h_abcdefgh"), WHO, "credit_accrual"),
    FetchReply((SNAP,), ("h_missing1",)),
    MoveNotice(KID, WHO, "Fresno Unified", "mep@example.org", "2025-09-01", "with sibling",
               "tx-000123"),
    Receipt(b"\x07" * 32, 1_700_000_000_000),
    Link("ca-9", "tx-000123", Requester("admin", "data_admin", "CA SEA"), "revoke", "twin"),
    Cosign("TX\n12\nabc=\n", 8, (b"\x01" * 32, b"\x02" * 32)),
    CosignReply("TX\n12\nabc=\n\n— CA sig\n"),
    Discover(tuple(bytes([i]) * 32 for i in range(DISCOVER_ELEMENTS)), WHO, "enrollment"),
    DiscoverReply(tuple(bytes([i]) * 32 for i in range(DISCOVER_ELEMENTS)), b"\x05" * 64, 3),
    Error(ErrorCode.FORBIDDEN, "purpose not allowed for this role"),
]


def test_constants() -> None:
    assert set(MESSAGE_TYPES) == {m.TYPE for m in ALL}
    assert PURPOSES == ("enrollment", "placement", "credit_accrual", "mep_services",
                        "move_notice", "data_quality")


@pytest.mark.parametrize("msg", ALL, ids=lambda m: m.TYPE)
def test_round_trip(msg: Message) -> None:
    assert from_body(msg.TYPE, unpack(pack(to_body(msg)))) == msg


def body(msg: Message) -> dict:
    return unpack(pack(to_body(msg)))


@pytest.mark.parametrize(
    ("msg_type", "mutate", "where"),
    [
        ("find", lambda b: b["criteria"]["person"].update(sex="Q"), r"find\.criteria\.person\.sex"),
        ("find", lambda b: b["criteria"]["person"].pop("first_name"),
         r"find\.criteria\.person\.first_name: missing"),
        ("find", lambda b: b["criteria"]["person"].update(birth_date="12/01/2011"),
         r"find\.criteria\.person\.birth_date"),
        ("find", lambda b: b.update(purpose="marketing"), r"find\.purpose"),
        ("find", lambda b: b["requester"].update(role="root"), r"find\.requester\.role"),
        ("find", lambda b: b.update(max_candidates=0), r"find\.max_candidates"),
        ("find", lambda b: b["criteria"]["ids"].update(x=5), r"find\.criteria\.ids\.x"),
        ("find", lambda b: b["criteria"]["parent_names"].append(7),
         r"find\.criteria\.parent_names\[1\]"),
        ("find", lambda b: b.update(extra=1), "unexpected field 'extra'"),
        ("find_reply", lambda b: b["candidates"][0].update(score=1.5),
         r"find_reply\.candidates\[0\]\.score: expected an integer"),
        ("find_reply", lambda b: b["candidates"][0].update(handle="../etc"),
         r"find_reply\.candidates\[0\]\.handle"),
        ("fetch", lambda b: b.update(handles=[]), r"fetch\.handles"),
        ("fetch_reply", lambda b: b["snapshots"][0].update(signature=b"x"),
         r"fetch_reply\.snapshots\[0\]\.signature: must be 64 bytes"),
        ("fetch_reply", lambda b: b["snapshots"][0].update(owner="Texas"),
         r"fetch_reply\.snapshots\[0\]\.owner"),
        ("move_notice", lambda b: b.update(contact=None), r"move_notice\.contact"),
        ("receipt", lambda b: b.update(received_body_hash=b"12"),
         r"receipt\.received_body_hash"),
        ("link", lambda b: b.update(action="merge"), r"link\.action"),
        ("cosign", lambda b: b["proof"].append(b"short"), r"cosign\.proof\[2\]"),
        ("error", lambda b: b.update(code="teapot"), r"error\.code"),
    ],
)
def test_validation_names_field(msg_type: str, mutate, where: str) -> None:
    msg = next(m for m in ALL if m.TYPE == msg_type)
    b = body(msg)
    mutate(b)
    with pytest.raises(MalformedMessage, match=where):
        from_body(msg_type, b)


def test_unknown_type_and_non_map() -> None:
    with pytest.raises(MalformedMessage, match="unknown message type"):
        from_body("gossip", {})
    with pytest.raises(MalformedMessage, match="find: expected a map"):
        from_body("find", [1, 2])


def test_snapshot_signature() -> None:
    SNAP.verify(KEY.public)
    with pytest.raises(InvalidRecord) as info:
        SNAP.verify(generate_signing_key().public)
    assert info.value.code == ErrorCode.BAD_SIGNATURE
    tampered = RecordSnapshot(SNAP.owner, SNAP.record_id, SNAP.version + 1, SNAP.issued_at_ms,
                              SNAP.record, SNAP.signature)
    with pytest.raises(InvalidRecord, match="tx-000123 v4"):
        tampered.verify(KEY.public)
    changed = RecordSnapshot(SNAP.owner, SNAP.record_id, SNAP.version, SNAP.issued_at_ms,
                             {**SNAP.record, "first_name": "Jose"}, SNAP.signature)
    with pytest.raises(InvalidRecord):
        changed.verify(KEY.public)
    # a snapshot that went over the wire still verifies
    received = from_body("fetch_reply", body(FetchReply((SNAP,))))
    assert isinstance(received, FetchReply)
    received.snapshots[0].verify(KEY.public)


def test_a_link_carries_the_child_in_its_comment_for_any_release() -> None:
    """Issue 13 item 6: the child as the asserting state knows it travels in the existing
    `comment` (decoders of every release accept the message unchanged)."""
    from protocol.messages import (
        LINK_CHILD_MARK,
        NO_NAME,
        Demographics,
        Link,
        Requester,
        child_of_comment,
        comment_with_child,
        from_body,
    )

    child = Demographics("Jesús", "Ramírez", sex="M", birth_date="2010-07-15")
    comment = comment_with_child("Chuy is Jesús; same mother." * 60, child)
    assert comment is not None and len(comment) <= 2000 and LINK_CHILD_MARK in comment
    link = Link("link-ab", "handle1234", Requester("dana", "data_admin", "FL"), "assert",
                comment)
    again = from_body("link", unpack(pack(link.to_body())))
    assert isinstance(again, Link)
    text, got = child_of_comment(again.comment)
    assert got == child and text.startswith("Chuy is Jesús")
    assert child_of_comment("just words") == ("just words", None)
    assert child_of_comment(None) == ("", None)
    assert comment_with_child(None, None) is None
    # a note that is not strictly a child stays text: nothing unknown is believed
    for bad in ('{"first_name": "A"}', '{"first_name": "A", "last_name_1": "B", "x": 1}',
                "[" * 5000, "not json", '"a string"'):
        assert child_of_comment("hi" + LINK_CHILD_MARK + bad) == ("hi" + LINK_CHILD_MARK
                                                                 + bad, None)
    assert NO_NAME == "-"
