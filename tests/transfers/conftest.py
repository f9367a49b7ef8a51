"""Fixtures of the transfer tests: the emulator with this directory's seed."""

from __future__ import annotations

import pytest

from aio_move_ugc.emulator import Emulator
from tests.support import MakeEmulator
from tests.transfers.support import SEED


@pytest.fixture
async def emu(make_emulator: MakeEmulator) -> Emulator:
    """The emulator with this directory's seed."""
    return await make_emulator(seed=SEED)
