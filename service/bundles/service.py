"""Evidence bundles (DESIGN §5): choosing what an export discloses, signing the checkpoint it carries, and
recording the export on the ledger. Writing the zip is `writer.py`; it needs no database."""

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from service.accounts.models import Workspace
from service.bundles import derive
from service.bundles.derive import INPUTS_FORMAT, RENDERER, Entry, dump_inputs, entries_from
from service.clients.service import get_client
from service.config import get_settings
from service.engagements.models import Engagement
from service.errors import Conflict, Invalid
from service.evidence.service import evidence_by_hash
from service.evidence.store import EvidenceStore
from service.facts.service import engagement_facts, facts_inputs
from service.ledger import note
from service.ledger import service as ledger
from service.ledger.models import Checkpoint
from service.records.kinds import CORRECTIONS, KINDS
from service.records.models import Record, RecordCreate, RecordRef
from service.records.service import append_record, exhibit_numbers
from service.times import rfc3339_seconds, utcnow

# Records whose body says which checkpoint was handed to someone: the bundle proves it extends each of them.
_HANDED_OUT = ("checkpoint_shared", "bundle_exported")
_CHUNK = 500  # ids per IN (...) list, under every driver's bound-parameter limit


@dataclass(frozen=True)
class Subset:
    """Which records a bundle discloses: those matching every date and kind filter given, plus the listed
    indices. Nothing given: the whole engagement."""

    occurred_from: date | None = None
    occurred_to: date | None = None
    kinds: tuple[str, ...] = ()
    indices: tuple[int, ...] = ()

    @property
    def whole(self) -> bool:
        return not (self.occurred_from or self.occurred_to or self.kinds or self.indices)

    @property
    def filtered(self) -> bool:
        return bool(self.occurred_from or self.occurred_to or self.kinds)

    def describe(self) -> dict:
        """As the `bundle_exported` record carries it: only what was asked for."""
        out: dict = {}
        if self.occurred_from:
            out["from"] = self.occurred_from.isoformat()
        if self.occurred_to:
            out["to"] = self.occurred_to.isoformat()
        if self.kinds:
            out["kinds"] = list(self.kinds)
        if self.indices:
            out["indices"] = list(self.indices)
        return out

    def label(self) -> str:
        if self.whole:
            return "the whole engagement"
        parts = []
        if self.occurred_from or self.occurred_to:
            parts.append(f"from {self.occurred_from or 'the start'} to {self.occurred_to or 'the end'}")
        if self.kinds:
            parts.append("kinds " + ", ".join(self.kinds))
        text = ", ".join(parts)
        if self.indices:
            listed = "records " + ", ".join(map(str, self.indices))
            text = f"{text}, plus {listed}" if text else listed
        return text


@dataclass(kw_only=True)
class Exhibit(derive.Exhibit):
    """An exhibit as the documents show it, and where the writer reads its bytes."""

    source: Path


@dataclass
class EarlierCheckpoint:
    """A checkpoint handed out before, and the proof that the bundle's checkpoint extends it."""

    size: int
    note: str
    proof: list[bytes]


@dataclass
class BundlePlan:
    """Everything a bundle holds except the file contents, read in one transaction: writing needs no database."""

    name: str
    workspace_name: str
    title: str
    client_name: str
    origin: str
    vkey: str
    size: int
    root: bytes
    checkpoint_note: str
    leaf_hashes: bytes  # 32 bytes per leaf, in index order
    entries: list[Entry]  # chronology order: occurred_at, then index
    exhibits: list[Exhibit]  # by exhibit number
    consistency: list[EarlierCheckpoint]
    subset: Subset
    recipient: str | None
    exported_at: datetime
    record_index: int  # of the bundle_exported record
    inputs: bytes  # data/inputs.json: what the derived documents need that is not a record
    seal: Callable[[str], str] = field(repr=False)  # signs the seal's text with the workspace key

    @property
    def partial(self) -> bool:
        return len(self.entries) < self.size


def parse_subset(*, occurred_from: date | None, occurred_to: date | None, kinds: list[str] | None,
                 indices: list[int] | None, engagement: Engagement) -> Subset:
    kinds = [k for k in (kinds or []) if k]
    for kind in kinds:
        if kind not in KINDS:
            raise Invalid(f"kind: unknown kind {kind!r}", field="kind")
    if occurred_from and occurred_to and occurred_from > occurred_to:
        raise Invalid("from must not be after to", field="from")
    for index in indices or []:
        if not 0 <= index < engagement.tree_size:
            raise Invalid(f"index: {index} is not a record of this engagement (it has {engagement.tree_size})",
                          field="index")
    return Subset(occurred_from=occurred_from, occurred_to=occurred_to, kinds=tuple(dict.fromkeys(kinds)),
                  indices=tuple(sorted(set(indices or []))))


# Only what a bundle shows: loading whole Record objects costs more than the rest of the export's reading.
_COLUMNS = (Record.idx, Record.kind, Record.occurred_at, Record.recorded_at, Record.actor, Record.leaf, Record.body,
            Record.attachments, Record.refs)


