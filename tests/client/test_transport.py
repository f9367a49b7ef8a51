"""The transport: one pool, error mapping, retries, unknown outcomes, timeouts, request budgets."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import anyio
import pytest
from aiohttp import web

from aio_move_ugc import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AsyncMoveUgc,
    AuthenticationError,
    GraphQLResponseError,
    Job,
    NotFoundError,
    OutcomeUnknownError,
    RateBudget,
    RateLimitError,
    RetryPolicy,
    Timeout,
)
from aio_move_ugc._schema.operations import job_batch
from aio_move_ugc.emulator import Emulator, RouteFaults
from aio_move_ugc.testing import EmulatorClock
from tests.support import FAST, FAST_RETRY, MakeClient

from .support import inject_once, singlecam_take


def closed_port_url() -> str:
    """An endpoint on which nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/graphql"


async def _a_job(ugc: AsyncMoveUgc) -> Job:
    take = await singlecam_take(ugc)
    return await ugc.jobs.create_singlecam(take.id)


# ----------------------------------------------------------------------------- one pool


async def test_twenty_retrieves_use_one_connection_and_twenty_requests(
    emu: Emulator, ugc: AsyncMoveUgc, make_client: MakeClient
) -> None:
    job = await _a_job(ugc)
    fresh = make_client()
    requests, connections = emu.stats.graphql_requests, emu.stats.connections
    operations = dict(emu.stats.operations)
    for _ in range(20):
        assert (await fresh.jobs.retrieve(job.id)).id == job.id
    assert emu.stats.operations["GetJob"] == 20
    assert emu.stats.graphql_requests - requests == 20
    assert fresh.requests_sent == 20
    assert emu.stats.connections - connections == 1
    new_operations = {k for k, v in emu.stats.operations.items() if v != operations.get(k)}
    assert new_operations == {"GetJob"}, "no schema fetch or anything else"
    assert not any(name.startswith("__") for name in emu.stats.root_fields)


async def test_concurrent_requests_stay_within_the_connection_limit(
    emu: Emulator, ugc: AsyncMoveUgc, make_client: MakeClient
) -> None:
    job = await _a_job(ugc)
    emu.set_faults("graphql", RouteFaults(latency=0.05))
    limited = make_client(connection_limit=3)
    connections = emu.stats.connections
    async with anyio.create_task_group() as tg:
        for _ in range(12):
            tg.start_soon(limited.jobs.retrieve, job.id)
    assert limited.requests_sent == 12
    assert 1 <= emu.stats.connections - connections <= 3


# -------------------------------------------------------------------- errors by answer


async def test_wrong_key_is_not_retried(emu: Emulator, wrong_key: AsyncMoveUgc) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await wrong_key.client.retrieve()
    assert caught.value.status == 401
    assert "not authorized" in str(caught.value)
    assert emu.stats.graphql_requests == 1


