"""Appending to and reading an engagement's ledger of records."""

import base64
import hashlib
import json
import secrets
from collections.abc import Iterable
from datetime import date, datetime, timedelta

import rfc8785
from pydantic import ValidationError
from sqlalchemy import func, insert, tuple_
from sqlmodel import Session, col, select

from service.accounts.models import Workspace
from service.engagements.models import Engagement, Status, Terms
from service.errors import Conflict, Invalid, NotFound
from service.evidence.models import Evidence
from service.ledger import service as ledger
from service.ledger.leaf import leaf_bytes
from service.records.corrections import resolve
from service.records.kinds import CORRECTIONS, KINDS, Kind, KindName
from service.records.models import Record, RecordCreate, RecordPublic, RecordRef, RecordVersion
from service.times import rfc3339_micro, rfc3339_seconds, utcnow

PAGE_MAX = 200


def append_record(
    session: Session,
    *,
    workspace: Workspace,
    engagement: Engagement,
    actor: str,
    data: RecordCreate,
    system: bool = False,
) -> Record:
    """Validates the record against the ledger so far and appends it as the next leaf, in this transaction.

    With an `external_id` already on this engagement, returns that record when the content is the same
    (an importer re-running) and refuses when it differs."""
    kind = KINDS[data.kind]
    if kind.system and not system:
        raise Invalid(f"{data.kind} records are appended by Docket itself", field="kind")
    engagement = ledger.lock_engagement(session, engagement.id)
    if data.external_id is not None:
        existing = session.exec(
            select(Record).where(Record.engagement_id == engagement.id, Record.external_id == data.external_id)
        ).first()
        if existing is not None:
            return _same_or_conflict(existing, data)

    body = dict(data.body)
    targets = _check_refs(session, engagement, data)
    # What a kind's schema cannot check alone: it needs the ledger so far or the engagement's terms.
    if data.kind == KindName.amendment:
        body["body"] = _amended_body(targets[data.refs[0]], body["body"])
    elif data.kind == KindName.terms_changed:
        _check_terms_change(session, engagement, body["changes"])
    elif data.kind == KindName.invoice_issued and "due_on" not in body:
        body["due_on"] = (data.occurred_at.date() + timedelta(days=engagement.payment_terms_days)).isoformat()
    body.setdefault("summary", kind.default_summary(data.body, data.refs))
    if kind.default_direction and "direction" not in body:
        body["direction"] = kind.default_direction.value
    _check_attachments(session, workspace, kind, data.attachments)

    corrected = KINDS[targets[data.refs[0]].kind] if data.kind in CORRECTIONS else None
    body["salt"] = secrets.token_hex(16)
    body_bytes = rfc8785.dumps(body)
    body_sha256 = hashlib.sha256(body_bytes).hexdigest()
    recorded_at = utcnow()
    index = engagement.tree_size
    leaf = leaf_bytes(origin=ledger.origin(workspace, engagement), index=index, kind=data.kind,
                      occurred_at=rfc3339_seconds(data.occurred_at), recorded_at=rfc3339_micro(recorded_at),
                      actor=actor, body_sha256=body_sha256, attachments=data.attachments, refs=data.refs)
    leaf_hash = ledger.append_leaf(session, engagement, leaf)
    record = Record(
        engagement_id=engagement.id,
        idx=index,
        kind=data.kind,
        occurred_at=data.occurred_at.replace(microsecond=0),
        recorded_at=recorded_at,
        actor=actor,
        body=body_bytes,
        body_sha256=body_sha256,
        attachments=list(data.attachments),
        refs=list(data.refs),
        external_id=data.external_id,
        leaf=leaf,
        leaf_hash=leaf_hash,
        search_text=_search_text(kind, body, corrected),
    )
    session.add(record)
    if data.refs:
        session.execute(insert(RecordRef), [{"engagement_id": engagement.id, "target_idx": target,
                                             "source_idx": index, "source_kind": data.kind}
                                            for target in sorted(set(data.refs))])
    if engagement.last_activity_at is None or record.occurred_at > engagement.last_activity_at:
        engagement.last_activity_at = record.occurred_at
    if kind.status or (data.kind == KindName.retraction and KINDS[targets[data.refs[0]].kind].status):
        engagement.status = _status(session, engagement)
    session.add(engagement)
    session.flush()
    return record