def _chosen(session: Session, engagement: Engagement, size: int, subset: Subset) -> list:
    query = select(*_COLUMNS).where(Record.engagement_id == engagement.id, col(Record.idx) < size)
    if not subset.whole:
        conditions = []
        if subset.filtered:
            matches = []
            if subset.occurred_from:
                matches.append(Record.occurred_at >= datetime.combine(subset.occurred_from, time(), UTC))
            if subset.occurred_to:
                matches.append(Record.occurred_at < datetime.combine(subset.occurred_to + timedelta(days=1),
                                                                     time(), UTC))
            if subset.kinds:
                matches.append(col(Record.kind).in_(subset.kinds))
            conditions.append(and_(*matches))
        if subset.indices:
            conditions.append(col(Record.idx).in_(subset.indices))
        query = query.where(or_(*conditions))
    return list(session.execute(query.order_by(Record.idx)))


def _corrections(session: Session, engagement: Engagement, size: int) -> list[RecordRef]:
    return list(session.exec(select(RecordRef).where(
        RecordRef.engagement_id == engagement.id, col(RecordRef.source_kind).in_(list(CORRECTIONS)),
        col(RecordRef.source_idx) < size).order_by(RecordRef.source_idx)))


def _records(session: Session, engagement: Engagement, indices: list[int]) -> list:
    found: list = []
    for start in range(0, len(indices), _CHUNK):
        found += session.execute(select(*_COLUMNS).where(Record.engagement_id == engagement.id,
                                                         col(Record.idx).in_(indices[start:start + _CHUNK])))
    return found


def _leaf_hashes(session: Session, engagement: Engagement, size: int) -> bytes:
    hashes = bytearray()
    expected = 0
    rows = session.exec(select(Record.idx, Record.leaf_hash).where(
        Record.engagement_id == engagement.id, col(Record.idx) < size).order_by(Record.idx).execution_options(
        yield_per=5000))
    for idx, digest in rows:
        if idx != expected or len(digest) != 32:
            raise Conflict(f"record {expected} of the ledger is missing or damaged; run `docket verify --db`")
        hashes += digest
        expected += 1
    if expected != size:
        raise Conflict(f"the ledger holds {expected} records but its checkpoint says {size}")
    return bytes(hashes)


def _earlier_checkpoints(session: Session, engagement: Engagement, size: int) -> list[EarlierCheckpoint]:
    sizes: set[int] = set()
    for body in session.exec(select(Record.body).where(
            Record.engagement_id == engagement.id, col(Record.kind).in_(_HANDED_OUT), col(Record.idx) < size)):
        if body is not None:
            sizes.add(json.loads(body)["size"])
    earlier = []
    for shared in sorted(s for s in sizes if 0 < s <= size):
        checkpoint = session.exec(select(Checkpoint).where(Checkpoint.engagement_id == engagement.id,
                                                           Checkpoint.size == shared)).first()
        if checkpoint is None:
            # Every checkpoint handed out was signed and stored first (receipts.py, this module).
            raise Conflict(f"checkpoint {shared} was handed out but is not stored; run `docket verify --db`")
        proof = ledger.consistency_proof(session, engagement, size1=shared, size2=size)
        earlier.append(EarlierCheckpoint(size=shared, note=checkpoint.note, proof=proof))
    return earlier


def _entries(records: list) -> list[Entry]:
    """The disclosed records as the bundle's documents see them: from their exact leaf and body bytes only."""
    return entries_from({r.idx: bytes(r.leaf) for r in records},
                        {r.idx: bytes(r.body) for r in records if r.body is not None})


def _exhibits(session: Session, workspace: Workspace, engagement: Engagement, entries: list[Entry],
              store: EvidenceStore) -> list[Exhibit]:
    attached: dict[str, list[int]] = {}
    for entry in entries:
        for sha in entry.attachments:
            attached.setdefault(sha, []).append(entry.index)
    if not attached:
        return []
    numbers = exhibit_numbers(session, engagement=engagement)
    files = evidence_by_hash(session, workspace=workspace, hashes=sorted(attached))
    exhibits = []
    for sha, records in attached.items():
        evidence = files.get(sha)
        source = store.path(sha)
        if evidence is None or not source.is_file():
            raise Conflict(f"evidence file {sha} attached to record {records[0]} is not in the store; "
                           "run `docket verify --db`")
        exhibits.append(Exhibit(number=numbers[sha], sha256=sha, size=evidence.size, filename=evidence.filename,
                                media_type=evidence.media_type, source=source, records=records))
    return sorted(exhibits, key=lambda x: x.number)


