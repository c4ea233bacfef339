"""What an engagement's record proves, computed: notice, trial, work, money, commitments, walk-away signals and
the numbered statement of facts. Nothing is typed in: every figure comes from the records, as last amended and
with retracted ones left out, and cites the records it rests on, with its rule and, for money, its formula."""

import csv
import gc
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import cached_property, lru_cache
from pathlib import Path
from threading import Lock

import orjson
from sqlalchemy import text
from sqlmodel import Session, select

from service.accounts.models import Workspace
from service.clients.models import Client
from service.clients.service import get_client
from service.db import raw_datetime, raw_list
from service.engagements.models import Engagement, Terms
from service.errors import Invalid
from service.facts.models import (
    Cite,
    ClientSignals,
    Commitment,
    Facts,
    InterestPart,
    Invoice,
    Money,
    MoneyTotal,
    Notice,
    RateIn,
    RatePublic,
    ReferenceRate,
    Series,
    Signal,
    SignalThreshold,
    StatementLine,
    ThresholdPublic,
    ThresholdsIn,
    Trial,
    WorkCount,
    WorkMonth,
)
from service.money import fmt_money, parse_hundredths
from service.records.corrections import resolve
from service.records.kinds import CORRECTIONS, KINDS, Contact
from service.records.service import number_exhibits

DISCLAIMER = "Estimate, not legal advice: figures follow the rules shown, from the records; check them with a lawyer."
RATES_CSV = Path(__file__).with_name("reference_rates.csv")
SERIES_LABEL = {Series.boe_base: "Bank of England Bank Rate", Series.ecb_mro: "ECB main refinancing rate"}

# Kinds by what they mean for the facts.
CONTACT_KINDS = frozenset(k.name for k in KINDS.values() if issubclass(k.body, Contact))
# Work is what the contractor delivered. A `meeting_scheduled` record is any meeting in the diary (most often one
# with the client itself), so it is not work; the meetings the contractor set *for* the client are the ones their
# reports state (`meetings_set`), counted as their own column and cited by those reports.
MEETINGS_SET = "meetings_set"
WORK_KINDS = {"report_sent": ("report sent", "reports sent"),
              MEETINGS_SET: ("meeting set for the client", "meetings set for the client (as the reports state)"),
              "lead_handed_over": ("lead handed over", "leads handed over"),
              "deliverable_delivered": ("deliverable delivered", "deliverables delivered")}
HOURS_PER_DAY = 8  # an hourly rate is turned into a day's fee at 8 hours a working day
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


# Formatting the figures in rule texts and sentences


def fmt_percent(rate_bp: int) -> str:
    return f"{Decimal(rate_bp) / 100:.2f}%"


def fmt_day(day: date) -> str:
    return day.strftime("%d %b %Y").lstrip("0")


def _plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"


