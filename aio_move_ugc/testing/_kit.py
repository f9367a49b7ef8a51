"""The emulator for tests: quick settings, settings from plain values, a server in a thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import inspect
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ..emulator import Emulator, EmulatorConfig, RecordFault, RouteFaults

if TYPE_CHECKING:
    from .._client import AsyncMoveUgc

T = TypeVar("T")

TEST_SETTINGS: Mapping[str, Any] = {
    "job_queue_delay": 0.05,
    "job_duration": 0.3,
    "output_lag": 0.1,
    "volume_duration": 0.2,
}
"""What the fixtures change from `EmulatorConfig()`'s defaults: a job goes from creation to
downloadable outputs in under half a second. Outputs stay the default's small files of their
real formats (an FBX that Assimp reads, a GLB, a BVH, ...)."""

STARTUP_TIMEOUT = 30.0
"""Seconds `EmulatorThread.start()` waits for the server before giving up."""


def _route_faults(route: str, value: Any) -> RouteFaults:
    if isinstance(value, RouteFaults):
        return value
    if isinstance(value, Mapping):
        try:
            return RouteFaults(**value)
        except TypeError as exc:
            raise TypeError(f"faults[{route!r}]: {exc}") from None
    raise TypeError(f"faults[{route!r}] must be a RouteFaults or a mapping of its fields")


def emulator_config(
    base: EmulatorConfig | None = None,
    *,
    from_file: str | os.PathLike[str] | None = None,
    **settings: Any,
) -> EmulatorConfig:
    """An `EmulatorConfig` from `base` (default: `EmulatorConfig()`) with `settings` applied.

    `from_file` starts from a file `EmulatorConfig.to_json()` wrote instead (such as the one
    `aio-move-ugc probe --emulator-config FILE` writes, to play what the hosted service did),
    e.g. `emulator_config(from_file="probe.json", **TEST_SETTINGS)` for its variants with
    quick timings. `faults` may map each route ("graphql", "storage_put", "storage_get") to a
    `RouteFaults` or to a plain mapping of its fields, e.g.
    `faults={"graphql": {"rate_503": 0.5}}`. An unknown setting raises `TypeError` naming
    it; a bad file `ConfigurationError`.
    """
    if from_file is not None:
        if base is not None:
            raise TypeError("give base or from_file, not both")
        base = EmulatorConfig.from_json(Path(from_file).read_bytes())
    known = {f.name for f in dataclasses.fields(EmulatorConfig)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise TypeError(
            f"unknown emulator setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    if "faults" in settings:
        faults = settings["faults"]
        if not isinstance(faults, Mapping):
            raise TypeError("faults must map route names to RouteFaults")
        settings["faults"] = {route: _route_faults(route, v) for route, v in faults.items()}
    return dataclasses.replace(base or EmulatorConfig(), **settings)


class EmulatorThread:
    """An `Emulator` serving from a background thread that runs its own event loop.

    Use it where no event loop of yours can host the emulator: synchronous tests (the official
    sync SDK, `requests`), or tests whose loop you would rather keep free. Everything it
    exposes may be called from any thread; `call()` runs a function on the emulator's loop.

    The emulator is configured by `config` (default: `EmulatorConfig()`) with any further
    `settings` applied as by `emulator_config()`, and listens on `host`:`port` (by default
    127.0.0.1 and a free port).

    ```python
    with EmulatorThread(job_duration=0.1) as emu:
        os.environ.update(emu.environment())
        ...
        emu.advance(60)  # the server clock moves: jobs end, URLs expire
    ```
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        **settings: Any,
    ) -> None:
        self.config = emulator_config(config, **settings) if settings else config
        self.host = host
        self.port = port
        self._emulator: Emulator | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self._emulator.url if self._emulator is not None and self.running else "stopped"
        return f"EmulatorThread({where})"

    # ------------------------------------------------------------ lifecycle
    @property
    def running(self) -> bool:
        """True between a successful `start()` and `stop()`."""
        return self._thread is not None and self._thread.is_alive() and self._ready.is_set()

    def start(self) -> EmulatorThread:
        """Start serving (by default on 127.0.0.1, any free port); return once it answers."""
        if self._thread is not None:
            raise RuntimeError("this EmulatorThread was already started")
        self._thread = threading.Thread(target=self._serve, name="move-ugc-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(STARTUP_TIMEOUT):
            raise RuntimeError(f"the emulator did not start within {STARTUP_TIMEOUT} s")
        if self._error is not None:
            self._thread.join()
            raise RuntimeError(f"the emulator failed to start: {self._error}") from self._error
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread to end. Safe to call more than once."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None or loop is None or stop is None or not thread.is_alive():
            return
        loop.call_soon_threadsafe(stop.set)
        thread.join(STARTUP_TIMEOUT)
        if thread.is_alive():
            raise RuntimeError(f"the emulator thread did not stop within {STARTUP_TIMEOUT} s")

    def __enter__(self) -> EmulatorThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _serve(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start(); a thread has nobody else to tell
            self._error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        emu = Emulator(self.config, host=self.host, port=self.port)
        try:
            await emu.start()
        except BaseException:
            await emu.stop()  # a start that failed half-way leaves a server and a directory
            raise
        try:
            self._emulator = emu
            self._ready.set()
            await self._stop.wait()
        finally:
            await emu.stop()

    # ------------------------------------------------------------ access
    @property
    def emulator(self) -> Emulator:
        """The emulator itself. It lives on another thread: change it only through `call()`."""
        if self._emulator is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return self._emulator

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:54321`."""
        return self.emulator.url

    @property
    def endpoint_url(self) -> str:
        """The GraphQL endpoint (what `MOVE_UGC_ENDPOINT_URL` should hold)."""
        return self.emulator.endpoint_url

    @property
    def api_key(self) -> str:
        """The API key the emulator accepts."""
        return self.emulator.api_key

    def environment(self) -> dict[str, str]:
        """`MOVE_UGC_API_KEY` and `MOVE_UGC_ENDPOINT_URL` pointing at this emulator."""
        return self.emulator.environment()

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run `function(*args)` on the emulator's loop and return its result (or raise)."""
        return self.submit(function, *args).result(STARTUP_TIMEOUT)

    def submit(self, function: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        """Schedule `function(*args)` on the emulator's loop (awaited there when it is a
        coroutine function); a future of its result.

        From a coroutine, `await asyncio.wrap_future(emu.submit(...))` waits without
        blocking the caller's own event loop."""
        loop = self._loop
        if loop is None or not self.running:
            raise RuntimeError("the emulator is not running; call start() first")

        async def run() -> T:
            result = function(*args)
            if inspect.isawaitable(result):  # a coroutine function: awaited on that loop
                return cast(T, await result)
            return result

        return asyncio.run_coroutine_threadsafe(run(), loop)

    def advance(self, seconds: float) -> None:
        """Move the server clock `seconds` forward: jobs progress and end, presigned URLs expire."""
        self.call(self.emulator.advance, seconds)

    def fail_record(
        self, record_id: str, fault: RecordFault | Mapping[str, Any] | None = None
    ) -> None:
        """Make reads of the job or volume `record_id` fail as AppSync answers a resolver
        fault (HTTP 200, an error whose `path` leads to it), or with None heal it. `fault`
        is a `RecordFault` or a mapping of its fields, e.g. `{"field": "outputs", "times": 2}`.
        """
        if isinstance(fault, Mapping):
            try:
                fault = RecordFault(**fault)
            except TypeError as exc:
                raise TypeError(f"fault: {exc}") from None
        self.call(self.emulator.fail_record, record_id, fault)

    def set_faults(self, route: str, faults: RouteFaults | Mapping[str, Any] | None) -> None:
        """Inject `faults` (or with None, stop them) on `route`.

        The route is "graphql", "storage_put" or "storage_get"; `faults` is a `RouteFaults` or
        a mapping of its fields, e.g. `{"rate_503": 0.5}`.
        """
        value = None if faults is None else _route_faults(route, faults)
        self.call(self.emulator.set_faults, route, value)

    def stats(self) -> dict[str, Any]:
        """A copy of the emulator's counters (requests per operation, storage statuses, bytes)."""
        return self.call(self.emulator.stats.snapshot)

    def client(self, **options: Any) -> AsyncMoveUgc:
        """A new `AsyncMoveUgc` pointed at this emulator (use it with `async with`).

        Its clock is an `EmulatorClock` of this emulator unless `clock=` says otherwise: its
        polling pauses and retry back-offs move the emulator's time instead of waiting, so a
        test of a ten-minute job takes well under a second. `options` are the client's."""
        from .._client import AsyncMoveUgc
        from ._clock import EmulatorClock

        options.setdefault("clock", EmulatorClock(self))
        return AsyncMoveUgc(self.api_key, endpoint_url=self.endpoint_url, **options)
