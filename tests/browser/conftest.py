"""Browser tests: a real Docket server (uvicorn, in a thread, on its own migrated SQLite database) driven by
Debian's Chromium through Playwright. Without Chromium they skip, except under DOCKET_REQUIRE_ALL (set by
.ci/run), where a missing browser fails the run."""

import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("DOCKET_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update"]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("DOCKET_REQUIRE_ALL"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
def live_server(engine):
    """The whole app served over HTTP on a free port, sharing the test run's database (real commits)."""
    import uvicorn

    from service.main import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(engine), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield page
    context.close()
    assert not errors, f"the page logged errors: {errors}"


@pytest.fixture
def owner_link(engine):
    """A fresh owner in a fresh workspace, committed, and a one-time login link for them."""
    from service.accounts.service import create_login_link
    from service.db import new_session
    from tests import factories

    with new_session(engine, write=True) as session:
        member = factories.make_member(session, workspace_name=f"Browser Ltd {time.time_ns()}")
        token = create_login_link(session, user=member.user)
        session.commit()
    return member, f"/login/link/{token}"


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT


@pytest.fixture
def sample_file(tmp_path) -> Path:
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "Weekly report 12.pdf"
    path.write_bytes(b"%PDF-1.4\n% weekly pipeline report\n" + os.urandom(2048))
    return path
