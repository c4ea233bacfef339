import re
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.datastructures import FormData

from service.bundles.service import parse_subset, prepare_bundle
from service.bundles.writer import bundle_filename, stream_bundle
from service.clients.service import get_client
from service.deps import EngagementDep, SessionDep, StoreDep, WriterDep
from service.errors import DomainError
from service.web import render

router = APIRouter()
_RANGE = re.compile(r"\s*([0-9]+)\s*(?:-\s*([0-9]+)\s*)?")


def _indices(text: str, tree_size: int) -> list[int]:
    """'3, 7, 12-15' as people type it."""
    indices: list[int] = []
    for part in filter(str.strip, text.split(",")):
        match = _RANGE.fullmatch(part)
        if not match:
            raise ValueError(f"{part.strip()!r} is not a record number or a range like 12-15")
        first, last = int(match[1]), int(match[2] or match[1])
        if last < first or last >= tree_size:
            raise ValueError(f"{part.strip()} is not within records 0 to {tree_size - 1}")
        indices += range(first, last + 1)
    return indices


def _day(text: str, field: str, errors: dict) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[field] = "is not a date (YYYY-MM-DD)"
        return None


def _page(request: Request, session, principal, engagement, form: dict, errors: dict, status_code: int = 200):
    client = get_client(session, workspace=principal.workspace, client_id=engagement.client_id)
    return render(request, "bundles/export.html",
                  {"engagement": engagement, "client": client, "form": form, "errors": errors},
                  status_code=status_code)


@router.get("/engagements/{engagement_id}/bundle")
def export_dialog(request: Request, engagement: EngagementDep, principal: WriterDep, session: SessionDep):
    return _page(request, session, principal, engagement, {"kind": []}, {})


async def _form(request: Request) -> FormData:
    # Read here so that the route, which works the database, runs in the threadpool and not on the event loop.
    return await request.form()


@router.post("/engagements/{engagement_id}/bundle")
def export_bundle(request: Request, engagement: EngagementDep, principal: WriterDep, session: SessionDep,
                  store: StoreDep, data: Annotated[FormData, Depends(_form)]):
    form = {"from": str(data.get("from", "")).strip(), "to": str(data.get("to", "")).strip(),
            "kind": [str(k) for k in data.getlist("kind") if k], "indices": str(data.get("indices", "")),
            "recipient": str(data.get("recipient", "")).strip()[:200]}
    errors: dict[str, str] = {}
    occurred_from, occurred_to = _day(form["from"], "from", errors), _day(form["to"], "to", errors)
    try:
        indices = _indices(form["indices"], engagement.tree_size)
    except ValueError as exc:
        errors["indices"] = str(exc)
    if not errors:
        try:
            subset = parse_subset(occurred_from=occurred_from, occurred_to=occurred_to, kinds=form["kind"],
                                  indices=indices, engagement=engagement)
            plan = prepare_bundle(session, workspace=principal.workspace, engagement=engagement,
                                  actor=principal.actor, subset=subset, recipient=form["recipient"] or None,
                                  store=store)
        except DomainError as exc:
            errors[{"index": "indices"}.get(exc.field or "", exc.field or "subset")] = exc.message
    if errors:
        return _page(request, session, principal, engagement, form, errors, status_code=422)
    # Commit before streaming: the download may take minutes and must not hold the database (api.py).
    session.commit()
    return StreamingResponse(stream_bundle(plan), media_type="application/zip",
                             headers={"Content-Disposition": f'attachment; filename="{bundle_filename(plan)}"'})
