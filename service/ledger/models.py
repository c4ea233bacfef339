from datetime import datetime

from sqlalchemy import LargeBinary
from sqlmodel import Field, SQLModel, UniqueConstraint

from service.times import utcnow


class MerkleNode(SQLModel, table=True):
    """A perfect subtree hash: leaves [idx * 2**level, (idx + 1) * 2**level). Level 0 holds the leaf hashes.

    Storing these makes an append O(log n) writes and any proof O(log n) reads (DESIGN §4.3)."""

    __tablename__ = "merkle_node"
    engagement_id: int = Field(foreign_key="engagement.id", primary_key=True)
    level: int = Field(primary_key=True)
    idx: int = Field(primary_key=True)
    hash: bytes = Field(sa_type=LargeBinary)


class Checkpoint(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("engagement_id", "size"),)
    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id", index=True)
    size: int
    root_hash: bytes = Field(sa_type=LargeBinary)
    note: str
    created_at: datetime = Field(default_factory=utcnow)
