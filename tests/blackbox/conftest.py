"""The black-box suite: a real `docket serve` (SQLite with one worker; PostgreSQL with four, on a database of its
own) set up with the `docket` command and driven only over HTTP, as another tool would.

Two workspaces: A ("My workspace", made when the server first starts, populated here over the API) and B (the
demo workspace, with an owner of its own who is no member of A). Without PostgreSQL when one is asked for, or
without schemathesis, the suite skips, except under DOCKET_REQUIRE_ALL (set by .ci/run), where it fails."""

import os
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import create_engine

from tests.blackbox.server import LINK, DocketServer, fresh_database, sign_in

DATABASE_URL = os.environ.get("DOCKET_TEST_DATABASE_URL", "sqlite://")
POSTGRES = DATABASE_URL.startswith("postgresql")
# PostgreSQL is the many-process deployment: appends from several processes meet in the database.
WORKERS = 4 if POSTGRES else 1


def skip_or_fail(message: str):
    if os.environ.get("DOCKET_REQUIRE_ALL"):
        pytest.fail(message)
    pytest.skip(message)


def pytest_report_header(config):
    return f"black-box servers: {'PostgreSQL, 4 workers' if POSTGRES else 'SQLite, 1 worker'}"


def pytest_collection_modifyitems(config, items):
    """The load tests first, while their server is the only one holding database connections: four workers take
    up to 80 of PostgreSQL's default 100, and the shared server would hold more."""
    load = [item for item in items if item.path.name == "test_load.py"]
    if load:
        first = next(i for i, item in enumerate(items) if "blackbox" in item.path.parts)
        rest = [item for item in items if item.path.name != "test_load.py"]
        items[:] = rest[:first] + load + rest[first:]


@pytest.fixture(scope="session")
def make_server(tmp_path_factory):
    """Makes servers that are stopped, and whose databases are dropped, at the end of the run."""
    made: list[tuple[DocketServer, object]] = []

    def make(name: str, *, workers: int = WORKERS, **env: str) -> DocketServer:
        data_dir = tmp_path_factory.mktemp(f"blackbox-{name}")
        try:
            url, drop = fresh_database(DATABASE_URL, data_dir)
        except Exception as exc:  # noqa: BLE001 - any failure to reach the database server means the same
            skip_or_fail(f"cannot make a database for the black-box server at {DATABASE_URL.split('@')[-1]}: {exc}")
        server = DocketServer(data_dir, url, workers=workers, extra_env=env)
        made.append((server, drop))
        return server

    yield make
    for server, drop in made:
        server.stop()
        server.dispose()
        drop()


def api_client(server: DocketServer, token: str | None = None, **options) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=options.pop("timeout", 60), **options)


# Fixed, so that the same record sent again is the same request (Idempotency-Key fingerprints the body).
OCCURRED_AT = "2026-06-01T09:30:00Z"


# A contact says which way it went.
CONTACTS = {"call", "email", "message", "voicemail"}


def record(summary: str, kind: str = "call", **body) -> dict:
    direction = {"direction": "out"} if kind in CONTACTS else {}
    return {"kind": kind, "occurred_at": OCCURRED_AT, "body": {"summary": summary, **direction, **body}}


def key() -> str:
    return f"bb-{secrets.token_hex(8)}"


@dataclass
class World:
    server: DocketServer
    slug_a: str
    slug_b: str
    token_a: str  # write token of workspace A
    token_a_read: str
    token_b: str  # write token of workspace B
    owner_a: httpx.Client  # pages: the owner of A, signed in (cookie + CSRF)
    owner_b: httpx.Client  # pages: the owner of B, no member of A
    api_a: httpx.Client
    api_b: httpx.Client
    victim_email: str  # a person with an account in B only
    victim_link: str
    client_id: int
    engagement_id: int
    other_engagement_id: int
    indices: list[int]
    sha256: str
    token_id_a: int  # an API token of A (the read one)
    member_id_a: int  # a user who is a member of A only
    invitation_id_a: int  # A's invitation to someone in B
    ids: dict[str, object] = field(default_factory=dict)

    def records_url(self, engagement_id: int | None = None) -> str:
        return f"/api/v1/engagements/{engagement_id or self.engagement_id}/records"

    def login_link(self, email: str) -> str:
        """A new one-time login link, as an operator prints one with `docket user link`."""
        return LINK.search(self.server.cli("user", "link", email).stdout).group(0)


