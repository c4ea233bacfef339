"""What the engagement page shows (web/templates/engagements/detail.html): one typed context, built by one
function. The whole page fills every part; an htmx request renders one named block of the same template, and
fills only what that block reads, the rest left empty."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import groupby
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from service.accounts.models import Workspace
from service.accounts.service import Principal
from service.clients.models import Client
from service.clients.service import get_client
from service.engagements.models import Engagement
from service.evidence.models import Evidence
from service.evidence.service import evidence_by_hash
from service.facts.compute import FactsInputs
from service.facts.models import Facts
from service.facts.service import current_status, engagement_facts, facts_inputs
from service.ledger import service as ledger
from service.ledger.models import Checkpoint
from service.ledger.receipts import ShareReceipt
from service.ledger.report import Report
from service.records.kinds import CHARTED_FAMILIES, CORRECTIONS, KINDS
from service.records.models import RecordPublic
from service.records.service import (
    decode_cursor,
    describe,
    get_record,
    list_records,
    ref_candidates,
    weekly_activity,
)
from service.web import render

# The kinds a person adds from the page: Docket writes the system kinds, and corrections are made on a record.
FORM_KINDS = [k for k in KINDS.values() if not k.system and k.name not in CORRECTIONS]
TIMELINE_PAGE = 50


@dataclass
class Correction:
    """The amend and retract forms, open on record `index`; `open` names the one that holds `form` and its
    `errors` (after a refused correction)."""

    index: int
    form: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    open: str = ""


@dataclass
class EngagementPage:
    """Every name detail.html reads, each with the value that shows nothing, so that no block has to ask
    whether a name was given."""

    engagement: Engagement
    # The heading and the side panels.
    client: Client | None = None
    status: str = ""
    chart: dict[str, Any] | None = None
    facts: Facts | None = None  # asked for after the page loads (facts/panel): cold facts read the whole ledger
    # The ledger panel.
    key_id: str = ""
    checkpoint: Checkpoint | None = None
    report: Report | None = None  # asked for after the page loads: verifying re-hashes the whole ledger
    receipt: ShareReceipt | None = None
    receipt_form: dict[str, str] = field(default_factory=dict)
    receipt_errors: dict[str, str] = field(default_factory=dict)
    oob: bool = False  # the ledger panel swapped out of band, beside the record a correction changed
    # The timeline.
    filters: dict[str, Any] = field(default_factory=lambda: timeline_filters({}))
    days: list[tuple[date, list[RecordPublic]]] = field(default_factory=list)
    previous_day: date | None = None
    next_cursor: str | None = None
    files: dict[str, Evidence] = field(default_factory=dict)
    # The quick-add form: what was typed (with its kind), what was wrong with it, the files attached so far.
    form: dict[str, Any] = field(default_factory=lambda: {"kind": "call"})
    errors: dict[str, str] = field(default_factory=dict)
    form_files: dict[str, Evidence] = field(default_factory=dict)
    ref_candidates: list[tuple[int, str, str]] = field(default_factory=list)
    # One record: the `record` block, with its correction forms when they are open.
    r: RecordPublic | None = None
    correction: Correction | None = None

    def context(self) -> dict[str, Any]:
        """For the template: the fields, with the kinds the quick-add form offers and the one it shows."""
        return {**vars(self), "form_kinds": FORM_KINDS, "ref_kind": KINDS[self.form["kind"]]}


def render_page(request: Request, page: EngagementPage, *, block: str | list[str] | None = None,
                status_code: int = 200, template: str = "engagements/detail.html") -> HTMLResponse:
    """The engagement page, or the named block of it an htmx request asks for (the no-JavaScript page for
    correcting one record, engagements/record.html, reads the same context)."""
    return render(request, template, page.context(), block=block, status_code=status_code)


def timeline_filters(params: Mapping) -> dict[str, Any]:
    """The timeline's filters from the query string (a Starlette QueryParams, or a plain dict of one value each)."""
    kinds = params.getlist("kind") if hasattr(params, "getlist") else [params.get("kind", "")]
    return {"kind": [k for k in kinds if k in KINDS], "q": params.get("q", "")[:200],
            "from": params.get("from", ""), "to": params.get("to", "")}