def prepare_bundle(session: Session, *, workspace: Workspace, engagement: Engagement, actor: str, subset: Subset,
                   recipient: str | None, store: EvidenceStore) -> BundlePlan:
    """Signs the ledger as it stands, reads what the bundle discloses, and appends the `bundle_exported` record
    after the bundle's checkpoint.

    The export is recorded before a byte is written: once a download has started its contents may be in
    someone's hands even if it breaks off, and a recorded attempt is better than an unrecorded disclosure.
    Amendments and retractions of a disclosed record are always disclosed with it, so that a partial bundle
    never shows a record as if it had not been corrected."""
    recipient = " ".join((recipient or "").split())[:200] or None
    checkpoint = ledger.sign_current_checkpoint(session, workspace=workspace, engagement=engagement)
    size, root = checkpoint.size, checkpoint.root_hash
    chosen = _chosen(session, engagement, size, subset)
    refs = _corrections(session, engagement, size)
    if not subset.whole:
        have = {r.idx for r in chosen}
        missing = sorted({r.source_idx for r in refs if r.target_idx in have} - have)
        chosen += _records(session, engagement, missing)
    if not chosen:
        raise Invalid(f"no record matches {subset.label()}; nothing to export", field="subset")
    entries = _entries(chosen)
    exhibits = _exhibits(session, workspace, engagement, entries, store)
    leaf_hashes = _leaf_hashes(session, engagement, size)
    earlier = _earlier_checkpoints(session, engagement, size)
    client = get_client(session, workspace=workspace, client_id=engagement.client_id)
    exported_at = utcnow().replace(microsecond=0)
    partial = len(entries) < size
    statement = _partial_statement(session, workspace, engagement, size, entries, exported_at.date()) \
        if partial else None

    disclosed = f"{len(entries)} of {size} records" if partial else f"all {size} records"
    summary = f"Evidence bundle exported: checkpoint {size}, {disclosed}"
    record = append_record(
        session, workspace=workspace, engagement=engagement, actor=actor, system=True,
        data=RecordCreate(
            kind="bundle_exported", occurred_at=exported_at,
            body={"summary": summary + (f", for {recipient}" if recipient else ""), "size": size,
                  "root": base64.b64encode(root).decode(), "subset": subset.describe(),
                  **({"recipient": recipient} if recipient else {})},
        ),
    )
    name = f"docket-{engagement.id}-{size}" + ("-partial" if partial else "")
    facts_in = facts_inputs(session, workspace)
    inputs = {
        "format": INPUTS_FORMAT, "renderer": RENDERER, "as_of": exported_at.date().isoformat(),
        "exported_at": rfc3339_seconds(exported_at), "time_zone": "UTC", "exhibit_mark": "E",
        "contractor": workspace.name, "client": client.name,
        "engagement": {"id": engagement.id, "client_id": engagement.client_id, "title": engagement.title,
                       "terms": engagement.terms().model_dump(mode="json")},
        "bundle": {"name": name, "record_index": record.idx, "recipient": recipient, "subset": subset.label()},
        "key": {"name": ledger.key_name(workspace), "id": ledger.key_id(workspace),
                "vkey": ledger.verifier_key(workspace)},
        # The whole table, not only the rows a figure used: the rule picks the rate in force on a day, and
        # which rows it skipped is part of what a reader checks.
        "rates": {series: [{"effective_on": r.effective_on.isoformat(), "rate_bp": r.rate_bp, "source": r.source,
                            "origin": r.origin} for r in rates] for series, rates in facts_in.rates.items()},
        "thresholds": {name: list(level) for name, level in facts_in.thresholds.items()},
        "exhibits": [{"number": x.number, "sha256": x.sha256, "filename": x.filename, "media_type": x.media_type,
                      "size": x.size} for x in exhibits],
        "statement": statement,
    }
    signing_key = note.unseal_private_key(workspace.sealed_private_key, get_settings().signing_secret())
    key_name = ledger.key_name(workspace)
    return BundlePlan(
        name=name, workspace_name=workspace.name, title=engagement.title, client_name=client.name,
        origin=ledger.origin(workspace, engagement), vkey=ledger.verifier_key(workspace), size=size, root=root,
        checkpoint_note=checkpoint.note, leaf_hashes=leaf_hashes, entries=entries, exhibits=exhibits,
        consistency=earlier, subset=subset, recipient=recipient, exported_at=exported_at, record_index=record.idx,
        inputs=dump_inputs(inputs), seal=lambda text: note.sign_note(text, key_name, signing_key),
    )


def _partial_statement(session: Session, workspace: Workspace, engagement: Engagement, size: int,
                       entries: list[Entry], as_of: date) -> dict:
    """A partial bundle's statement of facts, computed on the whole ledger at the bundle's checkpoint: only the
    lines whose every cited record it discloses. A line resting on a withheld record (or on the absence of one,
    which has no citation) would reveal what the subset was chosen to keep back. The lines are carried in
    inputs.json, since the disclosed records alone cannot give them again."""
    facts = engagement_facts(session, workspace=workspace, engagement=engagement, as_of=as_of)
    if facts.tree_size != size:  # the checkpoint is signed over the ledger as it stands, in this transaction
        raise Conflict(f"the ledger moved from {size} to {facts.tree_size} records while the bundle was prepared")
    disclosed = {e.index for e in entries if e.body is not None}
    kept = [line for line in facts.statement if line.refs and all(c.index in disclosed for c in line.refs)]
    return {"lines": [{"number": line.number, "text": line.text,
                       "refs": [{"index": c.index, "exhibits": list(c.exhibits)} for c in line.refs]}
                      for line in kept],
            "withheld": len(facts.statement) - len(kept)}
