"""The human side of a bundle: `chronology.html`, `chronology.csv` (the same rows), `statement.html` and
`README.txt`, rendered from a `View` (records and inputs.json only; see derive.py). The templates ship inside the
package, so that `docket verify` renders them again wherever it is installed."""

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from service.bundles.derive import Entry, View
from service.money import fmt_money
from service.records.kinds import CORRECTIONS, KINDS, Family, KindName
from service.times import rfc3339_seconds

# Contemporaneous records weigh more, so the chronology shows both times where they differ by more (DESIGN §3.2).
LATE = timedelta(days=1)
# The families as bundle v2 prints them in its row classes, from before scheduling and disputes were families of
# their own: a sealed chronology must render again to the same bytes.
V2_FAMILY = {Family.scheduling: Family.interaction, Family.dispute: Family.contract}
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


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _when(value: datetime | date | None, fmt: str = "%d %b %Y %H:%M") -> str:
    # The bundle's own copy of the pages' format: a bundle must render the same way whatever the pages become.
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(fmt) + " UTC"
    return value.strftime("%d %b %Y")


def _filesize(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024
    return ""


JURISDICTIONS = {"uk": "United Kingdom", "eu": "European Union", "us-ny": "New York State, United States",
                 "contract": "as the contract says", "other": "other"}
_env = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")), autoescape=select_autoescape(),
                   undefined=StrictUndefined, keep_trailing_newline=True)
_env.filters.update(money=fmt_money, when=_when, filesize=_filesize)
_env.globals.update(JURISDICTIONS=JURISDICTIONS)


def rows(view: View) -> list[Row]:
    by_index = {e.index: e for e in view.entries}
    exhibits = {x.sha256: x for x in view.exhibits}
    return [_row(entry, by_index, exhibits) for entry in view.entries]


def _row(entry: Entry, by_index: dict[int, Entry], exhibits: dict) -> Row:
    body = entry.data
    current = entry.current or {}
    kind = KINDS.get(entry.kind)
    notes = []
    if entry.kind in CORRECTIONS and entry.refs:
        target = by_index.get(entry.refs[0])
        what = f"{'Amends' if entry.kind == KindName.amendment else 'Retracts'} record {entry.refs[0]}"
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
    if kind is not None:
        notes.extend(f"{label}: {value}" for label, value in kind.shown(kind.chronology, current))
    if body is None:
        notes.append("Body redacted: only its hash remains in the ledger")
    amount = ""
    if isinstance(current.get("amount_minor"), int):
        amount = fmt_money(current["amount_minor"], current.get("currency"))
    return Row(
        index=entry.index, kind=entry.kind, label=kind.label if kind else entry.kind,
        family=V2_FAMILY.get(kind.family, kind.family) if kind else "", occurred_at=entry.occurred_at,
        recorded_at=entry.recorded_at,
        late=abs(entry.recorded_at - entry.occurred_at) > LATE, status=entry.status,
        summary=_text(current.get("summary")), details=_text(current.get("details")),
        direction=_text(current.get("direction")), participants=[_text(p) for p in _list(current.get("participants"))],
        amount=amount, refs=entry.refs, actor=entry.actor, body_sha256=entry.body_sha256,
        disclosed=body is not None,
        original=_text(body.get("summary")) if body and entry.amended_by else "",
        notes=notes,
        exhibits=[(exhibits[sha].number, exhibits[sha].filename) for sha in entry.attachments if sha in exhibits],
    )


def render_html(view: View, table: list[Row]) -> bytes:
    occurred = [r.occurred_at for r in table]
    return _env.get_template("chronology.html").render(
        view=view, rows=table, period=(min(occurred), max(occurred)) if occurred else None,
        root_hex=view.root.hex()).encode()


def render_statement(view: View) -> bytes:
    """The statement of facts, with each citation linking to the record in chronology.html."""
    return _env.get_template("statement.html").render(view=view).encode()


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


