"""The dashboard and the new-engagement form: money outstanding and flags, CSRF, viewers."""

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from tests import factories

HX = {"HX-Request": "true"}


@pytest.fixture
def engagement(session, owner):
    return factories.make_engagement(session, member=owner)


def invoice(session, owner, engagement, number, amount, currency="GBP"):
    return factories.append(session, member=owner, engagement=engagement, kind="invoice_issued",
                            occurred_at=datetime(2026, 2, 2, tzinfo=UTC), invoice_number=number,
                            amount_minor=amount, currency=currency)


def test_dashboard_money_counts_current_versions_ignores_retracted_and_flags_overdue(
        app, browser_session, session, owner, engagement):
    first = invoice(session, owner, engagement, "INV-1", 100_000)
    second = invoice(session, owner, engagement, "INV-2", 50_000)
    wrong = invoice(session, owner, engagement, "INV-3", 70_000)
    factories.append(session, member=owner, engagement=engagement, kind="payment_received", refs=[first.idx],
                     amount_minor=40_000, currency="GBP")
    # INV-2 was really 60,000; INV-3 was never sent.
    factories.append(session, member=owner, engagement=engagement, kind="amendment", refs=[second.idx],
                     reason="typo", body={"invoice_number": "INV-2", "amount_minor": 60_000, "currency": "GBP"})
    factories.append(session, member=owner, engagement=engagement, kind="retraction", refs=[wrong.idx],
                     reason="never sent")
    factories.make_engagement(session, member=owner, title="Quiet one")
    html = browser_session.get("/").text
    row = html[html.index("Outbound sales"):html.index("Quiet one")]
    assert '<td class="money owed">£1,200.00</td>' in row
    # Issued in February on 30-day terms: overdue now, and flagged red with a link to the money facts.
    assert f'href="/engagements/{engagement.id}/facts#money">£1,200.00 overdue</a>' in row
    quiet = html[html.index("Quiet one"):]
    assert '<span class="muted">—</span>' in quiet and '<span class="level ok">ok</span>' in quiet
    stranger = factories.make_member(session, workspace_name="Someone else")
    with TestClient(app) as client:
        factories.sign_in(client, session, user=stranger.user)
        assert "Outbound sales" not in client.get("/").text


def test_dashboard_lists_client_status_activity_and_money(browser_session, session, owner, engagement):
    invoice(session, owner, engagement, "INV-1", 123_456)
    html = browser_session.get("/").text
    assert "Outbound sales" in html and "Northwind Ltd" in html and "02 Feb 2026" in html
    assert '<span class="status active">active</span>' in html
    assert "£1,234.56" in html and 'class="money owed"' in html
    client_page = browser_session.get(f"/clients/{engagement.client_id}").text
    assert "Outbound sales" in client_page and "£1,234.56" in client_page
    # The client's signals across its engagements, each with its rule and the records it counted.
    assert "Walk-away signals across engagements" in client_page and "No-shows" in client_page
    assert "£1,234.56 invoiced, £0.00 paid, <strong>£1,234.56</strong> outstanding" in client_page


def test_new_engagement_form_errors_come_back_in_place(browser_session, engagement):
    response = browser_session.post("/engagements", headers=HX, data={
        "csrf_token": browser_session.csrf, "client_id": str(engagement.client_id), "title": "",
        "started_on": "2026-01-05", "rate": "lots"})
    assert response.status_code == 422
    assert response.text.lstrip().startswith('<form id="engagement_form"')
    assert 'id="rate-error"' in response.text and 'id="title-error"' in response.text
    for rate, client_id in (("inf", str(engagement.client_id)), ("1e400", str(engagement.client_id)),
                            ("450", "²"), ("450", "9" * 5000)):
        hostile = browser_session.post("/engagements", headers=HX, data={
            "csrf_token": browser_session.csrf, "client_id": client_id, "title": "X", "started_on": "2026-01-05",
            "rate": rate, "currency": "GBP"})
        assert hostile.status_code == 422, (rate, client_id)
    created = browser_session.post("/engagements", data={
        "csrf_token": browser_session.csrf, "client_id": str(engagement.client_id), "title": "Second",
        "started_on": "2026-01-05", "rate": "450.00", "currency": "GBP"}, follow_redirects=False)
    assert created.status_code == 303, created.text


