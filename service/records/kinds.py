"""Every record kind and all that differs by kind: its body schema, label, icon and family, its default summary,
its effect on the engagement's status, what the timeline, the chronology and the search show of it, its form
fields, and which earlier records it may refer to. A new kind is one entry of `_ALL` (and its `KindName`)."""

import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum, StrEnum
from functools import cached_property
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from service.engagements.models import Status, Terms
from service.fields import AnyTime, Currency, Day, LongText, MinorUnits, ShortText


class Direction(StrEnum):
    inbound = "in"
    outbound = "out"
    internal = "internal"


class Party(StrEnum):
    client = "client"
    contractor = "contractor"
    other = "other"


class Body(BaseModel):
    """Fields every record may carry. The server adds `salt` (DESIGN §4.1) before hashing."""

    model_config = ConfigDict(extra="forbid")
    summary: ShortText | None = None
    details: LongText | None = None
    direction: Direction | None = None
    participants: list[ShortText] = Field(default_factory=list, max_length=50)


class Contact(Body):
    """A call, email, message or voicemail. The walk-away signals turn on who contacted whom, so a contact always
    says its direction; and the client's response time is measured only from outbound contacts that wait for an
    answer (a weekly report or a thank-you needs none)."""

    direction: Direction
    awaits_reply: StrictBool | None = Field(
        default=None, description="outbound only: whether this contact waits for the client's answer; true unless "
                                  "set to false")

    @model_validator(mode="after")
    def _awaits_reply_is_outbound(self):
        if self.direction == Direction.outbound:
            if self.awaits_reply is None:
                self.awaits_reply = True
        elif self.awaits_reply is not None:
            raise ValueError("awaits_reply is only for outbound contacts (direction out)")
        return self


class Call(Contact):
    duration_minutes: StrictInt | None = Field(default=None, ge=0, le=24 * 60)
    outcome: ShortText | None = None


class Email(Contact):
    subject: ShortText | None = None


class Meeting(Body):
    duration_minutes: StrictInt | None = Field(default=None, ge=0, le=24 * 60)
    location: ShortText | None = None


class Message(Contact):
    channel: ShortText | None = None


class MeetingScheduled(Body):
    meeting_at: AnyTime
    location: ShortText | None = None


class MeetingCancelled(Body):
    meeting_at: AnyTime
    cancelled_by: Party
    reason: ShortText | None = None


class NoShow(Body):
    meeting_at: AnyTime
    party: Party


class ReportSent(Body):
    period_from: Day | None = None
    period_to: Day | None = None
    # Work the contractor did for the client, as the report states it: meetings they booked for the client with
    # prospects. Not a `meeting_scheduled` record, which is any meeting in the diary (often one with the client).
    meetings_set: StrictInt | None = Field(default=None, ge=0, le=10_000,
                                           description="meetings set for the client in the report's period")


class DeliverableDelivered(Body):
    deliverable: ShortText


class LeadHandedOver(Body):
    lead_name: ShortText
    company: ShortText | None = None
    value_minor: MinorUnits | None = None
    currency: Currency | None = None


class InvoiceIssued(Body):
    invoice_number: str = Field(min_length=1, max_length=64)
    amount_minor: MinorUnits
    currency: Currency
    due_on: Day | None = Field(default=None, description="defaults to the issue date plus payment_terms_days")
    period_from: Day | None = None
    period_to: Day | None = None


class PaymentReceived(Body):
    amount_minor: MinorUnits
    currency: Currency
    method: ShortText | None = None


class PaymentRefused(Body):
    reason: ShortText


class EngagementOpened(Body):
    title: ShortText
    client: ShortText
    terms: Terms


class TermsChanged(Body):
    changes: dict = Field(description="the terms fields that change, with their new values")
    effective_on: Day | None = None


class NoticeForm(StrEnum):
    written = "written"
    oral = "oral"


class NoticeGiven(Body):
    given_by: Party
    form: NoticeForm
    effective_on: Day | None = Field(default=None, description="defaults to the day the notice was given")


class AccessRevoked(Body):
    system: ShortText
    revoked_by: Party = Party.client


class EngagementEnded(Body):
    ended_by: Party
    ended_on: Day | None = None


class DisputeStep(Body):
    step: ShortText


class Commitment(Body):
    promised_by: Party
    promise: ShortText
    due_on: Day | None = None


class Amendment(Body):
    reason: ShortText
    body: dict = Field(description="the corrected body, in the schema of the amended record's kind")


class Retraction(Body):
    reason: ShortText


class CheckpointShared(Body):
    recipient: ShortText
    method: ShortText
    size: StrictInt
    root: ShortText


