"""RFC 9162 (Certificate Transparency v2) Merkle tree: hashing, roots, proof generation.

Owns the tree arithmetic of the log's side (the prover); follows RFC 9162 §2.1
(identical to RFC 6962 §2.1), with proofs per §2.1.3.1 and §2.1.4.1: SHA-256, leaf
hash `H(0x00 || data)`, interior node `H(0x01 || left || right)`,
`MTH({}) = SHA-256("")`.

Storage model. A log keeps, for every *complete aligned subtree*, its hash under the
key `(level, index)`: the hash over leaves `[index * 2**level, (index + 1) * 2**level)`.
Level 0 holds the leaf hashes. These nodes never change once written, so the root and
proofs for any past tree size can be computed from them with O(log n) reads:

* `nodes_completed_by_append(size, leaf_hash, read)` lists the `(level, index, hash)`
  rows to store when the leaf at position `size` is appended (the leaf itself plus every
  subtree it completes); it reads one stored hash per completed level.
* `root_hash`, `inclusion_proof`, `consistency_proof` take a `HashReader`
  `read(level, index) -> bytes`.

Batch reads. Each computing function has a twin that lists, without reading anything,
exactly the nodes it will read: `append_reads`, `root_nodes`, `inclusion_nodes`,
`consistency_nodes`. A SQL-backed store fetches them with one query and passes
`mapping_reader(rows)` as the reader::

    wanted = merkle.inclusion_nodes(index, size)
    rows = store.fetch_nodes(wanted)              # {(level, index): hash}
    proof = merkle.inclusion_proof(index, size, merkle.mapping_reader(rows))

`MemoryTree` is an in-memory log for auditors and tests, and `root_from_leaf_hashes`
computes the root of a full export quickly. Checking proofs (RFC 9162 §2.1.3.2,
§2.1.4.2) is `crypto.merkle_verify`, which builds on this module's hashing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence

from crypto.errors import ProofError

HASH_LEN = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Node = tuple[int, int]
"""Coordinates `(level, index)` of a complete aligned subtree."""

HashReader = Callable[[int, int], bytes]
"""`read(level, index)` returns the stored hash of that complete subtree."""

Range = tuple[int, int]

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash `SHA-256(0x00 || data)`."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash `SHA-256(0x01 || left || right)`."""
    return _sha256(b"\x01" + left + right).digest()


def mapping_reader(nodes: Mapping[Node, bytes]) -> HashReader:
    """A `HashReader` over prefetched nodes; a missing node raises `ProofError`."""

    def read(level: int, index: int) -> bytes:
        try:
            return nodes[(level, index)]
        except KeyError:
            raise ProofError(
                f"tree node level={level} index={index} is not in the store"
            ) from None

    return read


# --- which nodes a computation needs -------------------------------------------------


