"""Workspaces, people, sessions and API tokens. Secrets are shown once and stored only as hashes."""

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from service.accounts.models import (
    ApiToken,
    AuthSession,
    Invitation,
    LoginLink,
    Membership,
    Role,
    Scope,
    User,
    Workspace,
)
from service.config import get_settings
from service.errors import Conflict, Forbidden, Gone, Invalid, NotFound, Unauthorized
from service.ledger import note
from service.times import utcnow

_hasher = PasswordHasher()
# Verifying against this when the email is unknown keeps the answer time the same as a wrong password.
_DUMMY_HASH = _hasher.hash("docket-timing-equaliser")


@dataclass(frozen=True)
class Principal:
    """Who is calling, in which workspace, with what rights."""

    workspace: Workspace
    role: Role
    user_id: int | None = None
    token_id: int | None = None
    csrf_token: str | None = None
    # (id, name, is_demo) of every workspace a signed-in person belongs to, for the switcher.
    workspaces: tuple[tuple[int, str, bool], ...] = ()

    @property
    def actor(self) -> str:
        return f"token:{self.token_id}" if self.token_id is not None else f"user:{self.user_id}"

    @property
    def can_write(self) -> bool:
        return self.role in (Role.owner, Role.editor)

    def require_write(self) -> None:
        if not self.can_write:
            raise Forbidden("this account can read this workspace but not change it")

    def require_owner(self) -> None:
        if self.role != Role.owner or self.token_id is not None:
            raise Forbidden("only a workspace owner, signed in, can do this")


def hash_secret(token: str) -> str:
    # Tokens are 256-bit random strings, so a fast hash is enough; passwords use argon2.
    return hashlib.sha256(token.encode()).hexdigest()


def _slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "workspace"


def create_workspace(session: Session, *, name: str, is_demo: bool = False) -> Workspace:
    base = _slugify(name)
    slug, n = base, 1
    while session.exec(select(Workspace.id).where(Workspace.slug == slug)).first() is not None:
        n += 1
        slug = f"{base}-{n}"
    private_raw, public_raw = note.new_signing_key()
    workspace = Workspace(
        slug=slug,
        name=name,
        is_demo=is_demo,
        public_key=public_raw,
        sealed_private_key=note.seal_private_key(private_raw, get_settings().signing_secret()),
    )
    session.add(workspace)
    session.flush()
    return workspace


def create_user(session: Session, *, email: str, name: str, password: str | None = None) -> User:
    email = email.strip().lower()
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise Invalid("email is not a valid address", field="email")
    if session.exec(select(User.id).where(User.email == email)).first() is not None:
        raise Conflict(f"a user with email {email} already exists", field="email")
    if password is not None and len(password) < 10:
        raise Invalid("password must have at least 10 characters", field="password")
    user = User(email=email, name=name, password_hash=_hasher.hash(password) if password else None)
    session.add(user)
    session.flush()
    return user


def add_member(session: Session, *, workspace: Workspace, user: User, role: Role) -> Membership:
    membership = session.get(Membership, (workspace.id, user.id))
    if membership is None:
        membership = Membership(workspace_id=workspace.id, user_id=user.id, role=role)
    membership.role = role
    session.add(membership)
    session.flush()
    return membership


def invite_member(
    session: Session, *, workspace: Workspace, inviter_id: int, email: str, name: str, role: Role
) -> tuple[User, str | None]:
    """Adds someone with a role. A new account is made a member at once and gets a one-time login link token for
    the inviter to pass on. Someone who already has an account gets an invitation they accept when signed in, and
    no token: a link for their account would let the inviter sign in as them, into all their workspaces."""
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        user = create_user(session, email=email, name=name.strip() or email.strip())
        add_member(session, workspace=workspace, user=user, role=role)
        return user, create_login_link(session, user=user)
    if session.get(Membership, (workspace.id, user.id)) is not None:
        raise Conflict(f"{user.email} is already a member; change their role in the list of members", field="email")
    invitation = session.exec(select(Invitation).where(Invitation.workspace_id == workspace.id,
                                                       Invitation.user_id == user.id)).first()
    if invitation is None:
        invitation = Invitation(workspace_id=workspace.id, user_id=user.id, role=role, invited_by=inviter_id)
    invitation.role = role
    session.add(invitation)
    session.flush()
    return user, None


