"""Issue 12: the statement of facts says only what the records prove, in plain words. Each case is checked against
the exact sentence a lawyer would read."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from service.engagements.models import Engagement
from service.facts.figures import fmt_day
from service.facts.service import engagement_facts
from service.records.models import RecordCreate
from service.records.service import append_record
from tests import factories


def at(day: str, hour: int = 10, minute: int = 0) -> datetime:
    d = date.fromisoformat(day)
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=UTC)


@pytest.fixture
def make(session, owner):
    def build(**terms):
        engagement = factories.make_engagement(session, member=owner, **terms)

        def add(kind, when, refs=None, **body):
            return factories.append(session, member=owner, engagement=engagement, kind=kind,
                                    occurred_at=at(when) if isinstance(when, str) else when, refs=refs, **body).idx
        return engagement, add
    return build


def facts_of(session, owner, engagement, as_of: str):
    return engagement_facts(session, workspace=owner.workspace, engagement=engagement,
                            as_of=date.fromisoformat(as_of))


def texts(facts) -> list[str]:
    return [line.text for line in facts.statement]


def line(facts, start: str) -> str:
    return next(t for t in texts(facts) if t.startswith(start))


# Invoices: paid and unpaid apart


def test_an_unpaid_invoice_is_never_said_to_be_paid_late(session, owner, make):
    engagement, add = make(started_on=date(2025, 1, 1), jurisdiction="other")
    on_time = add("invoice_issued", "2025-03-01", invoice_number="INV-5", amount_minor=1000, currency="GBP",
                  due_on="2025-03-15")
    add("payment_received", "2025-03-14", refs=[on_time], amount_minor=1000, currency="GBP")
    late = add("invoice_issued", "2025-04-01", invoice_number="INV-6", amount_minor=1000, currency="GBP",
               due_on="2025-04-15")
    paid = add("payment_received", "2025-04-25", refs=[late], amount_minor=1000, currency="GBP")
    unpaid = add("invoice_issued", "2025-05-01", invoice_number="INV-7", amount_minor=5000, currency="GBP",
                 due_on="2025-05-15")
    part = add("invoice_issued", "2025-05-01", invoice_number="INV-8", amount_minor=5000, currency="GBP",
               due_on="2025-05-15")
    part_paid = add("payment_received", "2025-05-20", refs=[part], amount_minor=2000, currency="GBP")
    facts = facts_of(session, owner, engagement, "2025-09-16")  # 124 days after 15 May
    lateness = line(facts, "Of 2 invoices paid in full")
    assert lateness == ("Of 2 invoices paid in full, 1 was paid after the due date: INV-6 (10 days late). INV-7 is "
                        "unpaid, 124 days after its due date. INV-8 is not paid in full (£30.00 outstanding), 124 "
                        "days after its due date.")
    cited = next(x for x in facts.statement if x.text == lateness).refs
    assert [c.index for c in cited] == [late, paid, unpaid, part, part_paid]
    assert not any("paid on average" in t for t in texts(facts))


def test_invoices_all_paid_on_time_make_no_lateness_line(session, owner, make):
    engagement, add = make(started_on=date(2025, 1, 1), jurisdiction="other")
    inv = add("invoice_issued", "2025-03-01", invoice_number="INV-1", amount_minor=1000, currency="GBP",
              due_on="2025-03-15")
    add("payment_received", "2025-03-14", refs=[inv], amount_minor=1000, currency="GBP")
    facts = facts_of(session, owner, engagement, "2025-06-01")
    assert not any(t.startswith(("Of ", "The invoice paid", "All ")) for t in texts(facts))
    assert facts.level == "ok"


# Work: what the contractor delivered, beside what the terms promised


def test_work_counts_meetings_the_reports_state_not_the_clients_own_bookings(session, owner, make):
    engagement, add = make(started_on=date(2026, 1, 5),
                           deliverables=["Weekly pipeline report", "Eight qualified meetings a month"])
    r1 = add("report_sent", "2026-01-09", meetings_set=3)
    r2 = add("report_sent", "2026-01-16", meetings_set=2)
    # The client booking a review with the contractor is a diary entry, not work delivered.
    add("meeting_scheduled", "2026-01-20", meeting_at="2026-01-22T10:00:00Z", summary="Review with the CEO")
    add("meeting_scheduled", "2026-01-21", meeting_at="2026-01-23T10:00:00Z", summary="Review again")
    delivered = add("deliverable_delivered", "2026-02-02", deliverable="Target account list")
    facts = facts_of(session, owner, engagement, "2026-03-01")
    assert texts(facts)[1] == ("The terms list 2 deliverables: “Weekly pipeline report” and “Eight qualified "
                               "meetings a month”.")
    work = line(facts, "Work recorded")
    assert work == ("Work recorded between January 2026 and February 2026: 2 reports sent (which state 5 meetings "
                    "set for the client) and 1 deliverable delivered (“Target account list”).")
    assert [c.index for c in next(x for x in facts.statement if x.text == work).refs] == [r1, r2, delivered]
    totals = {w.kind: w.count for w in facts.work_totals}
    assert totals == {"report_sent": 2, "meetings_set": 5, "lead_handed_over": 0, "deliverable_delivered": 1}
    assert facts.deliverables_promised == ["Weekly pipeline report", "Eight qualified meetings a month"]


def test_promised_deliverables_with_nothing_recorded_say_so(session, owner, make):
    engagement, _ = make(deliverables=["Handover pack"])
    facts = facts_of(session, owner, engagement, "2026-03-01")
    assert texts(facts)[1:3] == ["The terms list 1 deliverable: “Handover pack”.",
                                 "No report, lead or deliverable sent to the client is recorded."]


# Response time: only from contacts that await a reply


def test_response_time_is_measured_only_from_contacts_awaiting_a_reply(session, owner, make):
    engagement, add = make()
    # A report by email needs no answer: the client's email a month later answers nothing.
    add("email", at("2026-02-02", 9), direction="out", awaits_reply=False, subject="Weekly report")
    add("email", at("2026-03-02", 9), direction="in", subject="Thanks")
    asked = add("email", at("2026-03-03", 9), direction="out", subject="Can we meet on Friday?")
    reply = add("call", at("2026-03-05", 9), direction="in")
    facts = facts_of(session, owner, engagement, "2026-04-01")
    rt = next(s for s in facts.signals if s.signal == "response_time")
    assert (rt.samples, [c.index for c in rt.records], [c.index for c in rt.asked]) == (
        [2 * 24 * 3600], [reply], [asked])
    sentence = line(facts, "Measured over")
    assert sentence == ("Measured over 1 reply, the median time from the contractor's first unanswered contact "
                        "awaiting a reply to the client's next response was 2 days.")
    assert [c.index for c in next(x for x in facts.statement if x.text == sentence).refs] == [asked, reply]


def test_a_contact_needing_no_reply_is_no_part_of_a_brick_wall(session, owner, make):
    engagement, add = make()
    run = [add("call", at(f"2026-02-{d:02d}", 11), direction="out") for d in (2, 3, 4)]
    add("email", at("2026-02-05", 11), direction="out", awaits_reply=False, subject="Minutes")
    facts = facts_of(session, owner, engagement, "2026-03-01")
    wall = next(s for s in facts.signals if s.signal == "brick_wall")
    assert [c.index for c in wall.records] == run
    assert line(facts, "Between") == ("Between 2 Feb 2026 and 4 Feb 2026 the contractor contacted the client 3 "
                                      "times, each contact awaiting a reply, with no answer from the client in "
                                      "between.")


def test_a_brick_wall_within_one_day_names_the_day(session, owner, make):
    engagement, add = make()
    for hour in (9, 12, 16):
        add("call", at("2026-02-02", hour), direction="out")
    assert line(facts_of(session, owner, engagement, "2026-03-01"), "On 2 Feb 2026 the contractor") == (
        "On 2 Feb 2026 the contractor contacted the client 3 times, each contact awaiting a reply, with no answer "
        "from the client in between.")


def test_the_client_giving_notice_answers_the_contacts_before_it(session, owner, make):
    engagement, add = make()
    add("call", at("2026-02-02", 11), direction="out")
    add("call", at("2026-02-03", 11), direction="out")
    notice = add("notice_given", at("2026-02-04", 11), given_by="client", form="oral")
    add("call", at("2026-02-05", 11), direction="out")
    facts = facts_of(session, owner, engagement, "2026-02-10")
    rt = next(s for s in facts.signals if s.signal == "response_time")
    assert [c.index for c in rt.records] == [notice] and rt.samples == [2 * 24 * 3600]
    assert next(s for s in facts.signals if s.signal == "brick_wall").value == 2


# Contacts without a direction, stored before one was required


def test_a_stored_contact_without_a_direction_is_named_and_counted_neither_way(session, owner, make):
    engagement, add = make()
    add("call", at("2026-02-02", 11), direction="out")
    # Written the way records were before a direction was required: the ledger keeps it as it is.
    old = append_record(session, workspace=owner.workspace, engagement=engagement, actor=owner.actor,
                        data=RecordCreate.model_construct(kind="call", occurred_at=at("2026-02-03", 11),
                                                          body={"summary": "Spoke to Tom"}, refs=[], attachments=[],
                                                          external_id=None)).idx
    add("call", at("2026-02-04", 11), direction="out")
    facts = facts_of(session, owner, engagement, "2026-03-01")
    sentence = line(facts, "1 call was recorded")
    assert sentence == ("1 call was recorded without saying who contacted whom, so the figures on contacts and "
                        "replies count it neither as the contractor's contacts nor as the client's answers.")
    assert [c.index for c in next(x for x in facts.statement if x.text == sentence).refs] == [old]
    assert next(s for s in facts.signals if s.signal == "brick_wall").value == 2


# Words, never field names or codes


def test_terms_and_their_changes_are_stated_in_words(session, owner, make):
    engagement, add = make(started_on=date(2026, 1, 5), jurisdiction="uk")
    add("terms_changed", "2026-01-06", changes={"jurisdiction": "contract", "late_interest_bp": 800})
    add("terms_changed", "2026-01-07", changes={"notice_days": 60, "rate_unit": "hour", "rate_minor": 6000})
    facts = facts_of(session, owner, engagement, "2026-03-01")
    assert texts(facts)[0] == ("The engagement “Outbound sales” with Northwind Ltd started on 5 Jan 2026, at £60.00 "
                               "an hour, with 60 days' notice (in writing), payment due 14 days after invoice, under "
                               "the contract's own late-payment terms, with interest at 8.00% a year.")
    assert texts(facts)[1:3] == [
        "On 6 Jan 2026 the terms were changed: the late-payment rules to the contract's own and the contract's "
        "late-payment interest to 8.00% a year.",
        "On 7 Jan 2026 the terms were changed: the notice period to 60 days, the rate to £60.00 and the rate to be "
        "charged by the hour."]
    statement = "\n".join(texts(facts))
    assert "_" not in statement and "jurisdiction" not in statement


@pytest.mark.parametrize(("jurisdiction", "words"), [
    ("uk", "United Kingdom law"), ("eu", "the law of a European Union member state"), ("us-ny", "New York law"),
    ("other", "the law of another jurisdiction"),
    ("contract", "the contract's own late-payment terms, which name no interest rate")])
def test_the_law_is_named_in_words(session, owner, make, jurisdiction, words):
    engagement, _ = make(jurisdiction=jurisdiction)
    assert texts(facts_of(session, owner, engagement, "2026-03-01"))[0].endswith(f"after invoice, under {words}.")


# Status and level follow the facts


def test_money_overdue_makes_the_level_red_without_any_signal(session, owner, make):
    engagement, add = make(jurisdiction="other")
    add("invoice_issued", "2026-02-01", invoice_number="1", amount_minor=1000, currency="GBP", due_on="2026-02-15")
    facts = facts_of(session, owner, engagement, "2026-02-16")
    assert all(s.level == "ok" for s in facts.signals if s.signal != "invoice_days_late")
    assert facts.level == "red"


def test_notice_cut_short_makes_the_level_red(session, owner, make):
    engagement, add = make(notice_days=30)
    add("notice_given", "2026-03-02", given_by="client", form="written")
    add("access_revoked", "2026-03-03", system="CRM")
    facts = facts_of(session, owner, engagement, "2026-03-04")
    assert all(s.level == "ok" for s in facts.signals)
    assert (facts.notice.days_short, facts.level, facts.status) == (29, "red", "notice")


def test_status_is_notice_while_the_period_runs_and_ended_after_it(session, owner, make):
    engagement, add = make(notice_days=30)
    assert facts_of(session, owner, engagement, "2026-03-01").status == "active"
    add("notice_given", "2026-03-02", given_by="client", form="written")
    # 30 days from 2 Mar: the period's last day is 1 Apr.
    assert facts_of(session, owner, engagement, "2026-04-01").status == "notice"
    over = facts_of(session, owner, engagement, "2026-04-02")
    assert over.status == "ended"
    assert line(over, "On 2 Mar 2026") == ("On 2 Mar 2026 the client gave notice in writing. A notice period of 30 "
                                           "days from that day ended on 1 Apr 2026.")
    add("engagement_ended", "2026-03-10", ended_by="client")
    assert facts_of(session, owner, engagement, "2026-03-11").status == "ended"


# The demo reads true


def test_the_demo_statement_reads_true(session):
    from service.demo.story import load_demo

    workspace = load_demo(session)
    engagement = session.exec(select(Engagement).where(Engagement.workspace_id == workspace.id)).one()
    start = engagement.started_on
    facts = engagement_facts(session, workspace=workspace, engagement=engagement, as_of=start + timedelta(days=150))
    day = lambda n: fmt_day(start + timedelta(days=n))  # noqa: E731
    all_lines = texts(facts)
    assert facts.status == "ended" and facts.level == "red"
    assert all_lines[0].endswith("payment due 14 days after invoice, under United Kingdom law.")
    assert all_lines[1] == ("The terms list 3 deliverables: “Weekly pipeline report”, “Eight qualified meetings a "
                            "month” and “Leads handed over in the CRM”.")
    work = line(facts, "Work recorded")
    assert work.endswith(": 17 reports sent (which state 50 meetings set for the client), 5 leads handed over and 1 "
                         "deliverable delivered (“Handover pack”).")
    assert line(facts, "Of 3 invoices") == (
        "Of 3 invoices paid in full, 2 were paid after the due date: SO-2026-002 (2 days late) and SO-2026-003 (7 "
        "days late). SO-2026-004 is unpaid, 6 days after its due date.")
    assert line(facts, "Between") == (
        f"Between {day(64)} and {day(94)} the contractor contacted the client 6 times, each contact awaiting a "
        "reply, with no answer from the client in between.")
    assert line(facts, "Measured over") == ("Measured over 2 replies, the median time from the contractor's first "
                                            "unanswered contact awaiting a reply to the client's next response was "
                                            "41 days.")
    assert not any(word in "\n".join(all_lines) for word in ("_", "meetings set,", "paid on average", " uk"))
