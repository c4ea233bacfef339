"""Workspaces are invisible to each other (DESIGN §3.5), on every route: workspace B's caller naming any of
workspace A's objects, on any API operation (from the served OpenAPI) or page route (from the app's route table)
with an id, gets a 404 byte for byte the same as for an id that does not exist, and changes nothing."""

from tests.blackbox.conftest import OCCURRED_AT, ledger_query, path_params, query_params

# A plausible request body for each write, so that the answer turns on whose object it names, not on a missing
# field. The same body goes with A's id and with the missing one.
API_BODIES = {
    "/api/v1/engagements/{engagement_id}/records": {
        "json": {"kind": "call", "occurred_at": OCCURRED_AT, "body": {"summary": "from B", "direction": "out"}}},
    "/api/v1/engagements/{engagement_id}/receipts": {"json": {"recipient": "B", "method": "email"}},
    "/api/v1/engagements/{engagement_id}/bundle": {"json": {}},
}
PAGE_FORM = {"kind": "call", "direction": "out", "occurred_at": "2026-06-01T09:30", "summary": "from B",
             "reason": "from B", "recipient": "B", "method": "email", "role": "viewer", "name": "B", "title": "B"}


def _probe(client, method, path, **kwargs):
    answer = client.request(method, path, **kwargs)
    return answer.status_code, answer.headers.get("content-type"), answer.content


def test_workspace_b_gets_the_same_404_for_workspace_a_objects_as_for_missing_ones(
        world, api_routes, page_routes, route_values, missing_values, openapi, capsys):
    server = world.server
    # Taken first: making a link is a write of its own.
    link = world.login_link("owner-b@example.test")
    before = server.snapshot()
    probes, leaks = [], []

    for method, template in api_routes:
        params = path_params(template)
        if not params:
            continue
        query = ledger_query(world, query_params(openapi, method, template))
        body = API_BODIES.get(template, {"json": {}}) if method != "GET" else {}
        probes.append(f"{method} {template}")
        theirs = _probe(world.api_b, method, route_values.fill(template), params=query, **body)
        missing = _probe(world.api_b, method, missing_values.fill(template), params=query, **body)
        if theirs[0] != 404 or theirs != missing:
            leaks.append(f"API {method} {template}: A's id answered {theirs[0]} {theirs[2][:160]!r}, a missing id "
                         f"{missing[0]} {missing[2][:160]!r}")

    # Query parameters that name an object (a filter by client): A's id must look like an unknown one.
    for method, template in api_routes:
        for name in query_params(openapi, method, template, required=False):
            if name.endswith("_id") and not path_params(template):
                probes.append(f"{method} {template}?{name}=")
                theirs = _probe(world.api_b, method, template, params={name: route_values.values[name]})
                missing = _probe(world.api_b, method, template, params={name: missing_values.values[name]})
                if theirs != missing:
                    leaks.append(f"API {method} {template}?{name}: A's id answered {theirs[0]} {theirs[2][:160]!r}, "
                                 f"a missing id {missing[0]} {missing[2][:160]!r}")

    page = world.owner_b
    for method, template in page_routes:
        params = path_params(template)
        if not params or params == ["token"]:
            continue  # a login link names no workspace's object
        kwargs = {}
        if method != "GET":
            kwargs = {"headers": {"X-CSRF-Token": page.csrf}}
            if template.endswith("/attach"):
                kwargs["files"] = {"file": ("b.txt", b"from B", "text/plain")}
            else:
                kwargs["data"] = PAGE_FORM
            if template.startswith("/login/invitations/"):
                # Answered at sign-in with B's owner's own one-time link: valid, so only the invitation is in
                # question (a refused answer leaves the link unused for the second probe).
                kwargs["data"] = {"sign_in": link.rsplit("/", 1)[1], "answer": "accept"}
        probes.append(f"page {method} {template}")
        theirs = _probe(page, method, route_values.fill(template), **kwargs)
        missing = _probe(page, method, missing_values.fill(template), **kwargs)
        if theirs[0] != 404 or theirs != missing:
            leaks.append(f"page {method} {template}: A's id answered {theirs[0]}, a missing id {missing[0]}"
                         + ("" if theirs[0] != missing[0] else " with different bytes"))

    after = server.snapshot()
    with capsys.disabled():
        print(f"\ntenant isolation: {len(probes)} routes probed "
              f"({sum(p.startswith(('GET', 'POST', 'PUT', 'PATCH', 'DELETE')) for p in probes)} API, "
              f"{sum(p.startswith('page') for p in probes)} pages), {len(leaks)} told A's objects from missing ones")
    assert len(probes) >= 25, probes
    assert not leaks, "routes where B can tell A's objects from missing ones:\n" + "\n".join(leaks)
    changed = {k: (before[k], after.get(k)) for k in before if before[k] != after.get(k)}
    assert not changed, f"B's requests for A's objects changed stored state: {changed}"
