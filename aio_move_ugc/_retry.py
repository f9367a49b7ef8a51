"""All retry policy in one place: exponential backoff with full jitter, honouring Retry-After.

This is the only module that imports `backoff`.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import backoff

from ._exceptions import ConfigurationError

log = logging.getLogger("aio_move_ugc.retry")

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""HTTP statuses worth another try: timeouts, throttling and transient server faults."""


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
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise ConfigurationError("max_retries must be an integer")
        if self.max_retries < 0:
            raise ConfigurationError("max_retries must not be negative")
        delays = (self.base_delay, self.max_delay, self.max_retry_after)
        if not all(isinstance(d, int | float) and 0 <= d < math.inf for d in delays):
            raise ConfigurationError("delays must be finite and not negative")


def _waits(policy: RetryPolicy, rng: random.Random) -> Generator[float, Any, None]:
    """backoff wait generator: it is sent each failure's exception before yielding its wait."""
    attempt = 0
    exc = yield 0.0  # priming value, never used
    while True:
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after >= 0:
            wait = min(float(retry_after), policy.max_retry_after)
        else:
            wait = rng.uniform(0, min(policy.max_delay, policy.base_delay * (2**attempt)))
        attempt += 1
        exc = yield wait


async def call_with_retries(
    attempt: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    retryable: Callable[[BaseException], bool],
    what: str,
    rng: random.Random | None = None,
) -> T:
    """Await `attempt()` until it succeeds, fails for good, or the retries are spent.

    Only exceptions for which `retryable` says True are retried; everything else, and
    cancellation above all, propagates at once.
    """
    generator_rng = rng or random.Random()

    def log_retry(details: Any) -> None:
        exc = details.get("exception")
        log.info(
            "retrying %s after %s (try %d, waiting %.2fs)",
            what,
            type(exc).__name__,
            details["tries"],
            details["wait"],
        )

    @backoff.on_exception(
        lambda: _waits(policy, generator_rng),
        Exception,
        max_tries=policy.max_retries + 1,
        giveup=lambda exc: not retryable(exc),
        jitter=None,
        on_backoff=log_retry,
        logger=None,
    )
    async def run() -> T:
        return await attempt()

    return await run()
