"""Accounts: passwords, one-time links, sessions and tokens are secrets shown once and stored only hashed."""

from datetime import timedelta

import pytest
from sqlmodel import select

from service.accounts.models import ApiToken, AuthSession, LoginLink, Membership, Role, User
from service.accounts.service import (
    accept_invitation,
    authenticate,
    change_password,
    create_api_token,
    create_login_link,
    decline_invitation,
    invite_member,
    pending_invitations,
    redeem_login_link,
    revoke_api_token,
    session_principal,
    start_session,
    token_principal,
    withdraw_invitation,
    workspace_invitations,
)
from service.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
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


def test_inviting_someone_who_has_an_account_gives_no_link_only_an_invitation_they_alone_answer(session):
    victim = factories.make_member(session, workspace_name="Victim Co")
    attacker = factories.make_member(session, workspace_name="Attacker Co")
    links_before = session.exec(select(LoginLink.id).where(LoginLink.user_id == victim.user.id)).all()
    user, link = invite_member(session, workspace=attacker.workspace, inviter_id=attacker.user.id,
                               email=victim.user.email.upper(), name="whatever", role=Role.owner)
    assert user.id == victim.user.id and link is None
    assert session.exec(select(LoginLink.id).where(LoginLink.user_id == victim.user.id)).all() == links_before
    assert session.get(Membership, (attacker.workspace.id, victim.user.id)) is None
    [(invitation, workspace, inviter)] = pending_invitations(session, user_id=victim.user.id)
    assert workspace.id == attacker.workspace.id and inviter.id == attacker.user.id and invitation.role == "owner"
    # Nobody else can answer it, not even the inviter who knows its id.
    for other in (attacker.user.id, factories.make_member(session).user.id):
        with pytest.raises(NotFound):
            accept_invitation(session, user_id=other, invitation_id=invitation.id)
        with pytest.raises(NotFound):
            decline_invitation(session, user_id=other, invitation_id=invitation.id)
    assert accept_invitation(session, user_id=victim.user.id, invitation_id=invitation.id).id == attacker.workspace.id
    assert session.get(Membership, (attacker.workspace.id, victim.user.id)).role == "owner"
    assert pending_invitations(session, user_id=victim.user.id) == []
    with pytest.raises(NotFound):
        accept_invitation(session, user_id=victim.user.id, invitation_id=invitation.id)


def test_a_declined_or_withdrawn_invitation_leaves_no_membership_and_members_are_not_invited_again(session):
    owner = factories.make_member(session)
    other = factories.make_member(session, workspace_name="Other Co")
    _, link = invite_member(session, workspace=owner.workspace, inviter_id=owner.user.id,
                            email=other.user.email, name="", role=Role.viewer)
    # Asking again changes the role offered; it does not send a second invitation.
    invite_member(session, workspace=owner.workspace, inviter_id=owner.user.id, email=other.user.email, name="",
                  role=Role.editor)
    [(invitation, _)] = workspace_invitations(session, workspace=owner.workspace)
    assert invitation.role == "editor"
    decline_invitation(session, user_id=other.user.id, invitation_id=invitation.id)
    assert session.get(Membership, (owner.workspace.id, other.user.id)) is None
    assert workspace_invitations(session, workspace=owner.workspace) == []

    invite_member(session, workspace=owner.workspace, inviter_id=owner.user.id, email=other.user.email, name="",
                  role=Role.viewer)
    [(invitation, _)] = workspace_invitations(session, workspace=owner.workspace)
    with pytest.raises(NotFound):
        withdraw_invitation(session, workspace=other.workspace, invitation_id=invitation.id)
    withdraw_invitation(session, workspace=owner.workspace, invitation_id=invitation.id)
    assert pending_invitations(session, user_id=other.user.id) == []

    for email in (owner.user.email, factories.make_member(session, workspace=owner.workspace).user.email):
        with pytest.raises(Conflict):
            invite_member(session, workspace=owner.workspace, inviter_id=owner.user.id, email=email, name="",
                          role=Role.viewer)


def test_changing_a_password_ends_the_other_sessions_and_unused_links_but_keeps_this_one(session):
    member = factories.make_member(session, password="correct horse battery")
    here = start_session(session, user=member.user)
    elsewhere = start_session(session, user=member.user)
    link = create_login_link(session, user=member.user)
    bystander = factories.make_member(session)
    theirs = start_session(session, user=bystander.user)
    change_password(session, user=member.user, current="correct horse battery", new="battery staple horse",
                    keep_session=here)
    assert session_principal(session, token=here).user_id == member.user.id
    with pytest.raises(Unauthorized):
        session_principal(session, token=elsewhere)
    with pytest.raises(Unauthorized):
        redeem_login_link(session, token=link)
    assert session_principal(session, token=theirs).user_id == bystander.user.id
    # A wrong current password changes nothing, sessions included.
    again = start_session(session, user=member.user)
    with pytest.raises(Invalid):
        change_password(session, user=member.user, current="wrong", new="another password", keep_session=here)
    assert session_principal(session, token=again).user_id == member.user.id
