"""`Idempotency-Key`: a retry gets the first answer (status and body) with `Idempotent-Replayed: true`; the same
key with another request is refused with 409; requests racing with one key make one write, never a 500."""

import secrets
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest

from tests.blackbox.conftest import api_client, key, record


def _writes(world):
    """Each POST route of the API that takes an Idempotency-Key, with a request body for it."""
    engagement = f"/api/v1/engagements/{world.engagement_id}"
    return {
        "record": (f"{engagement}/records", lambda marker: {"json": record(marker)}),
        "client": ("/api/v1/clients", lambda marker: {"json": {"name": marker}}),
        "engagement": ("/api/v1/engagements", lambda marker: {"json": {
            "client_id": world.client_id, "title": marker, "started_on": "2026-01-05"}}),
        "receipt": (f"{engagement}/receipts", lambda marker: {"json": {"recipient": marker, "method": "email"}}),
        "upload": ("/api/v1/evidence", lambda marker: {"files": {"file": (f"{marker}.txt", marker.encode(),
                                                                          "text/plain")}}),
    }


@pytest.mark.parametrize("what", ["record", "client", "engagement", "receipt", "upload"])
def test_a_retry_with_the_same_key_gets_the_first_answer(world, what):
    path, body = _writes(world)[what]
    marker, idem = key(), key()
    first = world.api_a.post(path, headers={"Idempotency-Key": idem}, **body(marker))
    assert first.status_code in (200, 201), first.text
    assert first.headers.get("Idempotent-Replayed") is None
    for _ in range(2):
        again = world.api_a.post(path, headers={"Idempotency-Key": idem}, **body(marker))
        assert again.status_code == first.status_code, f"the retry answered {again.status_code}: {again.text[:300]}"
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert again.json() == first.json()


@pytest.mark.parametrize("what", ["record", "client", "upload"])
def test_the_same_key_with_another_request_is_refused_and_stores_nothing(world, what):
    path, body = _writes(world)[what]
    idem = key()
    first = world.api_a.post(path, headers={"Idempotency-Key": idem}, **body(key()))
    assert first.status_code in (200, 201), first.text
    other = key()
    refused = world.api_a.post(path, headers={"Idempotency-Key": idem}, **body(other))
    assert refused.status_code == 409, f"another request with a used key answered {refused.status_code}"
    if what == "record":
        assert world.api_a.get(path, params={"q": other}).json()["items"] == []
    if what == "client":
        assert other not in {c["name"] for c in world.api_a.get(path).json()}


def test_a_key_is_the_callers_own_another_token_with_the_same_key_is_another_request(world):
    idem, marker = key(), key()
    first = world.api_a.post(world.records_url(), json=record(marker), headers={"Idempotency-Key": idem})
    assert first.status_code == 201, first.text
    # Workspace B's token with the same key and body writes to its own engagement: it never sees A's answer.
    engagement_b = world.api_b.get("/api/v1/engagements").json()[0]["id"]
    mine = world.api_b.post(f"/api/v1/engagements/{engagement_b}/records", json=record(marker),
                            headers={"Idempotency-Key": idem})
    assert mine.status_code == 201 and mine.headers.get("Idempotent-Replayed") is None, mine.text


@pytest.mark.parametrize("same_body", [True, False], ids=["same-body", "different-bodies"])
def test_concurrent_requests_with_one_key_make_one_write_and_never_a_500(world, same_body):
    clients = 12
    idem, marker = key(), key()
    barrier = Barrier(clients)

    def post(i):
        body = record(marker if same_body else f"{marker}-{i}")
        with api_client(world.server, world.token_a) as client:
            barrier.wait()
            return client.post(world.records_url(), json=body, headers={"Idempotency-Key": idem})

    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(post, range(clients)))
    statuses = sorted(a.status_code for a in answers)
    assert all(s < 500 for s in statuses), f"answers to one key sent {clients} times at once: {statuses}"
    firsts = [a for a in answers if a.status_code == 201 and a.headers.get("Idempotent-Replayed") is None]
    assert len(firsts) == 1, f"{len(firsts)} requests with one key were each answered as the first: {statuses}"
    for answer in answers:
        if answer is firsts[0]:
            continue
        replayed = answer.status_code == 201 and answer.headers.get("Idempotent-Replayed") == "true"
        assert replayed or answer.status_code == 409, (
            f"a racing request with the same key answered {answer.status_code}: {answer.text[:300]}")
        if replayed:
            assert answer.json() == firsts[0].json()
    stored = world.api_a.get(world.records_url(), params={"q": marker, "limit": 200}).json()["items"]
    assert len(stored) == 1, f"{len(stored)} records stored for one Idempotency-Key"
    assert stored[0]["index"] == firsts[0].json()["index"]


def test_an_idempotency_key_longer_than_allowed_is_refused_by_name(world):
    answer = world.api_a.post(world.records_url(), json=record(key()),
                              headers={"Idempotency-Key": secrets.token_hex(200)})
    assert answer.status_code == 422 and "Idempotency-Key" in answer.text
