from datetime import UTC, datetime

from fastapi import APIRouter, Request
from pydantic import ValidationError

from service.deps import EngagementDep, SessionDep, WriterDep
from service.errors import DomainError
from service.evidence.service import evidence_by_hash
from service.records.kinds import KINDS
from service.records.models import RecordIn
from service.records.service import append_record, describe, list_records
from service.web import redirect, render

router = APIRouter()


def _filters(request: Request) -> dict:
    params = request.query_params
    return {"kind": [k for k in params.getlist("kind") if k in KINDS], "q": params.get("q", "")[:200],
            "from": params.get("from", ""), "to": params.get("to", "")}


def _day(value: str, end: bool = False) -> datetime | None:
    try:
        day = datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        return None
    day = day.replace(tzinfo=UTC)
    return day.replace(hour=23, minute=59, second=59) if end else day


def timeline_context(request: Request, session, principal, engagement, *, cursor: str | None = None) -> dict:
    filters = _filters(request)
    records, next_cursor = list_records(
        session, engagement=engagement, kinds=filters["kind"], q=filters["q"],
        occurred_from=_day(filters["from"]), occurred_to=_day(filters["to"], end=True), cursor=cursor, limit=50)
    items = describe(session, engagement=engagement, records=records)
    files = evidence_by_hash(session, workspace=principal.workspace,
                             hashes=sorted({h for r in items for h in r.attachments}))
    return {"engagement": engagement, "items": items, "files": files, "next_cursor": next_cursor,
            "filters": filters, "form": {}, "errors": {}}


@router.post("/engagements/{engagement_id}/records")
async def add_record(request: Request, engagement: EngagementDep, principal: WriterDep, session: SessionDep):
    form = {k: v for k, v in (await request.form()).items() if k != "csrf_token"}
    body = {k: form[k] for k in ("summary", "details", "direction") if form.get(k)}
    if form.get("participants"):
        body["participants"] = [p.strip() for p in form["participants"].split(",") if p.strip()]
    occurred = form.get("occurred_at", "")
    errors: dict[str, str] = {}
    try:
        # The form's datetime-local field has no zone; the page labels it UTC.
        occurred_at = datetime.fromisoformat(occurred).replace(tzinfo=UTC) if occurred else None
        data = RecordIn(kind=form.get("kind", ""), occurred_at=occurred_at, body=body)
        append_record(session, workspace=principal.workspace, engagement=engagement, actor=principal.actor,
                      data=data)
    except ValidationError as exc:
        for e in exc.errors():
            errors.setdefault(str(e["loc"][-1] if e["loc"] else "kind"), e["msg"].removeprefix("Value error, "))
    except DomainError as exc:
        errors[(exc.field or "kind").split(".")[-1]] = exc.message
    except ValueError:
        errors["occurred_at"] = "is not a date and time"
    if errors:
        context = timeline_context(request, session, principal, engagement)
        context.update(form=form, errors=errors)
        return render(request, "engagements/detail.html", context, block="record_form", status_code=422)
    return redirect(request, f"/engagements/{engagement.id}")