def pending_invitations(session: Session, *, user_id: int) -> list[tuple[Invitation, Workspace, User]]:
    """The invitations waiting for this person, with the workspace and who invited them."""
    inviter = aliased(User)
    rows = session.exec(
        select(Invitation, Workspace, inviter)
        .join(Workspace, Workspace.id == Invitation.workspace_id)
        .join(inviter, inviter.id == Invitation.invited_by)
        .where(Invitation.user_id == user_id)
        .order_by(Invitation.created_at, Invitation.id)
    )
    return list(rows)


def workspace_invitations(session: Session, *, workspace: Workspace) -> list[tuple[Invitation, User]]:
    """The invitations this workspace has sent that are not yet accepted or declined."""
    rows = session.exec(
        select(Invitation, User).join(User, User.id == Invitation.user_id)
        .where(Invitation.workspace_id == workspace.id).order_by(User.email)
    )
    return list(rows)


def _take_invitation(session: Session, *, user_id: int, invitation_id: int) -> Invitation:
    """Removes the invitation if it is this person's, in one conditional DELETE: of two concurrent answers to
    one invitation exactly one finds it, and nobody else's invitation can be answered by guessing its id."""
    invitation = session.exec(select(Invitation).where(Invitation.id == invitation_id,
                                                       Invitation.user_id == user_id)).first()
    if invitation is None:
        raise NotFound("no such invitation")
    gone = session.execute(delete(Invitation).where(Invitation.id == invitation_id, Invitation.user_id == user_id))
    if gone.rowcount != 1:
        raise NotFound("no such invitation")
    session.expunge(invitation)
    return invitation


def accept_invitation(session: Session, *, user_id: int, invitation_id: int) -> Workspace:
    invitation = _take_invitation(session, user_id=user_id, invitation_id=invitation_id)
    workspace = session.get(Workspace, invitation.workspace_id)
    if session.get(Membership, (invitation.workspace_id, user_id)) is None:
        session.add(Membership(workspace_id=invitation.workspace_id, user_id=user_id, role=invitation.role))
        session.flush()
    return workspace


def decline_invitation(session: Session, *, user_id: int, invitation_id: int) -> None:
    _take_invitation(session, user_id=user_id, invitation_id=invitation_id)


def withdraw_invitation(session: Session, *, workspace: Workspace, invitation_id: int) -> None:
    gone = session.execute(delete(Invitation).where(Invitation.id == invitation_id,
                                                    Invitation.workspace_id == workspace.id))
    if gone.rowcount != 1:
        raise NotFound("no such invitation")


def change_member(session: Session, *, workspace: Workspace, actor_id: int, user_id: int, role: Role | None) -> None:
    """Gives a member another role, or with `role=None` removes them (their sessions in this workspace end with
    the membership). No one changes their own: an owner acting on others always leaves an owner behind."""
    membership = session.get(Membership, (workspace.id, user_id))
    if membership is None:
        raise NotFound("no such member")
    if user_id == actor_id:
        raise Forbidden("you cannot change or remove your own membership")
    if role is None:
        session.delete(membership)
    else:
        membership.role = role
        session.add(membership)
    session.flush()


def list_members(session: Session, *, workspace: Workspace) -> list[tuple[User, Membership]]:
    rows = session.exec(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.workspace_id == workspace.id)
        .order_by(User.email)
    )
    return list(rows)


def user_workspaces(session: Session, *, user_id: int) -> list[tuple[Workspace, Membership]]:
    rows = session.exec(
        select(Workspace, Membership)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(Membership.user_id == user_id)
        .order_by(Workspace.is_demo, Workspace.id)
    )
    return list(rows)


