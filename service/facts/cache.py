"""Today's facts, kept in memory and shared by every request of the process: the key names the ledger's size and
root, so an answer for it never goes stale (the ledger only grows)."""

from collections import OrderedDict
from threading import Lock

from service.facts.models import Facts

CACHE_SIZE = 512  # the least recently used answers go first

_facts: OrderedDict[tuple, Facts] = OrderedDict()
_lock = Lock()


def cached(key: tuple) -> Facts | None:
    with _lock:
        if key in _facts:
            _facts.move_to_end(key)
            return _facts[key]
    return None


def remember(key: tuple, facts: Facts) -> None:
    with _lock:
        _facts[key] = facts
        while len(_facts) > CACHE_SIZE:
            _facts.popitem(last=False)


def clear() -> None:
    with _lock:
        _facts.clear()
