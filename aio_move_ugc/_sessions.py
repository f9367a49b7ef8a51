"""aiohttp sessions that belong to the event loop they were made in, and the waits that a
client's `aclose()` wakes.

A client may outlive a loop (made at module level, used in one `asyncio.run` after another):
each loop gets a session of its own, and each session is closed inside its own loop — by
`aclose()`, or when that loop shuts down (asyncio closes the loop's async generators then,
and a small keeper generator closes the session on its way out).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager

import aiohttp
import anyio

from ._clock import Clock
from ._exceptions import ClientClosedError


async def _keeper(session: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        if not session.closed:
            await session.close()


_CLOSING: set[asyncio.Task[None]] = set()
"""Closes of dropped clients' sessions under way (held so they are not collected midway)."""


def _shut(session: aiohttp.ClientSession) -> None:
    """Close a session from inside its loop, without anyone to await it."""
    if session.closed:
        return
    task = asyncio.get_running_loop().create_task(session.close())
    _CLOSING.add(task)
    task.add_done_callback(_CLOSING.discard)


def _drop(sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession]) -> None:
    """What a client dropped without `aclose()` leaves: its sessions closed quietly (aiohttp
    would log "Unclosed client session" at ERROR), each in its own loop."""
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    for loop, session in list(sessions.items()):
        if session.closed or loop.is_closed():
            continue
        if loop is running:
            _shut(session)
        elif loop.is_running():
            loop.call_soon_threadsafe(_shut, session)


class LoopSessions:
    """One session per running event loop, made by `factory` on first use in that loop."""

    def __init__(
        self, factory: Callable[[], aiohttp.ClientSession], *, closed: Callable[[], bool]
    ) -> None:
        self._factory = factory
        self._closed = closed
        self._sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}
        self._keepers: dict[asyncio.AbstractEventLoop, AsyncGenerator[None, None]] = {}
        # Runs when the owner is collected without aclose(); holds the dict, not the owner.
        weakref.finalize(self, _drop, self._sessions)

    def current(self) -> aiohttp.ClientSession | None:
        """The running loop's session, if one was made (for tests and diagnostics)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        return self._sessions.get(loop)

    async def get(self, what: str) -> aiohttp.ClientSession:
        """The running loop's session, made now if needed; `ClientClosedError` once closed."""
        if self._closed():
            # A retry of a request under way when the client closed must not open a new
            # session that nobody would close.
            raise ClientClosedError(f"the client was closed while {what} was under way")
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            for old in [k for k in self._sessions if k.is_closed()]:
                self._sessions.pop(old, None)
                self._keepers.pop(old, None)
            session = self._factory()
            keeper = _keeper(session)
            await keeper.__anext__()  # registered with this loop: closed when it shuts down
            self._sessions[loop] = session
            self._keepers[loop] = keeper
        return session

    async def aclose(self) -> None:
        """Close the running loop's session (others were closed with their loops)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - aclose is always awaited
            return
        self._sessions.pop(loop, None)
        keeper = self._keepers.pop(loop, None)
        if keeper is not None:
            await keeper.aclose()


class Closer:
    """Wakes every wait of one client when it closes: back-offs, pacing and rate-budget waits
    run under `guard()`, and `close()` ends each with `ClientClosedError`, in whatever event
    loop it sleeps (a sleeper of another loop is woken through that loop)."""

    def __init__(self) -> None:
        self.closed = False
        self._waiting: dict[anyio.CancelScope, asyncio.AbstractEventLoop] = {}

    @asynccontextmanager
    async def guard(self, what: str) -> AsyncIterator[None]:
        """Run the body as a wait that `close()` ends with `ClientClosedError`."""
        if self.closed:
            raise ClientClosedError(f"the client was closed while {what}")
        with anyio.CancelScope() as scope:
            self._waiting[scope] = asyncio.get_running_loop()
            try:
                yield
            finally:
                self._waiting.pop(scope, None)
        if scope.cancelled_caught and self.closed:
            raise ClientClosedError(f"the client was closed while {what}")

    def close(self) -> None:
        self.closed = True
        try:
            here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        for scope, loop in list(self._waiting.items()):
            if loop is here:
                scope.cancel()
            elif not loop.is_closed():
                loop.call_soon_threadsafe(scope.cancel)


class ClosingClock:
    """A clock whose sleeps end with `ClientClosedError` when its client closes."""

    def __init__(self, clock: Clock, closer: Closer) -> None:
        self.inner = clock
        self._closer = closer

    def now(self) -> float:
        return self.inner.now()

    async def sleep(self, seconds: float) -> None:
        async with self._closer.guard("waiting"):
            await self.inner.sleep(seconds)
