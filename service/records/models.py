from datetime import datetime
from typing import Any

from pydantic import ConfigDict, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails
from sqlalchemy import Index, LargeBinary
from sqlmodel import JSON, Field, SQLModel, UniqueConstraint

from service.fields import PastTime, Sha256Hex
from service.records.kinds import KINDS


class Record(SQLModel, table=True):
    """One leaf of an engagement's ledger. The database refuses UPDATE and DELETE of these rows."""

    __table_args__ = (
        UniqueConstraint("engagement_id", "idx"),
        UniqueConstraint("engagement_id", "external_id"),
        Index("ix_record_timeline", "engagement_id", "occurred_at", "idx"),
        Index("ix_record_kind", "engagement_id", "kind", "occurred_at", "idx"),
    )
    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id")
    idx: int
    kind: str = Field(max_length=32)
    occurred_at: datetime
    recorded_at: datetime
    actor: str = Field(max_length=64)
    body: bytes = Field(sa_type=LargeBinary, description="the exact RFC 8785 bytes that body_sha256 hashes")
    body_sha256: str = Field(max_length=64)
    attachments: list[str] = Field(default_factory=list, sa_type=JSON)
    refs: list[int] = Field(default_factory=list, sa_type=JSON)
    external_id: str | None = Field(default=None, max_length=200)
    leaf: bytes = Field(sa_type=LargeBinary)
    leaf_hash: bytes = Field(sa_type=LargeBinary)
    # Lower-cased summary, details and participants, for the `q` filter.
    search_text: str = ""


class RecordRef(SQLModel, table=True):
    """The reverse of `refs`, so that a record's amendments and retraction are one indexed read away."""

    __tablename__ = "record_ref"
    engagement_id: int = Field(foreign_key="engagement.id", primary_key=True)
    target_idx: int = Field(primary_key=True)
    source_idx: int = Field(primary_key=True)
    source_kind: str = Field(max_length=32)


class RecordCreate(SQLModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="one of the record kinds, e.g. call, email, invoice_issued")
    occurred_at: PastTime = Field(description="when it happened: RFC 3339 with a zone, not in the future")
    body: dict[str, Any] = Field(default_factory=dict)
    attachments: list[Sha256Hex] = Field(default_factory=list, max_length=100)
    refs: list[int] = Field(default_factory=list, max_length=20)
    external_id: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; known kinds: {', '.join(KINDS)}")
        return kind

    @model_validator(mode="after")
    def _body_fits_kind(self):
        """Checks the body against its kind's schema, so that errors name `body.<field>`."""
        try:
            parsed = KINDS[self.kind].body.model_validate(self.body)
        except ValidationError as exc:
            raise ValidationError.from_exception_data(
                exc.title,
                [
                    InitErrorDetails(
                        type=e["type"], loc=("body", *e["loc"]), input=e["input"], ctx=e.get("ctx", {})
                    )
                    for e in exc.errors()
                ],
            ) from None
        self.body = parsed.model_dump(mode="json", exclude_none=True, exclude_defaults=False)
        if not self.body.get("participants"):
            self.body.pop("participants", None)
        return self


class RecordIn(RecordCreate):
    """A record as a user or another tool sends it: Docket appends the system kinds itself."""

    @field_validator("kind")
    @classmethod
    def _not_system(cls, kind: str) -> str:
        if KINDS[kind].system:
            raise ValueError(f"{kind} records are appended by Docket itself")
        return kind


class RecordVersion(SQLModel):
    index: int
    kind: str
    recorded_at: datetime
    body: dict[str, Any]


class RecordPublic(SQLModel):
    index: int
    kind: str
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    body: dict[str, Any] | None
    body_sha256: str
    attachments: list[str]
    refs: list[int]
    external_id: str | None
    leaf_hash: str
    status: str = Field(description="current, amended or retracted")
    current: dict[str, Any] | None = Field(description="the body as last amended (the body if never amended)")
    history: list[RecordVersion] = Field(default_factory=list, description="amendments, oldest first")
    retraction: RecordVersion | None = None


class RecordPage(SQLModel):
    items: list[RecordPublic]
    next_cursor: str | None
