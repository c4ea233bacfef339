from fastapi import APIRouter, Request
from pydantic import ValidationError

from service.clients.service import get_client, list_clients
from service.deps import EngagementDep, PrincipalDep, SessionDep, WriterDep
from service.engagements.models import EngagementCreate, Jurisdiction, NoticeForm, RateUnit
from service.engagements.service import create_engagement, list_engagements
from service.errors import DomainError
from service.ledger import service as ledger
from service.records.pages import timeline_context
from service.web import redirect, render

router = APIRouter()


@router.get("/")
def dashboard(request: Request, principal: PrincipalDep, session: SessionDep):
    return render(request, "engagements/dashboard.html",
                  {"engagements": list_engagements(session, workspace=principal.workspace)})


def _form_context(session, principal, form: dict, errors: dict) -> dict:
    return {"form": form, "errors": errors, "clients": list_clients(session, workspace=principal.workspace),
            "rate_units": list(RateUnit), "notice_forms": list(NoticeForm), "jurisdictions": list(Jurisdiction)}


@router.get("/engagements/new")
def new_engagement_page(request: Request, principal: WriterDep, session: SessionDep, client_id: int | None = None):
    return render(request, "engagements/new.html", _form_context(session, principal, {"client_id": client_id}, {}))


@router.post("/engagements")
async def new_engagement(request: Request, principal: WriterDep, session: SessionDep):
    form = dict(await request.form())
    form.pop("csrf_token", None)
    data = {k: v for k, v in form.items() if v != ""}
    if "rate" in data:
        # People type "450.00"; the API takes minor units.
        try:
            data["rate_minor"] = round(float(data.pop("rate")) * 100)
        except ValueError:
            data["rate_minor"] = "not a number"
    for number in ("client_id", "notice_days", "payment_terms_days"):
        if number in data and str(data[number]).lstrip("-").isdigit():
            data[number] = int(data[number])
    data["deliverables"] = [d.strip() for d in str(data.get("deliverables", "")).splitlines() if d.strip()]
    errors = {}
    try:
        engagement = create_engagement(session, workspace=principal.workspace, actor=principal.actor,
                                       data=EngagementCreate.model_validate(data))
    except ValidationError as exc:
        errors = {str(e["loc"][0]) if e["loc"] else "form": e["msg"] for e in exc.errors()}
    except DomainError as exc:
        errors = {exc.field or "client_id": exc.message}
    if errors:
        if "rate_minor" in errors:
            errors["rate"] = errors.pop("rate_minor")
        return render(request, "engagements/new.html", _form_context(session, principal, form, errors),
                      block="engagement_form", status_code=422)
    return redirect(request, f"/engagements/{engagement.id}")


@router.get("/engagements/{engagement_id}")
def engagement_page(request: Request, engagement: EngagementDep, principal: PrincipalDep, session: SessionDep,
                    cursor: str | None = None):
    """The whole page; for htmx, just the filtered timeline, or with a cursor its next page."""
    client = get_client(session, workspace=principal.workspace, client_id=engagement.client_id)
    context = timeline_context(request, session, principal, engagement, cursor=cursor)
    context.update(client=client, key_id=ledger.key_id(principal.workspace))
    return render(request, "engagements/detail.html", context, block="more" if cursor else "timeline")
