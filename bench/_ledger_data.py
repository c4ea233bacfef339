"""A large engagement for the ledger benchmarks, written in bulk.

Appending a million records one request at a time would take hours, so the rows are made here with the same
building blocks `append_record` uses (JCS body with salt, `leaf_bytes`, `merkle.append` over the frontier) and
inserted in batches. `docket verify` over the result passes, which shows the rows are what an append writes."""

import hashlib
import os
import secrets
import time
from datetime import UTC, datetime, timedelta

import rfc8785
from sqlalchemy import insert, update

from service.engagements.models import Engagement
from service.ledger import merkle
from service.ledger import service as ledger
from service.ledger.leaf import leaf_bytes
from service.ledger.models import MerkleNode
from service.records.models import Record
from service.times import rfc3339_micro, rfc3339_seconds

BATCH = 20_000
_built: dict[int, tuple[dict, int, int]] = {}


def ledger_engagement(size: int) -> tuple[int, int]:
    """An engagement of `size` leaves in a scratch database, built once per `make bench` run and shared by the
    proof and verify benchmarks; points the settings at its database."""
    from bench._util import scratch
    from service.config import get_settings
    from service.db import get_engine

    if size in _built:
        env, engagement_id, workspace_id = _built[size]
        os.environ.update(env)
        get_settings.cache_clear()
        get_engine.cache_clear()
        return engagement_id, workspace_id
    scratch(f"ledger-{size}")
    get_engine.cache_clear()
    started = time.perf_counter()
    engagement_id, workspace_id = build_engagement(size, progress=lambda line: None)
    print(f"   built an engagement of {size:,} leaves in {time.perf_counter() - started:.0f} s")
    _built[size] = ({k: os.environ[k] for k in ("DOCKET_DATA_DIR", "DOCKET_DATABASE_URL")}, engagement_id,
                    workspace_id)
    return engagement_id, workspace_id


def build_engagement(size: int, *, progress=print):
    """Returns (engagement id, workspace id) of an engagement with `size` records."""
    from service.db import get_engine, new_session
    from service.migrate import upgrade
    from tests import factories

    with get_engine().begin() as conn:
        upgrade(conn)
    with new_session(write=True) as session:
        member = factories.make_member(session)
        engagement = factories.make_engagement(session, member=member)
        origin = ledger.origin(member.workspace, engagement)
        engagement_id, workspace_id = engagement.id, member.workspace.id
        tree_size, frontier = engagement.tree_size, engagement.frontier

    known = {key: frontier[32 * i:32 * i + 32] for i, key in enumerate(merkle.subtree_keys(0, tree_size))}
    start = datetime(2020, 1, 6, 9, tzinfo=UTC)
    actor = "user:1"
    engine = get_engine()
    index = tree_size
    root = b""
    while index < size:
        records, nodes = [], []
        stop = min(index + BATCH, size)
        for index in range(index, stop):  # noqa: B020 (index carries on after the batch)
            occurred = start + timedelta(minutes=7 * index)
            recorded = occurred + timedelta(seconds=30, microseconds=index % 1_000_000)
            body = {"summary": f"Call {index} with the buyer about the pipeline", "direction": "out",
                    "participants": ["Priya Shah"], "salt": secrets.token_hex(16)}
            body_bytes = rfc8785.dumps(body)
            body_sha256 = hashlib.sha256(body_bytes).hexdigest()
            leaf = leaf_bytes(origin=origin, index=index, kind="call", occurred_at=rfc3339_seconds(occurred),
                              recorded_at=rfc3339_micro(recorded), actor=actor, body_sha256=body_sha256,
                              attachments=[], refs=[])
            leaf_hash = merkle.leaf_hash(leaf)
            new, root = merkle.append(index, leaf_hash, lambda keys: known)
            for level, idx, digest in new:
                known[(level, idx)] = digest
                nodes.append({"engagement_id": engagement_id, "level": level, "idx": idx, "hash": digest})
            # Only the frontier is needed to go on; forget the rest as we go.
            for level, idx, _ in new[:-1]:
                known.pop((level, idx), None)
                known.pop((level, idx - 1), None) if idx % 2 else None
            records.append({"engagement_id": engagement_id, "idx": index, "kind": "call", "occurred_at": occurred,
                            "recorded_at": recorded, "actor": actor, "body": body_bytes, "body_sha256": body_sha256,
                            "attachments": [], "refs": [], "leaf": leaf, "leaf_hash": leaf_hash,
                            "search_text": body["summary"].lower() + " priya shah"})
        index = stop
        with engine.begin() as conn:
            conn.execute(insert(Record), records)
            conn.execute(insert(MerkleNode), nodes)
            frontier = b"".join(known[key] for key in merkle.subtree_keys(0, index))
            conn.execute(update(Engagement).where(Engagement.id == engagement_id)
                         .values(tree_size=index, root_hash=root, frontier=frontier, last_activity_at=occurred))
        progress(f"   ... {index:,} records")
    return engagement_id, workspace_id
