"""The kinds registry: every kind is one entry, and what differs by kind is read from it."""

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.bundles.chronology import _row
from service.bundles.derive import Entry
from service.records.kinds import CHARTED_FAMILIES, CORRECTIONS, KINDS, Body, Family, Kind, KindName
from service.records.pages import KIND_FIELDS, record_facts

MACROS = Path(__file__).parents[2] / "web" / "templates" / "_macros.html"

# The family each kind's chronology row is classed with in bundle v2, as sealed bundles hold it.
BUNDLE_V2_FAMILIES = {
    "call": "interaction", "email": "interaction", "meeting": "interaction", "message": "interaction",
    "voicemail": "interaction", "note": "interaction", "meeting_scheduled": "interaction",
    "meeting_cancelled": "interaction", "no_show": "interaction", "report_sent": "work",
    "deliverable_delivered": "work", "lead_handed_over": "work", "invoice_issued": "money",
    "payment_received": "money", "payment_refused": "money", "engagement_opened": "contract",
    "terms_changed": "contract", "notice_given": "contract", "access_revoked": "contract",
    "engagement_ended": "contract", "dispute_step": "contract", "commitment": "contract",
    "commitment_kept": "contract", "commitment_broken": "contract", "amendment": "correction",
    "retraction": "correction", "checkpoint_shared": "ledger", "bundle_exported": "ledger",
}


def test_every_kind_name_has_one_entry():
    assert list(KINDS) == [k.value for k in KindName]
    assert CORRECTIONS == {KindName.amendment, KindName.retraction}


def test_every_icon_a_kind_names_is_drawn():
    drawn = set(re.findall(r'^  "(\w+)": "M', MACROS.read_text(), re.M))
    assert {k.icon for k in KINDS.values()} <= drawn
    assert KINDS["call"].icon == "phone" and KINDS["terms_changed"].icon == "contract"


def test_families_and_the_chart():
    assert {k.family for k in KINDS.values()} == set(Family)
    assert KINDS["meeting_scheduled"].family == Family.scheduling and KINDS["dispute_step"].family == Family.dispute
    # Every kind of activity between the parties is counted by the chart; corrections and the ledger's own not.
    assert set(Family) - set(CHARTED_FAMILIES) == {Family.correction, Family.ledger}


@pytest.mark.parametrize("name", [n for n in BUNDLE_V2_FAMILIES])
def test_the_chronology_classes_rows_as_bundle_v2_did(name):
    """A sealed chronology is rendered again and compared byte for byte: its row classes must not move."""
    at = datetime(2026, 2, 2, tzinfo=UTC)
    entry = Entry(index=1, kind=name, occurred_at=at, recorded_at=at, actor="user:1", leaf=b"", body=b"{}",
                  attachments=[], refs=[], body_sha256="0" * 64, data={"summary": "s"})
    row = _row(entry, {}, {})
    assert (row.family, row.label, row.notes) == (BUNDLE_V2_FAMILIES[name], KINDS[name].label, [])


def test_a_field_the_schema_does_not_have_is_refused():
    with pytest.raises(ValueError, match="colour is not a field of Body"):
        Kind(KindName.note, "Note", Family.interaction, Body, timeline=("colour",))


def test_timeline_fields_come_from_the_kind():
    assert KINDS["call"].timeline == ("duration_minutes", "outcome", "awaits_reply")
    assert KINDS["invoice_issued"].timeline == ("invoice_number", "due_on", "period_from", "period_to")
    assert KINDS["amendment"].timeline == () and KINDS["engagement_opened"].timeline == ()
    assert record_facts("call", {"outcome": "no answer", "awaits_reply": True, "summary": "x"}, "GBP") == [
        ("Outcome", "no answer"), ("Awaits the client's reply", "yes")]
    assert record_facts("lead_handed_over", {"lead_name": "Calder", "value_minor": 120000}, "GBP") == [
        ("Lead name", "Calder"), ("Value", "£1,200.00")]


def test_form_fields_come_from_the_schema():
    fields = {f.key: f for f in KIND_FIELDS["invoice_issued"]}
    assert (fields["amount_minor"].name, fields["amount_minor"].control) == ("amount", "amount")
    assert fields["due_on"].control == "date" and fields["currency"].control == "currency"
    notice = {f.key: f for f in KIND_FIELDS["notice_given"]}
    assert notice["form"].options == ("written", "oral") and notice["form"].required
    assert {f.key: f.label for f in KIND_FIELDS["report_sent"]}["meetings_set"] == "Meetings set for the client"
    assert KINDS["payment_received"].ref_label == "invoice"
