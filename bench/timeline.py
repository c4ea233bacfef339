"""Issue 4: the engagement timeline with 100,000 records. Server time, through the ASGI app with a signed-in
TestClient, of the first timeline page (the htmx request the filter form makes) and of the page 50 "load
more" scrolls deep (following the cursors the pages hand out), p50/p95 over 200 requests each. Targets: p95
under 50 ms for both, and deep/first under 1.5 (keyset pages cost the same wherever they start).

The ledger is written by `append_record` itself, one record at a time as the API would, committed in
batches: a mix of interactions, work, invoices and payments, with some records amended and some retracted, so
that the pages render corrections and money as well as plain calls.

BENCH_TIMELINE_RECORDS=5000 runs a smaller ledger (a quick check)."""

import os
import re
import statistics
import time
from datetime import UTC, datetime, timedelta

from bench._util import percentiles, scratch

RECORDS = int(os.environ.get("BENCH_TIMELINE_RECORDS", 100_000))
BATCH = 2_000
REQUESTS = 200
SCROLLS = 50
HX = {"HX-Request": "true"}
START = datetime(2020, 1, 6, 9, tzinfo=UTC)


def _time(client, url: str) -> list[float]:
    samples = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = client.get(url, headers=HX)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text[:300]
    return samples


def occurred(n: int) -> datetime:
    """When record n of a benchmark ledger happened: one every 7 minutes from a Monday morning in 2020."""
    return START + timedelta(minutes=7 * n)


def _next(n: int, story: dict) -> tuple[str, dict, list[int]]:
    """Record number n of the story: (kind, body, refs). Mostly calls, emails, meetings and messages; a weekly
    report; a monthly invoice paid later; now and then the latest interaction amended or retracted."""
    plain = story.get("plain")
    if n % 97 == 0 and plain is not None:
        return "amendment", {"reason": "wrong name", "body": {"summary": f"Call {plain} with Priya about Q2",
                                                               "direction": "out"}}, [plain]
    if n % 89 == 0 and plain is not None:
        story["plain"] = None  # retracted: not to be amended or retracted again
        return "retraction", {"reason": "logged on the wrong engagement"}, [plain]
    if n % 1_000 == 10:
        story["invoice"] = n
        return "invoice_issued", {"invoice_number": f"INV-{n:06d}", "amount_minor": 450_000, "currency": "GBP",
                                  "summary": f"Invoice {n}"}, []
    if n % 1_000 == 300 and "invoice" in story:
        return "payment_received", {"amount_minor": 450_000, "currency": "GBP"}, [story["invoice"]]
    if n % 50 == 0:
        return "report_sent", {"summary": f"Weekly report {n // 50}"}, []
    story["plain"] = n
    kind = ("call", "email", "meeting", "message")[n % 4]
    return kind, {"summary": f"{kind.capitalize()} {n} with Priya about the pipeline", "direction": "out",
                  "participants": ["Priya Shah"]}, []


def new_engagement(**terms) -> tuple[int, int, int, str]:
    """(engagement id, workspace id, user id, actor) of a new engagement in a freshly migrated database."""
    from service.db import get_engine, new_session
    from service.migrate import upgrade
    from tests import factories

    with get_engine().begin() as conn:
        upgrade(conn)
    with new_session(write=True) as session:
        member = factories.make_member(session)
        engagement = factories.make_engagement(session, member=member, **terms)
        ids = engagement.id, member.workspace.id, member.user.id, member.actor
        session.commit()
    return ids


def append_story(engagement_id: int, workspace_id: int, actor: str, size: int, story=_next) -> None:
    """Appends records through the domain service, as the API would, until the engagement has `size`: record n
    is `story(n, state)` as (kind, body, refs) or (kind, body, refs, attachments), happening at `occurred(n)`;
    `state` is one dict the story keeps what it needs in. Committed in batches."""
    from service.accounts.models import Workspace
    from service.db import new_session
    from service.engagements.models import Engagement
    from service.records.models import RecordCreate
    from service.records.service import append_record

    state: dict = {}
    with new_session() as session:
        n = session.get(Engagement, engagement_id).tree_size
    while n < size:
        with new_session(write=True) as session:
            workspace = session.get(Workspace, workspace_id)
            engagement = session.get(Engagement, engagement_id)
            for n in range(n, min(n + BATCH, size)):  # noqa: B020 (n carries on after the batch)
                kind, body, refs, *attachments = story(n, state)
                append_record(session, workspace=workspace, engagement=engagement, actor=actor,
                              data=RecordCreate(kind=kind, occurred_at=occurred(n), body=body, refs=refs,
                                                attachments=attachments[0] if attachments else []))
            n += 1
            session.commit()


def build_engagement(size: int) -> tuple[int, int]:
    """(engagement id, user id) of an engagement of `size` records, appended through the domain service."""
    engagement_id, workspace_id, user_id, actor = new_engagement()
    append_story(engagement_id, workspace_id, actor, size)
    return engagement_id, user_id


def main() -> None:
    scratch("timeline")
    from fastapi.testclient import TestClient

    from service.accounts.models import User
    from service.db import get_engine, new_session
    from service.main import create_app
    from tests import factories

    started = time.perf_counter()
    engagement_id, user_id = build_engagement(RECORDS)
    print(f"   appended {RECORDS:,} records in {time.perf_counter() - started:.0f} s")

    app = create_app(get_engine())
    with TestClient(app) as client:
        with new_session(write=True) as session:
            factories.sign_in(client, session, user=session.get(User, user_id))
            session.commit()

        first_url = f"/engagements/{engagement_id}"
        url, cursor_pattern = first_url, re.compile(r'hx-get="(/engagements/\d+\?cursor=[^"]+)"')
        for _ in range(SCROLLS):
            html = client.get(url, headers=HX).text
            url = cursor_pattern.search(html).group(1).replace("&amp;", "&")
        deep_url = url
        deep_html = client.get(deep_url, headers=HX).text
        assert deep_html.count("<article") == 50, "the deep page should be a full page of 50 records"
        full = client.get(first_url)
        assert full.status_code == 200 and "<html" in full.text

        first = _time(client, first_url)
        deep = _time(client, deep_url)
        started = time.perf_counter()
        client.get(first_url)
        whole_page = time.perf_counter() - started
    print(f"   first page ({first_url}): {percentiles(first)}")
    print(f"   page {SCROLLS} scrolls deep: {percentiles(deep)}")
    p95 = lambda s: statistics.quantiles(s, n=100, method="inclusive")[94] * 1000  # noqa: E731
    ratio = statistics.median(deep) / statistics.median(first)
    print(f"   deep/first (p50): {ratio:.2f}; targets: p95 < 50 ms (first {p95(first):.1f}, deep {p95(deep):.1f}), "
          f"ratio < 1.5")
    print(f"   the whole page (chart, ledger panel, form; no htmx): {whole_page * 1000:.1f} ms once")
