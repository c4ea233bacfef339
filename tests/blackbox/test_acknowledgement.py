"""An acknowledgement is a promise (DESIGN §3.9): no success status leaves the server before its transaction has
committed, and a failed commit answers 5xx.

The server runs with DOCKET_FAULT_INJECTION=1, a test-only hook production never sets: a request carrying
`X-Docket-Fault: commit-delay=<seconds>` sleeps that long just before its commit, and `X-Docket-Fault:
commit-fail` makes its commit raise."""

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.blackbox.conftest import api_client, key, record
from tests.blackbox.server import sign_in

DELAY = 1.5


def _size(world, engagement_id=None) -> int:
    answer = world.api_a.get(f"/api/v1/engagements/{engagement_id or world.engagement_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()["tree_size"]


def test_a_201_is_sent_only_after_the_commit_so_a_get_right_after_it_finds_the_record(world):
    marker = key()
    with api_client(world.server, world.token_a) as reader:
        started = time.monotonic()
        answer = world.api_a.post(world.records_url(), json=record(marker),
                                  headers={"X-Docket-Fault": f"commit-delay={DELAY}"})
        waited = time.monotonic() - started
        assert answer.status_code == 201, answer.text
        # Asked the moment the 201 arrives, by another connection, as another tool would.
        found = reader.get(f"{world.records_url()}/{answer.json()['index']}")
    assert found.status_code == 200, (
        f"a GET right after the 201 for record {answer.json()['index']} answered {found.status_code}: the record "
        f"was acknowledged before its transaction committed")
    assert found.json()["body"]["summary"] == marker
    assert waited >= DELAY * 0.9, (
        f"the 201 came after {waited:.2f} s although the commit was held back {DELAY} s: either the answer left "
        f"before the commit, or the server has no commit-delay fault hook (X-Docket-Fault)")


def test_a_failed_commit_answers_5xx_stores_nothing_and_the_index_goes_to_the_next_record(world):
    size = _size(world)
    marker, retry_key = key(), key()
    # A connection of its own: after an unhandled error the server may drop the connection it answered on.
    with api_client(world.server, world.token_a) as faulty:
        answer = faulty.post(world.records_url(), json=record(marker),
                             headers={"X-Docket-Fault": "commit-fail", "Idempotency-Key": retry_key})
    assert 500 <= answer.status_code < 600, (
        f"a request whose commit failed answered {answer.status_code}: {answer.text[:300]}")
    assert _size(world) == size, "the ledger grew although the commit failed"
    missing = world.api_a.get(f"{world.records_url()}/{size}")
    assert missing.status_code == 404, f"index {size} exists after its commit failed: {missing.text[:300]}"
    listed = world.api_a.get(world.records_url(), params={"q": marker}).json()["items"]
    assert listed == [], "the record of the failed commit is listed"

    nxt = world.api_a.post(world.records_url(), json=record(key()))
    assert nxt.status_code == 201 and nxt.json()["index"] == size, nxt.text
    # The failed request left no idempotent answer behind: a retry with its key is a new, stored request.
    retried = world.api_a.post(world.records_url(), json=record(marker), headers={"Idempotency-Key": retry_key})
    assert retried.status_code == 201, retried.text
    assert retried.headers.get("Idempotent-Replayed") is None
    assert retried.json()["index"] == size + 1


def test_an_upload_is_acknowledged_only_once_its_evidence_row_is_committed(world):
    content = b"%PDF-1.4 delayed " + key().encode()
    with api_client(world.server, world.token_a) as reader:
        started = time.monotonic()
        answer = world.api_a.post("/api/v1/evidence", files={"file": ("delayed.pdf", content, "application/pdf")},
                                  headers={"X-Docket-Fault": f"commit-delay={DELAY}"})
        waited = time.monotonic() - started
        assert answer.status_code == 201, answer.text
        found = reader.get(f"/api/v1/evidence/{answer.json()['sha256']}")
    assert found.status_code == 200, f"the upload was acknowledged but its file answers {found.status_code}"
    assert waited >= DELAY * 0.9, f"the upload's 201 came {waited:.2f} s after sending, before its commit"


def test_a_page_write_whose_commit_fails_answers_5xx_and_adds_nothing(world):
    before = {c["name"] for c in world.api_a.get("/api/v1/clients").json()}
    name = f"Failing client {key()}"
    with httpx.Client(base_url=world.server.url, cookies=dict(world.owner_a.cookies), timeout=60) as page:
        answer = page.post("/clients", data={"name": name, "notes": ""},
                           headers={"X-CSRF-Token": world.owner_a.csrf, "X-Docket-Fault": "commit-fail"})
    assert 500 <= answer.status_code < 600, f"a page write whose commit failed answered {answer.status_code}"
    after = {c["name"] for c in world.api_a.get("/api/v1/clients").json()}
    assert name not in after and before <= after


@pytest.mark.parametrize("fault", ["commit-fail", f"commit-delay={DELAY}"])
def test_appends_beside_a_faulty_one_keep_their_word(world, fault):
    """Appends of other clients running while one commit is held back or fails: each 201 is a stored record at
    the index it names, and the faulty request's answer says the truth about it."""
    marker = key()

    def append(i):
        headers = {"X-Docket-Fault": fault} if i == 0 else {}
        with api_client(world.server, world.token_a) as client:
            return i, client.post(world.records_url(world.other_engagement_id), json=record(f"{marker}-{i}"),
                                  headers=headers)

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(append, range(6)))
    for i, answer in answers:
        assert answer.status_code < 500 or (i == 0 and fault == "commit-fail"), answer.text[:300]
        if answer.status_code == 201:
            stored = world.api_a.get(f"{world.records_url(world.other_engagement_id)}/{answer.json()['index']}")
            assert stored.status_code == 200 and stored.json()["body"]["summary"] == f"{marker}-{i}", (
                f"request {i} was acknowledged with index {answer.json()['index']}, which holds "
                f"{stored.text[:200]}")


