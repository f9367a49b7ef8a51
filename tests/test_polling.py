"""One polling engine under every loop that polls: `jobs.watch`, `jobs.watch_many`, `jobs.wait`,
`volumes.wait` and bulk runs meet the same injected polling faults and behave the same way.

Time is the emulator's: the client is given a clock whose `sleep` moves the emulator's clock
forward (and lets a test act between rounds), so no test waits for a job in real time and
every count below is exact.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from aio_move_ugc import (
    APIStatusError,
    AsyncMoveUgc,
    BulkItem,
    CameraSettings,
    GraphQLResponseError,
    JobState,
    NotFoundError,
    OutputMissingError,
    OutputType,
    PollPolicy,
    RetryPolicy,
    SourceFormat,
    SourceIn,
)
from aio_move_ugc.emulator import Emulator, EmulatorConfig, RecordFault, RouteFaults
from aio_move_ugc.testing import EmulatorClock
from aio_move_ugc.watch import SETTLE_MIN, Looks, Poller

from .support import FAST

FAILING = RouteFaults(rate_500=1.0)
MAX_FAILURES = PollPolicy().max_failures


class RoundClock(EmulatorClock):
    """The emulator's clock, with `between_rounds` hooks run at each sleep (a test's way to act
    between polling rounds) and `gaps`: the emulated time from the end of one wait to the end
    of the next, i.e. from one round's start to the next's (a pause includes the time the
    round itself took)."""

    def __init__(self, emu: Emulator) -> None:
        super().__init__(emu)
        self.gaps: list[float] = []
        self.between_rounds: list[Callable[[int], None]] = []
        self._woke: float | None = None

    @property
    def sleeps(self) -> list[float]:
        return self.slept

    async def sleep(self, seconds: float) -> None:
        await super().sleep(seconds)
        woke = self.now()
        if self._woke is not None:
            self.gaps.append(woke - self._woke)
        self._woke = woke
        for hook in self.between_rounds:
            hook(len(self.slept))


@dataclass
class Env:
    emu: Emulator
    ugc: AsyncMoveUgc
    clock: RoundClock
    tmp: Path

    def polls(self) -> int:
        ops = self.emu.stats.operations
        return ops.get("GetJobs", 0) + ops.get("GetVolumes", 0)

    def fail_polling_from_now(self, rounds: int | None = None) -> None:
        """Every GraphQL request fails from now on, or only for the next `rounds` rounds."""
        self.emu.set_faults("graphql", FAILING)
        if rounds is not None:

            def heal(sleeps: int) -> None:
                if sleeps == rounds:
                    self.emu.set_faults("graphql", None)

            start = len(self.clock.sleeps)
            self.clock.between_rounds.append(lambda n: heal(n - start))


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    config = replace(FAST, job_queue_delay=2.0, job_duration=30.0, volume_duration=20.0)
    async with Emulator(config) as emu:
        clock = RoundClock(emu)
        ugc = AsyncMoveUgc(
            emu.api_key,
            endpoint_url=emu.endpoint_url,
            retry=RetryPolicy(max_retries=0),
            clock=clock,
        )
        async with ugc:
            yield Env(emu, ugc, clock, tmp_path)


async def _job(env: Env) -> str:
    video = env.tmp / "take.mp4"
    video.write_bytes(os.urandom(4096))
    file = await env.ugc.files.upload(video)
    take = await env.ugc.takes.create_singlecam(
        [SourceIn(device_label="cam", file_id=file.id, format=SourceFormat.MP4)]
    )
    job = await env.ugc.jobs.create_singlecam(take.id, outputs=[OutputType.MAIN_FBX])
    return job.id


async def _volume(env: Env) -> str:
    sources = []
    for i in range(2):
        video = env.tmp / f"cam{i}.mp4"
        video.write_bytes(os.urandom(4096))
        file = await env.ugc.files.upload(video)
        sources.append(
            SourceIn(
                device_label=f"cam{i}",
                file_id=file.id,
                format=SourceFormat.MP4,
                camera_settings=CameraSettings(lens="goprohero10-2-7k"),
            )
        )
    volume = await env.ugc.volumes.create_human_volume(
        sources, human_height=1.8, area_type="NORMAL"
    )
    return volume.id


Arm = Callable[[], None]
"""Starts the polling faults: called just before polling starts."""


async def _watch(env: Env, job_id: str, arm: Arm) -> Any:
    arm()
    return [event async for event in env.ugc.jobs.watch(job_id)][-1].job


async def _watch_many(env: Env, job_id: str, arm: Arm) -> Any:
    arm()
    return [event async for event in env.ugc.jobs.watch_many([job_id])][-1].job


async def _wait(env: Env, job_id: str, arm: Arm) -> Any:
    arm()
    return await env.ugc.jobs.wait(job_id)


async def _wait_volume(env: Env, volume_id: str, arm: Arm) -> Any:
    arm()
    return await env.ugc.volumes.wait(volume_id)


async def _bulk_setup(env: Env) -> str:
    video = env.tmp / "bulk.mp4"
    video.write_bytes(os.urandom(4096))
    return str(video)


async def _bulk(env: Env, video: str, arm: Arm) -> Any:
    def on_stage(item: BulkItem, stage: str) -> None:
        if stage == "job_created":  # bulk polls once its job exists
            arm()

    results = [
        r
        async for r in env.ugc.bulk.run(
            [BulkItem(Path(video))],
            dest=env.tmp / "out",
            outputs=[OutputType.MAIN_FBX],
            on_stage=on_stage,
        )
    ]
    (result,) = results
    if result.error is not None:
        raise result.error
    return result


Follow = Callable[[Env, str, Arm], Awaitable[Any]]
SURFACES: dict[str, tuple[Callable[[Env], Awaitable[str]], Follow]] = {
    "jobs.watch": (_job, _watch),
    "jobs.watch_many": (_job, _watch_many),
    "jobs.wait": (_job, _wait),
    "volumes.wait": (_volume, _wait_volume),
    "bulk.run": (_bulk_setup, _bulk),
}


@pytest.mark.parametrize("surface", list(SURFACES))
async def test_polling_that_keeps_failing_gives_up_after_the_same_number_of_rounds(
    env: Env, surface: str
) -> None:
    setup, follow = SURFACES[surface]
    target = await setup(env)
    before = env.polls()

    with pytest.raises(APIStatusError) as caught:
        await follow(env, target, env.fail_polling_from_now)

    assert caught.value.status == 500
    # Every request since the faults started was a polling round, and each one failed.
    assert env.emu.stats.faults["graphql 500"] == MAX_FAILURES
    assert env.polls() == before
    # Between failed rounds the engine paused as between any rounds: never a hot loop.
    assert len(env.clock.sleeps) >= MAX_FAILURES - 1
    assert min(env.clock.sleeps[-(MAX_FAILURES - 1) :]) >= PollPolicy().interval


def _only_record(env: Env) -> str:
    """The job polled (or, with none, the volume): one per test, made by the surface's setup."""
    (record_id,) = list(env.emu.state.jobs) or list(env.emu.state.volumes)
    return record_id


