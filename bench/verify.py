"""Issue 3: `docket verify --db` over an engagement of 1,000,000 leaves, against plain hashlib.sha256 over the
same bytes (every body and every leaf, already in memory) in the same run. Target: at least 0.5 of its rate."""

import hashlib
import os
import time

SIZE = int(os.environ.get("BENCH_LEDGER_LEAVES", 1_000_000))


def main() -> None:
    from bench._ledger_data import ledger_engagement

    engagement_id, workspace_id = ledger_engagement(SIZE)
    from service.accounts.models import Workspace
    from service.db import new_session
    from service.engagements.models import Engagement
    from service.ledger.report import Report
    from service.ledger.verify import verify_engagement
    from service.records.models import Record

    with new_session() as session:
        engagement = session.get(Engagement, engagement_id)
        workspace = session.get(Workspace, workspace_id)
        started = time.perf_counter()
        report = verify_engagement(session, workspace=workspace, engagement=engagement, report=Report("bench"))
        ours = time.perf_counter() - started
        assert report.ok, report.render()
        blobs = [bytes(b) for row in session.execute(
            Record.__table__.select().with_only_columns(Record.body, Record.leaf)
            .where(Record.engagement_id == engagement_id)) for b in row]
    started = time.perf_counter()
    for blob in blobs:
        hashlib.sha256(blob).digest()
    floor = time.perf_counter() - started
    total = sum(map(len, blobs))
    print(f"   docket verify   : {ours:6.2f} s for {report.counts['records']:,} records, "
          f"{total / ours / 1e6:6.1f} MB/s")
    print(f"   hashlib.sha256  : {floor:6.2f} s over the same {total / 1e6:.0f} MB (bodies and leaves), "
          f"{total / floor / 1e6:6.1f} MB/s")
    print(f"   ratio of rates  : {floor / ours:6.2f} (target >= 0.5)")
