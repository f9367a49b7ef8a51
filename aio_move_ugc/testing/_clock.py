"""Simulated time for tests: a client clock whose waits move the emulator's clock instead.

A client polls with pauses (5 s between rounds by default) and backs off between retries. Given
`clock=EmulatorClock(emu)`, each of those waits moves the emulator's server time forward by the
pause and returns at once: a test of a ten-minute job finishes in a fraction of a second, and the
requests it sends are exactly those it would send in ten real minutes.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import anyio.lowlevel

if TYPE_CHECKING:
    from ..emulator import Emulator
    from ._kit import EmulatorThread


class EmulatorClock:
    """The client's `clock=`, made of an emulator's clock (an `Emulator` in the same event loop,
    or an `EmulatorThread`).

    `now()` reads the emulator's monotonic time. `sleep(seconds)` moves that time forward to
    `now() + seconds` (after one checkpoint, where a cancellation lands) and returns. Waits
    that overlap do not add up: a wait whose end another wait has already passed returns
    without moving time, as on a real clock. Real time keeps flowing underneath, so
    nothing ever runs backwards.

    ```python
    async with Emulator(job_duration=600) as emu, AsyncMoveUgc(
        emu.api_key, endpoint_url=emu.endpoint_url, clock=EmulatorClock(emu)
    ) as ugc:
        job = await ugc.jobs.wait(job_id)  # ten emulated minutes, well under a second
    ```

    `slept` lists every wait asked for, in order (a test's view of the client's pacing).
    """

    def __init__(self, emulator: Emulator | EmulatorThread) -> None:
        self._emulator = emulator
        self.slept: list[float] = []

    def __repr__(self) -> str:
        return f"EmulatorClock(waits={len(self.slept)}, moved={sum(self.slept):.1f} s)"

    def _server(self) -> Emulator:
        from ._kit import EmulatorThread

        if isinstance(self._emulator, EmulatorThread):
            return self._emulator.emulator
        return self._emulator

    def now(self) -> float:
        """The emulator's monotonic time, in seconds."""
        return self._server().clock.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Move the emulator's time to `now() + seconds` (if it is not there yet) and return."""
        from ._kit import EmulatorThread

        self.slept.append(seconds)
        target = self.now() + max(0.0, seconds)
        # One turn of the loop first: waits that begin together (a task group's pollers)
        # each take their end from the same instant, so they end together.
        await anyio.lowlevel.checkpoint()
        emulator = self._emulator
        if isinstance(emulator, EmulatorThread):
            # The emulator's state belongs to its own loop: move its clock there.
            await asyncio.wrap_future(emulator.submit(_advance_to, emulator.emulator, target))
        else:
            _advance_to(emulator, target)


def _advance_to(emulator: Emulator, target: float) -> None:
    behind = target - emulator.clock.monotonic()
    if behind > 0:
        emulator.advance(behind)
