"""Helpers for testing code that uses the Move UGC API against the local emulator.

```python
from aio_move_ugc.testing import EmulatorThread

with EmulatorThread(job_duration=0.1) as emu:  # serves from a background thread
    run_my_sync_code(api_key=emu.api_key, endpoint_url=emu.endpoint_url)
```

The pytest plugin (`aio_move_ugc.testing.plugin`, loaded automatically once the package is
installed) turns the same machinery into fixtures: `move_ugc_emulator`, `move_ugc_env`,
`move_ugc_client` and the `move_ugc_emulator` marker. Importing this package is cheap: the
emulator (graphql-core, the aiohttp server) is only imported when a name below is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._clock import EmulatorClock
    from ._kit import TEST_SETTINGS, EmulatorThread, emulator_config
    from ._transport import InProcessTransport

__all__ = [
    "TEST_SETTINGS",
    "EmulatorClock",
    "EmulatorThread",
    "InProcessTransport",
    "emulator_config",
]
_HOMES = {"EmulatorClock": "_clock", "InProcessTransport": "_transport"}


def __getattr__(name: str) -> Any:
    # Loaded on first use so that the pytest plugin, which imports this package in every pytest
    # run of anyone who installs aio-move-ugc, stays cheap for those who never use it.
    if name in __all__:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_HOMES.get(name, '_kit')}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
