"""The request lifecycle with real commits and rollbacks: these tests use a database of their own, not the
rolled-back test session, because that session never commits or rolls back the way a request does (it hid the
replay and acknowledgement defects). What needs a real server process is in tests/blackbox/."""

import hashlib

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from service.config import get_settings
from service.evidence.models import Evidence
from service.main import create_app
from service.records.models import Record
from tests import factories


@pytest.fixture
def real(cli_database, monkeypatch):
    """An app on its own migrated database, every request committing or rolling back for real."""
    monkeypatch.setenv("DOCKET_FAULT_INJECTION", "1")
    get_settings.cache_clear()
    engine = cli_database
    with Session(engine, expire_on_commit=False) as session:
        member = factories.make_member(session, role="owner")
        engagement = factories.make_engagement(session, member=member)
        _, token = factories.make_token(session, member=member, scope="write")
        session.commit()
    with TestClient(create_app(engine), raise_server_exceptions=False,
                    headers={"Authorization": f"Bearer {token}"}) as client:
        client.engine, client.engagement, client.member = engine, engagement, member
        yield client


def _records(client) -> int:
    with Session(client.engine) as session:
        return session.exec(select(func.count()).select_from(Record)
                            .where(Record.engagement_id == client.engagement.id)).one()


CALL = {"kind": "call", "occurred_at": "2026-02-02T10:00:00Z", "body": {"summary": "Called Tom", "direction": "out"}}


def _url(client) -> str:
    return f"/api/v1/engagements/{client.engagement.id}/records"


def test_a_failed_commit_answers_500_and_keeps_nothing(real):
    before = _records(real)
    failed = real.post(_url(real), json=CALL, headers={"X-Docket-Fault": "commit-fail"})
    assert failed.status_code == 500
    assert _records(real) == before
    stored = real.post(_url(real), json=CALL)
    assert stored.status_code == 201 and stored.json()["index"] == before  # the index was never handed out


def test_a_replay_answers_with_the_first_answer(real):
    first = real.post(_url(real), json=CALL, headers={"Idempotency-Key": "k-1"})
    retry = real.post(_url(real), json=CALL, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json() and retry.headers["Idempotent-Replayed"] == "true"
    other = real.post(_url(real), json={**CALL, "body": {"summary": "Other", "direction": "in"}},
                      headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 409 and "Idempotency-Key" in other.text
    assert _records(real) == 2


def test_a_token_sent_to_a_page_is_not_a_signed_in_person(real):
    answer = real.post("/settings/password", data={"current": "x", "new": "y" * 12}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


@pytest.mark.parametrize("body", [
    {**CALL, "body": {"summary": "a\u0000b", "direction": "out"}},
    {**CALL, "external_id": "x\u0000"},
])
def test_a_nul_in_json_is_named_and_nothing_is_stored(real, body):
    answer = real.post(_url(real), json=body)
    assert answer.status_code == 422 and "NUL" in answer.text
    assert _records(real) == 1


def test_a_lone_surrogate_is_refused(real):
    raw = (b'{"kind": "call", "occurred_at": "2026-02-02T10:00:00Z", '
           b'"body": {"summary": "a\\ud800b", "direction": "out"}}')
    answer = real.post(_url(real), content=raw, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422 and "surrogate" in answer.text
    assert _records(real) == 1


def test_a_nul_in_the_query_or_path_is_refused(real):
    assert real.get(_url(real) + "?q=a%00b").status_code == 422
    assert real.get("/api/v1/evidence/ab%00cd").status_code == 422


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_times_beyond_what_can_be_held_are_named(real, when):
    answer = real.post(_url(real), json={**CALL, "occurred_at": when})
    assert answer.status_code == 422 and "occurred_at" in answer.text
    listed = real.get(_url(real), params={"occurred_from": when})
    assert listed.status_code == 422 and "occurred_from" in listed.text
    assert _records(real) == 1


def test_a_large_body_is_refused_before_authentication(real):
    answer = real.post(_url(real), content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                       headers={"Content-Type": "application/json", "Authorization": ""})
    assert answer.status_code == 413 and "at most" in answer.json()["detail"]


def _upload(client, name: str, data: bytes, **headers):
    return client.post("/api/v1/evidence", files={"file": (name, data, "application/pdf")}, headers=headers)


@pytest.mark.parametrize("name", ["Счёт-42.pdf", "café.txt"])
def test_file_names_keep_their_letters(real, name):
    answer = _upload(real, name, b"%PDF-1.4 " + name.encode())
    assert answer.status_code == 201, answer.text
    assert answer.json()["filename"] == name


def test_an_upload_without_its_closing_boundary_is_not_stored(real):
    data = b"%PDF-1.4 cut off"
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.pdf\"\r\n"
            b"Content-Type: application/pdf\r\n\r\n" + data)
    answer = real.post("/api/v1/evidence", content=body,
                       headers={"Content-Type": "multipart/form-data; boundary=XyZ"})
    assert answer.status_code == 422 and "closing boundary" in answer.text
    assert not get_settings().evidence_dir.joinpath(hashlib.sha256(data).hexdigest()[:2]).exists()
    with Session(real.engine) as session:
        assert session.exec(select(func.count()).select_from(Evidence)).one() == 0


def test_a_refused_upload_leaves_no_file(real):
    assert _upload(real, "a.pdf", b"first file", **{"Idempotency-Key": "up-1"}).status_code == 201
    refused = _upload(real, "b.pdf", b"second file", **{"Idempotency-Key": "up-1"})
    assert refused.status_code == 409
    second = hashlib.sha256(b"second file").hexdigest()
    assert not (get_settings().evidence_dir / second[:2] / second).exists()


def test_openapi_lists_each_routes_error_answers(real):
    paths = real.get("/api/openapi.json").json()["paths"]
    record = paths["/api/v1/engagements/{engagement_id}/records"]["post"]["responses"]
    assert {"401", "403", "404", "409", "413", "422", "429", "503"} <= set(record)
    key = paths["/api/v1/workspace/key"]["get"]["responses"]
    assert {"401", "503"} <= set(key) and "404" not in key and "403" not in key
