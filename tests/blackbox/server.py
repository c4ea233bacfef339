"""A real `docket serve` in a process group of its own, set up with the `docket` command as an operator would,
and read back with SQLAlchemy only to count what it stored.

Nothing here imports the service: the server is a black box reached over HTTP (and its data folder and database,
which the tests only read)."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, inspect, make_url, text
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"https?://[^\s\"'<>]+/login/link/[A-Za-z0-9_\-]+")
CSRF_HEADER = re.compile(r'"X-CSRF-Token":\s*"([^"]+)"')
CSRF_FIELD = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_database(base_url: str, data_dir: Path) -> tuple[str, "callable"]:
    """A database of the server's own: a file in its data folder, or a new PostgreSQL database (dropped after)."""
    url = make_url(base_url)
    if url.get_backend_name() != "postgresql":
        return f"sqlite:///{data_dir / 'docket.db'}", lambda: None
    name = f"docket_bb_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


@dataclass
class DocketServer:
    data_dir: Path
    database_url: str
    workers: int = 1
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    first_link: str | None = None
    _engine: Engine | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    @property
    def env(self) -> dict[str, str]:
        # The test process's own DOCKET_* settings (the in-process suite's database) must not leak in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKET_")}
        env.update(DOCKET_DATA_DIR=str(self.data_dir), DOCKET_DATABASE_URL=self.database_url,
                   DOCKET_SECRET_KEY="blackbox-secret-key-not-for-production", PYTHONUNBUFFERED="1",
                   **self.extra_env)
        return env

    def cli(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=ROOT, env=self.env,
                                capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError(f"docket {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n"
                                 f"{result.stderr}")
        return result

    def start(self, timeout: float = 90) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.starts == 0:
            self.cli("migrate")
        self.starts += 1
        log = open(self.data_dir / f"serve-{self.starts}.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--port", str(self.port), "--workers", str(self.workers)],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"docket serve exited {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            self.kill()
            raise AssertionError(f"docket serve did not answer within {timeout} s:\n{self.log()}")
        if self.workers > 1:
            self._wait_for_workers()
        if self.first_link is None:
            found = LINK.search(self.log())
            self.first_link = found.group(0) if found else None

    def _wait_for_workers(self) -> None:
        """uvicorn answers as soon as one worker listens; a burst must meet all of them."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            # The supervisor spawns one process per worker (plus, on some versions, a resource tracker).
            if len(_children(self.process.pid)) >= self.workers:
                break
            time.sleep(0.2)
        for _ in range(self.workers * 4):
            httpx.get(f"{self.url}/healthz", timeout=10)

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.data_dir.glob("serve-*.log")))

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
        self._reap_group()

    def kill(self) -> None:
        """kill -9 of the whole server: the supervisor and every worker at once, as a power cut would."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=20)
        self._reap_group()

    def _reap_group(self) -> None:
        # Workers are in the same group; wait until none is left holding the port or the database.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.killpg(self.process.pid, signal.SIGKILL)

    # Reading what it stored, as an auditor with database access would.

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(self.database_url)
        return self._engine

    def query(self, sql: str, **params) -> list:
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), params))

    def snapshot(self) -> dict[str, object]:
        """Row counts of every table, and each ledger's size and root: what a GET must leave as it found it."""
        with self.engine.connect() as conn:
            tables = sorted(t for t in inspect(conn).get_table_names() if t != "alembic_version")
            state: dict[str, object] = {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() for t in tables}
            for eid, size, root in conn.execute(text("SELECT id, tree_size, root_hash FROM engagement ORDER BY id")):
                state[f"engagement {eid} ledger"] = (size, bytes(root).hex() if root else None)
        return state

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The parent pid is the second field after the parenthesised command name.
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def csrf_of(html: str) -> str:
    found = CSRF_HEADER.search(html) or CSRF_FIELD.search(html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def open_login_link(client: httpx.Client, link: str) -> httpx.Response:
    """Opens a one-time login link as a person does: the link's page, then its sign-in button (a GET changes
    nothing, so the link itself cannot sign anyone in)."""
    path = link[link.index("/login/link/"):]
    answer = client.get(path)
    form = CSRF_FIELD.search(answer.text) if answer.status_code == 200 else None
    if form and "docket_session" not in client.cookies:
        answer = client.post(path, data={"csrf_token": form.group(1)})
    return answer


def sign_in(base_url: str, link: str) -> httpx.Client:
    """A browser-like client signed in by a one-time login link, with its CSRF token at hand."""
    client = httpx.Client(base_url=base_url, timeout=60)
    answer = open_login_link(client, link)
    assert answer.status_code in (200, 303), f"login link answered {answer.status_code}: {answer.text[:300]}"
    assert "docket_session" in client.cookies, "the login link did not sign in"
    # Patient here, so that every test does not fail on one defect: whether a session works the moment its
    # redirect arrives is tested on its own (test_accounts).
    for _ in range(30):
        home = client.get("/")
        if home.status_code != 303:
            break
        time.sleep(0.1)
    assert home.status_code == 200, f"/ answered {home.status_code} after signing in"
    client.csrf = csrf_of(home.text)
    return client
