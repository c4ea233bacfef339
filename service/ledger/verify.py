"""`docket verify --db`: re-derive every ledger from what is stored, trusting nothing the application wrote
down about it (DESIGN §4). Each problem names its engagement and index."""

import hashlib
import json

from sqlalchemy import select, text
from sqlmodel import Session

from service.accounts.models import Workspace
from service.db import raw_list, raw_rfc3339_micro, raw_rfc3339_seconds
from service.engagements.models import Engagement
from service.evidence.models import Evidence
from service.evidence.store import EvidenceStore
from service.ledger import merkle, note
from service.ledger import service as ledger
from service.ledger.leaf import is_plain_leaf, leaf_bytes
from service.ledger.models import Checkpoint
from service.ledger.report import Report

# Raw column values, without ORM type processing: verify reads every row there is, and parsing two datetimes
# and two JSON lists per row only to format them back costs more than all the hashing. One streamed statement
# (a server-side cursor on PostgreSQL) rather than a query per batch, as the batches are small.
_ROWS = text(
    "SELECT idx, kind, occurred_at, recorded_at, actor, body, body_sha256, attachments, refs, leaf, leaf_hash "
    "FROM record WHERE engagement_id = :engagement ORDER BY idx"
)
# Small batches: rows kept alive across the cyclic GC's young collections get promoted and set off full ones,
# which at 4096 rows a batch cost more than the hashing. A power of two, so that a batch of leaf hashes is
# mostly whole subtrees.
_BATCH = 256


# An empty JSON list column: SQLite hands back the text, PostgreSQL the parsed list.
_EMPTY = ("[]", [])


def _which_fields(stored: bytes, expected: bytes) -> str:
    try:
        have, want = json.loads(stored), json.loads(expected)
        fields = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
        return ", ".join(fields) or "encoding"
    except (ValueError, AttributeError):
        return "the leaf is not JSON"