def round_half_up(value: Fraction) -> int:
    """To the nearest whole minor unit, halves away from zero (money is never negative here)."""
    return int((value * 2 + 1) // 2) if value >= 0 else -int((-value * 2 + 1) // 2)


def parse_percent(text: str, *, field: str = "rate_percent") -> int:
    """'5.25' or '5.25%' to 525 basis points; at most two decimals, so a rate is always whole basis points."""
    try:
        rate_bp = parse_hundredths(str(text).strip().rstrip("%"))
    except ValueError:
        raise Invalid(f"{field}: {text!r} is not a percentage such as 5.25", field=field) from None
    if not -1000 <= rate_bp <= 10_000:
        raise Invalid(f"{field}: give a percentage between -10 and 100 with at most two decimals", field=field)
    return rate_bp


# Reference rates: the shipped table, extended or overridden per workspace


@dataclass(frozen=True)
class Rate:
    series: str
    effective_on: date
    rate_bp: int
    source: str
    origin: str  # "shipped" or "workspace"


@lru_cache
def shipped_rates() -> tuple[Rate, ...]:
    with RATES_CSV.open(newline="") as f:
        return tuple(Rate(series=row["series"], effective_on=date.fromisoformat(row["effective_on"]),
                          rate_bp=parse_percent(row["rate_percent"]), source=row["source"], origin="shipped")
                     for row in csv.DictReader(f))


def _rate_table(session: Session, workspace: Workspace) -> dict[str, list[Rate]]:
    """Per series, rates by effective date; a workspace's row replaces a shipped row of the same date."""
    rows = {(r.series, r.effective_on): r for r in shipped_rates()}
    for r in session.exec(select(ReferenceRate).where(ReferenceRate.workspace_id == workspace.id)):
        rows[(r.series, r.effective_on)] = Rate(series=r.series, effective_on=r.effective_on, rate_bp=r.rate_bp,
                                                source=r.source, origin="workspace")
    table: dict[str, list[Rate]] = {}
    for key in sorted(rows):
        table.setdefault(key[0], []).append(rows[key])
    return table


def rate_on(table: dict[str, list[Rate]], series: str, day: date) -> Rate | None:
    """The rate in force on `day`: the latest row effective on or before it."""
    found = None
    for rate in table.get(series, []):
        if rate.effective_on > day:
            break
        found = rate
    return found


def list_rates(session: Session, *, workspace: Workspace, series: Series | None = None) -> list[RatePublic]:
    shipped = {(r.series, r.effective_on) for r in shipped_rates()}
    out = []
    for name, rates in _rate_table(session, workspace).items():
        if series is not None and name != series:
            continue
        out += [RatePublic(series=r.series, effective_on=r.effective_on, rate_bp=r.rate_bp,
                           rate_percent=fmt_percent(r.rate_bp), source=r.source, origin=r.origin,
                           overrides_shipped=r.origin == "workspace" and (r.series, r.effective_on) in shipped)
                for r in rates]
    return out


def add_rate(session: Session, *, workspace: Workspace, actor: str, data: RateIn) -> RatePublic:
    """Adds a rate, or replaces this workspace's rate for the same series and date (correcting a typo)."""
    row = session.exec(select(ReferenceRate).where(
        ReferenceRate.workspace_id == workspace.id, ReferenceRate.series == data.series,
        ReferenceRate.effective_on == data.effective_on)).first()
    if row is None:
        row = ReferenceRate(workspace_id=workspace.id, series=data.series, effective_on=data.effective_on,
                            rate_bp=data.rate_bp, source=data.source, created_by=actor)
    else:
        row.rate_bp, row.source, row.created_by = data.rate_bp, data.source, actor
    session.add(row)
    session.flush()
    shipped = {(r.series, r.effective_on) for r in shipped_rates()}
    return RatePublic(series=row.series, effective_on=row.effective_on, rate_bp=row.rate_bp,
                      rate_percent=fmt_percent(row.rate_bp), source=row.source, origin="workspace",
                      overrides_shipped=(row.series, row.effective_on) in shipped)


# Signal thresholds


def _threshold_rows(session: Session, workspace: Workspace) -> dict[str, tuple[int, int]]:
    return {t.signal: (t.amber, t.red) for t in session.exec(
        select(SignalThreshold).where(SignalThreshold.workspace_id == workspace.id))}


def _thresholds(session: Session, workspace: Workspace) -> dict[str, tuple[int, int]]:
    return {name: (rule.amber, rule.red) for name, rule in SIGNALS.items()} | {
        k: v for k, v in _threshold_rows(session, workspace).items() if k in SIGNALS}


def list_thresholds(session: Session, *, workspace: Workspace) -> list[ThresholdPublic]:
    current = _thresholds(session, workspace)
    return [ThresholdPublic(signal=name, label=rule.label, unit=rule.unit, rule=rule.rule, amber=current[name][0],
                            red=current[name][1], default_amber=rule.amber, default_red=rule.red)
            for name, rule in SIGNALS.items()]


def set_thresholds(session: Session, *, workspace: Workspace, actor: str, data: ThresholdsIn) -> list[ThresholdPublic]:
    for name, level in data:
        if level is None:
            continue
        row = session.get(SignalThreshold, (workspace.id, name))
        if row is None:
            row = SignalThreshold(workspace_id=workspace.id, signal=name, amber=level.amber, red=level.red,
                                  updated_by=actor)
        else:
            row.amber, row.red, row.updated_by = level.amber, level.red, actor
            row.updated_at = datetime.now(UTC)
        session.add(row)
    session.flush()
    return list_thresholds(session, workspace=workspace)


# Reading the record


@dataclass(slots=True)
class Item:
    """A record as the facts see it: its current body, its attachments' exhibit numbers. Built once per record
    of a long ledger, so a slotted class with its direction read once (the rules ask for it a few times each)."""

    index: int
    kind: str
    occurred_at: datetime
    body: dict
    refs: tuple[int, ...]
    attachments: tuple[str, ...]
    direction: str | None = field(init=False)

    def __post_init__(self) -> None:
        self.direction = self.body.get("direction")

    @property
    def day(self) -> date:
        return self.occurred_at.date()


@dataclass
class Ledger:
    engagement: Engagement
    items: list[Item]
    exhibits: dict[str, str]
    retracted: list[int]
    by_kind: dict[str, list[Item]] = field(init=False)
    engagement_id: int = field(init=False)

    def __post_init__(self) -> None:
        self.engagement_id = self.engagement.id  # read once: a long ledger cites thousands of records
        # The rules ask for one or two kinds at a time, a few dozen times: an index beats a scan of every item.
        self.by_kind = {}
        for item in self.items:
            self.by_kind.setdefault(item.kind, []).append(item)

    def cite(self, item: Item) -> Cite:
        # Built from values the ledger already holds, so without validation: a long ledger cites thousands.
        exhibits = [self.exhibits[h] for h in item.attachments if h in self.exhibits] if item.attachments else []
        return Cite.model_construct(engagement_id=self.engagement_id, index=item.index, exhibits=exhibits)

    def cites(self, items) -> list[Cite]:
        return [self.cite(i) for i in items]

    def of(self, *kinds: str) -> list[Item]:
        """The items of these kinds, in chronology order."""
        if len(kinds) == 1:
            return list(self.by_kind.get(kinds[0], ()))
        return sorted((i for k in kinds for i in self.by_kind.get(k, ())), key=lambda i: (i.occurred_at, i.index))


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Raw column values, without ORM type processing: the facts read every row of the ledger, and the JSON and
# datetime processors would cost more than all the rules together.
_LEDGER_ROWS = text("SELECT idx, kind, occurred_at, body, refs, attachments FROM record "
                    "WHERE engagement_id = :engagement ORDER BY occurred_at, idx")


def _read_ledger(session: Session, engagement: Engagement) -> Ledger:
    return ledger_from_rows(engagement, ledger_rows(session, engagement))


def ledger_rows(session: Session, engagement: Engagement) -> list:
    """The engagement's records as (index, kind, occurred_at, body, refs, attachments) rows in chronology order,
    raw as the database keeps them."""
    return session.execute(_LEDGER_ROWS, {"engagement": engagement.id}).all()


def ledger_from_rows(engagement: Engagement, rows) -> Ledger:
    """Every record in chronology order (occurred_at, then index), each as last amended, retracted ones and the
    corrections themselves left out; the exhibits numbered on the way. One pass, whatever the size: corrections
    refer only to earlier indices but may come later in chronology, so they are resolved afterwards
    (service.records.corrections) and applied to the items.

    Pure, so that a bundle's statement can be derived again offline from its records: `rows` are
    (index, kind, occurred_at, body, refs, attachments) in chronology order, with occurred_at a datetime or the
    database's naive UTC text, body the exact JSON bytes or text (empty or None once redacted), refs and
    attachments lists or their JSON text."""
    corrections = []
    attached = []
    items = []
    for idx, kind, occurred_at, body, refs, attachments in rows:
        attachments = () if attachments == "[]" else tuple(raw_list(attachments))
        if attachments:
            attached.append(attachments)
        if kind in CORRECTIONS:
            corrections.append((idx, kind, raw_list(refs), orjson.loads(body) if body else None))
        elif body:  # a redacted record has no body left to state facts from; its leaf still verifies
            items.append(Item(index=idx, kind=kind, occurred_at=raw_datetime(occurred_at), body=orjson.loads(body),
                              refs=() if refs == "[]" else tuple(raw_list(refs)), attachments=attachments))
    fixes = resolve(corrections)
    if fixes.retracted_by:
        items = [i for i in items if i.index not in fixes.retracted_by]
    for item in items if fixes.amended_bodies else ():
        if item.index in fixes.amended_bodies:
            item.body = fixes.amended_bodies[item.index]
            item.direction = item.body.get("direction")
    return Ledger(engagement=engagement, items=items, exhibits=number_exhibits(attached),
                  retracted=sorted(fixes.retracted_by))


def _terms(ledger: Ledger) -> tuple[Terms, list[Item]]:
    """The opening terms with every terms_changed record applied, in chronology order."""
    changes = ledger.of("terms_changed")
    return ledger.engagement.terms().changed(item.body.get("changes", {}) for item in changes), changes


def _when(body: dict, key: str) -> datetime | None:
    value = body.get(key)
    return _aware(datetime.fromisoformat(value)) if value else None


def _day_of(body: dict, key: str) -> date | None:
    value = body.get(key)
    return date.fromisoformat(value) if value else None


# Notice


NOTICE_RULE = (
    "The notice period runs for the terms' notice days from the day notice is given (or the date the notice names) "
    "and ends on the last of them. Access revoked, or the engagement ended, before that day leaves the days after "
    "that day unserved; the cut-off day itself counts as served. Fees for the unserved days, at the engagement's "
    f"rate: a day rate is charged per working day (Monday to Friday; bank holidays are not deducted); an hourly "
    f"rate at {HOURS_PER_DAY} hours a working day; a monthly rate pro rata, rate x calendar days x 12 / 365, "
    "rounded half up to the penny; a fixed fee is not apportioned. They are claimable when the client made the "
    "cut-off. Where the notice was not in the form the terms require, the period may not have started at all, so "
    "the figure is a minimum. " + DISCLAIMER)


def _working_days(first: date, last: date) -> int:
    if last < first:
        return 0
    days = (last - first).days + 1
    weeks, rest = divmod(days, 7)
    return weeks * 5 + sum(1 for n in range(rest) if (first + timedelta(days=n)).weekday() < 5)


def notice_fee(terms: Terms, first: date, last: date) -> tuple[int | None, int, str]:
    """The fee for the days first..last inclusive: (amount or None, working days, formula)."""
    days = max(0, (last - first).days + 1)
    working = _working_days(first, last)
    rate = fmt_money(terms.rate_minor, terms.currency)
    match terms.rate_unit:
        case "day":
            amount = working * terms.rate_minor
            return amount, working, f"{rate} x {working} working days = {fmt_money(amount, terms.currency)}"
        case "hour":
            amount = working * HOURS_PER_DAY * terms.rate_minor
            return amount, working, (f"{rate} x {HOURS_PER_DAY} hours x {working} working days = "
                                     f"{fmt_money(amount, terms.currency)}")
        case "month":
            amount = round_half_up(Fraction(terms.rate_minor * days * 12, 365))
            return amount, working, (f"{rate} a month x {days} days x 12 / 365 = "
                                     f"{fmt_money(amount, terms.currency)}")
        case _:
            return None, working, "a fixed fee is not apportioned over the notice period"


def _cut_day(item: Item) -> date:
    return _day_of(item.body, "ended_on") or item.day if item.kind == "engagement_ended" else item.day


def _cut_by(item: Item) -> str:
    return item.body.get("ended_by") if item.kind == "engagement_ended" else item.body.get("revoked_by", "client")


def _notice(ledger: Ledger, terms: Terms) -> Notice | None:
    notices = ledger.of("notice_given")
    cutoffs = ledger.of("access_revoked", "engagement_ended")
    base = {"required_form": terms.notice_form, "notice_days": terms.notice_days, "currency": terms.currency,
            "rule": NOTICE_RULE}
    if notices:
        first = notices[0]
        given_on = _day_of(first.body, "effective_on") or first.day
        ends_on = given_on + timedelta(days=terms.notice_days)
        base.update(given=True, record=ledger.cite(first), given_by=first.body.get("given_by"),
                    form=first.body.get("form"), form_ok=terms.notice_form == "any" or
                    first.body.get("form") == "written", given_on=given_on, ends_on=ends_on,
                    other_notices=ledger.cites(notices[1:]))
    else:
        ended = [i for i in ledger.of("engagement_ended") if i.body.get("ended_by") == "client"]
        if not ended:
            return None
        # Ended by the client with no notice at all: the whole notice period is unserved.
        given_on = _cut_day(ended[0])
        ends_on = given_on + timedelta(days=terms.notice_days)
        base.update(given=False, ends_on=ends_on)
    early = sorted((i for i in cutoffs if _cut_day(i) < ends_on), key=lambda i: (_cut_day(i), i.index))
    if not early:
        return Notice(**base)
    cut = early[0]
    served_until = max(_cut_day(cut), given_on)
    amount, working, formula = notice_fee(terms, served_until + timedelta(days=1), ends_on)
    claimable = _cut_by(cut) == "client" and amount is not None and amount > 0
    return Notice(**base, cut_off_kind=cut.kind, cut_off_by=_cut_by(cut), cut_off_on=_cut_day(cut),
                  cut_off_record=ledger.cite(cut), days_short=(ends_on - served_until).days,
                  unserved_working_days=working, claim_minor=amount, claim_formula=formula, claimable=claimable)


# Trial


TRIAL_RULE = (
    "Days after the trial: from the day after the trial ended to the day the engagement ended (an "
    "engagement-ended record), else the last day of a notice period that has run out, else the date of these "
    "facts. Replies are inbound records that refer to a report or deliverable sent after the trial; objections "
    "are dispute steps and refused payments recorded after the trial.")


def _trial(ledger: Ledger, terms: Terms, notice: Notice | None, as_of: date) -> Trial | None:
    if terms.trial_ends_on is None:
        return None
    ended = ledger.of("engagement_ended")
    if ended:
        until, because = _cut_day(ended[0]), "the engagement ended"
    elif notice and notice.ends_on and notice.ends_on <= as_of:
        until, because = notice.ends_on, "the notice period ended"
    else:
        until, because = as_of, "the date of these facts"
    after = [i for i in ledger.items if i.day > terms.trial_ends_on]
    reports = [i for i in after if i.kind == "report_sent"]
    deliverables = [i for i in after if i.kind == "deliverable_delivered"]
    sent = {i.index for i in reports + deliverables}
    replies = [i for i in ledger.items if i.direction == "in" and sent.intersection(i.refs)]
    objections = [i for i in after if i.kind in ("dispute_step", "payment_refused")]
    first = objections[0] if objections else None
    return Trial(ends_on=terms.trial_ends_on, continued_until=until, continued_because=because,
                 days_after=max(0, (until - terms.trial_ends_on).days), reports_after=ledger.cites(reports),
                 deliverables_after=ledger.cites(deliverables), replies=ledger.cites(replies),
                 objections=ledger.cites(objections), first_objection_on=first.day if first else None,
                 reports_before_first_objection=len([r for r in reports
                                                     if first is None or r.occurred_at < first.occurred_at]),
                 rule=TRIAL_RULE)


# Work delivered


def _meetings_set(item: Item) -> int:
    value = item.body.get(MEETINGS_SET)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _work_counts(ledger: Ledger, items: dict[str, list[Item]]) -> list[WorkCount]:
    """One count per column: the records of each work kind, and the meetings the reports among them state."""
    out = []
    for kind, labels in WORK_KINDS.items():
        if kind == MEETINGS_SET:
            stating = [i for i in items.get("report_sent", ()) if _meetings_set(i)]
            out.append(WorkCount(kind=kind, label=labels[1], count=sum(_meetings_set(i) for i in stating),
                                 records=ledger.cites(stating)))
        else:
            out.append(WorkCount(kind=kind, label=labels[1], count=len(items.get(kind, ())),
                                 records=ledger.cites(items.get(kind, ()))))
    return out


def _work(ledger: Ledger) -> tuple[list[WorkMonth], list[WorkCount]]:
    months: dict[str, dict[str, list[Item]]] = {}
    for item in ledger.items:
        if item.kind in WORK_KINDS:
            months.setdefault(item.occurred_at.strftime("%Y-%m"), {}).setdefault(item.kind, []).append(item)
    work = [WorkMonth(month=month, counts=_work_counts(ledger, kinds)) for month, kinds in sorted(months.items())]
    totals = _work_counts(ledger, {k: ledger.of(k) for k in WORK_KINDS if k != MEETINGS_SET})
    return work, totals


# Money


UK_COMPENSATION = ((100_000, 4_000), (1_000_000, 7_000), (None, 10_000))  # (debt below, fixed sum), in pence
REGIME = {
    "uk": ("Late Payment of Commercial Debts (Interest) Act 1998: simple interest at 8% over the Bank of England "
           "Bank Rate in force on 31 December (debts due January to June) or 30 June (due July to December), from "
           "the day after the due date, on the balance outstanding each day: balance x rate x days / 365, each "
           "part rounded half up to the penny; plus fixed compensation per invoice paid late of £40 (debt under "
           "£1,000), £70 (£1,000 to £9,999.99) or £100 (£10,000 or more)."),
    "eu": ("Late Payment Directive 2011/7/EU: simple interest at the ECB main refinancing rate in force on 1 January "
           "(debts due January to June) or 1 July (due July to December) plus 8 percentage points, from the day "
           "after the due date: balance x rate x days / 365, each part rounded half up to the cent; plus at least "
           "€40 fixed compensation per invoice paid late. Member states' laws may add to this."),
    "us-ny": ("New York State and New York City Freelance Isn't Free Acts: payment is due on the date in the "
              "contract, or 30 days after the work is completed; for late payment a court may award double damages, "
              "so the exposure shown is 2 x the amount not paid by the due date."),
    "contract": ("The late-payment rate written into the engagement's terms: simple interest from the day "
                 "after the due date: balance x rate x days / 365, each part rounded half up."),
    "other": "No late-payment rule is computed for this jurisdiction.",
}


def _reference(regime: str, due_on: date) -> tuple[str, date]:
    """The series and the day whose rate a uk or eu debt falling due on `due_on` carries."""
    if regime == "uk":
        return Series.boe_base, date(due_on.year - 1, 12, 31) if due_on.month <= 6 else date(due_on.year, 6, 30)
    return Series.ecb_mro, date(due_on.year, 1 if due_on.month <= 6 else 7, 1)


def interest_parts(*, amount_minor: int, due_on: date, payments: list[tuple[date, int]], until: date,
                   rate_bp: int, currency: str) -> list[InterestPart]:
    """Simple interest on the balance outstanding after the due date, one part per balance, each rounded half up.
    Payments on or before the due date reduce the debt before interest starts."""
    balance = amount_minor - sum(a for d, a in payments if d <= due_on)
    start = due_on
    parts = []
    for paid_on, amount in sorted(p for p in payments if p[0] > due_on):
        if balance <= 0 or paid_on > until:
            break
        parts.append(_part(balance, start, paid_on, rate_bp, currency))
        balance -= amount
        start = paid_on
    if balance > 0 and until > start:
        parts.append(_part(balance, start, until, rate_bp, currency))
    return [p for p in parts if p.days > 0]


def _part(balance: int, start: date, end: date, rate_bp: int, currency: str) -> InterestPart:
    days = (end - start).days
    amount = round_half_up(Fraction(balance * rate_bp * days, 10_000 * 365))
    return InterestPart(balance_minor=balance, from_on=start, to_on=end, days=days, amount_minor=amount,
                        formula=f"{fmt_money(balance, currency)} x {fmt_percent(rate_bp)} x {days} days / 365 = "
                                f"{fmt_money(amount, currency)}")


def _money(ledger: Ledger, terms: Terms, rates, as_of: date) -> Money:
    paid_by_invoice: dict[int, list[Item]] = {}
    refused_by_invoice: dict[int, list[Item]] = {}
    for item in ledger.of("payment_received", "payment_refused"):
        target = paid_by_invoice if item.kind == "payment_received" else refused_by_invoice
        for ref in item.refs[:1]:
            target.setdefault(ref, []).append(item)
    invoices = [_invoice(ledger, terms, rates, as_of, inv, paid_by_invoice.get(inv.index, []),
                         refused_by_invoice.get(inv.index, [])) for inv in ledger.of("invoice_issued")]
    totals: dict[str, MoneyTotal] = {}
    for inv in invoices:
        t = totals.setdefault(inv.currency, MoneyTotal(
            currency=inv.currency, invoices=0, invoiced_minor=0, paid_minor=0, balance_minor=0, overdue_minor=0,
            overpaid_minor=0, interest_minor=0, compensation_minor=0, damages_minor=0))
        t.invoices += 1
        t.invoiced_minor += inv.amount_minor
        t.paid_minor += inv.paid_minor
        t.balance_minor += inv.balance_minor
        t.overdue_minor += inv.balance_minor if inv.overdue else 0
        t.overpaid_minor += inv.overpaid_minor
        t.interest_minor += inv.interest_minor or 0
        t.damages_minor += inv.damages_minor or 0
        # Fixed compensation is in the regime's own currency; it is added to a total only in that currency.
        if inv.compensation_minor and inv.compensation_currency == inv.currency:
            t.compensation_minor += inv.compensation_minor
    return Money(invoices=invoices, totals=[totals[c] for c in sorted(totals)], disclaimer=DISCLAIMER)


def _invoice(ledger: Ledger, terms: Terms, rates, as_of: date, inv: Item, paid: list[Item],
             refused: list[Item]) -> Invoice:
    body = inv.body
    currency, amount = body["currency"], int(body["amount_minor"])
    by_terms = inv.day + timedelta(days=terms.payment_terms_days)
    due_on = _day_of(body, "due_on") or by_terms
    same = [p for p in paid if p.body.get("currency") == currency]
    payments = [(p.day, int(p.body["amount_minor"])) for p in same]
    paid_minor = sum(a for _, a in payments)
    paid_in_full_on = None
    running = 0
    for day, a in sorted(payments):
        running += a
        if running >= amount:
            paid_in_full_on = day
            break
    balance = max(0, amount - paid_minor)
    late_until = paid_in_full_on or as_of
    days_late = max(0, (late_until - due_on).days)
    regime = terms.jurisdiction
    out = Invoice(
        record=ledger.cite(inv), invoice_number=body.get("invoice_number", ""), issued_on=inv.day, due_on=due_on,
        due_from="terms" if due_on == by_terms else "invoice", amount_minor=amount, currency=currency,
        payments=ledger.cites(same), paid_minor=paid_minor, balance_minor=balance,
        overpaid_minor=max(0, paid_minor - amount), paid_in_full_on=paid_in_full_on, days_late=days_late,
        overdue=balance > 0 and as_of > due_on, refused=bool(refused), refusals=ledger.cites(refused),
        refusal_reason=refused[-1].body.get("reason") if refused else None,
        foreign_payments=ledger.cites([p for p in paid if p not in same]), regime=regime, basis=REGIME[regime])
    if days_late == 0:
        return out
    if regime == "us-ny":
        late = amount - sum(a for d, a in payments if d <= due_on)
        out.damages_minor = 2 * max(0, late)
        out.basis += (f" Exposure: 2 x {fmt_money(max(0, late), currency)} = "
                      f"{fmt_money(out.damages_minor, currency)}. {DISCLAIMER}")
        return out
    if regime == "contract":
        if terms.late_interest_bp is None:
            out.basis += " The terms name no late-payment rate, so no interest is computed."
            return out
        out.rate_bp = terms.late_interest_bp
    elif regime in ("uk", "eu"):
        series, ref_on = _reference(regime, due_on)
        ref = rate_on(rates, series, ref_on)
        if ref is None:
            out.basis += (f" No {SERIES_LABEL[series]} is on file for {fmt_day(ref_on)}: add it under the "
                          "reference rates to compute interest.")
            return out
        out.reference_series, out.reference_on, out.reference_rate_bp = series, ref_on, ref.rate_bp
        out.reference_source = f"{ref.source} (effective {ref.effective_on.isoformat()}, {ref.origin})"
        out.rate_bp = ref.rate_bp + 800
        out.compensation_currency = "GBP" if regime == "uk" else "EUR"
        if currency == out.compensation_currency:
            out.compensation_minor = (next(c for limit, c in UK_COMPENSATION if limit is None or amount < limit)
                                      if regime == "uk" else 4_000)
    else:
        return out
    out.interest_parts = interest_parts(amount_minor=amount, due_on=due_on, payments=payments, until=late_until,
                                        rate_bp=out.rate_bp, currency=currency)
    out.interest_minor = sum(p.amount_minor for p in out.interest_parts)
    formulas = "; ".join(p.formula for p in out.interest_parts) or "no days of interest yet"
    out.basis += f" Rate used: {fmt_percent(out.rate_bp)}"
    if out.reference_rate_bp is not None:
        out.basis += (f" ({SERIES_LABEL[out.reference_series]} {fmt_percent(out.reference_rate_bp)} on "
                      f"{fmt_day(out.reference_on)} + 8.00%)")
    out.basis += f". Interest: {formulas}."
    if out.compensation_minor is None and out.compensation_currency:
        out.basis += (f" The fixed compensation is a sum in {out.compensation_currency}; this invoice is in "
                      f"{currency}, so it is not computed.")
    out.basis += f" {DISCLAIMER}"
    return out


# Commitments


def _commitments(ledger: Ledger, as_of: date) -> list[Commitment]:
    outcomes: dict[int, Item] = {}
    for item in ledger.of("commitment_kept", "commitment_broken"):
        for ref in item.refs[:1]:
            outcomes[ref] = item  # chronology order: the latest outcome recorded stands
    out = []
    for item in ledger.of("commitment"):
        due_on = _day_of(item.body, "due_on")
        outcome = outcomes.get(item.index)
        if outcome is not None:
            state = "kept" if outcome.kind == "commitment_kept" else "broken"
        else:
            state = "overdue" if due_on is not None and due_on < as_of else "open"
        out.append(Commitment(record=ledger.cite(item), promised_by=item.body.get("promised_by", ""),
                              promise=item.body.get("promise", ""), made_on=item.day, due_on=due_on, state=state,
                              outcome=ledger.cite(outcome) if outcome else None))
    return out


# Walk-away signals


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


def _signal_inputs(ledger: Ledger, money: Money, commitments: list[Commitment], as_of: date) -> SignalInputs:
    s = SignalInputs()
    s.no_shows = ledger.cites(i for i in ledger.of("no_show") if i.body.get("party") == "client")
    for item in ledger.of("meeting_cancelled"):
        meeting_at = _when(item.body, "meeting_at")
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


def _pool(inputs: list[SignalInputs]) -> SignalInputs:
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
        return _plural(hours, "hour")
    return _plural(days, "day") + (f" {_plural(rest, 'hour')}" if rest else "")


def _signals(s: SignalInputs, thresholds: dict[str, tuple[int, int]]) -> list[Signal]:
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
                display = _plural(value, "day") if s.late_invoices else "no invoice due yet"
            case _:
                records = getattr(s, name)
                value = len(records)
                display = _plural(value, rule.unit.rstrip("s"), rule.unit)
        amber, red = thresholds[name]
        level = "red" if value >= red else "amber" if value >= amber else "ok"
        out.append(Signal(signal=name, label=rule.label, rule=rule.rule, unit=rule.unit, value=value,
                          display=display, amber=amber, red=red, level=level, records=records, samples=samples,
                          asked=asked))
    return out


def _worst(levels) -> str:
    return max(levels, key=LEVELS.index, default="ok")


# The statement of facts


def _refs(*groups) -> list[Cite]:
    seen, out = set(), []
    for group in groups:
        for c in [group] if isinstance(group, Cite) else group or []:
            if (c.engagement_id, c.index) not in seen:
                seen.add((c.engagement_id, c.index))
                out.append(c)
    return sorted(out, key=lambda c: c.index)


def _quote(text: str | None, limit: int = 200) -> str:
    text = " ".join(str(text or "").split())
    return "“" + (text if len(text) <= limit else text[: limit - 1] + "…") + "”"


def _party(name: str | None) -> str:
    return {"client": "the client", "contractor": "the contractor"}.get(name or "", "another party")


RATE_UNIT = {"hour": "an hour", "day": "a day", "month": "a month", "fixed": "fixed fee"}
RATE_BASIS = {"hour": "by the hour", "day": "by the day", "month": "by the month", "fixed": "as a fixed fee"}
LAW = {"uk": "United Kingdom law", "eu": "the law of a European Union member state", "us-ny": "New York law",
       "other": "the law of another jurisdiction"}
BECAUSE = {"the engagement ended": "when the engagement ended", "the notice period ended":
           "when the notice period ended"}


def _law(jurisdiction: str, late_interest_bp: int | None) -> str:
    if jurisdiction != "contract":
        return LAW.get(jurisdiction, "the law of another jurisdiction")
    if late_interest_bp is None:
        return "the contract's own late-payment terms, which name no interest rate"
    return f"the contract's own late-payment terms, with interest at {fmt_percent(late_interest_bp)} a year"


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _month(key: str) -> str:
    """'2026-07' as 'July 2026'."""
    return date.fromisoformat(key + "-01").strftime("%B %Y")


def _change_words(key: str, value, terms: Terms) -> str:
    """One field of a terms change as words: 'the notice period to 60 days', never 'notice_days to 60'."""
    try:
        match key:
            case "started_on":
                return f"the start date to {fmt_day(date.fromisoformat(value))}"
            case "trial_ends_on":
                return f"the end of the trial to {fmt_day(date.fromisoformat(value))}" if value else "no trial period"
            case "notice_days":
                return f"the notice period to {_plural(int(value), 'day')}"
            case "notice_form":
                return "notice to be given in writing" if value == "written" else "notice to be given in any form"
            case "payment_terms_days":
                return f"payment to be due {_plural(int(value), 'day')} after invoice"
            case "rate_minor":
                return f"the rate to {fmt_money(int(value), terms.currency)}"
            case "currency":
                return f"the currency to {value}"
            case "rate_unit":
                return f"the rate to be charged {RATE_BASIS[value]}"
            case "jurisdiction":
                return ("the late-payment rules to " + LAW[value] if value in LAW
                        else "the late-payment rules to the contract's own")
            case "deliverables":
                return ("the deliverables to " + _and([_quote(d) for d in value])) if value else "no deliverables"
            case "late_interest_bp":
                return (f"the contract's late-payment interest to {fmt_percent(int(value))} a year"
                        if value is not None else "no contractual late-payment interest")
    except (TypeError, ValueError, KeyError):
        pass
    return f"{key.replace('_', ' ')} to {_quote(str(value))}"


def _lateness(money: Money, as_of: date) -> tuple[str, list[Cite]] | None:
    """Paid and unpaid invoices apart: an unpaid invoice was not 'paid late', it is still owed."""
    due = [i for i in money.invoices if i.due_on < as_of]
    paid = [i for i in due if i.paid_in_full_on is not None]
    late = [i for i in paid if i.days_late]
    unpaid = [i for i in due if i.paid_in_full_on is None]
    if not late and not unpaid:
        return None
    sentences = []
    if late:
        sentences.append(
            f"Of {_plural(len(paid), 'invoice')} paid in full, {len(late)} {'was' if len(late) == 1 else 'were'} "
            "paid after the due date: " + _and([f"{i.invoice_number} ({_plural(i.days_late, 'day')} late)"
                                                 for i in late]) + ".")
    elif paid:
        sentences.append("The invoice paid in full was paid by its due date." if len(paid) == 1 else
                         f"All {len(paid)} invoices paid in full were paid by their due dates.")
    for i in unpaid:
        state = ("is unpaid" if not i.paid_minor else
                 f"is not paid in full ({fmt_money(i.balance_minor, i.currency)} outstanding)")
        sentences.append(f"{i.invoice_number} {state}, {_plural(i.days_late, 'day')} after its due date.")
    return " ".join(sentences), _refs(*[[i.record, *i.payments] for i in late + unpaid])


def _kinds_counted(items: list[Item]) -> str:
    """'1 call and 2 emails'."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item.kind] = counts.get(item.kind, 0) + 1
    return _and([_plural(n, KINDS[k].label.lower()) for k, n in counts.items()])


def _statement(ledger: Ledger, terms: Terms, changes: list[Item], facts: dict) -> list[tuple[str, list[Cite]]]:
    lines: list[tuple[str, list[Cite]]] = []
    add = lines.append
    as_of: date = facts["as_of"]
    opened = ledger.of("engagement_opened")
    client_name = facts["client_name"]
    rate = (fmt_money(terms.rate_minor, terms.currency) + " " + RATE_UNIT[terms.rate_unit]
            if terms.rate_unit != "fixed" else f"a fixed fee of {fmt_money(terms.rate_minor, terms.currency)}")
    add((f"The engagement {_quote(ledger.engagement.title)} with {client_name} started on "
         f"{fmt_day(terms.started_on)}, at {rate}, with {_plural(terms.notice_days, 'day')}' notice "
         f"({'in writing' if terms.notice_form == 'written' else 'in any form'}), payment due "
         f"{_plural(terms.payment_terms_days, 'day')} after invoice, under "
         f"{_law(terms.jurisdiction, terms.late_interest_bp)}.", ledger.cites(opened[:1])))
    if terms.deliverables:
        add((f"The terms list {_plural(len(terms.deliverables), 'deliverable')}: "
             f"{_and([_quote(d) for d in terms.deliverables])}.",
             ledger.cites(opened[:1] + [c for c in changes if "deliverables" in c.body.get("changes", {})])))
    for item in changes:
        fields = _and([_change_words(k, v, terms) for k, v in sorted(item.body.get("changes", {}).items())])
        add((f"On {fmt_day(item.day)} the terms were changed: {fields}.", [ledger.cite(item)]))

    trial: Trial | None = facts["trial"]
    if trial is not None:
        if trial.days_after == 0:
            add((f"The trial period ends on {fmt_day(trial.ends_on)}.", ledger.cites(opened[:1])))
        else:
            replies = len(trial.replies)
            text = (f"The trial period ended on {fmt_day(trial.ends_on)}. The engagement continued for "
                    f"{_plural(trial.days_after, 'day')} after it (until {fmt_day(trial.continued_until)}, "
                    f"{BECAUSE.get(trial.continued_because, trial.continued_because)}); in that time "
                    f"{_plural(len(trial.reports_after), 'report')} and "
                    f"{_plural(len(trial.deliverables_after), 'deliverable')} were sent to the client, and "
                    + ("no reply to them is recorded." if not replies else
                       f"{_plural(replies, 'reply', 'replies')} to them {'is' if replies == 1 else 'are'} recorded."))
            if trial.first_objection_on is None:
                text += " No objection is recorded."
            else:
                text += (f" The first objection recorded is dated {fmt_day(trial.first_objection_on)}, by which "
                         f"time {_plural(trial.reports_before_first_objection, 'report')} had been sent since the "
                         "trial ended.")
            add((text, _refs(trial.reports_after, trial.deliverables_after, trial.replies, trial.objections[:1])))

    months = facts["work"]
    totals = {w.kind: w for w in facts["work_totals"]}
    parts = []
    reports, meetings = totals["report_sent"], totals[MEETINGS_SET]
    if reports.count:
        part = f"{_plural(reports.count, 'report')} sent"
        if meetings.records:
            stating = len(meetings.records)
            verb = "states" if stating == 1 else "state"
            who = f"which {verb}" if stating == reports.count else f"{stating} of which {verb}"
            part += f" ({who} {_plural(meetings.count, 'meeting')} set for the client)"
        parts.append(part)
    if totals["lead_handed_over"].count:
        parts.append(f"{_plural(totals['lead_handed_over'].count, 'lead')} handed over")
    delivered = ledger.of("deliverable_delivered")
    if delivered:
        names = [_quote(i.body.get("deliverable")) for i in delivered if i.body.get("deliverable")]
        parts.append(f"{_plural(len(delivered), 'deliverable')} delivered"
                     + (f" ({_and(names[:10])}{' and others' if len(names) > 10 else ''})" if names else ""))
    if parts:
        span = (f"between {_month(months[0].month)} and {_month(months[-1].month)}" if len(months) > 1
                else f"in {_month(months[0].month)}")
        add((f"Work recorded {span}: {_and(parts)}.", _refs(*[w.records for w in totals.values()])))
    elif terms.deliverables:
        add(("No report, lead or deliverable sent to the client is recorded.", []))

    notice: Notice | None = facts["notice"]
    if notice is not None:
        over = notice.ends_on is not None and notice.ends_on < as_of
        if notice.given:
            text = (f"On {fmt_day(notice.given_on)} {_party(notice.given_by)} gave notice "
                    f"{'in writing' if notice.form == 'written' else 'orally'}.")
            if notice.form_ok is False:
                text += " The terms require written notice."
            text += (f" A notice period of {_plural(notice.notice_days, 'day')} from that day "
                     f"{'ended' if over else 'ends'} on {fmt_day(notice.ends_on)}.")
            add((text, _refs(notice.record, notice.other_notices)))
        if notice.cut_off_record is not None:
            what = ("revoked access" if notice.cut_off_kind == "access_revoked" else "ended the engagement")
            system = next((i.body.get("system") for i in ledger.items if i.index == notice.cut_off_record.index
                           and i.kind == "access_revoked"), None)
            ends = (("ended" if over else "ends") if notice.given else
                    ("would have ended" if over else "would end"))
            text = (f"On {fmt_day(notice.cut_off_on)} {_party(notice.cut_off_by)} {what}"
                    f"{' to ' + _quote(system) if system else ''}"
                    f"{'' if notice.given else ' without notice'}, {_plural(notice.days_short, 'day')} before "
                    f"the notice period {ends} on {fmt_day(notice.ends_on)}.")
            if notice.claim_minor is not None and notice.claimable:
                text += (f" Fees for the unserved notice at the engagement's rate: {notice.claim_formula} "
                         f"(estimate).")
            add((text, [notice.cut_off_record]))

    money: Money = facts["money"]
    for inv in money.invoices:
        text = (f"Invoice {inv.invoice_number} for {fmt_money(inv.amount_minor, inv.currency)} was issued on "
                f"{fmt_day(inv.issued_on)}, due on {fmt_day(inv.due_on)}.")
        if inv.paid_in_full_on is not None:
            text += (f" It was paid in full on {fmt_day(inv.paid_in_full_on)}"
                     f"{', ' + _plural(inv.days_late, 'day') + ' after the due date' if inv.days_late else ''}.")
        elif inv.paid_minor:
            text += (f" {fmt_money(inv.paid_minor, inv.currency)} has been paid; "
                     f"{fmt_money(inv.balance_minor, inv.currency)} is outstanding.")
        else:
            text += " No payment is recorded."
        if inv.overpaid_minor:
            text += f" The payments exceed the invoice by {fmt_money(inv.overpaid_minor, inv.currency)}."
        if inv.refused:
            text += f" Payment was refused: {_quote(inv.refusal_reason)}."
        if inv.overdue:
            text += (f" As of {fmt_day(as_of)} it is {_plural(inv.days_late, 'day')} overdue.")
        extras = []
        if inv.interest_minor:
            extras.append(f"late-payment interest of {fmt_money(inv.interest_minor, inv.currency)} at "
                          f"{fmt_percent(inv.rate_bp)} a year")
        if inv.compensation_minor:
            extras.append(f"fixed compensation of {fmt_money(inv.compensation_minor, inv.compensation_currency)}")
        if inv.damages_minor:
            extras.append(f"a double-damages exposure of {fmt_money(inv.damages_minor, inv.currency)}")
        if extras:
            text += " Estimated " + " and ".join(extras) + " (estimate, not legal advice)."
        add((text, _refs(inv.record, inv.payments, inv.refusals)))
    for total in money.totals:
        if total.invoices > 1:
            add((f"In {total.currency}, {_plural(total.invoices, 'invoice')} total "
                 f"{fmt_money(total.invoiced_minor, total.currency)}; {fmt_money(total.paid_minor, total.currency)} "
                 f"has been paid and {fmt_money(total.balance_minor, total.currency)} is outstanding"
                 + (f", of which {fmt_money(total.overdue_minor, total.currency)} overdue" if total.overdue_minor
                    else "") + ".",
                 _refs(*[i.record for i in money.invoices if i.currency == total.currency])))
    lateness = _lateness(money, as_of)
    if lateness is not None:
        add(lateness)

    for c in facts["commitments"]:
        text = (f"On {fmt_day(c.made_on)} {_party(c.promised_by)} promised {_quote(c.promise)}"
                f"{' by ' + fmt_day(c.due_on) if c.due_on else ''}.")
        text += {"kept": " It is recorded as kept.", "broken": " It is recorded as broken.",
                 "overdue": " The date has passed with no outcome recorded.", "open": ""}[c.state]
        add((text, _refs(c.record, [c.outcome] if c.outcome else [])))

    def brick_wall(s: Signal) -> str:
        run = [i for i in ledger.items if i.index in {c.index for c in s.records}]
        when = (f"On {fmt_day(run[0].day)}" if run[0].day == run[-1].day
                else f"Between {fmt_day(run[0].day)} and {fmt_day(run[-1].day)}")
        return (f"{when} the contractor contacted the client {s.value} times, each contact awaiting a reply, with "
                "no answer from the client in between.")

    sentences = {
        "no_shows": lambda s: f"The client did not attend {_plural(s.value, 'scheduled meeting')}.",
        "late_cancellations": lambda s: (f"The client cancelled {_plural(s.value, 'meeting')} less than 24 hours "
                                         "before it was due."),
        "brick_wall": brick_wall,
        "response_time": lambda s: (f"Measured over {_plural(len(s.records), 'reply', 'replies')}, the median time "
                                    "from the contractor's first unanswered contact awaiting a reply to the "
                                    f"client's next response was {s.display}."),
        "after_hours": lambda s: (f"The client made {_plural(s.value, 'contact')} outside working hours "
                                  "(weekends, or before 08:00 or after 18:00 UTC)."),
        "repeated_sends": lambda s: f"The same document or email subject was sent to the client {s.value} times.",
        "broken_commitments": lambda s: (f"{_plural(s.value, 'commitment')} by the client "
                                         f"{'was' if s.value == 1 else 'were'} broken or not kept by the date."),
    }
    for s in facts["signals"]:
        if s.signal not in sentences or not s.value:
            continue  # the days late on invoices are stated above, paid and unpaid apart
        if s.signal in ("repeated_sends", "brick_wall") and s.value < 2:
            continue
        add((sentences[s.signal](s), _refs(s.records, s.asked)))
    undirected = undirected_contacts(ledger)
    if undirected:
        one = len(undirected) == 1
        add((f"{_kinds_counted(undirected)} {'was' if one else 'were'} recorded without saying who contacted "
             f"whom, so the figures on contacts and replies count {'it' if one else 'them'} neither as the "
             "contractor's contacts nor as the client's answers.", ledger.cites(undirected)))
    if ledger.retracted:
        add((f"{_plural(len(ledger.retracted), 'record')} ({', '.join('#' + str(i) for i in ledger.retracted)}) "
             f"{'was' if len(ledger.retracted) == 1 else 'were'} retracted and "
             f"{'is' if len(ledger.retracted) == 1 else 'are'} not counted in these facts.",
             [Cite(engagement_id=ledger.engagement.id, index=i) for i in ledger.retracted]))
    return lines


# Status and level


def _status(ledger: Ledger, notice: Notice | None, as_of: date) -> str:
    """Ended once an engagement_ended record says so or the notice period is over; under notice while it runs."""
    if ledger.of("engagement_ended"):
        return "ended"
    if notice is not None and notice.given:
        return "ended" if notice.ends_on is not None and notice.ends_on < as_of else "notice"
    return "active"


@dataclass(frozen=True)
class Flag:
    """One thing the facts flag (the dashboard, the engagement page), linking to the part of the facts page."""

    level: str  # amber or red
    text: str
    section: str


def _flags(notice: Notice | None, money: Money, signals: list[Signal]) -> list[Flag]:
    found = [Flag("red", f"{fmt_money(t.overdue_minor, t.currency)} overdue", "money")
             for t in money.totals if t.overdue_minor > 0]
    if notice and notice.days_short > 0:
        found.append(Flag("red", f"notice cut {_plural(notice.days_short, 'day')} short", "notice"))
    found += [Flag(s.level, f"{s.label}: {s.display}", "signals") for s in signals if s.level != "ok"]
    return sorted(found, key=lambda f: f.level != "red")


def flags(facts: Facts) -> list[Flag]:
    """Money overdue, notice cut short, and every walk-away signal past its amber line: worst first. The facts'
    level is the worst of these, so the header never says ok beside a red flag."""
    return _flags(facts.notice, facts.money, facts.signals)


# Putting it together


_CACHE: OrderedDict[tuple, Facts] = OrderedDict()
_CACHE_LOCK = Lock()
CACHE_SIZE = 512


@dataclass(frozen=True)
class FactsInputs:
    """A workspace's reference-rate table and signal thresholds: read once for all the facts a request shows,
    and part of the cache key, since changing either changes the facts."""

    rates: dict[str, list[Rate]]
    thresholds: dict[str, tuple[int, int]]

    @cached_property
    def key(self) -> tuple:
        return (tuple((series, tuple(rates)) for series, rates in sorted(self.rates.items())),
                tuple(sorted(self.thresholds.items())))


def facts_inputs(session: Session, workspace: Workspace) -> FactsInputs:
    return FactsInputs(rates=_rate_table(session, workspace), thresholds=_thresholds(session, workspace))


def engagement_facts(session: Session, *, workspace: Workspace, engagement: Engagement,
                     as_of: date | None = None, inputs: FactsInputs | None = None) -> Facts:
    """Every fact, signal and statement line of one engagement, as of a day (today, UTC, by default).

    Today's answer is cached by (engagement, tree size, root hash, day, the workspace's rates and thresholds):
    the ledger only grows, so an answer for a given size never goes stale; the root hash keeps a reused id from
    matching. Other days are computed each time: anyone may ask for any day, and a long ledger's facts are large.
    """
    today = datetime.now(UTC).date()
    as_of = as_of or today
    inputs = inputs or facts_inputs(session, workspace)
    if as_of != today:
        return _compute(session, engagement, as_of, inputs)
    key = (engagement.id, engagement.tree_size, engagement.root_hash, as_of, inputs.key)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    facts = _compute(session, engagement, as_of, inputs)
    with _CACHE_LOCK:
        _CACHE[key] = facts
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return facts


@contextmanager
def _gc_paused():
    """Reading a long ledger allocates a few objects per record and frees none of them until the facts are
    built; the cyclic collector would walk the growing heap again and again for nothing (measured: 40% of a cold
    100,000-record computation). Nothing here makes cycles, so it resumes afterwards with nothing to catch up."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _compute(session: Session, engagement: Engagement, as_of: date, inputs: FactsInputs) -> Facts:
    with _gc_paused():
        return _compute_facts(session, engagement, as_of, inputs)


