"""Hostile input gets a clear 4xx and changes nothing (DESIGN §3.8), on both engines; file names keep every
character a browser sends; bodies too large are refused before they are read; the session cookie is Secure when
asked to be; wrong passwords, login links and tokens are throttled."""

import hashlib
import os
import re
import select
import socket
import time
from dataclasses import dataclass
from urllib.parse import unquote

import httpx
import pytest

from tests.blackbox.conftest import OCCURRED_AT, api_client, key, record

EXTREME_TIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]


def _size(world) -> int:
    return world.api_a.get(f"/api/v1/engagements/{world.engagement_id}").json()["tree_size"]


def _client_names(world) -> set[str]:
    return {c["name"] for c in world.api_a.get("/api/v1/clients").json()}


def _refused(answer: httpx.Response, what: str) -> None:
    assert 400 <= answer.status_code < 500, f"{what} answered {answer.status_code}: {answer.text[:300]}"


# NUL bytes and lone surrogates


def test_a_nul_byte_in_a_text_field_is_refused_and_nothing_is_stored(world):
    size, names = _size(world), _client_names(world)
    _refused(world.api_a.post("/api/v1/clients", json={"name": "Nul\u0000 Ltd"}), "a client name with NUL")
    _refused(world.api_a.post(world.records_url(), json=record("call\u0000me")), "a record summary with NUL")
    _refused(world.api_a.post(world.records_url(), json={**record("ok"), "external_id": "x\u0000y"}),
             "an external_id with NUL")
    page = world.owner_a
    _refused(page.post("/clients", data={"name": "Nul\u0000 page", "csrf_token": page.csrf}),
             "a client name with NUL on the page")
    assert _size(world) == size and _client_names(world) == names


@pytest.mark.parametrize("param", ["q", "cursor", "kind"])
def test_a_nul_byte_in_a_query_is_refused(world, param):
    _refused(world.api_a.get(world.records_url(), params={param: "a\u0000b"}), f"?{param}= with NUL")


def test_a_nul_byte_in_a_page_query_is_refused(world):
    answer = world.owner_a.get(f"/engagements/{world.engagement_id}", params={"q": "a\u0000b"})
    assert answer.status_code < 500, f"a page query with NUL answered {answer.status_code}"


def test_a_lone_surrogate_in_json_is_refused(world):
    size, names = _size(world), _client_names(world)
    raw = b'{"name": "a\\ud800b"}'
    _refused(world.api_a.post("/api/v1/clients", content=raw, headers={"Content-Type": "application/json"}),
             "a client name with a lone surrogate")
    body = (b'{"kind": "call", "occurred_at": "' + OCCURRED_AT.encode()
            + b'", "body": {"summary": "a\\ud800b", "direction": "out"}}')
    _refused(world.api_a.post(world.records_url(), content=body, headers={"Content-Type": "application/json"}),
             "a record summary with a lone surrogate")
    assert _size(world) == size and _client_names(world) == names


# Times beyond what a datetime holds once moved to UTC


@pytest.mark.parametrize("when", EXTREME_TIMES)
def test_an_occurred_at_at_the_edge_of_time_is_refused(world, when):
    size = _size(world)
    _refused(world.api_a.post(world.records_url(), json={**record(key()), "occurred_at": when}),
             f"occurred_at {when}")
    _refused(world.api_a.post(world.records_url(), json=record(key(), kind="meeting_scheduled", meeting_at=when)),
             f"meeting_at {when}")
    assert _size(world) == size


@pytest.mark.parametrize("when", EXTREME_TIMES)
@pytest.mark.parametrize("bound", ["occurred_from", "occurred_to"])
def test_a_list_filter_at_the_edge_of_time_is_refused(world, when, bound):
    _refused(world.api_a.get(world.records_url(), params={bound: when}), f"{bound}={when}")


# Uploads


def _multipart(filename: str, content: bytes, boundary: str = "bbBoundary7MA4YWxk", close: bool = True) -> bytes:
    """A multipart body as a browser sends it: the file name as raw UTF-8 in the part header."""
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n").encode()
    return head + content + (f"\r\n--{boundary}--\r\n".encode() if close else b"")


def _upload(world, body: bytes, boundary: str = "bbBoundary7MA4YWxk", **headers) -> httpx.Response:
    return world.api_a.post("/api/v1/evidence", content=body,
                            headers={"Content-Type": f"multipart/form-data; boundary={boundary}", **headers})


def _in_store(world, sha256: str) -> bool:
    return (world.server.data_dir / "evidence" / sha256[:2] / sha256).exists()


@pytest.mark.parametrize("filename", ["Счёт-42.pdf", "café.txt", "報告 №7.pdf"])
def test_an_upload_keeps_its_utf8_file_name_exactly(world, filename):
    content = f"invoice {key()}".encode()
    answer = _upload(world, _multipart(filename, content))
    assert answer.status_code == 201, f"uploading {filename!r} answered {answer.status_code}: {answer.text[:300]}"
    assert answer.json()["filename"] == filename
    download = world.api_a.get(f"/api/v1/evidence/{answer.json()['sha256']}")
    assert download.status_code == 200 and download.content == content
    disposition = download.headers["content-disposition"]
    encoded = re.search(r"filename\*=utf-8''([^;]+)", disposition, re.I)
    named = unquote(encoded.group(1)) if encoded else re.search(r'filename="([^"]*)"', disposition).group(1)
    assert named == filename, f"the download is named {named!r} ({disposition})"


