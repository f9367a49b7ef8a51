"""Shared fixtures: the emulator as a real server on port 0, and a guard against a blocked loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import pytest

from aio_move_ugc.emulator import VARIANTS, Emulator, EmulatorConfig, Variants

FAST = EmulatorConfig(
    job_queue_delay=0.05,
    job_duration=0.3,
    output_lag=0.15,
    volume_duration=0.2,
    output_size=4096,
)
"""Simulator timings that let a job go from creation to downloadable outputs in half a second."""

SLOW_CALLBACK = 2.5
"""A callback that holds the event loop longer than this fails the test. Wall time: on a machine
whose cores are all busy a callback of a few milliseconds of work can be kept off the CPU for
over a second, so the bound sits well above that and still catches real blocking I/O."""


class _BlockedLoop(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Executing") and "took" in message:
            self.records.append(message)


@pytest.fixture(autouse=True)
def _fail_on_blocked_loop() -> Iterator[None]:
    """Fail a test whose code blocks the event loop (asyncio debug mode reports slow callbacks)."""
    handler = _BlockedLoop()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    if handler.records:
        pytest.fail("the event loop was blocked:\n" + "\n".join(handler.records))


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """A fresh emulator on 127.0.0.1:0 with fast job timings."""
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = SLOW_CALLBACK
    async with Emulator(FAST) as emu:
        yield emu


@pytest.fixture(params=sorted(VARIANTS))
def variant(request: pytest.FixtureRequest) -> Variants:
    """Every named variant of the hosted service's unobserved behaviours, one test each (the
    test id is the variant's name)."""
    value = VARIANTS[request.param]
    assert isinstance(value, Variants)
    return value
