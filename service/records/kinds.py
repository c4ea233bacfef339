"""Every record kind: its body schema, its family, and which earlier records it may refer to."""

from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from service.engagements.models import Terms
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
    commitment = "commitment"
    commitment_kept = "commitment_kept"
    commitment_broken = "commitment_broken"
    amendment = "amendment"
    retraction = "retraction"
    checkpoint_shared = "checkpoint_shared"
    bundle_exported = "bundle_exported"


@dataclass(frozen=True)
class Kind:
    name: KindName
    label: str
    family: str
    body: type[Body]
    # What `refs` must be: how many, and of which kinds (empty: any earlier record).
    min_refs: int = 0
    max_refs: int = 20
    ref_kinds: frozenset[str] = field(default_factory=frozenset)
    # Appended by Docket itself (engagement creation, receipts, exports), never posted directly.
    system: bool = False
    default_direction: Direction | None = None
    # The direction the quick-add form preselects where the body must say one (the contact kinds).
    usual_direction: Direction | None = None

    @property
    def needs_direction(self) -> bool:
        return "direction" in self.body.model_fields and self.body.model_fields["direction"].is_required()


CORRECTIONS = frozenset({KindName.amendment, KindName.retraction})

_ALL = [
    Kind(KindName.call, "Call", "interaction", Call, usual_direction=Direction.outbound),
    Kind(KindName.email, "Email", "interaction", Email, usual_direction=Direction.outbound),
    Kind(KindName.meeting, "Meeting", "interaction", Meeting),
    Kind(KindName.message, "Message", "interaction", Message, usual_direction=Direction.outbound),
    Kind(KindName.voicemail, "Voicemail", "interaction", Contact, usual_direction=Direction.outbound),
    Kind(KindName.note, "Note", "interaction", Body, default_direction=Direction.internal),
    Kind(KindName.meeting_scheduled, "Meeting scheduled", "interaction", MeetingScheduled),
    Kind(KindName.meeting_cancelled, "Meeting cancelled", "interaction", MeetingCancelled,
         max_refs=1, ref_kinds=frozenset({KindName.meeting_scheduled})),
    Kind(KindName.no_show, "No-show", "interaction", NoShow, max_refs=1,
         ref_kinds=frozenset({KindName.meeting_scheduled})),
    Kind(KindName.report_sent, "Report sent", "work", ReportSent, default_direction=Direction.outbound),
    Kind(KindName.deliverable_delivered, "Deliverable delivered", "work", DeliverableDelivered,
         default_direction=Direction.outbound),
    Kind(KindName.lead_handed_over, "Lead handed over", "work", LeadHandedOver, default_direction=Direction.outbound),
    Kind(KindName.invoice_issued, "Invoice issued", "money", InvoiceIssued, default_direction=Direction.outbound),
    Kind(KindName.payment_received, "Payment received", "money", PaymentReceived, min_refs=1, max_refs=1,
         ref_kinds=frozenset({KindName.invoice_issued}), default_direction=Direction.inbound),
    Kind(KindName.payment_refused, "Payment refused", "money", PaymentRefused, min_refs=1, max_refs=1,
         ref_kinds=frozenset({KindName.invoice_issued}), default_direction=Direction.inbound),
    Kind(KindName.engagement_opened, "Engagement opened", "contract", EngagementOpened, system=True),
    Kind(KindName.terms_changed, "Terms changed", "contract", TermsChanged),
    Kind(KindName.notice_given, "Notice given", "contract", NoticeGiven),
    Kind(KindName.access_revoked, "Access revoked", "contract", AccessRevoked, default_direction=Direction.inbound),
    Kind(KindName.engagement_ended, "Engagement ended", "contract", EngagementEnded),
    Kind(KindName.dispute_step, "Dispute step", "contract", DisputeStep),
    Kind(KindName.commitment, "Commitment", "contract", Commitment),
    Kind(KindName.commitment_kept, "Commitment kept", "contract", Body, min_refs=1, max_refs=1,
         ref_kinds=frozenset({KindName.commitment})),
    Kind(KindName.commitment_broken, "Commitment broken", "contract", Body, min_refs=1, max_refs=1,
         ref_kinds=frozenset({KindName.commitment})),
    Kind(KindName.amendment, "Amendment", "correction", Amendment, min_refs=1, max_refs=1),
    Kind(KindName.retraction, "Retraction", "correction", Retraction, min_refs=1, max_refs=1),
    Kind(KindName.checkpoint_shared, "Checkpoint shared", "ledger", CheckpointShared, system=True,
         default_direction=Direction.outbound),
    Kind(KindName.bundle_exported, "Bundle exported", "ledger", BundleExported, system=True),
]

KINDS: dict[str, Kind] = {k.name: k for k in _ALL}
FAMILIES = ("interaction", "work", "money", "contract", "correction", "ledger")
