"""Walk-away signals: what each one counts in an engagement, how a client's engagements pool, and its level
against the workspace's thresholds."""

from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction

from service.facts.figures import plural, round_half_up
from service.facts.ledger_view import Item, Ledger, body_time
from service.facts.models import Cite, Commitment, Money, Signal
from service.records.kinds import KINDS, Contact

# Kinds by what they mean for the facts.
CONTACT_KINDS = frozenset(k.name for k in KINDS.values() if issubclass(k.body, Contact))


WORK_START, WORK_END = 8, 18  # working hours, UTC (records carry UTC times only)


@dataclass(frozen=True)
class SignalRule:
    label: str
    unit: str
    amber: int
    red: int
    rule: str


SIGNALS: dict[str, SignalRule] = {
    "no_shows": SignalRule(
        "No-shows", "meetings", 1, 2,
        "Counts the no-shows recorded in which the client did not attend a meeting."),
    "late_cancellations": SignalRule(
        "Late cancellations", "meetings", 1, 3,
        "Counts the meetings the client cancelled less than 24 hours before they were due."),
    "brick_wall": SignalRule(
        "Brick wall", "contacts", 3, 5,
        "The longest run of outbound calls, emails, messages and voicemails awaiting a reply with no answer from "
        "the client in between (an answer: an inbound contact, a held meeting, or the client giving notice, making "
        "a promise, cancelling or refusing); counts the records of that run. Contacts recorded without a direction "
        "are left out."),
    "response_time": SignalRule(
        "Client response time", "hours", 48, 120,
        "The median time from the first outbound contact awaiting a reply that is still unanswered to the client's "
        "next answer (as for the brick wall), in hours; contacts marked as needing no reply are not measured. "
        "Counts the replies measured."),
    "after_hours": SignalRule(
        "Contacts outside working hours", "contacts", 3, 6,
        f"Counts inbound calls, emails, messages and voicemails from the client at weekends or outside "
        f"{WORK_START:02d}:00-{WORK_END:02d}:00 UTC."),
    "repeated_sends": SignalRule(
        "Same document sent again", "sends", 3, 5,
        "The most times one file (the same attachment SHA-256) or one email subject was sent out; counts those "
        "records."),
    "invoice_days_late": SignalRule(
        "Average days late on invoices", "days", 7, 30,
        "The average, over invoices whose due date has passed, of the days from the due date until paid in full, "
        "or, for an invoice not paid in full, until the day of these facts; invoices paid on time count as 0. "
        "Counts the invoices paid late or unpaid."),
    "broken_commitments": SignalRule(
        "Broken commitments", "commitments", 1, 2,
        "Counts the client's commitments recorded as broken, and those past their date with neither kept nor "
        "broken recorded."),
}
LEVELS = ("ok", "amber", "red")


@dataclass
class SignalInputs:
    """What the signals count in one engagement; a client's signals pool these across its engagements."""

    no_shows: list[Cite] = field(default_factory=list)
    late_cancellations: list[Cite] = field(default_factory=list)
    brick_wall: list[Cite] = field(default_factory=list)
    # (seconds waited, the reply, the contact awaiting a reply it is measured from)
    replies: list[tuple[int, Cite, Cite]] = field(default_factory=list)
    after_hours: list[Cite] = field(default_factory=list)
    repeated_sends: list[Cite] = field(default_factory=list)
    late_invoices: list[tuple[int, Cite]] = field(default_factory=list)  # (days late, invoice), every one due
    broken_commitments: list[Cite] = field(default_factory=list)


# Records of the client speaking up that are not contacts: each breaks a run of unanswered contacts.
_CLIENT_SPEAKS = {"notice_given": "given_by", "commitment": "promised_by", "meeting_cancelled": "cancelled_by"}


def _is_answer(item: Item) -> bool:
    """The client answered: an inbound contact, a held meeting, or the client giving notice, promising, cancelling,
    refusing a payment or stepping into a dispute. Money received and access revoked say nothing back."""
    if item.kind == "meeting" or (item.direction == "in" and item.kind in CONTACT_KINDS):
        return True
    if item.kind in _CLIENT_SPEAKS:
        return item.body.get(_CLIENT_SPEAKS[item.kind]) == "client"
    return item.direction == "in" and item.kind in ("payment_refused", "dispute_step", "meeting_scheduled")


def awaits_reply(item: Item) -> bool:
    """An outbound contact waits for the client's answer unless its record says it does not. Records made before
    the flag existed carry none and are read as waiting, the default the form and the API still apply."""
    return item.direction == "out" and item.kind in CONTACT_KINDS and item.body.get("awaits_reply") is not False