def _same_or_conflict(existing: Record, data: RecordCreate) -> Record:
    stored = json.loads(existing.body)
    stored.pop("salt", None)
    same = (
        existing.kind == data.kind
        and existing.occurred_at == data.occurred_at.replace(microsecond=0)
        and existing.attachments == list(data.attachments)
        and existing.refs == list(data.refs)
        and all(stored.get(k) == v for k, v in data.body.items())
    )
    if not same:
        raise Conflict(f"external_id {data.external_id!r} is already used by record {existing.idx} with "
                       "different content", field="external_id")
    return existing


def _check_refs(session: Session, engagement: Engagement, data: RecordCreate) -> dict[int, Record]:
    kind = KINDS[data.kind]
    if not kind.min_refs <= len(data.refs) <= kind.max_refs:
        want = (f"exactly {kind.min_refs}" if kind.min_refs == kind.max_refs
                else f"between {kind.min_refs} and {kind.max_refs}")
        raise Invalid(f"{data.kind} needs {want} refs, got {len(data.refs)}", field="refs")
    for ref in data.refs:
        if not 0 <= ref < engagement.tree_size:
            raise Invalid(f"refs: {ref} is not the index of an earlier record (the ledger has "
                          f"{engagement.tree_size})", field="refs")
    if not data.refs:
        return {}
    targets = {r.idx: r for r in session.exec(
        select(Record).where(Record.engagement_id == engagement.id, col(Record.idx).in_(data.refs)))}
    for ref in data.refs:
        target = targets[ref]
        if kind.ref_kinds and target.kind not in kind.ref_kinds:
            raise Invalid(f"refs: record {ref} is a {target.kind}; {data.kind} must refer to "
                          f"{' or '.join(sorted(kind.ref_kinds))}", field="refs")
    if data.kind in CORRECTIONS:
        target = targets[data.refs[0]]
        if target.kind in CORRECTIONS:
            raise Invalid(f"refs: record {target.idx} is itself a {target.kind}; correct the original record",
                          field="refs")
        if _retraction_of(session, engagement.id, target.idx) is not None:
            raise Invalid(f"refs: record {target.idx} is already retracted", field="refs")
    return targets


def _amended_body(target: Record, new_body: dict) -> dict:
    schema = KINDS[target.kind].body
    try:
        parsed = schema.model_validate(new_body)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in ("body", "body", *first["loc"]))
        raise Invalid(f"{path}: {first['msg']} (the amended record is a {target.kind})", field=path) from None
    return parsed.model_dump(mode="json", exclude_none=True)


def _check_terms_change(session: Session, engagement: Engagement, changes: dict) -> None:
    """A change must make valid terms out of the terms as they stand: the opening ones with every earlier change
    not retracted, in chronology order (the way the facts read them)."""
    unknown = set(changes) - set(Terms.model_fields)
    if unknown or not changes:
        raise Invalid(f"body.changes must name terms fields ({', '.join(Terms.model_fields)}); "
                      f"unknown: {', '.join(sorted(unknown)) or 'none given'}", field="body.changes")
    earlier = session.exec(select(Record.body).where(
        Record.engagement_id == engagement.id, Record.kind == KindName.terms_changed,
        col(Record.idx).not_in(_retracted(engagement))).order_by(Record.occurred_at, Record.idx))
    current = engagement.terms().changed(json.loads(body)["changes"] for body in earlier if body)
    try:
        Terms.model_validate({**current.model_dump(mode="json"), **changes})
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in ("body", "changes", *first["loc"]))
        raise Invalid(f"{path}: {first['msg']}", field=path) from None


def _check_attachments(session: Session, workspace: Workspace, kind: Kind, attachments: list[str]) -> None:
    if len(set(attachments)) < kind.min_attachments:
        raise Invalid(f"attachments: a {kind.label.lower()} record needs "
                      f"{'its file' if kind.min_attachments == 1 else f'{kind.min_attachments} files'} attached",
                      field="attachments")
    if not attachments:
        return
    stored = set(session.exec(select(Evidence.sha256).where(
        Evidence.workspace_id == workspace.id, col(Evidence.sha256).in_(attachments))))
    missing = [a for a in attachments if a not in stored]
    if missing:
        raise Invalid(f"attachments: no evidence file {missing[0]} in this workspace; upload it first",
                      field="attachments")


