"""The numbered statement of facts: plain sentences, each citing the records it rests on."""

from dataclasses import dataclass
from datetime import date

from service.engagements.models import Terms
from service.facts.figures import fmt_day, fmt_percent, join_and, plural, quote
from service.facts.ledger_view import Item, Ledger
from service.facts.models import Cite, Commitment, Money, Notice, Signal, Trial, WorkCount, WorkMonth
from service.facts.signals import SIGNALS, undirected_contacts
from service.facts.work import MEETINGS_SET
from service.money import fmt_money
from service.records.kinds import KINDS


def _refs(*groups) -> list[Cite]:
    seen, out = set(), []
    for group in groups:
        for c in [group] if isinstance(group, Cite) else group or []:
            if (c.engagement_id, c.index) not in seen:
                seen.add((c.engagement_id, c.index))
                out.append(c)
    return sorted(out, key=lambda c: c.index)


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
                return f"the notice period to {plural(int(value), 'day')}"
            case "notice_form":
                return "notice to be given in writing" if value == "written" else "notice to be given in any form"
            case "payment_terms_days":
                return f"payment to be due {plural(int(value), 'day')} after invoice"
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
                return ("the deliverables to " + join_and([quote(d) for d in value])) if value else "no deliverables"
            case "late_interest_bp":
                return (f"the contract's late-payment interest to {fmt_percent(int(value))} a year"
                        if value is not None else "no contractual late-payment interest")
    except (TypeError, ValueError, KeyError):
        pass
    return f"{key.replace('_', ' ')} to {quote(str(value))}"


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
            f"Of {plural(len(paid), 'invoice')} paid in full, {len(late)} {'was' if len(late) == 1 else 'were'} "
            "paid after the due date: " + join_and([f"{i.invoice_number} ({plural(i.days_late, 'day')} late)"
                                                 for i in late]) + ".")
    elif paid:
        sentences.append("The invoice paid in full was paid by its due date." if len(paid) == 1 else
                         f"All {len(paid)} invoices paid in full were paid by their due dates.")
    for i in unpaid:
        state = ("is unpaid" if not i.paid_minor else
                 f"is not paid in full ({fmt_money(i.balance_minor, i.currency)} outstanding)")
        sentences.append(f"{i.invoice_number} {state}, {plural(i.days_late, 'day')} after its due date.")
    return " ".join(sentences), _refs(*[[i.record, *i.payments] for i in late + unpaid])


def _kinds_counted(items: list[Item]) -> str:
    """'1 call and 2 emails'."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item.kind] = counts.get(item.kind, 0) + 1
    return join_and([plural(n, KINDS[k].label.lower()) for k, n in counts.items()])


@dataclass(frozen=True)
class Stated:
    """What the statement states: the engagement's ledger and terms as they stand, and the facts computed from
    them."""

    ledger: Ledger
    terms: Terms
    changes: list[Item]  # the terms_changed records, in chronology order
    client_name: str
    as_of: date
    notice: Notice | None
    trial: Trial | None
    work: list[WorkMonth]
    work_totals: list[WorkCount]
    money: Money
    commitments: list[Commitment]
    signals: list[Signal]


Line = tuple[str, list[Cite]]


def statement_of(f: Stated) -> list[Line]:
    """The statement's sentences in order: the terms, the trial, the work, the notice, the money, the promises,
    then the client's conduct and what the figures leave out."""
    return [line for section in (_terms, _trial, _work, _notice, _money, _commitments, _conduct)
            for line in section(f)]


def _terms(f: Stated) -> list[Line]:
    """The terms as agreed and as changed."""
    lines: list[Line] = []
    add = lines.append
    ledger, terms, changes = f.ledger, f.terms, f.changes
    opened = ledger.of("engagement_opened")
    rate = (fmt_money(terms.rate_minor, terms.currency) + " " + RATE_UNIT[terms.rate_unit]
            if terms.rate_unit != "fixed" else f"a fixed fee of {fmt_money(terms.rate_minor, terms.currency)}")
    add((f"The engagement {quote(ledger.engagement.title)} with {f.client_name} started on "
         f"{fmt_day(terms.started_on)}, at {rate}, with {plural(terms.notice_days, 'day')}' notice "
         f"({'in writing' if terms.notice_form == 'written' else 'in any form'}), payment due "
         f"{plural(terms.payment_terms_days, 'day')} after invoice, under "
         f"{_law(terms.jurisdiction, terms.late_interest_bp)}.", ledger.cites(opened[:1])))
    if terms.deliverables:
        add((f"The terms list {plural(len(terms.deliverables), 'deliverable')}: "
             f"{join_and([quote(d) for d in terms.deliverables])}.",
             ledger.cites(opened[:1] + [c for c in changes if "deliverables" in c.body.get("changes", {})])))
    for item in changes:
        fields = join_and([_change_words(k, v, terms) for k, v in sorted(item.body.get("changes", {}).items())])
        add((f"On {fmt_day(item.day)} the terms were changed: {fields}.", [ledger.cite(item)]))
    return lines


