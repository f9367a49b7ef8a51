"""Fixtures of the emulator's behaviour tests: an HTTP session and a raw GraphQL client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from aio_move_ugc.emulator import Emulator
from tests.emulator.support import GraphQLClient


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def gql(session: aiohttp.ClientSession, emulator: Emulator) -> GraphQLClient:
    """A raw GraphQL client for the shared fast `emulator` fixture."""
    return GraphQLClient(session, emulator)
