"""The timeline on the engagement page: reading, quick-add with each kind's own fields, amend and retract."""

import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from service.config import get_settings
from service.deps import EngagementDep, FormDep, Id, PrincipalDep, SessionDep, StoreDep, WriterDep
from service.engagements.context import Correction, engagement_page, render_page, timeline_filters
from service.errors import DomainError
from service.evidence.service import INLINE_TYPES, register_evidence
from service.evidence.upload import receive_upload
from service.money import fmt_money, parse_hundredths
from service.records.kinds import KINDS
from service.records.models import RecordIn
from service.records.service import (
    append_record,
    describe,
    get_record,
)
from service.times import utcnow
from service.web import form_datetime, form_errors, form_int, is_htmx, redirect, templates

router = APIRouter()

# Images the timeline previews: the image types the evidence endpoint serves inline (never SVG, which can carry
# script).
PREVIEW_TYPES = frozenset(t for t in INLINE_TYPES if t.startswith("image/"))


KIND_FIELDS = {name: kind.form for name, kind in KINDS.items()}
COMMON_FIELDS = ("summary", "details", "direction", "participants")


def form_values(kind: str, body: dict) -> dict[str, str]:
    """A body as the strings its form fields show (the inverse of `_kind_body`): the amend form starts from the
    record's current version."""
    values = {k: str(body[k]) for k in ("summary", "details", "direction") if body.get(k)}
    values["participants"] = ", ".join(body.get("participants", []))
    for f in KIND_FIELDS.get(kind, []):
        value = body.get(f.key)
        if value is None:
            continue
        if f.control == "amount":
            values[f.name] = f"{Decimal(value) / 100:.2f}"
        elif f.control == "yesno":
            values[f.name] = "yes" if value else "no"
        elif f.control == "datetime-local":
            values[f.name] = datetime.fromisoformat(str(value).replace("Z", "+00:00")).strftime("%Y-%m-%dT%H:%M")
        elif f.control == "json":
            values[f.name] = json.dumps(value)
        else:
            values[f.name] = str(value)
    return values


def record_facts(kind: str, body: dict, currency: str) -> list[tuple[str, str]]:
    """(label, value) of the fields the record's kind shows on the timeline, worked out here rather than in the
    template: the timeline renders fifty of these per page."""
    facts = KINDS[kind].shown(KINDS[kind].timeline, body)
    if body.get("value_minor") is not None:
        facts.append(("Value", fmt_money(body["value_minor"], body.get("currency") or currency)))
    return facts


templates.env.globals.update(KIND_FIELDS=KIND_FIELDS, form_values=form_values, record_facts=record_facts,
                             inline_types=INLINE_TYPES, preview_types=PREVIEW_TYPES)


def _common_body(form: dict) -> dict:
    """The fields every kind has, from a quick-add or amend form."""
    body = {k: form[k].strip() for k in ("summary", "details", "direction") if form.get(k, "").strip()}
    participants = [p.strip() for p in form.get("participants", "").split(",") if p.strip()]
    if participants:
        body["participants"] = participants
    return body


def _kind_body(kind: str, form: dict, errors: dict) -> dict:
    """The kind's own fields from the form, typed; what does not parse goes to `errors` under its field name."""
    body: dict = {}
    for f in KIND_FIELDS[kind]:
        raw = form.get(f.name, "").strip()
        if not raw:
            continue
        if f.key == "awaits_reply" and form.get("direction") != "out":
            continue  # the form asks it of every contact; it means something only for an outbound one
        if f.control == "amount":
            try:
                body[f.key] = parse_hundredths(raw)
            except ValueError:
                errors[f.name] = "is not an amount (like 1250.00)"
        elif f.control == "datetime-local":
            try:
                body[f.key] = form_datetime(raw).isoformat()
            except ValueError:
                errors[f.name] = "is not a date and time"
        elif f.control == "number":
            if (number := form_int(raw)) is not None:
                body[f.key] = number
            else:
                errors[f.name] = "is not a whole number"
        elif f.control == "json":
            try:
                body[f.key] = json.loads(raw)
            except (ValueError, RecursionError):  # RecursionError: brackets nested thousands deep
                errors[f.name] = 'is not JSON (like {"rate_minor": 50000})'
        elif f.control == "currency":
            body[f.key] = raw.upper()
        elif f.control == "yesno":
            if raw in ("yes", "no"):
                body[f.key] = raw == "yes"
            else:
                errors[f.name] = "choose yes or no"
        else:
            body[f.key] = raw
    return body


