"""Appends from many requests at once: one engagement's are serialised and get contiguous indices (a row lock
on PostgreSQL, the writer queue on SQLite); different engagements proceed side by side. Real commits, real
threads, on the test run's own database."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlmodel import select

from service.db import new_session
from service.engagements.models import Engagement
from service.ledger.verify import verify_engagement
from service.records.models import Record, RecordCreate
from service.records.service import append_record
from tests import factories

THREADS, EACH = 6, 8


def test_concurrent_appends_get_contiguous_indices_and_verify(engine):
    with new_session(engine, write=True) as session:
        member = factories.make_member(session, workspace_name="Concurrency Ltd")
        engagements = [factories.make_engagement(session, member=member).id for _ in range(2)]
        workspace_id = member.workspace.id

    def worker(n: int) -> None:
        for i in range(EACH):
            with new_session(engine, write=True) as session:
                engagement = session.get(Engagement, engagements[n % 2])
                workspace = session.get(type(member.workspace), workspace_id)
                append_record(session, workspace=workspace, engagement=engagement, actor=member.actor,
                              data=RecordCreate(kind="call", occurred_at=datetime(2026, 3, 1, tzinfo=UTC),
                                                body={"summary": f"worker {n} call {i}", "direction": "out"}))
                session.commit()

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(worker, range(THREADS)))

    with new_session(engine) as session:
        workspace = session.get(type(member.workspace), workspace_id)
        for engagement_id in engagements:
            engagement = session.get(Engagement, engagement_id)
            indices = session.exec(select(Record.idx).where(Record.engagement_id == engagement_id)
                                   .order_by(Record.idx)).all()
            expected = 1 + THREADS * EACH // 2
            assert indices == list(range(expected)) and engagement.tree_size == expected
            report = verify_engagement(session, workspace=workspace, engagement=engagement)
            assert report.ok, report.render()


def test_concurrent_checkpoint_requests_sign_each_size_once(engine):
    """Several GETs of the checkpoint after the ledger grew: one signature for the new size, every caller gets
    it (on PostgreSQL the second signer used to fail on the unique size)."""
    from service.ledger import service as ledger
    from service.ledger.models import Checkpoint

    with new_session(engine, write=True) as session:
        member = factories.make_member(session, workspace_name="Checkpoint Race Ltd")
        engagement = factories.make_engagement(session, member=member)
        ledger.sign_current_checkpoint(session, workspace=member.workspace, engagement=engagement)
        factories.append(session, member=member, engagement=engagement)
        session.commit()
        engagement_id, workspace_id = engagement.id, member.workspace.id

    def sign(_: int) -> str:
        with new_session(engine, write=True) as session:
            engagement = session.get(Engagement, engagement_id)
            workspace = session.get(type(member.workspace), workspace_id)
            note = ledger.sign_current_checkpoint(session, workspace=workspace, engagement=engagement).note
            session.commit()
            return note

    with ThreadPoolExecutor(THREADS) as pool:
        notes = set(pool.map(sign, range(THREADS * 2)))
    with new_session(engine) as session:
        sizes = session.exec(select(Checkpoint.size).where(Checkpoint.engagement_id == engagement_id)).all()
    assert len(notes) == 1 and sorted(sizes) == [1, 2]
