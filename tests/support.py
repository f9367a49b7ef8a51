"""What the tests share besides fixtures: emulator timings, retry policies, sizes and the
types of the factory fixtures (imported by test modules; conftest files hold only fixtures)."""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from typing import Any, Protocol

from aio_move_ugc import AsyncMoveUgc, RetryPolicy
from aio_move_ugc.emulator import Emulator, EmulatorConfig

MiB = 1 << 20

FAST = EmulatorConfig(
    job_queue_delay=0.05,
    job_duration=0.3,
    output_lag=0.15,
    volume_duration=0.2,
    output_size=4096,
)
"""Simulator timings that let a job go from creation to downloadable outputs in half a second
(of the emulator's time: a client on an `EmulatorClock` spends none of it waiting)."""

FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05, max_retry_after=0.05)
"""Retries that wait tens of milliseconds: faults are injected, nobody needs real back-off."""

SLOW_CALLBACK_ON_A_FREE_CORE = 2.5
"""A callback that holds the event loop longer than this (on a machine with a core to spare)
fails the test. Wall time: a callback of a few milliseconds of work can be kept off the CPU for
over a second when the cores are busy, so the bound sits well above that and still catches real
blocking I/O."""


def slow_callback() -> float:
    """The blocked-loop bound for this moment: `SLOW_CALLBACK_ON_A_FREE_CORE`, stretched by how
    many runnable processes share each core (the one-minute load average). Seen: a loop step
    of the emulator took 5.6 s at load 10 on 2 cores, and 0.2 s on an idle machine."""
    try:
        load = os.getloadavg()[0]
    except OSError:  # no load average on this platform
        load = 0.0
    return SLOW_CALLBACK_ON_A_FREE_CORE * max(1.0, load / (os.cpu_count() or 1))


class MakeEmulator(Protocol):
    """The `make_emulator` fixture: `await make_emulator(**settings)` for an emulator stopped
    after the test, or `async with make_emulator(**settings) as emu:` for one stopped at the
    end of the block (FAST timings, or `config`, with `settings` applied)."""

    def __call__(self, config: EmulatorConfig | None = None, **settings: Any) -> EmulatorStart: ...


class EmulatorStart(Protocol):
    """What `make_emulator(...)` returns: awaitable, or an async context manager."""

    def __await__(self) -> Generator[Any, None, Emulator]: ...

    async def __aenter__(self) -> Emulator: ...

    async def __aexit__(self, *exc: object) -> None: ...


MakeClient = Callable[..., AsyncMoveUgc]
"""`make_client(api_key=None, *, emulator=None, **options)`: a client of an emulator."""