def _form_field(kind: str):
    """An error's field (`body.amount_minor`, `body.body.due_on`) as the form field of `kind` that shows it."""
    def name(field: str) -> str:
        key = field.rsplit(".", 1)[-1]
        return next((f.name for f in KIND_FIELDS.get(kind, []) if f.key == key), key)
    return name


async def _attachments(request: Request) -> list[str]:
    """The `attachments` hidden inputs app.js adds after each upload: a list, which FormDep's dict cannot hold."""
    return [v for v in (await request.form()).getlist("attachments") if isinstance(v, str) and v]


AttachmentsDep = Annotated[list[str], Depends(_attachments)]


@router.post("/engagements/{engagement_id}/records")
def add_record(request: Request, engagement: EngagementDep, principal: WriterDep, session: SessionDep,
               form: FormDep, attachments: AttachmentsDep):
    kind = form.get("kind", "")
    if form.get("show_fields"):
        # The no-JavaScript way to switch the form to another kind: the page again, with what was typed.
        return _page_with_form(request, session, principal, engagement, form, attachments)
    errors: dict[str, str] = {}
    body = _common_body(form)
    if kind in KIND_FIELDS:
        body.update(_kind_body(kind, form, errors))
    ref = form_int(form.get("refs", ""))
    refs = [] if ref is None else [ref]
    occurred = form.get("occurred_at", "")
    try:
        occurred_at = form_datetime(occurred) if occurred else None
    except ValueError:
        occurred_at, errors["occurred_at"] = None, "is not a date and time"
    if not errors:
        try:
            data = RecordIn(kind=kind, occurred_at=occurred_at, body=body, refs=refs, attachments=attachments)
            append_record(session, workspace=principal.workspace, engagement=engagement, actor=principal.actor,
                          data=data)
        except (ValidationError, DomainError) as exc:
            errors = form_errors(exc, default="kind", rename=_form_field(kind))
    if errors:
        return _page_with_form(request, session, principal, engagement, form, attachments, errors,
                               block="record_form", status_code=422)
    return redirect(request, f"/engagements/{engagement.id}")


def _page_with_form(request, session, principal, engagement, form: dict, attachments: list[str],
                    errors: dict | None = None, *, block: str | None = None, status_code: int = 200):
    """The engagement page with the quick-add form holding what was typed and attached (for htmx, the form's
    `block` alone)."""
    whole = not (block and is_htmx(request))
    page = engagement_page(session, principal.workspace, engagement, whole=whole, form=form, errors=errors,
                           attachments=attachments, timeline=timeline_filters(request.query_params) if whole else None)
    return render_page(request, page, block=block, status_code=status_code)


@router.post("/engagements/{engagement_id}/records/attach")
async def attach_file(request: Request, engagement: EngagementDep, principal: WriterDep, session: SessionDep,
                      store: StoreDep):
    """Attaching a file without JavaScript: the quick-add form's Upload button sends the whole form as
    multipart here; the file streams into the evidence store through the API's own upload code, and the page
    comes back with the form as it was plus the file attached. (With JavaScript, app.js uploads each file to
    the API as it is chosen, with progress.)"""
    # As in the evidence API: end the transaction (and on SQLite its write lock on the engagement) before a
    # slow upload streams in.
    await run_in_threadpool(session.commit)
    try:
        upload = await receive_upload(request, store, get_settings().max_upload_bytes)
    except DomainError as exc:
        # The stream is spent, and with it what was typed; say what went wrong where files are attached.
        return await run_in_threadpool(_page_with_form, request, session, principal, engagement, {}, [],
                                       {"attachments": exc.message}, status_code=exc.status)
    return await run_in_threadpool(_attached, request, session, principal, engagement, upload)


def _attached(request, session, principal, engagement, upload):
    with upload.kept():
        register_evidence(session, workspace=principal.workspace, sha256=upload.sha256, size=upload.size,
                          media_type=upload.media_type, filename=upload.filename)
    form = {k: v for k, v in upload.fields.items() if k not in ("csrf_token", "attachments", "attached")}
    # A multipart form's repeated `attachments` inputs arrive as one field here, so the page also keeps the
    # files attached so far in one `attached` field.
    attached = [h for h in upload.fields.get("attached", "").split(",") if h]
    if upload.sha256 not in attached:
        attached.append(upload.sha256)
    return _page_with_form(request, session, principal, engagement, form, attached)