def _trial(f: Stated) -> list[Line]:
    """How long the engagement ran past its trial, and what was sent and said in that time."""
    lines: list[Line] = []
    add = lines.append
    ledger, trial = f.ledger, f.trial
    opened = ledger.of("engagement_opened")
    if trial is not None:
        if trial.days_after == 0:
            add((f"The trial period ends on {fmt_day(trial.ends_on)}.", ledger.cites(opened[:1])))
        else:
            replies = len(trial.replies)
            text = (f"The trial period ended on {fmt_day(trial.ends_on)}. The engagement continued for "
                    f"{plural(trial.days_after, 'day')} after it (until {fmt_day(trial.continued_until)}, "
                    f"{BECAUSE.get(trial.continued_because, trial.continued_because)}); in that time "
                    f"{plural(len(trial.reports_after), 'report')} and "
                    f"{plural(len(trial.deliverables_after), 'deliverable')} were sent to the client, and "
                    + ("no reply to them is recorded." if not replies else
                       f"{plural(replies, 'reply', 'replies')} to them {'is' if replies == 1 else 'are'} recorded."))
            if trial.first_objection_on is None:
                text += " No objection is recorded."
            else:
                text += (f" The first objection recorded is dated {fmt_day(trial.first_objection_on)}, by which "
                         f"time {plural(trial.reports_before_first_objection, 'report')} had been sent since the "
                         "trial ended.")
            add((text, _refs(trial.reports_after, trial.deliverables_after, trial.replies, trial.objections[:1])))
    return lines


def _work(f: Stated) -> list[Line]:
    """The work recorded, in one sentence."""
    lines: list[Line] = []
    add = lines.append
    ledger, terms = f.ledger, f.terms
    months = f.work
    totals = {w.kind: w for w in f.work_totals}
    parts = []
    reports, meetings = totals["report_sent"], totals[MEETINGS_SET]
    if reports.count:
        part = f"{plural(reports.count, 'report')} sent"
        if meetings.records:
            stating = len(meetings.records)
            verb = "states" if stating == 1 else "state"
            who = f"which {verb}" if stating == reports.count else f"{stating} of which {verb}"
            part += f" ({who} {plural(meetings.count, 'meeting')} set for the client)"
        parts.append(part)
    if totals["lead_handed_over"].count:
        parts.append(f"{plural(totals['lead_handed_over'].count, 'lead')} handed over")
    delivered = ledger.of("deliverable_delivered")
    if delivered:
        names = [quote(i.body.get("deliverable")) for i in delivered if i.body.get("deliverable")]
        parts.append(f"{plural(len(delivered), 'deliverable')} delivered"
                     + (f" ({join_and(names[:10])}{' and others' if len(names) > 10 else ''})" if names else ""))
    if parts:
        span = (f"between {_month(months[0].month)} and {_month(months[-1].month)}" if len(months) > 1
                else f"in {_month(months[0].month)}")
        add((f"Work recorded {span}: {join_and(parts)}.", _refs(*[w.records for w in totals.values()])))
    elif terms.deliverables:
        add(("No report, lead or deliverable sent to the client is recorded.", []))
    return lines


def _notice(f: Stated) -> list[Line]:
    """The notice given and any cut-off before its end."""
    lines: list[Line] = []
    add = lines.append
    ledger, notice, as_of = f.ledger, f.notice, f.as_of
    if notice is not None:
        over = notice.ends_on is not None and notice.ends_on < as_of
        if notice.given:
            text = (f"On {fmt_day(notice.given_on)} {_party(notice.given_by)} gave notice "
                    f"{'in writing' if notice.form == 'written' else 'orally'}.")
            if notice.form_ok is False:
                text += " The terms require written notice."
            text += (f" A notice period of {plural(notice.notice_days, 'day')} from that day "
                     f"{'ended' if over else 'ends'} on {fmt_day(notice.ends_on)}.")
            add((text, _refs(notice.record, notice.other_notices)))
        if notice.cut_off_record is not None:
            what = ("revoked access" if notice.cut_off_kind == "access_revoked" else "ended the engagement")
            system = next((i.body.get("system") for i in ledger.items if i.index == notice.cut_off_record.index
                           and i.kind == "access_revoked"), None)
            ends = (("ended" if over else "ends") if notice.given else
                    ("would have ended" if over else "would end"))
            text = (f"On {fmt_day(notice.cut_off_on)} {_party(notice.cut_off_by)} {what}"
                    f"{' to ' + quote(system) if system else ''}"
                    f"{'' if notice.given else ' without notice'}, {plural(notice.days_short, 'day')} before "
                    f"the notice period {ends} on {fmt_day(notice.ends_on)}.")
            if notice.claim_minor is not None and notice.claimable:
                text += (f" Fees for the unserved notice at the engagement's rate: {notice.claim_formula} "
                         f"(estimate).")
            add((text, [notice.cut_off_record]))
    return lines


