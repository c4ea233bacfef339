"""Proofs from stored subtrees agree with RFC 9162 and with a from-scratch root (DESIGN §4.3)."""

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.ledger import merkle


class MemoryNodes:
    """An in-memory node store with the same one-fetch interface as the database."""

    def __init__(self) -> None:
        self.nodes: dict[merkle.Key, bytes] = {}
        self.size = 0
        self.root = merkle.EMPTY_ROOT
        self.fetches: list[list[merkle.Key]] = []

    def fetch(self, keys: list[merkle.Key]) -> dict[merkle.Key, bytes]:
        self.fetches.append(list(keys))
        return {key: self.nodes[key] for key in keys if key in self.nodes}

    def append(self, leaf: bytes) -> None:
        new, self.root = merkle.append(self.size, merkle.leaf_hash(leaf), self.fetch)
        self.nodes.update({(level, idx): digest for level, idx, digest in new})
        self.size += 1


def build(size: int) -> MemoryNodes:
    store = MemoryNodes()
    for i in range(size):
        store.append(f"leaf {i}".encode())
    return store


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 written straight from the definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return merkle.leaf_hash(leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return merkle.node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def flip(proof: list[bytes], position: int, bit: int) -> list[bytes]:
    damaged = bytearray(proof[position])
    damaged[bit // 8] ^= 1 << (bit % 8)
    return proof[:position] + [bytes(damaged)] + proof[position + 1:]


def test_roots_match_the_definition_at_every_size():
    store = MemoryNodes()
    leaves = []
    assert store.root == merkle.EMPTY_ROOT
    for i in range(70):
        leaves.append(f"leaf {i}".encode())
        store.append(leaves[-1])
        assert store.root == reference_root(leaves)
        assert merkle.root_at(i + 1, store.fetch) == store.root
        assert merkle.root_from_leaf_hashes(map(merkle.leaf_hash, leaves)) == store.root


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_every_proof_verifies_and_any_flipped_bit_fails(data):
    size = data.draw(st.integers(1, 300), label="size")
    store = build(size)
    index = data.draw(st.integers(0, size - 1), label="index")
    at = data.draw(st.integers(index + 1, size), label="at")
    root = merkle.root_at(at, store.fetch)
    proof = merkle.inclusion_proof(index, at, store.fetch)
    leaf = merkle.leaf_hash(f"leaf {index}".encode())
    merkle.verify_inclusion(index, at, leaf, proof, root)

    size1 = data.draw(st.integers(1, at), label="size1")
    root1 = merkle.root_at(size1, store.fetch)
    consistency = merkle.consistency_proof(size1, at, store.fetch)
    merkle.verify_consistency(size1, at, consistency, root1, root)

    if proof:
        position = data.draw(st.integers(0, len(proof) - 1))
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(index, at, leaf, flip(proof, position, data.draw(st.integers(0, 255))), root)
    if consistency:
        position = data.draw(st.integers(0, len(consistency) - 1))
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(size1, at, flip(consistency, position, data.draw(st.integers(0, 255))),
                                      root1, root)


def test_a_proof_is_one_fetch_of_log_n_nodes_even_at_a_million_leaves():
    size = 1_000_000
    store = MemoryNodes()
    # Only the nodes a fetch asks for matter; fill them lazily from a deterministic rule.
    store.fetch = lambda keys: (store.fetches.append(list(keys)) or
                                {k: hashlib.sha256(repr(k).encode()).digest() for k in keys})
    for proof in (lambda: merkle.inclusion_proof(123_457, size, store.fetch),
                  lambda: merkle.consistency_proof(654_321, size, store.fetch),
                  lambda: merkle.root_at(size, store.fetch),
                  lambda: merkle.append(size, b"\0" * 32, store.fetch)):
        store.fetches.clear()
        proof()
        assert len(store.fetches) == 1
        assert len(store.fetches[0]) <= 2 * size.bit_length()


def test_append_stores_only_the_subtrees_it_completes():
    store = build(7)
    new, root = merkle.append(7, merkle.leaf_hash(b"leaf 7"), store.fetch)
    assert [(level, idx) for level, idx, _ in new] == [(0, 7), (1, 3), (2, 1), (3, 0)]
    assert root == new[-1][2] == reference_root([f"leaf {i}".encode() for i in range(8)])


@pytest.mark.parametrize("index,size", [(-1, 3), (3, 3), (0, 0)])
def test_bad_inclusion_parameters(index, size):
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_proof(index, size, build(3).fetch)


@pytest.mark.parametrize("size1,size2", [(0, 3), (4, 3)])
def test_bad_consistency_parameters(size1, size2):
    with pytest.raises(merkle.ProofError):
        merkle.consistency_proof(size1, size2, build(4).fetch)


@settings(max_examples=200, deadline=None)
@given(origin=st.text(min_size=1, max_size=30), kind=st.text(max_size=20), actor=st.text(max_size=20),
       attachments=st.lists(st.text(max_size=64), max_size=3), refs=st.lists(st.integers(0, 10**12), max_size=4),
       index=st.integers(0, 10**12))
def test_leaf_bytes_are_exactly_jcs(origin, kind, actor, attachments, refs, index):
    import rfc8785

    from service.ledger.leaf import leaf_bytes

    fields = dict(origin=origin, index=index, kind=kind, occurred_at="2026-01-05T10:00:00Z",
                  recorded_at="2026-01-05T10:00:00.123456Z", actor=actor, body_sha256="ab" * 32,
                  attachments=attachments, refs=refs)
    expected = rfc8785.dumps({"v": 1, "log": origin, "index": index, "kind": kind,
                              "occurred_at": fields["occurred_at"], "recorded_at": fields["recorded_at"],
                              "actor": actor, "body_sha256": "ab" * 32, "attachments": attachments, "refs": refs})
    assert leaf_bytes(**fields) == expected
    plain = dict(fields, origin="docket.localhost/acme/1", kind="call", actor="user:1", attachments=["cd" * 32])
    assert leaf_bytes(**plain) == rfc8785.dumps({**{k: v for k, v in plain.items() if k != "origin"},
                                                 "log": plain["origin"], "v": 1})


@pytest.mark.parametrize("step", [1, 3, 5, 64, 100])
def test_the_incremental_tree_gives_the_rfc9162_root_at_every_size(step):
    leaves = [f"leaf {i}".encode() for i in range(100)]
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    tree = merkle.IncrementalTree()
    assert tree.root() == merkle.EMPTY_ROOT
    for start in range(0, 100, step):
        for size in range(start + 1, min(start + step, 100) + 1):
            tree.extend(hashes[tree.size:size])
            assert tree.root() == reference_root(leaves[:size])