class BundleExported(Body):
    size: StrictInt
    root: ShortText
    subset: dict = Field(default_factory=dict)
    recipient: ShortText | None = None


class LetterType(StrEnum):
    letter_before_claim = "letter before claim"
    debt_claim_pack = "letter before claim with the debt claims information sheet"
    eu_late_payment_demand = "late payment demand (EU)"
    freelance_demand = "Freelance Isn't Free Act demand"
    commission_demand = "unpaid commission demand (Labor Law 191-c)"
    notice_of_termination = "notice of termination"
    data_preservation_request = "request to preserve and return data"
    other = "other letter"


class SendMethod(StrEnum):
    email = "email"
    post = "post"
    recorded_delivery = "recorded or certified post"
    by_hand = "by hand"
    courier = "courier"
    other = "other"


class LetterSent(Body):
    """A letter as it was sent; the letter itself is the record's attachment."""

    letter: LetterType
    recipient: ShortText
    method: SendMethod
    reply_by: Day | None = Field(default=None, description="the day the letter asks for a reply by")


class KindName(StrEnum):
    """Every record kind's name, for code: a typo is an AttributeError, not a silent mismatch."""

    call = "call"
    email = "email"
    meeting = "meeting"
    message = "message"
    voicemail = "voicemail"
    note = "note"
    meeting_scheduled = "meeting_scheduled"
    meeting_cancelled = "meeting_cancelled"
    no_show = "no_show"
    report_sent = "report_sent"
    deliverable_delivered = "deliverable_delivered"
    lead_handed_over = "lead_handed_over"
    invoice_issued = "invoice_issued"
    payment_received = "payment_received"
    payment_refused = "payment_refused"
    engagement_opened = "engagement_opened"
    terms_changed = "terms_changed"
    notice_given = "notice_given"
    access_revoked = "access_revoked"
    engagement_ended = "engagement_ended"
    dispute_step = "dispute_step"
    letter_sent = "letter_sent"
    commitment = "commitment"
    commitment_kept = "commitment_kept"
    commitment_broken = "commitment_broken"
    amendment = "amendment"
    retraction = "retraction"
    checkpoint_shared = "checkpoint_shared"
    bundle_exported = "bundle_exported"


class Family(StrEnum):
    """What a record is about: the timeline colours a record by it, the chart stacks its weeks by it."""

    interaction = "interaction"
    scheduling = "scheduling"
    work = "work"
    money = "money"
    contract = "contract"
    dispute = "dispute"
    correction = "correction"
    ledger = "ledger"


FAMILIES = tuple(Family)
# The activity chart counts what happened between the parties; corrections and the ledger's own records are not
# activity.
CHARTED_FAMILIES = (Family.interaction, Family.scheduling, Family.work, Family.money, Family.contract,
                    Family.dispute)

# Field names that do not say what they mean, in words (the forms and the timeline); a kind may say its own.
FIELD_LABELS = {"awaits_reply": "Awaits the client's reply", "meetings_set": "Meetings set for the client"}
# Body fields with places of their own on the timeline (amounts) or that are not one value to show.
_NOT_SHOWN = frozenset({"amount_minor", "currency", "value_minor"})


@dataclass(frozen=True)
class FormField:
    """One of a kind's own body fields as a form control (quick-add and amend)."""

    key: str  # the body key
    name: str  # the form field name (amounts are typed in major units, so `amount` for `amount_minor`)
    label: str
    control: str  # text, date, datetime-local, number, amount, currency, select, yesno, json
    required: bool
    options: tuple[str, ...] = ()
    default: str = ""


