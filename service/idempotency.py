"""`Idempotency-Key` on POST: a retry gets the first answer; the same key with another request is refused."""

import hashlib
import json
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlmodel import select

from service.accounts.models import IdempotentRequest
from service.deps import PrincipalDep, SessionDep
from service.errors import Conflict, Invalid


class Replay(Exception):
    def __init__(self, stored: IdempotentRequest):
        self.stored = stored

    def response(self) -> JSONResponse:
        return JSONResponse(json.loads(self.stored.response), status_code=self.stored.status_code,
                            headers={"Idempotent-Replayed": "true"})


class Idempotency:
    def __init__(self, session, principal, key: str | None):
        self.session, self.principal, self.key = session, principal, key
        self.fingerprint: str | None = None

    def check(self, fingerprint: str) -> None:
        """Raises Replay with the first answer if this key was used for the same request."""
        self.fingerprint = fingerprint
        if self.key is None:
            return
        stored = self.session.exec(select(IdempotentRequest).where(
            IdempotentRequest.workspace_id == self.principal.workspace.id,
            IdempotentRequest.actor == self.principal.actor, IdempotentRequest.key == self.key)).first()
        if stored is None:
            return
        if stored.request_sha256 != fingerprint:
            raise Conflict("this Idempotency-Key was already used for a different request", field="Idempotency-Key")
        raise Replay(stored)

    def respond(self, payload: Any, status_code: int = 201) -> JSONResponse:
        content = jsonable_encoder(payload)
        if self.key is not None:
            self.session.add(IdempotentRequest(
                workspace_id=self.principal.workspace.id, actor=self.principal.actor, key=self.key,
                request_sha256=self.fingerprint, status_code=status_code, response=json.dumps(content)))
            self.session.flush()
        return JSONResponse(content, status_code=status_code)


async def _fingerprint(request: Request) -> str | None:
    if request.headers.get("content-type", "").startswith("multipart/"):
        return None  # uploads fingerprint their file once it has streamed in
    # FastAPI caches the body it parsed, so this reads nothing twice.
    return hashlib.sha256(request.method.encode() + request.url.path.encode() + await request.body()).hexdigest()


def idempotency(request: Request, session: SessionDep, principal: PrincipalDep,
                fingerprint: Annotated[str | None, Depends(_fingerprint)]) -> Idempotency:
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 255:
        raise Invalid("Idempotency-Key must have 1 to 255 characters", field="Idempotency-Key")
    idem = Idempotency(session, principal, key)
    if fingerprint is not None:
        idem.check(fingerprint)
    return idem


IdempotencyDep = Annotated[Idempotency, Depends(idempotency)]
