"""Builds a realistic engagement, exports it, and takes bundles apart and puts them back together."""

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bagit

from service.accounts.models import Role
from service.accounts.service import Principal
from service.bundles.service import Subset, prepare_bundle
from service.bundles.verify import verify_bundle
from service.bundles.writer import write_bundle
from service.config import get_settings
from service.evidence.service import register_evidence
from service.evidence.store import EvidenceStore
from service.ledger import note
from service.ledger import service as ledger
from service.ledger.receipts import share_checkpoint
from tests import factories

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
EMAIL = b"From: tom@halden.example\r\nSubject: Re: invoice\r\n\r\nWe will not pay <b>this</b>.\r\n"


def store_file(session, *, member, content: bytes, filename: str, media_type: str = "application/pdf") -> str:
    pending = EvidenceStore(get_settings().evidence_dir).writer(len(content) + 1)
    pending.write(content)
    sha = pending.commit()
    register_evidence(session, workspace=member.workspace, sha256=sha, size=len(content), media_type=media_type,
                      filename=filename)
    session.commit()
    return sha


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 3, 1, hour, tzinfo=UTC) + timedelta(days=day)


def build_engagement(session, *, member):
    """Records of several kinds, files (one attached twice), an amendment, a retraction, a record written down
    the same hour it happened, an invoice and its refusal, and a checkpoint handed to the client."""
    engagement = factories.make_engagement(session, member=member, title="Outbound <sales> & co")
    pdf = store_file(session, member=member, content=PDF, filename="Weekly report №1.pdf")
    email = store_file(session, member=member, content=EMAIL, filename="../Re: invoice.eml",
                       media_type="message/rfc822")
    add = factories.append
    add(session, member=member, engagement=engagement, kind="email", occurred_at=at(1), attachments=[email],
        summary="<script>alert(1)</script> Sent the plan", direction="out")
    add(session, member=member, engagement=engagement, kind="report_sent", occurred_at=at(2), attachments=[pdf],
        summary="=HYPERLINK(\"http://evil\") weekly report")
    add(session, member=member, engagement=engagement, kind="call", occurred_at=at(3), summary="Call with Tom")
    invoice = add(session, member=member, engagement=engagement, kind="invoice_issued", occurred_at=at(4),
                  attachments=[pdf], invoice_number="INV-7", amount_minor=900000, currency="GBP")
    add(session, member=member, engagement=engagement, kind="payment_refused", occurred_at=at(5),
        refs=[invoice.idx], reason="Says no leads were delivered")
    add(session, member=member, engagement=engagement, kind="amendment", occurred_at=at(6), refs=[3],
        reason="wrong person", body={"summary": "Call with Priya", "direction": "out"})
    add(session, member=member, engagement=engagement, kind="retraction", occurred_at=at(6, 11), refs=[1],
        reason="sent to the wrong client")
    principal = Principal(workspace=member.workspace, role=Role.owner, user_id=member.user.id)
    share_checkpoint(session, principal=principal, engagement=engagement, recipient="Tom Reed", method="email")
    session.commit()
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    add(session, member=member, engagement=engagement, kind="note", occurred_at=now, summary="Contemporaneous note")
    return engagement


def export(session, *, member, engagement, path: Path, subset: Subset = Subset(), recipient: str | None = None):
    plan = prepare_bundle(session, workspace=member.workspace, engagement=engagement, actor=member.actor,
                          subset=subset, recipient=recipient, store=EvidenceStore(get_settings().evidence_dir))
    session.commit()
    write_bundle(plan, path)
    return plan


def vkey(member) -> str:
    return ledger.verifier_key(member.workspace)


def bag_dir(path: Path, into: Path) -> Path:
    """Extracts the bundle as a user would, and returns the bag's folder."""
    with zipfile.ZipFile(path) as archive:
        archive.extractall(into)
        top = {name.split("/", 1)[0] for name in archive.namelist()}
    assert len(top) == 1
    return into / top.pop()


def check_everywhere(path: Path, into: Path, *, key: str) -> None:
    """The independent validator and ours must both accept the bundle."""
    assert bagit.Bag(str(bag_dir(path, into))).validate()
    report = verify_bundle(path, key=key)
    assert report.ok, report.render()


def read_zip(path: Path) -> tuple[str, dict[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        root = names[0].split("/", 1)[0] + "/"
        return root, {name[len(root):]: archive.read(name) for name in names}


def write_zip(path: Path, root: str, files: dict[str, bytes], *, refresh: bool, seal_with=None) -> None:
    """Writes the files back; with `refresh`, recomputes the manifests and Payload-Oxum as a forger would, so
    that only the ledger's own checks can catch the change. `seal_with` (a key name and private key) seals the
    new manifest too, as a forger holding a key would."""
    if refresh:
        payload = {name: data for name, data in files.items() if name.startswith("data/")}
        files["manifest-sha256.txt"] = "".join(
            f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(payload.items())).encode()
        info = files["bag-info.txt"].decode().splitlines()
        oxum = f"Payload-Oxum: {sum(map(len, payload.values()))}.{len(payload)}"
        files["bag-info.txt"] = ("\n".join(oxum if line.startswith("Payload-Oxum:") else line for line in info)
                                 + "\n").encode()
        if seal_with is not None:
            name, key = seal_with
            text = files["docket-seal.txt"].decode().split("\n\n")[0] + "\n"
            lines = text.split("\n")
            lines[3] = f"manifest-sha256 {hashlib.sha256(files['manifest-sha256.txt']).hexdigest()}"
            files["docket-seal.txt"] = note.sign_note("\n".join(lines), name, key).encode()
        tags = [name for name in files if not name.startswith("data/") and name != "tagmanifest-sha256.txt"]
        files["tagmanifest-sha256.txt"] = "".join(
            f"{hashlib.sha256(files[name]).hexdigest()}  {name}\n" for name in sorted(tags)).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(root + name, data)
    path.write_bytes(buffer.getvalue())


def problems(path: Path, *, key: str | None) -> list[str]:
    return [f"{p.where}: {p.message}" for p in verify_bundle(path, key=key).problems]


def rerender(files: dict[str, bytes], **changes) -> None:
    """inputs.json with `changes` applied at its top level, and the derived documents rendered again from it, as a
    forger holding Docket would do."""
    from service.bundles.chronology import derive_documents
    from service.bundles.derive import build_view, dump_inputs, parse_inputs

    inputs = json.loads(files["data/inputs.json"]) | changes
    files["data/inputs.json"] = dump_inputs(inputs)
    checkpoint = note.parse_checkpoint(files["data/ledger/checkpoint"].decode().split("\n\n")[0] + "\n")
    leaves = {int(n.split("/")[-1].split(".")[0]): data for n, data in files.items() if n.endswith(".leaf.json")}
    bodies = {int(n.split("/")[-1].split(".")[0]): data for n, data in files.items() if n.endswith(".body.json")}
    view = build_view(files["data/inputs.json"], parse_inputs(files["data/inputs.json"]),
                      checkpoint_note=files["data/ledger/checkpoint"].decode(), origin=checkpoint.origin,
                      size=checkpoint.size, root=checkpoint.root, leaves=leaves, bodies=bodies)
    files.update(derive_documents(view))