def _base_type(annotation):
    """`date | None` -> date, `Annotated[str, ...]` -> str."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _is_value(annotation) -> bool:
    """Whether a field holds one value a line can show (not a dict or a nested model)."""
    base = _base_type(annotation)
    return not (base is dict or typing.get_origin(base) is dict
                or (isinstance(base, type) and issubclass(base, BaseModel)))


@dataclass(frozen=True, eq=False)
class Kind:
    """A record kind and all that differs by kind: a new kind is one entry of `_ALL`."""

    name: KindName
    label: str
    family: Family
    body: type[Body]
    icon: str = "contract"  # the name of one of the drawings of the `icon` macro in _macros.html
    # The summary a record gets when it comes without one: str.format with `label`, `ref` (the first of `refs`)
    # and `body`.
    summary: str = "{label}"
    # What the engagement's status becomes while a record of this kind stands (not retracted).
    status: Status | None = None
    # Body fields shown under the summary on the timeline, in order; by default the kind's own one-value fields
    # as its schema declares them.
    timeline: tuple[str, ...] | None = None
    # Body fields the bundle's chronology shows. Empty for the kinds bundle v2 was sealed with: a chronology must
    # render again to the same bytes.
    chronology: tuple[str, ...] = ()
    # Body fields the timeline's search reads, besides the summary, details and participants.
    search: tuple[str, ...] = ()
    # Labels and defaults of form fields where the field name says too little.
    labels: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    # What `refs` must be: how many, and of which kinds (empty: any earlier record), named as `ref_label`.
    min_refs: int = 0
    max_refs: int = 20
    ref_kinds: frozenset[str] = field(default_factory=frozenset)
    ref_label: str = "record"
    # How many files a record of this kind must have attached.
    min_attachments: int = 0
    # Appended by Docket itself (engagement creation, receipts, exports), never posted directly.
    system: bool = False
    default_direction: Direction | None = None
    # The direction the quick-add form preselects where the body must say one (the contact kinds).
    usual_direction: Direction | None = None

    def __post_init__(self):
        if self.timeline is None:
            own = [key for key, info in self.body.model_fields.items()
                   if key not in Body.model_fields and key not in _NOT_SHOWN and _is_value(info.annotation)]
            object.__setattr__(self, "timeline", tuple(own))
        for key in (*self.timeline, *self.chronology, *self.search, *self.labels, *self.defaults):
            if key not in self.body.model_fields:
                raise ValueError(f"kind {self.name}: {key} is not a field of {self.body.__name__}")

    @property
    def needs_direction(self) -> bool:
        return "direction" in self.body.model_fields and self.body.model_fields["direction"].is_required()

    def field_label(self, key: str) -> str:
        return self.labels.get(key) or FIELD_LABELS.get(key) or key.replace("_", " ").capitalize()

    def default_summary(self, body: dict, refs: list[int]) -> str:
        return self.summary.format(label=self.label, ref=refs[0] if refs else None, body=body)

    def shown(self, keys: tuple[str, ...], body: dict) -> list[tuple[str, str]]:
        """(label, value) of the body's `keys` that hold something, in words."""
        return [(self.field_label(key), ("yes" if body[key] else "no") if isinstance(body[key], bool)
                 else str(body[key])) for key in keys if body.get(key) not in (None, "")]

    @cached_property
    def form(self) -> list[FormField]:
        """The kind's own body fields as form controls, each typed by its schema."""
        fields = []
        for key, info in self.body.model_fields.items():
            if key in Body.model_fields:
                continue
            base = _base_type(info.annotation)
            name, label = key, self.field_label(key)
            options: tuple[str, ...] = ()
            if key.endswith("_minor"):
                control, name = "amount", key.removesuffix("_minor")
                label = self.labels.get(key) or name.capitalize()
            elif key == "currency":
                control = "currency"
            elif base is bool:
                control, options = "yesno", ("yes", "no")
            elif isinstance(base, type) and issubclass(base, Enum):
                control, options = "select", tuple(m.value for m in base)
            elif base is datetime or getattr(base, "__name__", "") == "AwareDatetime":
                control, label = "datetime-local", f"{label} (UTC)"
            elif base is date:
                control = "date"
            elif base is int:
                control = "number"
            elif base is dict:
                control, label = "json", f"{label} (JSON)"
            else:
                control = "text"
            fields.append(FormField(key, name, label, control, info.is_required(), options,
                                    self.defaults.get(key, "")))
        return fields


_TO_INVOICE = {"min_refs": 1, "max_refs": 1, "ref_kinds": frozenset({KindName.invoice_issued}), "ref_label": "invoice"}
_TO_MEETING = {"max_refs": 1, "ref_kinds": frozenset({KindName.meeting_scheduled}), "ref_label": "scheduled meeting"}
_TO_COMMITMENT = {"min_refs": 1, "max_refs": 1, "ref_kinds": frozenset({KindName.commitment}),
                  "ref_label": "commitment"}

