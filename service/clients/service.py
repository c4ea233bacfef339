from sqlmodel import Session, func, select

from service.accounts.models import Workspace
from service.clients.models import Client, ClientCreate
from service.engagements.models import Engagement
from service.errors import NotFound


def create_client(session: Session, *, workspace: Workspace, data: ClientCreate) -> Client:
    client = Client(workspace_id=workspace.id, name=data.name.strip(), notes=data.notes,
                    contacts=[c.model_dump(exclude_none=True) for c in data.contacts])
    session.add(client)
    session.flush()
    return client


def get_client(session: Session, *, workspace: Workspace, client_id: int) -> Client:
    client = session.get(Client, client_id)
    # Another workspace's client answers exactly as a missing one does (DESIGN §3.5).
    if client is None or client.workspace_id != workspace.id:
        raise NotFound("no such client")
    return client


def list_clients(session: Session, *, workspace: Workspace) -> list[tuple[Client, int]]:
    """Clients with how many engagements each has, by name."""
    counts = (
        select(Engagement.client_id, func.count().label("n")).group_by(Engagement.client_id).subquery()
    )
    rows = session.exec(
        select(Client, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.client_id == Client.id)
        .where(Client.workspace_id == workspace.id)
        .order_by(func.lower(Client.name), Client.id)
    )
    return list(rows)
