"""A bundle's derived documents (DESIGN §5.1): `README.txt`, `chronology.html`, `chronology.csv` and
`statement.html`, rendered from the bundle's records and `inputs.json` alone.

The export and `docket verify` both call `derive_documents` on the same bytes, so a bundle is checked by rendering
it again and comparing byte for byte. Nothing here reads a clock, a random source or a database, and every list
has a stable order: the same records and inputs give the same bytes, today and years from now."""

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from service.engagements.models import Engagement, Terms
from service.records.corrections import resolve


def _renderer() -> str:
    """Names the rendering: the templates, the row and CSV layout, and the facts' rules and sentences, by the
    SHA-256 of the source that makes them. A bundle records the renderer it was made with. A later Docket whose
    rules have changed would render other bytes from the same records: it must say it could not render them
    again, not that the file was changed. Taken from the source itself, since no one remembers to bump a number
    when a sentence of the facts is reworded."""
    import service

    package = Path(service.__file__).parent
    # Every module of the facts: the statement's rules and sentences are spread over them.
    facts = sorted(p.relative_to(package).as_posix() for p in (package / "facts").glob("*.py"))
    sources = ["bundles/derive.py", "bundles/chronology.py", "bundles/templates/chronology.html",
               "bundles/templates/statement.html", *facts, "records/kinds.py",
               "records/service.py", "records/corrections.py", "engagements/models.py", "money.py", "times.py"]
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.encode() + b"\0" + (package / source).read_bytes() + b"\0")
    return f"docket-bundle-render/1+{digest.hexdigest()[:16]}"


