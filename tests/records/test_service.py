"""Appending records: what the kinds registry declares (summary, status, search) is what append_record does."""

import json
from datetime import UTC, datetime

import pytest

from service.engagements.models import Status
from service.errors import Invalid
from service.records.service import list_records
from tests import factories


@pytest.fixture
def member(session):
    return factories.make_member(session)


@pytest.fixture
def engagement(session, member):
    return factories.make_engagement(session, member=member)


def add(session, member, engagement, kind, **body):
    return factories.append(session, member=member, engagement=engagement, kind=kind, **body)


def summary(record) -> str:
    return json.loads(record.body)["summary"]


def test_a_record_without_a_summary_gets_its_kinds_default(session, member, engagement):
    opened = list_records(session, engagement=engagement)[0][0]
    assert summary(opened) == "Engagement opened: Outbound sales"
    invoice = add(session, member, engagement, "invoice_issued", summary=None, invoice_number="INV-9",
                  amount_minor=100, currency="GBP")
    assert summary(invoice) == "Invoice INV-9 issued"
    paid = add(session, member, engagement, "payment_received", summary=None, refs=[invoice.idx], amount_minor=100,
               currency="GBP")
    assert summary(paid) == f"Payment received (record {invoice.idx})"
    call = add(session, member, engagement, "call", summary=None)
    retraction = add(session, member, engagement, "retraction", summary=None, refs=[call.idx], reason="wrong day")
    assert summary(retraction) == f"Retraction of record {call.idx}: wrong day"
    assert summary(add(session, member, engagement, "note", summary=None)) == "Note"


def test_the_engagements_status_follows_the_kinds_that_set_it(session, member, engagement):
    assert engagement.status == Status.active
    notice = add(session, member, engagement, "notice_given", given_by="client", form="written")
    assert engagement.status == Status.notice
    ended = add(session, member, engagement, "engagement_ended", ended_by="client")
    assert engagement.status == Status.ended
    add(session, member, engagement, "retraction", refs=[ended.idx], reason="it did not end")
    assert engagement.status == Status.notice
    add(session, member, engagement, "amendment", refs=[notice.idx], reason="oral",
        body={"summary": "Notice", "given_by": "client", "form": "oral"})
    assert engagement.status == Status.notice
    add(session, member, engagement, "retraction", refs=[notice.idx], reason="no notice was given")
    assert engagement.status == Status.active


def search(session, engagement, q: str) -> list[int]:
    return [r.idx for r in list_records(session, engagement=engagement, q=q)[0]]


def test_search_reads_the_fields_each_kind_names(session, member, engagement):
    lead = add(session, member, engagement, "lead_handed_over", summary="A lead", lead_name="Calder Foods",
               company="Calder Group")
    email = add(session, member, engagement, "email", summary="Mail", subject="Forecast for Q3")
    call = add(session, member, engagement, "call", summary="Rang", outcome="voicemail left")
    assert search(session, engagement, "calder group") == [lead.idx]
    assert search(session, engagement, "q3") == [email.idx]
    # A call's outcome is shown on the timeline but is not among what search reads.
    assert search(session, engagement, "voicemail left") == []
    amendment = add(session, member, engagement, "amendment", refs=[email.idx], reason="wrong quarter",
                    body={"summary": "Mail", "direction": "out", "subject": "Forecast for Q4"})
    assert search(session, engagement, "q4") == [amendment.idx]
    assert search(session, engagement, "wrong quarter") == [amendment.idx]
    assert call.search_text == "rang"


def test_append_still_refuses_what_a_kind_does_not_allow(session, member, engagement):
    with pytest.raises(Invalid, match="payment_received needs exactly 1 refs"):
        add(session, member, engagement, "payment_received", amount_minor=1, currency="GBP",
            occurred_at=datetime(2026, 2, 3, tzinfo=UTC))


def test_a_letter_sent_is_one_entry_of_the_registry(session, member, engagement):
    """issue 14's `letter_sent`: declared in records/kinds.py alone, and every part of Docket knows it."""
    from service.bundles.chronology import _row
    from service.bundles.derive import Entry
    from service.records.kinds import KINDS, Family
    from service.records.pages import KIND_FIELDS, record_facts
    from tests.bundles.helpers import store_file

    letter = {"letter": "letter before claim", "recipient": "Tom Reed, Halden Analytics Ltd", "method": "post",
              "reply_by": "2026-07-15"}
    with pytest.raises(Invalid, match="a letter sent record needs its file attached"):
        add(session, member, engagement, "letter_sent", summary=None, **letter)
    pdf = store_file(session, member=member, content=b"%PDF-1.4 letter", filename="Letter before claim.pdf")
    sent = factories.append(session, member=member, engagement=engagement, kind="letter_sent", attachments=[pdf],
                            summary=None, **letter)
    body = json.loads(sent.body)
    assert body["summary"] == "Letter sent: letter before claim to Tom Reed, Halden Analytics Ltd"
    assert body["direction"] == "out"
    assert search(session, engagement, "halden analytics") == [sent.idx]
    assert engagement.status == Status.active
    kind = KINDS["letter_sent"]
    assert (kind.family, kind.icon, kind.label) == (Family.dispute, "mail", "Letter sent")
    assert record_facts("letter_sent", body, "GBP") == [
        ("Letter", "letter before claim"), ("Recipient", "Tom Reed, Halden Analytics Ltd"), ("Sent by", "post"),
        ("Reply due by", "2026-07-15")]
    fields = {f.key: f for f in KIND_FIELDS["letter_sent"]}
    assert fields["letter"].control == "select" and "request to preserve and return data" in fields["letter"].options
    assert (fields["method"].label, fields["method"].default) == ("Sent by", "post")
    assert fields["reply_by"].control == "date" and not fields["reply_by"].required
    entry = Entry(index=sent.idx, kind="letter_sent", occurred_at=sent.occurred_at, recorded_at=sent.recorded_at,
                  actor=sent.actor, leaf=sent.leaf, body=sent.body, attachments=sent.attachments, refs=[],
                  body_sha256=sent.body_sha256, data=body, current=body)
    row = _row(entry, {}, {})
    assert row.family == "contract" and row.notes == [
        "Letter: letter before claim", "Recipient: Tom Reed, Halden Analytics Ltd", "Sent by: post",
        "Reply due by: 2026-07-15"]
