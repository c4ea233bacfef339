"""What every request passes through before a route sees it: admission (shed load early, cap bodies before
authentication) and strict JSON. Each refusal is a clear 4xx or 503 that has done no work and stored nothing."""

import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
import orjson
from fastapi import HTTPException
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from service.config import Settings

# Percent-encoded or raw NUL: PostgreSQL text cannot hold it, and no path or search needs it.
_NUL = re.compile(rb"%00|\x00")
_EXEMPT = ("/static/", "/healthz")
log = logging.getLogger("docket")


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a body passes its cap, however the route reads it (an HTTPException, because
    FastAPI passes those through its body parsing untouched)."""

    def __init__(self, cap: int, multipart: bool):
        what = "an upload" if multipart else "a request body"
        super().__init__(413, f"{what} may be at most {_size(cap)}")


def _refuse(status: int, message: str, headers: dict | None = None) -> Response:
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


class Admission:
    """Plain ASGI, around everything of ours: it decides before anything is parsed, authenticated or queried.

    - At most `max_requests` requests of a process are worked on at once: that many threads, database
      connections and lock waits are provisioned for (see db.make_engine and main's lifespan), so that every
      admitted request can finish. A request over that waits up to `queue_seconds` for a turn, with at most
      `max_requests` others waiting; otherwise it is answered 503 with Retry-After at once, having done nothing.
      Without this, past ~40 clients the pools disagreed and requests timed out after their records were stored.
    - A body is capped before anyone reads it: uploads (multipart) at the upload limit, everything else at
      `max_body_kb`; a declared Content-Length over the cap is refused without reading a byte, a streamed one
      as soon as it passes.
    - A NUL in the path or query string is refused by name."""

    def __init__(self, app, settings: Settings):
        self.app = app
        self.limit = settings.max_requests
        self.queue_seconds = settings.queue_seconds
        self.body_cap = settings.max_body_kb * 1024
        self.upload_cap = settings.max_upload_bytes + 1024 * 1024  # room for the multipart framing
        self.waiting = 0
        self.turns: anyio.Semaphore | None = None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith(_EXEMPT):
            return await self.app(scope, receive, send)
        for part in ("path", "query"):
            if _NUL.search(scope.get("raw_path" if part == "path" else "query_string") or b""):
                # In the shape of a validation error, as OpenAPI documents every 422.
                return await JSONResponse({"detail": [{"loc": [part], "msg": "must not contain a NUL character",
                                                       "type": "value_error"}]}, 422)(scope, receive, send)
        headers = dict(scope["headers"])
        multipart = headers.get(b"content-type", b"").startswith(b"multipart/")
        cap = self.upload_cap if multipart else self.body_cap
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > cap:
            return await _refuse(413, BodyTooLarge(cap, multipart).detail)(scope, receive, send)
        if self.turns is None:
            self.turns = anyio.Semaphore(self.limit)
        if self.waiting >= self.limit:
            return await self._busy()(scope, receive, send)
        admitted = False
        self.waiting += 1
        try:
            with anyio.move_on_after(self.queue_seconds):
                await self.turns.acquire()
                admitted = True
        finally:
            self.waiting -= 1
        if not admitted:
            return await self._busy()(scope, receive, send)
        started = False

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, _capped(receive, cap, multipart), tracked_send)
        except Exception:
            # Answered here rather than left to the server: uvicorn drops a kept-alive connection after an
            # unhandled error, and the client's next request on it would fail too. Once the answer has started
            # there is nothing to do but let the connection go.
            if started:
                raise
            log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            await _refuse(500, "Docket could not complete this request, and kept nothing of it; it has been "
                               "logged")(scope, receive, send)
        finally:
            self.turns.release()

    def _busy(self) -> Response:
        return _refuse(503, "Docket is busy; try again in a moment", {"Retry-After": "2"})


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


def _capped(receive, cap: int, multipart: bool):
    seen = 0

    async def capped_receive():
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > cap:
                raise BodyTooLarge(cap, multipart)
        return message

    return capped_receive


class _StrictJsonRequest(Request):
    async def json(self) -> Any:
        """orjson refuses a lone surrogate (`"\\ud800"`), which the standard parser lets through to fail later
        as a 500 wherever the text is encoded; a NUL, which no database text column holds, is refused by name."""
        if not hasattr(self, "_json"):
            body = await self.body()
            value = orjson.loads(body)
            if b"\\u0000" in body and (where := _nul_at(value, ("body",))):
                # An HTTPException: FastAPI passes it through its body parsing; the detail has the shape of
                # a validation error, naming the field.
                raise HTTPException(422, [{"type": "value_error", "loc": list(where),
                                           "msg": "must not contain a NUL character"}])
            self._json = value
        return self._json


def _nul_at(value: Any, loc: tuple) -> tuple | None:
    if isinstance(value, str):
        return loc if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return loc
            if found := _nul_at(item, (*loc, key)):
                return found
    if isinstance(value, list):
        for n, item in enumerate(value):
            if found := _nul_at(item, (*loc, n)):
                return found
    return None


class StrictJsonRoute(APIRoute):
    """The API's route class: request bodies parsed by _StrictJsonRequest."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(_StrictJsonRequest(request.scope, request.receive))

        return strict
