"""Tests run on the real database made by the Alembic migrations, one rolled-back transaction per test.

DOCKET_TEST_DATABASE_URL picks the database (SQLite in a temporary folder by default; `make test` runs the
suite again on PostgreSQL)."""

import os
import tempfile
import uuid
from pathlib import Path

_DATA = Path(tempfile.mkdtemp(prefix="docket-test-"))
os.environ["DOCKET_DATA_DIR"] = str(_DATA)
os.environ["DOCKET_SECRET_KEY"] = "test-secret-key-not-for-production"
os.environ.setdefault("DOCKET_TEST_DATABASE_URL", f"sqlite:///{_DATA / 'test.db'}")
os.environ["DOCKET_DATABASE_URL"] = os.environ["DOCKET_TEST_DATABASE_URL"]

import pytest  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import make_url, text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from service.db import get_session, make_engine  # noqa: E402
from service.main import create_app  # noqa: E402
from service.migrate import upgrade  # noqa: E402
from tests import factories  # noqa: E402

DATABASE_URL = os.environ["DOCKET_TEST_DATABASE_URL"]
SHARED = Path(os.environ.get("DOCKET_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


def pytest_report_header(config):
    return f"database: {DATABASE_URL.split('@')[-1]}"


@pytest.fixture(scope="session")
def database_url():
    """On PostgreSQL each run gets its own database, so that runs side by side do not trample each other."""
    url = make_url(DATABASE_URL)
    if url.get_backend_name() != "postgresql":
        yield DATABASE_URL
        return
    admin = make_engine(url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    name = f"docket_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def engine(database_url):
    engine = make_engine(database_url)
    os.environ["DOCKET_DATABASE_URL"] = database_url
    with engine.begin() as conn:
        upgrade(conn)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    """A session whose commits are savepoints inside a transaction that is rolled back after the test."""
    with engine.connect() as connection:
        outer = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield session
        finally:
            session.close()
            outer.rollback()


@pytest.fixture
def app(engine, session):
    app = create_app(engine)

    def test_session():
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

    app.dependency_overrides[get_session] = test_session
    return app


@pytest.fixture
def anon(app):
    with TestClient(app, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def owner(session):
    return factories.make_member(session, role="owner")


@pytest.fixture
def api(app, session, owner):
    """An API client with a write token of the owner's workspace."""
    _, token = factories.make_token(session, member=owner, scope="write")
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        client.member = owner
        yield client


@pytest.fixture
def other_api(app, session):
    """An API client of another workspace."""
    member = factories.make_member(session, role="owner", workspace_name="Other Co")
    _, token = factories.make_token(session, member=member, scope="write")
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        client.member = member
        yield client


@pytest.fixture
def browser_session(app, session, owner):
    """A page client signed in as the workspace owner, with its CSRF token at hand."""
    with TestClient(app) as client:
        factories.sign_in(client, session, user=owner.user)
        yield client


@pytest.fixture
def cli_database(tmp_path, monkeypatch):
    """A database of its own for commands that open their own sessions, as an operator runs them: the
    settings point at a fresh migrated SQLite file for the length of the test."""
    from service import db
    from service.config import get_settings

    monkeypatch.setenv("DOCKET_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DOCKET_DATABASE_URL", f"sqlite:///{tmp_path / 'docket.db'}")
    get_settings.cache_clear()
    db.get_engine.cache_clear()
    with db.get_engine().begin() as conn:
        upgrade(conn)
    try:
        yield db.get_engine()
    finally:
        db.get_engine().dispose()
        get_settings.cache_clear()
        db.get_engine.cache_clear()
