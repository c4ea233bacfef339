"""Accounts: passwords, one-time links, sessions and tokens are secrets shown once and stored only hashed."""

from datetime import timedelta

import pytest
from sqlmodel import select

from service.accounts.models import ApiToken, AuthSession, LoginLink, Role, User
from service.accounts.service import (
    authenticate,
    create_api_token,
    create_login_link,
    invite_member,
    redeem_login_link,
    revoke_api_token,
    session_principal,
    start_session,
    token_principal,
)
from service.errors import Forbidden, Unauthorized
from service.times import utcnow
from tests import factories


def test_password_login_checks_argon2_and_says_nothing_about_which_part_was_wrong(session):
    member = factories.make_member(session, password="correct horse battery")
    user = authenticate(session, email=member.user.email.upper(), password="correct horse battery")
    assert user.id == member.user.id
    assert session.get(User, user.id).password_hash.startswith("$argon2")
    with pytest.raises(Unauthorized) as wrong:
        authenticate(session, email=member.user.email, password="wrong")
    with pytest.raises(Unauthorized) as unknown:
        authenticate(session, email="nobody@example.com", password="wrong")
    assert wrong.value.message == unknown.value.message


def test_a_login_link_works_once_and_expires(session):
    member = factories.make_member(session)
    token = create_login_link(session, user=member.user)
    assert session.exec(select(LoginLink.token_hash)).all() and token not in str(
        session.exec(select(LoginLink.token_hash)).all())
    assert redeem_login_link(session, token=token).id == member.user.id
    with pytest.raises(Unauthorized):
        redeem_login_link(session, token=token)
    old = create_login_link(session, user=member.user, minutes=-1)
    with pytest.raises(Unauthorized):
        redeem_login_link(session, token=old)


def test_sessions_carry_a_csrf_token_and_expire(session):
    member = factories.make_member(session)
    cookie = start_session(session, user=member.user)
    principal = session_principal(session, token=cookie)
    assert principal.workspace.id == member.workspace.id and principal.role == Role.owner
    assert principal.csrf_token and principal.csrf_token != cookie
    row = session.exec(select(AuthSession)).one()
    assert row.token_hash != cookie
    with pytest.raises(Unauthorized):
        session_principal(session, token="not-a-session")


def test_tokens_are_scoped_hashed_and_revocable(session):
    member = factories.make_member(session)
    row, secret = create_api_token(session, workspace=member.workspace, user_id=member.user.id, name="importer",
                                   scope="read")
    assert secret.startswith("dk_") and session.get(ApiToken, row.id).token_hash != secret
    reader = token_principal(session, token=secret)
    assert reader.workspace.id == member.workspace.id and not reader.can_write
    with pytest.raises(Forbidden):
        reader.require_write()
    revoke_api_token(session, workspace=member.workspace, token_id=row.id)
    with pytest.raises(Unauthorized):
        token_principal(session, token=secret)


def test_inviting_someone_gives_them_a_role_and_a_link(session):
    owner = factories.make_member(session)
    user, link = invite_member(session, workspace=owner.workspace, inviter_id=owner.user.id,
                               email="New.Person@Example.com", name="New Person", role=Role.viewer)
    assert user.email == "new.person@example.com"
    principal = session_principal(session, token=start_session(session, user=redeem_login_link(session, token=link)))
    assert principal.role == Role.viewer and not principal.can_write


def test_an_expired_session_is_refused(session):
    member = factories.make_member(session)
    cookie = start_session(session, user=member.user)
    row = session.exec(select(AuthSession)).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.add(row)
    session.flush()
    with pytest.raises(Unauthorized):
        session_principal(session, token=cookie)
