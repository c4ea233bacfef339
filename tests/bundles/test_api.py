"""GET /api/v1/engagements/{id}/bundle: a streamed zip; exporting appends a record, so it needs write rights."""

import pytest
from fastapi.testclient import TestClient

from service.bundles.verify import verify_bundle
from tests import factories
from tests.bundles.helpers import build_engagement, check_everywhere, read_zip, vkey


@pytest.fixture
def engagement(session, api):
    return build_engagement(session, member=api.member)


def size_of(api, engagement) -> int:
    return api.get(f"/api/v1/engagements/{engagement.id}").json()["tree_size"]


def test_export_streams_a_bundle_and_records_it(api, engagement, tmp_path):
    before = size_of(api, engagement)
    response = api.get(f"/api/v1/engagements/{engagement.id}/bundle", params={"recipient": "Harper LLP"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == f'attachment; filename="docket-{engagement.id}-{before}.zip"'
    (tmp_path / "b.zip").write_bytes(response.content)
    check_everywhere(tmp_path / "b.zip", tmp_path / "x", key=vkey(api.member))
    assert size_of(api, engagement) == before + 1
    record = api.get(f"/api/v1/engagements/{engagement.id}/records/{before}").json()
    assert record["kind"] == "bundle_exported" and record["body"]["recipient"] == "Harper LLP"
    assert record["body"]["size"] == before and record["body"]["subset"] == {}


def test_a_subset_by_query_parameters(api, engagement, tmp_path):
    response = api.get(f"/api/v1/engagements/{engagement.id}/bundle",
                       params=[("kind", "invoice_issued"), ("kind", "payment_refused"), ("from", "2026-03-01"),
                               ("to", "2026-03-31"), ("index", "0")])
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


@pytest.mark.parametrize(("params", "loc"), [
    ({"kind": "telegram"}, ["kind"]),
    ({"from": "last tuesday"}, ["query", "from"]),
    ({"from": "2026-03-05", "to": "2026-03-01"}, ["from"]),
    ({"index": "99"}, ["index"]),
    ({"index": "x"}, ["query", "index", 0]),
    ({"kind": "no_show"}, ["subset"]),
    ({"recipient": "x" * 201}, ["query", "recipient"]),
])
def test_bad_parameters_are_422_and_record_nothing(api, engagement, params, loc):
    before = size_of(api, engagement)
    response = api.get(f"/api/v1/engagements/{engagement.id}/bundle", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc
    assert size_of(api, engagement) == before


def test_who_may_export(app, session, api, other_api, anon, engagement):
    path = f"/api/v1/engagements/{engagement.id}/bundle"
    assert anon.get(path).status_code == 401
    theirs = other_api.get(path)
    assert theirs.status_code == 404
    assert theirs.json() == other_api.get("/api/v1/engagements/999999/bundle").json()
    _, token = factories.make_token(session, member=api.member, scope="read")
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as reader:
        before = size_of(reader, engagement)
        refused = reader.get(path)
        assert refused.status_code == 403 and "read" in refused.json()["detail"]
        assert size_of(reader, engagement) == before


def test_the_bundle_verifies_without_a_key_but_says_so(api, engagement, tmp_path):
    (tmp_path / "b.zip").write_bytes(api.get(f"/api/v1/engagements/{engagement.id}/bundle").content)
    report = verify_bundle(tmp_path / "b.zip", key=None)
    assert report.ok and "not who made it" in report.render()
