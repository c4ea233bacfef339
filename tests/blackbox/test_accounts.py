"""Accounts from outside: an owner cannot take over someone else's account by inviting it, a login link makes one
session however often it is opened at once, a new password ends the person's other sessions, a session works the
moment its redirect arrives, and pages ignore API tokens (cookie and CSRF only)."""

import re
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import httpx

from tests.blackbox.conftest import key
from tests.blackbox.server import open_login_link, sign_in

ANY_LINK = re.compile(r"/login/link/[A-Za-z0-9_\-]{16,}")


def _actor(client: httpx.Client) -> str | None:
    me = client.get("/api/v1/me")
    return me.json()["actor"] if me.status_code == 200 else None


def _links_in(*answers: httpx.Response) -> list[str]:
    found = []
    for answer in answers:
        found += ANY_LINK.findall(answer.text)
        found += ANY_LINK.findall(answer.headers.get("location", ""))
    return found


def test_inviting_an_existing_account_hands_the_inviter_no_way_into_it(world):
    victim = sign_in(world.server.url, world.victim_link)
    victim_actor = _actor(victim)
    victim.close()
    assert victim_actor
    owner = world.owner_a
    owner_actor = _actor(owner)
    answers = [owner.post("/settings/members", data={"email": email, "role": "editor", "name": "",
                                                     "csrf_token": owner.csrf})
               for email in (world.victim_email, world.victim_email.upper())]
    answers.append(owner.get("/settings"))
    assert all(a.status_code < 500 for a in answers), [a.status_code for a in answers]
    links = _links_in(*answers)
    taken = []
    for link in links:
        with httpx.Client(base_url=world.server.url, timeout=30) as attacker:
            open_login_link(attacker, link)
            if _actor(attacker) == victim_actor:
                taken.append(link)
    assert not links, (f"inviting the existing account {world.victim_email} showed the inviter {len(links)} login "
                       f"link(s); {len(taken)} of them sign in as that person")
    assert _actor(owner) == owner_actor, "the inviter's own session changed"


def test_inviting_a_new_person_still_shows_their_first_login_link(world):
    """The control for the test above: its link detector does see a link where one belongs."""
    owner = world.owner_a
    email = f"new-{key()}@example.test"
    answer = owner.post("/settings/members", data={"email": email, "role": "viewer", "name": "New person",
                                                   "csrf_token": owner.csrf})
    assert answer.status_code in (200, 303), answer.text[:300]
    links = _links_in(answer, owner.get("/settings"))
    assert links, "inviting someone with no account shows no login link to send them"
    newcomer = sign_in(world.server.url, links[0])
    assert _actor(newcomer) not in (None, _actor(owner))
    newcomer.close()


def test_one_login_link_opened_eight_times_at_once_makes_one_session(world):
    link = world.login_link(world.victim_email)
    clients = [httpx.Client(base_url=world.server.url, timeout=60) for _ in range(8)]
    try:
        # Each browser has the link's page open; all press its button at once.
        path = link[link.index("/login/link/"):]
        forms = [re.search(r'name="csrf_token"\s+value="([^"]+)"', c.get(path).text) for c in clients]
        assert all(forms), "the link's page has no sign-in form"
        barrier = Barrier(8)

        def press(i):
            barrier.wait()
            answer = clients[i].post(path, data={"csrf_token": forms[i].group(1)})
            return answer.status_code, "docket_session" in clients[i].cookies and _actor(clients[i]) is not None

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(press, range(8)))
    finally:
        for c in clients:
            c.close()
    statuses = sorted(s for s, _ in results)
    assert all(s < 500 for s in statuses), f"one link used 8 times at once answered {statuses}"
    sessions = sum(ok for _, ok in results)
    assert sessions == 1, f"one login link used 8 times at once made {sessions} sessions ({statuses})"


def test_opening_a_login_link_changes_nothing_until_its_button_is_pressed(world):
    link = world.login_link("editor-a@example.test")
    with httpx.Client(base_url=world.server.url, timeout=30) as scanner:
        for _ in range(3):  # a mail scanner fetching the link, more than once
            assert scanner.get(link[link.index("/login/link/"):]).status_code == 200
        assert "docket_session" not in scanner.cookies
    person = sign_in(world.server.url, link)
    assert _actor(person) is not None, "the link no longer works after it was only looked at"
    person.close()


def test_a_new_password_ends_the_persons_other_sessions(world):
    first = sign_in(world.server.url, world.login_link(world.victim_email))
    second = sign_in(world.server.url, world.login_link(world.victim_email))
    try:
        page = first.get("/settings")
        current = {"current_password": "victim-password-1"} if 'name="current_password"' in page.text else {}
        password = f"victim-password-{key()}"
        changed = first.post("/settings/password", data={"password": password, "password_again": password,
                                                         "csrf_token": first.csrf, **current})
        assert changed.status_code in (200, 303), changed.text[:300]
        assert _actor(first) is not None, "the session that changed the password was ended"
        left = second.get("/settings")
        assert left.status_code in (303, 401) and _actor(second) is None, (
            f"another session of the person still works after their password changed ({left.status_code})")
    finally:
        first.close()
        second.close()


def test_a_session_works_the_moment_its_sign_in_redirect_arrives(world):
    """A sign-in is a write like any other: its redirect must not arrive before the session is committed."""
    for _ in range(3):
        with httpx.Client(base_url=world.server.url, timeout=30) as client:
            answer = open_login_link(client, world.login_link("editor-a@example.test"))
            assert answer.status_code == 303 and "docket_session" in client.cookies, answer.text[:300]
            home = client.get("/")
            assert home.status_code == 200, (
                f"right after the sign-in redirect, / answered {home.status_code} "
                f"({home.headers.get('location')}): the session was not committed yet")


def test_an_api_token_sent_to_a_page_does_not_reach_the_page(world):
    bearer = {"Authorization": f"Bearer {world.token_a}"}
    with httpx.Client(base_url=world.server.url, headers=bearer, timeout=30) as client:
        answer = client.post("/settings/password", data={"password": "x" * 12, "password_again": "x" * 12})
        assert answer.status_code in (303, 401, 403), (
            f"POST /settings/password with an API token answered {answer.status_code}: {answer.text[:200]}")
        if answer.status_code == 303:
            assert answer.headers["location"].startswith("/login")
        for path in ("/", "/settings", f"/engagements/{world.engagement_id}"):
            page = client.get(path)
            assert page.status_code in (303, 401, 403), f"GET {path} with only an API token answered {page.status_code}"


def test_every_page_answers_a_token_as_if_no_one_had_signed_in(world, page_routes, route_values):
    """Pages authenticate by session cookie only: a bearer token changes nothing on any page route."""
    bearer = {"Authorization": f"Bearer {world.token_a}"}
    probed, differ = 0, []
    with httpx.Client(base_url=world.server.url, timeout=30) as anonymous, \
            httpx.Client(base_url=world.server.url, headers=bearer, timeout=30) as token:
        for method, template in page_routes:
            path = route_values.fill(template)
            if path is None:
                continue
            probed += 1
            data = {} if method == "GET" else {"name": "x"}
            plain = anonymous.request(method, path, data=data or None)
            with_token = token.request(method, path, data=data or None)
            if with_token.status_code >= 500 or with_token.status_code != plain.status_code:
                differ.append(f"{method} {template}: {with_token.status_code} with a token, {plain.status_code} "
                              f"without")
    assert probed >= 20
    assert not differ, "pages that treat an API token differently from no credentials:\n" + "\n".join(differ)

