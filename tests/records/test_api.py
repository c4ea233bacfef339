import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
import rfc8785

from service.ledger import merkle
from tests import factories


@pytest.fixture
def engagement(session, api):
    return factories.make_engagement(session, member=api.member)


def post(api, engagement, **record):
    record.setdefault("occurred_at", "2026-02-02T10:00:00Z")
    return api.post(f"/api/v1/engagements/{engagement.id}/records", json=record)


def test_append_writes_the_leaf_exactly_as_designed(api, engagement, session):
    response = post(api, engagement, kind="call", occurred_at="2026-02-02T11:30:00+01:00",
                    body={"summary": "Called Tom", "direction": "out", "duration_minutes": 12})
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["index"] == 1 and record["occurred_at"] == "2026-02-02T10:30:00Z"
    body = record["body"]
    assert len(body["salt"]) == 32 and int(body["salt"], 16) >= 0
    assert record["body_sha256"] == hashlib.sha256(rfc8785.dumps(body)).hexdigest()
    leaf = api.get(f"/api/v1/engagements/{engagement.id}/leaves?start=1&end=2").json()[0]
    import base64

    leaf_bytes = base64.b64decode(leaf["leaf"])
    envelope = json.loads(leaf_bytes)
    assert rfc8785.dumps(envelope) == leaf_bytes
    assert envelope == {
        "v": 1, "log": f"docket.localhost/{api.member.workspace.slug}/{engagement.id}", "index": 1, "kind": "call",
        "occurred_at": "2026-02-02T10:30:00Z", "recorded_at": envelope["recorded_at"],
        "actor": api.get("/api/v1/me").json()["actor"], "body_sha256": record["body_sha256"],
        "attachments": [], "refs": []}
    assert envelope["recorded_at"].endswith("Z") and len(envelope["recorded_at"]) == 27
    assert base64.b64decode(leaf["leaf_hash"]) == merkle.leaf_hash(leaf_bytes) == bytes.fromhex(record["leaf_hash"])


def test_invoice_due_date_defaults_from_payment_terms(api, engagement):
    invoice = post(api, engagement, kind="invoice_issued", occurred_at="2026-03-01T09:00:00Z",
                   body={"invoice_number": "INV-1", "amount_minor": 900000, "currency": "GBP"}).json()
    assert invoice["body"]["due_on"] == "2026-03-15"
    assert invoice["body"]["direction"] == "out"
    paid = post(api, engagement, kind="payment_received", refs=[invoice["index"]],
                body={"amount_minor": 900000, "currency": "GBP"})
    assert paid.status_code == 201
    not_an_invoice = post(api, engagement, kind="payment_received", refs=[0],
                          body={"amount_minor": 1, "currency": "GBP"})
    assert not_an_invoice.status_code == 422 and "invoice_issued" in not_an_invoice.text


