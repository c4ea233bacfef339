"""The facts over the API: what a client of the API sees, who may change thresholds and rates, bad input."""

from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from service.facts.models import ReferenceRate, SignalThreshold
from tests import factories


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


@pytest.fixture
def engagement(session, api):
    member = api.member
    engagement = factories.make_engagement(session, member=member, started_on=date(2026, 1, 5), jurisdiction="uk",
                                           trial_ends_on=date(2026, 1, 31))
    inv = factories.append(session, member=member, engagement=engagement, kind="invoice_issued",
                           occurred_at=at("2026-02-01"), invoice_number="INV-1", amount_minor=1_000_000,
                           currency="GBP", due_on="2026-02-15")
    factories.append(session, member=member, engagement=engagement, kind="payment_refused",
                     occurred_at=at("2026-02-20"), refs=[inv.idx], reason="No value delivered")
    factories.append(session, member=member, engagement=engagement, kind="no_show", occurred_at=at("2026-02-21"),
                     meeting_at="2026-02-21T09:00:00Z", party="client")
    return engagement


def test_facts_carry_money_signals_and_statement_with_rules_and_refs(api, engagement):
    response = api.get(f"/api/v1/engagements/{engagement.id}/facts", params={"as_of": "2026-03-17"})
    assert response.status_code == 200, response.text
    facts = response.json()
    invoice, = facts["money"]["invoices"]
    # Due 15 Feb 2026: reference 31 Dec 2025, Bank Rate 3.75% -> 11.75%; 30 days late on 17 Mar.
    # 1,000,000 x 1175 x 30 / 3,650,000 = 9,657.53 -> 9,658
    assert (invoice["rate_bp"], invoice["days_late"], invoice["interest_minor"], invoice["compensation_minor"]) == (
        1175, 30, 9658, 10000)
    assert invoice["interest_parts"][0]["formula"] == "£10,000.00 x 11.75% x 30 days / 365 = £96.58"
    assert invoice["refused"] and "not legal advice" in invoice["basis"]
    no_shows = next(s for s in facts["signals"] if s["signal"] == "no_shows")
    assert (no_shows["value"], no_shows["level"], no_shows["amber"], no_shows["red"]) == (1, "amber", 1, 2)
    assert no_shows["rule"] and [r["index"] for r in no_shows["records"]] == [3]
    late = next(s for s in facts["signals"] if s["signal"] == "invoice_days_late")
    # 30 days late on average reaches the default red threshold (30), so the engagement is red.
    assert (late["value"], late["level"], facts["level"], facts["as_of"]) == (30, "red", "red", "2026-03-17")
    assert facts["statement"][0]["number"] == 1 and facts["statement"][0]["refs"][0]["index"] == 0
    assert any("Payment was refused" in line["text"] for line in facts["statement"])


def test_facts_of_another_workspace_answer_404(other_api, engagement):
    assert other_api.get(f"/api/v1/engagements/{engagement.id}/facts").status_code == 404
    assert other_api.get(f"/api/v1/clients/{engagement.client_id}/signals").status_code == 404


