"""What the engagement page shows beside its timeline: the ledger panel and the activity chart. A module of its
own because both the engagement's pages and the record pages (which re-render the page after a correction)
need them."""

from service.clients.service import get_client
from service.facts.service import current_status
from service.ledger import service as ledger
from service.records.kinds import CHARTED_FAMILIES
from service.records.service import weekly_activity


def ledger_context(session, principal, engagement) -> dict:
    """What the ledger panel shows: with the client, whose name the receipt form suggests as the recipient."""
    return {"client": get_client(session, workspace=principal.workspace, client_id=engagement.client_id),
            "key_id": ledger.key_id(principal.workspace),
            "checkpoint": ledger.last_checkpoint(session, engagement=engagement)}


def page_extras(session, principal, engagement) -> dict:
    """What the engagement page shows beside the timeline: terms (on the engagement), chart, ledger panel."""
    return {**ledger_context(session, principal, engagement),
            "status": current_status(session, workspace=principal.workspace, engagement=engagement),
            "chart": activity_chart(weekly_activity(session, engagement=engagement))}


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