def _compute_facts(session: Session, engagement: Engagement, as_of: date, inputs: FactsInputs) -> Facts:
    client = session.get(Client, engagement.client_id)
    return facts_from_rows(engagement, ledger_rows(session, engagement), client_name=client.name, as_of=as_of,
                           inputs=inputs)


def facts_from_rows(engagement: Engagement, rows, *, client_name: str, as_of: date, inputs: FactsInputs) -> Facts:
    """The facts from the engagement (its opening terms, title, ids, tree size and root), its records as
    `ledger_from_rows` takes them, the client's name, the day and the rates and thresholds: no database, so that
    `docket verify` can derive a bundle's statement again from the bundle alone."""
    ledger = ledger_from_rows(engagement, rows)
    terms, changes = _terms(ledger)
    notice = _notice(ledger, terms)
    trial = _trial(ledger, terms, notice, as_of)
    work, work_totals = _work(ledger)
    money = _money(ledger, terms, inputs.rates, as_of)
    commitments = _commitments(ledger, as_of)
    signals = _signals(_signal_inputs(ledger, money, commitments, as_of), inputs.thresholds)
    parts = {"client_name": client_name, "as_of": as_of, "notice": notice, "trial": trial, "work": work,
             "work_totals": work_totals, "money": money, "commitments": commitments, "signals": signals}
    statement = [StatementLine(number=n, text=text, refs=refs)
                 for n, (text, refs) in enumerate(_statement(ledger, terms, changes, parts), start=1)]
    return Facts(engagement_id=engagement.id, title=engagement.title, client_id=engagement.client_id,
                 client_name=client_name,
                 as_of=as_of, tree_size=engagement.tree_size,
                 root_hash=engagement.root_hash.hex() if engagement.root_hash else None, notice=notice, trial=trial,
                 status=_status(ledger, notice, as_of), work=work, work_totals=work_totals,
                 deliverables_promised=list(terms.deliverables), money=money, commitments=commitments,
                 signals=signals, level=_worst([*(f.level for f in _flags(notice, money, signals))]),
                 statement=statement)


