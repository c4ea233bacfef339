"""The core of a user's day in a real Chromium: sign in with a one-time link, create a client and an engagement,
add a record, filter the timeline (the URL follows), scroll to load the next page."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from service.db import new_session
from service.engagements.models import Engagement
from tests import factories
from tests.browser.signin import open_link

pytestmark = pytest.mark.browser


def test_sign_in_create_and_record(page, owner_link, output_dir):
    _, link = owner_link
    open_link(page, link)
    expect(page.get_by_role("heading", name="Engagements")).to_be_visible()

    page.goto("/clients/new")
    page.get_by_label("Name", exact=True).fill("Halden Analytics Ltd")
    page.get_by_role("button", name="Create client").click()
    expect(page.get_by_role("heading", name="Halden Analytics Ltd")).to_be_visible()

    page.goto("/engagements/new")
    page.get_by_label("Client").select_option(label="Halden Analytics Ltd")
    page.get_by_label("Title").fill("Outbound sales, UK mid-market")
    page.get_by_label("Started on").fill("2026-01-05")
    page.get_by_label("Rate").fill("450.00")
    page.get_by_role("button", name="Open engagement").click()
    expect(page.get_by_role("heading", name="Outbound sales, UK mid-market")).to_be_visible()
    expect(page.locator("#timeline")).to_contain_text("Engagement opened")

    form = page.locator("#record_form")
    form.get_by_label("Kind").select_option("call")
    form.get_by_label("When (UTC)").fill("2026-02-02T10:30")
    form.get_by_label("Summary").fill("Called Tom about the Q2 pipeline review")
    form.get_by_role("button", name="Append").click()
    expect(page.locator("#timeline")).to_contain_text("Called Tom about the Q2 pipeline review")
    page.screenshot(path=str(output_dir / "engagement.png"), full_page=True)


def test_filter_and_scroll(page, owner_link, engine):
    member, link = owner_link
    with new_session(engine, write=True) as session:
        engagement = factories.make_engagement(session, member=member)
        start = datetime(2026, 2, 2, 9, tzinfo=UTC)
        for n in range(60):
            factories.append(session, member=member, engagement=engagement, kind="email" if n % 3 else "call",
                             occurred_at=start + timedelta(hours=n), summary=f"Contact number {n:02d}")
        engagement_id = engagement.id
    open_link(page, link)
    page.goto(f"/engagements/{engagement_id}")
    records = page.locator("#timeline article.record")
    expect(records).to_have_count(50)
    records.last.scroll_into_view_if_needed()
    expect(records).to_have_count(61)
    expect(page.locator("#timeline")).to_contain_text("Contact number 59")

    page.locator("form.filters").get_by_label("Kind").select_option("call")
    expect(page).to_have_url(f"{page.url.split('?')[0]}?kind=call&from=&to=&q=")
    expect(records).to_have_count(20)
    with new_session(engine) as session:
        assert session.get(Engagement, engagement_id).tree_size == 61
