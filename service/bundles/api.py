from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from service.bundles.service import parse_subset, prepare_bundle
from service.bundles.writer import bundle_filename, stream_bundle
from service.config import get_settings
from service.db import writes
from service.deps import EngagementDep, SessionDep, WriterDep
from service.evidence.store import EvidenceStore
from service.http import StrictJsonRoute

router = APIRouter(tags=["bundles"], route_class=StrictJsonRoute)


@router.get("/engagements/{engagement_id}/bundle", dependencies=[Depends(writes)], response_class=StreamingResponse,
            responses={200: {"content": {"application/zip": {}},
                             "description": "a zip holding one BagIt bag (DESIGN §5)"},
                       403: {"description": "a read-only token: exporting appends a bundle_exported record"}})
def export_bundle(
    engagement: EngagementDep,
    principal: WriterDep,
    session: SessionDep,
    from_: Annotated[date | None, Query(alias="from", description="first day (UTC) of records to disclose")] = None,
    to: Annotated[date | None, Query(description="last day (UTC) of records to disclose")] = None,
    kind: Annotated[list[str] | None, Query(description="repeat to disclose several kinds")] = None,
    index: Annotated[list[int] | None, Query(description="repeat: records disclosed whatever the filters")] = None,
    recipient: Annotated[str | None, Query(max_length=200, description="for whom the bundle is made")] = None,
):
    """An evidence bundle of the engagement, or of the records matching the filters (plus any listed indices).

    A partial bundle still carries every leaf hash and the signed checkpoint. Each export appends a
    `bundle_exported` record after the bundle's checkpoint."""
    subset = parse_subset(occurred_from=from_, occurred_to=to, kinds=kind, indices=index, engagement=engagement)
    plan = prepare_bundle(session, workspace=principal.workspace, engagement=engagement, actor=principal.actor,
                          subset=subset, recipient=recipient, store=EvidenceStore(get_settings().evidence_dir))
    # The request's session otherwise stays open until the download ends, and on SQLite holds the write lock
    # that long; the stream needs nothing more from the database.
    session.commit()
    return StreamingResponse(stream_bundle(plan), media_type="application/zip",
                             headers={"Content-Disposition": f'attachment; filename="{bundle_filename(plan)}"'})
