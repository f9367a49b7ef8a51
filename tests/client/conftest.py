"""Fixtures of the client tests: the emulator with the seed the fault helpers expect."""

from __future__ import annotations

import pytest

from aio_move_ugc import AsyncMoveUgc
from aio_move_ugc.emulator import Emulator
from tests.client.support import SEED
from tests.support import MakeClient, MakeEmulator


@pytest.fixture
async def emu(make_emulator: MakeEmulator) -> Emulator:
    """The emulator with the seed the fault helpers expect, and quick volumes."""
    return await make_emulator(seed=SEED, volume_duration=0.05)


@pytest.fixture
def wrong_key(make_client: MakeClient) -> AsyncMoveUgc:
    """A client whose (well-formed) key the emulator does not know."""
    return make_client("not-the-emulator-key-0000")
