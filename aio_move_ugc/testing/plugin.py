"""pytest plugin: the Move UGC emulator and a client as fixtures for your own tests.

Installed with the package (entry point `pytest11`), so there is nothing to enable. Its import is
cheap and has no side effects beyond registering the `move_ugc_emulator` marker; the emulator is
only imported and started when a test asks for one of these fixtures:

- `move_ugc_emulator`: an `EmulatorThread`, i.e. a running emulator serving from a background
  thread, fresh for each test. Settings come from `TEST_SETTINGS`, then the
  `move_ugc_emulator_config` fixture (override it in a conftest for a whole suite), then the
  `@pytest.mark.move_ugc_emulator(**settings)` marker, then indirect parametrization
  (`@pytest.mark.parametrize("move_ugc_emulator", [{...}], indirect=True)`).
- `move_ugc_env`: the same emulator, with `MOVE_UGC_API_KEY` and `MOVE_UGC_ENDPOINT_URL`
  exported for the test (so the official sync SDK, `AsyncMoveUgc()` or any GraphQL client
  find it without arguments).
- `move_ugc_client`: an `AsyncMoveUgc` pointed at `move_ugc_emulator`, on the emulator's clock
  (`EmulatorClock`: its polling pauses and back-offs move the emulator's time instead of
  waiting), closed after the test (an async fixture: needs pytest-asyncio, in auto or strict
  mode, or anyio's pytest plugin when pytest-asyncio is not installed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest

if TYPE_CHECKING:
    from .._client import AsyncMoveUgc
    from ..emulator import EmulatorConfig
    from ._kit import EmulatorThread

MARKER = "move_ugc_emulator"

_F = TypeVar("_F", bound=Callable[..., Any])


def _async_fixture(function: _F) -> _F:
    try:  # pytest-asyncio's strict mode only runs async fixtures declared through it
        import pytest_asyncio
    except ImportError:  # anyio's plugin runs plain async fixtures
        return cast(_F, pytest.fixture(function))
    return cast(_F, pytest_asyncio.fixture(function))


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, so `--strict-markers` suites accept it."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**settings): EmulatorConfig settings (job_duration=..., faults=...) "
        "for the move_ugc_emulator fixture",
    )


@pytest.fixture
def move_ugc_emulator_config() -> EmulatorConfig:
    """The configuration the `move_ugc_emulator` fixture starts from (override to change it)."""
    from ._kit import TEST_SETTINGS, emulator_config

    return emulator_config(**TEST_SETTINGS)


@pytest.fixture
def move_ugc_emulator(
    request: pytest.FixtureRequest, move_ugc_emulator_config: EmulatorConfig
) -> Iterator[EmulatorThread]:
    """A running emulator (in a background thread), fresh for each test."""
    from ..emulator import EmulatorConfig
    from ._kit import EmulatorThread, emulator_config

    config = move_ugc_emulator_config
    for marker in reversed(list(request.node.iter_markers(MARKER))):  # closest marker wins
        if marker.args:
            raise TypeError(f"@pytest.mark.{MARKER} takes keyword settings only")
        config = emulator_config(config, **marker.kwargs)
    param = getattr(request, "param", None)
    if isinstance(param, EmulatorConfig):
        config = param
    elif param is not None:
        if not isinstance(param, dict):
            raise TypeError(f"{MARKER} parameters must be dicts of settings or an EmulatorConfig")
        config = emulator_config(config, **param)
    with EmulatorThread(config) as emu:
        yield emu


@pytest.fixture
def move_ugc_env(
    move_ugc_emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch
) -> EmulatorThread:
    """`move_ugc_emulator`, with MOVE_UGC_API_KEY and MOVE_UGC_ENDPOINT_URL set for the test."""
    for name, value in move_ugc_emulator.environment().items():
        monkeypatch.setenv(name, value)
    return move_ugc_emulator


@_async_fixture
async def move_ugc_client(move_ugc_emulator: EmulatorThread) -> AsyncIterator[AsyncMoveUgc]:
    """An `AsyncMoveUgc` pointed at `move_ugc_emulator` on its clock, closed after the test."""
    async with move_ugc_emulator.client() as ugc:
        yield ugc
