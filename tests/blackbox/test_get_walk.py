"""No GET changes stored state (DESIGN §3.9): every GET route, from the served OpenAPI and from the app's own route
table, called with valid ids of a populated workspace, leaves every table's row count and every ledger as it found
them. The one exception, signing the checkpoint of the current tree size on demand, is taken before the walk, so
that asking again signs nothing."""

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.blackbox.conftest import LINK, api_client, key, ledger_query, query_params, record


def _diff(before: dict, after: dict) -> dict:
    return {k: (before.get(k), after.get(k)) for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)}


def test_no_get_route_changes_stored_state(world, page_routes, api_routes, route_values, openapi, capsys):
    server = world.server

    def sign_current_checkpoints():
        for engagement in (world.engagement_id, world.other_engagement_id):
            assert world.api_a.get(f"/api/v1/engagements/{engagement}/checkpoint").status_code == 200

    login_link = world.login_link("editor-a@example.test")
    route_values.values["token"] = login_link[login_link.index("/login/link/") + len("/login/link/"):]
    assert LINK.search(login_link)

    calls = []
    for method, template in api_routes:
        if method == "GET":
            query = ledger_query(world, query_params(openapi, method, template))
            calls += [(template, "API token", world.api_a, query), (template, "session cookie", world.owner_a, query)]
    for method, template in page_routes:
        if method == "GET":
            calls.append((template, "session cookie", world.owner_a, {}))

    changed, failed = [], []
    try:
        for template, who, client, query in calls:
            path = route_values.fill(template)
            # The one allowed write, taken before each call: a GET that wrote earlier in the walk (and grew a
            # ledger) must not be blamed on the checkpoint route.
            sign_current_checkpoints()
            before = server.snapshot()
            if "{token}" in template:
                # Opening a login link signs its client in: a client of its own, so the owner stays who they are.
                with httpx.Client(base_url=server.url, timeout=60) as fresh:
                    answer = fresh.get(path)
            else:
                answer = client.get(path, params=query)
            after = server.snapshot()
            if answer.status_code >= 500:
                failed.append(f"GET {template} ({who}): {answer.status_code}")
            if diff := _diff(before, after):
                changed.append(f"GET {template} ({who}) answered {answer.status_code} and changed {diff}")
    finally:
        route_values.values["token"] = "no-such-login-link"
    with capsys.disabled():
        print(f"\nGET walk: {len(calls)} calls over {len({c[0] for c in calls})} GET routes "
              f"({sum(m == 'GET' for m, _ in api_routes)} API, {sum(m == 'GET' for m, _ in page_routes)} pages); "
              f"{len(changed)} changed stored state, {len(failed)} answered 5xx")
    assert not failed, "GET routes that failed:\n" + "\n".join(failed)
    assert not changed, "GET routes that changed stored state:\n" + "\n".join(changed)


def test_concurrent_checkpoint_gets_after_the_ledger_grows_sign_once_and_never_fail(world):
    """The one GET that may write: it signs the current size once, however many ask at once."""
    path = f"/api/v1/engagements/{world.other_engagement_id}/checkpoint"
    for _ in range(3):
        grown = world.api_a.post(f"/api/v1/engagements/{world.other_engagement_id}/records", json=record(key()))
        assert grown.status_code == 201

        def get(_):
            with api_client(world.server, world.token_a) as client:
                return client.get(path)

        with ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(get, range(12)))
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200] * 12, f"12 concurrent GETs of a new checkpoint answered {statuses}"
        assert len({a.text for a in answers}) == 1, "concurrent GETs were handed different checkpoints of one size"
        size = grown.json()["index"] + 1
        signed = world.server.query("SELECT count(*) FROM checkpoint WHERE engagement_id = :e AND size = :s",
                                    e=world.other_engagement_id, s=size)[0][0]
        assert signed == 1, f"{signed} checkpoints signed for size {size}"
