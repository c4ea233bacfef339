"""Each engagement's Merkle log: appending leaves, roots, proofs, and signed checkpoints (DESIGN §4.3–4.4)."""

from collections.abc import Iterable

from sqlalchemy import insert
from sqlmodel import Session, col, select

from service.accounts.models import Workspace
from service.config import get_settings
from service.engagements.models import Engagement
from service.errors import Conflict, Invalid
from service.ledger import merkle, note
from service.ledger.models import Checkpoint, MerkleNode
from service.records.models import Record

Key = tuple[int, int]


def key_name(workspace: Workspace) -> str:
    return f"{get_settings().log_host}/{workspace.slug}"


def origin(workspace: Workspace, engagement: Engagement) -> str:
    return f"{key_name(workspace)}/{engagement.id}"


def verifier_key(workspace: Workspace) -> str:
    return note.verifier_key(key_name(workspace), workspace.public_key)


def key_id(workspace: Workspace) -> str:
    return note.key_id(key_name(workspace), workspace.public_key).hex()


def lock_engagement(session: Session, engagement_id: int) -> Engagement | None:
    """Serialises appends to one engagement: a row lock on PostgreSQL; on SQLite the writer transaction
    already holds the database write lock (see db.py). Locks once per transaction: a writing request locks
    its engagement as it loads it, and the append then finds it locked."""
    transaction = session.get_transaction()
    held = session.info.get("locked_engagements")
    if held is not None and held[0] is transaction and engagement_id in held[1]:
        return session.get(Engagement, engagement_id)
    engagement = session.exec(
        select(Engagement).where(Engagement.id == engagement_id).with_for_update().execution_options(
            populate_existing=True)
    ).first()
    if held is None or held[0] is not transaction:
        held = session.info["locked_engagements"] = (session.get_transaction(), set())
    held[1].add(engagement_id)
    return engagement


def node_fetcher(session: Session, engagement_id: int):
    def fetch(keys: Iterable[Key]) -> dict[Key, bytes]:
        wanted = set(keys)
        if not wanted:
            return {}
        # `level IN (...) AND idx IN (...)` is one statement of a fixed shape (compiled once) that both engines
        # answer with index probes; it may return a few unwanted (level, idx) pairs, dropped here. A row-value
        # IN or an OR of pairs would make SQLite scan all of the engagement's nodes.
        rows = session.execute(
            select(MerkleNode.level, MerkleNode.idx, MerkleNode.hash).where(
                MerkleNode.engagement_id == engagement_id,
                col(MerkleNode.level).in_({level for level, _ in wanted}),
                col(MerkleNode.idx).in_({idx for _, idx in wanted}),
            )
        )
        return {(level, idx): bytes(h) for level, idx, h in rows if (level, idx) in wanted}

    return fetch


def append_leaf(session: Session, engagement: Engagement, leaf: bytes) -> bytes:
    """Adds the leaf's hash and every perfect subtree it completes, and moves the engagement's root."""
    leaf_hash = merkle.leaf_hash(leaf)
    size = engagement.tree_size
    frontier = engagement.frontier
    known = {key: frontier[32 * i:32 * i + 32] for i, key in enumerate(merkle.subtree_keys(0, size))}
    new_nodes, root = merkle.append(size, leaf_hash, lambda keys: known)
    # Plain rows, not ORM objects: nothing reads them back in this transaction, and every append writes some.
    session.execute(insert(MerkleNode), [{"engagement_id": engagement.id, "level": level, "idx": idx,
                                          "hash": digest} for level, idx, digest in new_nodes])
    known.update({(level, idx): digest for level, idx, digest in new_nodes})
    engagement.frontier = b"".join(known[key] for key in merkle.subtree_keys(0, size + 1))
    engagement.root_hash = root
    engagement.tree_size = size + 1
    session.add(engagement)
    return leaf_hash


def root_at(session: Session, engagement: Engagement, size: int) -> bytes:
    return merkle.root_at(size, node_fetcher(session, engagement.id))


def _check_size(name: str, value: int, tree_size: int) -> None:
    if value > tree_size:
        raise Invalid(f"{name} is {value} but the ledger has {tree_size} records", field=name)


def inclusion_proof(session: Session, engagement: Engagement, *, index: int, size: int) -> list[bytes]:
    if size < 1:
        raise Invalid("size must be at least 1", field="size")
    _check_size("size", size, engagement.tree_size)
    if index >= size:
        raise Invalid(f"index must be below size ({size})", field="index")
    return merkle.inclusion_proof(index, size, node_fetcher(session, engagement.id))


def consistency_proof(session: Session, engagement: Engagement, *, size1: int, size2: int) -> list[bytes]:
    if size1 < 1:
        raise Invalid("from must be at least 1: a proof from the empty tree proves nothing", field="from")
    _check_size("to", size2, engagement.tree_size)
    if size1 > size2:
        raise Invalid("from must not be greater than to", field="from")
    return merkle.consistency_proof(size1, size2, node_fetcher(session, engagement.id))


def leaves(session: Session, engagement: Engagement, *, start: int, end: int) -> list[Record]:
    if start < 0:
        raise Invalid("start must be 0 or more", field="start")
    if end <= start:
        raise Invalid("end must be greater than start", field="end")
    _check_size("end", end, engagement.tree_size)
    if end - start > 1000:
        raise Invalid("at most 1000 leaves at a time", field="end")
    return list(session.exec(
        select(Record).where(Record.engagement_id == engagement.id, col(Record.idx) >= start,
                             col(Record.idx) < end).order_by(Record.idx)))


def last_signed_checkpoint(session: Session, *, engagement: Engagement) -> Checkpoint | None:
    """The latest checkpoint signed so far, without signing a new one: pages show it on every view, and a GET
    must not write."""
    return session.exec(
        select(Checkpoint).where(Checkpoint.engagement_id == engagement.id).order_by(Checkpoint.size.desc())
    ).first()


def sign_current_checkpoint(session: Session, *, workspace: Workspace, engagement: Engagement) -> Checkpoint:
    """The checkpoint for the ledger as it stands, signed now if the ledger grew since the last one."""
    last = last_signed_checkpoint(session, engagement=engagement)
    if last is not None and last.size == engagement.tree_size:
        return last
    engagement = lock_engagement(session, engagement.id)
    size, root = engagement.tree_size, engagement.root_hash
    # Read again under the lock: a concurrent request may have signed this size while we waited for it (on
    # PostgreSQL both then inserted the same size, and the second answered 500). One signature per size.
    last = last_signed_checkpoint(session, engagement=engagement)
    if last is not None and last.size == size:
        return last
    if last is not None:
        # Never sign a view of the log that does not extend what we signed before (DESIGN §4.4).
        proof = consistency_proof(session, engagement, size1=last.size, size2=size)
        try:
            merkle.verify_consistency(last.size, size, proof, last.root_hash, root)
        except merkle.ProofError as exc:
            raise Conflict(f"refusing to sign: the ledger no longer extends checkpoint {last.size} ({exc})") from None
    signing_key = note.unseal_private_key(workspace.sealed_private_key, get_settings().signing_secret())
    text = note.sign_note(note.checkpoint_body(origin(workspace, engagement), size, root),
                          key_name(workspace), signing_key)
    checkpoint = Checkpoint(engagement_id=engagement.id, size=size, root_hash=root, note=text)
    session.add(checkpoint)
    session.flush()
    return checkpoint
