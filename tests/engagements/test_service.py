"""The engagement service and the engagement page's context, called directly on the real database."""

from datetime import UTC, date, datetime, timedelta

import pytest

from service.engagements.context import (
    CHART_WEEKS,
    Correction,
    activity_chart,
    engagement_page,
    facts_by_engagement,
    timeline_filters,
)
from service.engagements.models import EngagementCreate
from service.engagements.service import create_engagement, get_engagement, list_engagements, to_public
from service.errors import NotFound
from service.evidence.service import register_evidence
from service.records.service import get_record
from tests import factories


@pytest.fixture
def engagement(session, owner):
    return factories.make_engagement(session, member=owner)


def test_creating_an_engagement_opens_its_ledger_with_the_terms(session, owner):
    client = factories.make_client(session, member=owner, name="Halden")
    engagement = create_engagement(session, workspace=owner.workspace, actor=owner.actor, data=EngagementCreate(
        client_id=client.id, title="  Outbound sales  ", started_on=date(2026, 1, 5), notice_days=30,
        payment_terms_days=14, rate_minor=45000, currency="GBP"))
    assert engagement.title == "Outbound sales" and engagement.tree_size == 1 and engagement.root_hash
    opened = get_record(session, engagement=engagement, index=0)
    assert opened.kind == "engagement_opened" and opened.occurred_at.date() == date(2026, 1, 5)
    assert to_public(engagement, client).client_name == "Halden"


def test_an_engagement_starting_ahead_opens_today_not_in_the_future(session, owner):
    ahead = datetime.now(UTC).date() + timedelta(days=30)
    engagement = factories.make_engagement(session, member=owner, started_on=ahead)
    assert get_record(session, engagement=engagement, index=0).occurred_at.date() <= datetime.now(UTC).date()


def test_another_workspaces_client_or_engagement_is_not_found(session, owner, engagement):
    stranger = factories.make_member(session, workspace_name="Elsewhere")
    with pytest.raises(NotFound):
        get_engagement(session, workspace=stranger.workspace, engagement_id=engagement.id)
    with pytest.raises(NotFound):
        factories.make_engagement(session, member=stranger, client=factories.make_client(session, member=owner))
    assert get_engagement(session, workspace=owner.workspace, engagement_id=engagement.id).id == engagement.id


def test_engagements_are_listed_by_latest_activity_and_filtered_by_client(session, owner, engagement):
    other = factories.make_engagement(session, member=owner, title="Second")
    factories.append(session, member=owner, engagement=engagement)
    listed = list_engagements(session, workspace=owner.workspace)
    assert [e.id for e, _ in listed] == [engagement.id, other.id]
    assert [e.id for e, _ in list_engagements(session, workspace=owner.workspace, client_id=other.client_id)] == [
        other.id]
    facts = facts_by_engagement(session, owner, listed)
    assert set(facts) == {engagement.id, other.id}


def test_the_whole_page_fills_heading_panels_timeline_and_form(session, owner, engagement):
    factories.append(session, member=owner, engagement=engagement, summary="Kick-off")
    page = engagement_page(session, owner.workspace, engagement, whole=True)
    assert page.client.id == engagement.client_id and page.status == "active" and page.key_id
    assert page.chart["bars"] and page.checkpoint is None
    assert [r.body["summary"] for _, records in page.days for r in records][-1] == "Kick-off"
    assert page.form == {"kind": "call", "attachments": []} and page.errors == {}
    context = page.context()
    assert context["ref_kind"].name == "call" and all(not k.system for k in context["form_kinds"])


def test_a_fragment_fills_only_what_its_block_reads(session, owner, engagement):
    ledger = engagement_page(session, owner.workspace, engagement, ledger_panel=True, oob=True)
    assert ledger.client is not None and ledger.oob and ledger.days == [] and ledger.chart is None
    timeline = engagement_page(session, owner.workspace, engagement, timeline=timeline_filters({"q": "opened"}))
    assert timeline.client is None and [r.kind for _, records in timeline.days for r in records] == [
        "engagement_opened"]
    record = engagement_page(session, owner.workspace, engagement, record=0, correction=Correction(0))
    assert record.r.index == 0 and record.correction.index == 0 and record.days == []


def test_the_quick_add_form_opens_on_a_kind_a_person_may_add(session, owner, engagement):
    invoice = factories.append(session, member=owner, engagement=engagement, kind="invoice_issued",
                               invoice_number="INV-1", amount_minor=1000, currency="GBP")
    for asked in ("engagement_opened", "amendment", "no such kind", ""):
        assert engagement_page(session, owner.workspace, engagement, add=asked).form["kind"] == "call"
    paying = engagement_page(session, owner.workspace, engagement, add="payment_received")
    assert [idx for idx, _, _ in paying.ref_candidates] == [invoice.idx]
    typed = engagement_page(session, owner.workspace, engagement, form={"kind": "email", "summary": "Hi"},
                            errors={"summary": "too short"}, attachments=["0" * 64])
    assert typed.form == {"kind": "email", "summary": "Hi", "attachments": ["0" * 64]}
    assert typed.errors == {"summary": "too short"} and typed.form_files == {}


def test_the_timeline_names_its_files_and_continues_from_a_cursor(session, owner, engagement):
    sha = "a" * 64
    register_evidence(session, workspace=owner.workspace, sha256=sha, size=3, media_type="text/plain",
                      filename="notes.txt")
    for n in range(55):
        factories.append(session, member=owner, engagement=engagement, attachments=[sha] if n == 0 else None,
                         occurred_at=datetime(2026, 2, 2, 10, tzinfo=UTC) + timedelta(minutes=n))
    first = engagement_page(session, owner.workspace, engagement, timeline=timeline_filters({}))
    assert sum(len(records) for _, records in first.days) == 50 and first.next_cursor
    rest = engagement_page(session, owner.workspace, engagement, timeline=timeline_filters({}),
                           cursor=first.next_cursor)
    assert sum(len(records) for _, records in rest.days) == 6 and rest.next_cursor is None
    assert rest.previous_day == first.days[-1][0]
    assert set(first.files | rest.files) == {sha}


def test_timeline_filters_keep_known_kinds_and_bound_the_search():
    filters = timeline_filters({"kind": "telegram", "q": "x" * 500, "from": "2026-01-01"})
    assert filters == {"kind": [], "q": "x" * 200, "from": "2026-01-01", "to": ""}


def test_the_activity_chart_stacks_families_and_keeps_the_latest_two_years():
    weeks = [(date(2024, 1, 1) + timedelta(weeks=n), {"interaction": n % 3, "money": 1}) for n in range(120)]
    chart = activity_chart(weeks)
    assert len(chart["bars"]) == CHART_WEEKS and chart["cut"] and chart["first"] == weeks[-CHART_WEEKS][0]
    assert chart["peak"] == 3 and chart["totals"]["money"] == CHART_WEEKS
    tallest = next(b for b in chart["bars"] if sum(s["count"] for s in b["stack"]) == 3)
    assert tallest["stack"][-1]["y"] == 0
    empty = activity_chart([])
    assert (empty["bars"], empty["peak"], empty["first"], empty["cut"]) == ([], 0, None, False)
