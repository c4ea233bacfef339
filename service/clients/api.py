from fastapi import APIRouter

from service.clients.models import ClientCreate, ClientPublic
from service.clients.service import create_client, list_clients
from service.deps import ClientDep, PrincipalDep, SessionDep, WriterDep
from service.http import StrictJsonRoute
from service.idempotency import IdempotencyDep

router = APIRouter(prefix="/clients", tags=["clients"], route_class=StrictJsonRoute)


@router.post("", status_code=201, response_model=ClientPublic)
def post_client(data: ClientCreate, principal: WriterDep, session: SessionDep, idem: IdempotencyDep):
    client = create_client(session, workspace=principal.workspace, data=data)
    return idem.respond(ClientPublic.model_validate(client, from_attributes=True))


@router.get("", response_model=list[ClientPublic])
def get_clients(principal: PrincipalDep, session: SessionDep):
    return [c for c, _ in list_clients(session, workspace=principal.workspace)]


@router.get("/{client_id}", response_model=ClientPublic)
def get_client(client: ClientDep):
    return client
