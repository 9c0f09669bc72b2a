"""RFC 9162 Merkle tree: transparency-dev/merkle vectors plus property tests."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import merkle
from crypto.errors import ProofError
from crypto.merkle_verify import verify_consistency, verify_inclusion

# transparency-dev/merkle testdata (Apache-2.0), vendored; see vectors/README.md
VECTORS = Path(__file__).parent / "vectors" / "rfc9162"


def _files(kind: str) -> list[Path]:
    return sorted((VECTORS / kind).rglob("*.json"))


def _b64(s: str) -> bytes:
    return base64.b64decode(s)


def _id(p: Path) -> str:
    return str(p.relative_to(VECTORS))


INCLUSION = _files("inclusion")
CONSISTENCY = _files("consistency")


def test_vectors_present() -> None:
    assert len(INCLUSION) > 90 and len(CONSISTENCY) > 90


@pytest.mark.parametrize("path", INCLUSION, ids=_id)
def test_inclusion_vectors(path: Path) -> None:
    v = json.loads(path.read_text())
    args = (_b64(v["leafHash"]), v["leafIdx"], v["treeSize"], [_b64(p) for p in v["proof"]or []],
            _b64(v["root"]))
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", CONSISTENCY, ids=_id)
def test_consistency_vectors(path: Path) -> None:
    v = json.loads(path.read_text())
    args = (v["size1"], v["size2"], _b64(v["root1"]), _b64(v["root2"]),
            [_b64(p) for p in v["proof"] or []])
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


REFERENCE_LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]
REFERENCE_ROOT = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


def test_reference_tree_root() -> None:
    tree = merkle.MemoryTree()
    for leaf in REFERENCE_LEAVES:
        tree.append(leaf)
    assert tree.root().hex() == REFERENCE_ROOT
    leaves = [merkle.leaf_hash(x) for x in REFERENCE_LEAVES]
    assert merkle.root_from_leaf_hashes(leaves).hex() == REFERENCE_ROOT


def test_reference_tree_proofs_match_vectors() -> None:
    """Our generated proofs equal the happy-path vectors byte for byte."""
    tree = merkle.MemoryTree()
    for leaf in REFERENCE_LEAVES:
        tree.append(leaf)
    for path in _files("consistency"):
        v = json.loads(path.read_text())
        if v["wantErr"] or v["size2"] > 8 or v["size1"] == 0 or "happy" not in path.name:
            continue
        if tree.root(v["size2"]) != _b64(v["root2"]):
            continue
        got = tree.consistency_proof(v["size1"], v["size2"])
        assert got == [_b64(p) for p in v["proof"] or []]
    for path in _files("inclusion"):
        v = json.loads(path.read_text())
        if v["wantErr"] or v["treeSize"] > 8 or "happy" not in path.name:
            continue
        if tree.root(v["treeSize"]) != _b64(v["root"]):
            continue
        assert tree.inclusion_proof(v["leafIdx"], v["treeSize"]) == [
            _b64(p) for p in v["proof"] or []]


def _mth(leaves: list[bytes]) -> bytes:
    """Direct recursive transcription of RFC 9162 §2.1.1 over leaf hashes."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return merkle.node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


def _build(n: int) -> tuple[merkle.MemoryTree, list[bytes]]:
    tree = merkle.MemoryTree()
    hashes = []
    for i in range(n):
        tree.append(i.to_bytes(4, "big"))
        hashes.append(merkle.leaf_hash(i.to_bytes(4, "big")))
    return tree, hashes


