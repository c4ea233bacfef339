from typing import Annotated

from fastapi import APIRouter, Query

from service.clients.service import get_client
from service.deps import EngagementDep, PrincipalDep, SessionDep, WriterDep
from service.engagements.models import EngagementCreate, EngagementPublic
from service.engagements.service import create_engagement, list_engagements, to_public
from service.facts.service import current_status, facts_inputs
from service.fields import MAX_ID
from service.http import StrictJsonRoute
from service.idempotency import IdempotencyDep

router = APIRouter(prefix="/engagements", tags=["engagements"], route_class=StrictJsonRoute)


@router.post("", status_code=201, response_model=EngagementPublic)
def post_engagement(data: EngagementCreate, principal: WriterDep, session: SessionDep, idem: IdempotencyDep):
    engagement = create_engagement(session, workspace=principal.workspace, actor=principal.actor, data=data)
    client = get_client(session, workspace=principal.workspace, client_id=engagement.client_id)
    return idem.respond(to_public(engagement, client))


@router.get("", response_model=list[EngagementPublic])
def get_engagements(principal: PrincipalDep, session: SessionDep,
                    client_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None):
    inputs = facts_inputs(session, principal.workspace)
    return [to_public(e, c, current_status(session, workspace=principal.workspace, engagement=e, inputs=inputs))
            for e, c in list_engagements(session, workspace=principal.workspace, client_id=client_id)]


@router.get("/{engagement_id}", response_model=EngagementPublic)
def get_engagement(engagement: EngagementDep, principal: PrincipalDep, session: SessionDep):
    return to_public(engagement, get_client(session, workspace=principal.workspace, client_id=engagement.client_id),
                     current_status(session, workspace=principal.workspace, engagement=engagement))
