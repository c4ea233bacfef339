"""`Idempotency-Key` on POST: a retry gets the first answer; the same key with another request is refused."""

import hashlib
import json
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from service.accounts.models import IdempotentRequest
from service.db import is_postgres
from service.deps import PrincipalDep, SessionDep
from service.errors import Conflict, Invalid


class Replay(Exception):
    """The first answer to a retried request. Its values are copied out at once: the request's transaction
    rolls back as this propagates, which expires the row it came from."""

    def __init__(self, stored: IdempotentRequest):
        self.status_code, self.body = stored.status_code, stored.response

    def response(self) -> Response:
        return Response(self.body, status_code=self.status_code, media_type="application/json",
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
        if is_postgres(self.session):
            # Requests with one key take turns: the second reads the first's answer once it has committed,
            # instead of doing the work again and failing on the unique key. (SQLite writers already take turns.)
            self.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": self._lock_id()})
        self._answer_if_used()

    def _answer_if_used(self) -> None:
        stored = self.session.exec(select(IdempotentRequest).where(
            IdempotentRequest.workspace_id == self.principal.workspace.id,
            IdempotentRequest.actor == self.principal.actor, IdempotentRequest.key == self.key)).first()
        if stored is None:
            return
        if stored.request_sha256 != self.fingerprint:
            raise Conflict("this Idempotency-Key was already used for a different request", field="Idempotency-Key")
        raise Replay(stored)

    def _lock_id(self) -> int:
        digest = hashlib.sha256(f"{self.principal.workspace.id}\n{self.principal.actor}\n{self.key}".encode())
        return int.from_bytes(digest.digest()[:8], "big", signed=True)

    def respond(self, payload: Any, status_code: int = 201) -> JSONResponse:
        content = jsonable_encoder(payload)
        if self.key is not None:
            self.session.add(IdempotentRequest(
                workspace_id=self.principal.workspace.id, actor=self.principal.actor, key=self.key,
                request_sha256=self.fingerprint, status_code=status_code, response=json.dumps(content)))
            try:
                self.session.flush()
            except IntegrityError:
                # Another request with this key committed first (one that could not take the lock above):
                # undo this one's work and answer with the first.
                self.session.rollback()
                self._answer_if_used()
                raise
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
