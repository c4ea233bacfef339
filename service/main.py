"""create_app(): the two front doors (JSON API and pages) over one domain layer."""

from contextlib import asynccontextmanager
from urllib.parse import quote

import anyio
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SATimeoutError

from service.accounts import api as accounts_api
from service.accounts import pages as accounts_pages
from service.bundles import api as bundles_api
from service.bundles import pages as bundles_pages
from service.clients import api as clients_api
from service.clients import pages as clients_pages
from service.config import get_settings
from service.db import UNSAFE_METHODS, Busy, get_engine, is_lock_failure
from service.deps import API_PREFIX, owner_principal, writing_principal
from service.engagements import api as engagements_api
from service.engagements import pages as engagements_pages
from service.errors import DomainError, Invalid, Unauthorized
from service.evidence import api as evidence_api
from service.facts import api as facts_api
from service.facts import pages as facts_pages
from service.http import Admission
from service.idempotency import Replay, idempotency
from service.ledger import api as ledger_api
from service.records import api as records_api
from service.records import pages as records_pages
from service.web import WEB_DIR, is_htmx, render

SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
     b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """Plain ASGI, not BaseHTTPMiddleware: it only adds headers, and must not cost the append path."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (n, v) for n, v in SECURITY_HEADERS if n not in names]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _api_error(exc: DomainError) -> JSONResponse:
    if isinstance(exc, Invalid):
        loc = exc.field.split(".") if exc.field else []
        return JSONResponse({"detail": [{"loc": loc, "msg": exc.message, "type": "value_error"}]}, 422)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
    return JSONResponse({"detail": exc.message}, exc.status, headers=headers)


async def domain_error(request: Request, exc: DomainError) -> Response:
    if request.url.path.startswith(API_PREFIX):
        return _api_error(exc)
    if isinstance(exc, Unauthorized):
        target = "/login?next=" + quote(request.url.path)
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    return render(request, "error.html", {"status": exc.status, "message": exc.message}, status_code=exc.status)


def _busy(request: Request, exc: Exception) -> Response:
    """A lock or connection not had in time, or PostgreSQL breaking a deadlock: nothing was stored (the
    transaction rolled back), and the same request may simply be sent again."""
    if isinstance(exc, DBAPIError) and not is_lock_failure(exc):
        raise exc
    return JSONResponse({"detail": "Docket is busy; try again in a moment"}, 503, headers={"Retry-After": "2"})


@asynccontextmanager
async def _lifespan(app: FastAPI):
    # Threads for every admitted request and its dependencies (each may hold one while it waits for the
    # database), so that the thread pool is never the bottleneck the admission limit does not know about.
    limiter = anyio.to_thread.current_default_thread_limiter()
    limiter.total_tokens = max(limiter.total_tokens, 2 * get_settings().max_requests + 8)
    yield


_ERROR_SCHEMA = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
_VALIDATION_SCHEMA = {"$ref": "#/components/schemas/HTTPValidationError"}


def _error(description: str, schema: dict = _ERROR_SCHEMA) -> dict:
    # JSON whatever the route's own answer is (the checkpoint's is text), so given as content, not as a model.
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _document_errors(routes) -> None:
    """Each API route's error answers in OpenAPI, worked out from what the route depends on, so that a client
    generated from the schema knows them (and a new route gets them without a hand-kept list)."""
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        calls = {d.call for d in _flat(route.dependant)}
        errors = {401: _error("no valid token or session"),
                  429: _error("too many failed sign-ins or token checks from this address; see Retry-After"),
                  503: _error("busy; nothing was done; send it again after Retry-After seconds")}
        has_body = route.body_field is not None or "requestBody" in (route.openapi_extra or {})
        if "{" in route.path or has_body:
            errors[404] = _error("no such object in this workspace (the same answer whether it exists elsewhere)")
        if "{" in route.path or has_body or route.dependant.query_params:
            errors[422] = _error("a parameter or the body is not valid; each error names its field",
                                 _VALIDATION_SCHEMA)
        if calls & {writing_principal, owner_principal}:
            errors[403] = _error("this token or account may read but not change this workspace")
        if idempotency in calls:
            errors[409] = _error("this Idempotency-Key was already used for a different request")
        if route.methods & UNSAFE_METHODS:
            errors[413] = _error("the request body is larger than allowed")
        for status, response in errors.items():
            route.responses.setdefault(status, response)


def _flat(dependant):
    for sub in dependant.dependencies:
        yield sub
        yield from _flat(sub)


def create_app(engine: Engine | None = None) -> FastAPI:
    app = FastAPI(title="Docket", version="1", docs_url="/api/docs", redoc_url=None, lifespan=_lifespan,
                  openapi_url="/api/openapi.json",
                  description="A tamper-evident record of client engagements. Authenticate with "
                              "`Authorization: Bearer <token>` (create one with `docket token create`).")
    app.state.engine = engine or get_engine()
    api = APIRouter(prefix="/api/v1")
    for module in (accounts_api, clients_api, engagements_api, records_api, evidence_api, ledger_api,
                   bundles_api, facts_api):
        _document_errors(module.router.routes)
        api.include_router(module.router)
    app.include_router(api)
    for module in (accounts_pages, clients_pages, engagements_pages, records_pages, bundles_pages, facts_pages):
        app.include_router(module.router, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(Replay, lambda request, exc: exc.response())
    for busy in (Busy, SATimeoutError, DBAPIError):  # OperationalError is a DBAPIError
        app.add_exception_handler(busy, _busy)
    app.add_middleware(Admission, settings=get_settings())
    app.add_middleware(SecurityHeaders)

    @app.get("/healthz", include_in_schema=False)
    def healthz():
        return {"ok": True}

    return app
