"""A client-side request budget, so bulk work slows down instead of being throttled.

`RequestBudget` is what the client needs of a budget: `await budget.acquire()` before each
request, and the `limit` per `window` seconds that polling paces itself by; any object with
those is accepted as `AsyncMoveUgc(rate_limit=...)`. `RateBudget` is the budget of one process
(a sliding window in memory); `aio_move_ugc.distributed.ClusterBudget` shares one budget
between every machine of a Temporal cluster.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from math import inf
from typing import Protocol, runtime_checkable

import anyio

from ._clock import Clock
from ._exceptions import ConfigurationError


@runtime_checkable
class RequestBudget(Protocol):
    """At most `limit` requests in any rolling `window` seconds, however it is kept."""

    @property
    def limit(self) -> int:
        """Requests allowed per window."""
        ...

    @property
    def window(self) -> float:
        """Length of the rolling window, in seconds."""
        ...

    async def acquire(self) -> None:
        """Wait until one more request fits, then count it (called once per request)."""
        ...


class _MonotonicClock:
    """`time.monotonic` (what asyncio's loop clock reads too) and anyio's sleep: readable
    outside a running loop, so `remaining` and `delay()` answer there too."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


_MONOTONIC = _MonotonicClock()


class RateBudget:
    """At most `limit` requests in any rolling `window` seconds (one hour by default), in memory.

    A `RequestBudget` for one process.

    The hosted plans allow 100, 1,000 or 10,000 requests per hour; a budget a little under the
    plan's keeps a long bulk run from ever meeting a 429. Everything one client sends (API calls
    and, through the same client, polling) draws from the same budget.

    Time is read from and waited on `clock` (default: the monotonic clock the event loop
    uses). A budget made without one follows the `clock=` of the first client it is given
    to; other clients sharing it count on that same clock.
    """

    def __init__(self, limit: int, *, window: float = 3600.0, clock: Clock | None = None) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigurationError("a request budget needs an integer limit of at least 1")
        if isinstance(window, bool) or not isinstance(window, int | float) or not 0 < window < inf:
            raise ConfigurationError("the budget's window must be a positive number of seconds")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sent: deque[float] = deque()
        """When each request of the window went out, on the budget's clock, oldest first."""
        # A thread lock, held only while counting (never across an await): one budget may
        # serve a client used from several event loops at once, in several threads, where a
        # lock of one loop would leave the others waiting for ever.
        self._lock = threading.Lock()

    @property
    def clock(self) -> Clock:
        """What the budget reads time from and waits on."""
        return self._clock if self._clock is not None else _MONOTONIC

    def follow(self, clock: Clock) -> None:
        """Read time from `clock` (a client's `clock=`) when the budget has no clock yet and
        has counted nothing; otherwise keep the one it has (one budget, one timeline: the
        times it counted would not compare with another clock's)."""
        if self._clock is None and not self._sent:
            self._clock = clock

    def _forget_old(self, now: float) -> None:
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()

    @property
    def remaining(self) -> int:
        """Requests that could go out right now without waiting."""
        self._forget_old(self.clock.now())
        return self.limit - len(self._sent)

    def delay(self) -> float:
        """Seconds until the next request fits (0 when it fits now)."""
        now = self.clock.now()
        self._forget_old(now)
        if len(self._sent) < self.limit:
            return 0.0
        return self._sent[0] + self.window - now

    async def acquire(self) -> None:
        """Wait until one more request fits in the window, then count it."""
        while True:
            with self._lock:
                wait = self.delay()
                if wait <= 0:
                    self._sent.append(self.clock.now())
                    return
            await self.clock.sleep(wait)
