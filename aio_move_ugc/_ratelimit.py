"""A client-side request budget, so bulk work slows down instead of being throttled."""

from __future__ import annotations

import time
from collections import deque
from math import inf

import anyio

from ._exceptions import ConfigurationError


class RateBudget:
    """At most `limit` requests in any rolling `window` seconds (one hour by default).

    The hosted plans allow 100, 1,000 or 10,000 requests per hour; a budget a little under the
    plan's keeps a long bulk run from ever meeting a 429. Everything one client sends (API calls
    and, through the same client, polling) draws from the same budget.
    """

    def __init__(self, limit: int, *, window: float = 3600.0) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigurationError("a request budget needs an integer limit of at least 1")
        if isinstance(window, bool) or not isinstance(window, int | float) or not 0 < window < inf:
            raise ConfigurationError("the budget's window must be a positive number of seconds")
        self.limit = limit
        self.window = window
        # Monotonic seconds (what asyncio's loop clock reads too), so `remaining` and
        # `delay()` also answer outside a running loop.
        self._sent: deque[float] = deque()
        self._lock = anyio.Lock()

    def _forget_old(self, now: float) -> None:
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()

    @property
    def remaining(self) -> int:
        """Requests that could go out right now without waiting."""
        self._forget_old(time.monotonic())
        return self.limit - len(self._sent)

    def delay(self) -> float:
        """Seconds until the next request fits (0 when it fits now)."""
        now = time.monotonic()
        self._forget_old(now)
        if len(self._sent) < self.limit:
            return 0.0
        return self._sent[0] + self.window - now

    async def acquire(self) -> None:
        """Wait until one more request fits in the window, then count it."""
        async with self._lock:
            while (wait := self.delay()) > 0:  # noqa: ASYNC110 - time, not an event, frees room
                await anyio.sleep(wait)
            self._sent.append(time.monotonic())