TREE, HASHES = _build(300)


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=300))
def test_roots_agree_with_recursive_mth(size: int) -> None:
    expected = _mth(HASHES[:size])
    assert TREE.root(size) == expected
    assert merkle.root_from_leaf_hashes(HASHES[:size]) == expected


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_inclusion_proofs_verify(data: st.DataObject) -> None:
    size = data.draw(st.integers(min_value=1, max_value=300))
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = merkle.inclusion_proof(index, size, TREE.read)
    root = _mth(HASHES[:size])
    verify_inclusion(HASHES[index], index, size, proof, root)
    # the proof reads exactly the nodes it announced
    seen: list[tuple[int, int]] = []

    def spy(level: int, idx: int) -> bytes:
        seen.append((level, idx))
        return TREE.read(level, idx)

    merkle.inclusion_proof(index, size, spy)
    assert seen == merkle.inclusion_nodes(index, size)
    assert len(seen) <= 2 * max(size.bit_length(), 1)
    # wrong leaf or wrong index fails
    other = HASHES[(index + 1) % size]
    if other != HASHES[index]:
        with pytest.raises(ProofError):
            verify_inclusion(other, index, size, proof, root)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_consistency_proofs_verify(data: st.DataObject) -> None:
    new = data.draw(st.integers(min_value=1, max_value=300))
    old = data.draw(st.integers(min_value=1, max_value=new))
    proof = merkle.consistency_proof(old, new, TREE.read)
    old_root, new_root = _mth(HASHES[:old]), _mth(HASHES[:new])
    verify_consistency(old, new, old_root, new_root, proof)
    nodes = merkle.consistency_nodes(old, new)
    rows = {n: TREE.read(*n) for n in nodes}
    assert merkle.consistency_proof(old, new, merkle.mapping_reader(rows)) == proof
    assert len(nodes) <= 2 * new.bit_length() + 2
    if old < new:
        with pytest.raises(ProofError):
            verify_consistency(old, new, new_root, new_root, proof)
        with pytest.raises(ProofError):
            verify_consistency(old, new, old_root, old_root, proof)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=8), max_size=70))
def test_nodes_completed_by_append_match_direct_mth(leaves: list[bytes]) -> None:
    store: dict[tuple[int, int], bytes] = {}
    hashes = [merkle.leaf_hash(x) for x in leaves]
    for size, h in enumerate(hashes):
        reads = merkle.append_reads(size)
        for level, index, value in merkle.nodes_completed_by_append(
            size, h, merkle.mapping_reader({n: store[n] for n in reads})
        ):
            assert (level, index) not in store
            store[(level, index)] = value
    # every complete aligned subtree is stored, with its direct MTH
    n = len(hashes)
    expected = {
        (level, index): _mth(hashes[index << level:(index + 1) << level])
        for level in range(n.bit_length())
        for index in range(n >> level)
    }
    assert store == expected
    assert merkle.root_hash(n, merkle.mapping_reader(store)) == _mth(hashes)


def test_root_reads_are_logarithmic() -> None:
    assert merkle.root_nodes(0) == []
    assert merkle.root_nodes(8) == [(3, 0)]
    assert merkle.root_nodes(7) == [(2, 0), (1, 2), (0, 6)]
    assert merkle.root_hash(0, TREE.read) == merkle.EMPTY_ROOT
    assert merkle.append_reads(7) == [(0, 6), (1, 2), (2, 0)]


def test_bad_arguments() -> None:
    with pytest.raises(ProofError, match="outside"):
        merkle.inclusion_proof(5, 5, TREE.read)
    with pytest.raises(ProofError, match="empty tree"):
        merkle.consistency_proof(0, 5, TREE.read)
    with pytest.raises(ProofError, match="larger"):
        merkle.consistency_proof(6, 5, TREE.read)
    with pytest.raises(ProofError, match="negative"):
        merkle.root_hash(-1, TREE.read)
    with pytest.raises(ProofError, match="32-byte"):
        merkle.nodes_completed_by_append(0, b"short", TREE.read)
    with pytest.raises(ProofError, match="not in the store"):
        merkle.root_hash(3, merkle.mapping_reader({}))
    with pytest.raises(ProofError, match="larger than the tree"):
        TREE.root(301)
    with pytest.raises(ProofError, match="32 bytes"):
        merkle.root_from_leaf_hashes([b"x"])
    assert merkle.consistency_proof(4, 4, TREE.read) == []


def test_verify_messages_name_the_problem() -> None:
    root = TREE.root(10)
    proof = TREE.inclusion_proof(3, 10)
    with pytest.raises(ProofError, match="too many"):
        verify_inclusion(HASHES[3], 3, 10, [*proof, proof[0]], root)
    with pytest.raises(ProofError, match="too few"):
        verify_inclusion(HASHES[3], 3, 10, proof[:-1], root)
    with pytest.raises(ProofError, match="proof hash #1"):
        verify_inclusion(HASHES[3], 3, 10, [proof[0], b"x"], root)
    with pytest.raises(ProofError, match="does not lead"):
        verify_inclusion(HASHES[3], 3, 10, proof, TREE.root(9))
    with pytest.raises(ProofError, match="different roots"):
        verify_consistency(5, 5, TREE.root(5), TREE.root(6), [])
    with pytest.raises(ProofError, match="empty"):
        verify_consistency(5, 6, TREE.root(5), TREE.root(6), [])
