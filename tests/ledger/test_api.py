"""The ledger over the API: a third party can recompute every root and check every proof (DESIGN §4)."""

import base64

import pytest

from service.ledger import merkle, note
from tests import factories


@pytest.fixture
def engagement(session, api):
    engagement = factories.make_engagement(session, member=api.member)
    for n in range(12):
        factories.append(session, member=api.member, engagement=engagement, summary=f"call {n}")
    return engagement


def b64(value: str) -> bytes:
    return base64.b64decode(value)


def test_leaves_proofs_and_checkpoint_agree(api, engagement):
    url = f"/api/v1/engagements/{engagement.id}"
    key = api.get("/api/v1/workspace/key").json()
    assert key["vkey"].startswith(key["name"] + "+" + key["key_id"] + "+")

    text = api.get(f"{url}/checkpoint")
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    checkpoint = note.open_note(text.text, key["vkey"])
    assert checkpoint.size == 13 and checkpoint.origin == f"{key['name']}/{engagement.id}"
    assert api.get(f"{url}/checkpoint").text == text.text  # nothing new: the same note, not a new signature

    leaves = api.get(f"{url}/leaves", params={"start": 0, "end": 13}).json()
    hashes = [merkle.leaf_hash(b64(leaf["leaf"])) for leaf in leaves]
    assert hashes == [b64(leaf["leaf_hash"]) for leaf in leaves]
    assert merkle.root_from_leaf_hashes(hashes) == checkpoint.root

    for index, size in [(0, 1), (5, 13), (12, 13), (7, 8)]:
        proof = api.get(f"{url}/proofs/inclusion", params={"index": index, "size": size}).json()
        merkle.verify_inclusion(index, size, hashes[index], [b64(h) for h in proof["proof"]],
                                merkle.root_from_leaf_hashes(hashes[:size]))
    for size1, size2 in [(1, 13), (8, 13), (5, 7), (13, 13)]:
        proof = api.get(f"{url}/proofs/consistency", params={"from": size1, "to": size2}).json()
        merkle.verify_consistency(size1, size2, [b64(h) for h in proof["proof"]],
                                  merkle.root_from_leaf_hashes(hashes[:size1]),
                                  merkle.root_from_leaf_hashes(hashes[:size2]))


def test_a_new_checkpoint_is_signed_only_when_the_ledger_grew(api, session, engagement):
    url = f"/api/v1/engagements/{engagement.id}/checkpoint"
    first = api.get(url).text
    factories.append(session, member=api.member, engagement=engagement)
    second = api.get(url).text
    assert first != second and second.split("\n")[1] == "14"


@pytest.mark.parametrize("path,params,field", [
    ("proofs/inclusion", {"index": 13, "size": 13}, "index"),
    ("proofs/inclusion", {"index": 0, "size": 14}, "size"),
    ("proofs/inclusion", {"index": "x", "size": 3}, "index"),
    ("proofs/inclusion", {"index": -1, "size": 3}, "index"),
    ("proofs/inclusion", {"size": 3}, "index"),
    ("proofs/consistency", {"from": 5, "to": 4}, "from"),
    ("proofs/consistency", {"from": 0, "to": 4}, "from"),
    ("proofs/consistency", {"from": 1, "to": 99}, "to"),
    ("proofs/consistency", {"from": "1.5", "to": 4}, "from"),
    ("leaves", {"start": 5, "end": 5}, "end"),
    ("leaves", {"start": 0, "end": 14}, "end"),
    ("leaves", {"start": -1, "end": 2}, "start"),
])
def test_bad_proof_requests_name_the_parameter(api, engagement, path, params, field):
    response = api.get(f"/api/v1/engagements/{engagement.id}/{path}", params=params)
    assert response.status_code == 422, response.text
    assert any(error["loc"][-1] == field for error in response.json()["detail"]), response.text


def test_another_workspace_sees_nothing(other_api, engagement):
    for path in ("checkpoint", "proofs/inclusion?index=0&size=1", "proofs/consistency?from=1&to=2",
                 "leaves?start=0&end=1"):
        assert other_api.get(f"/api/v1/engagements/{engagement.id}/{path}").status_code == 404
    assert other_api.post(f"/api/v1/engagements/{engagement.id}/receipts",
                          json={"recipient": "x", "method": "email"}).status_code == 404


def test_a_receipt_records_who_got_which_checkpoint(api, engagement):
    url = f"/api/v1/engagements/{engagement.id}"
    response = api.post(f"{url}/receipts", json={"recipient": "Jane Doe, solicitor", "method": "email"})
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["size"] == 13 and receipt["record_index"] == 13
    vkey = api.get("/api/v1/workspace/key").json()["vkey"]
    assert receipt["text"].startswith(receipt["checkpoint"]) and vkey in receipt["text"]
    assert note.open_note(receipt["checkpoint"], vkey).size == 13
    shared = api.get(f"{url}/records/13").json()
    assert shared["kind"] == "checkpoint_shared"
    assert shared["body"]["recipient"] == "Jane Doe, solicitor" and shared["body"]["size"] == 13
    assert api.post(f"{url}/receipts", json={"recipient": "", "method": "email"}).status_code == 422
    assert api.get(url).json()["tree_size"] == 14


def test_a_read_token_cannot_record_a_receipt(app, session, api, engagement):
    from fastapi.testclient import TestClient

    _, token = factories.make_token(session, member=api.member, scope="read")
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as reader:
        assert reader.get(f"/api/v1/engagements/{engagement.id}/checkpoint").status_code == 200
        assert reader.post(f"/api/v1/engagements/{engagement.id}/receipts",
                           json={"recipient": "x", "method": "email"}).status_code == 403
