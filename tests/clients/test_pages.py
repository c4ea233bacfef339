"""Clients: the list, a client with its engagements, and the new-client form."""

from tests import factories

HX = {"HX-Request": "true"}


def test_create_a_client_and_see_it_listed(browser_session):
    response = browser_session.post("/clients", data={"csrf_token": browser_session.csrf,
                                                      "name": 'Halden <script>alert(1)</script>" onmouseover="x',
                                                      "contact_name": "Tom Hale"}, follow_redirects=False)
    assert response.status_code == 303
    page = browser_session.get(response.headers["location"]).text
    assert "<script>alert(1)</script>" not in page and '" onmouseover="' not in page
    assert "Halden &lt;script&gt;" in page and "Tom Hale" in page
    assert "Halden &lt;script&gt;" in browser_session.get("/clients").text


def test_new_client_errors_come_back_in_the_form_block(browser_session):
    response = browser_session.post("/clients", headers=HX, data={"csrf_token": browser_session.csrf, "name": ""})
    assert response.status_code == 422
    assert response.text.lstrip().startswith('<form id="client_form"') and 'id="name-error"' in response.text


def test_client_page_lists_its_engagements(browser_session, session, owner):
    engagement = factories.make_engagement(session, member=owner)
    html = browser_session.get(f"/clients/{engagement.client_id}").text
    assert f'href="/engagements/{engagement.id}"' in html and "New engagement" in html
