"""Shared by the benchmarks: a scratch data folder and percentiles."""

import os
import statistics
import tempfile
from pathlib import Path


def scratch(name: str) -> Path:
    """A fresh folder for one benchmark's database and files (removed by the OS's temp cleaning)."""
    path = Path(tempfile.mkdtemp(prefix=f"docket-bench-{name}-"))
    os.environ["DOCKET_DATA_DIR"] = str(path)
    os.environ.setdefault("DOCKET_SECRET_KEY", "bench-secret-key")
    os.environ["DOCKET_DATABASE_URL"] = f"sqlite:///{path / 'docket.db'}"
    from service.config import get_settings

    get_settings.cache_clear()
    return path


def percentiles(samples_s: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples_s)
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return f"p50 {cuts[49]:.2f} ms, p95 {cuts[94]:.2f} ms, p99 {cuts[98]:.2f} ms (n={len(ms)})"
