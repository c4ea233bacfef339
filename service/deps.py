"""Dependencies shared by both front doors: who is calling, and load-or-404 for each object."""

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from sqlmodel import Session

from service.accounts.service import Principal, session_principal, token_principal
from service.accounts.throttle import TooManyAttempts, app_throttle, client_address
from service.clients.models import Client
from service.clients.service import get_client
from service.db import UNSAFE_METHODS, get_session
from service.engagements.models import Engagement
from service.engagements.service import get_engagement
from service.errors import Forbidden, Invalid, Unauthorized
from service.evidence.store import EvidenceStore, evidence_store
from service.fields import MAX_ID

# A row id or record index in a URL: what a database integer column holds (fields.MAX_ID), so that an absurd
# number is refused by name instead of overflowing the driver.
Id = Annotated[int, Path(ge=0, le=MAX_ID)]

SESSION_COOKIE = "docket_session"
CSRF_HEADER = "x-csrf-token"

# Function scope: the session commits after the route returns and before the answer is sent. With the default
# (request) scope FastAPI runs the commit after the response has gone, and a client could hold a 201 for a record
# that was never stored.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def csrf_token_sent(request: Request) -> str:
    """Async only to read a form body; everything that touches the database stays off the event loop (a
    blocking SQLite lock wait there would stall every request, including the one holding the lock)."""
    if request.method not in UNSAFE_METHODS:
        return ""
    if token := request.headers.get(CSRF_HEADER):
        return token
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        return str((await read_form(request)).get("csrf_token", ""))
    if content_type.startswith("multipart/form-data"):
        # The upload stream is parsed as it arrives, so a plain form sends its token in the action URL.
        return request.query_params.get("csrf_token", "")
    return ""


def current_principal(request: Request, session: SessionDep,
                      csrf_sent: Annotated[str, Depends(csrf_token_sent)]) -> Principal:
    request.state.principal = principal = _authenticate(request, session, csrf_sent)
    return principal


API_PREFIX = "/api/"


def _authenticate(request: Request, session: Session, csrf_sent: str) -> Principal:
    """Two front doors, two principals: the API takes a token (or a signed-in browser's cookie, with its CSRF
    token); pages take the session cookie only, so a token sent to a page never reaches a page handler, which
    may assume a person."""
    authorization = request.headers.get("authorization")
    if authorization and request.url.path.startswith(API_PREFIX):
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("send the API token as 'Authorization: Bearer <token>'")
        try:
            with app_throttle(request.app).attempt("token", address=client_address(request)):
                return token_principal(session, token=token.strip())
        except TooManyAttempts as exc:
            raise HTTPException(429, exc.message, headers={"Retry-After": str(exc.retry_after)}) from None
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise Unauthorized("sign in, or send an API token as 'Authorization: Bearer <token>'")
    principal = session_principal(session, token=cookie)
    if request.method in UNSAFE_METHODS:
        if not hmac.compare_digest(csrf_sent.encode(), principal.csrf_token.encode()):
            raise Forbidden("the form is out of date (CSRF check failed); reload the page and try again")
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def writing_principal(principal: PrincipalDep) -> Principal:
    principal.require_write()
    return principal


WriterDep = Annotated[Principal, Depends(writing_principal)]


def owner_principal(principal: PrincipalDep) -> Principal:
    principal.require_owner()
    return principal


OwnerDep = Annotated[Principal, Depends(owner_principal)]


def current_client(client_id: Id, principal: PrincipalDep, session: SessionDep) -> Client:
    return get_client(session, workspace=principal.workspace, client_id=client_id)


def current_engagement(engagement_id: Id, request: Request, principal: PrincipalDep,
                       session: SessionDep) -> Engagement:
    return get_engagement(session, workspace=principal.workspace, engagement_id=engagement_id,
                          lock=request.method in UNSAFE_METHODS)


async def read_form(request: Request):
    """The form, parsed once per request (Starlette keeps it) and with bounds: a page form has a few dozen
    short fields, and files come in through the streamed upload, never through here."""
    form = await request.form(max_files=0, max_fields=200)
    for name, value in form.multi_items():
        if "\x00" in name or (isinstance(value, str) and "\x00" in value):
            raise Invalid("must not contain a NUL character", field=name)
    return form


async def form_data(request: Request) -> dict[str, str]:
    """A page form's fields, read here so that the route itself can be a plain (threadpool) function."""
    return {k: v for k, v in (await read_form(request)).items() if k != "csrf_token" and isinstance(v, str)}


FormDep = Annotated[dict[str, str], Depends(form_data)]
ClientDep = Annotated[Client, Depends(current_client)]
EngagementDep = Annotated[Engagement, Depends(current_engagement)]
StoreDep = Annotated[EvidenceStore, Depends(evidence_store)]
