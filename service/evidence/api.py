import hashlib

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from service.accounts.service import Principal
from service.config import get_settings
from service.deps import PrincipalDep, SessionDep, StoreDep, WriterDep
from service.evidence.models import EvidencePublic
from service.evidence.service import INLINE_TYPES, get_evidence, register_evidence
from service.evidence.upload import Upload, receive_upload
from service.http import StrictJsonRoute
from service.idempotency import Idempotency, IdempotencyDep

router = APIRouter(prefix="/evidence", tags=["evidence"], route_class=StrictJsonRoute)

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary"}}}}},
    }
}


@router.post("", status_code=201, response_model=EvidencePublic, openapi_extra=_UPLOAD_BODY,
             responses={413: {"description": "larger than DOCKET_MAX_UPLOAD_MB"}})
async def post_evidence(request: Request, principal: WriterDep, session: SessionDep, idem: IdempotencyDep,
                        store: StoreDep):
    """Streams the file to the store, hashing it on the way; the same bytes uploaded twice are stored once."""
    # End the transaction that authenticated us before the file streams in: on SQLite it holds the write lock,
    # and a slow upload must not hold up every other writer.
    await run_in_threadpool(session.commit)
    upload = await receive_upload(request, store, get_settings().max_upload_bytes)
    return await run_in_threadpool(_register, session, principal, idem, upload)


def _register(session: Session, principal: Principal, idem: Idempotency, upload: Upload) -> JSONResponse:
    with upload.kept():
        # Hashed like every other request's fingerprint (the column holds 64 hex characters).
        idem.check(hashlib.sha256(f"evidence:{upload.sha256}:{upload.filename}".encode()).hexdigest())
        evidence = register_evidence(session, workspace=principal.workspace, sha256=upload.sha256,
                                     size=upload.size, media_type=upload.media_type, filename=upload.filename)
    return idem.respond(EvidencePublic.model_validate(evidence, from_attributes=True))


@router.get("/{sha256}", response_class=FileResponse, responses={200: {"content": {"application/octet-stream": {}}}})
def download_evidence(sha256: str, principal: PrincipalDep, session: SessionDep, store: StoreDep,
                      inline: bool = False):
    """The file, as a download; `inline=true` asks to open it in the browser, which only INLINE_TYPES may."""
    evidence = get_evidence(session, workspace=principal.workspace, sha256=sha256)
    return FileResponse(
        store.path(evidence.sha256),
        media_type=evidence.media_type,
        filename=evidence.filename,  # Starlette sends Content-Disposition with RFC 5987 encoding
        content_disposition_type="inline" if inline and evidence.media_type in INLINE_TYPES else "attachment",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=31536000, immutable"},
    )