def _fail_record(env: Env, fault: RecordFault) -> Arm:
    return lambda: env.emu.fail_record(_only_record(env), fault)


def _finished(surface: str, outcome: Any) -> None:
    if surface == "bulk.run":
        assert outcome.ok
        assert set(outcome.outputs) == {OutputType.MAIN_FBX}
    else:
        state = outcome.state if surface == "volumes.wait" else outcome.current_state
        assert state == JobState.FINISHED


TRANSIENT_FAULTS = {
    "lambda fault at the alias": RecordFault(error_type="Lambda:Unhandled"),
    "dynamodb fault inside the fields": RecordFault(
        field="progress", error_type="DynamoDB:ProvisionedThroughputExceededException"
    ),
    "throttled inside the fields": RecordFault(field="progress", error_type="ThrottlingException"),
}


@pytest.mark.parametrize("fault", list(TRANSIENT_FAULTS))
@pytest.mark.parametrize("surface", list(SURFACES))
async def test_a_transient_error_about_one_record_is_retried_within_the_limit(
    env: Env, surface: str, fault: str
) -> None:
    """AppSync's partial errors (HTTP 200, an error whose path leads to the record, null data
    there) of a transient type are failed looks, tried again: never "not found", never fatal
    short of `max_failures` looks in a row."""
    setup, follow = SURFACES[surface]
    target = await setup(env)
    injected = replace(TRANSIENT_FAULTS[fault], times=MAX_FAILURES - 1)

    outcome = await follow(env, target, _fail_record(env, injected))

    _finished(surface, outcome)
    assert env.emu.stats.faults[f"record {injected.error_type}"] == MAX_FAILURES - 1