def test_a_workspace_switch_is_answered_only_once_it_is_committed(world):
    """A page write like any other: the redirect after switching must lead to the workspace switched to."""
    page = sign_in(world.server.url, world.login_link("owner@docket.localhost"))
    try:
        demo = world.server.query("SELECT id FROM workspace WHERE slug = :slug", slug=world.slug_b)[0][0]
        started = time.monotonic()
        answer = page.post("/workspace", data={"workspace_id": demo},
                           headers={"X-CSRF-Token": page.csrf, "X-Docket-Fault": f"commit-delay={DELAY}"})
        waited = time.monotonic() - started
        assert answer.status_code == 303, answer.text[:300]
        me = page.get("/api/v1/me").json()
        assert me["workspace"] == world.slug_b, f"right after switching, the session is still in {me['workspace']}"
        assert waited >= DELAY * 0.9, f"the switch was answered {waited:.2f} s after sending, before its commit"
    finally:
        page.close()


def test_after_a_failed_commit_the_connection_serves_the_next_request(world):
    """A 5xx is an answer like any other: a client that keeps its connection open (as every HTTP client does)
    must not have its next request cut off, unless the answer said `Connection: close`."""
    with api_client(world.server, world.token_a) as client:
        failed = client.post("/api/v1/clients", json={"name": f"Failing {key()}"},
                             headers={"X-Docket-Fault": "commit-fail"})
        assert 500 <= failed.status_code < 600
        if failed.headers.get("connection", "").lower() == "close":
            return
        try:
            after = client.get("/api/v1/me")
        except httpx.TransportError as exc:
            pytest.fail(f"the connection that carried the {failed.status_code} was dropped without "
                        f"`Connection: close`; the next request failed: {exc!r}")
        assert after.status_code == 200
