"""Brute-force throttles for everything that checks a secret: passwords, login links and API tokens.

Only failures are counted; once a limit is reached every attempt waits, a right password included, or the
throttle would tell a guesser when they were right. Counts live in the `limits` storage named by
DOCKET_RATE_LIMIT_STORAGE: the default `memory://` counts per process (four workers allow four times the
limit), `redis://...` shares the counts between processes and machines."""

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from service.config import Settings, get_settings
from service.errors import DomainError, Gone, NotFound, Unauthorized

_WHAT_FAILED = {
    "login": "Too many failed sign-in attempts for this account or from this address",
    "login_link": "Too many unknown, used or expired login links opened from this address",
    "token": "Too many requests with an unknown or revoked API token from this address",
}


class TooManyAttempts(DomainError):
    status = 429

    def __init__(self, what: str, retry_after: int):
        self.retry_after = retry_after
        super().__init__(f"{_WHAT_FAILED[what]}. Wait {wait_in_words(retry_after)} and try again.")


def wait_in_words(seconds: int) -> str:
    if seconds < 60:
        return "1 second" if seconds == 1 else f"{seconds} seconds"
    minutes = math.ceil(seconds / 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


class Throttle:
    def __init__(self, settings: Settings):
        self._limiter = MovingWindowRateLimiter(storage_from_string(settings.rate_limit_storage))
        self._rules: dict[str, dict[str, RateLimitItem]] = {
            "login": {"account": parse(settings.login_account_limit), "address": parse(settings.login_address_limit)},
            "login_link": {"address": parse(settings.login_link_address_limit)},
            "token": {"address": parse(settings.token_address_limit)},
        }

    def check(self, what: str, **keys: str) -> None:
        """Raises TooManyAttempts, with the seconds until the next attempt is let through, if any of the
        limits for `what` is used up by earlier failures."""
        waits = []
        for name, limit in self._rules[what].items():
            identifiers = (what, name, keys[name])
            if not self._limiter.test(limit, *identifiers):
                reset_at = self._limiter.get_window_stats(limit, *identifiers).reset_time
                waits.append(max(1, math.ceil(reset_at - time.time())))
        if waits:
            raise TooManyAttempts(what, max(waits))

    def failed(self, what: str, **keys: str) -> None:
        for name, limit in self._rules[what].items():
            self._limiter.hit(limit, what, name, keys[name])

    @contextmanager
    def attempt(self, what: str, **keys: str) -> Iterator[None]:
        """Checks the limits before the block and counts a refusal in it (wrong secret, unknown or spent link)
        as one failure."""
        self.check(what, **keys)
        try:
            yield
        except (Unauthorized, NotFound, Gone):
            self.failed(what, **keys)
            raise


_created = threading.Lock()


def app_throttle(app) -> Throttle:
    """One throttle per app, made on first use: a memory store then lives as long as the app that counts in it."""
    with _created:
        throttle = getattr(app.state, "throttle", None)
        if throttle is None:
            throttle = app.state.throttle = Throttle(get_settings())
        return throttle


def client_address(request) -> str:
    # Behind a proxy, uvicorn's --proxy-headers (with --forwarded-allow-ips) puts the real client here.
    return request.client.host if request.client else "unknown"
