"""Work delivered, by month and in total, and the client's commitments and their outcomes."""

from datetime import date

from service.facts.ledger_view import Item, Ledger, body_day
from service.facts.models import Commitment, WorkCount, WorkMonth

# Work is what the contractor delivered. A `meeting_scheduled` record is any meeting in the diary (most often one
# with the client itself), so it is not work; the meetings the contractor set *for* the client are the ones their
# reports state (`meetings_set`), counted as their own column and cited by those reports.
MEETINGS_SET = "meetings_set"
WORK_KINDS = {"report_sent": ("report sent", "reports sent"),
              MEETINGS_SET: ("meeting set for the client", "meetings set for the client (as the reports state)"),
              "lead_handed_over": ("lead handed over", "leads handed over"),
              "deliverable_delivered": ("deliverable delivered", "deliverables delivered")}


def _meetings_set(item: Item) -> int:
    value = item.body.get(MEETINGS_SET)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _work_counts(ledger: Ledger, items: dict[str, list[Item]]) -> list[WorkCount]:
    """One count per column: the records of each work kind, and the meetings the reports among them state."""
    out = []
    for kind, labels in WORK_KINDS.items():
        if kind == MEETINGS_SET:
            stating = [i for i in items.get("report_sent", ()) if _meetings_set(i)]
            out.append(WorkCount(kind=kind, label=labels[1], count=sum(_meetings_set(i) for i in stating),
                                 records=ledger.cites(stating)))
        else:
            out.append(WorkCount(kind=kind, label=labels[1], count=len(items.get(kind, ())),
                                 records=ledger.cites(items.get(kind, ()))))
    return out


def work_of(ledger: Ledger) -> tuple[list[WorkMonth], list[WorkCount]]:
    months: dict[str, dict[str, list[Item]]] = {}
    for item in ledger.items:
        if item.kind in WORK_KINDS:
            months.setdefault(item.occurred_at.strftime("%Y-%m"), {}).setdefault(item.kind, []).append(item)
    work = [WorkMonth(month=month, counts=_work_counts(ledger, kinds)) for month, kinds in sorted(months.items())]
    totals = _work_counts(ledger, {k: ledger.of(k) for k in WORK_KINDS if k != MEETINGS_SET})
    return work, totals


def commitments_of(ledger: Ledger, as_of: date) -> list[Commitment]:
    outcomes: dict[int, Item] = {}
    for item in ledger.of("commitment_kept", "commitment_broken"):
        for ref in item.refs[:1]:
            outcomes[ref] = item  # chronology order: the latest outcome recorded stands
    out = []
    for item in ledger.of("commitment"):
        due_on = body_day(item.body, "due_on")
        outcome = outcomes.get(item.index)
        if outcome is not None:
            state = "kept" if outcome.kind == "commitment_kept" else "broken"
        else:
            state = "overdue" if due_on is not None and due_on < as_of else "open"
        out.append(Commitment(record=ledger.cite(item), promised_by=item.body.get("promised_by", ""),
                              promise=item.body.get("promise", ""), made_on=item.day, due_on=due_on, state=state,
                              outcome=ledger.cite(outcome) if outcome else None))
    return out
