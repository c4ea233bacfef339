from datetime import UTC, datetime, time

from sqlmodel import Session, select

from service.accounts.models import Workspace
from service.clients.models import Client
from service.clients.service import get_client
from service.engagements.models import Engagement, EngagementCreate, EngagementPublic, Status
from service.errors import NotFound
from service.ledger import service as ledger
from service.records.kinds import KindName
from service.records.models import RecordCreate
from service.records.service import append_record


def create_engagement(session: Session, *, workspace: Workspace, actor: str, data: EngagementCreate) -> Engagement:
    """Creates the engagement and appends its first record, `engagement_opened`, carrying the terms."""
    client = get_client(session, workspace=workspace, client_id=data.client_id)
    terms = data.model_dump(exclude={"client_id", "title"})
    engagement = Engagement(workspace_id=workspace.id, client_id=client.id, title=data.title.strip(), **terms)
    session.add(engagement)
    session.flush()
    opened = RecordCreate(
        kind=KindName.engagement_opened,
        # The engagement opens on its start day, unless that lies ahead: a record cannot be in the future.
        occurred_at=min(datetime.combine(data.started_on, time(), UTC), datetime.now(UTC)),
        body={
            "title": engagement.title,
            "client": client.name,
            "terms": data.model_dump(mode="json", exclude={"client_id", "title"}),
        },
    )
    append_record(session, workspace=workspace, engagement=engagement, actor=actor, data=opened, system=True)
    return engagement


def get_engagement(session: Session, *, workspace: Workspace, engagement_id: int, lock: bool = False) -> Engagement:
    """With lock, for requests that will append: see ledger.lock_engagement."""
    engagement = ledger.lock_engagement(session, engagement_id) if lock else session.get(Engagement, engagement_id)
    if engagement is None or engagement.workspace_id != workspace.id:
        raise NotFound("no such engagement")
    return engagement


def list_engagements(
    session: Session, *, workspace: Workspace, client_id: int | None = None
) -> list[tuple[Engagement, Client]]:
    query = (
        select(Engagement, Client)
        .join(Client, Client.id == Engagement.client_id)
        .where(Engagement.workspace_id == workspace.id)
        .order_by(Engagement.last_activity_at.desc(), Engagement.id.desc())
    )
    if client_id is not None:
        query = query.where(Engagement.client_id == client_id)
    return list(session.exec(query))


def to_public(engagement: Engagement, client: Client, status: str | None = None) -> EngagementPublic:
    """`status` as of today (service.facts.service.current_status); the stored one, which does not know that a
    notice period has run out, only for an engagement just created."""
    return EngagementPublic(
        **engagement.terms().model_dump(),
        id=engagement.id,
        client_id=client.id,
        client_name=client.name,
        title=engagement.title,
        status=Status(status or engagement.status),
        tree_size=engagement.tree_size,
        root_hash=engagement.root_hash.hex() if engagement.root_hash else None,
        last_activity_at=engagement.last_activity_at,
        created_at=engagement.created_at,
    )