def _search_text(kind: Kind, body: dict, corrected: Kind | None = None) -> str:
    """What the `q` filter reads of a record; of a correction, also the corrected record's body it carries."""
    parts = [body.get("summary", ""), body.get("details", ""), *body.get("participants", [])]
    parts.extend(str(body.get(key, "")) for key in kind.search)
    if corrected is not None and isinstance(body.get("body"), dict):
        parts.append(_search_text(corrected, body["body"]))
    return " ".join(p for p in parts if p).lower()


def _retraction_of(session: Session, engagement_id: int, idx: int) -> RecordRef | None:
    return session.exec(select(RecordRef).where(
        RecordRef.engagement_id == engagement_id, RecordRef.target_idx == idx,
        RecordRef.source_kind == "retraction")).first()


def _retracted(engagement: Engagement):
    """The indices of the engagement's retracted records, as a subquery."""
    return select(RecordRef.target_idx).where(
        RecordRef.engagement_id == engagement.id, RecordRef.source_kind == "retraction")


def _status(session: Session, engagement: Engagement) -> Status:
    """The furthest status (active, notice, ended) that a kind of record still standing sets."""
    setting = sorted(k.name for k in KINDS.values() if k.status)
    kinds = set(session.exec(select(Record.kind).where(
        Record.engagement_id == engagement.id, col(Record.kind).in_(setting),
        col(Record.idx).not_in(_retracted(engagement)))))
    order = list(Status)
    return max((KINDS[k].status for k in kinds), key=order.index, default=Status.active)


# Reading


def get_record(session: Session, *, engagement: Engagement, index: int) -> Record:
    record = session.exec(select(Record).where(Record.engagement_id == engagement.id, Record.idx == index)).first()
    if record is None:
        raise NotFound("no such record")
    return record


def encode_cursor(record: Record) -> str:
    return base64.urlsafe_b64encode(f"{record.occurred_at.isoformat()}|{record.idx}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        when, idx = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        occurred_at, index = datetime.fromisoformat(when), int(idx)
        # The cursors handed out hold an aware time and a stored index; anything else was made up.
        if occurred_at.tzinfo is None or not 0 <= index < 2**63:
            raise ValueError
        return occurred_at, index
    except (ValueError, UnicodeDecodeError):
        raise Invalid("cursor is not one this API returned", field="cursor") from None


def list_records(
    session: Session,
    *,
    engagement: Engagement,
    kinds: list[str] | None = None,
    occurred_from: datetime | None = None,
    occurred_to: datetime | None = None,
    q: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Record], str | None]:
    """Records in the order they happened (ties by index), one keyset page at a time."""
    for kind in kinds or []:
        if kind not in KINDS:
            raise Invalid(f"kind: unknown kind {kind!r}", field="kind")
    limit = max(1, min(limit, PAGE_MAX))
    query = select(Record).where(Record.engagement_id == engagement.id)
    if kinds:
        query = query.where(col(Record.kind).in_(kinds))
    if occurred_from is not None:
        query = query.where(Record.occurred_at >= occurred_from)
    if occurred_to is not None:
        query = query.where(Record.occurred_at <= occurred_to)
    if q and q.strip():
        needle = q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(col(Record.search_text).like(f"%{needle}%", escape="\\"))
    if cursor:
        after = decode_cursor(cursor)
        query = query.where(tuple_(Record.occurred_at, Record.idx) > after)
    rows = list(session.exec(query.order_by(Record.occurred_at, Record.idx).limit(limit + 1)))
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


def describe(session: Session, *, engagement: Engagement, records: list[Record]) -> list[RecordPublic]:
    """Public views with each record's current version, amendment history and retraction, in one read."""
    corrections: dict[int, list[Record]] = {}
    if records:
        sources = session.exec(
            select(RecordRef.target_idx, Record)
            .join(Record, (Record.engagement_id == RecordRef.engagement_id) & (Record.idx == RecordRef.source_idx))
            .where(RecordRef.engagement_id == engagement.id,
                   col(RecordRef.target_idx).in_([r.idx for r in records]),
                   col(RecordRef.source_kind).in_(list(CORRECTIONS)))
            .order_by(Record.idx)
        )
        for target, source in sources:
            corrections.setdefault(target, []).append(source)
    return [_public(r, corrections.get(r.idx, [])) for r in records]