RENDERER = _renderer()
INPUTS_FORMAT = "docket-bundle-inputs/v1"
BUNDLE_VERSION = "2"
DERIVED = ("data/README.txt", "data/chronology.html", "data/chronology.csv", "data/statement.html")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Text = Annotated[str, Field(max_length=10_000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class InputExhibit(_Strict):
    number: Annotated[str, Field(pattern=r"^E[0-9]{4,}$")]
    sha256: Sha256
    filename: Text
    media_type: Text
    size: Annotated[int, Field(ge=0)]


class InputCite(_Strict):
    index: Annotated[int, Field(ge=0)]
    exhibits: list[Annotated[str, Field(pattern=r"^E[0-9]{4,}$")]]


class InputLine(_Strict):
    number: Annotated[int, Field(ge=1)]
    text: StrictStr
    refs: list[InputCite]


class InputStatement(_Strict):
    """A partial bundle's statement lines, as computed on the whole ledger: they cannot be derived again from the
    disclosed records alone, so they are carried, sealed, and checked against their citations."""

    lines: list[InputLine]
    withheld: Annotated[int, Field(ge=0)]


class InputRate(_Strict):
    effective_on: StrictStr
    rate_bp: StrictInt
    source: Text
    origin: Literal["shipped", "workspace"]


class InputEngagement(_Strict):
    id: StrictInt
    client_id: StrictInt
    title: Text
    terms: dict  # the opening terms, checked as Terms when used


class InputBundle(_Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,120}$")]
    record_index: Annotated[int, Field(ge=0)]  # of the bundle_exported record
    recipient: Text | None
    subset: Text  # in words; "the whole engagement" for a whole bundle


class InputKey(_Strict):
    name: Text
    id: Annotated[str, Field(pattern=r"^[0-9a-f]{8}$")]
    vkey: Text


class Inputs(_Strict):
    """Everything the rendering needs that is not a record."""

    format: Literal["docket-bundle-inputs/v1"]
    renderer: StrictStr
    as_of: StrictStr  # the day the facts are computed for (YYYY-MM-DD)
    exported_at: StrictStr  # RFC 3339 UTC, seconds
    time_zone: Literal["UTC"]
    exhibit_mark: Literal["E"]
    contractor: Text
    client: Text
    engagement: InputEngagement
    bundle: InputBundle
    key: InputKey
    rates: dict[str, list[InputRate]]
    thresholds: dict[str, tuple[StrictInt, StrictInt]]
    exhibits: list[InputExhibit]
    statement: InputStatement | None  # None: a whole bundle, whose statement is derived again from the records


class InputsError(ValueError):
    """inputs.json that does not parse or does not have the shape above."""


def parse_inputs(data: bytes) -> Inputs:
    try:
        inputs = Inputs.model_validate_json(data)
        date.fromisoformat(inputs.as_of)
        _parse_time(inputs.exported_at)
        Terms.model_validate(inputs.engagement.terms)
        for rates in inputs.rates.values():
            for rate in rates:
                date.fromisoformat(rate.effective_on)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputsError(f"{'.'.join(map(str, first['loc'])) or 'the file'}: {first['msg']}") from None
    except (ValueError, RecursionError) as exc:
        raise InputsError(str(exc)[:200]) from None
    return inputs


def dump_inputs(inputs: dict) -> bytes:
    """Sorted keys, two-space indent, UTF-8, one final newline: readable, and the same bytes for the same inputs."""
    return (json.dumps(inputs, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode()


def _parse_time(text: str) -> datetime:
    if not text.endswith("Z"):
        raise ValueError(f"{text!r} is not an RFC 3339 UTC time ending in Z")
    return datetime.fromisoformat(text[:-1] + "+00:00")


def ascii_name(filename: str) -> str:
    """A file name any unzip tool, file system and `sha256sum -c` handles: ASCII letters, digits, . _ -"""
    text = _UNSAFE_NAME.sub("-", unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode())
    stem, dot, ext = text.rpartition(".")
    if dot and ext.isalnum() and len(ext) <= 10:
        return f"{stem.strip('.-_')[:80].strip('.-_') or 'file'}.{ext}"
    return text.strip(".-_")[:90].strip(".-_") or "file"


# The records, from their exact leaf and body bytes


@dataclass
class Entry:
    """One disclosed record."""

    index: int
    kind: str
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    leaf: bytes
    body: bytes | None  # exact JCS bytes; None once redacted or not disclosed
    attachments: list[str]
    refs: list[int]
    body_sha256: str
    status: str = "current"  # current, amended or retracted
    amended_by: list[int] = field(default_factory=list)
    retracted_by: int | None = None
    data: dict | None = None  # the body parsed
    current: dict | None = None  # the body as last amended

    @classmethod
    def parse(cls, leaf: bytes, body: bytes | None) -> "Entry":
        """From checked bytes (verify checks the leaf's shape before this is called)."""
        envelope = orjson.loads(leaf)  # a few times faster than json on the thousands of records of a long ledger
        data = orjson.loads(body) if body is not None else None
        return cls(index=envelope["index"], kind=envelope["kind"], occurred_at=_parse_time(envelope["occurred_at"]),
                   recorded_at=_parse_time(envelope["recorded_at"]), actor=envelope["actor"], leaf=leaf, body=body,
                   attachments=list(envelope["attachments"]), refs=list(envelope["refs"]),
                   body_sha256=envelope["body_sha256"], data=data if isinstance(data, dict) else None)


def entries_from(leaves: dict[int, bytes], bodies: dict[int, bytes]) -> list[Entry]:
    """The disclosed records in chronology order (occurred_at, then index), each marked amended or retracted by
    the corrections among them (a bundle always discloses a record's corrections with it)."""
    entries = {index: Entry.parse(leaf, bodies.get(index)) for index, leaf in leaves.items()}
    fixes = resolve((e.index, e.kind, e.refs, e.data) for e in entries.values())
    for entry in entries.values():
        entry.status, entry.current = fixes.status(entry.index), fixes.current(entry.index, entry.data)
        entry.amended_by = fixes.amended_by.get(entry.index, [])
        entry.retracted_by = fixes.retracted_by.get(entry.index)
    return sorted(entries.values(), key=lambda e: (e.occurred_at, e.index))


# What the templates are given


@dataclass(frozen=True)
class Cite:
    index: int
    exhibits: list[str]


@dataclass(frozen=True)
class Line:
    number: int
    text: str
    refs: list[Cite]


@dataclass
class Exhibit:
    number: str
    sha256: str
    size: int
    filename: str
    media_type: str
    records: list[int] = field(default_factory=list)

    @property
    def arcname(self) -> str:
        return f"data/exhibits/{self.number}-{ascii_name(self.filename)}"


@dataclass
class View:
    """A bundle as its documents show it."""

    inputs: Inputs
    inputs_sha256: str
    checkpoint_note: str
    origin: str
    size: int
    root: bytes
    entries: list[Entry]
    exhibits: list[Exhibit]
    statement: list[Line]
    withheld: int

    @property
    def partial(self) -> bool:
        return len(self.entries) < self.size

    @property
    def terms(self) -> Terms:
        return Terms.model_validate(self.inputs.engagement.terms)

    @property
    def as_of(self) -> date:
        return date.fromisoformat(self.inputs.as_of)

    @property
    def exported_at(self) -> datetime:
        return _parse_time(self.inputs.exported_at)


def derived_statement(inputs: Inputs, entries: list[Entry], *, size: int, root: bytes) -> list[Line]:
    """A whole bundle's statement of facts, computed again from its records with the facts' own rules."""
    from service.facts.compute import FactsInputs, facts_from_rows
    from service.facts.rates import Rate

    terms = Terms.model_validate(inputs.engagement.terms)
    engagement = Engagement(id=inputs.engagement.id, workspace_id=0, client_id=inputs.engagement.client_id,
                            title=inputs.engagement.title, tree_size=size, root_hash=root, **terms.model_dump())
    facts_in = FactsInputs(
        rates={series: [Rate(series=series, effective_on=date.fromisoformat(r.effective_on), rate_bp=r.rate_bp,
                             source=r.source, origin=r.origin) for r in rates]
               for series, rates in inputs.rates.items()},
        thresholds={name: tuple(level) for name, level in inputs.thresholds.items()})
    rows = [(e.index, e.kind, e.occurred_at, e.body, e.refs, e.attachments) for e in entries]
    facts = facts_from_rows(engagement, rows, client_name=inputs.client, as_of=date.fromisoformat(inputs.as_of),
                            inputs=facts_in)
    return [Line(number=line.number, text=line.text, refs=[Cite(index=c.index, exhibits=list(c.exhibits))
                                                            for c in line.refs])
            for line in facts.statement]


def build_view(inputs_bytes: bytes, inputs: Inputs, *, checkpoint_note: str, origin: str, size: int, root: bytes,
               leaves: dict[int, bytes], bodies: dict[int, bytes]) -> View:
    entries = entries_from(leaves, bodies)
    attached: dict[str, list[int]] = {}
    for entry in entries:
        for sha in entry.attachments:
            attached.setdefault(sha, []).append(entry.index)
    exhibits = [Exhibit(number=x.number, sha256=x.sha256, size=x.size, filename=x.filename,
                        media_type=x.media_type, records=attached.get(x.sha256, [])) for x in inputs.exhibits]
    if inputs.statement is None:
        statement, withheld = derived_statement(inputs, entries, size=size, root=root), 0
    else:
        statement = [Line(number=line.number, text=line.text, refs=[Cite(index=c.index, exhibits=list(c.exhibits))
                                                                    for c in line.refs])
                     for line in inputs.statement.lines]
        withheld = inputs.statement.withheld
    return View(inputs=inputs, inputs_sha256=hashlib.sha256(inputs_bytes).hexdigest(), checkpoint_note=checkpoint_note,
                origin=origin, size=size, root=root, entries=entries, exhibits=exhibits, statement=statement,
                withheld=withheld)


def _tag_value(text: str) -> str:
    # bag-info.txt is one "Label: value" per line: user text must not start a new one.
    return " ".join(str(text).split())


def bag_info(inputs: Inputs, *, origin: str, size: int, root: bytes, disclosed: int, payload_bytes: int,
             payload_files: int) -> bytes:
    """bag-info.txt, from inputs.json and the checkpoint: `docket verify` writes it again and compares, so that
    its descriptions too say only what the bundle holds."""
    counted = f"{disclosed} of {size} records" if disclosed < size else f"all {size} records"
    bundle = inputs.bundle
    fields = [
        ("Source-Organization", inputs.contractor),
        ("External-Identifier", f"{origin}/bundle/{bundle.record_index}"),
        ("External-Description", f"Docket evidence bundle: {inputs.engagement.title} with {inputs.client}; {counted}"
                                 + (f"; for {bundle.recipient}" if bundle.recipient else "")),
        ("Bagging-Date", inputs.exported_at[:10]),
        ("Bag-Software-Agent", f"Docket bundle format v{BUNDLE_VERSION}"),
        ("Docket-Bundle-Version", BUNDLE_VERSION),
        ("Payload-Oxum", f"{payload_bytes}.{payload_files}"),
        ("Docket-Log-Origin", origin),
        ("Docket-Tree-Size", str(size)),
        ("Docket-Root-Hash", root.hex()),
    ]
    return "".join(f"{label}: {_tag_value(value)}\n" for label, value in fields).encode()
