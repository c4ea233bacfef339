"""Settings: API tokens shown once and revocable by owners; members and roles; sign-out."""

from fastapi.testclient import TestClient
from sqlmodel import select

from service.accounts.models import Invitation, LoginLink, Membership
from service.accounts.service import create_login_link, redeem_login_link
from tests import factories


def test_owner_creates_a_token_sees_it_once_and_revokes_it(browser_session):
    created = browser_session.post("/settings/tokens", data={"csrf_token": browser_session.csrf,
                                                             "name": "mail importer", "scope": "write"})
    assert created.status_code == 200 and "Docket shows it only once" in created.text
    secret = created.text.split('<code class="secret">')[1].split("</code>")[0]
    again = browser_session.get("/settings").text
    assert "mail importer" in again and secret not in again
    assert browser_session.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    token_id = again.split("/settings/tokens/")[1].split("/revoke")[0]
    revoked = browser_session.post(f"/settings/tokens/{token_id}/revoke", data={"csrf_token": browser_session.csrf},
                                   follow_redirects=False)
    assert revoked.status_code == 303
    assert browser_session.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_owner_adds_a_member_with_a_role(browser_session):
    response = browser_session.post("/settings/members", data={
        "csrf_token": browser_session.csrf, "email": "sam@example.com", "name": "Sam <b>", "role": "editor"})
    assert response.status_code == 200 and "/login/link/" in response.text
    html = browser_session.get("/settings").text
    assert "sam@example.com" in html and "Sam &lt;b&gt;" in html and "editor" in html


def test_viewer_sees_members_but_no_tokens_and_cannot_manage(app, session, owner):
    viewer = factories.make_member(session, role="viewer", workspace=owner.workspace)
    with TestClient(app) as client:
        factories.sign_in(client, session, user=viewer.user)
        html = client.get("/settings").text
        assert "Members" in html and "API tokens" not in html and 'action="/settings/members"' not in html
        for path, data in [("/settings/tokens", {"name": "x", "scope": "read"}),
                           ("/settings/members", {"email": "x@example.com", "role": "owner"})]:
            assert client.post(path, data={"csrf_token": client.csrf, **data}).status_code == 403