def test_a_bad_as_of_names_the_field(api, engagement):
    response = api.get(f"/api/v1/engagements/{engagement.id}/facts", params={"as_of": "2026-02-30"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "as_of"]


def test_client_signals(api, engagement):
    response = api.get(f"/api/v1/clients/{engagement.client_id}/signals", params={"as_of": "2026-03-17"})
    assert response.status_code == 200
    body = response.json()
    assert body["engagements"] == {str(engagement.id): "red"} and body["level"] == "red"
    assert [(m["currency"], m["balance_minor"]) for m in body["money"]] == [("GBP", 1_000_000)]


@pytest.fixture
def owner_session(browser_session):
    """The API as the signed-in owner: session cookie plus the CSRF header htmx sends."""
    browser_session.headers["X-CSRF-Token"] = browser_session.csrf
    return browser_session


def test_the_owner_adds_and_overrides_rates(owner_session, session):
    response = owner_session.post("/api/v1/reference-rates", json={
        "series": "boe_base", "effective_on": "2026-02-05", "rate_bp": 350, "source": "https://example.org/boe"})
    assert response.status_code == 201, response.text
    assert response.json() == {"series": "boe_base", "effective_on": "2026-02-05", "rate_bp": 350,
                               "rate_percent": "3.50%", "source": "https://example.org/boe", "origin": "workspace",
                               "overrides_shipped": False}
    rates = owner_session.get("/api/v1/reference-rates", params={"series": "boe_base"}).json()
    assert rates[-1]["effective_on"] == "2026-02-05" and rates[0]["origin"] == "shipped"
    assert {r["series"] for r in rates} == {"boe_base"}


@pytest.mark.parametrize(("payload", "loc"), [
    ({"series": "fed_funds", "effective_on": "2026-02-05", "rate_bp": 350, "source": "x"}, ["body", "series"]),
    ({"series": "boe_base", "effective_on": "yesterday", "rate_bp": 350, "source": "x"}, ["body", "effective_on"]),
    ({"series": "boe_base", "effective_on": "2026-02-05", "rate_bp": 3.5, "source": "x"}, ["body", "rate_bp"]),
    ({"series": "boe_base", "effective_on": "2026-02-05", "rate_bp": 350, "source": ""}, ["body", "source"]),
    ({"series": "boe_base", "effective_on": "2026-02-05", "rate_bp": 350, "source": "   "}, ["body", "source"]),
])
def test_bad_rates_name_the_field_and_store_nothing(owner_session, session, payload, loc):
    response = owner_session.post("/api/v1/reference-rates", json=payload)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc
    assert len(session.exec(select(ReferenceRate)).all()) == 0


def test_thresholds_round_trip_and_validation(owner_session, session):
    assert len(owner_session.get("/api/v1/signal-thresholds").json()) == 8
    response = owner_session.put("/api/v1/signal-thresholds", json={"no_shows": {"amber": 2, "red": 4}})
    assert response.status_code == 200, response.text
    no_shows = next(t for t in response.json() if t["signal"] == "no_shows")
    assert (no_shows["amber"], no_shows["red"], no_shows["default_amber"]) == (2, 4, 1)
    bad = owner_session.put("/api/v1/signal-thresholds", json={"brick_wall": {"amber": 1, "red": 9},
                                                               "no_shows": {"amber": 5, "red": 3}})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "no_shows", "red"]
    unknown = owner_session.put("/api/v1/signal-thresholds", json={"mood": {"amber": 1, "red": 2}})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "mood"]
    rows = {t.signal: (t.amber, t.red) for t in session.exec(select(SignalThreshold))}
    assert rows == {"no_shows": (2, 4)}


def test_tokens_and_viewers_cannot_change_thresholds_or_rates(app, api, session):
    viewer = factories.make_member(session, role="viewer", workspace=api.member.workspace)
    _, read_token = factories.make_token(session, member=api.member, scope="read")
    rate = {"series": "boe_base", "effective_on": "2026-02-05", "rate_bp": 350, "source": "x"}
    with TestClient(app, headers={"Authorization": f"Bearer {read_token}"}) as reader, TestClient(app) as page:
        csrf = factories.sign_in(page, session, user=viewer.user)
        page.headers["X-CSRF-Token"] = csrf
        for client in (api, reader, page):
            assert client.put("/api/v1/signal-thresholds",
                              json={"no_shows": {"amber": 3, "red": 4}}).status_code == 403
            assert client.post("/api/v1/reference-rates", json=rate).status_code == 403
            # Reading is open to every member.
            assert client.get("/api/v1/signal-thresholds").status_code == 200
    assert len(session.exec(select(SignalThreshold)).all()) == 0 and len(session.exec(select(ReferenceRate)).all()) == 0
