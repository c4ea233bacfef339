"""Walk-away signals, one spec each in SIGNALS: what the signal counts in an engagement (its rule function), how a
client's engagements pool, how the count is measured and worded, its default thresholds and its sentence in the
statement. Adding a signal is one entry there and its rule function; the thresholds' API shape follows it."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from fractions import Fraction
from functools import cached_property

from service.facts.figures import fmt_day, plural, round_half_up
from service.facts.ledger_view import Item, Ledger, body_time
from service.facts.models import Cite, Commitment, Facts, Money, Signal
from service.records.kinds import KINDS, Contact

# Kinds by what they mean for the facts.
CONTACT_KINDS = frozenset(k.name for k in KINDS.values() if issubclass(k.body, Contact))

WORK_START, WORK_END = 8, 18  # working hours, UTC (records carry UTC times only)
LEVELS = ("ok", "amber", "red")

# What a signal counts in one engagement: most count records (Cites); the response time counts replies as
# (seconds waited, the reply, the contact awaiting a reply it is measured from), the days late on invoices
# (days late, invoice) for every invoice due. Keyed by signal name; a client's signals pool these.
SignalInputs = dict[str, list]


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


@dataclass
class _Contacts:
    """One pass over a ledger that may be long, for the signals that read contacts: brick-wall runs and the
    replies that end them, contacts out of hours, and what was sent out (by file and by subject)."""

    longest: list[Item]
    replies: list[tuple[int, Cite, Cite]]
    after_hours: list[Cite]
    sent: dict[str, list[Item]]


def _contacts(ledger: Ledger) -> _Contacts:
    run: list[Item] = []
    out = _Contacts(longest=[], replies=[], after_hours=[], sent={})
    for item in ledger.items:
        contact = item.kind in CONTACT_KINDS
        if contact and item.direction == "out":
            if awaits_reply(item):
                run.append(item)
                if len(run) > len(out.longest):
                    out.longest = run
        elif _is_answer(item):
            if run:
                out.replies.append((int((item.occurred_at - run[0].occurred_at).total_seconds()),
                                    ledger.cite(item), ledger.cite(run[0])))
            run = []
        if contact and item.direction == "in":
            at = item.occurred_at
            if at.weekday() >= 5 or not WORK_START <= at.hour < WORK_END:
                out.after_hours.append(ledger.cite(item))
        if item.direction == "out":
            for sha in set(item.attachments) if item.attachments else ():
                out.sent.setdefault("file:" + sha, []).append(item)
            if "subject" in item.body and (subject := " ".join(str(item.body["subject"]).lower().split())):
                out.sent.setdefault("subject:" + subject, []).append(item)
    return out


@dataclass
class SignalSource:
    """What the rule functions read: one engagement's ledger and the facts computed before the signals."""

    ledger: Ledger
    money: Money
    commitments: list[Commitment]
    as_of: date

    @cached_property
    def contacts(self) -> _Contacts:
        return _contacts(self.ledger)


# The rule functions: what each signal counts in one engagement.


def _no_shows(e: SignalSource) -> list[Cite]:
    return e.ledger.cites(i for i in e.ledger.of("no_show") if i.body.get("party") == "client")


def _late_cancellations(e: SignalSource) -> list[Cite]:
    late = []
    for item in e.ledger.of("meeting_cancelled"):
        meeting_at = body_time(item.body, "meeting_at")
        if item.body.get("cancelled_by") == "client" and meeting_at and meeting_at - item.occurred_at < timedelta(
                hours=24):
            late.append(e.ledger.cite(item))
    return late


def _brick_wall(e: SignalSource) -> list[Cite]:
    return e.ledger.cites(e.contacts.longest)


def _replies(e: SignalSource) -> list[tuple[int, Cite, Cite]]:
    return e.contacts.replies


def _after_hours(e: SignalSource) -> list[Cite]:
    return e.contacts.after_hours


def _repeated_sends(e: SignalSource) -> list[Cite]:
    sent = e.contacts.sent
    return e.ledger.cites(max(sent.values(), key=len)) if sent else []


def _late_invoices(e: SignalSource) -> list[tuple[int, Cite]]:
    return [(inv.days_late, inv.record) for inv in e.money.invoices if inv.due_on < e.as_of]