def current_status(session: Session, *, workspace: Workspace, engagement: Engagement,
                   inputs: FactsInputs | None = None) -> str:
    """The engagement's status today, as its facts give it. The status stored on the engagement says which of
    notice and end the records hold; only a notice period's running out needs the facts (the terms and the day),
    so the others are answered without reading the ledger."""
    if engagement.status != "notice":
        return engagement.status
    return engagement_facts(session, workspace=workspace, engagement=engagement, inputs=inputs).status


def client_signals(session: Session, *, workspace: Workspace, client: Client, as_of: date | None = None,
                   inputs: FactsInputs | None = None) -> ClientSignals:
    """A client's signals across all its engagements: counts added up, the longest runs, the median and average
    over every reply and invoice; money totals per currency."""
    client = get_client(session, workspace=workspace, client_id=client.id)
    as_of = as_of or datetime.now(UTC).date()
    inputs = inputs or facts_inputs(session, workspace)
    pooled, levels, totals = [], {}, {}
    engagements = session.exec(select(Engagement).where(Engagement.workspace_id == workspace.id,
                                                        Engagement.client_id == client.id).order_by(Engagement.id))
    for engagement in engagements:
        facts = engagement_facts(session, workspace=workspace, engagement=engagement, as_of=as_of,
                                 inputs=inputs)
        levels[engagement.id] = facts.level
        pooled.append(_inputs_from(facts))
        for t in facts.money.totals:
            if t.currency not in totals:
                totals[t.currency] = t.model_copy()
            else:
                acc = totals[t.currency]
                for name in MoneyTotal.model_fields:
                    if name != "currency":
                        setattr(acc, name, getattr(acc, name) + getattr(t, name))
    signals = _signals(_pool(pooled) if pooled else SignalInputs(), inputs.thresholds)
    return ClientSignals(client_id=client.id, client_name=client.name, as_of=as_of, engagements=levels,
                         signals=signals, level=_worst([*(s.level for s in signals), *levels.values()]),
                         money=[totals[c] for c in sorted(totals)])


def _inputs_from(facts: Facts) -> SignalInputs:
    """An engagement's signal inputs again, from its (cached) facts: the records each signal counted."""
    by = {s.signal: s for s in facts.signals}
    replies = by["response_time"]
    return SignalInputs(
        no_shows=by["no_shows"].records, late_cancellations=by["late_cancellations"].records,
        brick_wall=by["brick_wall"].records,
        replies=list(zip(replies.samples, replies.records, replies.asked, strict=True)),
        after_hours=by["after_hours"].records, repeated_sends=by["repeated_sends"].records,
        late_invoices=[(inv.days_late, inv.record) for inv in facts.money.invoices if inv.due_on < facts.as_of],
        broken_commitments=by["broken_commitments"].records)

