"""POST /api/v1/engagements/{id}/bundle: a streamed zip. Exporting appends a record, so it is a POST that needs
write rights (and the CSRF token with a cookie session); no GET exports."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import select

from service.bundles.verify import verify_bundle
from service.ledger.models import Checkpoint
from service.records.models import Record
from tests import factories
from tests.bundles.helpers import build_engagement, check_everywhere, read_zip, vkey


@pytest.fixture
def engagement(session, api):
    return build_engagement(session, member=api.member)


def size_of(api, engagement) -> int:
    return api.get(f"/api/v1/engagements/{engagement.id}").json()["tree_size"]


def test_export_streams_a_bundle_and_records_it(api, engagement, tmp_path):
    before = size_of(api, engagement)
    response = api.post(f"/api/v1/engagements/{engagement.id}/bundle", json={"recipient": "Harper LLP"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == f'attachment; filename="docket-{engagement.id}-{before}.zip"'
    (tmp_path / "b.zip").write_bytes(response.content)
    check_everywhere(tmp_path / "b.zip", tmp_path / "x", key=vkey(api.member))
    assert size_of(api, engagement) == before + 1
    record = api.get(f"/api/v1/engagements/{engagement.id}/records/{before}").json()
    assert record["kind"] == "bundle_exported" and record["body"]["recipient"] == "Harper LLP"
    assert record["body"]["size"] == before and record["body"]["subset"] == {}


def test_no_body_exports_the_whole_engagement(api, engagement, tmp_path):
    response = api.post(f"/api/v1/engagements/{engagement.id}/bundle")
    assert response.status_code == 200, response.text
    (tmp_path / "b.zip").write_bytes(response.content)
    report = verify_bundle(tmp_path / "b.zip", key=None)
    assert report.ok and "not who made it" in report.render() and report.facts["records"] == "all 10"


def test_a_subset_in_the_body(api, engagement, tmp_path):
    response = api.post(f"/api/v1/engagements/{engagement.id}/bundle", json={
        "kinds": ["invoice_issued", "payment_refused"], "from": "2026-03-01", "to": "2026-03-31", "indices": [0]})
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].endswith('-partial.zip"')
    (tmp_path / "p.zip").write_bytes(response.content)
    check_everywhere(tmp_path / "p.zip", tmp_path / "x", key=vkey(api.member))
    _, files = read_zip(tmp_path / "p.zip")
    assert sorted(n for n in files if n.endswith(".body.json")) == [
        f"data/ledger/entries/{i}.body.json" for i in (0, 4, 5)]
    body = api.get(f"/api/v1/engagements/{engagement.id}/records/10").json()["body"]
    assert body["subset"] == {"from": "2026-03-01", "to": "2026-03-31", "kinds": ["invoice_issued", "payment_refused"],
                              "indices": [0]}


@pytest.mark.parametrize(("body", "loc"), [
    ({"kinds": ["telegram"]}, ["kinds"]),
    ({"from": "last tuesday"}, ["body", "from"]),
    ({"from": "2026-03-05", "to": "2026-03-01"}, ["from"]),
    ({"from": "0001-01-01"}, ["body", "from"]),
    ({"indices": [99]}, ["indices"]),
    ({"indices": ["x"]}, ["body", "indices", 0]),
    ({"indices": [-1]}, ["body", "indices", 0]),
    ({"indices": [2**64]}, ["body", "indices", 0]),
    ({"indices": 5}, ["body", "indices"]),
    ({"kinds": "call"}, ["body", "kinds"]),
    ({"kinds": ["no_show"]}, ["subset"]),
    ({"recipient": "x" * 201}, ["body", "recipient"]),
    ({"recipients": "Harper"}, ["body", "recipients"]),
    ([1, 2], ["body"]),
])
def test_bad_subsets_are_422_and_record_nothing(api, engagement, body, loc):
    before = size_of(api, engagement)
    response = api.post(f"/api/v1/engagements/{engagement.id}/bundle", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc, response.json()
    assert size_of(api, engagement) == before


def test_an_unknown_kind_is_named_as_the_body_names_it(api, engagement):
    detail = api.post(f"/api/v1/engagements/{engagement.id}/bundle", json={"kinds": ["telegram"]}).json()["detail"]
    assert detail[0]["msg"] == "kinds: unknown kind 'telegram'"


def test_a_get_exports_nothing_and_writes_nothing(api, engagement, session):
    def state():
        records = session.exec(select(func.count()).select_from(Record)).one()
        checkpoints = session.exec(select(func.count()).select_from(Checkpoint)).one()
        return records, checkpoints

    before = state()
    response = api.get(f"/api/v1/engagements/{engagement.id}/bundle", params={"recipient": "Harper LLP"})
    assert response.status_code == 405
    assert state() == before


def test_who_may_export(app, session, api, other_api, anon, engagement):
    path = f"/api/v1/engagements/{engagement.id}/bundle"
    assert anon.post(path).status_code == 401
    theirs = other_api.post(path)
    assert theirs.status_code == 404
    assert theirs.json() == other_api.post("/api/v1/engagements/999999/bundle").json()
    _, token = factories.make_token(session, member=api.member, scope="read")
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as reader:
        before = size_of(reader, engagement)
        refused = reader.post(path)
        assert refused.status_code == 403 and "read" in refused.json()["detail"]
        assert size_of(reader, engagement) == before


def test_a_cookie_session_needs_the_csrf_token(browser_session, engagement, session):
    path = f"/api/v1/engagements/{engagement.id}/bundle"
    before = engagement.tree_size
    refused = browser_session.post(path, json={})
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    session.refresh(engagement)
    assert engagement.tree_size == before
    accepted = browser_session.post(path, json={}, headers={"X-CSRF-Token": browser_session.csrf})
    assert accepted.status_code == 200 and accepted.headers["content-type"] == "application/zip"


def test_the_openapi_lists_a_post_and_no_get(app, api):
    paths = api.get("/api/openapi.json").json()["paths"]["/api/v1/engagements/{engagement_id}/bundle"]
    assert set(paths) == {"post"}
    assert {"200", "403", "422"} <= set(paths["post"]["responses"])
