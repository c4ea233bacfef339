"""The "Export bundle" dialog: a form page whose POST (with its CSRF token) downloads the zip."""

import pytest
from sqlalchemy import func
from sqlmodel import select

from service.ledger.models import Checkpoint
from service.records.models import Record
from tests import factories
from tests.bundles.helpers import build_engagement, check_everywhere, read_zip, vkey


@pytest.fixture
def engagement(session, owner):
    return build_engagement(session, member=owner)


def test_the_dialog_renders_with_a_csrf_token_and_the_filters(browser_session, engagement):
    page = browser_session.get(f"/engagements/{engagement.id}/bundle")
    assert page.status_code == 200
    html = page.text
    assert f'action="/engagements/{engagement.id}/bundle"' in html and 'method="post"' in html
    assert f'name="csrf_token" value="{browser_session.csrf}"' in html
    for field in ('name="recipient"', 'name="from"', 'name="to"', 'name="indices"', 'value="invoice_issued"'):
        assert field in html
    assert "Outbound &lt;sales&gt; &amp; co" in html


def test_opening_the_dialog_writes_nothing(browser_session, engagement, session):
    def state():
        return (session.exec(select(func.count()).select_from(Record)).one(),
                session.exec(select(func.count()).select_from(Checkpoint)).one())

    before = state()
    for _ in range(2):
        assert browser_session.get(f"/engagements/{engagement.id}/bundle").status_code == 200
    assert state() == before


def test_submitting_downloads_the_bundle(browser_session, engagement, owner, tmp_path):
    response = browser_session.post(f"/engagements/{engagement.id}/bundle", data={
        "csrf_token": browser_session.csrf, "recipient": "Harper LLP", "from": "", "to": "",
        "kind": ["call", "invoice_issued"], "indices": "1, 8-9"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert "attachment" in response.headers["content-disposition"]
    (tmp_path / "b.zip").write_bytes(response.content)
    check_everywhere(tmp_path / "b.zip", tmp_path / "x", key=vkey(owner))
    _, files = read_zip(tmp_path / "b.zip")
    # The call with its amendment, the invoice, records 1, 8 and 9, and the retraction of record 1.
    assert sorted(int(n.split("/")[-1].split(".")[0]) for n in files if n.endswith(".leaf.json")) == [
        1, 3, 4, 6, 7, 8, 9]
    assert "for Harper LLP" in files["data/README.txt"].decode()


def test_a_post_without_the_csrf_token_is_refused(browser_session, engagement, session):
    before = engagement.tree_size
    response = browser_session.post(f"/engagements/{engagement.id}/bundle", data={"recipient": "x"})
    assert response.status_code == 403 and "CSRF" in response.text
    session.refresh(engagement)
    assert engagement.tree_size == before


@pytest.mark.parametrize(("form", "message"), [
    ({"indices": "3, seven"}, "is not a record number or a range"),
    ({"indices": "5-50"}, "is not within records 0 to 9"),
    ({"from": "2026-13-01"}, "is not a date"),
    ({"from": "2026-03-05", "to": "2026-03-01"}, "from must not be after to"),
    ({"kind": "no_show"}, "no record matches"),
])
def test_bad_filters_show_the_dialog_again_with_the_error(browser_session, engagement, form, message):
    response = browser_session.post(f"/engagements/{engagement.id}/bundle",
                                    data={"csrf_token": browser_session.csrf, **form})
    assert response.status_code == 422
    assert message in response.text and 'id="bundle_form"' in response.text


def test_a_viewer_cannot_export(app, session, engagement, owner):
    from fastapi.testclient import TestClient

    viewer = factories.make_member(session, role="viewer", workspace=owner.workspace)
    with TestClient(app) as client:
        factories.sign_in(client, session, user=viewer.user)
        assert client.get(f"/engagements/{engagement.id}/bundle").status_code == 403
