"""Invoices and payments: balances, lateness and the late-payment interest, compensation or damages of the
engagement's jurisdiction, each with its rule and formula."""

from datetime import date, timedelta
from fractions import Fraction

from service.engagements.models import Terms
from service.facts.figures import DISCLAIMER, fmt_day, fmt_percent, round_half_up
from service.facts.ledger_view import Item, Ledger, body_day
from service.facts.models import InterestPart, Invoice, Money, MoneyTotal, Series
from service.facts.rates import SERIES_LABEL, rate_on
from service.money import fmt_money

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


def money_of(ledger: Ledger, terms: Terms, rates, as_of: date) -> Money:
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
    due_on = body_day(body, "due_on") or by_terms
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
