from fastapi import APIRouter, Request
from pydantic import ValidationError

from service.clients.service import list_clients
from service.deps import EngagementDep, FormDep, PrincipalDep, SessionDep, WriterDep
from service.engagements.models import EngagementCreate, Jurisdiction, NoticeForm, RateUnit
from service.engagements.panels import ledger_context
from service.engagements.service import create_engagement, list_engagements
from service.errors import DomainError
from service.facts.compute import FactsInputs
from service.facts.service import engagement_facts, facts_inputs
from service.ledger.receipts import share_checkpoint
from service.ledger.verify import verify_engagement
from service.money import parse_hundredths
from service.records.pages import engagement_page_context, timeline_context
from service.web import form_int, is_htmx, redirect, render

router = APIRouter()


def facts_by_engagement(session, principal, engagements, inputs: FactsInputs | None = None) -> dict:
    """Each listed engagement's facts, for the table's money and flags (cached by tree size and day, so a
    dashboard visit recomputes only the engagements that grew since the day began); the workspace's rates and
    thresholds are read once for all of them."""
    inputs = inputs or facts_inputs(session, principal.workspace)
    return {e.id: engagement_facts(session, workspace=principal.workspace, engagement=e, inputs=inputs)
            for e, _ in engagements}


@router.get("/")
def dashboard(request: Request, principal: PrincipalDep, session: SessionDep):
    engagements = list_engagements(session, workspace=principal.workspace)
    return render(request, "engagements/dashboard.html",
                  {"engagements": engagements, "facts": facts_by_engagement(session, principal, engagements)})


def _form_context(session, principal, form: dict, errors: dict) -> dict:
    return {"form": form, "errors": errors, "clients": list_clients(session, workspace=principal.workspace),
            "rate_units": list(RateUnit), "notice_forms": list(NoticeForm), "jurisdictions": list(Jurisdiction)}


@router.get("/engagements/new")
def new_engagement_page(request: Request, principal: WriterDep, session: SessionDep, client_id: int | None = None):
    return render(request, "engagements/new.html", _form_context(session, principal, {"client_id": client_id}, {}))


@router.post("/engagements")
def new_engagement(request: Request, principal: WriterDep, session: SessionDep, form: FormDep):
    data = {k: v for k, v in form.items() if v != ""}
    if "rate" in data:
        # People type "450.00"; the API takes minor units.
        try:
            data["rate_minor"] = parse_hundredths(data.pop("rate"))
        except ValueError:
            data["rate_minor"] = "not a number"
    for number in ("client_id", "notice_days", "payment_terms_days"):
        # What is not a whole number stays text, for the model to name the field.
        if number in data and (value := form_int(data[number])) is not None:
            data[number] = value
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
    if is_htmx(request):
        context = timeline_context(request, session, principal, engagement, cursor=cursor)
        return render(request, "engagements/detail.html", context, block="more" if cursor else "timeline")
    return render(request, "engagements/detail.html", engagement_page_context(request, session, principal, engagement))


@router.get("/engagements/{engagement_id}/verify")
def verify_page(request: Request, engagement: EngagementDep, principal: PrincipalDep, session: SessionDep):
    """Re-hashes the whole ledger, so the page asks for it after loading rather than on every view."""
    report = verify_engagement(session, workspace=principal.workspace, engagement=engagement)
    if is_htmx(request):
        return render(request, "engagements/detail.html", {"engagement": engagement, "report": report},
                      block="verify")
    return render(request, "engagements/detail.html",
                  engagement_page_context(request, session, principal, engagement, report=report))


@router.post("/engagements/{engagement_id}/receipt")
def share_receipt(request: Request, engagement: EngagementDep, principal: WriterDep, session: SessionDep,
                  form: FormDep):
    """Signs the ledger as it stands and records who the receipt is for (a `checkpoint_shared` record): the
    page's "Copy receipt" button posts here, then puts the returned text on the clipboard."""
    recipient = form.get("recipient", "").strip()[:500]
    method = form.get("method", "").strip()[:500] or "copied from the engagement page"
    errors = {} if recipient else {"recipient": "say who the receipt is for"}
    receipt = None
    if not errors:
        receipt = share_checkpoint(session, principal=principal, engagement=engagement, recipient=recipient,
                                   method=method)
    shown = {"receipt": receipt, "receipt_errors": errors, "receipt_form": form}
    status = 422 if errors else 200
    if is_htmx(request):
        return render(request, "engagements/detail.html",
                      {"engagement": engagement, **shown, **ledger_context(session, principal, engagement)},
                      block="ledger", status_code=status)
    return render(request, "engagements/detail.html",
                  engagement_page_context(request, session, principal, engagement, **shown), status_code=status)
