"""The facts page, the printable statement, and the settings page for thresholds and rates."""

from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from service.facts.models import ReferenceRate, SignalThreshold
from tests import factories

HX = {"HX-Request": "true"}


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


@pytest.fixture
def engagement(session, owner):
    engagement = factories.make_engagement(session, member=owner, started_on=date(2026, 1, 5),
                                           title="Sales <b>bold</b>", trial_ends_on=date(2026, 1, 20))
    add = lambda kind, day, **body: factories.append(  # noqa: E731
        session, member=owner, engagement=engagement, kind=kind, occurred_at=at(day), **body).idx
    inv = add("invoice_issued", "2026-02-01", invoice_number="<script>alert(1)</script>", amount_minor=50_000,
              currency="GBP")
    add("payment_refused", "2026-02-20", refs=[inv], reason="<script>alert(2)</script>")
    add("commitment", "2026-02-02", promised_by="client", promise="<img src=x onerror=alert(3)>",
        due_on="2026-02-10")
    add("report_sent", "2026-02-06", summary="<script>alert(4)</script>")
    add("email", "2026-02-07", direction="out", subject="Quote")
    add("email", "2026-02-09", direction="in")
    return engagement


def test_the_facts_page_shows_facts_signals_and_statement_escaped(browser_session, engagement):
    page = browser_session.get(f"/engagements/{engagement.id}/facts?as_of=2026-03-01")
    assert page.status_code == 200, page.text
    html = page.text
    for section in ('id="signals"', 'id="notice"', 'id="trial"', 'id="work"', 'id="money"', 'id="commitments"'):
        assert section in html
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(3)&gt;" in html
    assert "Sales &lt;b&gt;bold&lt;/b&gt;" in html
    assert f'href="/engagements/{engagement.id}/records/1"' in html
    assert "estimates, not legal advice" in html
    statement = html[html.index('<ol class="statement">'):]
    assert '<li value="1" id="fact-1">' in statement and "Invoice &lt;script&gt;alert(1)&lt;/script&gt;" in statement
    # The response time chart is inline SVG drawn by the server: 48 h from the email out to the reply.
    assert "<svg" in html and "<title>Record #6: 48 h</title>" in html