def engagement_page(session: Session, workspace: Workspace, engagement: Engagement, *, whole: bool = False,
                    timeline: dict[str, Any] | None = None, cursor: str | None = None, ledger_panel: bool = False,
                    add: str = "call", form: Mapping[str, Any] | None = None, errors: dict[str, str] | None = None,
                    attachments: list[str] | None = None, record: int | None = None,
                    correction: Correction | None = None, **shown: Any) -> EngagementPage:
    """The engagement page, or the part of it a block shows: `whole` fills the heading, panels and timeline;
    `timeline` (its filters) the timeline alone, from `cursor`; `ledger_panel` the ledger panel; `add` the kind
    the quick-add form opens on, `form`, `errors` and `attachments` what it holds; `record` one record, with
    `correction` open on it. `shown` sets any other field (a verify report, a shared receipt)."""
    page = EngagementPage(engagement=engagement, correction=correction, **shown)
    if whole:
        page.status = current_status(session, workspace=workspace, engagement=engagement)
        page.chart = activity_chart(weekly_activity(session, engagement=engagement))
        timeline = timeline if timeline is not None else timeline_filters({})
    if whole or ledger_panel:
        # The client: the heading names it, and the receipt form suggests it as the recipient.
        page.client = get_client(session, workspace=workspace, client_id=engagement.client_id)
        page.key_id = ledger.key_id(workspace)
        page.checkpoint = ledger.last_signed_checkpoint(session, engagement=engagement)
    if timeline is not None:
        _fill_timeline(session, workspace, page, timeline, cursor)
    kind = (form or {}).get("kind") or add
    kind = kind if kind in KINDS and not KINDS[kind].system and kind not in CORRECTIONS else "call"
    page.form = {**(form or {}), "kind": kind, "attachments": attachments or []}
    page.errors = errors or {}
    if KINDS[kind].ref_kinds:
        page.ref_candidates = ref_candidates(session, engagement=engagement, kinds=KINDS[kind].ref_kinds)
    if attachments:
        page.form_files = evidence_by_hash(session, workspace=workspace, hashes=attachments)
    if record is not None:
        page.r = describe(session, engagement=engagement, records=[get_record(session, engagement=engagement,
                                                                               index=record)])[0]
        page.files = _files(session, workspace, [page.r])
    return page


def _fill_timeline(session: Session, workspace: Workspace, page: EngagementPage, filters: dict[str, Any],
                   cursor: str | None) -> None:
    records, page.next_cursor = list_records(
        session, engagement=page.engagement, kinds=filters["kind"], q=filters["q"],
        occurred_from=_day(filters["from"]), occurred_to=_day(filters["to"], end=True), cursor=cursor,
        limit=TIMELINE_PAGE)
    items = describe(session, engagement=page.engagement, records=records)
    page.filters = filters
    # A later page continues the day the previous page ended on, without repeating its heading.
    page.previous_day = decode_cursor(cursor)[0].date() if cursor else None
    page.days = [(day, list(group)) for day, group in groupby(items, key=lambda r: r.occurred_at.date())]
    page.files = _files(session, workspace, items)


def _files(session: Session, workspace: Workspace, items: list[RecordPublic]) -> dict[str, Evidence]:
    return evidence_by_hash(session, workspace=workspace,
                            hashes=sorted({h for r in items for h in r.attachments}))


def _day(value: str, end: bool = False) -> datetime | None:
    try:
        day = datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        return None
    day = day.replace(tzinfo=UTC)
    return day.replace(hour=23, minute=59, second=59) if end else day


def facts_by_engagement(session: Session, principal: Principal, engagements: list,
                        inputs: FactsInputs | None = None) -> dict[int, Facts]:
    """Each listed engagement's facts, for the table's money and flags (cached by tree size and day, so a
    dashboard visit recomputes only the engagements that grew since the day began); the workspace's rates and
    thresholds are read once for all of them."""
    inputs = inputs or facts_inputs(session, principal.workspace)
    return {e.id: engagement_facts(session, workspace=principal.workspace, engagement=e, inputs=inputs)
            for e, _ in engagements}


CHART_FAMILIES = CHARTED_FAMILIES
CHART_WEEKS = 104  # two years at most: wider than that and a week's bar is thinner than a pixel on a phone
BAR, GAP, HEIGHT = 10, 2, 80


def activity_chart(weeks: list) -> dict:
    """Geometry for the stacked weekly bars, worked out here so that the template only places rectangles."""
    shown = weeks[-CHART_WEEKS:]
    peak = max((sum(c.get(f, 0) for f in CHART_FAMILIES) for _, c in shown), default=0)
    bars = []
    for n, (week, counts) in enumerate(shown):
        y, stack = HEIGHT, []
        for family in CHART_FAMILIES:
            count = counts.get(family, 0)
            if count:
                height = max(1.0, HEIGHT * count / peak)
                y -= height
                stack.append({"family": family, "count": count, "y": round(y, 2), "height": round(height, 2)})
        bars.append({"week": week, "x": n * (BAR + GAP), "stack": stack})
    totals = {f: sum(c.get(f, 0) for _, c in shown) for f in CHART_FAMILIES}
    return {"bars": bars, "width": max(len(shown) * (BAR + GAP), 1), "height": HEIGHT, "bar": BAR, "peak": peak,
            "families": CHART_FAMILIES, "totals": totals, "first": shown[0][0] if shown else None,
            "last": shown[-1][0] if shown else None, "cut": len(weeks) > len(shown)}
