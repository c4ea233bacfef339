"""The append benchmark's baseline: Docket's app plus one route that inserts the same rows bare.

Same process, same auth and session handling as a real append, but a plain SQLModel insert: no body
validation, no JCS, no hashing, no Merkle nodes, no refs checks."""

from datetime import datetime
from typing import Any

from sqlmodel import JSON, Field, SQLModel

from service.deps import SessionDep, WriterDep
from service.main import create_app


class BareRecord(SQLModel, table=True):
    __tablename__ = "bench_bare_record"
    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int
    kind: str
    occurred_at: datetime
    body: dict[str, Any] = Field(sa_type=JSON)


app = create_app()
BareRecord.__table__.create(app.state.engine, checkfirst=True)


# Under /api/ so that the token authenticates it as it does the real append (pages take cookies only).
@app.post("/api/bench/engagements/{engagement_id}/records", status_code=201)
def bare_insert(engagement_id: int, payload: dict[str, Any], principal: WriterDep, session: SessionDep):
    row = BareRecord(engagement_id=engagement_id, kind=payload["kind"],
                     occurred_at=datetime.fromisoformat(payload["occurred_at"]), body=payload["body"])
    session.add(row)
    session.flush()
    return {"id": row.id}