def authenticate(session: Session, *, email: str, password: str) -> User:
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    try:
        _hasher.verify(user.password_hash if user and user.password_hash else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        raise Unauthorized("email or password is wrong") from None
    if user is None or user.password_hash is None:
        raise Unauthorized("email or password is wrong")
    return user


def set_password(session: Session, *, user: User, password: str) -> None:
    if len(password) < 10:
        raise Invalid("password must have at least 10 characters", field="password")
    user.password_hash = _hasher.hash(password)
    session.add(user)


def change_password(session: Session, *, user: User, current: str, new: str, keep_session: str) -> None:
    """Sets a person's password; one already set must be given again, so that a browser left signed in is not
    enough to take the account over. Everywhere else the person is signed in is signed out, and login links not
    yet used stop working: whoever learnt the old password, or holds a link, loses the way in. The session
    `keep_session` (the cookie of the browser making the change) stays."""
    if user.password_hash:
        try:
            _hasher.verify(user.password_hash, current)
        except (VerificationError, InvalidHashError):
            raise Invalid("the current password is wrong", field="current_password") from None
    set_password(session, user=user, password=new)
    session.execute(delete(AuthSession).where(AuthSession.user_id == user.id,
                                              AuthSession.token_hash != hash_secret(keep_session)))
    now = utcnow()
    session.execute(update(LoginLink).where(LoginLink.user_id == user.id, LoginLink.used_at.is_(None),
                                            LoginLink.expires_at > now).values(expires_at=now))


def create_login_link(session: Session, *, user: User, minutes: int | None = None) -> str:
    token = secrets.token_urlsafe(32)
    minutes = minutes or get_settings().login_link_minutes
    session.add(LoginLink(token_hash=hash_secret(token), user_id=user.id,
                          expires_at=utcnow() + timedelta(minutes=minutes)))
    session.flush()
    return token


def login_link_holder(session: Session, *, token: str) -> User:
    """Whose sign-in link this is, reading only: opening a link shows whom it signs in and asks to confirm, so
    that a mail scanner fetching the link does not use it up (and a GET changes nothing)."""
    link = session.exec(select(LoginLink).where(LoginLink.token_hash == hash_secret(token))).first()
    if link is None:
        raise NotFound("this sign-in link is not one Docket made; check that the whole link was copied")
    if link.used_at is not None:
        raise Gone("this sign-in link has been used already: each link signs in once. Ask a workspace owner for a "
                   "new one, or run `docket user link EMAIL` on the server")
    if link.expires_at < utcnow():
        raise Gone(f"this sign-in link has expired: links last {get_settings().login_link_minutes} minutes. Ask a "
                   "workspace owner for a new one, or run `docket user link EMAIL` on the server")
    return session.get(User, link.user_id)


def redeem_login_link(session: Session, *, token: str) -> User:
    """Marks the link used in one conditional UPDATE: when the same link is opened twice at once, exactly one
    request claims it (the other waits for the row, then finds it used) and only that one gets a session."""
    now = utcnow()
    claimed = session.execute(
        update(LoginLink)
        .where(LoginLink.token_hash == hash_secret(token), LoginLink.used_at.is_(None), LoginLink.expires_at >= now)
        .values(used_at=now)
    )
    if claimed.rowcount != 1:
        raise Unauthorized("this login link is unknown, used or expired; ask for a new one")
    user_id = session.exec(select(LoginLink.user_id).where(LoginLink.token_hash == hash_secret(token))).one()
    return session.get(User, user_id)


def start_session(session: Session, *, user: User, workspace_id: int | None = None) -> str:
    memberships = user_workspaces(session, user_id=user.id)
    if not memberships:
        raise Forbidden("this account belongs to no workspace")
    ids = [w.id for w, _ in memberships]
    token = secrets.token_urlsafe(32)
    session.add(
        AuthSession(
            token_hash=hash_secret(token),
            user_id=user.id,
            workspace_id=workspace_id if workspace_id in ids else ids[0],
            csrf_token=secrets.token_urlsafe(24),
            expires_at=utcnow() + timedelta(days=get_settings().session_days),
        )
    )
    session.flush()
    return token


def end_session(session: Session, *, token: str) -> None:
    row = session.exec(select(AuthSession).where(AuthSession.token_hash == hash_secret(token))).first()
    if row is not None:
        session.delete(row)


def switch_workspace(session: Session, *, token: str, workspace_id: int) -> None:
    row = session.exec(select(AuthSession).where(AuthSession.token_hash == hash_secret(token))).one()
    if session.get(Membership, (workspace_id, row.user_id)) is None:
        raise NotFound("no such workspace")
    row.workspace_id = workspace_id
    session.add(row)


def session_principal(session: Session, *, token: str) -> Principal:
    row = session.exec(
        select(AuthSession, Membership, Workspace)
        .join(Membership, (Membership.user_id == AuthSession.user_id)
              & (Membership.workspace_id == AuthSession.workspace_id))
        .join(Workspace, Workspace.id == AuthSession.workspace_id)
        .where(AuthSession.token_hash == hash_secret(token))
    ).first()
    if row is None or row[0].expires_at < utcnow():
        raise Unauthorized("not signed in, or the session has expired")
    auth, membership, workspace = row
    workspaces = session.exec(
        select(Workspace.id, Workspace.name, Workspace.is_demo).join(Membership)
        .where(Membership.user_id == auth.user_id).order_by(Workspace.is_demo, Workspace.name)
    ).all()
    return Principal(workspace=_detached(session, workspace), role=Role(membership.role), user_id=auth.user_id,
                     csrf_token=auth.csrf_token, workspaces=tuple(tuple(w) for w in workspaces))


def _detached(session: Session, workspace: Workspace) -> Workspace:
    """The principal's workspace outlives the request's transaction: an error page rendered after a
    rollback still shows whose workspace this is."""
    session.expunge(workspace)
    return workspace


def token_principal(session: Session, *, token: str) -> Principal:
    row = session.exec(
        select(ApiToken, Workspace)
        .join(Workspace, Workspace.id == ApiToken.workspace_id)
        .where(ApiToken.token_hash == hash_secret(token))
    ).first()
    if row is None or row[0].revoked_at is not None:
        raise Unauthorized("the API token is unknown or revoked")
    api_token, workspace = row
    role = Role.editor if api_token.scope == Scope.write else Role.viewer
    return Principal(workspace=_detached(session, workspace), role=role, token_id=api_token.id)


def create_api_token(
    session: Session, *, workspace: Workspace, user_id: int, name: str, scope: Scope
) -> tuple[ApiToken, str]:
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise Invalid("name must have 1 to 200 characters", field="name")
    secret = "dk_" + secrets.token_urlsafe(32)
    row = ApiToken(workspace_id=workspace.id, name=name, prefix=secret[:10], token_hash=hash_secret(secret),
                   scope=Scope(scope), created_by=user_id)
    session.add(row)
    session.flush()
    return row, secret


def list_api_tokens(session: Session, *, workspace: Workspace) -> list[ApiToken]:
    return list(session.exec(select(ApiToken).where(ApiToken.workspace_id == workspace.id)
                             .order_by(ApiToken.created_at.desc())))


def revoke_api_token(session: Session, *, workspace: Workspace, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None or row.workspace_id != workspace.id:
        raise NotFound("no such API token")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
    return row


def first_owner(session: Session) -> User | None:
    return session.exec(
        select(User).join(Membership, Membership.user_id == User.id)
        .join(Workspace, Workspace.id == Membership.workspace_id)
        .where(Membership.role == Role.owner, Workspace.is_demo == False)  # noqa: E712
        .order_by(User.id)
    ).first()