def render_readme(view: View) -> bytes:
    inputs = view.inputs
    title, bundle = inputs.engagement.title, inputs.bundle
    scope = (f"It discloses {len(view.entries)} of the {view.size} records ({bundle.subset}, with every "
             "amendment and retraction of those records). The other records appear only as hashes in "
             "ledger/leaf-hashes.txt: enough to prove that the disclosed ones belong to the complete record, "
             "without revealing the rest." if view.partial else f"It holds all {view.size} records.")
    statement = (
        "In this partial bundle the statement's sentences were computed by Docket from the whole record, so they\n"
        "cannot be computed again from the disclosed records alone: they are carried in inputs.json, and docket\n"
        "verify checks that statement.html shows exactly those sentences, that the seal covers them, and that\n"
        "every record a sentence cites is disclosed here. Sentences resting on records not disclosed are left out."
        if view.partial else
        "docket verify computes the statement's sentences again from the records in this bundle, with the rates\n"
        "and thresholds written in inputs.json, and checks that statement.html says exactly that.")
    return f"""Evidence bundle: {title}
{'=' * (17 + len(title))}

This is an export of the engagement record "{title}" with {inputs.client}, kept by
{inputs.contractor} in Docket. {scope}
Exported {inputs.exported_at}{f" for {bundle.recipient}" if bundle.recipient else ""}. The export itself
is recorded as record {bundle.record_index} of the same ledger. Times are UTC.

Start with chronology.html (open it in a browser; it prints on A4 or Letter). chronology.csv has the same
rows for a spreadsheet. The files behind the records are in exhibits/, numbered as in the chronology.
statement.html states in numbered sentences what the records show (notice, work delivered, invoices and
payments, promises, the client's conduct), each citing the records and exhibits it rests on; Docket computes
every figure in it from the records, none is typed in.

What makes it checkable
-----------------------
Every record is a leaf of an append-only Merkle log (RFC 9162). The log's size and root hash are signed
with the contractor's Ed25519 key in ledger/checkpoint (a C2SP signed note):

    origin  {view.origin}
    size    {view.size}
    root    {view.root.hex()} (hex)
    key id  {inputs.key.id}
    key     {inputs.key.vkey}

ledger/entries/N.leaf.json   the exact bytes of leaf N, which name the SHA-256 of its body and its files
ledger/entries/N.body.json   the exact bytes of record N's content (absent if redacted or not disclosed)
ledger/leaf-hashes.txt       the hash of every leaf, in order; together they give the signed root
ledger/key.vkey              the verifier key above
ledger/consistency/          proofs that this log extends every checkpoint handed out before it
inputs.json                  what the documents need that is not a record: the day the facts are computed
                             for ({inputs.as_of}), the reference rates and signal thresholds used, the time
                             zone, the names of the parties, the exhibit files' names
                             (SHA-256 {view.inputs_sha256})
../docket-seal.txt           the seal: the contractor's signature over manifest-sha256.txt, which lists the
                             SHA-256 of every file in this folder

This file, chronology.html, chronology.csv and statement.html are derived documents: Docket renders them
from the records and inputs.json alone, the same way every time. Changing, adding or removing any record,
file, date or sentence breaks a hash, the root, the seal or the signature.

How to check it (three ways)
----------------------------
Unzip the bundle; the bag is the folder {bundle.name}/ (a BagIt 1.0 bag, RFC 8493).

1. With standard tools: in that folder run

       sha256sum -c manifest-sha256.txt
       sha256sum -c tagmanifest-sha256.txt

   Every line must say OK. This proves the files are the ones the bag lists, nothing more: anyone who
   changes a file can list its new hash.

2. With bagit-python (pip install bagit):

       bagit.py --validate {bundle.name}

   The same check as 1.

3. With Docket's own command line (`docket`, installed with Docket), on the zip itself:

       docket verify {bundle.name}.zip --key '{inputs.key.vkey}'

   This checks:
   - the bag, as 1 and 2 do;
   - the seal: signed by the key, for this log and size, over exactly this manifest-sha256.txt, so that no
     file can be changed, added or removed and its hash listed again;
   - every record: its body against its leaf, its files against the exhibits, its leaf against
     leaf-hashes.txt, and the leaf hashes against the signed root;
   - the checkpoint's signature, and every consistency proof;
   - the derived documents: it renders README.txt, chronology.html, chronology.csv and statement.html
     again from the records and inputs.json and compares them byte for byte with the ones here, and
     writes ../bag-info.txt again the same way.
   {statement.replace(chr(10), chr(10) + "   ")}

   Without --key it uses ledger/key.vkey from the bundle itself, which proves the bundle is intact but not
   who made it: take the key from somewhere independent of this bundle (a checkpoint the contractor sent
   you earlier, their website, the contract) and pass it with --key to prove authorship.

The first two checks prove the files match their manifest; only the third proves that the manifest, the
records, the documents and the signatures belong together.
""".encode()


def derive_documents(view: View) -> dict[str, bytes]:
    """The four derived documents, by path in the bag, in the order the bundle holds them."""
    table = rows(view)
    return {"data/README.txt": render_readme(view), "data/chronology.html": render_html(view, table),
            "data/chronology.csv": render_csv(table), "data/statement.html": render_statement(view)}