@pytest.mark.parametrize("fault", list(TRANSIENT_FAULTS))
@pytest.mark.parametrize("surface", list(SURFACES))
async def test_a_transient_error_about_one_record_ends_its_wait_at_the_limit(
    env: Env, surface: str, fault: str
) -> None:
    setup, follow = SURFACES[surface]
    target = await setup(env)
    injected = TRANSIENT_FAULTS[fault]

    with pytest.raises(GraphQLResponseError) as caught:
        await follow(env, target, _fail_record(env, injected))

    assert not isinstance(caught.value, NotFoundError), "a record that exists is not unknown"
    assert _only_record(env) in str(caught.value)
    assert env.emu.stats.faults[f"record {injected.error_type}"] == MAX_FAILURES


@pytest.mark.parametrize("field", [None, "progress"])
@pytest.mark.parametrize("surface", list(SURFACES))
async def test_an_error_about_one_record_that_will_not_pass_ends_its_wait_at_once(
    env: Env, surface: str, field: str | None
) -> None:
    setup, follow = SURFACES[surface]
    target = await setup(env)
    injected = RecordFault(field=field, error_type="BadRequestException", message="no")

    with pytest.raises(GraphQLResponseError) as caught:
        await follow(env, target, _fail_record(env, injected))

    assert not isinstance(caught.value, NotFoundError)
    assert env.emu.stats.faults["record BadRequestException"] == 1


@pytest.mark.parametrize("surface", list(SURFACES))
async def test_polling_survives_failing_rounds_short_of_the_limit(env: Env, surface: str) -> None:
    setup, follow = SURFACES[surface]
    target = await setup(env)

    outcome = await follow(env, target, lambda: env.fail_polling_from_now(MAX_FAILURES - 1))

    assert env.emu.stats.faults["graphql 500"] == MAX_FAILURES - 1
    _finished(surface, outcome)


async def test_a_ten_minute_job_costs_at_most_thirty_requests_with_the_defaults(
    tmp_path: Path,
) -> None:
    config = EmulatorConfig(job_queue_delay=10.0, job_duration=600.0, output_lag=5.0)
    async with Emulator(config) as emu:
        clock = RoundClock(emu)
        async with AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url, clock=clock) as ugc:
            env = Env(emu, ugc, clock, tmp_path)
            job_id = await _job(env)
            before = emu.stats.operations.get("GetJobs", 0)
            job = await ugc.jobs.wait(job_id)
            polls = emu.stats.operations.get("GetJobs", 0) - before

    assert job.outputs
    assert all(o.file.presigned_url for o in job.outputs)
    assert polls <= 30, polls
    assert sum(clock.sleeps) >= 610, "the job took its ten minutes of emulated time"
    # Progress changed at every poll, yet the pause kept growing to its ceiling.
    assert math.isclose(max(clock.gaps), PollPolicy().max_interval, abs_tol=0.01)
    assert max(clock.sleeps) <= PollPolicy().max_interval


async def test_a_stated_plan_paces_polling_to_half_its_rate(tmp_path: Path) -> None:
    config = EmulatorConfig(job_queue_delay=10.0, job_duration=600.0, output_lag=5.0)
    async with Emulator(config) as emu:
        clock = RoundClock(emu)
        ugc = AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url, clock=clock, rate_limit=100)
        async with ugc:
            job_id = await _job(Env(emu, ugc, clock, tmp_path))
            await ugc.jobs.wait(job_id)

    # 100 requests an hour leave polling one request every 72 s (round start to round start).
    assert min(clock.gaps) >= 2 * 3600 / 100
    assert math.isclose(min(clock.gaps), 72.0, abs_tol=0.01)


class SlowAnswers:
    """Clock and context of one `Poller` whose every answer takes `answer_time` seconds of
    that clock; `failing` makes the answers transient errors."""

    def __init__(self, answer_time: float) -> None:
        self.answer_time = answer_time
        self.time = 0.0
        self.sleeps: list[float] = []
        self.starts: list[float] = []
        self.failing = False
        self.clock = self
        self.rate_budget = None

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.time += seconds
        await anyio.lowlevel.checkpoint()

    async def fetch(self, _ctx: object, batch: list[str]) -> Looks[str]:
        self.starts.append(self.time)
        self.time += self.answer_time
        if self.failing:
            raise APIStatusError("busy", status=503)
        return Looks(found={item: item for item in batch})


