"""Every retry decision and every retry loop of the SDK, in one place.

- `RetryPolicy`: how often and how patiently (exponential backoff with full jitter, from
  backoff's own wait generator and jitter; a server's Retry-After honoured, capped).
- `Retrier`: the one loop that tries again; its sleep is injectable, so tests move time
  explicitly instead of waiting.
- `is_transient_api` / `is_ambiguous_api` / `is_transient_storage`: what is worth another try,
  and which failures of a create leave its outcome unknown.
- `create_with_lookup`: a create whose outcome is unknown is looked up before it is tried again
  (or, given a window, looked for over that window and never tried again); `find_eventually`
  looks for something a lagging list query may not show yet.
- `with_fresh_urls`: a transfer step that refreshes an expired presigned URL a bounded number of
  times, and restarts from scratch (once) when the object changed under it.

This is the only module that imports `backoff`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import backoff

from . import _validation as check
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BackendError,
    GraphQLResponseError,
    IntegrityError,
    OutcomeUnknownError,
    RateLimitError,
    StorageConnectionError,
    StorageError,
    URLExpiredError,
)

if TYPE_CHECKING:
    from ._clock import Clock

log = logging.getLogger("aio_move_ugc.retry")

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""HTTP statuses worth another try: timeouts, throttling and transient server faults."""
REFUSAL_STATUSES = frozenset({429, 503})
"""Statuses meaning the service refused the request without acting on it."""
RETRYABLE_STORAGE_CODES = frozenset({"SlowDown", "InternalError", "RequestTimeout"})
CREATE_ATTEMPTS = 3
"""Creates tried when each outcome is unknown and the lookup finds nothing."""

