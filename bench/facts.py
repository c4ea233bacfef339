"""Issue 6: the facts of an engagement with 100,000 records, through `engagement_facts` with a real session:
cold (the cache emptied before each run, so the whole ledger is read and every rule computed) and cached, p50
over 50 runs each. Targets: cold under 500 ms, cached under 5 ms.

The ledger is the timeline benchmark's (the same story of calls, emails, reports, invoices and payments, with
amendments and retractions, appended through `append_record`). BENCH_FACTS_RECORDS=5000 runs a smaller one."""

import os
import time

from bench._util import percentiles, scratch
from bench.timeline import build_engagement

RECORDS = int(os.environ.get("BENCH_FACTS_RECORDS", 100_000))
RUNS = 50


def main() -> None:
    scratch("facts")
    from service.accounts.models import Workspace
    from service.db import new_session
    from service.engagements.models import Engagement
    from service.facts import cache
    from service.facts import service as facts

    started = time.perf_counter()
    engagement_id, _ = build_engagement(RECORDS)
    print(f"   appended {RECORDS:,} records in {time.perf_counter() - started:.0f} s")

    with new_session() as session:
        engagement = session.get(Engagement, engagement_id)
        workspace = session.get(Workspace, engagement.workspace_id)

        def run() -> float:
            began = time.perf_counter()
            result = facts.engagement_facts(session, workspace=workspace, engagement=engagement)
            elapsed = time.perf_counter() - began
            assert result.tree_size == RECORDS and result.money.invoices, "the facts lost the ledger"
            return elapsed

        cold = []
        for _ in range(RUNS):
            cache.clear()
            cold.append(run())
        cached = [run() for _ in range(RUNS)]
    cold_p50 = sorted(cold)[RUNS // 2] * 1000
    cached_p50 = sorted(cached)[RUNS // 2] * 1000
    print(f"   cold:   {percentiles(cold)}  target p50 < 500 ms: {'met' if cold_p50 < 500 else 'NOT met'}")
    print(f"   cached: {percentiles(cached)}  target p50 < 5 ms: {'met' if cached_p50 < 5 else 'NOT met'}")
