"""Runs each benchmark module (every `bench/<name>.py` not starting with `_`) and prints its figures."""

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main(names: list[str]) -> None:
    available = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])
                       if not m.name.startswith("_"))
    unknown = set(names) - set(available)
    if unknown:
        sys.exit(f"unknown benchmark {', '.join(sorted(unknown))}; available: {', '.join(available)}")
    for name in names or available:
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        importlib.import_module(f"bench.{name}").main()
        print(f"   ({time.perf_counter() - started:.0f} s)\n", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
