from tests import factories

TERMS = {"started_on": "2026-01-05", "trial_ends_on": "2026-02-16", "notice_days": 30, "notice_form": "written",
         "payment_terms_days": 14, "rate_minor": 45000, "currency": "GBP", "rate_unit": "day",
         "jurisdiction": "uk", "deliverables": ["Weekly report"]}


def test_create_client_and_engagement_opens_the_ledger(api):
    client = api.post("/api/v1/clients", json={"name": "Northwind Ltd",
                                                "contacts": [{"name": "Tom", "email": "tom@nw.example"}]})
    assert client.status_code == 201, client.text
    created = api.post("/api/v1/engagements", json={"client_id": client.json()["id"], "title": "Sales", **TERMS})
    assert created.status_code == 201, created.text
    engagement = created.json()
    assert engagement["tree_size"] == 1 and engagement["client_name"] == "Northwind Ltd"
    assert len(engagement["root_hash"]) == 64
    first = api.get(f"/api/v1/engagements/{engagement['id']}/records/0").json()
    assert first["kind"] == "engagement_opened"
    assert first["body"]["terms"] == TERMS
    assert api.get("/api/v1/engagements").json()[0]["id"] == engagement["id"]
    assert api.get(f"/api/v1/clients/{client.json()['id']}").json()["contacts"][0]["email"] == "tom@nw.example"


def test_engagement_terms_are_validated(api, session):
    client = factories.make_client(session, member=api.member)
    bad = {**TERMS, "rate_minor": 450.5, "currency": "pounds", "rate_unit": "week", "notice_form": "fax"}
    response = api.post("/api/v1/engagements", json={"client_id": client.id, "title": "x", **bad})
    assert response.status_code == 422
    fields = {e["loc"][-1] for e in response.json()["detail"]}
    assert {"rate_minor", "currency", "rate_unit", "notice_form"} <= fields
    early = {**TERMS, "trial_ends_on": "2025-12-01"}
    assert api.post("/api/v1/engagements", json={"client_id": client.id, "title": "x", **early}).status_code == 422
    assert api.get("/api/v1/engagements").json() == []


def test_other_workspaces_are_invisible(api, other_api, session):
    engagement = factories.make_engagement(session, member=api.member)
    mine = f"/api/v1/engagements/{engagement.id}"
    missing = "/api/v1/engagements/999999"
    for path in ("", "/records", "/records/0", "/checkpoint"):
        theirs = other_api.get(mine + path)
        nothing = other_api.get(missing + path)
        assert theirs.status_code == nothing.status_code == 404
        assert theirs.content == nothing.content
    assert other_api.get(f"/api/v1/clients/{engagement.client_id}").content == \
        other_api.get("/api/v1/clients/999999").content
    # Nor can they create an engagement for my client.
    response = other_api.post("/api/v1/engagements",
                              json={"client_id": engagement.client_id, "title": "x", **TERMS})
    assert response.status_code == 404
    assert other_api.get("/api/v1/engagements").json() == []


def test_authentication_and_roles(app, anon, session, api):
    engagement = factories.make_engagement(session, member=api.member)
    assert anon.get("/api/v1/engagements").status_code == 401
    assert anon.get("/api/v1/engagements", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert anon.get("/api/v1/engagements", headers={"Authorization": "Basic abc"}).status_code == 401
    _, read_token = factories.make_token(session, member=api.member, scope="read")
    headers = {"Authorization": f"Bearer {read_token}"}
    assert anon.get("/api/v1/engagements", headers=headers).status_code == 200
    response = anon.post(f"/api/v1/engagements/{engagement.id}/records", headers=headers,
                         json={"kind": "call", "occurred_at": "2026-02-01T10:00:00Z", "body": {"summary": "x"}})
    assert response.status_code == 403
    assert api.get(f"/api/v1/engagements/{engagement.id}").json()["tree_size"] == 1


def test_revoked_token_is_refused(anon, session, owner):
    from service.accounts.service import revoke_api_token

    row, token = factories.make_token(session, member=owner)
    headers = {"Authorization": f"Bearer {token}"}
    assert anon.get("/api/v1/me", headers=headers).json()["actor"] == f"token:{row.id}"
    revoke_api_token(session, workspace=owner.workspace, token_id=row.id)
    assert anon.get("/api/v1/me", headers=headers).status_code == 401