@pytest.mark.parametrize("path", ["/engagements", "/clients", "/workspace", "/logout", "/settings/tokens",
                                  "/settings/members", "/settings/password"])
def test_page_writes_refuse_a_missing_csrf_token(browser_session, path):
    response = browser_session.post(path, data={"title": "x", "name": "x", "workspace_id": "1", "scope": "read",
                                                "email": "a@example.com", "role": "viewer"},
                                    follow_redirects=False)
    assert response.status_code == 403, (path, response.status_code)


def test_viewer_sees_no_write_controls_on_dashboard_and_clients(app, session, owner, engagement):
    viewer = factories.make_member(session, role="viewer", workspace=owner.workspace)
    with TestClient(app) as client:
        factories.sign_in(client, session, user=viewer.user)
        for path in ("/", "/clients", f"/clients/{engagement.client_id}"):
            html = client.get(path).text
            assert "New engagement" not in html and "New client" not in html
        assert client.get("/engagements/new").status_code == 403
        response = client.post("/engagements", data={"csrf_token": client.csrf, "title": "x"},
                               follow_redirects=False)
        assert response.status_code == 403


def test_the_dashboard_reads_the_workspace_facts_settings_once_however_many_engagements(
        browser_session, session, owner, engine):
    from sqlalchemy import event

    for n in range(3):
        factories.make_engagement(session, member=owner, title=f"Engagement {n}")
    session.commit()
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    browser_session.get("/")  # computes and caches
    event.listen(engine, "before_cursor_execute", seen)
    try:
        html = browser_session.get("/").text
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert html.count('href="/engagements/') >= 3
    assert sum("FROM reference_rate" in s for s in statements) == 1
    assert sum("FROM signal_threshold" in s for s in statements) == 1


def test_status_follows_the_notice_period_everywhere_it_is_shown(api, browser_session, session, owner):
    running = factories.make_engagement(session, member=owner, title="Running notice", notice_days=3650)
    over = factories.make_engagement(session, member=owner, title="Notice over", notice_days=30)
    for engagement in (running, over):
        factories.append(session, member=owner, engagement=engagement, kind="notice_given",
                         occurred_at=datetime(2026, 2, 2, tzinfo=UTC), given_by="client", form="written")
    # Notice given on 2 Feb 2026: 30 days are long over, ten years are not.
    html = browser_session.get("/").text
    row = html[html.index("Notice over"):]
    assert '<span class="status ended">ended</span>' in row[:row.index("</tr>")]
    row = html[html.index("Running notice"):]
    assert '<span class="status notice">notice</span>' in row[:row.index("</tr>")]
    page = browser_session.get(f"/engagements/{over.id}").text
    assert '<span class="status ended">ended</span>' in page
    assert api.get(f"/api/v1/engagements/{over.id}").json()["status"] == "ended"
    assert {e["title"]: e["status"] for e in api.get("/api/v1/engagements").json()} == {
        "Running notice": "notice", "Notice over": "ended"}


def test_the_terms_name_the_law_in_words(browser_session, session, owner):
    engagement = factories.make_engagement(session, member=owner, jurisdiction="us-ny")
    html = browser_session.get(f"/engagements/{engagement.id}").text
    assert "<dt>Jurisdiction</dt><dd>New York State, United States</dd>" in html
    form = browser_session.get("/engagements/new").text
    assert '<option value="uk">United Kingdom</option>' in form or '<option value="uk" selected>United Kingdom' in form