async def test_a_pause_runs_from_one_rounds_start_to_the_next() -> None:
    env = SlowAnswers(answer_time=0.4)
    poller = Poller(env, PollPolicy(interval=1.0, max_interval=4.0), env.fetch)  # type: ignore[arg-type]
    for _ in range(3):
        assert await poller.round(["a", "b"]) is not None
        await poller.sleep(poller.pause(since=0.0, requests_per_round=1))
    assert await poller.round(["a"]) is not None
    # A slow answer does not push every later look back by its own duration...
    assert [round(b - a, 6) for a, b in zip(env.starts, env.starts[1:], strict=False)] == [1.0] * 3
    assert [round(s, 6) for s in env.sleeps] == [0.6] * 3
    # ...and after a failed round, the whole pause runs from its end.
    env.failing = True
    assert await poller.round(["a"]) is None
    await poller.sleep(poller.pause(since=0.0, requests_per_round=1))
    assert env.sleeps[-1] == 1.0
    # An answer slower than the pause: the next round starts at once, never before it ends.
    env.failing, env.answer_time = False, 1.5
    assert await poller.round(["a"]) is not None
    await poller.sleep(poller.pause(since=0.0, requests_per_round=1))
    assert env.sleeps[-1] == 0.0


async def _paced_wait(tmp_path: Path, queue: float, duration: float) -> tuple[int, RoundClock]:
    config = EmulatorConfig(job_queue_delay=queue, job_duration=duration, output_lag=5.0)
    async with Emulator(config) as emu:
        clock = RoundClock(emu)
        async with AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url, clock=clock) as ugc:
            job_id = await _job(Env(emu, ugc, clock, tmp_path))
            before = emu.stats.operations.get("GetJobs", 0)
            await ugc.jobs.wait(job_id)
            return emu.stats.operations.get("GetJobs", 0) - before, clock


@pytest.mark.parametrize(
    ("queue", "duration", "most"),
    [(10.0, 600.0, 30), (300.0, 600.0, 40), (120.0, 600.0, 40), (600.0, 600.0, 40)],
)
async def test_the_pace_holds_for_the_whole_life_of_a_job_queue_included(
    tmp_path: Path, queue: float, duration: float, most: int
) -> None:
    """A job starting does not reset the pace: a 5-minute queue then a 10-minute run costs
    at most 40 requests with the defaults (a 10-minute job alone at most 30)."""
    polls, clock = await _paced_wait(tmp_path, queue, duration)

    assert polls <= most, polls
    assert sum(clock.sleeps) >= queue + duration, "the job took its emulated time"


async def test_retrieve_many_asks_fifty_jobs_a_request(env: Env) -> None:
    first = await _job(env)
    take = (await env.ugc.jobs.retrieve(first, expand=["take"])).take
    assert take is not None
    others = await asyncio.gather(*(env.ugc.jobs.create_singlecam(take.id) for _ in range(100)))
    ids = [first, *(job.id for job in others)]
    unknown = "job-00000000-0000-4000-8000-000000000000"
    before = env.emu.stats.operations.get("GetJobs", 0)

    jobs = await env.ugc.jobs.retrieve_many([*ids, ids[0]])
    asked = env.emu.stats.operations.get("GetJobs", 0) - before
    assert list(jobs) == ids
    assert asked == 3  # ceil(101 / 50)

    jobs = await env.ugc.jobs.retrieve_many([unknown, *ids[:10]])
    # An unknown id nulls its batch's answer: that batch is asked again without it.
    assert env.emu.stats.operations.get("GetJobs", 0) - before - asked == 2
    assert list(jobs) == ids[:10]
    assert await env.ugc.jobs.retrieve_many([]) == {}


async def test_retrieve_many_raises_an_error_about_one_job(env: Env) -> None:
    job_id = await _job(env)
    env.emu.fail_record(job_id, RecordFault(field="progress", error_type="BadRequestException"))
    with pytest.raises(GraphQLResponseError, match=job_id) as caught:
        await env.ugc.jobs.retrieve_many([job_id])
    assert not isinstance(caught.value, NotFoundError)


