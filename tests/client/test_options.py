"""The client's settings: read-only, changed through `with_options`; any request budget, on
the client's clock."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pytest

from aio_move_ugc import (
    AsyncMoveUgc,
    ClientClosedError,
    ConfigurationError,
    RateBudget,
    RawAnswer,
    RequestBudget,
    RetryPolicy,
    Timeout,
    TransferConfig,
)
from aio_move_ugc.emulator import Emulator
from aio_move_ugc.testing import EmulatorClock, InProcessTransport
from tests.support import FAST_RETRY, MakeClient

SETTINGS = {
    "timeout": Timeout(total=5),
    "retry": RetryPolicy(max_retries=1),
    "rate_budget": RateBudget(10),
    "transfer_config": TransferConfig(max_retries=1),
    "endpoint_url": "http://127.0.0.1:9/graphql",
}


# ----------------------------------------------------------------------- read-only settings


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_assigning_a_setting_is_refused_and_names_with_options(name: str) -> None:
    ugc = AsyncMoveUgc("k" * 20, endpoint_url="http://127.0.0.1:9/graphql")
    before = getattr(ugc, name)
    with pytest.raises(AttributeError, match=rf"with_options\({name}="):
        setattr(ugc, name, SETTINGS[name])
    assert getattr(ugc, name) is before


async def test_with_options_changes_what_it_is_given_and_keeps_the_rest(
    make_client: MakeClient,
) -> None:
    budget = RateBudget(1000)
    ugc = make_client(rate_limit=budget, timeout=30)
    patient = ugc.with_options(timeout=Timeout(total=120, read=60))
    assert patient is not ugc
    assert patient.timeout == Timeout(total=120, read=60)
    assert ugc.timeout == Timeout(total=30)
    assert patient.retry is ugc.retry
    assert patient.rate_budget is budget, "one plan, one count"
    assert patient.transfer_config is ugc.transfer_config
    assert patient.endpoint_url == ugc.endpoint_url
    assert await patient.rigs.list()
    assert budget.remaining == 999


async def test_max_retries_replaces_both_policies_unless_one_is_given(
    make_client: MakeClient,
) -> None:
    ugc = make_client()
    fewer = ugc.with_options(max_retries=1)
    assert (fewer.retry.max_retries, fewer.transfer_config.max_retries) == (1, 1)
    mixed = ugc.with_options(max_retries=1, retry=RetryPolicy(max_retries=7))
    assert (mixed.retry.max_retries, mixed.transfer_config.max_retries) == (7, 1)
    assert ugc.retry is FAST_RETRY
    for clone in (fewer, mixed):
        await clone.aclose()


async def test_bad_values_are_refused_as_the_constructor_refuses_them(
    make_client: MakeClient,
) -> None:
    ugc = make_client()
    for bad in ({"timeout": -1}, {"max_retries": -1}, {"rate_limit": 0}, {"api_key": ""}):
        with pytest.raises(ConfigurationError):
            ugc.with_options(**bad)  # type: ignore[arg-type]


async def test_a_clone_shares_the_connection_pool(emu: Emulator, make_client: MakeClient) -> None:
    ugc = make_client()
    await ugc.rigs.list()
    for timeout in (10, 20, 30):
        await ugc.with_options(timeout=timeout).rigs.list()
    assert emu.stats.graphql_requests == 4
    assert emu.stats.connections == 1, "every clone sent over the first client's connection"


async def test_closing_a_clone_leaves_the_client_open_and_closing_the_client_closes_it(
    make_client: MakeClient,
) -> None:
    ugc = make_client()
    clone = ugc.with_options(timeout=10)
    await clone.rigs.list()
    await clone.aclose()
    assert clone.is_closed
    assert not ugc.is_closed
    assert await ugc.rigs.list()
    other = ugc.with_options(timeout=10)
    await ugc.aclose()
    assert other.is_closed
    with pytest.raises(ClientClosedError):
        await other.rigs.list()
    with pytest.raises(ClientClosedError):
        ugc.with_options(timeout=10)


async def test_another_connection_limit_gets_a_pool_of_its_own(
    emu: Emulator, make_client: MakeClient
) -> None:
    ugc = make_client()
    await ugc.rigs.list()
    async with ugc.with_options(connection_limit=2) as narrow:
        await narrow.rigs.list()
    assert emu.stats.connections == 2
    assert await ugc.rigs.list(), "closing the clone closed only its own pool"


# ----------------------------------------------------------------------- request budgets


class CountingBudget:
    """A budget of one's own: no RateBudget, only what `RequestBudget` asks for."""

    def __init__(self) -> None:
        self.limit = 100
        self.window = 3600.0
        self.acquired = 0

    async def acquire(self) -> None:
        self.acquired += 1


