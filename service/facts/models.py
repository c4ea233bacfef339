"""Reference rates an owner adds to the shipped table, per-workspace signal thresholds, and the facts' shapes (the
thresholds' API shapes are made from the signals' table, in thresholds.py)."""

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, StrictInt
from sqlmodel import Field, SQLModel, UniqueConstraint

from service.times import utcnow


class Series(StrEnum):
    boe_base = "boe_base"  # Bank of England Bank Rate: the UK Late Payment Act's reference rate
    ecb_mro = "ecb_mro"  # ECB main refinancing operations rate: the Late Payment Directive's reference rate


class ReferenceRate(SQLModel, table=True):
    """A rate an owner added: extends the shipped table, or overrides its row for the same series and date."""

    __tablename__ = "reference_rate"
    __table_args__ = (UniqueConstraint("workspace_id", "series", "effective_on"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    series: str = Field(max_length=16)
    effective_on: date
    rate_bp: int = Field(description="basis points: 525 = 5.25%")
    source: str = Field(max_length=500)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class SignalThreshold(SQLModel, table=True):
    """An owner's threshold for one signal; signals without a row use the defaults in service.facts.signals."""

    __tablename__ = "signal_threshold"
    workspace_id: int = Field(foreign_key="workspace.id", primary_key=True)
    signal: str = Field(max_length=32, primary_key=True)
    amber: int
    red: int
    updated_by: str = Field(max_length=64)
    updated_at: datetime = Field(default_factory=utcnow)


class RateIn(SQLModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    series: Series
    effective_on: date
    rate_bp: StrictInt = Field(ge=-1000, le=10_000, description="basis points: 525 = 5.25%")
    source: str = Field(min_length=1, max_length=500, description="where the rate is published (a URL)")


class RatePublic(SQLModel):
    series: Series
    effective_on: date
    rate_bp: int
    rate_percent: str
    source: str
    origin: str = Field(description="shipped with Docket, or added by this workspace")
    overrides_shipped: bool = False


# The facts. Every figure cites the records it rests on: `Cite.index` is the record's position in the ledger.


class Cite(BaseModel):
    engagement_id: int
    index: int
    exhibits: list[str] = Field(default_factory=list, description="exhibit numbers of the record's files")


class Notice(BaseModel):
    given: bool
    record: Cite | None = None
    given_by: str | None = None
    form: str | None = None
    required_form: str
    form_ok: bool | None = None
    given_on: date | None = None
    notice_days: int
    ends_on: date | None = None
    cut_off_kind: str | None = Field(default=None, description="access_revoked or engagement_ended")
    cut_off_by: str | None = None
    cut_off_on: date | None = None
    cut_off_record: Cite | None = None
    days_short: int = Field(0, description="days between the cut-off and the end of the notice period")
    unserved_working_days: int = 0
    claim_minor: int | None = None
    currency: str
    claim_formula: str | None = None
    claimable: bool = False
    other_notices: list[Cite] = Field(default_factory=list)
    rule: str


class Trial(BaseModel):
    ends_on: date
    continued_until: date
    continued_because: str
    days_after: int
    reports_after: list[Cite]
    deliverables_after: list[Cite]
    replies: list[Cite] = Field(description="inbound records that refer to those reports and deliverables")
    objections: list[Cite] = Field(description="dispute steps and refused payments after the trial")
    first_objection_on: date | None = None
    reports_before_first_objection: int
    rule: str


class WorkCount(BaseModel):
    kind: str
    label: str
    count: int
    records: list[Cite]


class WorkMonth(BaseModel):
    month: str
    counts: list[WorkCount]


class InterestPart(BaseModel):
    balance_minor: int
    from_on: date = Field(description="interest runs from the day after this date")
    to_on: date
    days: int
    amount_minor: int
    formula: str


class Invoice(BaseModel):
    record: Cite
    invoice_number: str
    issued_on: date
    due_on: date
    due_from: str = Field(description="terms (the issue date + payment_terms_days, which Docket writes into the "
                                     "invoice when none is given) or invoice (another date on the invoice)")
    amount_minor: int
    currency: str
    payments: list[Cite]
    paid_minor: int
    balance_minor: int
    overpaid_minor: int
    paid_in_full_on: date | None
    days_late: int = Field(description="days after the due date it was paid in full, or is still unpaid")
    overdue: bool
    refused: bool
    refusals: list[Cite]
    refusal_reason: str | None = None
    foreign_payments: list[Cite] = Field(default_factory=list, description="payments in another currency")
    regime: str
    reference_series: str | None = None
    reference_on: date | None = None
    reference_rate_bp: int | None = None
    reference_source: str | None = None
    rate_bp: int | None = None
    interest_minor: int | None = None
    interest_parts: list[InterestPart] = Field(default_factory=list)
    compensation_minor: int | None = None
    compensation_currency: str | None = None
    damages_minor: int | None = None
    basis: str = Field(description="the rule and formula used; an estimate, not legal advice")


class MoneyTotal(BaseModel):
    currency: str
    invoices: int
    invoiced_minor: int
    paid_minor: int
    balance_minor: int
    overdue_minor: int
    overpaid_minor: int
    interest_minor: int
    compensation_minor: int
    damages_minor: int


class Money(BaseModel):
    invoices: list[Invoice]
    totals: list[MoneyTotal] = Field(description="one per currency: amounts in different currencies are never added")
    disclaimer: str


class Commitment(BaseModel):
    record: Cite
    promised_by: str
    promise: str
    made_on: date
    due_on: date | None
    state: str = Field(description="kept, broken, overdue or open")
    outcome: Cite | None = None


class Signal(BaseModel):
    signal: str
    label: str
    rule: str
    unit: str
    value: int
    display: str
    amber: int
    red: int
    level: str = Field(description="ok, amber or red")
    records: list[Cite]
    samples: list[int] = Field(default_factory=list, description="response times in seconds, oldest first")
    asked: list[Cite] = Field(default_factory=list, description="for response times: the contact awaiting a reply "
                                                                "that each one is measured from, as `records`")


class StatementLine(BaseModel):
    number: int
    text: str
    refs: list[Cite]


class Facts(BaseModel):
    engagement_id: int
    title: str
    client_id: int
    client_name: str
    as_of: date
    tree_size: int
    root_hash: str | None
    notice: Notice | None
    trial: Trial | None
    status: str = Field(description="active, notice (given, its period running) or ended (recorded as ended, or "
                                    "the notice period is over), as of the day")
    work: list[WorkMonth]
    work_totals: list[WorkCount]
    deliverables_promised: list[str] = Field(description="the deliverables the terms list")
    money: Money
    commitments: list[Commitment]
    signals: list[Signal]
    level: str = Field(description="ok, amber or red: the worst of the signals, money overdue and notice cut short")
    statement: list[StatementLine]


class ClientSignals(BaseModel):
    client_id: int
    client_name: str
    as_of: date
    engagements: dict[int, str] = Field(description="each engagement's level")
    signals: list[Signal]
    level: str
    money: list[MoneyTotal]
