from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.responses import StreamingResponse

from service.bundles.models import BundleRequest
from service.bundles.service import parse_subset, prepare_bundle
from service.bundles.writer import bundle_filename, stream_bundle
from service.deps import EngagementDep, SessionDep, StoreDep, WriterDep
from service.errors import Invalid
from service.http import StrictJsonRoute

router = APIRouter(tags=["bundles"], route_class=StrictJsonRoute)
# The service names what people type on the page; the API's body says it in the plural.
_FIELDS = {"kind": "kinds", "index": "indices"}


@router.post("/engagements/{engagement_id}/bundle", response_class=StreamingResponse,
             responses={200: {"content": {"application/zip": {}},
                              "description": "a zip holding one BagIt bag (DESIGN §5)"},
                        403: {"description": "a read-only token: exporting appends a bundle_exported record"},
                        422: {"description": "a subset that is not valid or matches no record"}})
def export_bundle(engagement: EngagementDep, principal: WriterDep, session: SessionDep, store: StoreDep,
                  data: Annotated[BundleRequest | None, Body()] = None):
    """An evidence bundle of the engagement, or of the records matching the subset in the body (plus any listed
    indices); an empty body or none exports the whole engagement.

    A partial bundle still carries every leaf hash and the signed checkpoint. Each export appends a
    `bundle_exported` record after the bundle's checkpoint, so it is a POST."""
    data = data or BundleRequest()
    try:
        subset = parse_subset(occurred_from=data.from_, occurred_to=data.to, kinds=data.kinds,
                              indices=data.indices, engagement=engagement)
        plan = prepare_bundle(session, workspace=principal.workspace, engagement=engagement, actor=principal.actor,
                              subset=subset, recipient=data.recipient, store=store)
    except Invalid as exc:
        field = _FIELDS.get(exc.field or "", exc.field)
        message = f"{field}:{exc.message.removeprefix(f'{exc.field}:')}" if field != exc.field else exc.message
        raise Invalid(message, field=field) from None
    # Committed before a byte is streamed: the export's record is stored before the download can begin, and the
    # session does not hold the database (on SQLite, the write lock) for as long as the download takes.
    session.commit()
    return StreamingResponse(stream_bundle(plan), media_type="application/zip",
                             headers={"Content-Disposition": f'attachment; filename="{bundle_filename(plan)}"'})