_ALL = [
    Kind(KindName.call, "Call", Family.interaction, Call, icon="phone", usual_direction=Direction.outbound,
         timeline=("duration_minutes", "outcome", "awaits_reply")),
    Kind(KindName.email, "Email", Family.interaction, Email, icon="mail", usual_direction=Direction.outbound,
         timeline=("subject", "awaits_reply"), search=("subject",)),
    Kind(KindName.meeting, "Meeting", Family.interaction, Meeting, icon="people",
         timeline=("location", "duration_minutes")),
    Kind(KindName.message, "Message", Family.interaction, Message, icon="chat", usual_direction=Direction.outbound,
         timeline=("channel", "awaits_reply")),
    Kind(KindName.voicemail, "Voicemail", Family.interaction, Contact, icon="phone",
         usual_direction=Direction.outbound),
    Kind(KindName.note, "Note", Family.interaction, Body, icon="note", default_direction=Direction.internal),
    Kind(KindName.meeting_scheduled, "Meeting scheduled", Family.scheduling, MeetingScheduled, icon="calendar"),
    Kind(KindName.meeting_cancelled, "Meeting cancelled", Family.scheduling, MeetingCancelled, icon="calendar",
         search=("reason",), **_TO_MEETING),
    Kind(KindName.no_show, "No-show", Family.scheduling, NoShow, icon="calendar", **_TO_MEETING),
    Kind(KindName.report_sent, "Report sent", Family.work, ReportSent, icon="send",
         default_direction=Direction.outbound),
    Kind(KindName.deliverable_delivered, "Deliverable delivered", Family.work, DeliverableDelivered, icon="send",
         search=("deliverable",), default_direction=Direction.outbound),
    Kind(KindName.lead_handed_over, "Lead handed over", Family.work, LeadHandedOver, icon="send",
         search=("lead_name", "company"), default_direction=Direction.outbound),
    Kind(KindName.invoice_issued, "Invoice issued", Family.money, InvoiceIssued, icon="money",
         summary="Invoice {body[invoice_number]} issued", search=("invoice_number",),
         default_direction=Direction.outbound),
    Kind(KindName.payment_received, "Payment received", Family.money, PaymentReceived, icon="money",
         summary="{label} (record {ref})", default_direction=Direction.inbound, **_TO_INVOICE),
    Kind(KindName.payment_refused, "Payment refused", Family.money, PaymentRefused, icon="money",
         summary="{label} (record {ref})", search=("reason",), default_direction=Direction.inbound, **_TO_INVOICE),
    Kind(KindName.engagement_opened, "Engagement opened", Family.contract, EngagementOpened,
         summary="{label}: {body[title]}", timeline=(), system=True),
    Kind(KindName.terms_changed, "Terms changed", Family.contract, TermsChanged),
    Kind(KindName.notice_given, "Notice given", Family.contract, NoticeGiven, icon="flag", status=Status.notice),
    Kind(KindName.access_revoked, "Access revoked", Family.contract, AccessRevoked, search=("system",),
         default_direction=Direction.inbound),
    Kind(KindName.engagement_ended, "Engagement ended", Family.contract, EngagementEnded, icon="flag",
         status=Status.ended),
    Kind(KindName.dispute_step, "Dispute step", Family.dispute, DisputeStep, icon="flag"),
    Kind(KindName.letter_sent, "Letter sent", Family.dispute, LetterSent, icon="mail",
         summary="{label}: {body[letter]} to {body[recipient]}",
         chronology=("letter", "recipient", "method", "reply_by"),
         search=("letter", "recipient"), labels={"method": "Sent by", "reply_by": "Reply due by"},
         defaults={"method": SendMethod.post}, min_attachments=1, default_direction=Direction.outbound),
    Kind(KindName.commitment, "Commitment", Family.contract, Commitment, search=("promise",),
         timeline=("due_on", "promised_by", "promise")),
    Kind(KindName.commitment_kept, "Commitment kept", Family.contract, Body, summary="{label} (record {ref})",
         **_TO_COMMITMENT),
    Kind(KindName.commitment_broken, "Commitment broken", Family.contract, Body, summary="{label} (record {ref})",
         **_TO_COMMITMENT),
    # A correction's reason has a place of its own on the timeline, and its search reads the corrected body too.
    Kind(KindName.amendment, "Amendment", Family.correction, Amendment, icon="pencil",
         summary="{label} of record {ref}: {body[reason]}", timeline=(), search=("reason",), min_refs=1, max_refs=1),
    Kind(KindName.retraction, "Retraction", Family.correction, Retraction, icon="cross",
         summary="{label} of record {ref}: {body[reason]}", timeline=(), search=("reason",), min_refs=1, max_refs=1),
    Kind(KindName.checkpoint_shared, "Checkpoint shared", Family.ledger, CheckpointShared, icon="lock",
         timeline=("method", "recipient"), system=True, default_direction=Direction.outbound),
    Kind(KindName.bundle_exported, "Bundle exported", Family.ledger, BundleExported, icon="lock",
         timeline=("recipient",), system=True),
]

KINDS: dict[str, Kind] = {k.name: k for k in _ALL}
CORRECTIONS = frozenset(k.name for k in _ALL if k.family == Family.correction)