@router.get("/engagements/{engagement_id}/records/fields")
def record_fields(request: Request, engagement: EngagementDep, principal: WriterDep, session: SessionDep,
                  kind: str = "call"):
    """The quick-add form's fields for one kind: for htmx, the `kind_fields` block; without JavaScript, the
    page with the form switched to that kind (the form's "Show fields" button comes here)."""
    if is_htmx(request):
        page = engagement_page(session, principal.workspace, engagement, add=kind)
        return render_page(request, page, block="kind_fields")
    return redirect(request, f"/engagements/{engagement.id}?add={kind}#record_form")


def _timeline_at(engagement, record) -> str:
    """The timeline from the record's day, so that a record far down a long ledger is on the first page."""
    return f"/engagements/{engagement.id}?from={record.occurred_at.date().isoformat()}#r{record.idx}"


def _correct(request, session, principal, engagement, index: int, form: dict, which: str):
    target_row = get_record(session, engagement=engagement, index=index)
    target = describe(session, engagement=engagement, records=[target_row])[0]
    reason = form.get("reason", "").strip()
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = "say why (it stays on the record)"
    body: dict = {"reason": reason}
    if which == "amendment":
        # The form holds every field a person can edit; anything else in the current version (fields of a
        # system-written body, say) carries over unchanged. The salt is the server's and goes (DESIGN §4.1).
        editable = {*COMMON_FIELDS, *(f.key for f in KIND_FIELDS[target.kind]), "salt"}
        corrected = {k: v for k, v in (target.current or {}).items() if k not in editable}
        corrected.update(_common_body(form))
        corrected.update(_kind_body(target.kind, form, errors))
        if not corrected.get("summary"):
            errors["summary"] = "is required"
        body["body"] = corrected
    if not errors:
        try:
            append_record(session, workspace=principal.workspace, engagement=engagement, actor=principal.actor,
                          data=RecordIn(kind=which, occurred_at=utcnow(), body=body, refs=[index]))
        except (ValidationError, DomainError) as exc:
            # An amended body that does not fit its kind names `body.body.<field>`: shown beside that field.
            errors = form_errors(exc, default="reason", rename=_form_field(target.kind))
    if errors:
        page = engagement_page(session, principal.workspace, engagement, record=index,
                               correction=Correction(index, form, errors, which))
        # Without JavaScript: the record's own page again, with the form and its errors.
        return render_page(request, page, block="record", status_code=422, template="engagements/record.html")
    if is_htmx(request):
        # The record, and the ledger panel out of band: the correction grew the ledger and moved its root.
        page = engagement_page(session, principal.workspace, engagement, record=index, ledger_panel=True, oob=True)
        return render_page(request, page, block=["record", "ledger"])
    return redirect(request, _timeline_at(engagement, target_row))


@router.post("/engagements/{engagement_id}/records/{index}/amend")
def amend_record(request: Request, index: Id, engagement: EngagementDep, principal: WriterDep,
                 session: SessionDep, form: FormDep):
    return _correct(request, session, principal, engagement, index, form, "amendment")


@router.post("/engagements/{engagement_id}/records/{index}/retract")
def retract_record(request: Request, index: Id, engagement: EngagementDep, principal: WriterDep,
                   session: SessionDep, form: FormDep):
    return _correct(request, session, principal, engagement, index, form, "retraction")


@router.get("/engagements/{engagement_id}/records/{index}/correct")
def correct_page(request: Request, index: Id, engagement: EngagementDep, principal: WriterDep,
                 session: SessionDep):
    """The amend and retract forms of one record: fetched when asked for (htmx swaps them into the record),
    not rendered for every record on every page; without JavaScript, a page of their own."""
    page = engagement_page(session, principal.workspace, engagement, record=index, correction=Correction(index))
    return render_page(request, page, block="record", template="engagements/record.html")


@router.get("/engagements/{engagement_id}/records/{index}")
def record_page(request: Request, index: Id, engagement: EngagementDep, principal: PrincipalDep,
                session: SessionDep):
    """One record (htmx: its block, as the amend form's Cancel asks); a plain visit goes to it on the timeline."""
    if is_htmx(request):
        page = engagement_page(session, principal.workspace, engagement, record=index)
        return render_page(request, page, block="record")
    return redirect(request, _timeline_at(engagement, get_record(session, engagement=engagement, index=index)))