def undirected_contacts(ledger: Ledger) -> list[Item]:
    """Contacts recorded before a direction was required and never amended to say one: the signals cannot tell
    who contacted whom, so they count them neither as the contractor's contacts nor as the client's answers (the
    statement says so, naming them)."""
    return [i for i in ledger.of(*sorted(CONTACT_KINDS)) if i.direction not in ("in", "out", "internal")]


def signal_inputs(ledger: Ledger, money: Money, commitments: list[Commitment], as_of: date) -> SignalInputs:
    s = SignalInputs()
    s.no_shows = ledger.cites(i for i in ledger.of("no_show") if i.body.get("party") == "client")
    for item in ledger.of("meeting_cancelled"):
        meeting_at = body_time(item.body, "meeting_at")
        if item.body.get("cancelled_by") == "client" and meeting_at and meeting_at - item.occurred_at < timedelta(
                hours=24):
            s.late_cancellations.append(ledger.cite(item))
    # One pass over a ledger that may be long: brick-wall runs and the replies that end them, contacts out of
    # hours, and what was sent out (by file and by subject) to find the same thing sent again.
    run: list[Item] = []
    longest: list[Item] = []
    groups: dict[str, list[Item]] = {}
    for item in ledger.items:
        contact = item.kind in CONTACT_KINDS
        if contact and item.direction == "out":
            if awaits_reply(item):
                run.append(item)
                if len(run) > len(longest):
                    longest = run
        elif _is_answer(item):
            if run:
                s.replies.append((int((item.occurred_at - run[0].occurred_at).total_seconds()), ledger.cite(item),
                                  ledger.cite(run[0])))
            run = []
        if contact and item.direction == "in":
            at = item.occurred_at
            if at.weekday() >= 5 or not WORK_START <= at.hour < WORK_END:
                s.after_hours.append(ledger.cite(item))
        if item.direction == "out":
            for sha in set(item.attachments) if item.attachments else ():
                groups.setdefault("file:" + sha, []).append(item)
            if "subject" in item.body and (subject := " ".join(str(item.body["subject"]).lower().split())):
                groups.setdefault("subject:" + subject, []).append(item)
    s.brick_wall = ledger.cites(longest)
    if groups:
        s.repeated_sends = ledger.cites(max(groups.values(), key=len))
    s.late_invoices = [(inv.days_late, inv.record) for inv in money.invoices if inv.due_on < as_of]
    s.broken_commitments = [c.record for c in commitments
                            if c.promised_by == "client" and c.state in ("broken", "overdue")]
    return s


def pool(inputs: list[SignalInputs]) -> SignalInputs:
    if len(inputs) == 1:
        return inputs[0]
    out = SignalInputs()
    for s in inputs:
        for name in ("no_shows", "late_cancellations", "replies", "after_hours", "late_invoices",
                     "broken_commitments"):
            getattr(out, name).extend(getattr(s, name))
        for name in ("brick_wall", "repeated_sends"):
            if len(getattr(s, name)) > len(getattr(out, name)):
                setattr(out, name, getattr(s, name))
    return out


def _median(values: list[int]) -> Fraction:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return Fraction(ordered[mid]) if len(ordered) % 2 else Fraction(ordered[mid - 1] + ordered[mid], 2)


def _duration(hours: int) -> str:
    days, rest = divmod(hours, 24)
    if not days:
        return plural(hours, "hour")
    return plural(days, "day") + (f" {plural(rest, 'hour')}" if rest else "")


def signals_from(s: SignalInputs, thresholds: dict[str, tuple[int, int]]) -> list[Signal]:
    out = []
    for name, rule in SIGNALS.items():
        samples: list[int] = []
        asked: list[Cite] = []
        match name:
            case "response_time":
                samples = [sec for sec, _, _ in s.replies]
                value = round_half_up(_median(samples) / 3600) if s.replies else 0
                records = [c for _, c, _ in s.replies]
                asked = [c for _, _, c in s.replies]
                display = _duration(value) if s.replies else "no replies measured"
            case "invoice_days_late":
                value = (round_half_up(Fraction(sum(d for d, _ in s.late_invoices), len(s.late_invoices)))
                         if s.late_invoices else 0)
                records = [c for d, c in s.late_invoices if d > 0]
                display = plural(value, "day") if s.late_invoices else "no invoice due yet"
            case _:
                records = getattr(s, name)
                value = len(records)
                display = plural(value, rule.unit.rstrip("s"), rule.unit)
        amber, red = thresholds[name]
        level = "red" if value >= red else "amber" if value >= amber else "ok"
        out.append(Signal(signal=name, label=rule.label, rule=rule.rule, unit=rule.unit, value=value,
                          display=display, amber=amber, red=red, level=level, records=records, samples=samples,
                          asked=asked))
    return out


def worst(levels) -> str:
    return max(levels, key=LEVELS.index, default="ok")
