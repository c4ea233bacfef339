from typing import Annotated

from fastapi import APIRouter, Query

from service.deps import EngagementDep, Id, PrincipalDep, SessionDep, WriterDep
from service.fields import AnyTime
from service.http import StrictJsonRoute
from service.idempotency import IdempotencyDep
from service.records.models import RecordIn, RecordPage, RecordPublic
from service.records.service import append_record, describe, get_record, list_records, public_record

router = APIRouter(prefix="/engagements/{engagement_id}/records", tags=["records"], route_class=StrictJsonRoute)


@router.post("", status_code=201, response_model=RecordPublic,
             responses={200: {"description": "a record with this external_id already exists with the same content"}})
def post_record(data: RecordIn, engagement: EngagementDep, principal: WriterDep, session: SessionDep,
                idem: IdempotencyDep):
    size_before = engagement.tree_size
    record = append_record(session, workspace=principal.workspace, engagement=engagement,
                           actor=principal.actor, data=data)
    if record.idx >= size_before:
        return idem.respond(public_record(record))
    # An importer re-sent a record it had sent before: answer with the record as it stands now.
    return idem.respond(describe(session, engagement=engagement, records=[record])[0], status_code=200)


@router.get("", response_model=RecordPage)
def get_records(
    engagement: EngagementDep,
    principal: PrincipalDep,
    session: SessionDep,
    kind: Annotated[list[str] | None, Query(description="repeat to match any of several kinds")] = None,
    occurred_from: AnyTime | None = None,
    occurred_to: AnyTime | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
):
    records, next_cursor = list_records(
        session, engagement=engagement, kinds=kind,
        occurred_from=occurred_from, occurred_to=occurred_to,
        q=q, cursor=cursor, limit=limit)
    return RecordPage(items=describe(session, engagement=engagement, records=records), next_cursor=next_cursor)


@router.get("/{index}", response_model=RecordPublic)
def get_one(index: Id, engagement: EngagementDep, principal: PrincipalDep, session: SessionDep):
    record = get_record(session, engagement=engagement, index=index)
    return describe(session, engagement=engagement, records=[record])[0]
