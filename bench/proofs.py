"""Issue 3: inclusion and consistency proofs on an engagement with 1,000,000 leaves, through the service layer
(the same calls the API makes), p50 and p99 over 1,000 random requests each. Target p99 under 5 ms."""

import os
import random
import time

from bench._util import percentiles

SIZE = int(os.environ.get("BENCH_LEDGER_LEAVES", 1_000_000))
REQUESTS = 1000


def main() -> None:
    from bench._ledger_data import ledger_engagement

    engagement_id, _ = ledger_engagement(SIZE)

    from service.db import new_session
    from service.engagements.models import Engagement
    from service.ledger import merkle
    from service.ledger import service as ledger

    rng = random.Random(7)
    with new_session() as session:
        engagement = session.get(Engagement, engagement_id)
        root = engagement.root_hash
        inclusion, consistency = [], []
        for _ in range(REQUESTS):
            index = rng.randrange(SIZE)
            t = time.perf_counter()
            proof = ledger.inclusion_proof(session, engagement, index=index, size=SIZE)
            inclusion.append(time.perf_counter() - t)
            leaf = ledger.leaves(session, engagement, start=index, end=index + 1)[0].leaf_hash
            merkle.verify_inclusion(index, SIZE, leaf, proof, root)
        for _ in range(REQUESTS):
            size1 = rng.randrange(1, SIZE)
            t = time.perf_counter()
            proof = ledger.consistency_proof(session, engagement, size1=size1, size2=SIZE)
            consistency.append(time.perf_counter() - t)
        merkle.verify_consistency(size1, SIZE, proof, ledger.root_at(session, engagement, size1), root)
    print(f"   inclusion proof   : {percentiles(inclusion)} (target p99 < 5 ms)")
    print(f"   consistency proof : {percentiles(consistency)} (target p99 < 5 ms)")