def test_a_multipart_body_without_its_closing_boundary_is_refused_and_stores_nothing(world):
    content = f"cut short {key()}".encode()
    answer = _upload(world, _multipart("cut.txt", content, close=False))
    _refused(answer, "a multipart body with no closing boundary")
    sha256 = hashlib.sha256(content).hexdigest()
    assert world.api_a.get(f"/api/v1/evidence/{sha256}").status_code == 404
    assert not _in_store(world, sha256), "the file of a refused upload is in the evidence store"


def test_an_upload_refused_with_409_leaves_no_file_in_the_store(world):
    idem = key()
    first = _upload(world, _multipart("first.txt", f"first {key()}".encode()), **{"Idempotency-Key": idem})
    assert first.status_code == 201, first.text
    other = f"second {key()}".encode()
    refused = _upload(world, _multipart("second.txt", other), **{"Idempotency-Key": idem})
    assert refused.status_code == 409, f"another file under a used key answered {refused.status_code}"
    sha256 = hashlib.sha256(other).hexdigest()
    assert world.api_a.get(f"/api/v1/evidence/{sha256}").status_code == 404
    assert not _in_store(world, sha256), "the file of an upload refused with 409 stays in the evidence store"


# Bodies too large to read


def _chunks(head: bytes, filler: bytes, tail: bytes, total: int):
    """A body of `total` bytes made as it is sent: the head, the filler repeated, the tail."""
    yield head
    left = total - len(head) - len(tail)
    while left > 0:
        yield filler[:left]
        left -= len(filler)
    yield tail


@dataclass
class Sent:
    status: int | None
    head: str
    sent: int
    took: float
    error: str = ""


def _send_large(server, path: str, chunks, total: int, headers: dict, *, give_up_after: int,
                time_box: float = 20) -> Sent:
    """POSTs a body while watching for the answer. An HTTP client writes the whole body before it reads, so it
    cannot tell a server that refused at once (and drains the rest) from one that read it all: a raw socket can."""
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Length: {total}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()
    started, sent, answer, error = time.monotonic(), 0, b"", ""
    pending, body = head, iter(chunks)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.setblocking(False)
        while time.monotonic() - started < time_box and b"\r\n\r\n" not in answer:
            if not pending and sent < total + len(head):
                pending = next(body, b"")
            if sent - len(head) > give_up_after:
                error = f"the server took {sent - len(head):,} bytes without answering"
                break
            readable, writable, _ = select.select([sock], [sock] if pending else [], [], 0.2)
            try:
                if readable:
                    data = sock.recv(65536)
                    if not data:
                        break
                    answer += data
                elif writable:
                    n = sock.send(pending[:262144])
                    sent, pending = sent + n, pending[n:]
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as exc:  # the server closed early: its answer may still be waiting to be read
                error = repr(exc)
                sock.setblocking(True)
                sock.settimeout(2)
                try:
                    answer += sock.recv(65536)
                except OSError:
                    pass
                break
    took = time.monotonic() - started
    text = answer.decode("latin-1")
    status = int(text.split(" ", 2)[1]) if text.startswith("HTTP/1.1 ") else None
    return Sent(status, text.split("\r\n\r\n")[0], max(0, sent - len(head)), took, error)


MB = 1024 * 1024


@pytest.mark.parametrize("authenticated", [False, True], ids=["before-authentication", "with-a-token"])
def test_a_200_mb_json_body_is_refused_without_being_read(world, authenticated):
    total = 200 * MB
    headers = {"Content-Type": "application/json"}
    if authenticated:
        headers["Authorization"] = f"Bearer {world.token_a}"
    sent = _send_large(world.server, "/api/v1/clients", _chunks(b'{"name": "', b"a" * MB, b'"}', total), total,
                       headers, give_up_after=32 * MB)
    assert sent.status is not None, (f"no answer to a 200 MB JSON body after {sent.sent:,} bytes and {sent.took:.1f} s"
                                     f" {sent.error}")
    expected = (413,) if authenticated else (401, 413)
    assert sent.status in expected, f"a 200 MB JSON body answered {sent.status}"
    assert sent.took < 10, f"a 200 MB body was answered after {sent.took:.1f} s"


