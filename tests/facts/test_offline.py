"""The facts from records alone, with no database: what `docket verify` needs to derive a bundle's statement again."""

from datetime import UTC, date, datetime

from sqlmodel import select

from service.engagements.models import Engagement
from service.facts.compute import FactsInputs, facts_from_rows
from service.facts.service import engagement_facts, facts_inputs
from service.records.models import Record
from tests import factories


def test_facts_from_rows_alone_match_the_facts_read_from_the_database(session, owner):
    engagement = factories.make_engagement(session, member=owner, started_on=date(2026, 1, 5), notice_days=30,
                                           trial_ends_on=date(2026, 1, 31), rate_minor=50_000)

    def add(kind, day, refs=None, **body):
        return factories.append(session, member=owner, engagement=engagement, kind=kind, refs=refs,
                                occurred_at=datetime.fromisoformat(day + "T10:00:00+00:00"), **body).idx

    report = add("report_sent", "2026-02-02", direction="out")
    add("email", "2026-02-03", refs=[report], direction="in")
    invoice = add("invoice_issued", "2026-02-04", invoice_number="INV-1", amount_minor=120_000, currency="GBP",
                  due_on="2026-03-06")
    add("payment_received", "2026-03-20", refs=[invoice], amount_minor=20_000, currency="GBP")
    wrong = add("call", "2026-02-05", direction="out")
    add("amendment", "2026-02-06", refs=[wrong], reason="it was an inbound call",
        body={"summary": "call", "direction": "in"})
    dropped = add("no_show", "2026-02-07", meeting_at="2026-02-07T09:00:00Z", party="client")
    add("retraction", "2026-02-08", refs=[dropped], reason="logged on the wrong engagement")
    add("notice_given", "2026-04-01", given_by="client", form="written")
    as_of = date(2026, 4, 10)
    inputs = facts_inputs(session, owner.workspace)
    from_db = engagement_facts(session, workspace=owner.workspace, engagement=engagement, as_of=as_of,
                               inputs=inputs)

    # As a bundle holds them: aware times, the exact body bytes, lists; and a detached engagement.
    records = session.exec(select(Record).where(Record.engagement_id == engagement.id)).all()
    rows = sorted(((r.idx, r.kind, r.occurred_at.replace(tzinfo=UTC) if r.occurred_at.tzinfo is None
                    else r.occurred_at, bytes(r.body), list(r.refs), list(r.attachments)) for r in records),
                  key=lambda row: (row[2], row[0]))
    detached = Engagement(**engagement.model_dump())
    offline = facts_from_rows(detached, rows, client_name=from_db.client_name, as_of=as_of,
                              inputs=FactsInputs(rates=inputs.rates, thresholds=inputs.thresholds))
    assert offline == from_db
    assert [line.text for line in offline.statement] == [line.text for line in from_db.statement]
    assert len(offline.statement) >= 4
