from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from service.deps import EngagementDep, FormDep, OwnerDep, PrincipalDep, SessionDep
from service.engagements.context import engagement_page, render_page
from service.errors import DomainError, Invalid
from service.facts.compute import flags
from service.facts.models import RateIn, Series, Signal
from service.facts.rates import SERIES_LABEL, add_rate, list_rates, parse_percent
from service.facts.service import engagement_facts
from service.facts.signals import SIGNALS
from service.facts.thresholds import ThresholdsIn, list_thresholds, set_thresholds
from service.web import form_errors, form_int, is_htmx, redirect, render, templates

router = APIRouter()
# The record's own address, which shows it on the timeline from its day: a `#r{index}` anchor alone would miss
# a record beyond the timeline's first page.
APP_RECORD_URL = "/engagements/{engagement_id}/records/{index}"


templates.env.globals["facts_flags"] = flags
# The work table's months in words: '2026-07' is July 2026.
templates.env.globals["month_name"] = lambda key: date.fromisoformat(key + "-01").strftime("%b %Y")


def response_chart(signal: Signal) -> dict | None:
    """Bars for the client's response times, in hours, against the amber and red lines: drawn as inline SVG by the
    server, so the picture needs no script and prints."""
    if not signal.samples:
        return None
    hours = [s / 3600 for s in signal.samples]
    top = max(max(hours), signal.red) * 1.1
    width, height, gap = 320, 120, 4
    bar = max(4, (width - gap * len(hours)) / len(hours))
    bars = [{"x": round(i * (bar + gap), 1), "w": round(bar, 1), "h": round(h / top * height, 1),
             "y": round(height - h / top * height, 1), "hours": round(h),
             "level": "red" if h >= signal.red else "amber" if h >= signal.amber else "ok",
             "cite": cite}
            for i, (h, cite) in enumerate(zip(hours, signal.records, strict=True))]
    return {"width": round(len(hours) * (bar + gap), 1), "height": height, "bars": bars,
            "amber_y": round(height - signal.amber / top * height, 1),
            "red_y": round(height - signal.red / top * height, 1)}


@router.get("/engagements/{engagement_id}/facts")
def facts_page(request: Request, engagement: EngagementDep, principal: PrincipalDep, session: SessionDep,
               as_of: date | None = None):
    facts = engagement_facts(session, workspace=principal.workspace, engagement=engagement, as_of=as_of)
    by_signal = {s.signal: s for s in facts.signals}
    return render(request, "facts/page.html", {
        "engagement": engagement, "facts": facts, "record_url": APP_RECORD_URL,
        "chart": response_chart(by_signal["response_time"])})


@router.get("/engagements/{engagement_id}/facts/panel")
def facts_panel(request: Request, engagement: EngagementDep, principal: PrincipalDep, session: SessionDep):
    """The engagement page's facts panel, asked for after the page loads: cold facts read the whole ledger, and
    the timeline should not wait for them. Without JavaScript the panel links to the facts page instead."""
    if not is_htmx(request):
        return redirect(request, f"/engagements/{engagement.id}/facts")
    facts = engagement_facts(session, workspace=principal.workspace, engagement=engagement)
    page = engagement_page(session, principal.workspace, engagement, facts=facts)
    return render_page(request, page, block="facts_panel")


@router.get("/engagements/{engagement_id}/facts/statement")
def statement_page(engagement: EngagementDep, principal: PrincipalDep, session: SessionDep,
                   as_of: date | None = None):
    """The statement alone, self-contained and printable: the same file bundles carry as data/statement.html."""
    facts = engagement_facts(session, workspace=principal.workspace, engagement=engagement, as_of=as_of)
    # Its own policy: the file carries its style inline so that it stands alone offline; it runs no script.
    html = templates.get_template("facts/statement.html").render(facts=facts, record_url=APP_RECORD_URL)
    return HTMLResponse(html, headers={
        "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                                   "form-action 'none'; frame-ancestors 'none'"})



# Settings: thresholds and reference rates


def _settings(request: Request, session, principal, *, threshold_form=None, threshold_errors=None, rate_form=None,
              rate_errors=None, status_code: int = 200, block: str | None = None):
    thresholds = list_thresholds(session, workspace=principal.workspace)
    return render(request, "facts/settings.html", {
        "thresholds": thresholds, "rates": list_rates(session, workspace=principal.workspace),
        "series": [(s.value, SERIES_LABEL[s]) for s in Series],
        "threshold_form": threshold_form or {f"{t.signal}.{k}": getattr(t, k) for t in thresholds
                                             for k in ("amber", "red")},
        "threshold_errors": threshold_errors or {}, "rate_form": rate_form or {}, "rate_errors": rate_errors or {},
    }, status_code=status_code, block=block)


@router.get("/settings/facts")
def facts_settings_page(request: Request, principal: PrincipalDep, session: SessionDep):
    return _settings(request, session, principal)


@router.post("/settings/facts/thresholds")
def save_thresholds(request: Request, principal: OwnerDep, session: SessionDep, form: FormDep):
    data: dict[str, dict[str, object]] = {}
    errors: dict[str, str] = {}
    for name in SIGNALS:
        for level in ("amber", "red"):
            key = f"{name}.{level}"
            value = form_int(form.get(key, ""))
            if value is None:
                errors[key] = "enter a whole number"
            data.setdefault(name, {})[level] = value
    if not errors:
        try:
            parsed = ThresholdsIn.model_validate(data)
        except ValidationError as exc:
            errors = form_errors(exc)
    if errors:
        return _settings(request, session, principal, threshold_form=form, threshold_errors=errors,
                         status_code=422, block="thresholds_form")
    set_thresholds(session, workspace=principal.workspace, actor=principal.actor, data=parsed)
    return redirect(request, "/settings/facts")


@router.post("/settings/facts/rates")
def save_rate(request: Request, principal: OwnerDep, session: SessionDep, form: FormDep):
    errors: dict[str, str] = {}
    data: dict[str, object] = {k: form.get(k, "").strip() for k in ("series", "effective_on", "source")}
    try:
        data["rate_bp"] = parse_percent(form.get("rate_percent", ""))
    except Invalid as exc:
        errors.update(form_errors(exc))
        data["rate_bp"] = 0
    try:
        parsed = RateIn.model_validate(data)
    except ValidationError as exc:
        errors = {**form_errors(exc, default="series", rename={"rate_bp": "rate_percent"}), **errors}
    if not errors:
        try:
            add_rate(session, workspace=principal.workspace, actor=principal.actor, data=parsed)
        except DomainError as exc:
            errors = form_errors(exc, default="series")
    if errors:
        return _settings(request, session, principal, rate_form=form, rate_errors=errors, status_code=422,
                         block="rate_form")
    return redirect(request, "/settings/facts")
