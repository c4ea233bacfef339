"""One place for configuration: every setting comes from a DOCKET_* environment variable."""

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCKET_", env_file=".env", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str = ""
    # Derives the key that seals workspace signing keys; when unset, one is generated once under data_dir
    # so that `make run` works on a fresh machine and restarts keep the same key.
    secret_key: str = ""
    log_host: str = "docket.localhost"
    base_url: str = "http://127.0.0.1:8000"
    max_upload_mb: int = 100
    session_days: int = 14
    login_link_minutes: int = 60
    secure_cookies: bool = False
    # Requests one process works on at once; more wait up to queue_seconds, then get 503 + Retry-After.
    # Threads and database connections are provisioned for exactly this many (service/http.py).
    max_requests: int = 16
    queue_seconds: float = 5.0
    # Longest wait for a lock (SQLite's writer, a PostgreSQL row); past it the request answers 503.
    lock_timeout_seconds: float = 10.0
    # A request body other than an upload; JSON and forms are small.
    max_body_kb: int = 1024
    # Test-only fault hooks (db._injected_fault); production never sets it.
    fault_injection: bool = False
    # Brute-force throttles, in the `limits` notation ("5 per 15 minutes"); only failed attempts count. The
    # storage is a `limits` URI: memory:// counts per process, redis://host:6379 shares counts between them.
    rate_limit_storage: str = "memory://"
    login_account_limit: str = "5 per 15 minutes"
    login_address_limit: str = "20 per minute"
    login_link_address_limit: str = "20 per minute"
    token_address_limit: str = "20 per minute"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'docket.db'}"

    @property
    def evidence_dir(self) -> Path:
        return self.data_dir / "evidence"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    def signing_secret(self) -> str:
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48))
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