async def test_a_type_the_job_never_had_fails_once_its_outputs_settle(env: Env) -> None:
    """`download_outputs(types=...)` by a client that did not create the job: once the job is
    FINISHED and its list settled without the type, it fails at once, naming what it has."""
    job_id = await _job(env)  # asked for MAIN_FBX only
    async with AsyncMoveUgc(
        env.emu.api_key, endpoint_url=env.emu.endpoint_url, clock=env.clock
    ) as other:
        started = env.clock.now()
        with pytest.raises(OutputMissingError, match="main_fbx") as caught:
            await other.jobs.download_outputs(job_id, env.tmp / "out", types=["MAIN_USDZ"])
    assert caught.value.missing == ["MAIN_USDZ"]
    # The job ends 32 s in and is seen within one pause (at most a quarter of 40 s); its list
    # then has to stay the same for SETTLE_MIN seconds, looked at every interval: not an hour.
    policy = PollPolicy()
    assert env.clock.now() - started <= 32 + 0.25 * 40 + SETTLE_MIN + policy.interval
    assert not list((env.tmp / "out").glob("*")) if (env.tmp / "out").exists() else True


async def test_a_job_whose_request_is_unknown_is_taken_quietly_once_settled(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = await _job(env)
    async with AsyncMoveUgc(
        env.emu.api_key, endpoint_url=env.emu.endpoint_url, clock=env.clock
    ) as other:
        job = await other.jobs.wait(job_id)
    assert [o.file.presigned_url is not None for o in job.outputs or []] == [True]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


FAULT_KINDS = ("lasting at the alias", "lasting inside", "passing", "transient forever")


@pytest.mark.parametrize("seed", range(8))
async def test_errors_about_random_jobs_touch_only_those_jobs(env: Env, seed: int) -> None:
    """52 jobs (two batches) waited on together, a random subset of them meeting a random
    kind of error: each ends as its own error says, every other one finishes, none is "not
    found", and no error is fatal for the other waiters."""
    rng = random.Random(seed)
    first = await _job(env)
    take = (await env.ugc.jobs.retrieve(first, expand=["take"])).take
    assert take is not None
    ids = [first] + [
        (await env.ugc.jobs.create_singlecam(take.id, outputs=[OutputType.MAIN_FBX])).id
        for _ in range(51)
    ]
    env.emu.advance(60.0)  # every job has finished
    await env.ugc.jobs.retrieve_many(ids)  # and its outputs are written
    kinds = {job_id: rng.choice(FAULT_KINDS) for job_id in rng.sample(ids, rng.randint(1, 10))}
    for job_id, kind in kinds.items():
        env.emu.fail_record(
            job_id,
            {
                "lasting at the alias": RecordFault(error_type="BadRequestException"),
                "lasting inside": RecordFault(field="outputs", error_type="UnknownFault"),
                "passing": RecordFault(
                    field=rng.choice([None, "progress"]), times=rng.randint(1, MAX_FAILURES - 1)
                ),
                "transient forever": RecordFault(error_type="DynamoDB:InternalServerError"),
            }[kind],
        )
    waiter = env.ugc.jobs.waiter()
    async with anyio.create_task_group() as group:
        group.start_soon(waiter.run)
        ends = await _gather([waiter.wait(job_id) for job_id in ids])
        group.cancel_scope.cancel()

    for job_id, end in zip(ids, ends, strict=True):
        kind = kinds.get(job_id, "none")
        if kind in ("none", "passing"):
            assert not isinstance(end, BaseException), (kind, end)
            assert end.current_state == JobState.FINISHED
        else:
            assert isinstance(end, GraphQLResponseError), (kind, end)
            assert not isinstance(end, NotFoundError)
            assert job_id in str(end)


async def _gather(waits: list[Awaitable[Any]]) -> list[Any]:
    results: list[Any] = [None] * len(waits)

    async def one(i: int, wait: Awaitable[Any]) -> None:
        try:
            results[i] = await wait
        except Exception as exc:
            results[i] = exc

    async with anyio.create_task_group() as group:
        for i, wait in enumerate(waits):
            group.start_soon(one, i, wait)
    return results
