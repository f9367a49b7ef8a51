"""The fixtures of every test: emulators as real servers on port 0, clients of them on the
emulator's clock, the variants, and a guard against a blocked event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import replace
from typing import Any

import pytest

from aio_move_ugc import AsyncMoveUgc
from aio_move_ugc.emulator import VARIANTS, Emulator, EmulatorConfig, Variants
from aio_move_ugc.testing import EmulatorClock
from tests.support import FAST, FAST_RETRY, MakeClient, MakeEmulator, slow_callback


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test on a Temporal dev server is in the slow tier, whether or not it says so."""
    for item in items:
        if item.get_closest_marker("temporal") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


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


class _Start:
    """An emulator being started: `await` it (stopped after the test), or enter it with
    `async with` (stopped at the end of the block)."""

    def __init__(self, emulator: Emulator, started: list[Emulator]) -> None:
        self.emulator = emulator
        started.append(emulator)

    def __await__(self) -> Generator[Any, None, Emulator]:
        return self.emulator.start().__await__()

    async def __aenter__(self) -> Emulator:
        return await self.emulator.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.emulator.stop()


@pytest.fixture
async def make_emulator() -> AsyncIterator[MakeEmulator]:
    """Start emulators on 127.0.0.1:0 with FAST timings (or `config`) and any `settings` of
    `EmulatorConfig` (`seed=`, `url_ttl=`, `variants=`...): `emu = await make_emulator(...)`
    or `async with make_emulator(...) as emu:`; all stopped after the test at the latest.
    The test's loop runs in debug mode, so a callback that blocks it fails the test."""
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = slow_callback()
    started: list[Emulator] = []

    def make(config: EmulatorConfig | None = None, **settings: Any) -> _Start:
        return _Start(Emulator(replace(config or FAST, **settings)), started)

    yield make
    for emulator in started:
        await emulator.stop()


@pytest.fixture
async def emulator(make_emulator: MakeEmulator) -> Emulator:
    """A fresh emulator with FAST timings."""
    return await make_emulator()


@pytest.fixture
async def emu(emulator: Emulator) -> Emulator:
    """The emulator `make_client` points at (directories override it with their own seed)."""
    return emulator


@pytest.fixture
async def make_client(emu: Emulator) -> AsyncIterator[MakeClient]:
    """Clients of `emu` (or of `emulator=`), all closed after the test.

    Unless told otherwise a client retries quickly (`FAST_RETRY`) and runs on the emulator's
    clock (`EmulatorClock`): its polling pauses and back-offs move the emulator's time instead
    of waiting. `clock=None` gives the event loop's real clock."""
    clients: list[AsyncMoveUgc] = []

    def make(
        api_key: str | None = None, *, emulator: Emulator | None = None, **options: Any
    ) -> AsyncMoveUgc:
        target = emulator or emu
        options.setdefault("endpoint_url", target.endpoint_url)
        if "max_retries" not in options:
            options.setdefault("retry", FAST_RETRY)
        options.setdefault("clock", EmulatorClock(target))
        client = AsyncMoveUgc(api_key or target.api_key, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def ugc(make_client: MakeClient) -> AsyncMoveUgc:
    """A client of `emu`, made by `make_client`."""
    return make_client()


@pytest.fixture(params=sorted(VARIANTS))
def variant(request: pytest.FixtureRequest) -> Variants:
    """Every named variant of the hosted service's unobserved behaviours, one test each (the
    test id is the variant's name)."""
    value = VARIANTS[request.param]
    assert isinstance(value, Variants)
    return value
