"""What an engagement's record proves, computed: notice, trial, work, money, commitments, walk-away signals and
the numbered statement of facts. Nothing is typed in: every figure comes from the records, as last amended and
with retracted ones left out, and cites the records it rests on, with its rule and, for money, its formula.

The facts' face for the rest of Docket: a workspace's facts, an engagement's, a client's signals and an
engagement's status today, read from the database. The rules are in this package's other modules, one per part
(notice, work, money, signals, statement...); `compute.facts_from_rows` puts them together without a database,
and rates.py and thresholds.py hold what an owner sets."""

import gc
from contextlib import contextmanager
from datetime import UTC, date, datetime

from sqlmodel import Session, select

from service.accounts.models import Workspace
from service.clients.models import Client
from service.clients.service import get_client
from service.engagements.models import Engagement
from service.facts import cache
from service.facts.compute import FactsInputs, facts_from_rows
from service.facts.ledger_view import ledger_rows
from service.facts.models import ClientSignals, Facts, MoneyTotal
from service.facts.rates import rate_table
from service.facts.signals import inputs_again, pool, signals_from, worst
from service.facts.thresholds import workspace_thresholds


def facts_inputs(session: Session, workspace: Workspace) -> FactsInputs:
    return FactsInputs(rates=rate_table(session, workspace), thresholds=workspace_thresholds(session, workspace))


def engagement_facts(session: Session, *, workspace: Workspace, engagement: Engagement,
                     as_of: date | None = None, inputs: FactsInputs | None = None) -> Facts:
    """Every fact, signal and statement line of one engagement, as of a day (today, UTC, by default).

    Today's answer is cached by (engagement, tree size, root hash, day, the workspace's rates and thresholds):
    the ledger only grows, so an answer for a given size never goes stale; the root hash keeps a reused id from
    matching. Other days are computed each time: anyone may ask for any day, and a long ledger's facts are large.
    """
    today = datetime.now(UTC).date()
    as_of = as_of or today
    inputs = inputs or facts_inputs(session, workspace)
    if as_of != today:
        return _compute(session, engagement, as_of, inputs)
    key = (engagement.id, engagement.tree_size, engagement.root_hash, as_of, inputs.key)
    facts = cache.cached(key)
    if facts is None:
        facts = _compute(session, engagement, as_of, inputs)
        cache.remember(key, facts)
    return facts


@contextmanager
def _gc_paused():
    """Reading a long ledger allocates a few objects per record and frees none of them until the facts are
    built; the cyclic collector would walk the growing heap again and again for nothing (measured: 40% of a cold
    100,000-record computation). Nothing here makes cycles, so it resumes afterwards with nothing to catch up."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _compute(session: Session, engagement: Engagement, as_of: date, inputs: FactsInputs) -> Facts:
    with _gc_paused():
        return _compute_facts(session, engagement, as_of, inputs)


def _compute_facts(session: Session, engagement: Engagement, as_of: date, inputs: FactsInputs) -> Facts:
    client = session.get(Client, engagement.client_id)
    return facts_from_rows(engagement, ledger_rows(session, engagement), client_name=client.name, as_of=as_of,
                           inputs=inputs)


def current_status(session: Session, *, workspace: Workspace, engagement: Engagement,
                   inputs: FactsInputs | None = None) -> str:
    """The engagement's status today, as its facts give it. The status stored on the engagement says which of
    notice and end the records hold; only a notice period's running out needs the facts (the terms and the day),
    so the others are answered without reading the ledger."""
    if engagement.status != "notice":
        return engagement.status
    return engagement_facts(session, workspace=workspace, engagement=engagement, inputs=inputs).status


def client_signals(session: Session, *, workspace: Workspace, client: Client, as_of: date | None = None,
                   inputs: FactsInputs | None = None) -> ClientSignals:
    """A client's signals across all its engagements: counts added up, the longest runs, the median and average
    over every reply and invoice; money totals per currency."""
    client = get_client(session, workspace=workspace, client_id=client.id)
    as_of = as_of or datetime.now(UTC).date()
    inputs = inputs or facts_inputs(session, workspace)
    pooled, levels, totals = [], {}, {}
    engagements = session.exec(select(Engagement).where(Engagement.workspace_id == workspace.id,
                                                        Engagement.client_id == client.id).order_by(Engagement.id))
    for engagement in engagements:
        facts = engagement_facts(session, workspace=workspace, engagement=engagement, as_of=as_of,
                                 inputs=inputs)
        levels[engagement.id] = facts.level
        pooled.append(inputs_again(facts))
        for t in facts.money.totals:
            if t.currency not in totals:
                totals[t.currency] = t.model_copy()
            else:
                acc = totals[t.currency]
                for name in MoneyTotal.model_fields:
                    if name != "currency":
                        setattr(acc, name, getattr(acc, name) + getattr(t, name))
    signals = signals_from(pool(pooled), inputs.thresholds)
    return ClientSignals(client_id=client.id, client_name=client.name, as_of=as_of, engagements=levels,
                         signals=signals, level=worst([*(s.level for s in signals), *levels.values()]),
                         money=[totals[c] for c in sorted(totals)])