@pytest.fixture(scope="session")
def server(make_server) -> DocketServer:
    """The server most tests share, with the test-only fault hook switched on."""
    server = make_server("main", DOCKET_FAULT_INJECTION="1")
    server.start()
    return server


@pytest.fixture(scope="session")
def world(server) -> World:
    slugs = dict(server.query("SELECT is_demo, slug FROM workspace"))
    slug_a, slug_b = slugs[False], slugs[True]
    victim = "victim@example.test"
    commands = {
        "token_a": ("token", "create", "a-write", "--workspace", slug_a),
        "token_a_read": ("token", "create", "a-read", "--workspace", slug_a, "--scope", "read"),
        "token_b": ("token", "create", "b-write", "--workspace", slug_b),
        "owner_b": ("user", "create", "owner-b@example.test", "--workspace", slug_b, "--role", "owner"),
        "victim": ("user", "create", victim, "--workspace", slug_b, "--role", "editor"),
        "member_a": ("user", "create", "editor-a@example.test", "--workspace", slug_a, "--role", "editor"),
        "invitee": ("user", "create", "invitee@example.test", "--workspace", slug_b, "--role", "viewer"),
    }
    with ThreadPoolExecutor(3) as pool:
        out = dict(zip(commands, pool.map(lambda args: server.cli(*args).stdout.strip(), commands.values()),
                       strict=True))
    api_a, api_b = api_client(server, out["token_a"]), api_client(server, out["token_b"])

    client = created(api_a.post("/api/v1/clients", json={"name": "Acme Buyer Ltd", "contacts": [{"name": "Jo"}]}))
    terms = {"started_on": "2026-01-05", "trial_ends_on": "2026-02-05", "notice_days": 30, "rate_minor": 45000,
             "currency": "GBP", "deliverables": ["Weekly report"]}
    engagement = created(api_a.post("/api/v1/engagements",
                                    json={"client_id": client["id"], "title": "Outbound sales", **terms}))
    other = created(api_a.post("/api/v1/engagements",
                               json={"client_id": client["id"], "title": "Second engagement", **terms}))
    upload = created(api_a.post("/api/v1/evidence",
                                files={"file": ("weekly report 1.pdf", b"%PDF-1.4 " + secrets.token_bytes(512),
                                                "application/pdf")}))
    records = f"/api/v1/engagements/{engagement['id']}/records"
    call = created(api_a.post(records, json={**record("Intro call", duration_minutes=30),
                                             "attachments": [upload["sha256"]]}))
    invoice = created(api_a.post(records, json=record("Invoice 1", kind="invoice_issued", invoice_number="INV-1",
                                                      amount_minor=90000, currency="GBP")))
    scheduled = created(api_a.post(records, json=record("Demo", kind="meeting_scheduled",
                                                        meeting_at="2026-03-01T10:00:00Z")))
    amended = created(api_a.post(records, json={**record("Fix", kind="amendment", reason="typo",
                                                         body={"summary": "Intro call (30 min)",
                                                               "direction": "out"}),
                                                "refs": [call["index"]]}))
    created(api_a.post(f"/api/v1/engagements/{engagement['id']}/receipts",
                       json={"recipient": "Tom Reed", "method": "email"}))
    owner_a = sign_in(server.url, server.first_link)
    owner_b = sign_in(server.url, LINK.search(out["owner_b"]).group(0))
    # An invitation of A's to someone with an account elsewhere, waiting for their answer.
    invited = owner_a.post("/settings/members", data={"email": "invitee@example.test", "role": "viewer",
                                                      "csrf_token": owner_a.csrf})
    assert invited.status_code in (200, 303), invited.text[:300]
    invitation = server.query("SELECT invitation.id FROM invitation JOIN workspace ON workspace.id = workspace_id "
                              "WHERE slug = :slug", slug=slug_a)[0][0]
    token_id = server.query("SELECT id FROM api_token WHERE name = 'a-read'")[0][0]
    member_id = server.query("SELECT id FROM \"user\" WHERE email = 'editor-a@example.test'")[0][0]
    return World(
        server=server, slug_a=slug_a, slug_b=slug_b, token_a=out["token_a"], token_a_read=out["token_a_read"],
        token_b=out["token_b"], owner_a=owner_a, owner_b=owner_b, api_a=api_a, api_b=api_b,
        victim_email=victim, victim_link=LINK.search(out["victim"]).group(0), client_id=client["id"],
        engagement_id=engagement["id"], other_engagement_id=other["id"],
        indices=[call["index"], invoice["index"], scheduled["index"], amended["index"]], sha256=upload["sha256"],
        token_id_a=token_id, member_id_a=member_id, invitation_id_a=invitation)


