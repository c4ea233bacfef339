"""The human side of a bundle: `chronology.html`, `chronology.csv` (the same rows), `statement.html` and
`README.txt`."""

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from service.bundles.service import BundlePlan, Entry
from service.money import fmt_money
from service.records.kinds import KINDS
from service.times import rfc3339_seconds
from service.web import templates

# Contemporaneous records weigh more, so the chronology shows both times where they differ by more (DESIGN §3.2).
LATE = timedelta(days=1)
CSV_COLUMNS = ("index", "exhibits", "kind", "occurred_at", "recorded_at", "recorded_late", "status", "summary",
               "details", "direction", "participants", "amount", "refs", "notes", "actor", "body_sha256")


@dataclass
class Row:
    index: int
    kind: str
    label: str
    family: str
    occurred_at: datetime
    recorded_at: datetime
    late: bool
    status: str
    summary: str
    details: str
    direction: str
    participants: list[str]
    amount: str
    refs: list[int]
    actor: str
    body_sha256: str
    disclosed: bool  # False once the body was redacted: the leaf is all there is
    original: str = ""  # the summary as first recorded, for an amended record
    notes: list[str] = field(default_factory=list)
    exhibits: list[tuple[str, str]] = field(default_factory=list)  # (number, file name)


def _text(value) -> str:
    return "" if value is None else str(value)


def rows(plan: BundlePlan) -> list[Row]:
    by_index = {e.index: e for e in plan.entries}
    exhibits = {x.sha256: x for x in plan.exhibits}
    out = []
    for entry in plan.entries:
        out.append(_row(entry, by_index, exhibits))
    return out


def _row(entry: Entry, by_index: dict[int, Entry], exhibits: dict) -> Row:
    body = entry.data
    leaf = json.loads(entry.leaf)
    current = body
    if body is not None and entry.amended_by:
        latest = by_index.get(entry.amended_by[-1])
        if latest is not None and latest.data is not None:
            current = latest.data["body"]
    current = current or {}
    kind = KINDS.get(entry.kind)
    notes = []
    if entry.kind in ("amendment", "retraction") and entry.refs:
        target = by_index.get(entry.refs[0])
        what = f"{'Amends' if entry.kind == 'amendment' else 'Retracts'} record {entry.refs[0]}"
        notes.append(what + (f" ({_text((target.data or {}).get('summary'))})" if target else ""))
    else:
        for ref in entry.refs:
            notes.append(f"Refers to record {ref}" + ("" if ref in by_index else " (not in this bundle)"))
    for source in entry.amended_by:
        amendment = by_index.get(source)
        reason = _text((amendment.data or {}).get("reason")) if amendment else ""
        when = amendment.recorded_at.strftime("%d %b %Y") if amendment else ""
        notes.append(f"Amended by record {source} on {when}: {reason}")
    if entry.retracted_by is not None:
        retraction = by_index.get(entry.retracted_by)
        reason = _text((retraction.data or {}).get("reason")) if retraction else ""
        notes.append(f"Retracted by record {entry.retracted_by}: {reason}")
    if body is None:
        notes.append("Body redacted: only its hash remains in the ledger")
    amount = ""
    if isinstance(current.get("amount_minor"), int):
        amount = fmt_money(current["amount_minor"], current.get("currency"))
    return Row(
        index=entry.index, kind=entry.kind, label=kind.label if kind else entry.kind,
        family=kind.family if kind else "", occurred_at=entry.occurred_at, recorded_at=entry.recorded_at,
        late=abs(entry.recorded_at - entry.occurred_at) > LATE, status=entry.status,
        summary=_text(current.get("summary")), details=_text(current.get("details")),
        direction=_text(current.get("direction")), participants=[_text(p) for p in current.get("participants", [])],
        amount=amount, refs=entry.refs, actor=entry.actor, body_sha256=leaf["body_sha256"],
        disclosed=body is not None,
        original=_text(body.get("summary")) if body and entry.amended_by else "",
        notes=notes,
        exhibits=[(exhibits[sha].number, exhibits[sha].filename) for sha in entry.attachments if sha in exhibits],
    )


def render_html(plan: BundlePlan, table: list[Row]) -> bytes:
    occurred = [r.occurred_at for r in table]
    context = {"plan": plan, "rows": table, "period": (min(occurred), max(occurred)) if occurred else None,
               "root_hex": plan.root.hex(), "rfc3339": rfc3339_seconds}
    return templates.get_template("bundles/chronology.html").render(context).encode()