def test_log_out_ends_the_session(browser_session):
    response = browser_session.post("/logout", data={"csrf_token": browser_session.csrf}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert browser_session.get("/", follow_redirects=False).status_code in (302, 303, 401)


def test_owner_changes_a_role_then_removes_the_member_who_loses_access(app, browser_session, session, owner):
    editor = factories.make_member(session, role="editor", workspace=owner.workspace)
    other = factories.make_member(session, workspace_name="Elsewhere")
    with TestClient(app) as client:
        factories.sign_in(client, session, user=editor.user)
        assert client.get("/clients/new").status_code == 200
        changed = browser_session.post(f"/settings/members/{editor.user.id}", follow_redirects=False,
                                       data={"csrf_token": browser_session.csrf, "role": "viewer"})
        assert changed.status_code == 303
        # The editor's open session sees the new role at once: no more write pages.
        assert client.get("/clients/new").status_code == 403
        removed = browser_session.post(f"/settings/members/{editor.user.id}", follow_redirects=False,
                                       data={"csrf_token": browser_session.csrf, "role": "viewer", "remove": "1"})
        assert removed.status_code == 303 and editor.user.email not in browser_session.get("/settings").text
        assert client.get("/", follow_redirects=False).status_code in (302, 303, 401)
    # Not oneself (the workspace always keeps an owner), not someone of another workspace, not a made-up role.
    for user_id, role, status in [(owner.user.id, "viewer", 403), (other.user.id, "viewer", 404),
                                  (editor.user.id, "viewer", 404), (owner.user.id, "god", 422)]:
        response = browser_session.post(f"/settings/members/{user_id}",
                                        data={"csrf_token": browser_session.csrf, "role": role})
        assert response.status_code == status, (user_id, role, response.text)
    settings = browser_session.get("/settings").text
    assert f'action="/settings/members/{owner.user.id}"' not in settings and "(you)" in settings


def test_only_owners_change_members(app, session, owner):
    editor = factories.make_member(session, role="editor", workspace=owner.workspace)
    with TestClient(app) as client:
        factories.sign_in(client, session, user=editor.user)
        response = client.post(f"/settings/members/{owner.user.id}", data={"csrf_token": client.csrf,
                                                                          "role": "viewer"})
        assert response.status_code == 403
    session.expire_all()
    assert session.get(Membership, (owner.workspace.id, owner.user.id)).role == "owner"


def test_anyone_sets_then_changes_their_own_password(app, session, owner):
    from service.accounts.service import authenticate

    viewer = factories.make_member(session, role="viewer", workspace=owner.workspace)
    session.commit()
    with TestClient(app) as client:
        factories.sign_in(client, session, user=viewer.user)
        assert "set a password to sign in with it as well" in client.get("/settings").text

        def post(**data):
            return client.post("/settings/password", data={"csrf_token": client.csrf, **data})

        short = post(password="short", password_again="short")
        assert short.status_code == 422 and "at least 10 characters" in short.text
        differ = post(password="correct horse", password_again="correct house")
        assert differ.status_code == 422 and "differ" in differ.text
        saved = post(password="correct horse", password_again="correct horse")
        assert saved.status_code == 200 and "Password saved." in saved.text
        assert 'name="current_password"' in saved.text
        session.expire_all()
        assert authenticate(session, email=viewer.user.email, password="correct horse").id == viewer.user.id

        wrong = post(current_password="guess", password="battery staple", password_again="battery staple")
        assert wrong.status_code == 422 and "the current password is wrong" in wrong.text
        changed = post(current_password="correct horse", password="battery staple", password_again="battery staple")
        assert changed.status_code == 200
        session.expire_all()
        assert authenticate(session, email=viewer.user.email, password="battery staple").id == viewer.user.id


def test_inviting_an_existing_account_shows_no_link_and_the_invited_person_accepts_when_signed_in(
        app, browser_session, session, owner):
    victim = factories.make_member(session, workspace_name="Victim Co")
    response = browser_session.post("/settings/members", data={
        "csrf_token": browser_session.csrf, "email": victim.user.email, "name": "", "role": "owner"})
    assert response.status_code == 200
    assert "/login/link/" not in response.text
    assert "they will see the invitation when they sign in" in response.text
    assert session.exec(select(LoginLink).where(LoginLink.user_id == victim.user.id)).all() == []
    assert "Invited, not yet accepted" in response.text and victim.user.email in response.text
    invitation_id = response.text.split("/settings/members/invitations/")[1].split("/withdraw")[0]
    # The inviter cannot answer it for them.
    assert browser_session.post(f"/settings/invitations/{invitation_id}/accept",
                                data={"csrf_token": browser_session.csrf}).status_code == 404
    assert session.get(Membership, (owner.workspace.id, victim.user.id)) is None

    with TestClient(app) as client:
        token = factories.sign_in(client, session, user=victim.user)
        landing = client.get("/settings")
        assert "Invitations for you" in landing.text and owner.workspace.name in landing.text
        accepted = client.post(f"/settings/invitations/{invitation_id}/accept", data={"csrf_token": token},
                               follow_redirects=False)
        assert accepted.status_code == 303 and accepted.headers["location"] == "/"
        session.expire_all()
        assert session.get(Membership, (owner.workspace.id, victim.user.id)).role == "owner"
        home = client.get("/settings").text
        assert "Invitations for you" not in home and f'<option value="{owner.workspace.id}" selected' in home


def test_signing_in_with_an_invitation_waiting_lands_on_it_and_declining_it_joins_nothing(app, session, owner):
    from service.accounts.service import create_login_link, invite_member

    invited = factories.make_member(session, workspace_name="Elsewhere")
    invite_member(session, workspace=owner.workspace, inviter_id=owner.user.id, email=invited.user.email, name="",
                  role="viewer")
    token = create_login_link(session, user=invited.user)
    session.commit()
    with TestClient(app) as client:
        opened = factories.open_link(client, token)
        assert opened.status_code == 303 and opened.headers["location"] == "/settings#invitations"
        html = client.get("/settings").text
        csrf = html.split('name="csrf_token" value="')[1].split('"')[0]
        invitation_id = html.split("/settings/invitations/")[1].split("/")[0]
        declined = client.post(f"/settings/invitations/{invitation_id}/decline", data={"csrf_token": csrf},
                               follow_redirects=False)
        assert declined.status_code == 303
        assert "Invitations for you" not in client.get("/settings").text
    session.expire_all()
    assert session.get(Membership, (owner.workspace.id, invited.user.id)) is None


def test_owner_withdraws_an_invitation(browser_session, session, owner):
    other = factories.make_member(session, workspace_name="Elsewhere")
    sent = browser_session.post("/settings/members", data={
        "csrf_token": browser_session.csrf, "email": other.user.email, "role": "editor"})
    invitation_id = sent.text.split("/settings/members/invitations/")[1].split("/withdraw")[0]
    withdrawn = browser_session.post(f"/settings/members/invitations/{invitation_id}/withdraw",
                                     data={"csrf_token": browser_session.csrf}, follow_redirects=False)
    assert withdrawn.status_code == 303
    assert "Invited, not yet accepted" not in browser_session.get("/settings").text
    again = browser_session.post(f"/settings/members/invitations/{invitation_id}/withdraw",
                                 data={"csrf_token": browser_session.csrf})
    assert again.status_code == 404


def test_changing_the_password_signs_out_the_other_browsers_but_not_this_one(app, session, owner):
    with TestClient(app) as here, TestClient(app) as there:
        factories.sign_in(here, session, user=owner.user)
        factories.sign_in(there, session, user=owner.user)
        changed = here.post("/settings/password", data={"csrf_token": here.csrf, "password": "correct horse",
                                                        "password_again": "correct horse"})
        assert changed.status_code == 200 and "Password saved." in changed.text
        assert here.get("/settings", follow_redirects=False).status_code == 200
        assert there.get("/settings", follow_redirects=False).status_code == 303


def test_someone_in_no_workspace_answers_invitations_as_they_sign_in(app, session, owner):
    from service.accounts.service import create_user, invite_member

    loner = create_user(session, email="loner@example.com", name="Loner", password="correct horse battery")
    other = factories.make_member(session, workspace_name="Second Co")
    for workspace, inviter in ((owner.workspace, owner.user), (other.workspace, other.user)):
        invite_member(session, workspace=workspace, inviter_id=inviter.id, email=loner.email, name="", role="editor")
    session.commit()

    def answer(client, page, answer: str, n: int = 0):
        action = page.text.split('action="/login/invitations/')[n + 1].split('"')[0]
        sign_in = page.text.split('name="sign_in" value="')[n + 1].split('"')[0]
        return client.post(f"/login/invitations/{action}", data={"sign_in": sign_in, "answer": answer},
                           follow_redirects=False)

    with TestClient(app) as client:
        csrf = client.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
        page = client.post("/login", data={"csrf_token": csrf, "email": loner.email,
                                           "password": "correct horse battery"})
        assert page.status_code == 200 and "belongs to no workspace yet" in page.text
        assert owner.workspace.name in page.text and "Second Co" in page.text
        assert "docket_session" not in client.cookies and page.headers["cache-control"] == "no-store"
        # Someone else's invitation cannot be answered with this person's sign-in.
        stranger = invite_member(session, workspace=owner.workspace, inviter_id=owner.user.id,
                                 email=other.user.email, name="", role="viewer")
        session.commit()
        stranger_invitation = session.exec(select(Invitation).where(Invitation.user_id == stranger[0].id)).one()
        sign_in = page.text.split('name="sign_in" value="')[1].split('"')[0]
        assert client.post(f"/login/invitations/{stranger_invitation.id}",
                           data={"sign_in": sign_in, "answer": "accept"}).status_code == 404
        made_up = client.post(f"/login/invitations/{stranger_invitation.id}",
                              data={"sign_in": "made-up", "answer": "accept"})
        assert made_up.status_code == 401 and "unknown, used or expired" in made_up.text

        declined = answer(client, page, "decline")
        assert declined.status_code == 200 and "Second Co" in declined.text
        assert owner.workspace.name not in declined.text.split("<main")[1]
        accepted = answer(client, declined, "accept")
        assert accepted.status_code == 303 and accepted.headers["location"] == "/"
        assert client.get("/", follow_redirects=False).status_code == 200
    session.expire_all()
    assert session.get(Membership, (other.workspace.id, loner.id)).role == "editor"
    assert session.get(Membership, (owner.workspace.id, loner.id)) is None


def test_declining_the_last_invitation_says_there_is_nothing_to_sign_in_to(app, session, owner):
    from service.accounts.service import create_login_link, create_user, invite_member

    loner = create_user(session, email="loner2@example.com", name="Loner")
    invite_member(session, workspace=owner.workspace, inviter_id=owner.user.id, email=loner.email, name="",
                  role="viewer")
    token = create_login_link(session, user=loner)
    session.commit()
    with TestClient(app) as client:
        page = factories.open_link(client, token)
        assert page.status_code == 200 and owner.workspace.name in page.text
        action = page.text.split('action="/login/invitations/')[1].split('"')[0]
        sign_in = page.text.split('name="sign_in" value="')[1].split('"')[0]
        done = client.post(f"/login/invitations/{action}", data={"sign_in": sign_in, "answer": "decline"})
        assert done.status_code == 200 and "Invitation declined" in done.text
        assert "docket_session" not in client.cookies


def test_inviting_a_member_again_or_a_bad_address_says_why_on_the_settings_page(browser_session, session, owner):
    member = factories.make_member(session, role="viewer", workspace=owner.workspace)
    for email, status, message in [(member.user.email, 409, "is already a member"),
                                   ("not an address", 422, "email is not a valid address")]:
        response = browser_session.post("/settings/members", data={
            "csrf_token": browser_session.csrf, "email": email, "role": "owner"})
        assert response.status_code == status and message in response.text and "Members" in response.text
    session.expire_all()
    assert session.get(Membership, (owner.workspace.id, member.user.id)).role == "viewer"


def test_opening_a_login_link_changes_nothing_until_confirmed(app, session, anon):
    member = factories.make_member(session)
    token = create_login_link(session, user=member.user)
    session.commit()
    shown = anon.get(f"/login/link/{token}")
    assert shown.status_code == 200 and member.user.email in shown.text and "nothing has happened yet" in shown.text
    assert "docket_session" not in anon.cookies
    assert redeem_login_link(session, token=token).id == member.user.id  # still unused after the GET


def test_a_used_or_unknown_link_says_why(app, session, anon):
    member = factories.make_member(session)
    token = create_login_link(session, user=member.user)
    session.commit()
    assert factories.open_link(anon, token).status_code == 303
    used = anon.get(f"/login/link/{token}")
    assert used.status_code == 410 and "used already" in used.text
    unknown = anon.get("/login/link/not-a-real-link")
    assert unknown.status_code == 404 and "not one Docket made" in unknown.text
