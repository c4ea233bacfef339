from fastapi import APIRouter, Request
from pydantic import ValidationError

from service.clients.models import ClientCreate
from service.clients.service import create_client, list_clients
from service.deps import ClientDep, FormDep, PrincipalDep, SessionDep, WriterDep
from service.engagements.context import facts_by_engagement
from service.engagements.service import list_engagements
from service.facts.service import client_signals, facts_inputs
from service.web import form_errors, redirect, render

router = APIRouter()


@router.get("/clients")
def clients_page(request: Request, principal: PrincipalDep, session: SessionDep):
    return render(request, "clients/list.html", {"clients": list_clients(session, workspace=principal.workspace)})


@router.get("/clients/new")
def new_client_page(request: Request, principal: WriterDep):
    return render(request, "clients/new.html", {"form": {}, "errors": {}})


@router.post("/clients")
def new_client(request: Request, principal: WriterDep, session: SessionDep, form: FormDep):
    contact_name, contact_email = form.get("contact_name", ""), form.get("contact_email", "")
    contacts = [{"name": contact_name, "email": contact_email or None}] if contact_name.strip() else []
    try:
        data = ClientCreate(name=form.get("name", ""), notes=form.get("notes", ""), contacts=contacts)
    except ValidationError as exc:
        return render(request, "clients/new.html", {"form": form, "errors": form_errors(exc)}, block="client_form",
                      status_code=422)
    client = create_client(session, workspace=principal.workspace, data=data)
    return redirect(request, f"/clients/{client.id}")


@router.get("/clients/{client_id}")
def client_page(request: Request, client: ClientDep, principal: PrincipalDep, session: SessionDep):
    engagements = list_engagements(session, workspace=principal.workspace, client_id=client.id)
    inputs = facts_inputs(session, principal.workspace)
    return render(request, "clients/detail.html", {
        "client": client, "engagements": engagements,
        "facts": facts_by_engagement(session, principal, engagements, inputs),
        "signals": client_signals(session, workspace=principal.workspace, client=client, inputs=inputs),
        # With several engagements, a cited record is named by its engagement's title as well as its index.
        "titles": {e.id: e.title for e, _ in engagements} if len(engagements) > 1 else {}})