def render_statement(plan: BundlePlan) -> bytes:
    """The statement of facts the app shows, with each citation linking to the record in chronology.html."""
    return templates.get_template("facts/statement.html").render(
        facts=plan.facts, withheld=plan.facts_withheld, record_url="chronology.html#record-{index}").encode()


def _cell(value: str) -> str:
    # Spreadsheets run a cell that starts like a formula; the ledger's JSON keeps the exact text.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def render_csv(table: list[Row]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in table:
        writer.writerow([
            r.index, " ".join(number for number, _ in r.exhibits), r.kind, rfc3339_seconds(r.occurred_at),
            rfc3339_seconds(r.recorded_at), "yes" if r.late else "", r.status, _cell(r.summary), _cell(r.details),
            r.direction, _cell("; ".join(r.participants)), r.amount, " ".join(map(str, r.refs)),
            _cell("; ".join(r.notes)), r.actor, r.body_sha256,
        ])
    # A BOM so that spreadsheet programs read the file as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode()


def render_readme(plan: BundlePlan) -> bytes:
    scope = (f"It discloses {len(plan.entries)} of the {plan.size} records ({plan.subset.label()}, with every "
             "amendment and retraction of those records). The other records appear only as hashes in "
             "ledger/leaf-hashes.txt: enough to prove that the disclosed ones belong to the complete record, "
             "without revealing the rest." if plan.partial else f"It holds all {plan.size} records.")
    return f"""Evidence bundle: {plan.title}
{'=' * (17 + len(plan.title))}

This is an export of the engagement record "{plan.title}" with {plan.client_name}, kept by
{plan.workspace_name} in Docket. {scope}
Exported {rfc3339_seconds(plan.exported_at)}{f" for {plan.recipient}" if plan.recipient else ""}. The export itself
is recorded as record {plan.record_index} of the same ledger.

Start with chronology.html (open it in a browser; it prints on A4 or Letter). chronology.csv has the same
rows for a spreadsheet. The files behind the records are in exhibits/, numbered as in the chronology.
statement.html states in numbered sentences what the records show (notice, work delivered, invoices and
payments, promises, the client's conduct), each citing the records and exhibits it rests on; Docket computes
every figure in it from the records, none is typed in.

What makes it checkable
-----------------------
Every record is a leaf of an append-only Merkle log (RFC 9162). The log's size and root hash are signed
with the contractor's Ed25519 key in ledger/checkpoint (a C2SP signed note):

    origin  {plan.origin}
    size    {plan.size}
    root    {plan.root.hex()} (hex)
    key id  {plan.key_id}
    key     {plan.vkey}

ledger/entries/N.leaf.json   the exact bytes of leaf N, which name the SHA-256 of its body and its files
ledger/entries/N.body.json   the exact bytes of record N's content (absent if redacted or not disclosed)
ledger/leaf-hashes.txt       the hash of every leaf, in order; together they give the signed root
ledger/key.vkey              the verifier key above
ledger/consistency/          proofs that this log extends every checkpoint handed out before it

Changing, adding or removing any record, file or date breaks a hash, the root or the signature.

How to check it (three ways)
----------------------------
Unzip the bundle; the bag is the folder {plan.name}/ (a BagIt 1.0 bag, RFC 8493).

1. With standard tools: in that folder run

       sha256sum -c manifest-sha256.txt
       sha256sum -c tagmanifest-sha256.txt

   Every line must say OK. This proves the files are the ones the bag lists.

2. With bagit-python (pip install bagit):

       bagit.py --validate {plan.name}

3. With Docket's own command line (`docket`, installed with Docket), on the zip itself:

       docket verify {plan.name}.zip --key '{plan.vkey}'

   This checks the bag, every body against its leaf, every exhibit against its record, every leaf against
   leaf-hashes.txt, the root against the signed checkpoint, the signature, and every consistency proof.
   Without --key it uses ledger/key.vkey from the bundle itself, which proves the bundle is intact but not
   who made it: take the key from somewhere independent of this bundle (a checkpoint the contractor sent
   you earlier, their website, the contract) and pass it with --key to prove authorship.

The first two checks prove the files match their manifest; only the third proves that the manifest,
the records and the signature belong together.
""".encode()
