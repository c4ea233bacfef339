from sqlmodel import Session, select

from service.accounts.models import Workspace
from service.errors import NotFound
from service.evidence.models import Evidence

# Types a browser may open in a tab rather than save: shown by the browser itself, never run as a page of ours.
# Not HTML or SVG, which can carry script; anything else is always a download.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"})


def register_evidence(
    session: Session, *, workspace: Workspace, sha256: str, size: int, media_type: str, filename: str
) -> Evidence:
    """Records that this workspace holds the stored file; uploading the same bytes again changes nothing."""
    existing = session.exec(
        select(Evidence).where(Evidence.workspace_id == workspace.id, Evidence.sha256 == sha256)
    ).first()
    if existing is not None:
        return existing
    evidence = Evidence(workspace_id=workspace.id, sha256=sha256, size=size,
                        media_type=media_type[:200] or "application/octet-stream", filename=filename[:255])
    session.add(evidence)
    session.flush()
    return evidence


def get_evidence(session: Session, *, workspace: Workspace, sha256: str) -> Evidence:
    evidence = session.exec(
        select(Evidence).where(Evidence.workspace_id == workspace.id, Evidence.sha256 == sha256)
    ).first()
    if evidence is None:
        raise NotFound("no such evidence file")
    return evidence


def evidence_by_hash(session: Session, *, workspace: Workspace, hashes: list[str]) -> dict[str, Evidence]:
    if not hashes:
        return {}
    rows = session.exec(select(Evidence).where(Evidence.workspace_id == workspace.id,
                                               Evidence.sha256.in_(hashes)))
    return {e.sha256: e for e in rows}
