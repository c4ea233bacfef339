"""Under load and through a crash, every acknowledgement holds.

- `kill -9` of the whole server during a burst of appends, then a restart on the same data: every acknowledged
  record is stored at the index and with the body it was acknowledged with; every request retried with its
  Idempotency-Key replays its first answer, or, if it was never stored, is stored exactly once; no duplicates;
  `docket verify --db` passes.
- Overload at 64 and 160 concurrent clients: every answer is a success, or a 503 with Retry-After (or a 429); none
  is a 500 or silence; every stored record's client got its success, or learns it by replaying its key.

The counts are printed (pytest -s shows them) for the issue's closing note."""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest

from tests.blackbox.conftest import api_client, created, key, record

CRASH_ROUNDS = 3
CRASH_CLIENTS = 24
OVERLOAD_REQUESTS_PER_CLIENT = 2
ANSWER_TIMEOUT = 30  # seconds a client waits for any answer, a 503 included


@dataclass
class Attempt:
    key: str
    summary: str
    status: int | None = None
    answer: dict | None = None
    error: str | None = None

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@pytest.fixture(scope="module")
def stress(make_server):
    """A server of its own: it is killed, restarted and overloaded."""
    server = make_server("stress")
    server.start()
    token = server.cli("token", "create", "stress").stdout.strip()
    with api_client(server, token) as api:
        client = created(api.post("/api/v1/clients", json={"name": "Load Ltd"}))
        engagements = [created(api.post("/api/v1/engagements", json={
            "client_id": client["id"], "title": f"Load {i}", "started_on": "2026-01-05"}))["id"] for i in range(4)]
    server.token = token
    server.engagements = engagements
    yield server
    server.stop()
    server.dispose()


def stored_records(api: httpx.Client, engagement_id: int) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = api.get(f"/api/v1/engagements/{engagement_id}/records", params=params)
        assert page.status_code == 200, page.text[:300]
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if not cursor:
            return items


def by_summary(items: list[dict], prefix: str) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for item in items:
        summary = (item["body"] or {}).get("summary", "")
        if summary.startswith(prefix):
            found.setdefault(summary, []).append(item)
    return found


def _burst_then_kill(stress, path: str, prefix: str, kill_after: int) -> list[Attempt]:
    """CRASH_CLIENTS clients append as fast as they are answered, each request with its own key, until the server
    is killed with SIGKILL after `kill_after` acknowledgements (or 10 s)."""
    attempts: list[Attempt] = []
    lock, dead, acked = threading.Lock(), threading.Event(), threading.Semaphore(0)

    def client_loop(n):
        with api_client(stress, stress.token, timeout=ANSWER_TIMEOUT) as client:
            i = 0
            while not dead.is_set():
                attempt = Attempt(key=key(), summary=f"{prefix}{n}-{i}")
                i += 1
                with lock:
                    attempts.append(attempt)
                try:
                    answer = client.post(path, json=record(attempt.summary), headers={"Idempotency-Key": attempt.key})
                except httpx.HTTPError as exc:
                    attempt.error = type(exc).__name__
                    return
                attempt.status = answer.status_code
                if answer.headers.get("content-type", "").startswith("application/json"):
                    attempt.answer = answer.json()
                if attempt.acknowledged:
                    acked.release()

    with ThreadPoolExecutor(CRASH_CLIENTS) as pool:
        for n in range(CRASH_CLIENTS):
            pool.submit(client_loop, n)
        deadline = time.monotonic() + 10
        for _ in range(kill_after):
            if not acked.acquire(timeout=max(0.0, deadline - time.monotonic())):
                break
        stress.kill()
        dead.set()
    return attempts


def _retry(api: httpx.Client, path: str, attempt: Attempt) -> httpx.Response | Exception:
    try:
        return api.post(path, json=record(attempt.summary), headers={"Idempotency-Key": attempt.key})
    except httpx.HTTPError as exc:
        return exc