def _range_nodes(lo: int, hi: int) -> list[Node]:
    """Complete subtrees, left to right, whose right fold is MTH(D[lo:hi]).

    Valid for the ranges RFC 9162 recursion produces: `lo` is a multiple of a power of
    two that is >= `hi - lo`, so each piece of the binary decomposition is aligned.
    """
    out: list[Node] = []
    remaining = hi - lo
    level = remaining.bit_length()
    while remaining:
        level -= 1
        if remaining >> level & 1:
            out.append((level, lo >> level))
            lo += 1 << level
            remaining -= 1 << level
    return out


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _inclusion_ranges(index: int, size: int) -> list[Range]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]) as leaf ranges, bottom-up."""
    ranges: list[Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo = lo + k
    ranges.reverse()
    return ranges


def _consistency_ranges(old: int, new: int) -> list[Range]:
    """RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], true) as leaf ranges, bottom-up."""
    ranges: list[Range] = []
    lo, hi, m, whole = 0, new, old, True
    while True:
        n = hi - lo
        if m == n:
            if not whole:
                ranges.append((lo, hi))
            break
        k = _split(n)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    ranges.reverse()
    return ranges


def _nodes_of(ranges: Sequence[Range]) -> list[Node]:
    return [node for lo, hi in ranges for node in _range_nodes(lo, hi)]


def _range_hash(lo: int, hi: int, read: HashReader) -> bytes:
    hashes = [read(level, index) for level, index in _range_nodes(lo, hi)]
    h = hashes[-1]
    for left in reversed(hashes[:-1]):
        h = node_hash(left, h)
    return h


def _check_size(size: int, what: str = "tree size") -> None:
    if size < 0:
        raise ProofError(f"{what} must not be negative, got {size}")


def append_reads(size: int) -> list[Node]:
    """Nodes that `nodes_completed_by_append(size, ...)` reads."""
    _check_size(size)
    out: list[Node] = []
    level, index = 0, size
    while index & 1:
        out.append((level, index - 1))
        level, index = level + 1, index >> 1
    return out


def root_nodes(size: int) -> list[Node]:
    """Nodes that `root_hash(size, ...)` reads (at most log2(size) + 1)."""
    _check_size(size)
    return _range_nodes(0, size)


def inclusion_nodes(index: int, size: int) -> list[Node]:
    """Nodes that `inclusion_proof(index, size, ...)` reads."""
    _check_index(index, size)
    return _nodes_of(_inclusion_ranges(index, size))


def consistency_nodes(old_size: int, new_size: int) -> list[Node]:
    """Nodes that `consistency_proof(old_size, new_size, ...)` reads."""
    _check_sizes(old_size, new_size)
    return _nodes_of(_consistency_ranges(old_size, new_size))


def _check_index(index: int, size: int) -> None:
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")


def _check_sizes(old_size: int, new_size: int) -> None:
    if old_size < 1:
        raise ProofError("no consistency proof exists from an empty tree (old size is 0)")
    if old_size > new_size:
        raise ProofError(f"old tree size {old_size} is larger than new tree size {new_size}")


def check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_LEN:
        got = len(value) if isinstance(value, bytes) else type(value).__name__
        raise ProofError(f"{what} must be a {HASH_LEN}-byte SHA-256 hash, got {got}")


# --- computing from stored nodes ---------------------------------------------------------


def nodes_completed_by_append(
    size: int, leaf: bytes, read: HashReader
) -> list[tuple[int, int, bytes]]:
    """Rows `(level, index, hash)` to store when appending leaf hash `leaf` at position `size`.

    The first row is the leaf itself `(0, size, leaf)`; each further row is a subtree the
    new leaf completes. Reads the left siblings listed by `append_reads(size)`.
    """
    check_hash(leaf, "leaf hash")
    rows = [(0, size, leaf)]
    h = leaf
    for level, index in append_reads(size):
        h = node_hash(read(level, index), h)
        rows.append((level + 1, index >> 1, h))
    return rows


def root_hash(size: int, read: HashReader) -> bytes:
    """MTH of the first `size` leaves; `EMPTY_ROOT` for size 0."""
    _check_size(size)
    if size == 0:
        return EMPTY_ROOT
    return _range_hash(0, size, read)


def inclusion_proof(index: int, size: int, read: HashReader) -> list[bytes]:
    """RFC 9162 inclusion proof (audit path, leaf sibling first) of leaf `index`."""
    _check_index(index, size)
    return [_range_hash(lo, hi, read) for lo, hi in _inclusion_ranges(index, size)]


def consistency_proof(old_size: int, new_size: int, read: HashReader) -> list[bytes]:
    """RFC 9162 consistency proof from the tree of `old_size` to that of `new_size`.

    Empty when the sizes are equal. Raises `ProofError` when `old_size` is 0 (every tree
    is trivially consistent with the empty tree; callers skip the check) or larger.
    """
    _check_sizes(old_size, new_size)
    return [_range_hash(lo, hi, read) for lo, hi in _consistency_ranges(old_size, new_size)]


# --- whole-tree helpers --------------------------------------------------------------------


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH over a sequence of leaf hashes, level by level (for verifying a full export).

    Carrying an unpaired last node up unchanged yields exactly RFC 9162's split at the
    largest power of two, and costs one SHA-256 per interior node.
    """
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    for i, h in enumerate(level):
        if len(h) != HASH_LEN:
            raise ProofError(f"leaf hash #{i} must be {HASH_LEN} bytes, got {len(h)}")
    sha = _sha256
    while len(level) > 1:
        it = iter(level)
        nxt = [sha(b"\x01" + a + b).digest() for a, b in zip(it, it, strict=False)]
        if len(level) & 1:
            nxt.append(level[-1])
        level = nxt
    return level[0]


class MemoryTree:
    """An RFC 9162 log held in memory, built on the same functions as the stored log."""

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = [[]]

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def read(self, level: int, index: int) -> bytes:
        """`HashReader` over this tree's complete subtrees."""
        try:
            return self._levels[level][index]
        except IndexError:
            raise ProofError(
                f"tree node level={level} index={index} is not complete in a tree "
                f"of size {self.size}"
            ) from None

    def append_hash(self, leaf: bytes) -> int:
        """Append a leaf hash; return its index."""
        index = self.size
        for level, idx, h in nodes_completed_by_append(index, leaf, self.read):
            if level == len(self._levels):
                self._levels.append([])
            assert len(self._levels[level]) == idx
            self._levels[level].append(h)
        return index

    def append(self, data: bytes) -> int:
        """Append a leaf's data (hashed with `leaf_hash`); return its index."""
        return self.append_hash(leaf_hash(data))

    def root(self, size: int | None = None) -> bytes:
        """Root at `size` (default: the current size)."""
        size = self.size if size is None else size
        if size > self.size:
            raise ProofError(f"tree size {size} is larger than the tree ({self.size})")
        return root_hash(size, self.read)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        size = self.size if size is None else size
        if size > self.size:
            raise ProofError(f"tree size {size} is larger than the tree ({self.size})")
        return inclusion_proof(index, size, self.read)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        new_size = self.size if new_size is None else new_size
        if new_size > self.size:
            raise ProofError(f"tree size {new_size} is larger than the tree ({self.size})")
        return consistency_proof(old_size, new_size, self.read)