async def test_any_request_budget_is_accepted_and_drawn_from(
    emu: Emulator, make_client: MakeClient
) -> None:
    budget = CountingBudget()
    assert isinstance(budget, RequestBudget)
    ugc = make_client(rate_limit=budget)
    assert ugc.rate_budget is budget
    await ugc.rigs.list()
    await ugc.camera_settings.list()
    assert budget.acquired == emu.stats.graphql_requests == 2


@pytest.mark.parametrize(
    "bad",
    [object(), "100", 1.5, type("NoLimit", (), {"window": 1.0, "acquire": None})()],
    ids=["object", "text", "float", "no-limit"],
)
def test_what_is_not_a_budget_is_refused(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="rate_limit"):
        AsyncMoveUgc("k" * 20, rate_limit=bad)  # type: ignore[arg-type]


def test_a_budget_with_a_useless_limit_is_refused() -> None:
    budget = CountingBudget()
    budget.limit = 0
    with pytest.raises(ConfigurationError, match="limit"):
        AsyncMoveUgc("k" * 20, rate_limit=budget)


@pytest.mark.parametrize("given", ["requests per hour", "RateBudget"])
async def test_the_budget_waits_on_the_clients_clock(emu: Emulator, given: str) -> None:
    clock = EmulatorClock(emu)
    rate_limit: int | RateBudget = 2 if given == "requests per hour" else RateBudget(2)
    started = time.monotonic()
    async with AsyncMoveUgc(
        emu.api_key, endpoint_url=emu.endpoint_url, clock=clock, rate_limit=rate_limit
    ) as ugc:
        for _ in range(3):
            await ugc.rigs.list()
    # The third request waited for the first to leave the hour: on the emulator's clock.
    assert len(clock.slept) == 1
    assert 3590 < clock.slept[0] <= 3600
    assert emu.stats.graphql_requests == 3
    assert time.monotonic() - started < 5, "no real hour went by"


async def test_a_shared_budget_keeps_the_first_clients_clock(emu: Emulator) -> None:
    budget = RateBudget(1, window=60)
    first_clock, second_clock = EmulatorClock(emu), EmulatorClock(emu)
    async with (
        AsyncMoveUgc(
            emu.api_key, endpoint_url=emu.endpoint_url, clock=first_clock, rate_limit=budget
        ) as first,
        AsyncMoveUgc(
            emu.api_key, endpoint_url=emu.endpoint_url, clock=second_clock, rate_limit=budget
        ) as second,
    ):
        assert budget.clock is first_clock
        await first.rigs.list()
        await second.rigs.list()
    assert second_clock.slept == []
    assert len(first_clock.slept) == 1, "the second client's request waited on the budget's"
    assert 59 < first_clock.slept[0] <= 60


class CountedTransport:
    """An in-process transport that counts the requests it carries and its closings."""

    def __init__(self, emu: Emulator) -> None:
        self.inner = InProcessTransport(emu)
        self.posts = 0
        self.closed = 0

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> RawAnswer:
        self.posts += 1
        return await self.inner.post(url, body, headers)

    async def aclose(self) -> None:
        self.closed += 1


@pytest.mark.parametrize("change", [{"timeout": 10}, {"connection_limit": 2}])
async def test_a_clone_sends_over_the_same_transport_and_leaves_it_open(
    emu: Emulator, make_client: MakeClient, change: dict[str, Any]
) -> None:
    wire = CountedTransport(emu)
    ugc = make_client(transport=wire)
    async with ugc.with_options(**change) as clone:
        await clone.rigs.list()
    assert (wire.posts, wire.closed) == (1, 0)
    await ugc.rigs.list()
    await ugc.aclose()
    assert (wire.posts, wire.closed) == (2, 1)
