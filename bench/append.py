"""Issue 2/3: append 10,000 records over HTTP with 8 concurrent clients against uvicorn on SQLite, and the
same rows through a bare SQLModel insert route in the same server, by the same clients, in the same run."""

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx

from bench._util import scratch

TOTAL = int(os.environ.get("BENCH_APPEND_RECORDS", 10_000))
CLIENTS = 8


def _setup() -> tuple[str, list[int]]:
    from service.db import get_engine, new_session
    from service.migrate import upgrade
    from tests import factories

    with get_engine().begin() as conn:
        upgrade(conn)
    with new_session(write=True) as session:
        member = factories.make_member(session)
        _, token = factories.make_token(session, member=member)
        engagements = [factories.make_engagement(session, member=member).id for _ in range(CLIENTS)]
    get_engine().dispose()
    return token, engagements


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _payload(n: int) -> dict:
    when = datetime(2026, 3, 2, 9, tzinfo=UTC) + timedelta(minutes=n)
    return {"kind": "call", "occurred_at": when.isoformat().replace("+00:00", "Z"),
            "body": {"summary": f"Call {n} with the buyer about the renewal", "direction": "out",
                     "participants": ["Priya Shah"], "duration_minutes": 15}}


def _run(base: str, token: str, engagements: list[int], path: str) -> float:
    def client(slot: int) -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            for n in range(slot, TOTAL, CLIENTS):
                response = http.post(path.format(engagement_id=engagements[slot]), json=_payload(n))
                response.raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))
    return TOTAL / (time.perf_counter() - started)


def main() -> None:
    data = scratch("append")
    token, engagements = _setup()
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench._bare_app:app", "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "PYTHONPATH": os.getcwd()})
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/healthz").raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        bare = _run(base, token, engagements, "/api/bench/engagements/{engagement_id}/records")
        docket = _run(base, token, engagements, "/api/v1/engagements/{engagement_id}/records")
    finally:
        server.terminate()
        server.wait()
    print(f"   append over HTTP, {TOTAL:,} records, {CLIENTS} clients, uvicorn + SQLite ({data})")
    print(f"   bare SQLModel insert : {bare:8.0f} records/s")
    print(f"   Docket append        : {docket:8.0f} records/s (validated, JCS, leaf hash, Merkle nodes)")
    print(f"   ratio Docket / bare  : {docket / bare:8.2f} (target >= 0.8)")
