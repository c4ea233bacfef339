"""Facts from realistic record sequences, with figures worked out by hand in the comments."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.engagements.models import Engagement, Terms
from service.errors import Invalid
from service.facts.ledger_view import Item, Ledger
from service.facts.models import RateIn
from service.facts.money import interest_parts, money_of
from service.facts.notice import notice_fee
from service.facts.rates import add_rate, list_rates, parse_percent, rate_on, rate_table, shipped_rates
from service.facts.service import client_signals, engagement_facts
from service.facts.thresholds import Level, ThresholdsIn, set_thresholds
from tests import factories


def at(day: date | str, hour: int = 10, minute: int = 0) -> datetime:
    day = date.fromisoformat(day) if isinstance(day, str) else day
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


@pytest.fixture
def make(session, owner):
    """An engagement with these terms, and a function appending records to it."""

    def build(**terms):
        engagement = factories.make_engagement(session, member=owner, **terms)

        def add(kind, when, refs=None, **body):
            return factories.append(session, member=owner, engagement=engagement, kind=kind,
                                    occurred_at=at(when) if isinstance(when, str) else when, refs=refs, **body).idx
        return engagement, add
    return build


def facts_of(session, owner, engagement, as_of):
    return engagement_facts(session, workspace=owner.workspace, engagement=engagement, as_of=date.fromisoformat(as_of))


def signal(facts, name):
    return next(s for s in facts.signals if s.signal == name)


# Money: UK Late Payment Act


def test_uk_interest_uses_the_base_rate_of_the_half_year_reference_date(session, owner, make):
    engagement, add = make(started_on=date(2024, 1, 1), jurisdiction="uk")
    # Due 31 Dec 2024: reference date 30 Jun 2024, Bank Rate 5.25% -> 13.25%.
    # £10,000.00 x 13.25% x 30 / 365 = 1,000,000 x 1325 x 30 / 3,650,000 = 10,890.41p -> £108.90
    a = add("invoice_issued", "2024-12-01", invoice_number="A-1", amount_minor=1_000_000, currency="GBP",
            due_on="2024-12-31")
    # Due 1 Jan 2025: reference date 31 Dec 2024, Bank Rate 4.75% -> 12.75%.
    # 1,000,000 x 1275 x 29 / 3,650,000 = 10,130.14p -> £101.30
    b = add("invoice_issued", "2024-12-02", invoice_number="A-2", amount_minor=1_000_000, currency="GBP",
            due_on="2025-01-01")
    facts = facts_of(session, owner, engagement, "2025-01-30")
    first, second = facts.money.invoices
    assert (first.record.index, second.record.index) == (a, b)
    assert (first.reference_on, first.reference_rate_bp, first.rate_bp) == (date(2024, 6, 30), 525, 1325)
    assert (second.reference_on, second.reference_rate_bp, second.rate_bp) == (date(2024, 12, 31), 475, 1275)
    assert (first.days_late, first.interest_minor) == (30, 10_890)
    assert (second.days_late, second.interest_minor) == (29, 10_130)
    assert first.interest_parts[0].formula == "£10,000.00 x 13.25% x 30 days / 365 = £108.90"
    # £10,000 or more: £100 fixed compensation each.
    assert first.compensation_minor == second.compensation_minor == 10_000
    assert "Estimate, not legal advice" in first.basis and "Bank Rate 5.25% on 30 Jun 2024 + 8.00%" in first.basis
    total, = facts.money.totals
    assert (total.invoiced_minor, total.balance_minor, total.overdue_minor) == (2_000_000, 2_000_000, 2_000_000)
    assert (total.interest_minor, total.compensation_minor) == (21_020, 20_000)


def test_uk_partial_payments_accrue_interest_on_the_balance_left(session, owner, make):
    engagement, add = make(started_on=date(2025, 1, 1), jurisdiction="uk")
    inv = add("invoice_issued", "2025-02-01", invoice_number="P-1", amount_minor=500_000, currency="GBP",
              due_on="2025-03-01")
    add("payment_received", "2025-03-11", refs=[inv], amount_minor=200_000, currency="GBP")
    add("payment_received", "2025-03-31", refs=[inv], amount_minor=300_000, currency="GBP")
    facts = facts_of(session, owner, engagement, "2025-06-01")
    invoice, = facts.money.invoices
    # Reference 31 Dec 2024: 4.75% + 8% = 12.75%.
    # £5,000.00 for 10 days: 500,000 x 1275 x 10 / 3,650,000 = 1,746.58 -> 1,747
    # £3,000.00 for 20 days: 300,000 x 1275 x 20 / 3,650,000 = 2,095.89 -> 2,096
    assert [(p.balance_minor, p.days, p.amount_minor) for p in invoice.interest_parts] == [
        (500_000, 10, 1_747), (300_000, 20, 2_096)]
    assert invoice.interest_minor == 3_843
    assert (invoice.paid_minor, invoice.balance_minor, invoice.paid_in_full_on) == (500_000, 0, date(2025, 3, 31))
    assert (invoice.days_late, invoice.overdue, invoice.compensation_minor) == (30, False, 7_000)
    assert "It was paid in full on 31 Mar 2025, 30 days after the due date." in _line(facts, "Invoice P-1")


def test_uk_compensation_bands_and_a_partly_paid_open_invoice(session, owner, make):
    engagement, add = make(started_on=date(2025, 1, 1), jurisdiction="uk")
    small = add("invoice_issued", "2025-07-01", invoice_number="S", amount_minor=99_999, currency="GBP")
    mid = add("invoice_issued", "2025-07-01", invoice_number="M", amount_minor=999_999, currency="GBP")
    add("payment_received", "2025-07-20", refs=[mid], amount_minor=400_000, currency="GBP")
    facts = facts_of(session, owner, engagement, "2025-08-14")
    s, m = facts.money.invoices
    # Due from the terms: 1 Jul + 14 days = 15 Jul; 30 days late on 14 Aug.
    assert (s.record.index, s.due_on, s.due_from, s.days_late) == (small, date(2025, 7, 15), "terms", 30)
    assert (s.compensation_minor, m.compensation_minor) == (4_000, 7_000)
    # Reference 30 Jun 2025: 4.25% + 8% = 12.25%. M: 999,999 for 5 days, then 599,999 for 25 days.
    # 999,999 x 1225 x 5 / 3,650,000 = 1,678.08 -> 1,678;  599,999 x 1225 x 25 / 3,650,000 = 5,034.24 -> 5,034
    assert [p.amount_minor for p in m.interest_parts] == [1_678, 5_034]
    assert (m.balance_minor, m.overdue) == (599_999, True)
    assert "£4,000.00 has been paid; £5,999.99 is outstanding." in _line(facts, "Invoice M")


def test_interest_across_29_february_counts_the_leap_day(session, owner, make):
    engagement, add = make(started_on=date(2024, 1, 1), jurisdiction="uk")
    add("invoice_issued", "2024-02-01", invoice_number="L", amount_minor=1_000_000, currency="GBP",
        due_on="2024-02-28")
    invoice, = facts_of(session, owner, engagement, "2024-03-01").money.invoices
    # 28 Feb -> 1 Mar 2024 is 2 days. 5.25% + 8% on 31 Dec 2023: 1,000,000 x 1325 x 2 / 3,650,000 = 726.03 -> 726
    assert (invoice.days_late, invoice.interest_minor) == (2, 726)


def test_an_amended_invoice_counts_as_amended_and_a_retracted_payment_not_at_all(session, owner, make):
    engagement, add = make(started_on=date(2025, 1, 1), jurisdiction="uk")
    inv = add("invoice_issued", "2025-03-01", invoice_number="X-1", amount_minor=100_000, currency="GBP")
    add("amendment", "2025-03-02", refs=[inv], reason="wrong amount",
        body={"invoice_number": "X-1", "amount_minor": 150_000, "currency": "GBP", "due_on": "2025-04-01"})
    pay = add("payment_received", "2025-03-20", refs=[inv], amount_minor=150_000, currency="GBP")
    add("retraction", "2025-03-21", refs=[pay], reason="bounced")
    facts = facts_of(session, owner, engagement, "2025-04-11")
    invoice, = facts.money.invoices
    assert (invoice.amount_minor, invoice.due_on, invoice.due_from) == (150_000, date(2025, 4, 1), "invoice")
    assert invoice.record.index == inv
    assert (invoice.paid_minor, invoice.balance_minor, invoice.days_late, invoice.payments) == (0, 150_000, 10, [])
    assert f"(#{pay}) was retracted" in facts.statement[-1].text


def test_an_overpayment_is_a_fact_and_the_balance_stays_at_zero(session, owner, make):
    engagement, add = make(started_on=date(2025, 1, 1))
    inv = add("invoice_issued", "2025-03-01", invoice_number="O-1", amount_minor=100_000, currency="GBP")
    add("payment_received", "2025-03-05", refs=[inv], amount_minor=120_000, currency="GBP")
    facts = facts_of(session, owner, engagement, "2025-04-01")
    invoice, = facts.money.invoices
    assert (invoice.balance_minor, invoice.overpaid_minor, invoice.days_late, invoice.interest_minor) == (
        0, 20_000, 0, None)
    assert facts.money.totals[0].overpaid_minor == 20_000
    assert "The payments exceed the invoice by £200.00." in _line(facts, "Invoice O-1")


def test_invoices_in_two_currencies_are_never_added_together(session, owner, make):
    engagement, add = make(started_on=date(2025, 1, 1), jurisdiction="other")
    gbp = add("invoice_issued", "2025-03-01", invoice_number="G", amount_minor=100_000, currency="GBP")
    add("invoice_issued", "2025-03-01", invoice_number="E", amount_minor=70_000, currency="EUR")
    add("invoice_issued", "2025-03-02", invoice_number="E2", amount_minor=5_000, currency="EUR")
    add("payment_received", "2025-03-03", refs=[gbp], amount_minor=100_000, currency="EUR")
    facts = facts_of(session, owner, engagement, "2025-03-10")
    assert [(t.currency, t.invoices, t.invoiced_minor, t.paid_minor) for t in facts.money.totals] == [
        ("EUR", 2, 75_000, 0), ("GBP", 1, 100_000, 0)]
    g = facts.money.invoices[0]
    # A payment in another currency is shown, not applied.
    assert g.paid_minor == 0 and [c.index for c in g.foreign_payments] == [gbp + 3]
    assert "In EUR, 2 invoices total €750.00" in _line(facts, "In EUR")


def test_a_refused_invoice(session, owner, make):
    engagement, add = make(started_on=date(2025, 1, 1), jurisdiction="other")
    inv = add("invoice_issued", "2025-03-01", invoice_number="R-1", amount_minor=100_000, currency="GBP")
    refusal = add("payment_refused", "2025-03-20", refs=[inv], reason="Nothing was delivered")
    facts = facts_of(session, owner, engagement, "2025-03-25")
    invoice, = facts.money.invoices
    assert invoice.refused and [c.index for c in invoice.refusals] == [refusal]
    assert invoice.interest_minor is None and invoice.days_late == 10
    line = _line(facts, "Invoice R-1")
    assert "Payment was refused: “Nothing was delivered”. As of 25 Mar 2025 it is 10 days overdue." in line


def test_eu_directive_ecb_rate_plus_eight_points_and_forty_euro(session, owner, make):
    engagement, add = make(started_on=date(2024, 1, 1), jurisdiction="eu", currency="EUR")
    add("invoice_issued", "2024-02-15", invoice_number="EU-1", amount_minor=100_000, currency="EUR",
        due_on="2024-03-15")
    invoice, = facts_of(session, owner, engagement, "2024-04-14").money.invoices
    # ECB MRO on 1 Jan 2024: 4.50% -> 12.50%. 100,000 x 1250 x 30 / 3,650,000 = 1,027.40 -> €10.27
    assert (invoice.reference_on, invoice.reference_rate_bp, invoice.rate_bp) == (date(2024, 1, 1), 450, 1250)
    assert (invoice.interest_minor, invoice.compensation_minor, invoice.compensation_currency) == (1_027, 4_000, "EUR")


def test_us_ny_shows_double_damages_and_contract_uses_the_rate_in_the_terms(session, owner, make):
    ny, add = make(started_on=date(2025, 1, 1), jurisdiction="us-ny", currency="USD")
    inv = add("invoice_issued", "2025-03-01", invoice_number="NY", amount_minor=300_000, currency="USD",
              due_on="2025-03-31")
    add("payment_received", "2025-03-30", refs=[inv], amount_minor=100_000, currency="USD")
    invoice, = facts_of(session, owner, ny, "2025-04-10").money.invoices
    assert (invoice.damages_minor, invoice.interest_minor) == (400_000, None)
    assert "2 x $2,000.00 = $4,000.00" in invoice.basis

    contract, add = make(started_on=date(2025, 1, 1), jurisdiction="contract", late_interest_bp=1200)
    add("invoice_issued", "2025-03-01", invoice_number="C", amount_minor=100_000, currency="GBP",
        due_on="2025-03-31")
    invoice, = facts_of(session, owner, contract, "2025-04-10").money.invoices
    # 100,000 x 1200 x 10 / 3,650,000 = 328.77 -> 329, no compensation
    assert (invoice.rate_bp, invoice.interest_minor, invoice.compensation_minor) == (1200, 329, None)

    bare, add = make(started_on=date(2025, 1, 1), jurisdiction="contract")
    add("invoice_issued", "2025-03-01", invoice_number="C", amount_minor=100_000, currency="GBP",
        due_on="2025-03-31")
    invoice, = facts_of(session, owner, bare, "2025-04-10").money.invoices
    assert invoice.interest_minor is None and "name no late-payment rate" in invoice.basis


def test_a_workspace_rate_overrides_the_shipped_one(session, owner, make):
    engagement, add = make(started_on=date(2024, 1, 1), jurisdiction="uk")
    add("invoice_issued", "2024-02-01", invoice_number="L", amount_minor=1_000_000, currency="GBP",
        due_on="2024-02-28")
    before = facts_of(session, owner, engagement, "2024-03-01").money.invoices[0]
    rate = add_rate(session, workspace=owner.workspace, actor=owner.actor, data=RateIn(
        series="boe_base", effective_on=date(2023, 8, 3), rate_bp=600, source="https://example.org/correction"))
    assert rate.overrides_shipped and rate.rate_percent == "6.00%"
    after = facts_of(session, owner, engagement, "2024-03-01").money.invoices[0]
    # 14% for 2 days: 1,000,000 x 1400 x 2 / 3,650,000 = 767.12 -> 767
    assert (before.interest_minor, after.interest_minor, after.rate_bp) == (726, 767, 1400)
    assert "https://example.org/correction (effective 2023-08-03, workspace)" == after.reference_source
    listed = [r for r in list_rates(session, workspace=owner.workspace) if r.effective_on == date(2023, 8, 3)]
    assert [(r.origin, r.rate_bp) for r in listed] == [("workspace", 600)]


def test_the_shipped_table_finds_the_rate_in_force():
    table = _rate_table_shipped()
    assert rate_on(table, "boe_base", date(2020, 3, 18)).rate_bp == 25
    assert rate_on(table, "boe_base", date(2020, 3, 19)).rate_bp == 10
    assert rate_on(table, "boe_base", date(2023, 12, 31)).rate_bp == 525
    assert rate_on(table, "ecb_mro", date(2024, 7, 1)).rate_bp == 425
    assert rate_on(table, "ecb_mro", date(2025, 7, 1)).rate_bp == 215
    assert rate_on(table, "ecb_mro", date(2010, 1, 1)) is None
    assert all(r.source.startswith("https://") for rates in table.values() for r in rates)


def _rate_table_shipped():
    table = {}
    for r in shipped_rates():
        table.setdefault(r.series, []).append(r)
    return table


@pytest.mark.parametrize(("text", "bp"), [("5.25", 525), ("0.1%", 10), ("-0.5", -50), (" 4 ", 400)])
def test_parse_percent(text, bp):
    assert parse_percent(text) == bp


@pytest.mark.parametrize("text", ["", "abc", "5.255", "101", "nan", "inf", "1e100000", "9" * 100, "²"])
def test_parse_percent_refuses(text):
    with pytest.raises(Invalid):
        parse_percent(text)


# Notice


def test_oral_notice_when_written_is_required_and_access_revoked_before_the_end(session, owner, make):
    engagement, add = make(started_on=date(2026, 1, 5), notice_days=30, notice_form="written", rate_minor=45_000,
                           rate_unit="day")
    notice = add("notice_given", "2026-03-02", given_by="client", form="oral")
    revoked = add("access_revoked", at("2026-03-09", 8, 15), system="HubSpot CRM")
    facts = facts_of(session, owner, engagement, "2026-04-10")
    n = facts.notice
    assert (n.record.index, n.given_by, n.form, n.form_ok) == (notice, "client", "oral", False)
    assert (n.given_on, n.ends_on) == (date(2026, 3, 2), date(2026, 4, 1))
    assert (n.cut_off_kind, n.cut_off_on, n.cut_off_record.index, n.days_short) == (
        "access_revoked", date(2026, 3, 9), revoked, 23)
    # Unserved: Tue 10 Mar to Wed 1 Apr, 23 days of which 17 working days; 17 x £450 = £7,650.00
    assert (n.unserved_working_days, n.claim_minor, n.claimable) == (17, 765_000, True)
    assert n.claim_formula == "£450.00 x 17 working days = £7,650.00"
    assert "working day" in n.rule and "estimate" in n.rule.lower()
    line = _line(facts, "On 2 Mar 2026")
    assert "the client gave notice orally. The terms require written notice." in line
    assert line.endswith("A notice period of 30 days from that day ended on 1 Apr 2026.")  # as of 10 Apr: over
    assert ("On 9 Mar 2026 the client revoked access to “HubSpot CRM”, 23 days before the notice period ended on "
            "1 Apr 2026.") in _line(facts, "On 9 Mar 2026")


def test_notice_by_the_contractor_in_writing_ended_early_by_the_contractor_is_not_claimable(session, owner, make):
    engagement, add = make(notice_days=14, notice_form="written")
    add("notice_given", "2026-03-02", given_by="contractor", form="written")
    add("engagement_ended", "2026-03-06", ended_by="contractor")
    n = facts_of(session, owner, engagement, "2026-04-10").notice
    assert (n.given_by, n.form_ok, n.ends_on, n.days_short, n.claimable) == (
        "contractor", True, date(2026, 3, 16), 10, False)


def test_ended_by_the_client_without_notice_leaves_the_whole_period_unserved(session, owner, make):
    engagement, add = make(notice_days=30, rate_minor=900_000, rate_unit="month")
    add("engagement_ended", "2026-03-02", ended_by="client", ended_on="2026-03-01")
    n = facts_of(session, owner, engagement, "2026-04-10").notice
    # £9,000 a month x 30 days x 12 / 365 = 3,240,000,000 / 365 ... = 887,671.23 -> 887,671
    assert (n.given, n.cut_off_on, n.ends_on, n.days_short, n.claim_minor, n.claimable) == (
        False, date(2026, 3, 1), date(2026, 3, 31), 30, 887_671, True)


def test_notice_fees_by_rate_unit():
    terms = Terms(started_on=date(2026, 1, 1), rate_minor=5_000, rate_unit="hour")
    # Mon 2 Mar to Sun 8 Mar: 5 working days x 8 hours x £50
    assert notice_fee(terms, date(2026, 3, 2), date(2026, 3, 8))[:2] == (200_000, 5)
    fixed = Terms(started_on=date(2026, 1, 1), rate_minor=5_000, rate_unit="fixed")
    assert notice_fee(fixed, date(2026, 3, 2), date(2026, 3, 8))[0] is None


# Trial and work


def test_trial_kept_past_and_reports_received_without_objection(session, owner, make):
    engagement, add = make(started_on=date(2026, 1, 5), trial_ends_on=date(2026, 2, 1))
    add("report_sent", "2026-01-30")
    r1 = add("report_sent", "2026-02-06")
    r2 = add("report_sent", "2026-02-13")
    d = add("deliverable_delivered", "2026-02-20", deliverable="Target list")
    reply = add("email", "2026-02-14", refs=[r2], direction="in", summary="Thanks, looks good")
    add("email", "2026-02-15", direction="in", summary="unrelated")
    facts = facts_of(session, owner, engagement, "2026-03-20")
    t = facts.trial
    assert (t.ends_on, t.continued_until, t.days_after) == (date(2026, 2, 1), date(2026, 3, 20), 47)
    assert [c.index for c in t.reports_after] == [r1, r2] and [c.index for c in t.deliverables_after] == [d]
    assert [c.index for c in t.replies] == [reply] and t.objections == []
    assert _line(facts, "The trial period ended") == (
        "The trial period ended on 1 Feb 2026. The engagement continued for 47 days after it (until 20 Mar 2026, "
        "the date of these facts); in that time 2 reports and 1 deliverable were sent to the client, and 1 reply "
        "to them is recorded. No objection is recorded.")


def test_trial_ends_where_the_engagement_ended_and_notes_the_first_objection(session, owner, make):
    engagement, add = make(started_on=date(2026, 1, 5), trial_ends_on=date(2026, 2, 1))
    add("report_sent", "2026-02-06")
    step = add("dispute_step", "2026-02-10", step="Client disputes the February invoice")
    add("report_sent", "2026-02-13")
    add("engagement_ended", "2026-03-01", ended_by="contractor")
    t = facts_of(session, owner, engagement, "2026-04-01").trial
    assert (t.continued_until, t.days_after, t.first_objection_on) == (date(2026, 3, 1), 28, date(2026, 2, 10))
    assert [c.index for c in t.objections] == [step] and t.reports_before_first_objection == 1


def test_work_by_month_links_every_count_to_its_records(session, owner, make):
    engagement, add = make()
    a = add("report_sent", "2026-01-09")
    b = add("lead_handed_over", "2026-01-20", lead_name="Calder Foods")
    c = add("report_sent", "2026-02-06", meetings_set=3)
    add("meeting_scheduled", "2026-02-07", meeting_at="2026-02-10T10:00:00Z")  # a diary entry, not work
    facts = facts_of(session, owner, engagement, "2026-03-01")
    table = {w.month: {x.kind: (x.count, [r.index for r in x.records]) for x in w.counts} for w in facts.work}
    assert table == {
        "2026-01": {"report_sent": (1, [a]), "meetings_set": (0, []), "lead_handed_over": (1, [b]),
                    "deliverable_delivered": (0, [])},
        "2026-02": {"report_sent": (1, [c]), "meetings_set": (3, [c]), "lead_handed_over": (0, []),
                    "deliverable_delivered": (0, [])},
    }
    assert _line(facts, "Work recorded") == ("Work recorded between January 2026 and February 2026: 2 reports sent "
                                             "(1 of which states 3 meetings set for the client) and 1 lead handed "
                                             "over.")


# Commitments


def test_commitments_made_kept_broken_overdue_and_open(session, owner, make):
    engagement, add = make()
    kept = add("commitment", "2026-01-10", promised_by="client", promise="Sign the renewal after Q2",
               due_on="2026-02-01")
    broken = add("commitment", "2026-01-11", promised_by="client", promise="Two more deals next quarter")
    overdue = add("commitment", "2026-01-12", promised_by="client", promise="Send the CRM export",
                  due_on="2026-02-15")
    add("commitment", "2026-01-13", promised_by="client", promise="Intro to the CFO", due_on="2026-04-01")
    mine = add("commitment", "2026-01-14", promised_by="contractor", promise="Weekly report", due_on="2026-01-20")
    add("commitment_kept", "2026-02-01", refs=[kept])
    add("commitment_broken", "2026-02-20", refs=[broken])
    facts = facts_of(session, owner, engagement, "2026-03-01")
    assert [c.state for c in facts.commitments] == ["kept", "broken", "overdue", "open", "overdue"]
    s = signal(facts, "broken_commitments")
    assert [c.index for c in s.records] == [broken, overdue] and s.value == 2 and s.level == "red"
    assert mine not in [c.index for c in s.records]
    assert "promised “Two more deals next quarter”. It is recorded as broken." in _line(facts, "On 11 Jan 2026")


# Signals


def test_no_shows_and_late_cancellations_count_the_clients_and_ignore_retracted(session, owner, make):
    engagement, add = make()
    s1 = add("meeting_scheduled", "2026-02-01", meeting_at="2026-02-05T10:00:00Z")
    late = add("meeting_cancelled", at("2026-02-04", 10, 30), refs=[s1], meeting_at="2026-02-05T10:00:00Z",
               cancelled_by="client")
    s2 = add("meeting_scheduled", "2026-02-06", meeting_at="2026-02-12T10:00:00Z")
    add("meeting_cancelled", at("2026-02-11", 9, 59), refs=[s2], meeting_at="2026-02-12T10:00:00Z",
        cancelled_by="client")  # 24 h 1 min ahead: not late
    s3 = add("meeting_scheduled", "2026-02-13", meeting_at="2026-02-16T10:00:00Z")
    add("meeting_cancelled", at("2026-02-16", 9), refs=[s3], meeting_at="2026-02-16T10:00:00Z",
        cancelled_by="contractor")
    shown = add("no_show", at("2026-02-20", 10, 20), meeting_at="2026-02-20T10:00:00Z", party="client")
    wrong = add("no_show", at("2026-02-21", 10, 20), meeting_at="2026-02-21T10:00:00Z", party="client")
    add("no_show", at("2026-02-22", 10, 20), meeting_at="2026-02-22T10:00:00Z", party="contractor")
    add("retraction", "2026-02-23", refs=[wrong], reason="They came, I was in the wrong room")
    facts = facts_of(session, owner, engagement, "2026-03-01")
    assert [c.index for c in signal(facts, "late_cancellations").records] == [late]
    no_shows = signal(facts, "no_shows")
    assert [c.index for c in no_shows.records] == [shown] and no_shows.level == "amber"
    assert "The client did not attend 1 scheduled meeting." in [line.text for line in facts.statement]


def test_brick_wall_response_time_after_hours_and_repeated_sends(session, owner, make):
    engagement, add = make()
    e1 = add("email", at("2026-02-02", 9), direction="out", subject="Quote for Q2")
    reply1 = add("email", at("2026-02-03", 9), direction="in")  # 24 h
    run = [add("call", at(f"2026-02-{d:02d}", 11), direction="out") for d in (4, 5, 6)]
    run.append(add("email", at("2026-02-09", 9), direction="out", subject="quote  for Q2"))
    add("note", at("2026-02-09", 12))  # internal: neither a contact nor an answer
    reply2 = add("meeting", at("2026-02-09", 11))  # held meeting: an answer, 120 h after 4 Feb 11:00
    add("email", at("2026-02-10", 9), direction="out", subject="Re: Quote for Q2")
    late_night = add("message", at("2026-02-10", 22, 30), direction="in")  # 13.5 h
    weekend = add("call", at("2026-02-14", 12), direction="in")  # Saturday
    again = add("email", at("2026-02-16", 9), direction="out", subject="QUOTE FOR Q2")
    facts = facts_of(session, owner, engagement, "2026-03-01")
    wall = signal(facts, "brick_wall")
    assert (wall.value, [c.index for c in wall.records], wall.level) == (4, run, "amber")
    rt = signal(facts, "response_time")
    # 24 h, 120 h, 13.5 h; median 24 h. The Saturday call answers nothing: no contact was waiting.
    assert rt.samples == [24 * 3600, 120 * 3600, 13 * 3600 + 1800]
    assert (rt.value, rt.display, [c.index for c in rt.records]) == (24, "1 day", [reply1, reply2, late_night])
    assert [c.index for c in signal(facts, "after_hours").records] == [late_night, weekend]
    repeated = signal(facts, "repeated_sends")
    assert (repeated.value, [c.index for c in repeated.records], repeated.level) == (3, [e1, run[-1], again], "amber")


def test_average_days_late_counts_on_time_invoices_as_zero(session, owner, make):
    engagement, add = make(jurisdiction="other")
    a = add("invoice_issued", "2026-01-01", invoice_number="1", amount_minor=1000, currency="GBP", due_on="2026-01-15")
    add("payment_received", "2026-01-15", refs=[a], amount_minor=1000, currency="GBP")
    b = add("invoice_issued", "2026-01-01", invoice_number="2", amount_minor=1000, currency="GBP", due_on="2026-01-15")
    add("payment_received", "2026-01-25", refs=[b], amount_minor=1000, currency="GBP")
    c = add("invoice_issued", "2026-01-01", invoice_number="3", amount_minor=1000, currency="GBP", due_on="2026-01-15")
    add("invoice_issued", "2026-02-01", invoice_number="4", amount_minor=1000, currency="GBP", due_on="2026-03-15")
    s = signal(facts_of(session, owner, engagement, "2026-02-04"), "invoice_days_late")
    # 0, 10 and 20 days (unpaid, as of 4 Feb); invoice 4 is not due yet: average 10.
    assert (s.value, [r.index for r in s.records], s.level) == (10, [b, c], "amber")


def test_thresholds_set_per_workspace_change_the_levels(session, owner, make):
    engagement, add = make()
    add("no_show", at("2026-02-20", 10, 20), meeting_at="2026-02-20T10:00:00Z", party="client")
    other = factories.make_member(session, workspace_name="Other Co")
    theirs = factories.make_engagement(session, member=other)
    factories.append(session, member=other, engagement=theirs, kind="no_show", occurred_at=at("2026-02-20", 10, 20),
                     meeting_at="2026-02-20T10:00:00Z", party="client")
    assert facts_of(session, owner, engagement, "2026-03-01").level == "amber"
    set_thresholds(session, workspace=owner.workspace, actor=owner.actor,
                   data=ThresholdsIn(no_shows=Level(amber=2, red=3)))
    facts = facts_of(session, owner, engagement, "2026-03-01")
    assert (signal(facts, "no_shows").amber, signal(facts, "no_shows").level, facts.level) == (2, "ok", "ok")
    set_thresholds(session, workspace=owner.workspace, actor=owner.actor,
                   data=ThresholdsIn(no_shows=Level(amber=1, red=1)))
    assert facts_of(session, owner, engagement, "2026-03-01").level == "red"
    # The other workspace keeps the default thresholds.
    assert facts_of(session, other, theirs, "2026-03-01").level == "amber"


def test_client_signals_pool_the_clients_engagements(session, owner):
    client = factories.make_client(session, member=owner, name="Halden")
    first = factories.make_engagement(session, member=owner, client=client, jurisdiction="other")
    second = factories.make_engagement(session, member=owner, client=client, jurisdiction="other", currency="EUR")
    for engagement, day in ((first, "2026-02-20"), (second, "2026-02-21")):
        factories.append(session, member=owner, engagement=engagement, kind="no_show", occurred_at=at(day),
                         meeting_at=f"{day}T09:00:00Z", party="client")
    factories.append(session, member=owner, engagement=first, kind="invoice_issued", occurred_at=at("2026-02-01"),
                     invoice_number="1", amount_minor=1000, currency="GBP")
    factories.append(session, member=owner, engagement=second, kind="invoice_issued", occurred_at=at("2026-02-01"),
                     invoice_number="1", amount_minor=2000, currency="GBP")
    result = client_signals(session, workspace=owner.workspace, client=client, as_of=date(2026, 3, 1))
    # Each engagement has a no-show (amber) and an invoice overdue since 15 Feb (red: money overdue is flagged red).
    assert result.engagements == {first.id: "red", second.id: "red"}
    no_shows = next(s for s in result.signals if s.signal == "no_shows")
    assert no_shows.value == 2 and {c.engagement_id for c in no_shows.records} == {first.id, second.id}
    assert result.level == "red"
    assert [(t.currency, t.invoices, t.invoiced_minor) for t in result.money] == [("GBP", 2, 3000)]


# The statement


def test_statement_lines_cite_records_and_exhibits(session, owner, make):
    from service.config import get_settings
    from service.evidence.service import register_evidence
    from service.evidence.store import EvidenceStore

    store = EvidenceStore(get_settings().evidence_dir)
    pending = store.writer(5)
    pending.write(b"hello")
    sha = pending.commit()
    register_evidence(session, workspace=owner.workspace, sha256=sha, size=5, media_type="text/plain",
                      filename="report.txt")
    engagement, add = make(trial_ends_on=date(2026, 1, 10))
    report = factories.append(session, member=owner, engagement=engagement, kind="report_sent",
                              occurred_at=at("2026-01-20"), attachments=[sha]).idx
    lines = facts_of(session, owner, engagement, "2026-02-01").statement
    assert [line.number for line in lines] == list(range(1, len(lines) + 1))
    assert lines[0].refs[0].index == 0 and "started on 5 Jan 2026, at £450.00 a day" in lines[0].text
    trial = next(line for line in lines if line.text.startswith("The trial period ended"))
    assert [(c.index, c.exhibits) for c in trial.refs] == [(report, ["E0001"])]


def test_demo_engagement_story(session):
    from sqlmodel import select

    from service.demo.story import load_demo

    workspace = load_demo(session)
    engagement = session.exec(select(Engagement).where(Engagement.workspace_id == workspace.id)).one()
    start = engagement.started_on
    facts = engagement_facts(session, workspace=workspace, engagement=engagement, as_of=start + timedelta(days=150))
    n = facts.notice
    assert (n.given_by, n.form, n.form_ok, n.ends_on) == ("client", "oral", False, start + timedelta(days=148))
    # Access cut on day 123, 25 days early; the demo always starts on a Friday, so 18 working days at £450.
    assert (n.days_short, n.unserved_working_days, n.claim_minor, n.claimable) == (25, 18, 810_000, True)
    refused = facts.money.invoices[-1]
    assert (refused.invoice_number, refused.refused, refused.balance_minor, refused.days_late) == (
        "SO-2026-004", True, 1_125_000, 6)
    rate = rate_on(rate_table(session, workspace), "boe_base", refused.reference_on).rate_bp + 800
    assert refused.interest_minor == (1_125_000 * rate * 6 * 2 + 3_650_000) // (2 * 3_650_000)
    assert refused.compensation_minor == 10_000
    levels = {s.signal: s.level for s in facts.signals}
    assert levels["brick_wall"] == levels["response_time"] == "red"
    assert levels["no_shows"] == levels["late_cancellations"] == "amber"
    # The renewal proposal went out three times; the client's promise to sign it was broken.
    assert levels["repeated_sends"] == levels["broken_commitments"] == "amber"
    assert [c.state for c in facts.commitments] == ["broken"]
    assert {s.signal: s.value for s in facts.signals}["after_hours"] == 1
    assert facts.level == "red"
    texts = "\n".join(line.text for line in facts.statement)
    assert "the client gave notice orally. The terms require written notice." in texts
    assert "£450.00 x 18 working days = £8,100.00" in texts
    assert "The trial period ended" in texts and "Payment was refused" in texts


def _line(facts, start: str) -> str:
    return next(line.text for line in facts.statement if line.text.startswith(start))


# Properties


def _item(index, kind, day, refs=(), **body):
    return Item(index=index, kind=kind, occurred_at=at(day), body=body, refs=tuple(refs), attachments=())


@settings(max_examples=200, deadline=None)
@given(amount=st.integers(1, 10**9), payments=st.lists(st.tuples(st.integers(0, 120), st.integers(1, 10**9)),
                                                       max_size=6), as_of=st.integers(0, 200))
def test_balances_never_go_below_zero_without_an_overpayment_fact(amount, payments, as_of):
    start = date(2025, 1, 1)
    items = [_item(1, "invoice_issued", start, invoice_number="P", amount_minor=amount, currency="GBP",
                   due_on=(start + timedelta(days=30)).isoformat())]
    items += [_item(2 + n, "payment_received", start + timedelta(days=d), refs=[1], amount_minor=a, currency="GBP")
              for n, (d, a) in enumerate(payments)]
    items.sort(key=lambda i: (i.occurred_at, i.index))
    ledger = Ledger(engagement=Engagement(id=1, workspace_id=1, client_id=1, title="t", started_on=start,
                                          notice_days=0, notice_form="written", payment_terms_days=30,
                                          rate_minor=0, currency="GBP", rate_unit="day", jurisdiction="uk"),
                    items=items, exhibits={}, retracted=[])
    terms = Terms(started_on=start, jurisdiction="uk")
    invoice, = money_of(ledger, terms, _rate_table_shipped(), start + timedelta(days=as_of)).invoices
    paid = sum(a for _, a in payments)
    assert invoice.balance_minor >= 0
    assert invoice.balance_minor == max(0, amount - paid)
    assert invoice.overpaid_minor == max(0, paid - amount)
    assert (invoice.overpaid_minor > 0) == (paid > amount)


@settings(max_examples=200, deadline=None)
@given(amount=st.integers(1, 10**9), rate_bp=st.integers(0, 3000), days=st.integers(0, 800),
       more=st.integers(0, 400), payments=st.lists(st.tuples(st.integers(1, 900), st.integers(1, 10**8)),
                                                   max_size=4))
def test_interest_grows_with_days_late(amount, rate_bp, days, more, payments):
    due = date(2024, 1, 31)
    paid = [(due + timedelta(days=d), a) for d, a in payments]

    def total(until_days):
        return sum(p.amount_minor for p in interest_parts(amount_minor=amount, due_on=due, payments=paid,
                                                          until=due + timedelta(days=until_days), rate_bp=rate_bp,
                                                          currency="GBP"))
    assert total(days) <= total(days + more)
    if rate_bp and not payments:
        assert total(days) == (amount * rate_bp * days * 2 + 10_000 * 365) // (2 * 10_000 * 365)


def test_terms_changes_build_on_each_other_and_a_retraction_never_breaks_the_facts(session, owner, make):
    engagement, add = make(started_on=date(2026, 1, 5), notice_days=30)
    trial = add("terms_changed", "2026-01-06", changes={"trial_ends_on": "2026-01-20"})
    # Valid against the opening terms, not against the terms as they now stand (trial before the start).
    with pytest.raises(Invalid, match="trial_ends_on is before started_on"):
        add("terms_changed", "2026-01-07", changes={"started_on": "2026-02-01"})
    add("terms_changed", "2026-01-08", changes={"notice_days": 60})
    add("retraction", "2026-01-09", refs=[trial], reason="trial never agreed")
    add("terms_changed", "2026-01-10", changes={"started_on": "2026-02-01"})
    facts = facts_of(session, owner, engagement, "2026-03-01")
    assert "started on 1 Feb 2026" in facts.statement[0].text and "60 days' notice" in facts.statement[0].text
