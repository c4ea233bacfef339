"""Signals from one table: a spec in SIGNALS and its rule function are all a new signal needs; its thresholds,
measure, pooling across a client's engagements and its sentence in the statement follow from the spec."""

from datetime import UTC, date, datetime

from service.facts.service import client_signals, engagement_facts
from service.facts.signals import SIGNALS, Pool, SignalSource, SignalSpec
from service.facts.thresholds import ThresholdsIn, list_thresholds
from tests import factories


def _refusals(source: SignalSource) -> list:
    return source.ledger.cites(source.ledger.of("payment_refused"))


REFUSALS = SignalSpec("refusals", "Refused payments", "refusals", 1, 2, "Counts the payments the client refused.",
                      counts=_refusals, pools=Pool.longest,
                      sentence=lambda s, _: f"The client refused to pay {s.value} times.")


def test_the_thresholds_shape_is_the_table_in_its_order():
    assert list(ThresholdsIn.model_fields) == list(SIGNALS)
    assert all(not field.is_required() for field in ThresholdsIn.model_fields.values())


def test_a_new_signal_is_one_entry_counted_measured_pooled_and_stated(session, owner, monkeypatch):
    monkeypatch.setitem(SIGNALS, "refusals", REFUSALS)
    client = factories.make_client(session, member=owner, name="Halden")
    engagements = []
    for refusals in (1, 2):
        engagement = factories.make_engagement(session, member=owner, client=client, started_on=date(2026, 1, 5))
        invoice = factories.append(session, member=owner, engagement=engagement, kind="invoice_issued",
                                   occurred_at=datetime(2026, 1, 20, 10, tzinfo=UTC), invoice_number="1",
                                   amount_minor=1000, currency="GBP")
        for n in range(refusals):
            factories.append(session, member=owner, engagement=engagement, kind="payment_refused",
                             occurred_at=datetime(2026, 1, 21 + n, 10, tzinfo=UTC), refs=[invoice.idx],
                             reason="not happy")
        engagements.append(engagement)
    as_of = date(2026, 3, 1)

    facts = engagement_facts(session, workspace=owner.workspace, engagement=engagements[1], as_of=as_of)
    refused = next(s for s in facts.signals if s.signal == "refusals")
    assert (refused.value, refused.display, refused.level) == (2, "2 refusals", "red")
    assert "The client refused to pay 2 times." in [line.text for line in facts.statement]

    pooled = client_signals(session, workspace=owner.workspace, client=client, as_of=as_of)
    refused = next(s for s in pooled.signals if s.signal == "refusals")
    assert refused.value == 2 and {c.engagement_id for c in refused.records} == {engagements[1].id}  # the longest

    listed = next(t for t in list_thresholds(session, workspace=owner.workspace) if t.signal == "refusals")
    assert (listed.label, listed.default_amber, listed.default_red) == ("Refused payments", 1, 2)