@pytest.mark.parametrize("round_", range(CRASH_ROUNDS), ids=lambda r: f"round{r + 1}")
def test_kill_9_during_a_burst_loses_no_acknowledged_record(stress, round_, capsys):
    engagement = stress.engagements[0]
    path = f"/api/v1/engagements/{engagement}/records"
    prefix = f"crash{round_}-{key()}-"
    # A different moment each round: after 15, 45, 75... acknowledgements.
    attempts = _burst_then_kill(stress, path, prefix, kill_after=15 + 30 * round_)
    stress.start()

    with api_client(stress, stress.token) as api:
        stored = by_summary(stored_records(api, engagement), prefix)
        acknowledged = [a for a in attempts if a.acknowledged]
        lost = [a for a in acknowledged if a.summary not in stored]
        assert not lost, (f"{len(lost)} of {len(acknowledged)} acknowledged records are gone after kill -9, e.g. "
                          f"index {lost[0].answer['index']} ({lost[0].summary})")
        for a in acknowledged:
            (item,) = stored[a.summary]
            assert item["index"] == a.answer["index"], (
                f"{a.summary} was acknowledged as index {a.answer['index']} but is stored at {item['index']}")
            assert item["body"] == a.answer["body"] and item["leaf_hash"] == a.answer["leaf_hash"]
        duplicates = {s: len(v) for s, v in stored.items() if len(v) > 1}
        assert not duplicates, f"stored more than once: {duplicates}"
        stored_unacked = [a for a in attempts if not a.acknowledged and a.summary in stored]

        with ThreadPoolExecutor(8) as pool:
            retried = list(zip(attempts, pool.map(lambda a: _retry(api, path, a), attempts), strict=True))
        failed = [(a, answer) for a, answer in retried if isinstance(answer, Exception)]
        assert not failed, (f"{len(failed)} of {len(attempts)} retries got no answer, e.g. {failed[0][1]!r} for "
                            f"{'' if failed[0][0].acknowledged else 'un'}acknowledged {failed[0][0].summary}")
        for a, answer in retried:
            replayed = answer.headers.get("Idempotent-Replayed") == "true"
            if a.acknowledged:
                assert replayed and answer.status_code == a.status and answer.json() == a.answer, (
                    f"the retry of acknowledged {a.summary} answered {answer.status_code} (replayed: {replayed}): "
                    f"{answer.text[:300]}")
            elif a.summary in stored:
                assert replayed and answer.status_code == 201, (
                    f"{a.summary} was stored unacknowledged; its retry answered {answer.status_code} "
                    f"(replayed: {replayed}): {answer.text[:300]}")
                assert answer.json()["index"] == stored[a.summary][0]["index"]
            else:
                assert answer.status_code == 201 and not replayed, (
                    f"the retry of never-stored {a.summary} answered {answer.status_code} (replayed: {replayed}): "
                    f"{answer.text[:300]}")
        after = by_summary(stored_records(api, engagement), prefix)
        assert sorted(after) == sorted(a.summary for a in attempts), "the stored set after retries"
        assert all(len(v) == 1 for v in after.values()), "a retry stored a duplicate"

    verify = stress.cli("verify", "--db", check=False)
    assert verify.returncode == 0, f"docket verify --db after kill -9:\n{verify.stdout[-3000:]}"
    with capsys.disabled():
        print(f"\nkill -9 round {round_ + 1}/{CRASH_ROUNDS}: {len(attempts)} requests from {CRASH_CLIENTS} clients, "
              f"{len(acknowledged)} acknowledged, {len(stored)} stored at restart ({len(stored_unacked)} stored "
              f"unacknowledged, learnt by replay); after retries all {len(attempts)} stored exactly once; "
              f"verify --db passed")


