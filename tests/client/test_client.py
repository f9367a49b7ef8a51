"""AsyncMoveUgc: configuration from arguments and environment, session lifecycle, closing."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest

from aio_move_ugc import (
    AsyncMoveUgc,
    ClientClosedError,
    ConfigurationError,
    InvalidInputError,
    RateBudget,
    RetryPolicy,
    Timeout,
)
from aio_move_ugc._client import API_KEY_ENV, DEFAULT_ENDPOINT_URL, ENDPOINT_ENV
from aio_move_ugc.emulator import Emulator, RouteFaults
from tests.support import FAST, MakeClient

KEY = "k" * 24


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    monkeypatch.delenv(ENDPOINT_ENV, raising=False)
    return monkeypatch


# ---------------------------------------------------------------------- configuration


async def test_configured_from_the_environment(
    emu: Emulator, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv(API_KEY_ENV, emu.api_key)
    clean_env.setenv(ENDPOINT_ENV, emu.endpoint_url)
    async with AsyncMoveUgc() as ugc:
        assert ugc.endpoint_url == emu.endpoint_url
        assert (await ugc.client.retrieve()).id == emu.state.client.id
    assert emu.stats.graphql_requests == 1


async def test_arguments_win_over_the_environment(
    emu: Emulator, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv(API_KEY_ENV, "someone-elses-key-000")
    clean_env.setenv(ENDPOINT_ENV, "http://127.0.0.1:9/graphql")
    async with AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url) as ugc:
        assert (await ugc.client.retrieve()).id == emu.state.client.id


def test_default_endpoint(clean_env: pytest.MonkeyPatch) -> None:
    assert (
        AsyncMoveUgc(KEY).endpoint_url == DEFAULT_ENDPOINT_URL == "https://api.move.ai/ugc/graphql"
    )
    clean_env.setenv(ENDPOINT_ENV, "")
    assert AsyncMoveUgc(KEY).endpoint_url == DEFAULT_ENDPOINT_URL, "an empty variable is unset"


def test_no_key_anywhere(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match=API_KEY_ENV):
        AsyncMoveUgc()


@pytest.mark.parametrize(
    "key",
    [
        "",
        "            ",
        "short-key",
        " leading-space-key",
        "trailing-space-key ",
        "inner space-key-0123",
        "tab\tkey-0123456789",
        "new\nline-key-012345",
        "nul\x00-key-0123456789",
        "delete\x7f-key-012345",
        "ключ-ключ-ключ-ключ",
    ],
)
def test_bad_keys(key: str, clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError) as caught:
        AsyncMoveUgc(key)
    assert isinstance(caught.value, InvalidInputError | ValueError)
    assert not key.strip() or key.strip() not in str(caught.value)
    if "\x00" not in key:  # the environment cannot hold NUL
        clean_env.setenv(API_KEY_ENV, key)
        with pytest.raises(ConfigurationError):
            AsyncMoveUgc()


@pytest.mark.parametrize(
    "url",
    [
        "",
        "api.move.ai/ugc/graphql",
        "/graphql",
        "ftp://api.move.ai/ugc/graphql",
        "http://",
        "https://user:password@api.move.ai/ugc/graphql",
        "http://api.move.ai:99999/graphql",
        "http://api.move.ai:port/graphql",
        "http://[::1/graphql",
        "http://exa mple.com/graphql",
        "http://example.com/gra\nphql",
        "http://example.com/\x00",
    ],
)
def test_bad_endpoints(url: str, clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError):
        AsyncMoveUgc(KEY, endpoint_url=url)


@pytest.mark.parametrize(
    "options",
    [
        {"timeout": 0},
        {"timeout": -1.0},
        {"timeout": "5"},
        {"timeout": True},
        {"timeout": float("nan")},
        {"max_retries": -1},
        {"max_retries": 1.5},
        {"max_retries": True},
        {"rate_limit": 0},
        {"rate_limit": True},
        {"rate_limit": 2.5},
        {"rate_limit": "100"},
        {"connection_limit": 0},
        {"connection_limit": "10"},
        {"connection_limit": True},
        {"retry": "fast"},
    ],
    ids=repr,
)
def test_bad_options(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        AsyncMoveUgc(KEY, endpoint_url="http://127.0.0.1:9/graphql", **options)


@pytest.mark.parametrize(
    "make",
    [
        lambda: RetryPolicy(max_retries=-1),
        lambda: RetryPolicy(base_delay=-0.1),
        lambda: RetryPolicy(max_retry_after=-1),
        lambda: Timeout(read=0),
        lambda: Timeout(connect=-1),
        lambda: Timeout(total=float("inf")),
        lambda: RateBudget(0),
        lambda: RateBudget(5, window=0),
    ],
)
def test_bad_policies(make: Any) -> None:
    with pytest.raises(ConfigurationError):
        make()


def test_good_options_are_kept() -> None:
    budget = RateBudget(10, window=60)
    retry = RetryPolicy(max_retries=5)
    ugc = AsyncMoveUgc(
        KEY,
        endpoint_url="https://example.com/graphql",
        timeout=Timeout(connect=1, read=2, total=3),
        retry=retry,
        rate_limit=budget,
    )
    assert (ugc.timeout, ugc.retry, ugc.rate_budget) == (Timeout(1, 2, 3), retry, budget)
    assert AsyncMoveUgc(KEY, max_retries=0).retry.max_retries == 0
    assert AsyncMoveUgc(KEY).rate_budget is None


# ----------------------------------------------------------------------- lifecycle


def test_construction_needs_no_event_loop_and_opens_nothing() -> None:
    ugc = AsyncMoveUgc(KEY)
    assert ugc._ctx.transport.sessions.current() is None
    assert not ugc.is_closed


async def test_session_is_created_on_first_use_and_closed_by_aclose(
    emu: Emulator, make_client: MakeClient
) -> None:
    ugc = make_client()
    assert ugc._ctx.transport.sessions.current() is None
    await ugc.client.retrieve()
    session = ugc._ctx.transport.sessions.current()
    assert session is not None
    assert not session.closed
    await ugc.client.retrieve()
    assert ugc._ctx.transport.sessions.current() is session, "one session for every request"
    await ugc.aclose()
    assert session.closed
    assert ugc.is_closed


async def test_aclose_is_idempotent(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    await ugc.client.retrieve()
    await ugc.aclose()
    await ugc.aclose()
    assert ugc.is_closed
    assert "closed" in repr(ugc)


async def test_aclose_of_an_unused_client(make_client: MakeClient) -> None:
    ugc = make_client()
    await ugc.aclose()
    assert ugc.is_closed
    assert ugc._ctx.transport.sessions.current() is None


async def test_closed_client_refuses_work_without_sending(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    await ugc.aclose()
    calls = [
        ugc.client.retrieve(),
        ugc.jobs.retrieve("job-1"),
        ugc.files.create("mp4"),
        ugc.rigs.list(),
    ]
    for call in calls:
        with pytest.raises(ClientClosedError, match="closed"):
            await call
    with pytest.raises(ClientClosedError):
        await ugc.jobs.list()
    with pytest.raises(ClientClosedError):
        async with ugc:
            pass
    assert emu.stats.graphql_requests == 0
    assert ugc._ctx.transport.sessions.current() is None, "a closed client is not reopened"


async def test_leaving_the_block_closes_even_on_error(emu: Emulator) -> None:
    ugc = AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url)

    async def fail_inside() -> None:
        async with ugc:
            await ugc.client.retrieve()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_inside()
    assert ugc.is_closed
    assert ugc._ctx.transport.sessions.current() is None


async def test_resources_are_made_once(ugc: AsyncMoveUgc) -> None:
    for name in (
        "files",
        "takes",
        "jobs",
        "volumes",
        "client",
        "webhooks",
        "rigs",
        "camera_settings",
    ):
        assert getattr(ugc, name) is getattr(ugc, name)


def test_repr_shows_no_key() -> None:
    ugc = AsyncMoveUgc(KEY, endpoint_url="https://example.com/graphql")
    text = repr(ugc)
    assert KEY not in text
    assert "https://example.com/graphql" in text
    assert "open" in text
    assert KEY not in repr(ugc._ctx.transport)
    assert KEY not in repr(vars(ugc))
    assert KEY not in repr(vars(ugc._ctx.transport))


def test_runs_under_anyio_asyncio_backend() -> None:
    async def main() -> tuple[str, str, int]:
        async with (
            Emulator(FAST) as emu,
            AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url) as ugc,
        ):
            async with anyio.create_task_group() as tg:
                for _ in range(3):
                    tg.start_soon(ugc.rigs.list)
            client = await ugc.client.retrieve()
            return client.id, emu.state.client.id, emu.stats.graphql_requests

    got, expected, requests = anyio.run(main, backend="asyncio")
    assert got == expected
    assert requests == 4


async def test_aclose_during_a_request_does_not_reopen(
    emu: Emulator, make_client: MakeClient
) -> None:
    ugc = make_client()
    emu.set_faults("graphql", RouteFaults(latency=0.3))
    request = asyncio.create_task(ugc.client.retrieve())
    await asyncio.sleep(0.1)
    await ugc.aclose()
    with pytest.raises(ClientClosedError):
        await request
    assert ugc._ctx.transport.sessions.current() is None, "the retry opened a session nobody closes"
    assert ugc.requests_sent == 1
