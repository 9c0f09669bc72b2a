"""RFC 9162 Merkle proof verification: checking inclusion and consistency proofs.

Owns the verifier's side of the exchange log's tree: given only hashes received from a
peer or read from an export (a leaf hash, an audit path, two roots), decide whether the
proof holds. Follows RFC 9162 §2.1.3.2 (verifying an inclusion proof) and §2.1.4.2
(verifying a consistency proof), with the hashing of `crypto.merkle` (RFC 9162 §2.1);
it passes every transparency-dev/merkle test vector. Needs no stored tree: generating
proofs from stored nodes is `crypto.merkle`'s job.

`verify_inclusion` and `verify_consistency` return None and raise `ProofError`;
`root_from_inclusion_proof` returns the root an inclusion proof implies.
"""

from __future__ import annotations

from collections.abc import Sequence

from crypto.errors import ProofError
from crypto.merkle import check_hash, node_hash


def _check_proof(proof: Sequence[bytes]) -> None:
    for i, p in enumerate(proof):
        check_hash(p, f"proof hash #{i}")


def root_from_inclusion_proof(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """The root implied by an inclusion proof (RFC 9162 §2.1.3.2); raises on a bad shape."""
    check_hash(leaf, "leaf hash")
    _check_proof(proof)
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError(
                f"inclusion proof has {len(proof)} hashes, too many for index {index} "
                f"in a tree of size {size}"
            )
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(
            f"inclusion proof has {len(proof)} hashes, too few for index {index} "
            f"in a tree of size {size}"
        )
    return r


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise `ProofError` unless `proof` shows leaf hash `leaf` at `index` under `root`."""
    computed = root_from_inclusion_proof(leaf, index, size, proof)
    check_hash(root, "root hash")
    if computed != root:
        raise ProofError(
            f"inclusion proof for leaf {index} does not lead to the root of the tree of size {size}"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise `ProofError` unless `proof` shows the tree `old_root` is a prefix of `new_root`.

    RFC 9162 §2.1.4.2. An old size of 0 is rejected: a proof from the empty tree is
    meaningless, so callers treat that case as trivially consistent themselves.
    """
    if old_size < 0 or new_size < 0:
        raise ProofError("tree sizes must not be negative")
    if old_size > new_size:
        raise ProofError(f"old tree size {old_size} is larger than new tree size {new_size}")
    if old_size == 0:
        raise ProofError("a consistency proof from an empty tree (old size 0) proves nothing")
    if old_size == new_size:
        if proof:
            raise ProofError("tree sizes are equal, so the consistency proof must be empty")
        if old_root != new_root:
            raise ProofError(f"two different roots for the same tree size {old_size}")
        return
    check_hash(old_root, "old root")
    check_hash(new_root, "new root")
    _check_proof(proof)
    if not proof:
        raise ProofError(f"consistency proof from size {old_size} to {new_size} is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(
                f"consistency proof from size {old_size} to {new_size} has too many hashes"
            )
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(
            f"consistency proof from size {old_size} to {new_size} has too few hashes"
        )
    if fr != old_root:
        raise ProofError(f"consistency proof does not lead to the old root (size {old_size})")
    if sr != new_root:
        raise ProofError(f"consistency proof does not lead to the new root (size {new_size})")