@pytest.mark.parametrize("target", ["/login", "/clients"])
def test_a_gigabyte_of_multipart_form_fields_is_refused_early(world, target):
    boundary, total = "bbFields", 1024 * MB
    field = (f'--{boundary}\r\nContent-Disposition: form-data; name="notes"\r\n\r\n'.encode()
             + b"x" * (MB - 100) + b"\r\n")
    first = f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nBig\r\n'.encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    if target != "/login":
        headers.update({"Cookie": f"docket_session={world.owner_a.cookies['docket_session']}",
                        "X-CSRF-Token": world.owner_a.csrf})
    sent = _send_large(world.server, target, _chunks(first, field, f"--{boundary}--\r\n".encode(), total), total,
                       headers, give_up_after=64 * MB)
    assert sent.status is not None, (f"no answer to 1 GB of form fields after {sent.sent:,} bytes and {sent.took:.1f} s"
                                     f" {sent.error}")
    assert 400 <= sent.status < 500, f"1 GB of form fields answered {sent.status}"
    assert sent.took < 20
    assert "Big" not in _client_names(world)


# Cookies and throttling, on a server of their own: throttling by address would slow every other test.


@pytest.fixture(scope="module")
def guarded(make_server):
    server = make_server("guarded", DOCKET_SECURE_COOKIES="true")
    server.start()
    yield server
    server.stop()
    server.dispose()


def test_the_session_cookie_is_secure_when_docket_is_served_over_https(guarded):
    path = guarded.first_link[guarded.first_link.index("/login/link/"):]
    with httpx.Client(base_url=guarded.url, timeout=30) as client:
        answer = client.get(path)
        if answer.status_code == 200:  # a link that asks to confirm first
            found = re.search(r'name="csrf_token"\s+value="([^"]+)"', answer.text)
            cookie = answer.headers.get("set-cookie", "").split(";")[0]
            answer = client.post(path, data={"csrf_token": found.group(1) if found else ""},
                                 headers={"Cookie": cookie} if cookie else {})
    cookies = [c for c in answer.headers.get_list("set-cookie") if c.startswith("docket_session=")]
    assert cookies, f"signing in set no session cookie ({answer.status_code})"
    assert "secure" in [p.strip().lower() for p in cookies[0].split(";")], f"the session cookie: {cookies[0]}"


def test_cookies_are_secure_when_a_proxy_says_the_request_came_over_https(world):
    with httpx.Client(base_url=world.server.url, timeout=30) as client:
        plain = client.get("/login")
        https = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "secure" not in plain.headers["set-cookie"].lower()
    assert "secure" in [p.strip().lower() for p in https.headers["set-cookie"].split(";")], https.headers["set-cookie"]


def _throttled(send, attempts: int = 40) -> tuple[httpx.Response | None, list[int]]:
    statuses = []
    for _ in range(attempts):
        answer = send()
        statuses.append(answer.status_code)
        assert answer.status_code < 500, f"answered {answer.status_code}: {answer.text[:200]}"
        if answer.status_code == 429:
            return answer, statuses
    return None, statuses


def _login_form(client: httpx.Client) -> tuple[str, str]:
    """The login form's CSRF token and its cookie, sent by hand: the cookie is Secure, and a client would not send
    it back over plain HTTP."""
    form = client.get("/login")
    csrf = re.search(r'name="csrf_token"\s+value="([^"]+)"', form.text).group(1)
    return csrf, form.headers["set-cookie"].split(";")[0]


def test_repeated_wrong_passwords_are_throttled(guarded):
    with httpx.Client(base_url=guarded.url, timeout=30) as client:
        csrf, cookie = _login_form(client)

        def attempt():
            return client.post("/login", data={"email": "owner@docket.localhost", "password": os.urandom(8).hex(),
                                               "csrf_token": csrf}, headers={"Cookie": cookie})

        answer, statuses = _throttled(attempt)
    assert answer is not None, f"40 wrong passwords in a row were never throttled: {sorted(set(statuses))}"
    assert answer.headers.get("Retry-After"), "a 429 without Retry-After"


def test_repeated_unknown_login_links_are_throttled(guarded):
    with httpx.Client(base_url=guarded.url, timeout=30) as client:
        csrf, cookie = _login_form(client)
        answer, statuses = _throttled(lambda: client.post(f"/login/link/{os.urandom(24).hex()}",
                                                          data={"csrf_token": csrf}, headers={"Cookie": cookie}))
    assert answer is not None, f"40 unknown login links in a row were never throttled: {sorted(set(statuses))}"
    assert answer.headers.get("Retry-After")


def test_looking_up_unknown_login_links_is_throttled(guarded):
    """A link's page says whether the link is good and whom it signs in: guessing there must cost as much as
    guessing by signing in."""
    with httpx.Client(base_url=guarded.url, timeout=30) as client:
        answer, statuses = _throttled(lambda: client.get(f"/login/link/{os.urandom(24).hex()}"))
    assert answer is not None, f"40 unknown links looked up in a row were never throttled: {sorted(set(statuses))}"
    assert answer.headers.get("Retry-After")


def test_repeated_unknown_api_tokens_are_throttled(guarded):
    with api_client(guarded) as client:
        answer, statuses = _throttled(lambda: client.get("/api/v1/me", headers={
            "Authorization": f"Bearer dk_{os.urandom(16).hex()}"}))
    assert answer is not None, f"40 unknown API tokens in a row were never throttled: {sorted(set(statuses))}"
    assert answer.headers.get("Retry-After")
