from collections.abc import Iterable
from datetime import date, datetime
from enum import StrEnum

from pydantic import ConfigDict, StrictInt, ValidationError, model_validator
from sqlalchemy import LargeBinary
from sqlmodel import JSON, Field, SQLModel

from service.fields import MAX_ID, Currency, Day, MinorUnits
from service.times import utcnow


class NoticeForm(StrEnum):
    written = "written"
    any = "any"


class RateUnit(StrEnum):
    hour = "hour"
    day = "day"
    month = "month"
    fixed = "fixed"


class Jurisdiction(StrEnum):
    uk = "uk"
    eu = "eu"
    us_ny = "us-ny"
    contract = "contract"
    other = "other"

    @property
    def label(self) -> str:
        """As pages show it: the code is for the API."""
        return _JURISDICTION_LABELS[self]


_JURISDICTION_LABELS = {Jurisdiction.uk: "United Kingdom", Jurisdiction.eu: "European Union",
                        Jurisdiction.us_ny: "New York State, United States",
                        Jurisdiction.contract: "as the contract says", Jurisdiction.other: "other"}


class Status(StrEnum):
    active = "active"
    notice = "notice"  # notice given, period running
    ended = "ended"


class Terms(SQLModel):
    """The terms an engagement opens with; the body of its `engagement_opened` record carries them."""

    model_config = ConfigDict(extra="forbid")
    started_on: Day
    trial_ends_on: Day | None = None
    notice_days: StrictInt = Field(default=0, ge=0, le=3650)
    notice_form: NoticeForm = NoticeForm.written
    payment_terms_days: StrictInt = Field(default=30, ge=0, le=3650)
    rate_minor: MinorUnits = 0
    currency: Currency = "GBP"
    rate_unit: RateUnit = RateUnit.day
    jurisdiction: Jurisdiction = Jurisdiction.uk
    deliverables: list[str] = Field(default_factory=list, max_length=100)
    late_interest_bp: StrictInt | None = Field(
        default=None, ge=0, le=100_000,
        description="annual late-payment interest written into the contract, in basis points (800 = 8%); "
                    "used when jurisdiction is contract")

    @model_validator(mode="after")
    def _trial_after_start(self):
        if self.trial_ends_on and self.trial_ends_on < self.started_on:
            raise ValueError("trial_ends_on is before started_on")
        if any(not d.strip() or len(d) > 500 for d in self.deliverables):
            raise ValueError("deliverables must be non-empty texts of at most 500 characters")
        return self

    def changed(self, changes: Iterable[dict]) -> "Terms":
        """These terms with each `terms_changed` body applied in turn. A change the terms as they then stand
        cannot take (only possible once an earlier change is retracted, or one is backdated before it) is passed
        over, so that the current terms are always valid terms."""
        terms = self
        for change in changes:
            try:
                terms = Terms.model_validate({**terms.model_dump(mode="json"), **change})
            except ValidationError:
                continue
        return terms


class Engagement(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    title: str = Field(max_length=200)
    # The opening terms; the database refuses to change them once written (the first leaf commits to them).
    started_on: date
    trial_ends_on: date | None = None
    notice_days: int
    notice_form: str = Field(max_length=16)
    payment_terms_days: int
    rate_minor: int
    currency: str = Field(max_length=3)
    rate_unit: str = Field(max_length=16)
    jurisdiction: str = Field(max_length=16)
    deliverables: list[str] = Field(default_factory=list, sa_type=JSON)
    late_interest_bp: int | None = None
    # Derived from the ledger as it grows. `status` says which of notice and end the records hold; whether a notice
    # period has since run out depends on the day, so pages and the API show service.facts.service.current_status.
    status: str = Field(default=Status.active, max_length=16)
    tree_size: int = 0
    root_hash: bytes | None = None
    # The hashes of the perfect subtrees that make up the current tree, left to right (32 bytes each): all an
    # append needs, so it reads no Merkle nodes. `verify` rebuilds everything without trusting it.
    frontier: bytes = Field(default=b"", sa_type=LargeBinary)
    last_activity_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)

    def terms(self) -> Terms:
        return Terms.model_validate(
            {name: getattr(self, name) for name in Terms.model_fields}, strict=False
        )


class EngagementCreate(Terms):
    client_id: StrictInt = Field(ge=0, le=MAX_ID)
    title: str = Field(min_length=1, max_length=200)


class EngagementPublic(Terms):
    model_config = ConfigDict(extra="ignore")
    id: int
    client_id: int
    client_name: str
    title: str
    status: Status
    tree_size: int
    root_hash: str | None = Field(description="hex SHA-256 root of the ledger")
    last_activity_at: datetime | None
    created_at: datetime