async def test_one_missing_job_of_a_batch(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    job = await _a_job(ugc)
    missing = "job-00000000-0000-4000-8000-000000000000"
    with pytest.raises(NotFoundError) as caught:
        await ugc._ctx.execute(job_batch([job.id, missing]), {"j0": job.id, "j1": missing})
    error = caught.value
    assert error.errors[0]["path"] == ["j1"]
    assert error.data is None, "getJob is non-null in the schema: one miss voids the batch"
    assert error.status == 200
    assert error.operation_name == "GetJobs"


# --------------------------------------------------------------------------- retries


async def test_unavailable_until_retries_run_out(emu: Emulator, make_client: MakeClient) -> None:
    ugc = make_client(retry=replace(FAST_RETRY, max_retries=2))
    emu.set_faults("graphql", RouteFaults(rate_503=1.0))
    with pytest.raises(APIStatusError) as caught:
        await ugc.rigs.list()
    assert caught.value.status == 503
    assert caught.value.error_type == "ServiceUnavailableException"
    assert emu.stats.graphql_requests == 3 == ugc.requests_sent
    assert emu.stats.faults["graphql 503"] == 3


async def test_internal_error_of_a_query_is_retried(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    inject_once(emu, "500")
    rigs = await ugc.rigs.list()
    assert rigs
    assert emu.stats.faults["graphql 500"] == 1
    assert emu.stats.graphql_requests == 2


async def test_internal_error_of_a_create_is_an_unknown_outcome(
    emu: Emulator, ugc: AsyncMoveUgc
) -> None:
    emu.set_faults("graphql", RouteFaults(rate_500=1.0))
    with pytest.raises(OutcomeUnknownError) as caught:
        await ugc.files.create("mp4")
    assert emu.stats.graphql_requests == 1, "not retried: the create may have happened"
    assert isinstance(caught.value.__cause__, APIStatusError)
    assert caught.value.__cause__.status == 500
    assert caught.value.operation_name == "CreateFile"


async def test_no_retries_when_told(emu: Emulator, make_client: MakeClient) -> None:
    ugc = make_client(max_retries=0)
    inject_once(emu, "503")
    with pytest.raises(APIStatusError):
        await ugc.client.retrieve()
    assert emu.stats.graphql_requests == 1


async def test_retry_after_is_capped_by_the_policy(emu: Emulator, make_client: MakeClient) -> None:
    clock = EmulatorClock(emu)
    ugc = make_client(
        retry=RetryPolicy(max_retries=3, base_delay=5, max_retry_after=0.05), clock=clock
    )
    emu.set_faults("graphql", RouteFaults(rate_429=1.0))
    with pytest.raises(RateLimitError) as caught:
        await ugc.client.retrieve()
    assert emu.stats.graphql_requests == 4 == emu.stats.faults["graphql 429"]
    assert caught.value.retry_after == 1.0
    assert caught.value.status == 429
    assert clock.slept == [0.05] * 3, "three waits of Retry-After: 1, each capped at 0.05 s"


async def test_retry_after_is_honoured(emu: Emulator, make_client: MakeClient) -> None:
    clock = EmulatorClock(emu)
    ugc = make_client(
        retry=RetryPolicy(max_retries=2, base_delay=0.001, max_delay=0.001), clock=clock
    )
    inject_once(emu, "429")
    await ugc.client.retrieve()
    assert emu.stats.graphql_requests == 2
    assert clock.slept == [1.0], "the server said Retry-After: 1; the drawn wait would be 1 ms"


async def test_reset_of_a_query_is_retried(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    job = await _a_job(ugc)
    inject_once(emu, "reset")
    assert (await ugc.jobs.retrieve(job.id)).id == job.id
    assert emu.stats.faults["graphql reset"] == 1


async def test_reset_every_time_ends_in_a_connection_error(
    emu: Emulator, make_client: MakeClient
) -> None:
    ugc = make_client(retry=replace(FAST_RETRY, max_retries=1))
    emu.set_faults("graphql", RouteFaults(reset_rate=1.0))
    with pytest.raises(APIConnectionError) as caught:
        await ugc.rigs.list()
    assert not isinstance(caught.value, OutcomeUnknownError)
    assert caught.value.operation_name == "ListRigs"
    assert emu.stats.graphql_requests == 2


async def test_connection_refused_is_retried_even_for_creates(make_client: MakeClient) -> None:
    ugc = make_client(endpoint_url=closed_port_url(), retry=replace(FAST_RETRY, max_retries=2))
    with pytest.raises(APIConnectionError) as caught:
        await ugc.files.create("mp4")
    assert not isinstance(caught.value, OutcomeUnknownError), "nothing was sent"
    assert "could not connect" in str(caught.value)
    assert ugc.requests_sent == 3


# -------------------------------------------------------------------------- timeouts


async def test_read_timeout_of_a_query(emu: Emulator, make_client: MakeClient) -> None:
    ugc = make_client(timeout=Timeout(read=0.1), retry=replace(FAST_RETRY, max_retries=1))
    emu.set_faults("graphql", RouteFaults(latency=2.0))
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as caught:
        await ugc.rigs.list()
    # Two tries of 0.1 s each; one answer waited for would alone take 2 s.
    assert time.monotonic() - started < 1.0
    assert caught.value.operation_name == "ListRigs"
    assert emu.stats.graphql_requests == 2


async def test_total_timeout_given_as_a_number(emu: Emulator, make_client: MakeClient) -> None:
    ugc = make_client(timeout=0.1, max_retries=0)
    assert ugc.timeout == Timeout(total=0.1)
    emu.set_faults("graphql", RouteFaults(latency=0.5))
    with pytest.raises(APITimeoutError):
        await ugc.client.retrieve()


async def test_timeout_of_a_create_is_an_unknown_outcome(
    emu: Emulator, ugc: AsyncMoveUgc, make_client: MakeClient
) -> None:
    take = await singlecam_take(ugc)
    impatient = make_client(timeout=Timeout(read=0.1))
    emu.set_faults("graphql", RouteFaults(latency=0.3))
    with pytest.raises(OutcomeUnknownError) as caught:
        await impatient.jobs.create_singlecam(take.id)
    assert isinstance(caught.value.__cause__, APITimeoutError)
    assert emu.stats.graphql_requests == 3, (
        "createFile, createSingleCamTake, one createSingleCamJob"
    )
    assert "jobs.list(take_id=" in caught.value.lookup


async def test_cancellation_passes_through(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    emu.set_faults("graphql", RouteFaults(latency=0.3))
    task = asyncio.create_task(ugc.client.retrieve())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(TimeoutError) as caught:
        with anyio.fail_after(0.05):
            await ugc.client.retrieve()
    assert not isinstance(caught.value, APIError | APIConnectionError)
    emu.set_faults("graphql", None)
    assert (await ugc.client.retrieve()).id == emu.state.client.id, "still usable"


# ----------------------------------------------------------------------- rate budget


async def test_budget_makes_the_fourth_request_wait(emu: Emulator, make_client: MakeClient) -> None:
    budget = RateBudget(3, window=0.5)
    ugc = make_client(rate_limit=budget)
    assert ugc.rate_budget is budget
    started = time.monotonic()
    for _ in range(3):
        await ugc.rigs.list()
    assert time.monotonic() - started < 0.4
    assert budget.remaining == 0
    await ugc.rigs.list()
    assert time.monotonic() - started >= 0.4
    assert emu.stats.graphql_requests == 4


async def test_budget_shared_by_two_clients(emu: Emulator, make_client: MakeClient) -> None:
    budget = RateBudget(2, window=0.4)
    first, second = make_client(rate_limit=budget), make_client(rate_limit=budget)
    started = time.monotonic()
    await first.rigs.list()
    await second.rigs.list()
    await second.rigs.list()
    assert time.monotonic() - started >= 0.3
    assert emu.stats.graphql_requests == 3


async def test_rate_limit_as_requests_per_hour(make_client: MakeClient) -> None:
    ugc = make_client(rate_limit=900)
    assert ugc.rate_budget is not None
    assert (ugc.rate_budget.limit, ugc.rate_budget.window) == (900, 3600.0)


async def test_budget_below_the_service_budget_is_never_throttled() -> None:
    async with (
        Emulator(replace(FAST, hourly_request_budget=6)) as emu,
        AsyncMoveUgc(
            emu.api_key, endpoint_url=emu.endpoint_url, rate_limit=5, retry=FAST_RETRY
        ) as polite,
        AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url, max_retries=0) as rude,
    ):
        for _ in range(5):
            await polite.camera_settings.list()
        with anyio.move_on_after(0.3) as scope:
            await polite.camera_settings.list()  # the 6th waits for the hour to roll on
        assert scope.cancelled_caught
        assert emu.stats.graphql_requests == 5
        assert emu.stats.faults["graphql budget"] == 0
        await rude.camera_settings.list()  # the service's 6th
        with pytest.raises(RateLimitError) as caught:
            await rude.camera_settings.list()
        assert emu.stats.faults["graphql budget"] == 1
        assert caught.value.retry_after is not None
        assert caught.value.retry_after > 3000


# ---------------------------------------------------------- answers the emulator never gives


@dataclass
class Canned:
    """A real HTTP server that answers from a script and records what it was sent."""

    url: str = ""
    answers: list[tuple[int, bytes | dict[str, Any], dict[str, str]]] = field(default_factory=list)
    requests: list[tuple[dict[str, str], Any]] = field(default_factory=list)

    def answer(self, status: int, body: bytes | dict[str, Any], **headers: str) -> None:
        self.answers.append((status, body, headers))

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), json.loads(await request.read())))
        status, body, headers = self.answers.pop(0)
        raw = json.dumps(body).encode() if isinstance(body, dict) else body
        return web.Response(status=status, body=raw, headers=headers)