def test_the_engagement_page_asks_for_its_facts_panel_after_loading(browser_session, engagement):
    page = browser_session.get(f"/engagements/{engagement.id}").text
    assert f'hx-get="/engagements/{engagement.id}/facts/panel" hx-trigger="load"' in page
    panel = browser_session.get(f"/engagements/{engagement.id}/facts/panel", headers=HX)
    assert panel.status_code == 200 and panel.text.lstrip().startswith('<section id="facts_panel"')
    # The invoice fell due in March and was refused: money overdue is flagged red and links to its facts.
    assert f'<a class="level red" href="/engagements/{engagement.id}/facts#money">£500.00 overdue</a>' in panel.text
    assert "£500.00</strong> outstanding" in panel.text and "<script>alert" not in panel.text
    # Without JavaScript the panel is the facts page.
    plain = browser_session.get(f"/engagements/{engagement.id}/facts/panel", follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"] == f"/engagements/{engagement.id}/facts"


def test_the_statement_stands_alone(browser_session, engagement):
    response = browser_session.get(f"/engagements/{engagement.id}/facts/statement?as_of=2026-03-01")
    assert response.status_code == 200
    assert "style-src 'unsafe-inline'" in response.headers["content-security-policy"]
    assert "script-src" not in response.headers["content-security-policy"]
    html = response.text
    assert html.startswith("<!doctype html>") and '<ol class="statement">' in html
    assert "<script>" not in html and "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert '<li value="1" id="fact-1">' in html


def test_another_workspace_gets_404(app, session, engagement):
    stranger = factories.make_member(session, workspace_name="Other Co")
    with TestClient(app) as client:
        factories.sign_in(client, session, user=stranger.user)
        assert client.get(f"/engagements/{engagement.id}/facts").status_code == 404
        assert client.get(f"/engagements/{engagement.id}/facts/statement").status_code == 404


def test_settings_forms_carry_the_csrf_token(browser_session):
    html = browser_session.get("/settings/facts").text
    assert f'name="csrf_token" value="{browser_session.csrf}"' in html
    assert 'action="/settings/facts/thresholds"' in html and 'action="/settings/facts/rates"' in html
    assert 'name="no_shows.amber" value="1"' in html and "Bank of England Bank Rate" in html


def _thresholds(csrf, **changes):
    from service.facts.signals import SIGNALS
    form = {f"{name}.{level}": str(getattr(rule, level)) for name, rule in SIGNALS.items()
            for level in ("amber", "red")}
    return {"csrf_token": csrf, **form, **changes}


def test_saving_thresholds(browser_session, session):
    response = browser_session.post("/settings/facts/thresholds",
                                    data=_thresholds(browser_session.csrf, **{"brick_wall.red": "8"}),
                                    follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/settings/facts"
    assert session.get(SignalThreshold, (browser_session_workspace(session, browser_session), "brick_wall")).red == 8


def browser_session_workspace(session, client):
    from service.accounts.service import session_principal
    return session_principal(session, token=client.cookies["docket_session"]).workspace.id


def test_bad_thresholds_show_errors_next_to_the_fields_and_store_nothing(browser_session, session):
    response = browser_session.post("/settings/facts/thresholds", headers=HX, data=_thresholds(
        browser_session.csrf, **{"no_shows.red": "0", "after_hours.amber": "many", "brick_wall.amber": "9",
                                 "late_cancellations.red": "²", "broken_commitments.red": "9" * 5000}))
    assert response.status_code == 422
    html = response.text
    assert html.lstrip().startswith('<form id="thresholds_form"')
    assert 'id="after_hours-amber-error">enter a whole number</span>' in html
    assert 'name="after_hours.amber" value="many" aria-invalid="true"' in html
    assert 'id="late_cancellations-red-error">enter a whole number' in html
    assert 'id="broken_commitments-red-error">enter a whole number' in html
    assert len(session.exec(select(SignalThreshold)).all()) == 0
    response = browser_session.post("/settings/facts/thresholds", headers=HX, data=_thresholds(
        browser_session.csrf, **{"brick_wall.amber": "9"}))
    assert response.status_code == 422
    assert 'id="brick_wall-red-error">must be at least amber (9)</span>' in response.text
    assert len(session.exec(select(SignalThreshold)).all()) == 0


def test_adding_a_rate_and_errors(browser_session, session):
    bad = browser_session.post("/settings/facts/rates", headers=HX, data={
        "csrf_token": browser_session.csrf, "series": "boe_base", "effective_on": "2026-02-05",
        "rate_percent": "3.755", "source": ""})
    assert bad.status_code == 422 and bad.text.lstrip().startswith('<form id="rate_form"')
    assert 'id="rate_percent-error">' in bad.text and 'id="source-error">' in bad.text
    assert len(session.exec(select(ReferenceRate)).all()) == 0
    ok = browser_session.post("/settings/facts/rates", data={
        "csrf_token": browser_session.csrf, "series": "boe_base", "effective_on": "2026-02-05",
        "rate_percent": "3.5", "source": "https://example.org/boe"}, follow_redirects=False)
    assert ok.status_code == 303
    row, = session.exec(select(ReferenceRate)).all()
    assert (row.series, row.effective_on, row.rate_bp) == ("boe_base", date(2026, 2, 5), 350)
    assert "https://example.org/boe" in browser_session.get("/settings/facts").text


def test_posts_without_csrf_or_by_a_viewer_are_refused(app, browser_session, session, owner):
    assert browser_session.post("/settings/facts/thresholds",
                                data=_thresholds("")).status_code == 403
    viewer = factories.make_member(session, role="viewer", workspace=owner.workspace)
    with TestClient(app) as client:
        csrf = factories.sign_in(client, session, user=viewer.user)
        assert client.post("/settings/facts/thresholds", data=_thresholds(csrf)).status_code == 403
        assert client.post("/settings/facts/rates", data={"csrf_token": csrf, "series": "boe_base",
                                                           "effective_on": "2026-02-05", "rate_percent": "3.5",
                                                           "source": "x"}).status_code == 403
        page = client.get("/settings/facts").text
        assert "Only an owner can change these." in page and 'action="/settings/facts/rates"' not in page
    assert len(session.exec(select(SignalThreshold)).all()) == 0 and len(session.exec(select(ReferenceRate)).all()) == 0


def test_a_signal_counting_many_records_links_the_first_and_points_to_the_json(browser_session, session, owner,
                                                                                engagement):
    for day in range(1, 16):
        factories.append(session, member=owner, engagement=engagement, kind="no_show",
                         occurred_at=at(f"2026-03-{day:02d}", 11), meeting_at=f"2026-03-{day:02d}T10:00:00Z",
                         party="client")
    session.commit()
    html = browser_session.get(f"/engagements/{engagement.id}/facts").text
    row = html[html.index("<strong>No-shows</strong>"):]
    row = row[:row.index("</tr>")]
    assert row.count('href="/engagements/') == 12
    assert f'and 3 more (<a href="/api/v1/engagements/{engagement.id}/facts">all in the JSON</a>)' in row
    client_html = browser_session.get(f"/clients/{engagement.client_id}").text
    assert f'<a href="/api/v1/clients/{engagement.client_id}/signals">all in the JSON</a>' in client_html
    facts = browser_session.get(f"/api/v1/engagements/{engagement.id}/facts").json()
    assert len(next(s for s in facts["signals"] if s["signal"] == "no_shows")["records"]) == 15


def test_the_facts_page_says_status_level_and_terms_in_words(browser_session, session, owner):
    engagement = factories.make_engagement(session, member=owner, notice_days=30, deliverables=["Handover pack"])
    factories.append(session, member=owner, engagement=engagement, kind="notice_given",
                     occurred_at=datetime(2026, 2, 2, tzinfo=UTC), given_by="client", form="oral")
    factories.append(session, member=owner, engagement=engagement, kind="access_revoked",
                     occurred_at=datetime(2026, 2, 3, tzinfo=UTC), system="CRM")
    html = browser_session.get(f"/engagements/{engagement.id}/facts?as_of=2026-03-10").text
    # The notice was cut 29 days short and its period is over: red, and ended, whatever the signals say.
    assert '<span class="status ended">ended</span> ·\n      <span class="level red">red</span>' in html
    assert "by the client, orally" in html and "the terms require written notice: <strong>not met</strong>" in html
    assert "access revoked by the client on 03 Feb 2026" in html and "29 days early" in html
    assert "<h3>Promised in the terms</h3>" in html and "<li>Handover pack</li>" in html
    assert "under United Kingdom law." in html
    for code in ("access_revoked", "jurisdiction uk", "given_by", "required_form"):
        assert code not in html