Sleep = Callable[[float], Awaitable[object]]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to try again.

    Waits grow as `base_delay * 2**n`, capped at `max_delay`, drawn uniformly from
    `[0, that]` (full jitter). A server's `Retry-After` is honoured as given (up to
    `max_retry_after`) instead of the drawn wait.
    """

    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        check.count(self.max_retries, "max_retries")
        check.seconds(self.base_delay, "base_delay", allow_zero=True)
        check.seconds(self.max_delay, "max_delay", allow_zero=True)
        check.seconds(self.max_retry_after, "max_retry_after", allow_zero=True)


# ------------------------------------------------------------------ Retry-After
def _http_date(value: str) -> float | None:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return moment.timestamp()


def retry_after_from(headers: Mapping[str, str] | Any) -> float | None:
    """The seconds a server's `Retry-After` asks to wait, in either form HTTP allows: a number
    of seconds, or an HTTP date, measured from the answer's own `Date` header when it has one
    (so a server whose clock differs from ours is still read right) and from our clock
    otherwise. None when there is none or it cannot be read; never negative."""
    value = headers.get("Retry-After") if headers is not None else None
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        when = _http_date(value)
        if when is None:
            return None
        sent = headers.get("Date")
        base = _http_date(sent) if isinstance(sent, str) else None
        seconds = when - (base if base is not None else time.time())
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def retry_after_of(exc: BaseException) -> float | None:
    """The wait the server asked for with the answer that became `exc`, if any."""
    value = getattr(exc, "retry_after", None)
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


# ------------------------------------------------------------------ decisions
def is_transient_api(exc: BaseException) -> bool:
    """Worth another try: no answer at all, a status that says "try again later", or a data
    source behind the API that failed."""
    if isinstance(exc, OutcomeUnknownError):
        return False
    if isinstance(exc, APIConnectionError | RateLimitError | BackendError):
        return True
    return isinstance(exc, APIStatusError) and exc.status in RETRYABLE_STATUSES


def is_ambiguous_api(exc: APIConnectionError | APIStatusError | BackendError) -> bool:
    """True when the server may have applied the request although we saw a failure.

    A broken connection, a timeout, a 500 or a gateway error may come after the work was
    done; a 429 or 503 (or a throttling answer) is the service refusing the request before
    acting on it; GraphQL errors and a refused key are answers that say it was not done.
    """
    if isinstance(exc, APIConnectionError | BackendError):
        return True
    if isinstance(exc, RateLimitError | AuthenticationError | GraphQLResponseError):
        return False
    return exc.status >= 500 and exc.status not in REFUSAL_STATUSES


def is_transient_storage(exc: BaseException) -> bool:
    """Worth another try against the same presigned URL."""
    if isinstance(exc, URLExpiredError | IntegrityError):
        return False
    if isinstance(exc, StorageConnectionError):
        return True
    if isinstance(exc, StorageError):
        return exc.status in RETRYABLE_STATUSES or exc.code in RETRYABLE_STORAGE_CODES
    return False


def may_still_be_running(exc: OutcomeUnknownError) -> bool:
    """A create that timed out may still be under way on the server, so a lookup made now
    proves nothing."""
    return isinstance(exc.__cause__, APITimeoutError)


# ------------------------------------------------------------------ the loop
class Retrier:
    """Tries an operation again under one policy; built once, used for every call.

    `sleep` is what waits between tries (anyio's by default); tests pass their own.
    """

    def __init__(self, policy: RetryPolicy, *, sleep: Sleep | None = None) -> None:
        self.policy = policy
        self._sleep: Sleep = sleep or anyio.sleep

    def _waits(self) -> Callable[[BaseException], float]:
        policy = self.policy
        # backoff's generator yields once before its first value.
        expo = backoff.expo(base=2, factor=policy.base_delay, max_value=policy.max_delay)
        next(expo)

        def wait_for(exc: BaseException) -> float:
            drawn = backoff.full_jitter(next(expo))
            retry_after = retry_after_of(exc)
            if retry_after is not None:
                return min(retry_after, policy.max_retry_after)
            return float(drawn)

        return wait_for

    async def call(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        retryable: Callable[[BaseException], bool],
        what: str,
        on_retry: Callable[[BaseException], object] | None = None,
    ) -> T:
        """Await `attempt()` until it succeeds, fails for good, or the retries are spent.

        Only exceptions for which `retryable` says True are retried; everything else, and
        cancellation above all, propagates at once. `on_retry(exc)` is called before each
        wait for another try (to count them).
        """
        # The first try needs nothing set up: most calls succeed, and the waits are drawn
        # only after a failure worth another try.
        try:
            return await attempt()
        except Exception as exc:
            if self.policy.max_retries < 1 or not retryable(exc):
                raise
            first = exc
        return await self._again(attempt, first, retryable=retryable, what=what, on_retry=on_retry)

    async def _again(
        self,
        attempt: Callable[[], Awaitable[T]],
        first: Exception,
        *,
        retryable: Callable[[BaseException], bool],
        what: str,
        on_retry: Callable[[BaseException], object] | None,
    ) -> T:
        """Tries after the first failed with `first` (retryable): wait, try, until done."""
        wait_for = self._waits()
        wait = wait_for(first)
        log.info(
            "retrying %s after %s (try %d, waiting %.2fs)", what, type(first).__name__, 1, wait
        )
        if on_retry is not None:
            on_retry(first)
        del first  # not kept alive (with its traceback) through the tries that follow
        await self._sleep(wait)
        tries = 1
        while True:
            tries += 1
            try:
                return await attempt()
            except Exception as exc:
                if tries > self.policy.max_retries or not retryable(exc):
                    raise
                wait = wait_for(exc)
                log.info(
                    "retrying %s after %s (try %d, waiting %.2fs)",
                    what,
                    type(exc).__name__,
                    tries,
                    wait,
                )
                if on_retry is not None:
                    on_retry(exc)
            await self._sleep(wait)


async def create_with_lookup(
    create: Callable[[], Awaitable[T]],
    lookup: Callable[[], Awaitable[T | None]] | None,
    *,
    attempts: int = CREATE_ATTEMPTS,
    before: Callable[[], Awaitable[object]] | None = None,
    window: float | None = None,
    clock: Clock | None = None,
) -> T:
    """Create something at most once: when a create's outcome is unknown, `lookup()` looks for
    what it may have made, and only if it finds nothing is the create tried again.

    Without `lookup`, a create whose outcome is unknown is simply tried again (for records an
    unused duplicate of which does no harm). `before()` is awaited before each create (to
    journal the intent). A create that timed out may still be running on the server: then
    the lookup proves nothing and the error is raised for a later run to look again.

    With a `window` (seconds of `clock`), one empty answer is not taken as proof: list queries
    can lag behind a write, so the lookup is tried again until the window has passed, and
    when nothing has turned up the `OutcomeUnknownError` is raised: the create is never sent
    a second time (a later run looks again, and creates only then).
    """
    for attempt in range(1, attempts + 1):
        if before is not None:
            await before()
        try:
            return await create()
        except OutcomeUnknownError as exc:
            if lookup is not None:
                if window is not None and clock is not None:
                    found = await find_eventually(lookup, window=window, clock=clock)
                    if found is not None:
                        return found
                    log.warning(
                        "%s: the outcome is still unknown after %.1f s of lookups",
                        exc.operation_name,
                        window,
                    )
                    raise
                found = await lookup()
                if found is not None:
                    return found
                if may_still_be_running(exc):
                    raise
            if attempt == attempts:
                raise
            log.info("creating again: the last try was not applied (%s)", exc.operation_name)
    raise AssertionError("unreachable")


LOOKUP_PAUSES = (0.25, 0.5, 1.0, 2.0)
"""Pauses between the lookups of `find_eventually` (the last one repeats)."""


async def find_eventually(
    lookup: Callable[[], Awaitable[T | None]], *, window: float, clock: Clock
) -> T | None:
    """`lookup()` until it finds something or `window` seconds of `clock` have passed (at least
    once, and once more at the end of the window): what a create made can take a few seconds
    to show in a list query."""
    deadline = clock.now() + window
    pauses = iter(LOOKUP_PAUSES)
    pause = LOOKUP_PAUSES[0]
    while True:
        found = await lookup()
        if found is not None:
            return found
        left = deadline - clock.now()
        if left <= 0:
            return None
        pause = next(pauses, pause)
        await clock.sleep(min(pause, left))


async def with_fresh_urls(
    attempt: Callable[[str], Awaitable[T]],
    url: str,
    *,
    refresh: Callable[[], Awaitable[str]] | None,
    max_refreshes: int,
    what: str,
    progress: Callable[[], int] | None = None,
    restart_on: type[Exception] | None = None,
    restart: Callable[[], Awaitable[object]] | None = None,
) -> T:
    """Run `attempt(url)`; when the URL has expired, ask `refresh()` for a new one and go on.

    Only refreshes that bought no progress count against `max_refreshes` (`progress()` tells
    the bytes done), so a long transfer may outlive many URLs while a URL that expires before
    any byte moves means trouble. When `restart_on` is raised, `restart()` clears what was
    done and the attempt runs once more from scratch.
    """
    refreshes = 0
    restarts = 0
    progress_at_refresh = -1
    while True:
        try:
            return await attempt(url)
        except URLExpiredError:
            done = progress() if progress is not None else -1
            if done > progress_at_refresh:
                refreshes = 0
                progress_at_refresh = done
            if refresh is None or refreshes >= max_refreshes:
                raise
            refreshes += 1
            log.info("URL for %s expired; asking for a fresh one", what)
            url = await refresh()
        except Exception as exc:
            if restart_on is None or not isinstance(exc, restart_on) or restarts >= 1:
                raise
            restarts += 1
            log.info("%s changed on the server; starting over", what)
            if restart is not None:
                await restart()
