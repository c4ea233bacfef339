"""The facts of an engagement from its records alone, with no database (what `docket verify` needs to derive
a bundle's statement again), and the status and flags they give."""

from dataclasses import dataclass
from datetime import date
from functools import cached_property

from service.engagements.models import Engagement
from service.facts.figures import plural
from service.facts.ledger_view import Ledger, current_terms, ledger_from_rows
from service.facts.models import Facts, Money, Notice, Signal, StatementLine
from service.facts.money import money_of
from service.facts.notice import notice_of, trial_of
from service.facts.rates import Rate
from service.facts.signals import signal_inputs, signals_from, worst
from service.facts.statement import Stated, statement_of
from service.facts.work import commitments_of, work_of
from service.money import fmt_money


def status_of(ledger: Ledger, notice: Notice | None, as_of: date) -> str:
    """Ended once an engagement_ended record says so or the notice period is over; under notice while it runs."""
    if ledger.of("engagement_ended"):
        return "ended"
    if notice is not None and notice.given:
        return "ended" if notice.ends_on is not None and notice.ends_on < as_of else "notice"
    return "active"


@dataclass(frozen=True)
class Flag:
    """One thing the facts flag (the dashboard, the engagement page), linking to the part of the facts page."""

    level: str  # amber or red
    text: str
    section: str


def _flags(notice: Notice | None, money: Money, signals: list[Signal]) -> list[Flag]:
    found = [Flag("red", f"{fmt_money(t.overdue_minor, t.currency)} overdue", "money")
             for t in money.totals if t.overdue_minor > 0]
    if notice and notice.days_short > 0:
        found.append(Flag("red", f"notice cut {plural(notice.days_short, 'day')} short", "notice"))
    found += [Flag(s.level, f"{s.label}: {s.display}", "signals") for s in signals if s.level != "ok"]
    return sorted(found, key=lambda f: f.level != "red")


def flags(facts: Facts) -> list[Flag]:
    """Money overdue, notice cut short, and every walk-away signal past its amber line: worst first. The facts'
    level is the worst of these, so the header never says ok beside a red flag."""
    return _flags(facts.notice, facts.money, facts.signals)


@dataclass(frozen=True)
class FactsInputs:
    """A workspace's reference-rate table and signal thresholds: read once for all the facts a request shows,
    and part of the cache key, since changing either changes the facts."""

    rates: dict[str, list[Rate]]
    thresholds: dict[str, tuple[int, int]]

    @cached_property
    def key(self) -> tuple:
        return (tuple((series, tuple(rates)) for series, rates in sorted(self.rates.items())),
                tuple(sorted(self.thresholds.items())))


def facts_from_rows(engagement: Engagement, rows, *, client_name: str, as_of: date, inputs: FactsInputs) -> Facts:
    """The facts from the engagement (its opening terms, title, ids, tree size and root), its records as
    `ledger_from_rows` takes them, the client's name, the day and the rates and thresholds: no database, so that
    `docket verify` can derive a bundle's statement again from the bundle alone."""
    ledger = ledger_from_rows(engagement, rows)
    terms, changes = current_terms(ledger)
    notice = notice_of(ledger, terms)
    trial = trial_of(ledger, terms, notice, as_of)
    work, work_totals = work_of(ledger)
    money = money_of(ledger, terms, inputs.rates, as_of)
    commitments = commitments_of(ledger, as_of)
    signals = signals_from(signal_inputs(ledger, money, commitments, as_of), inputs.thresholds)
    stated = Stated(ledger=ledger, terms=terms, changes=changes, client_name=client_name, as_of=as_of, notice=notice,
                    trial=trial, work=work, work_totals=work_totals, money=money, commitments=commitments,
                    signals=signals)
    statement = [StatementLine(number=n, text=text, refs=refs)
                 for n, (text, refs) in enumerate(statement_of(stated), start=1)]
    return Facts(engagement_id=engagement.id, title=engagement.title, client_id=engagement.client_id,
                 client_name=client_name,
                 as_of=as_of, tree_size=engagement.tree_size,
                 root_hash=engagement.root_hash.hex() if engagement.root_hash else None, notice=notice, trial=trial,
                 status=status_of(ledger, notice, as_of), work=work, work_totals=work_totals,
                 deliverables_promised=list(terms.deliverables), money=money, commitments=commitments,
                 signals=signals, level=worst([*(f.level for f in _flags(notice, money, signals))]),
                 statement=statement)
