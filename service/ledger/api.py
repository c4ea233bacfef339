import base64
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from service.db import writes
from service.deps import EngagementDep, PrincipalDep, SessionDep, WriterDep
from service.http import StrictJsonRoute
from service.idempotency import IdempotencyDep
from service.ledger import service as ledger
from service.ledger.receipts import share_checkpoint

router = APIRouter(tags=["ledger"], route_class=StrictJsonRoute)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class WorkspaceKey(BaseModel):
    name: str
    key_id: str = Field(description="hex of the 4-byte C2SP key id")
    vkey: str = Field(description="C2SP verifier key: name+keyid+base64(0x01 || Ed25519 public key)")


class Proof(BaseModel):
    size: int
    root: str = Field(description="base64 root of the tree of this size")
    proof: list[str] = Field(description="base64 hashes, RFC 9162 order")


class InclusionProof(Proof):
    index: int
    leaf_hash: str


class ConsistencyProof(BaseModel):
    from_size: int
    to_size: int
    from_root: str
    to_root: str
    proof: list[str]


class Leaf(BaseModel):
    index: int
    leaf: str = Field(description="base64 of the exact RFC 8785 leaf bytes")
    leaf_hash: str


class ReceiptCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    recipient: str = Field(min_length=1, max_length=200, description="to whom the checkpoint was handed")
    method: str = Field(min_length=1, max_length=200, description="how: email, contract annex, letter...")


class Receipt(BaseModel):
    record_index: int
    size: int
    root: str
    checkpoint: str
    text: str = Field(description="paste this into an email: the signed checkpoint and how to check it")


@router.get("/workspace/key", response_model=WorkspaceKey)
def workspace_key(principal: PrincipalDep):
    return WorkspaceKey(name=ledger.key_name(principal.workspace), key_id=ledger.key_id(principal.workspace),
                        vkey=ledger.verifier_key(principal.workspace))


@router.get("/engagements/{engagement_id}/checkpoint", response_class=PlainTextResponse,
            dependencies=[Depends(writes)], responses={200: {"content": {"text/plain": {}}}})
def checkpoint(engagement: EngagementDep, principal: PrincipalDep, session: SessionDep):
    """The latest signed checkpoint (a C2SP signed note), signed now if the ledger grew since the last one."""
    return ledger.sign_current_checkpoint(session, workspace=principal.workspace, engagement=engagement).note


@router.get("/engagements/{engagement_id}/proofs/inclusion", response_model=InclusionProof)
def inclusion(engagement: EngagementDep, session: SessionDep,
              index: Annotated[int, Query(ge=0)], size: Annotated[int, Query(ge=1)]):
    proof = ledger.inclusion_proof(session, engagement, index=index, size=size)
    leaf = ledger.leaves(session, engagement, start=index, end=index + 1)[0]
    return InclusionProof(index=index, size=size, root=b64(ledger.root_at(session, engagement, size)),
                          leaf_hash=b64(leaf.leaf_hash), proof=[b64(h) for h in proof])


@router.get("/engagements/{engagement_id}/proofs/consistency", response_model=ConsistencyProof)
def consistency(engagement: EngagementDep, session: SessionDep,
                from_: Annotated[int, Query(alias="from", ge=1)], to: Annotated[int, Query(ge=1)]):
    proof = ledger.consistency_proof(session, engagement, size1=from_, size2=to)
    return ConsistencyProof(from_size=from_, to_size=to, from_root=b64(ledger.root_at(session, engagement, from_)),
                            to_root=b64(ledger.root_at(session, engagement, to)), proof=[b64(h) for h in proof])


@router.get("/engagements/{engagement_id}/leaves", response_model=list[Leaf])
def get_leaves(engagement: EngagementDep, session: SessionDep,
               start: Annotated[int, Query(ge=0)], end: Annotated[int, Query(ge=1)]):
    return [Leaf(index=r.idx, leaf=b64(r.leaf), leaf_hash=b64(r.leaf_hash))
            for r in ledger.leaves(session, engagement, start=start, end=end)]


@router.post("/engagements/{engagement_id}/receipts", status_code=201, response_model=Receipt)
def post_receipt(data: ReceiptCreate, engagement: EngagementDep, principal: WriterDep, session: SessionDep,
                 idem: IdempotencyDep):
    receipt = share_checkpoint(session, principal=principal, engagement=engagement,
                               recipient=data.recipient, method=data.method)
    return idem.respond(Receipt(**receipt.__dict__))
