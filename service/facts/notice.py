"""The notice period (when it ends, whether it was cut short and what the unserved days are worth) and the
trial period (what was sent after it ended, and the first objection)."""

from datetime import date, timedelta
from fractions import Fraction

from service.engagements.models import Terms
from service.facts.figures import DISCLAIMER, round_half_up
from service.facts.ledger_view import Item, Ledger, body_day
from service.facts.models import Notice, Trial
from service.money import fmt_money

HOURS_PER_DAY = 8  # an hourly rate is turned into a day's fee at 8 hours a working day

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


def cut_day(item: Item) -> date:
    return body_day(item.body, "ended_on") or item.day if item.kind == "engagement_ended" else item.day


def _cut_by(item: Item) -> str:
    return item.body.get("ended_by") if item.kind == "engagement_ended" else item.body.get("revoked_by", "client")


def notice_of(ledger: Ledger, terms: Terms) -> Notice | None:
    notices = ledger.of("notice_given")
    cutoffs = ledger.of("access_revoked", "engagement_ended")
    base = {"required_form": terms.notice_form, "notice_days": terms.notice_days, "currency": terms.currency,
            "rule": NOTICE_RULE}
    if notices:
        first = notices[0]
        given_on = body_day(first.body, "effective_on") or first.day
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
        given_on = cut_day(ended[0])
        ends_on = given_on + timedelta(days=terms.notice_days)
        base.update(given=False, ends_on=ends_on)
    early = sorted((i for i in cutoffs if cut_day(i) < ends_on), key=lambda i: (cut_day(i), i.index))
    if not early:
        return Notice(**base)
    cut = early[0]
    served_until = max(cut_day(cut), given_on)
    amount, working, formula = notice_fee(terms, served_until + timedelta(days=1), ends_on)
    claimable = _cut_by(cut) == "client" and amount is not None and amount > 0
    return Notice(**base, cut_off_kind=cut.kind, cut_off_by=_cut_by(cut), cut_off_on=cut_day(cut),
                  cut_off_record=ledger.cite(cut), days_short=(ends_on - served_until).days,
                  unserved_working_days=working, claim_minor=amount, claim_formula=formula, claimable=claimable)


TRIAL_RULE = (
    "Days after the trial: from the day after the trial ended to the day the engagement ended (an "
    "engagement-ended record), else the last day of a notice period that has run out, else the date of these "
    "facts. Replies are inbound records that refer to a report or deliverable sent after the trial; objections "
    "are dispute steps and refused payments recorded after the trial.")


def trial_of(ledger: Ledger, terms: Terms, notice: Notice | None, as_of: date) -> Trial | None:
    if terms.trial_ends_on is None:
        return None
    ended = ledger.of("engagement_ended")
    if ended:
        until, because = cut_day(ended[0]), "the engagement ended"
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
