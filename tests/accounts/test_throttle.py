"""Brute force: failed passwords (per account and per address), login links and API tokens (per address) are
throttled with 429 and Retry-After; once throttled, even the right secret waits."""

import pytest
from fastapi.testclient import TestClient

from service.accounts.service import create_login_link, redeem_login_link
from service.errors import Unauthorized
from tests import factories

PASSWORD = "correct horse battery"


def _client(app, address: str) -> TestClient:
    return TestClient(app, client=(address, 50000))


def _sign_in(client: TestClient, email: str, password: str):
    form = client.get("/login")
    csrf = form.text.split('name="csrf_token" value="')[1].split('"')[0]
    return client.post("/login", data={"csrf_token": csrf, "email": email, "password": password},
                       follow_redirects=False)


def test_five_wrong_passwords_for_one_account_make_even_the_right_one_wait(app, session):
    member = factories.make_member(session, password=PASSWORD)
    bystander = factories.make_member(session, password=PASSWORD)
    for n in range(5):  # from five addresses: the account limit does not care where guesses come from
        with _client(app, f"198.51.100.{n}") as client:
            assert _sign_in(client, member.user.email, "wrong guess").status_code == 401
    with _client(app, "198.51.100.200") as client:
        refused = _sign_in(client, member.user.email.upper(), PASSWORD)
        assert refused.status_code == 429
        assert 890 <= int(refused.headers["retry-after"]) <= 900
        assert "Too many failed sign-in attempts" in refused.text and "Wait 15 minutes and try again." in refused.text
        assert "docket_session" not in client.cookies
        # Someone else's account, from the same address, is not held up.
        assert _sign_in(client, bystander.user.email, PASSWORD).status_code == 303


def test_only_failures_count_toward_the_account_limit(app, session):
    member = factories.make_member(session, password=PASSWORD)
    with _client(app, "198.51.100.7") as client:
        for _ in range(6):
            assert _sign_in(client, member.user.email, PASSWORD).status_code == 303
        for _ in range(4):
            assert _sign_in(client, member.user.email, "wrong guess").status_code == 401
        assert _sign_in(client, member.user.email, PASSWORD).status_code == 303


def test_twenty_failures_from_one_address_hold_up_every_account_from_it(app, session):
    member = factories.make_member(session, password=PASSWORD)
    with _client(app, "203.0.113.9") as guesser:
        for n in range(20):  # a different made-up account each time, so that only the address limit counts
            assert _sign_in(guesser, f"nobody{n}@example.com", "wrong guess").status_code == 401
        refused = _sign_in(guesser, member.user.email, PASSWORD)
        assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
        assert "Wait" in refused.text and ("seconds" in refused.text or "1 minute" in refused.text)
    with _client(app, "203.0.113.10") as elsewhere:
        assert _sign_in(elsewhere, member.user.email, PASSWORD).status_code == 303


def test_unknown_login_links_from_one_address_are_throttled_and_a_good_link_then_waits_unused(app, session):
    member = factories.make_member(session)
    token = create_login_link(session, user=member.user)
    session.commit()
    with _client(app, "203.0.113.20") as guesser:
        for n in range(20):
            refused = guesser.get(f"/login/link/made-up-{n}")
            assert refused.status_code == 404 and "not one Docket made" in refused.text
        throttled = factories.open_link(guesser, token)
        assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1
        assert "login links opened from this address" in throttled.text and "Wait" in throttled.text
    with _client(app, "203.0.113.21") as owner:
        assert factories.open_link(owner, token).status_code == 303
    with pytest.raises(Unauthorized):
        redeem_login_link(session, token=token)


def test_unknown_api_tokens_from_one_address_are_throttled_and_a_good_token_then_waits(app, session, owner):
    _, good = factories.make_token(session, member=owner, scope="read")
    with _client(app, "203.0.113.30") as guesser:
        for n in range(20):
            response = guesser.get("/api/v1/me", headers={"Authorization": f"Bearer dk_made_up_{n}"})
            assert response.status_code == 401
        throttled = guesser.get("/api/v1/me", headers={"Authorization": f"Bearer {good}"})
        assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1
        assert "unknown or revoked API token" in throttled.json()["detail"]
    with _client(app, "203.0.113.31") as other:
        assert other.get("/api/v1/me", headers={"Authorization": f"Bearer {good}"}).status_code == 200


def test_good_tokens_never_count(app, session, owner):
    _, good = factories.make_token(session, member=owner, scope="read")
    with _client(app, "203.0.113.40") as client:
        for _ in range(30):
            assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {good}"}).status_code == 200


def test_the_limits_are_settings(app, session, monkeypatch):
    from service.config import get_settings

    monkeypatch.setenv("DOCKET_LOGIN_ACCOUNT_LIMIT", "2 per hour")
    get_settings.cache_clear()
    try:
        member = factories.make_member(session, password=PASSWORD)
        with _client(app, "198.51.100.50") as client:
            for _ in range(2):
                assert _sign_in(client, member.user.email, "wrong guess").status_code == 401
            refused = _sign_in(client, member.user.email, PASSWORD)
            assert refused.status_code == 429 and "Wait 60 minutes" in refused.text
    finally:
        get_settings.cache_clear()