@pytest.mark.parametrize("clients", [64, 160])
def test_overload_answers_every_client_truthfully(stress, clients, capsys):
    prefix = f"load{clients}-{key()}-"
    attempts: list[tuple[Attempt, int]] = []
    outcomes: dict[str, int] = {}

    async def one_client(http: httpx.AsyncClient, n: int):
        engagement = stress.engagements[n % len(stress.engagements)]
        for i in range(OVERLOAD_REQUESTS_PER_CLIENT):
            attempt = Attempt(key=key(), summary=f"{prefix}{n}-{i}")
            attempts.append((attempt, engagement))
            try:
                answer = await http.post(f"/api/v1/engagements/{engagement}/records", json=record(attempt.summary),
                                         headers={"Idempotency-Key": attempt.key})
            except httpx.HTTPError as exc:
                attempt.error = type(exc).__name__
                outcomes[attempt.error] = outcomes.get(attempt.error, 0) + 1
                return
            attempt.status = answer.status_code
            outcomes[str(answer.status_code)] = outcomes.get(str(answer.status_code), 0) + 1
            if attempt.acknowledged:
                attempt.answer = answer.json()
            elif answer.status_code in (429, 503):
                attempt.answer = {"retry_after": answer.headers.get("Retry-After")}
            else:
                attempt.answer = {"text": answer.text[:300]}

    async def burst():
        # A connection per request, as that many separate clients would open: a kept-alive connection that the
        # server closes after idling while its next request is already on the way is a client's race, not an answer.
        limits = httpx.Limits(max_connections=clients + 8, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=stress.url, headers={"Authorization": f"Bearer {stress.token}"},
                                     timeout=ANSWER_TIMEOUT, limits=limits) as http:
            await asyncio.gather(*(one_client(http, n) for n in range(clients)))

    started = time.monotonic()
    asyncio.run(burst())
    took = time.monotonic() - started

    with api_client(stress, stress.token, timeout=120) as api:
        stored: dict[str, list[dict]] = {}
        try:
            for engagement in stress.engagements:
                stored.update(by_summary(stored_records(api, engagement), prefix))
        except httpx.HTTPError as exc:
            pytest.fail(f"after the burst of {clients} clients ({outcomes}) the server does not answer a listing "
                        f"within 120 s: {exc!r}")
        acknowledged = [a for a, _ in attempts if a.acknowledged]
        unacked_stored = [(a, e) for a, e in attempts if not a.acknowledged and a.summary in stored]
        learnt = 0
        for a, engagement in unacked_stored:
            try:
                replay = api.post(f"/api/v1/engagements/{engagement}/records", json=record(a.summary),
                                  headers={"Idempotency-Key": a.key})
            except httpx.HTTPError:
                continue
            if (replay.headers.get("Idempotent-Replayed") == "true" and replay.status_code == 201
                    and replay.json()["index"] == stored[a.summary][0]["index"]):
                learnt += 1
    with capsys.disabled():
        print(f"\noverload at {clients} clients: {len(attempts)} requests in {took:.1f} s, answers {outcomes}, "
              f"{len(acknowledged)} acknowledged, {len(stored)} stored, {len(unacked_stored)} stored without a "
              f"success answer of which {learnt} learnt by replaying their key")

    bad = [a for a, _ in attempts if a.status not in range(200, 300) and a.status not in (429, 503)]
    assert not bad, (f"at {clients} clients {len(bad)} requests got neither a success nor 503/429: {outcomes}; "
                     f"e.g. {bad[0].status or bad[0].error}: {bad[0].answer}")
    shed = [a for a, _ in attempts if a.status in (429, 503)]
    assert all(a.answer["retry_after"] for a in shed), "a 503 or 429 without Retry-After"
    lost = [a for a in acknowledged if a.summary not in stored]
    assert not lost, f"{len(lost)} acknowledged records are not stored"
    assert all(len(v) == 1 for v in stored.values()), "a record stored twice"
    assert learnt == len(unacked_stored), (
        f"{len(unacked_stored) - learnt} records were stored but their clients got no success answer and a replay "
        f"of their key does not tell them")
