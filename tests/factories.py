"""Plain keyword-only factories: they call the real services, so tests build state the way users do."""

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session

from service.accounts.models import Role, Scope, User, Workspace
from service.accounts.service import (
    add_member,
    create_api_token,
    create_login_link,
    create_user,
    create_workspace,
    session_principal,
)
from service.clients.models import ClientCreate
from service.clients.service import create_client
from service.engagements.models import Engagement, EngagementCreate
from service.engagements.service import create_engagement
from service.records.kinds import KINDS
from service.records.models import Record, RecordCreate
from service.records.service import append_record

_seq = itertools.count(1)


def _committed(session: Session, result):
    """Each factory call is one finished request: in tests a commit only releases a savepoint."""
    session.commit()
    return result


@dataclass
class Member:
    workspace: Workspace
    user: User
    role: Role

    @property
    def actor(self) -> str:
        return f"user:{self.user.id}"


def make_member(session: Session, *, role: str = "owner", workspace: Workspace | None = None,
                workspace_name: str = "Acme Consulting", password: str | None = None) -> Member:
    n = next(_seq)
    workspace = workspace or create_workspace(session, name=workspace_name)
    user = create_user(session, email=f"person{n}@example.com", name=f"Person {n}", password=password)
    add_member(session, workspace=workspace, user=user, role=Role(role))
    session.commit()
    return Member(workspace=workspace, user=user, role=Role(role))


def make_token(session: Session, *, member: Member, scope: str = "write"):
    return _committed(session, create_api_token(session, workspace=member.workspace, user_id=member.user.id,
                                                name="test", scope=Scope(scope)))


def make_client(session: Session, *, member: Member, name: str = "Northwind Ltd"):
    return _committed(session, create_client(session, workspace=member.workspace, data=ClientCreate(name=name)))


def make_engagement(session: Session, *, member: Member, client=None, **terms) -> Engagement:
    client = client or make_client(session, member=member)
    data = {"client_id": client.id, "title": "Outbound sales", "started_on": date(2026, 1, 5),
            "notice_days": 30, "payment_terms_days": 14, "rate_minor": 45000, "currency": "GBP", **terms}
    return _committed(session, create_engagement(session, workspace=member.workspace, actor=member.actor,
                                                 data=EngagementCreate.model_validate(data)))


def append(session: Session, *, member: Member, engagement: Engagement, kind: str = "call",
           occurred_at: datetime | None = None, refs: list[int] | None = None, attachments=None,
           external_id: str | None = None, **body) -> Record:
    body.setdefault("summary", f"{kind} {next(_seq)}")
    if KINDS[kind].usual_direction is not None:
        body.setdefault("direction", KINDS[kind].usual_direction.value)  # as the quick-add form preselects
    data = RecordCreate(kind=kind, occurred_at=occurred_at or datetime(2026, 2, 2, 10, tzinfo=UTC),
                        body=body, refs=refs or [], attachments=attachments or [], external_id=external_id)
    return _committed(session, append_record(session, workspace=member.workspace, engagement=engagement,
                                             actor=member.actor, data=data))


def open_link(client, token: str):
    """Opens a one-time login link as a person does: the page that names whom it signs in (which changes
    nothing), then its Sign in button. Answers the button's response, not followed."""
    client.get(f"/login/link/{token}")
    return client.post(f"/login/link/{token}", data={"csrf_token": client.cookies.get("docket_login_csrf", "")},
                       follow_redirects=False)


def sign_in(client, session: Session, *, user: User) -> str:
    """Signs a TestClient in through a one-time login link, as a user would; returns the CSRF token."""
    token = _committed(session, create_login_link(session, user=user))
    response = open_link(client, token)
    assert response.status_code == 303, response.text
    principal = session_principal(session, token=client.cookies["docket_session"])
    client.csrf = principal.csrf_token
    return principal.csrf_token


def days_ago(n: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=n)
