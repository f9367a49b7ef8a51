"""Time as the SDK's waiting loops see it: the running loop's clock unless a test gives another."""

from __future__ import annotations

from typing import Protocol

import anyio


class Clock(Protocol):
    """What the polling engine and the retry loops read and wait on.

    The default is the event loop's own clock. A test (or a simulation) passes a clock whose
    `sleep` moves simulated time instead, e.g. the emulator's clock, so that following a
    ten-minute job takes no ten minutes.
    """

    def now(self) -> float:
        """Seconds on a monotonic scale."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` (of this clock's time)."""
        ...


class LoopClock:
    """The running event loop's clock (anyio's `current_time` and `sleep`)."""

    def now(self) -> float:
        return anyio.current_time()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)