@pytest.mark.parametrize(("record", "field"), [
    ({"kind": "telegram"}, "kind"),
    ({"kind": "call", "body": {"summary": "x", "direction": "out", "colour": "red"}}, "colour"),
    ({"kind": "invoice_issued", "body": {"invoice_number": "1", "amount_minor": 12.5, "currency": "GBP"}},
     "amount_minor"),
    ({"kind": "invoice_issued", "body": {"invoice_number": "1", "amount_minor": 1200.0, "currency": "GBP"}},
     "amount_minor"),
    ({"kind": "invoice_issued", "body": {"amount_minor": 1, "currency": "GBP"}}, "invoice_number"),
    ({"kind": "call", "body": {"direction": "out"}, "occurred_at": "2026-02-02T10:00:00"}, "occurred_at"),
    ({"kind": "call", "body": {"direction": "out"}, "occurred_at": "next tuesday"}, "occurred_at"),
    ({"kind": "call", "body": {"direction": "out"},
      "occurred_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()}, "occurred_at"),
    ({"kind": "call", "body": {"direction": "out"}, "refs": [5]}, "refs"),
    ({"kind": "call", "body": {"direction": "out"}, "refs": [1]}, "refs"),
    ({"kind": "call", "body": {"direction": "out"}, "refs": [-1]}, "refs"),
    ({"kind": "call", "body": {"direction": "out"}, "attachments": ["ab" * 32]}, "attachments"),
    ({"kind": "call", "body": {"direction": "out"}, "attachments": ["not-a-hash"]}, "attachments"),
    ({"kind": "engagement_opened", "body": {"summary": "again"}}, "kind"),
    ({"kind": "amendment", "refs": [0], "body": {"reason": "typo", "body": {"summary": 5}}}, "summary"),
    ({"kind": "retraction", "refs": [0]}, "reason"),
    ({"kind": "call", "body": {"direction": "out"}, "surprise": 1}, "surprise"),
    # Days far enough out to break date arithmetic (a half-year before year 1, notice beyond year 9999).
    ({"kind": "invoice_issued", "body": {"invoice_number": "1", "amount_minor": 1, "currency": "GBP",
                                         "due_on": "0001-02-01"}}, "due_on"),
    ({"kind": "notice_given", "body": {"given_by": "client", "form": "written", "effective_on": "9999-12-30"}},
     "effective_on"),
])
def test_bad_records_are_refused_naming_the_field_and_change_nothing(api, engagement, record, field):
    before = api.get(f"/api/v1/engagements/{engagement.id}").json()
    response = post(api, engagement, **record)
    assert response.status_code == 422, response.text
    assert any(field in ".".join(map(str, e["loc"])) for e in response.json()["detail"]), response.text
    assert api.get(f"/api/v1/engagements/{engagement.id}").json() == before


def test_malformed_json_is_422(api, engagement):
    response = api.post(f"/api/v1/engagements/{engagement.id}/records", content=b"{not json",
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 422


def test_amendment_and_retraction_keep_the_original(api, engagement):
    call = post(api, engagement, kind="call", body={"summary": "Called Tom", "direction": "out"}).json()
    amended = post(api, engagement, kind="amendment", refs=[call["index"]],
                   body={"reason": "it was Priya", "body": {"summary": "Called Priya", "direction": "out"}})
    assert amended.status_code == 201, amended.text
    again = post(api, engagement, kind="amendment", refs=[call["index"]],
                 body={"reason": "and it was inbound", "body": {"summary": "Priya called", "direction": "in"}})
    assert again.status_code == 201
    record = api.get(f"/api/v1/engagements/{engagement.id}/records/{call['index']}").json()
    assert record["status"] == "amended"
    assert record["body"]["summary"] == "Called Tom"  # the original stays
    assert record["current"]["summary"] == "Priya called"
    assert [v["body"]["reason"] for v in record["history"]] == ["it was Priya", "and it was inbound"]
    # An amendment of an amendment is refused: amend the original.
    assert post(api, engagement, kind="amendment", refs=[amended.json()["index"]],
                body={"reason": "x", "body": {}}).status_code == 422
    retracted = post(api, engagement, kind="retraction", refs=[call["index"]], body={"reason": "wrong engagement"})
    assert retracted.status_code == 201
    record = api.get(f"/api/v1/engagements/{engagement.id}/records/{call['index']}").json()
    assert record["status"] == "retracted" and record["retraction"]["body"]["reason"] == "wrong engagement"
    assert post(api, engagement, kind="retraction", refs=[call["index"]], body={"reason": "again"}).status_code == 422


def test_list_filters_and_keyset_pages(api, engagement):
    for day in range(1, 13):
        kind = "email" if day % 3 == 0 else "call"
        post(api, engagement, kind=kind, occurred_at=f"2026-02-{day:02d}T09:00:00Z",
             body={"summary": f"{kind} on day {day}" + (" about pricing" if day == 7 else ""), "direction": "out"})
    url = f"/api/v1/engagements/{engagement.id}/records"
    seen, cursor = [], None
    while True:
        page = api.get(url, params={"limit": 5, **({"cursor": cursor} if cursor else {})}).json()
        seen += [r["index"] for r in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 13 and len(set(seen)) == 13
    emails = api.get(url, params={"kind": "email"}).json()["items"]
    assert [r["body"]["summary"] for r in emails] == [f"email on day {d}" for d in (3, 6, 9, 12)]
    both = api.get(url, params=[("kind", "email"), ("kind", "engagement_opened")]).json()["items"]
    assert len(both) == 5
    ranged = api.get(url, params={"occurred_from": "2026-02-05T00:00:00Z",
                                  "occurred_to": "2026-02-06T23:59:59Z"}).json()["items"]
    assert [r["occurred_at"][:10] for r in ranged] == ["2026-02-05", "2026-02-06"]
    assert [r["index"] for r in api.get(url, params={"q": "PRICING"}).json()["items"]] == [7]
    assert api.get(url, params={"q": "100%_"}).json()["items"] == []
    assert api.get(url, params={"cursor": "garbage"}).status_code == 422
    naive = base64.urlsafe_b64encode(b"2026-01-01T00:00:00|1").decode()  # well formed, but no cursor of ours
    huge = base64.urlsafe_b64encode(b"2026-01-01T00:00:00+00:00|99999999999999999999").decode()
    assert api.get(url, params={"cursor": naive}).status_code == 422
    assert api.get(url, params={"cursor": huge}).status_code == 422
    assert api.get(url, params={"kind": "telegram"}).status_code == 422
    assert api.get(url, params={"occurred_from": "2026-02-05"}).status_code == 422
    assert api.get(url + "/999").status_code == 404


def test_idempotency_key_replays_the_first_answer(api, engagement):
    url = f"/api/v1/engagements/{engagement.id}/records"
    record = {"kind": "call", "occurred_at": "2026-02-02T10:00:00Z", "body": {"summary": "Called",
                                                                              "direction": "out"}}
    first = api.post(url, json=record, headers={"Idempotency-Key": "abc-1"})
    retry = api.post(url, json=record, headers={"Idempotency-Key": "abc-1"})
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json() and retry.headers["Idempotent-Replayed"] == "true"
    changed = api.post(url, json={**record, "body": {"summary": "Other"}}, headers={"Idempotency-Key": "abc-1"})
    assert changed.status_code == 409
    assert api.get(f"/api/v1/engagements/{engagement.id}").json()["tree_size"] == 2


def test_external_id_makes_imports_rerunnable(api, engagement):
    record = {"kind": "email", "occurred_at": "2026-02-02T10:00:00Z", "external_id": "msg-<42@mail>",
              "body": {"summary": "Invoice query", "direction": "in"}}
    first = post(api, engagement, **record)
    second = post(api, engagement, **record)
    assert first.status_code == 201 and second.status_code == 200
    assert second.json()["index"] == first.json()["index"]
    different = post(api, engagement, **{**record, "body": {"summary": "Something else", "direction": "in"}})
    assert different.status_code == 409 and "external_id" in different.text
    assert api.get(f"/api/v1/engagements/{engagement.id}").json()["tree_size"] == 2


def test_ids_too_big_for_a_database_integer_are_refused_by_name(api, browser_session, engagement):
    huge = "9" * 25
    for url in (f"/api/v1/engagements/{huge}", f"/api/v1/engagements/{engagement.id}/records/{huge}",
                f"/api/v1/clients/{huge}"):
        response = api.get(url)
        assert response.status_code == 422, url
    assert browser_session.get(f"/engagements/{engagement.id}/records/{huge}").status_code == 422
    assert browser_session.get(f"/engagements/{huge}").status_code == 422


def test_an_outbound_contact_awaits_a_reply_unless_told_otherwise(api, engagement):
    asked = post(api, engagement, kind="email", body={"summary": "Can we meet?", "direction": "out"})
    told = post(api, engagement, kind="call", body={"summary": "Left the minutes", "direction": "out",
                                                    "awaits_reply": False})
    inbound = post(api, engagement, kind="message", body={"summary": "Yes", "direction": "in"})
    assert asked.status_code == told.status_code == inbound.status_code == 201
    assert asked.json()["body"]["awaits_reply"] is True and told.json()["body"]["awaits_reply"] is False
    assert "awaits_reply" not in inbound.json()["body"]


def test_a_contact_without_a_direction_is_refused_with_the_field_named(api, engagement):
    response = post(api, engagement, kind="voicemail", body={"summary": "Left a message"})
    assert response.status_code == 422
    assert [(e["loc"], e["type"]) for e in response.json()["detail"]] == [(["body", "body", "direction"], "missing")]
