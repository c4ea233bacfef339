"""RFC 9162 Merkle trees over stored perfect subtrees (DESIGN §4.3).

A tree is kept as the hashes of its *perfect* subtrees, keyed ``(level, idx)``: the node covering leaves
``[idx * 2**level, (idx + 1) * 2**level)``. Level 0 holds the leaf hashes. Every subtree RFC 9162 ever asks
for is aligned, so it is either one stored node or a right-leaning fold of O(log n) of them. Each operation
works out the keys it needs first and reads them with a single ``fetch(keys) -> {key: hash}`` call, so a
database-backed store answers any proof with one query.
"""

import hashlib
from collections.abc import Callable, Iterable, Sequence
from itertools import islice

Key = tuple[int, int]
Fetch = Callable[[list[Key]], dict[Key, bytes]]

EMPTY_ROOT = hashlib.sha256(b"").digest()
HASH_SIZE = 32


class ProofError(ValueError):
    """A proof or its parameters do not check out."""


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_keys(start: int, end: int) -> list[Key]:
    """The stored nodes whose right fold is MTH(D[start:end]), left to right."""
    keys = []
    while start < end:
        n = end - start
        size = n if n & (n - 1) == 0 else _split(n)
        level = size.bit_length() - 1
        keys.append((level, start >> level))
        start += size
    return keys


def _fold(keys: Sequence[Key], nodes: dict[Key, bytes]) -> bytes:
    digest = nodes[keys[-1]]
    for key in reversed(keys[:-1]):
        digest = node_hash(nodes[key], digest)
    return digest


def _subtrees_hashes(ranges: list[tuple[int, int]], fetch: Fetch) -> list[bytes]:
    wanted = [subtree_keys(start, end) for start, end in ranges]
    nodes = fetch(sorted({key for keys in wanted for key in keys}))
    try:
        return [_fold(keys, nodes) for keys in wanted]
    except KeyError as exc:
        raise LookupError(f"the store has no node {exc.args[0]}") from None


def root_at(size: int, fetch: Fetch) -> bytes:
    if size == 0:
        return EMPTY_ROOT
    return _subtrees_hashes([(0, size)], fetch)[0]


def append(size: int, new_leaf_hash: bytes, fetch: Fetch) -> tuple[list[tuple[int, int, bytes]], bytes]:
    """Adds leaf number ``size``: returns the nodes to store (the leaf and every subtree it completes)
    and the new root. Reads only the O(log n) subtrees that make up the current root."""
    old = subtree_keys(0, size)
    nodes = fetch(old) if old else {}
    level, idx, digest = 0, size, new_leaf_hash
    new = [(0, size, new_leaf_hash)]
    while idx & 1:
        digest = node_hash(nodes[(level, idx - 1)], digest)
        level, idx = level + 1, idx >> 1
        new.append((level, idx, digest))
    # What is left of the old root's subtrees, then the one the new leaf completed.
    kept = [key for key in old if key[0] > level]
    nodes[(level, idx)] = digest
    return new, _fold(kept + [(level, idx)], nodes)


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    ranges = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()  # RFC 9162 lists the path from the leaf up.
    return ranges


def _consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    ranges = []
    start, end, complete = 0, size2, True
    m = size1
    while m != end:
        k = _split(end - start)
        if m - start <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            complete = False
    if not complete:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def inclusion_proof(index: int, size: int, fetch: Fetch) -> list[bytes]:
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not in a tree of size {size}")
    return _subtrees_hashes(_inclusion_ranges(index, size), fetch)


def consistency_proof(size1: int, size2: int, fetch: Fetch) -> list[bytes]:
    if not 0 < size1 <= size2:
        raise ProofError(f"no consistency proof from size {size1} to size {size2}")
    if size1 == size2:
        return []
    return _subtrees_hashes(_consistency_ranges(size1, size2), fetch)


def _check_hashes(proof: Sequence[bytes], expected_length: int, **named: bytes) -> None:
    for name, digest in named.items():
        if len(digest) != HASH_SIZE:
            raise ProofError(f"{name} is {len(digest)} bytes, not {HASH_SIZE}")
    if len(proof) != expected_length:
        raise ProofError(f"proof has {len(proof)} hashes, expected {expected_length}")
    for position, digest in enumerate(proof):
        if len(digest) != HASH_SIZE:
            raise ProofError(f"proof hash {position} is {len(digest)} bytes, not {HASH_SIZE}")


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2 with DESIGN §4.3's strict rules. ``leaf`` is the leaf hash. Raises ProofError."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not in a tree of size {size}")
    _check_hashes(proof, len(_inclusion_ranges(index, size)), leaf_hash=leaf, root=root)
    fn, sn, digest = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            raise ProofError("proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            digest = node_hash(sibling, digest)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            digest = node_hash(digest, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("proof is shorter than the tree is deep")
    if digest != root:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """RFC 9162 §2.1.4.2 with DESIGN §4.3's strict rules. Raises ProofError."""
    if size1 < 1:
        raise ProofError("consistency from the empty tree is not accepted")
    if size1 > size2:
        raise ProofError(f"size1 {size1} is greater than size2 {size2}")
    if size1 == size2:
        if proof:
            raise ProofError("equal sizes need an empty proof")
        if root1 != root2:
            raise ProofError("equal sizes but different roots")
        return
    _check_hashes(proof, len(_consistency_ranges(size1, size2)), root1=root1, root2=root2)
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    first = second = path[0]
    for sibling in path[1:]:
        if sn == 0:
            raise ProofError("proof is longer than the trees need")
        if fn & 1 or fn == sn:
            first, second = node_hash(sibling, first), node_hash(sibling, second)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            second = node_hash(second, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("proof is shorter than the trees need")
    if first != root1:
        raise ProofError("consistency proof does not lead to the first root")
    if second != root2:
        raise ProofError("consistency proof does not lead to the second root")


def _node_hashes(digests: list[bytes]) -> list[bytes]:
    """One level up: the parents of adjacent pairs."""
    sha256 = hashlib.sha256
    return [sha256(b"\x01" + left + right).digest() for left, right in zip(digests[::2], digests[1::2], strict=True)]


class IncrementalTree:
    """Leaf hashes in, roots at chosen sizes out, in one pass with O(log n) memory: the stack holds the
    perfect subtrees that make up the tree so far, largest first (RFC 9162 MTH)."""

    def __init__(self) -> None:
        self.size = 0
        self.stack: list[tuple[int, bytes]] = []

    def extend(self, digests: list[bytes]) -> None:
        done = 0
        while done < len(digests):
            # The largest perfect subtree that starts at the current size (so is aligned to it) and fits,
            # hashed a level at a time rather than a leaf at a time.
            size = 1 << ((len(digests) - done).bit_length() - 1)
            if self.size:
                size = min(size, self.size & -self.size)
            level = digests[done:done + size]
            while len(level) > 1:
                level = _node_hashes(level)
            digest = level[0]
            done += size
            self.size += size
            while self.stack and self.stack[-1][0] == size:
                digest = node_hash(self.stack.pop()[1], digest)
                size *= 2
            self.stack.append((size, digest))

    def root(self) -> bytes:
        if not self.stack:
            return EMPTY_ROOT
        digest = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            digest = node_hash(left, digest)
        return digest


def root_from_leaf_hashes(hashes: Iterable[bytes]) -> bytes:
    """The root of a whole tree in one pass with O(log n) memory (used to verify everything from scratch)."""
    tree = IncrementalTree()
    hashes = iter(hashes)
    while batch := list(islice(hashes, 256)):
        tree.extend(batch)
    return tree.root()
