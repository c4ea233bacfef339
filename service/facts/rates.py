"""Reference rates: the table shipped with Docket, extended or overridden per workspace, and the rate in force
on a day."""

import csv
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from sqlmodel import Session, select

from service.accounts.models import Workspace
from service.errors import Invalid
from service.facts.figures import fmt_percent
from service.facts.models import RateIn, RatePublic, ReferenceRate, Series
from service.money import parse_hundredths

RATES_CSV = Path(__file__).with_name("reference_rates.csv")
SERIES_LABEL = {Series.boe_base: "Bank of England Bank Rate", Series.ecb_mro: "ECB main refinancing rate"}


def parse_percent(text: str, *, field: str = "rate_percent") -> int:
    """'5.25' or '5.25%' to 525 basis points; at most two decimals, so a rate is always whole basis points."""
    try:
        rate_bp = parse_hundredths(str(text).strip().rstrip("%"))
    except ValueError:
        raise Invalid(f"{field}: {text!r} is not a percentage such as 5.25", field=field) from None
    if not -1000 <= rate_bp <= 10_000:
        raise Invalid(f"{field}: give a percentage between -10 and 100 with at most two decimals", field=field)
    return rate_bp


@dataclass(frozen=True)
class Rate:
    series: str
    effective_on: date
    rate_bp: int
    source: str
    origin: str  # "shipped" or "workspace"


@lru_cache
def shipped_rates() -> tuple[Rate, ...]:
    with RATES_CSV.open(newline="") as f:
        return tuple(Rate(series=row["series"], effective_on=date.fromisoformat(row["effective_on"]),
                          rate_bp=parse_percent(row["rate_percent"]), source=row["source"], origin="shipped")
                     for row in csv.DictReader(f))


def rate_table(session: Session, workspace: Workspace) -> dict[str, list[Rate]]:
    """Per series, rates by effective date; a workspace's row replaces a shipped row of the same date."""
    rows = {(r.series, r.effective_on): r for r in shipped_rates()}
    for r in session.exec(select(ReferenceRate).where(ReferenceRate.workspace_id == workspace.id)):
        rows[(r.series, r.effective_on)] = Rate(series=r.series, effective_on=r.effective_on, rate_bp=r.rate_bp,
                                                source=r.source, origin="workspace")
    table: dict[str, list[Rate]] = {}
    for key in sorted(rows):
        table.setdefault(key[0], []).append(rows[key])
    return table


def rate_on(table: dict[str, list[Rate]], series: str, day: date) -> Rate | None:
    """The rate in force on `day`: the latest row effective on or before it."""
    found = None
    for rate in table.get(series, []):
        if rate.effective_on > day:
            break
        found = rate
    return found


def list_rates(session: Session, *, workspace: Workspace, series: Series | None = None) -> list[RatePublic]:
    shipped = {(r.series, r.effective_on) for r in shipped_rates()}
    out = []
    for name, rates in rate_table(session, workspace).items():
        if series is not None and name != series:
            continue
        out += [RatePublic(series=r.series, effective_on=r.effective_on, rate_bp=r.rate_bp,
                           rate_percent=fmt_percent(r.rate_bp), source=r.source, origin=r.origin,
                           overrides_shipped=r.origin == "workspace" and (r.series, r.effective_on) in shipped)
                for r in rates]
    return out


def add_rate(session: Session, *, workspace: Workspace, actor: str, data: RateIn) -> RatePublic:
    """Adds a rate, or replaces this workspace's rate for the same series and date (correcting a typo)."""
    row = session.exec(select(ReferenceRate).where(
        ReferenceRate.workspace_id == workspace.id, ReferenceRate.series == data.series,
        ReferenceRate.effective_on == data.effective_on)).first()
    if row is None:
        row = ReferenceRate(workspace_id=workspace.id, series=data.series, effective_on=data.effective_on,
                            rate_bp=data.rate_bp, source=data.source, created_by=actor)
    else:
        row.rate_bp, row.source, row.created_by = data.rate_bp, data.source, actor
    session.add(row)
    session.flush()
    shipped = {(r.series, r.effective_on) for r in shipped_rates()}
    return RatePublic(series=row.series, effective_on=row.effective_on, rate_bp=row.rate_bp,
                      rate_percent=fmt_percent(row.rate_bp), source=row.source, origin="workspace",
                      overrides_shipped=(row.series, row.effective_on) in shipped)