def public_record(record: Record) -> RecordPublic:
    """The public view of a record nothing has amended or retracted yet (one just appended)."""
    return _public(record, [])


def _version(record: Record) -> RecordVersion:
    return RecordVersion(index=record.idx, kind=record.kind, recorded_at=record.recorded_at,
                         body=json.loads(record.body))


def _public(record: Record, corrections: list[Record]) -> RecordPublic:
    body = json.loads(record.body)
    versions = {c.idx: _version(c) for c in corrections}
    fixes = resolve((v.index, v.kind, [record.idx], v.body) for v in versions.values())
    retracted_by = fixes.retracted_by.get(record.idx)
    return RecordPublic(
        index=record.idx, kind=record.kind, occurred_at=record.occurred_at, recorded_at=record.recorded_at,
        actor=record.actor, body=body, body_sha256=record.body_sha256, attachments=record.attachments,
        refs=record.refs, external_id=record.external_id, leaf_hash=record.leaf_hash.hex(),
        status=fixes.status(record.idx), current=fixes.current(record.idx, body),
        history=[versions[i] for i in fixes.amended_by.get(record.idx, [])],
        retraction=versions[retracted_by] if retracted_by is not None else None,
    )


def exhibit_numbers(session: Session, *, engagement: Engagement) -> dict[str, str]:
    """E0001, E0002... for every file attached in this engagement, numbered by first appearance in chronology
    order (occurred_at, then index). Numbered over the whole engagement so that a number means the same file
    in the timeline, the statement of facts and every bundle, partial or not."""
    return number_exhibits(session.exec(select(Record.attachments).where(Record.engagement_id == engagement.id)
                                        .order_by(Record.occurred_at, Record.idx)))


def number_exhibits(attachment_lists: Iterable[list[str]]) -> dict[str, str]:
    """The exhibit numbers of `exhibit_numbers`, from every record's attachments in chronology order."""
    numbers: dict[str, str] = {}
    for attachments in attachment_lists:
        for sha in attachments:
            numbers.setdefault(sha, f"E{len(numbers) + 1:04d}")
    return numbers


# Summaries for the pages


def weekly_activity(session: Session, *, engagement: Engagement) -> list[tuple[date, dict[str, int]]]:
    """Records per ISO week (weeks start on Monday) by family, oldest first, with empty weeks in between.

    Counted in the database by day and kind, so the page reads a few hundred rows however long the ledger is."""
    day = func.date(Record.occurred_at)
    rows = session.exec(select(day, Record.kind, func.count()).where(Record.engagement_id == engagement.id)
                        .group_by(day, Record.kind))
    weeks: dict[date, dict[str, int]] = {}
    for value, kind, count in rows:
        # SQLite answers date() with a string, PostgreSQL with a date.
        when = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
        week = when - timedelta(days=when.weekday())
        family = KINDS[kind].family if kind in KINDS else "ledger"
        weeks.setdefault(week, {})
        weeks[week][family] = weeks[week].get(family, 0) + count
    if not weeks:
        return []
    first, last = min(weeks), max(weeks)
    return [(first + timedelta(weeks=n), weeks.get(first + timedelta(weeks=n), {}))
            for n in range((last - first).days // 7 + 1)]


def ref_candidates(session: Session, *, engagement: Engagement, kinds: frozenset[str],
                   limit: int = 200) -> list[tuple[int, str, str]]:
    """(index, kind, summary) of the records a new record may refer to, newest first, retracted ones left out."""
    retracted = select(RecordRef.target_idx).where(RecordRef.engagement_id == engagement.id,
                                                   RecordRef.source_kind == "retraction")
    rows = session.exec(select(Record.idx, Record.kind, Record.body).where(
        Record.engagement_id == engagement.id, col(Record.kind).in_(sorted(kinds)),
        col(Record.idx).not_in(retracted)).order_by(col(Record.idx).desc()).limit(limit))
    return [(idx, kind, json.loads(body).get("summary", "")) for idx, kind, body in rows]
