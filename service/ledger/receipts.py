"""Handing a checkpoint to someone, and recording that we did."""

import base64
from dataclasses import dataclass

from sqlmodel import Session

from service.accounts.service import Principal
from service.engagements.models import Engagement
from service.ledger import service as ledger
from service.records.models import RecordCreate
from service.records.service import append_record
from service.times import utcnow


@dataclass
class ShareReceipt:
    record_index: int
    size: int
    root: str
    checkpoint: str
    text: str


def receipt_text(checkpoint_note: str, vkey: str) -> str:
    return (
        f"{checkpoint_note}\n"
        f"This is a signed checkpoint of our engagement record. Check it with `docket verify` and the key {vkey}.\n"
    )


def share_checkpoint(
    session: Session, *, principal: Principal, engagement: Engagement, recipient: str, method: str
) -> ShareReceipt:
    """Signs the ledger as it stands, then appends a `checkpoint_shared` record saying who got it and how."""
    workspace = principal.workspace
    checkpoint = ledger.sign_current_checkpoint(session, workspace=workspace, engagement=engagement)
    root = base64.b64encode(checkpoint.root_hash).decode()
    record = append_record(
        session, workspace=workspace, engagement=engagement, actor=principal.actor, system=True,
        data=RecordCreate(
            kind="checkpoint_shared",
            occurred_at=utcnow(),
            body={"summary": f"Checkpoint {checkpoint.size} shared with {recipient} by {method}",
                  "recipient": recipient, "method": method, "size": checkpoint.size, "root": root},
        ),
    )
    return ShareReceipt(record_index=record.idx, size=checkpoint.size, root=root, checkpoint=checkpoint.note,
                        text=receipt_text(checkpoint.note, ledger.verifier_key(workspace)))