def _broken_commitments(e: SignalSource) -> list[Cite]:
    return [c.record for c in e.commitments if c.promised_by == "client" and c.state in ("broken", "overdue")]


# How a count is measured: (value, display, records, samples, asked).

Measured = tuple[int, str, list[Cite], list[int], list[Cite]]


def _count(counted: list[Cite], unit: str) -> Measured:
    return len(counted), plural(len(counted), unit.rstrip("s"), unit), counted, [], []


def _median(values: list[int]) -> Fraction:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return Fraction(ordered[mid]) if len(ordered) % 2 else Fraction(ordered[mid - 1] + ordered[mid], 2)


def _duration(hours: int) -> str:
    days, rest = divmod(hours, 24)
    if not days:
        return plural(hours, "hour")
    return plural(days, "day") + (f" {plural(rest, 'hour')}" if rest else "")


def _median_hours(replies: list[tuple[int, Cite, Cite]], unit: str) -> Measured:
    if not replies:
        return 0, "no replies measured", [], [], []
    samples = [sec for sec, _, _ in replies]
    value = round_half_up(_median(samples) / 3600)
    return value, _duration(value), [c for _, c, _ in replies], samples, [c for _, _, c in replies]


def _average_days(late: list[tuple[int, Cite]], unit: str) -> Measured:
    if not late:
        return 0, "no invoice due yet", [], [], []
    value = round_half_up(Fraction(sum(d for d, _ in late), len(late)))
    return value, plural(value, "day"), [c for d, c in late if d > 0], [], []


# How an engagement's counts come back from its (cached) facts, for a client's signals.


def _counted(signal: Signal, facts: Facts) -> list[Cite]:
    return signal.records


def _replies_again(signal: Signal, facts: Facts) -> list[tuple[int, Cite, Cite]]:
    return list(zip(signal.samples, signal.records, signal.asked, strict=True))


def _invoices_again(signal: Signal, facts: Facts) -> list[tuple[int, Cite]]:
    return [(inv.days_late, inv.record) for inv in facts.money.invoices if inv.due_on < facts.as_of]


# The sentences of the statement.


def _brick_wall_sentence(s: Signal, ledger: Ledger) -> str:
    cited = {c.index for c in s.records}
    run = [i for i in ledger.items if i.index in cited]
    when = (f"On {fmt_day(run[0].day)}" if run[0].day == run[-1].day
            else f"Between {fmt_day(run[0].day)} and {fmt_day(run[-1].day)}")
    return (f"{when} the contractor contacted the client {s.value} times, each contact awaiting a reply, with "
            "no answer from the client in between.")


class Pool(StrEnum):
    """How a client's signal gathers its engagements' counts."""

    together = "together"  # every engagement's counts, one list
    longest = "longest"  # the one engagement with the most (a run, or one document sent again and again)


@dataclass(frozen=True)
class SignalSpec:
    name: str
    label: str
    unit: str
    amber: int  # the default thresholds
    red: int
    rule: str  # the rule in words, shown beside the figure
    counts: Callable[[SignalSource], list]  # what it counts in one engagement
    pools: Pool = Pool.together
    measure: Callable[[list, str], Measured] = _count
    again: Callable[[Signal, Facts], list] = _counted  # its counts again from an engagement's facts
    sentence: Callable[[Signal, Ledger], str] | None = None  # None: the statement says it elsewhere
    stated_from: int = 1  # the least value the statement states