@pytest.fixture
async def canned() -> AsyncIterator[Canned]:
    server = Canned()
    app = web.Application()
    app.router.add_post("/graphql", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    server.url = f"http://{host}:{port}/graphql"
    yield server
    await runner.cleanup()
    assert server.answers == [], "every scripted answer was asked for"


CLIENT = {"data": {"client": {"id": "client-1", "name": "c"}}}


async def test_request_shape(canned: Canned, make_client: MakeClient) -> None:
    ugc = make_client("raw-key-0123456789", endpoint_url=canned.url)
    canned.answer(200, CLIENT)
    await ugc.client.retrieve()
    ((headers, body),) = canned.requests
    assert headers["Authorization"] == "raw-key-0123456789"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("aio-move-ugc/")
    assert body["operationName"] == "GetClient"
    assert body["query"].startswith("query GetClient")
    assert body["variables"] == {}


async def test_gateway_error_then_success(canned: Canned, make_client: MakeClient) -> None:
    ugc = make_client(endpoint_url=canned.url)
    canned.answer(502, b"<html>Bad Gateway</html>", **{"Content-Type": "text/html"})
    canned.answer(200, CLIENT)
    assert (await ugc.client.retrieve()).id == "client-1"
    assert len(canned.requests) == 2


async def test_gateway_error_of_a_create_is_an_unknown_outcome(
    canned: Canned, make_client: MakeClient
) -> None:
    ugc = make_client(endpoint_url=canned.url)
    canned.answer(504, b"gateway timeout")
    with pytest.raises(OutcomeUnknownError):
        await ugc.volumes.create_human_volume(
            [
                {
                    "device_label": f"c{i}",
                    "file_id": f"file-{i}",
                    "format": "MP4",
                    "camera_settings": {"lens": "x"},
                }
                for i in range(2)
            ],
            human_height=1.7,
            area_type="NORMAL",
        )


async def test_throttling_said_in_the_body_is_retried(
    canned: Canned, make_client: MakeClient
) -> None:
    ugc = make_client(endpoint_url=canned.url)
    canned.answer(
        200, {"data": None, "errors": [{"errorType": "ThrottlingException", "message": "slow"}]}
    )
    canned.answer(200, CLIENT)
    await ugc.client.retrieve()
    assert len(canned.requests) == 2


@pytest.mark.parametrize(
    ("status", "body", "error", "text"),
    [
        (200, b"<html>not json</html>", APIStatusError, "not JSON"),
        (200, {}, APIStatusError, "without data or errors"),
        (
            400,
            {"errors": [{"errorType": "MalformedHttpRequestException", "message": "bad"}]},
            APIStatusError,
            "bad",
        ),
        (
            200,
            {"data": None, "errors": [{"errorType": "InternalFailure", "message": "boom"}]},
            GraphQLResponseError,
            "boom",
        ),
        (
            200,
            {"data": None, "errors": [{"errorType": "UnauthorizedException", "message": "no"}]},
            AuthenticationError,
            "no",
        ),
    ],
)
async def test_answers_that_are_not_retried(
    canned: Canned,
    make_client: MakeClient,
    status: int,
    body: bytes | dict[str, Any],
    error: type[Exception],
    text: str,
) -> None:
    ugc = make_client(endpoint_url=canned.url)
    canned.answer(status, body, **{"x-amzn-RequestId": "req-1"})
    with pytest.raises(error, match=text) as caught:
        await ugc.client.retrieve()
    assert isinstance(caught.value, APIError)
    assert (caught.value.status, caught.value.request_id) == (status, "req-1")
    assert len(canned.requests) == 1


async def test_partial_data_is_kept_with_the_errors(
    canned: Canned, make_client: MakeClient
) -> None:
    ugc = make_client(endpoint_url=canned.url)
    partial = {"j0": {"id": "job-1"}, "j1": None}
    errors = [{"errorType": "MoveNotFoundError", "message": "gone", "path": ["j1"]}]
    canned.answer(200, {"data": partial, "errors": errors})
    with pytest.raises(NotFoundError) as caught:
        await ugc._ctx.execute(job_batch(["job-1", "job-2"]), {"j0": "job-1", "j1": "job-2"})
    assert caught.value.data == partial
    assert caught.value.errors == errors


async def test_data_of_an_unexpected_shape_is_an_api_error(
    canned: Canned, make_client: MakeClient
) -> None:
    ugc = make_client(endpoint_url=canned.url)
    canned.answer(200, {"data": {"getJob": {"state": "RUNNING"}}})
    with pytest.raises(APIError, match="GetJob"):
        await ugc.jobs.retrieve("job-1")
    canned.answer(200, {"data": {"listRigs": {"items": [{"nom": "x"}]}}})
    with pytest.raises(APIError, match="ListRigs"):
        await ugc.rigs.list()


def test_budget_can_be_read_outside_a_loop() -> None:
    budget = RateBudget(2, window=60)
    assert budget.remaining == 2
    assert budget.delay() == 0.0
