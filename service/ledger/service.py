"""Each engagement's Merkle log: appending leaves, roots, proofs, and signed checkpoints (DESIGN §4.3–4.4)."""

from collections.abc import Iterable

from sqlalchemy import tuple_
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


def lock_engagement(session: Session, engagement_id: int) -> Engagement:
    """Serialises appends to one engagement: a row lock on PostgreSQL; on SQLite the writer transaction
    already holds the database write lock (see db.py)."""
    return session.exec(
        select(Engagement).where(Engagement.id == engagement_id).with_for_update().execution_options(
            populate_existing=True)
    ).one()


def node_fetcher(session: Session, engagement_id: int):
    def fetch(keys: Iterable[Key]) -> dict[Key, bytes]:
        keys = list(set(keys))
        if not keys:
            return {}
        found: dict[Key, bytes] = {}
        # Chunked so that a large batch stays under every driver's bound-parameter limit.
        for start in range(0, len(keys), 400):
            chunk = keys[start:start + 400]
            rows = session.exec(
                select(MerkleNode.level, MerkleNode.idx, MerkleNode.hash).where(
                    MerkleNode.engagement_id == engagement_id,
                    tuple_(MerkleNode.level, MerkleNode.idx).in_(chunk),
                )
            )
            found.update({(level, idx): bytes(h) for level, idx, h in rows})
        return found

    return fetch


def append_leaf(session: Session, engagement: Engagement, leaf: bytes) -> bytes:
    """Adds the leaf's hash and every perfect subtree it completes, and moves the engagement's root."""
    leaf_hash = merkle.leaf_hash(leaf)
    new_nodes, root = merkle.append(engagement.tree_size, leaf_hash, node_fetcher(session, engagement.id))
    session.add_all(MerkleNode(engagement_id=engagement.id, level=level, idx=idx, hash=digest)
                    for level, idx, digest in new_nodes)
    engagement.root_hash = root
    engagement.tree_size += 1
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


def latest_checkpoint(session: Session, *, workspace: Workspace, engagement: Engagement) -> Checkpoint:
    """The checkpoint for the ledger as it stands, signed now if the ledger grew since the last one."""
    last = session.exec(
        select(Checkpoint).where(Checkpoint.engagement_id == engagement.id).order_by(Checkpoint.size.desc())
    ).first()
    if last is not None and last.size == engagement.tree_size:
        return last
    engagement = lock_engagement(session, engagement.id)
    size, root = engagement.tree_size, engagement.root_hash
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
