from datetime import datetime

from sqlmodel import Field, SQLModel, UniqueConstraint

from service.times import utcnow


class Evidence(SQLModel, table=True):
    """A workspace's claim on a stored file. The bytes live once, by sha256, in the evidence store."""

    __table_args__ = (UniqueConstraint("workspace_id", "sha256"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    sha256: str = Field(max_length=64, index=True)
    size: int
    media_type: str = Field(max_length=200)
    filename: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow)


class EvidencePublic(SQLModel):
    sha256: str
    size: int
    media_type: str
    filename: str
    created_at: datetime
