from datetime import date

from fastapi import APIRouter, Query

from service.deps import ClientDep, EngagementDep, OwnerDep, PrincipalDep, SessionDep
from service.facts.models import ClientSignals, Facts, RateIn, RatePublic, Series
from service.facts.rates import add_rate, list_rates
from service.facts.service import client_signals, engagement_facts
from service.facts.thresholds import ThresholdPublic, ThresholdsIn, list_thresholds, set_thresholds
from service.http import StrictJsonRoute

router = APIRouter(tags=["facts"], route_class=StrictJsonRoute)
AS_OF = Query(None, description="compute interest, overdue days and open commitments as of this day (default: "
                                "today, UTC)")


@router.get("/engagements/{engagement_id}/facts", response_model=Facts)
def get_facts(engagement: EngagementDep, principal: PrincipalDep, session: SessionDep, as_of: date | None = AS_OF):
    """Notice, trial, work by month, money with the interest breakdown, commitments, walk-away signals and the
    numbered statement of facts, each citing record indices and exhibit numbers."""
    return engagement_facts(session, workspace=principal.workspace, engagement=engagement, as_of=as_of)


@router.get("/clients/{client_id}/signals", response_model=ClientSignals)
def get_client_signals(client: ClientDep, principal: PrincipalDep, session: SessionDep, as_of: date | None = AS_OF):
    return client_signals(session, workspace=principal.workspace, client=client, as_of=as_of)


@router.get("/reference-rates", response_model=list[RatePublic])
def get_rates(principal: PrincipalDep, session: SessionDep, series: Series | None = None):
    """The rates late-payment interest is computed from: the table shipped with Docket and this workspace's own."""
    return list_rates(session, workspace=principal.workspace, series=series)


@router.post("/reference-rates", status_code=201, response_model=RatePublic)
def post_rate(data: RateIn, principal: OwnerDep, session: SessionDep):
    """Add a rate, or override the shipped one for the same series and date (owners, signed in)."""
    return add_rate(session, workspace=principal.workspace, actor=principal.actor, data=data)


@router.get("/signal-thresholds", response_model=list[ThresholdPublic])
def get_thresholds(principal: PrincipalDep, session: SessionDep):
    return list_thresholds(session, workspace=principal.workspace)


@router.put("/signal-thresholds", response_model=list[ThresholdPublic])
def put_thresholds(data: ThresholdsIn, principal: OwnerDep, session: SessionDep):
    """Set the amber and red thresholds of the signals given; the others keep theirs (owners, signed in)."""
    return set_thresholds(session, workspace=principal.workspace, actor=principal.actor, data=data)
