"""Engine and sessions. A request gets one session that commits once, after the route, or rolls back."""

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache

from fastapi import Request
from sqlalchemy import Engine, MetaData, event
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel, create_engine

from service.config import get_settings
from service.times import rfc3339_micro, rfc3339_seconds

# Stable constraint names, so that Alembic migrations name the same thing on SQLite and PostgreSQL.
SQLModel.metadata.naming_convention = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
).naming_convention

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


# Raw column values, for the few readers of whole ledgers that skip ORM type processing (it costs more than
# their own work). The engines hand the same column back differently:


def raw_datetime(value: str | datetime) -> datetime:
    """A UTC datetime column: SQLite keeps naive UTC text, PostgreSQL answers with an aware datetime."""
    if isinstance(value, str):
        return datetime.fromisoformat(value + "+00:00")  # five times faster than parsing, then .replace()
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def raw_list(value: str | list | None) -> list:
    """A JSON list column: text on SQLite, already parsed on PostgreSQL."""
    if isinstance(value, str):
        return [] if value == "[]" else json.loads(value)
    return value or []


# A UTC datetime column straight to RFC 3339 text, for readers that only format it back (the ledger's leaves):
# cutting SQLite's text costs less than parsing it.


def raw_rfc3339_seconds(value: str | datetime) -> str:
    if isinstance(value, str):
        return f"{value[:10]}T{value[11:19]}Z"
    return rfc3339_seconds(value)


def raw_rfc3339_micro(value: str | datetime) -> str:
    if isinstance(value, str):
        return f"{value[:10]}T{value[11:19]}.{(value[20:26] or '0').ljust(6, '0')}Z"
    return rfc3339_micro(value)


class Busy(Exception):
    """A lock or a connection was not had in time: the request answers 503 with Retry-After, having changed
    nothing (its transaction rolls back)."""


def make_engine(url: str, **options) -> Engine:
    """Sized to the requests a process admits (Admission in service/http.py): each one can hold a connection, and
    no lock wait outlasts lock_timeout_seconds, so an admitted request finishes or fails in bounded time."""
    settings = get_settings()
    connections = settings.max_requests + 4  # a few spare for the CLI and the checkpoint signer
    lock_ms = int(settings.lock_timeout_seconds * 1000)
    if not url.startswith("sqlite"):
        if options.get("isolation_level") != "AUTOCOMMIT":
            options.setdefault("connect_args", {"options": f"-c lock_timeout={lock_ms}"})
        return create_engine(url, pool_pre_ping=True, pool_size=connections, max_overflow=0,
                             pool_timeout=settings.lock_timeout_seconds, **options)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": settings.lock_timeout_seconds},
                           pool_size=connections, max_overflow=0, pool_timeout=settings.lock_timeout_seconds)

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (needed for SAVEPOINT and for
        # BEGIN IMMEDIATE below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={lock_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    # SQLite has one writer at a time. Writers of this process queue on a lock, handed over the moment the
    # previous transaction ends; left to SQLite's busy handler they would poll with sleeps of up to 100 ms.
    write_lock = threading.Lock()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn):
        # A writer takes the write lock up front: a deferred transaction that read first and writes later
        # fails with SQLITE_BUSY_SNAPSHOT under concurrency instead of waiting its turn.
        if not conn.get_execution_options().get("sqlite_immediate", False):
            conn.exec_driver_sql("BEGIN")
            return
        if not write_lock.acquire(timeout=settings.lock_timeout_seconds):
            raise Busy("another change is being written; try again in a moment")
        conn.info["holds_write_lock"] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(conn.info)
            raise

    def _release(info: dict) -> None:
        if info.pop("holds_write_lock", False):
            write_lock.release()

    # The transaction ends when its connection goes back to the pool (the session releases it on commit or
    # rollback), or when the connection is thrown away.
    event.listen(engine, "checkin", lambda _dbapi, record: _release(record.info))
    event.listen(engine, "invalidate", lambda _dbapi, record, _exc: _release(record.info))
    return engine


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().db_url)


def writer(engine: Engine) -> Engine:
    """The same engine, but transactions that will write take SQLite's write lock when they begin."""
    return engine.execution_options(sqlite_immediate=True)


def new_session(engine: Engine | None = None, *, write: bool = False) -> Session:
    engine = engine or get_engine()
    return Session(writer(engine) if write else engine, expire_on_commit=False)


def writes(request: Request) -> None:
    """Route dependency for a GET that may write (signing a checkpoint): list it before anything that needs
    a session, so that the session begins as a writer."""
    request.state.writes = True


def get_session(request: Request) -> Iterator[Session]:
    """Commits once after the route returns and before its answer is sent (the dependency is function-scoped,
    see SessionDep): no success status leaves the server before its transaction has committed, and a failed
    commit answers 500. Any exception rolls everything back."""
    write = request.method in UNSAFE_METHODS or getattr(request.state, "writes", False)
    with new_session(request.app.state.engine, write=write) as session:
        try:
            yield session
            _injected_fault(request)
            session.commit()
        except BaseException:
            session.rollback()
            raise


class InjectedFault(RuntimeError):
    """A commit failed on purpose, for the black-box tests."""


def _injected_fault(request: Request) -> None:
    """Test-only: with DOCKET_FAULT_INJECTION set (never in production), the header `X-Docket-Fault:
    commit-delay=<seconds>` holds the commit back and `commit-fail` makes it fail, so that the black-box suite can
    show that an answer waits for its commit."""
    if not get_settings().fault_injection:
        return
    fault = request.headers.get("x-docket-fault", "")
    if fault.startswith("commit-delay="):
        time.sleep(min(float(fault.removeprefix("commit-delay=")), 30))
    elif fault == "commit-fail":
        raise InjectedFault("commit failed (injected fault)")


# PostgreSQL: lock_timeout passed, a deadlock broken, a serialization failure, no connection to be had (too many
# clients, or the server starting or stopping); SQLite: the busy timeout passed.
_LOCK_FAILURES = {"55P03", "40P01", "40001", "53300", "57P03"}


def is_lock_failure(exc: DBAPIError) -> bool:
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _LOCK_FAILURES:
        return True
    if isinstance(orig, sqlite3.OperationalError) and "locked" in str(orig):
        return True
    return "too many clients" in str(orig)  # refused before a session exists, so with no SQLSTATE


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"