SIGNALS: dict[str, SignalSpec] = {spec.name: spec for spec in (
    SignalSpec(
        "no_shows", "No-shows", "meetings", 1, 2,
        "Counts the no-shows recorded in which the client did not attend a meeting.",
        counts=_no_shows,
        sentence=lambda s, _: f"The client did not attend {plural(s.value, 'scheduled meeting')}."),
    SignalSpec(
        "late_cancellations", "Late cancellations", "meetings", 1, 3,
        "Counts the meetings the client cancelled less than 24 hours before they were due.",
        counts=_late_cancellations,
        sentence=lambda s, _: (f"The client cancelled {plural(s.value, 'meeting')} less than 24 hours before it "
                               "was due.")),
    SignalSpec(
        "brick_wall", "Brick wall", "contacts", 3, 5,
        "The longest run of outbound calls, emails, messages and voicemails awaiting a reply with no answer from "
        "the client in between (an answer: an inbound contact, a held meeting, or the client giving notice, making "
        "a promise, cancelling or refusing); counts the records of that run. Contacts recorded without a direction "
        "are left out.",
        counts=_brick_wall, pools=Pool.longest, sentence=_brick_wall_sentence, stated_from=2),
    SignalSpec(
        "response_time", "Client response time", "hours", 48, 120,
        "The median time from the first outbound contact awaiting a reply that is still unanswered to the client's "
        "next answer (as for the brick wall), in hours; contacts marked as needing no reply are not measured. "
        "Counts the replies measured.",
        counts=_replies, measure=_median_hours, again=_replies_again,
        sentence=lambda s, _: (f"Measured over {plural(len(s.records), 'reply', 'replies')}, the median time from "
                               "the contractor's first unanswered contact awaiting a reply to the client's next "
                               f"response was {s.display}.")),
    SignalSpec(
        "after_hours", "Contacts outside working hours", "contacts", 3, 6,
        f"Counts inbound calls, emails, messages and voicemails from the client at weekends or outside "
        f"{WORK_START:02d}:00-{WORK_END:02d}:00 UTC.",
        counts=_after_hours,
        sentence=lambda s, _: (f"The client made {plural(s.value, 'contact')} outside working hours (weekends, or "
                               f"before {WORK_START:02d}:00 or after {WORK_END:02d}:00 UTC).")),
    SignalSpec(
        "repeated_sends", "Same document sent again", "sends", 3, 5,
        "The most times one file (the same attachment SHA-256) or one email subject was sent out; counts those "
        "records.",
        counts=_repeated_sends, pools=Pool.longest, stated_from=2,
        sentence=lambda s, _: f"The same document or email subject was sent to the client {s.value} times."),
    SignalSpec(
        "invoice_days_late", "Average days late on invoices", "days", 7, 30,
        "The average, over invoices whose due date has passed, of the days from the due date until paid in full, "
        "or, for an invoice not paid in full, until the day of these facts; invoices paid on time count as 0. "
        "Counts the invoices paid late or unpaid.",
        # No sentence of its own: the statement states the invoices paid late and those unpaid apart.
        counts=_late_invoices, measure=_average_days, again=_invoices_again),
    SignalSpec(
        "broken_commitments", "Broken commitments", "commitments", 1, 2,
        "Counts the client's commitments recorded as broken, and those past their date with neither kept nor "
        "broken recorded.",
        counts=_broken_commitments,
        sentence=lambda s, _: (f"{plural(s.value, 'commitment')} by the client {'was' if s.value == 1 else 'were'} "
                               "broken or not kept by the date.")),
)}


def signal_inputs(ledger: Ledger, money: Money, commitments: list[Commitment], as_of: date) -> SignalInputs:
    source = SignalSource(ledger=ledger, money=money, commitments=commitments, as_of=as_of)
    return {name: spec.counts(source) for name, spec in SIGNALS.items()}


def inputs_again(facts: Facts) -> SignalInputs:
    """An engagement's signal inputs again, from its (cached) facts: what each signal counted."""
    return {s.signal: SIGNALS[s.signal].again(s, facts) for s in facts.signals}


def pool(inputs: list[SignalInputs]) -> SignalInputs:
    """A client's signal inputs from its engagements': none, one, or each signal pooled as its spec says."""
    if len(inputs) == 1:
        return inputs[0]
    out: SignalInputs = {name: [] for name in SIGNALS}
    for counts in inputs:
        for name, spec in SIGNALS.items():
            if spec.pools == Pool.together:
                out[name].extend(counts[name])
            elif len(counts[name]) > len(out[name]):
                out[name] = counts[name]
    return out


def signals_from(inputs: SignalInputs, thresholds: dict[str, tuple[int, int]]) -> list[Signal]:
    out = []
    for name, spec in SIGNALS.items():
        value, display, records, samples, asked = spec.measure(inputs[name], spec.unit)
        amber, red = thresholds[name]
        level = "red" if value >= red else "amber" if value >= amber else "ok"
        out.append(Signal(signal=name, label=spec.label, rule=spec.rule, unit=spec.unit, value=value,
                          display=display, amber=amber, red=red, level=level, records=records, samples=samples,
                          asked=asked))
    return out


def worst(levels) -> str:
    return max(levels, key=LEVELS.index, default="ok")