def _money(f: Stated) -> list[Line]:
    """Each invoice, the totals per currency, and which were paid late or are unpaid."""
    lines: list[Line] = []
    add = lines.append
    money, as_of = f.money, f.as_of
    for inv in money.invoices:
        text = (f"Invoice {inv.invoice_number} for {fmt_money(inv.amount_minor, inv.currency)} was issued on "
                f"{fmt_day(inv.issued_on)}, due on {fmt_day(inv.due_on)}.")
        if inv.paid_in_full_on is not None:
            text += (f" It was paid in full on {fmt_day(inv.paid_in_full_on)}"
                     f"{', ' + plural(inv.days_late, 'day') + ' after the due date' if inv.days_late else ''}.")
        elif inv.paid_minor:
            text += (f" {fmt_money(inv.paid_minor, inv.currency)} has been paid; "
                     f"{fmt_money(inv.balance_minor, inv.currency)} is outstanding.")
        else:
            text += " No payment is recorded."
        if inv.overpaid_minor:
            text += f" The payments exceed the invoice by {fmt_money(inv.overpaid_minor, inv.currency)}."
        if inv.refused:
            text += f" Payment was refused: {quote(inv.refusal_reason)}."
        if inv.overdue:
            text += (f" As of {fmt_day(as_of)} it is {plural(inv.days_late, 'day')} overdue.")
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
            add((f"In {total.currency}, {plural(total.invoices, 'invoice')} total "
                 f"{fmt_money(total.invoiced_minor, total.currency)}; {fmt_money(total.paid_minor, total.currency)} "
                 f"has been paid and {fmt_money(total.balance_minor, total.currency)} is outstanding"
                 + (f", of which {fmt_money(total.overdue_minor, total.currency)} overdue" if total.overdue_minor
                    else "") + ".",
                 _refs(*[i.record for i in money.invoices if i.currency == total.currency])))
    lateness = _lateness(money, as_of)
    if lateness is not None:
        add(lateness)
    return lines


def _commitments(f: Stated) -> list[Line]:
    """Each promise and its outcome."""
    lines: list[Line] = []
    add = lines.append
    for c in f.commitments:
        text = (f"On {fmt_day(c.made_on)} {_party(c.promised_by)} promised {quote(c.promise)}"
                f"{' by ' + fmt_day(c.due_on) if c.due_on else ''}.")
        text += {"kept": " It is recorded as kept.", "broken": " It is recorded as broken.",
                 "overdue": " The date has passed with no outcome recorded.", "open": ""}[c.state]
        add((text, _refs(c.record, [c.outcome] if c.outcome else [])))
    return lines


def _conduct(f: Stated) -> list[Line]:
    """The signals the statement states, the contacts it cannot count and the records retracted."""
    lines: list[Line] = []
    add = lines.append
    ledger = f.ledger
    for s in f.signals:
        sentence = SIGNALS[s.signal].sentence
        if sentence is not None and s.value >= SIGNALS[s.signal].stated_from:
            add((sentence(s, ledger), _refs(s.records, s.asked)))
    undirected = undirected_contacts(ledger)
    if undirected:
        one = len(undirected) == 1
        add((f"{_kinds_counted(undirected)} {'was' if one else 'were'} recorded without saying who contacted "
             f"whom, so the figures on contacts and replies count {'it' if one else 'them'} neither as the "
             "contractor's contacts nor as the client's answers.", ledger.cites(undirected)))
    if ledger.retracted:
        add((f"{plural(len(ledger.retracted), 'record')} ({', '.join('#' + str(i) for i in ledger.retracted)}) "
             f"{'was' if len(ledger.retracted) == 1 else 'were'} retracted and "
             f"{'is' if len(ledger.retracted) == 1 else 'are'} not counted in these facts.",
             [Cite(engagement_id=ledger.engagement.id, index=i) for i in ledger.retracted]))
    return lines
