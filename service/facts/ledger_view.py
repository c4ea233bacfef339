"""The ledger as the facts read it: every record's current version in chronology order (corrections applied
by service.records.corrections, retracted records left out), indexed by kind, each citable."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import orjson
from sqlalchemy import text
from sqlmodel import Session

from service.db import raw_datetime, raw_list
from service.engagements.models import Engagement, Terms
from service.facts.models import Cite
from service.records.corrections import resolve
from service.records.kinds import CORRECTIONS
from service.records.service import number_exhibits


@dataclass(slots=True)
class Item:
    """A record as the facts see it: its current body, its attachments' exhibit numbers. Built once per record
    of a long ledger, so a slotted class with its direction read once (the rules ask for it a few times each)."""

    index: int
    kind: str
    occurred_at: datetime
    body: dict
    refs: tuple[int, ...]
    attachments: tuple[str, ...]
    direction: str | None = field(init=False)

    def __post_init__(self) -> None:
        self.direction = self.body.get("direction")

    @property
    def day(self) -> date:
        return self.occurred_at.date()


@dataclass
class Ledger:
    engagement: Engagement
    items: list[Item]
    exhibits: dict[str, str]
    retracted: list[int]
    by_kind: dict[str, list[Item]] = field(init=False)
    engagement_id: int = field(init=False)

    def __post_init__(self) -> None:
        self.engagement_id = self.engagement.id  # read once: a long ledger cites thousands of records
        # The rules ask for one or two kinds at a time, a few dozen times: an index beats a scan of every item.
        self.by_kind = {}
        for item in self.items:
            self.by_kind.setdefault(item.kind, []).append(item)

    def cite(self, item: Item) -> Cite:
        # Built from values the ledger already holds, so without validation: a long ledger cites thousands.
        exhibits = [self.exhibits[h] for h in item.attachments if h in self.exhibits] if item.attachments else []
        return Cite.model_construct(engagement_id=self.engagement_id, index=item.index, exhibits=exhibits)

    def cites(self, items) -> list[Cite]:
        return [self.cite(i) for i in items]

    def of(self, *kinds: str) -> list[Item]:
        """The items of these kinds, in chronology order."""
        if len(kinds) == 1:
            return list(self.by_kind.get(kinds[0], ()))
        return sorted((i for k in kinds for i in self.by_kind.get(k, ())), key=lambda i: (i.occurred_at, i.index))


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Raw column values, without ORM type processing: the facts read every row of the ledger, and the JSON and
# datetime processors would cost more than all the rules together.
_LEDGER_ROWS = text("SELECT idx, kind, occurred_at, body, refs, attachments FROM record "
                    "WHERE engagement_id = :engagement ORDER BY occurred_at, idx")


def ledger_rows(session: Session, engagement: Engagement) -> list:
    """The engagement's records as (index, kind, occurred_at, body, refs, attachments) rows in chronology order,
    raw as the database keeps them."""
    return session.execute(_LEDGER_ROWS, {"engagement": engagement.id}).all()


def ledger_from_rows(engagement: Engagement, rows) -> Ledger:
    """Every record in chronology order (occurred_at, then index), each as last amended, retracted ones and the
    corrections themselves left out; the exhibits numbered on the way. One pass, whatever the size: corrections
    refer only to earlier indices but may come later in chronology, so they are resolved afterwards
    (service.records.corrections) and applied to the items.

    Pure, so that a bundle's statement can be derived again offline from its records: `rows` are
    (index, kind, occurred_at, body, refs, attachments) in chronology order, with occurred_at a datetime or the
    database's naive UTC text, body the exact JSON bytes or text (empty or None once redacted), refs and
    attachments lists or their JSON text."""
    corrections = []
    attached = []
    items = []
    for idx, kind, occurred_at, body, refs, attachments in rows:
        attachments = () if attachments == "[]" else tuple(raw_list(attachments))
        if attachments:
            attached.append(attachments)
        if kind in CORRECTIONS:
            corrections.append((idx, kind, raw_list(refs), orjson.loads(body) if body else None))
        elif body:  # a redacted record has no body left to state facts from; its leaf still verifies
            items.append(Item(index=idx, kind=kind, occurred_at=raw_datetime(occurred_at), body=orjson.loads(body),
                              refs=() if refs == "[]" else tuple(raw_list(refs)), attachments=attachments))
    fixes = resolve(corrections)
    if fixes.retracted_by:
        items = [i for i in items if i.index not in fixes.retracted_by]
    for item in items if fixes.amended_bodies else ():
        if item.index in fixes.amended_bodies:
            item.body = fixes.amended_bodies[item.index]
            item.direction = item.body.get("direction")
    return Ledger(engagement=engagement, items=items, exhibits=number_exhibits(attached),
                  retracted=sorted(fixes.retracted_by))


def current_terms(ledger: Ledger) -> tuple[Terms, list[Item]]:
    """The opening terms with every terms_changed record applied, in chronology order."""
    changes = ledger.of("terms_changed")
    return ledger.engagement.terms().changed(item.body.get("changes", {}) for item in changes), changes


def body_time(body: dict, key: str) -> datetime | None:
    value = body.get(key)
    return _aware(datetime.fromisoformat(value)) if value else None


def body_day(body: dict, key: str) -> date | None:
    value = body.get(key)
    return date.fromisoformat(value) if value else None