def created(answer: httpx.Response) -> dict:
    assert answer.status_code in (200, 201), f"{answer.request.method} {answer.request.url.path} answered " \
                                             f"{answer.status_code}: {answer.text[:500]}"
    return answer.json()


PARAM = re.compile(r"\{([a-z_]+)(?::[a-z]+)?\}")


class RouteValues:
    """Values for a route's path parameters, by name: a route with a parameter nobody knows how to fill fails the
    suite, so that a new route cannot go unprobed."""

    def __init__(self, values: dict[str, object]):
        self.values = {k: str(v) for k, v in values.items()}

    def fill(self, template: str) -> str:
        def one(match: re.Match) -> str:
            name = match.group(1)
            if name not in self.values:
                raise AssertionError(f"the black-box suite has no value for parameter {{{name}}} of {template}: "
                                     f"add one in tests/blackbox/conftest.py")
            return self.values[name]

        return PARAM.sub(one, template)


def path_params(template: str) -> list[str]:
    return PARAM.findall(template)


@pytest.fixture(scope="session")
def route_values(world) -> RouteValues:
    """Workspace A's objects."""
    return RouteValues({"engagement_id": world.engagement_id, "client_id": world.client_id,
                        "index": world.indices[0], "sha256": world.sha256, "token_id": world.token_id_a,
                        "user_id": world.member_id_a, "invitation_id": world.invitation_id_a,
                        "token": "no-such-login-link"})


@pytest.fixture(scope="session")
def missing_values() -> RouteValues:
    """Ids no workspace has."""
    return RouteValues({"engagement_id": 987654321, "client_id": 987654321, "index": 0, "sha256": "e" * 64,
                        "token_id": 987654321, "user_id": 987654321, "invitation_id": 987654321,
                         "token": "no-such-login-link"})


@pytest.fixture(scope="session")
def page_routes() -> list[tuple[str, str]]:
    """(method, path template) of every route the app serves outside its OpenAPI (pages, health), read from the
    app's own route table."""
    from fastapi.routing import iter_route_contexts

    from service.main import create_app

    app = create_app(create_engine("sqlite://"))
    routes = sorted({(method, route.path) for route in iter_route_contexts(app.routes)
                     if route.methods and not getattr(route, "include_in_schema", True)
                     for method in route.methods if method != "HEAD"})
    assert len(routes) > 20, routes
    return routes


@pytest.fixture(scope="session")
def openapi(server) -> dict:
    answer = httpx.get(f"{server.url}/api/openapi.json", timeout=30)
    assert answer.status_code == 200
    return answer.json()


@pytest.fixture(scope="session")
def api_routes(openapi) -> list[tuple[str, str]]:
    """(method, path template) of every operation in the served OpenAPI."""
    routes = sorted((method.upper(), path) for path, ops in openapi["paths"].items() for method in ops
                    if method in ("get", "post", "put", "patch", "delete"))
    assert len(routes) > 10, routes
    return routes


def query_params(openapi: dict, method: str, template: str, *, required: bool = True) -> list[str]:
    operation = openapi["paths"][template][method.lower()]
    return [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"
            and (p.get("required", False) or not required)]


def ledger_query(world: World, names: list[str], engagement_id: int | None = None) -> dict[str, int]:
    """Values for a ledger route's required query parameters (proofs, leaves), valid for A's engagement."""
    size = world.api_a.get(f"/api/v1/engagements/{engagement_id or world.engagement_id}").json()["tree_size"]
    known = {"index": world.indices[0], "size": size, "from": 1, "to": size, "start": 0, "end": size}
    unknown = [n for n in names if n not in known]
    assert not unknown, f"the black-box suite has no value for query parameter(s) {unknown}: add them in conftest"
    return {n: known[n] for n in names}