def verify_engagement(session: Session, *, workspace: Workspace, engagement: Engagement,
                      report: Report | None = None) -> Report:
    report = report or Report(f"Ledger of engagement {engagement.id}")
    where = f"engagement {engagement.id}"
    origin = ledger.origin(workspace, engagement)
    checkpoints = list(session.execute(
        select(Checkpoint).where(Checkpoint.engagement_id == engagement.id).order_by(Checkpoint.size)).scalars())
    # Checkpoint sizes still ahead, smallest last.
    wanted = sorted({c.size for c in checkpoints}, reverse=True)
    roots: dict[int, bytes] = {}
    tree = merkle.IncrementalTree()
    sha256 = hashlib.sha256
    expected_idx = 0
    records = bytes_hashed = 0
    rows = session.execute(_ROWS, {"engagement": engagement.id}, execution_options={"yield_per": _BATCH})
    for batch in rows.partitions(_BATCH):
        digests = []
        for idx, kind, occurred_at, recorded_at, actor, body, body_sha256, attachments, refs, leaf, leaf_hash in (
                batch):
            try:
                if type(idx) is not int:
                    raise TypeError(f"the index {idx!r} is not an integer")
                if idx != expected_idx:
                    report.problem(f"{where}, record {idx}", f"expected record {expected_idx} here: "
                                   + ("records are missing" if idx > expected_idx else "an index is repeated"))
                    expected_idx = idx
                if body is not None:
                    bytes_hashed += len(body)
                    if sha256(body).hexdigest() != body_sha256:
                        report.problem(f"{where}, record {idx}", "the body does not hash to its body_sha256")
                occurred, recorded = raw_rfc3339_seconds(occurred_at), raw_rfc3339_micro(recorded_at)
                if not (attachments in _EMPTY and refs in _EMPTY
                        and is_plain_leaf(leaf, origin, idx, kind, occurred, recorded, actor, body_sha256)):
                    expected = leaf_bytes(origin=origin, index=idx, kind=kind, occurred_at=occurred,
                                          recorded_at=recorded, actor=actor, body_sha256=body_sha256,
                                          attachments=raw_list(attachments), refs=raw_list(refs))
                    if leaf != expected:
                        report.problem(f"{where}, record {idx}", "the leaf bytes disagree with the record on: "
                                       + _which_fields(leaf, expected))
                bytes_hashed += len(leaf)
                digest = sha256(b"\x00" + leaf).digest()
                if digest != leaf_hash:
                    report.problem(f"{where}, record {idx}",
                                   "the stored leaf hash is not the hash of the leaf bytes")
            except (TypeError, ValueError, AttributeError) as exc:
                # A value of the wrong type (text where bytes belong, on SQLite) is tampering too: named, and
                # the tree goes on with a hash no leaf has, so that every later root fails as it should.
                report.problem(f"{where}, record {idx}", f"the stored row cannot be read: {exc}")
                digest = bytes(32)
            digests.append(digest)
            expected_idx += 1
        records += len(batch)
        start = tree.size
        while wanted and wanted[-1] <= start + len(digests):
            size = wanted.pop()
            tree.extend(digests[tree.size - start:size - start])
            roots[size] = tree.root()
        tree.extend(digests[tree.size - start:])
    report.count("records", records)
    report.count("bytes hashed", bytes_hashed)

    root = tree.root()
    if tree.size != engagement.tree_size:
        report.problem(where, f"the ledger holds {tree.size} records but the engagement says {engagement.tree_size}")
    elif root != engagement.root_hash:
        report.problem(where, "the leaves give a different root from the engagement's root hash")
    if b"".join(digest for _, digest in tree.stack) != engagement.frontier:
        report.problem(where, "the stored frontier (what appends build on) disagrees with the leaves")
    if tree.size and merkle.root_at(tree.size, ledger.node_fetcher(session, engagement.id)) != root:
        report.problem(where, "the stored subtree hashes (used for proofs) give a different root")

    vkey = ledger.verifier_key(workspace)
    for checkpoint in checkpoints:
        at = f"{where}, checkpoint {checkpoint.size}"
        report.count("checkpoints")
        try:
            signed = note.open_note(checkpoint.note, vkey)
        except note.NoteError as exc:
            report.problem(at, f"signature: {exc}")
            continue
        if (signed.origin, signed.size, signed.root) != (origin, checkpoint.size, checkpoint.root_hash):
            report.problem(at, "the signed note says something other than the stored checkpoint")
        if checkpoint.size not in roots:
            report.problem(at, f"signed at size {checkpoint.size} but the ledger has only {tree.size} records")
        elif roots[checkpoint.size] != signed.root:
            report.problem(at, "the leaves give a different root from the signed checkpoint")
    report.count("engagements")
    return report


def verify_files(session: Session, store: EvidenceStore, report: Report) -> None:
    sizes = dict(session.execute(select(Evidence.sha256, Evidence.size).distinct()).all())
    for sha, size in sorted(sizes.items()):
        path = store.path(sha)
        at = f"evidence {sha}"
        if not path.is_file():
            report.problem(at, f"the file is missing from the evidence store ({path})")
            continue
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        actual = path.stat().st_size
        report.count("files")
        report.count("file bytes", actual)
        if digest.hexdigest() != sha:
            report.problem(at, "the file's content no longer matches its sha256")
        elif actual != size:
            report.problem(at, f"the file is {actual} bytes but was registered as {size}")


def verify_database(session: Session, store: EvidenceStore) -> Report:
    report = Report("Docket database")
    report.counts = {"engagements": 0, "records": 0, "checkpoints": 0, "files": 0, "file bytes": 0,
                     "bytes hashed": 0}
    for workspace in session.execute(select(Workspace).order_by(Workspace.id)).scalars():
        for engagement in session.execute(
                select(Engagement).where(Engagement.workspace_id == workspace.id).order_by(Engagement.id)).scalars():
            verify_engagement(session, workspace=workspace, engagement=engagement, report=report)
    verify_files(session, store, report)
    return report
