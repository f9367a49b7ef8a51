"""The worker's shared job poller: one round asks ceil(N/50) GetJobs requests, whoever waits.

The poller needs no Temporal, so it runs here in the test's own loop against the emulator.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError

from aio_move_ugc import (
    AsyncMoveUgc,
    InvalidInputError,
    OutputType,
    PollPolicy,
    RateBudget,
    SourceIn,
)
from aio_move_ugc.distributed import JobPoller
from aio_move_ugc.emulator import Emulator, EmulatorConfig
from aio_move_ugc.watch import PollerStoppedError
from tests.distributed.harness import make_videos

CONFIG = EmulatorConfig(job_queue_delay=0.1, job_duration=0.4, output_lag=0.1, output_size=1024)


async def _jobs(ugc: AsyncMoveUgc, directory: Path, count: int) -> list[str]:
    video = make_videos(directory, 1, size=4096)[0]
    file = await ugc.files.upload(video)
    source = SourceIn(device_label="cam", file_id=file.id, format="MP4")  # type: ignore[arg-type]
    take = await ugc.takes.create_singlecam([source])

    async def one() -> str:
        job = await ugc.jobs.create_singlecam(take.id, outputs=[OutputType.MAIN_FBX])
        return job.id

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def test_many_waiters_share_rounds_of_fifty(tmp_path: Path) -> None:
    async with (
        Emulator(CONFIG) as emu,
        AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url) as ugc,
    ):
        first = await _jobs(ugc, tmp_path, 60)
        poller = JobPoller(ugc, interval=0.1, max_interval=0.2)
        runner = asyncio.ensure_future(poller.run())
        try:
            before = emu.stats.operations["GetJobs"]
            waits = [asyncio.ensure_future(poller.wait(j)) for j in first]
            # More waiters join while the first ones are followed (and one job twice).
            late = await _jobs(ugc, tmp_path, 45)
            waits += [asyncio.ensure_future(poller.wait(j)) for j in [*late, first[0]]]
            ends = await asyncio.wait_for(asyncio.gather(*waits), 60)
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        asked = emu.stats.operations["GetJobs"] - before
    assert all(end.finished and end.state == "FINISHED" for end in ends)
    assert all(end.job is not None and end.job.outputs for end in ends)
    assert all(o.file.presigned_url for end in ends for o in end.job.outputs or [])
    assert poller.rounds >= 2
    # Every round asked ceil(N/50) requests for the N jobs waited on then: at most 3 (105 jobs).
    assert asked == poller.requests
    assert poller.requests <= 3 * poller.rounds


async def test_failed_and_unknown_jobs_end_their_waits() -> None:
    config = EmulatorConfig(job_queue_delay=0.05, job_duration=0.1, failure_rate=1.0)
    async with (
        Emulator(config) as emu,
        AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url) as ugc,
    ):
        video = make_videos(Path(emu.root) / "in", 1, size=2048)[0]
        file = await ugc.files.upload(video)
        source = SourceIn(device_label="cam", file_id=file.id, format="MP4")  # type: ignore[arg-type]
        take = await ugc.takes.create_singlecam([source])
        job = await ugc.jobs.create_singlecam(take.id)
        poller = JobPoller(ugc, interval=0.05, max_interval=0.1)
        runner = asyncio.ensure_future(poller.run())
        try:
            failed, unknown = await asyncio.wait_for(
                asyncio.gather(
                    poller.wait(job.id),
                    poller.wait("job-00000000-0000-4000-8000-000000000000"),
                ),
                30,
            )
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
    assert (failed.finished, failed.state) == (False, "FAILED")
    assert (unknown.finished, unknown.state) == (False, "NOT_FOUND")


async def test_polling_keeps_within_half_the_budget(tmp_path: Path) -> None:
    config = EmulatorConfig(job_queue_delay=0.05, job_duration=0.2, output_lag=0.05)
    async with (
        Emulator(config) as emu,
        AsyncMoveUgc(
            emu.api_key, endpoint_url=emu.endpoint_url, rate_limit=RateBudget(6000, window=60)
        ) as ugc,
    ):
        ids = await _jobs(ugc, tmp_path, 120)
        poller = JobPoller(ugc, interval=0.01, max_interval=0.02)
        runner = asyncio.ensure_future(poller.run())
        try:
            started = asyncio.get_running_loop().time()
            ends = await asyncio.wait_for(asyncio.gather(*(poller.wait(j) for j in ids)), 60)
            took = asyncio.get_running_loop().time() - started
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
    assert all(end.finished for end in ends)
    # 120 jobs: 3 requests a round while all wait; half of 6000 per minute allows 0.02 s a
    # request, far slower than the 0.01 s interval asked for.
    assert poller.requests <= 3 * poller.rounds
    assert took >= 0.02 * (poller.requests - 3)
    with pytest.raises(InvalidInputError):
        JobPoller(ugc, interval=2.0, max_interval=1.0)


class TemporalOutage(RateBudget):
    """A request budget kept by Temporal while Temporal does not answer: each of the first
    `failing` permits asked for raises what the Temporal client raises then."""

    def __init__(self, failing: int | None) -> None:
        super().__init__(1_000_000, window=60)
        self.failing = failing
        self.asked = 0

    async def acquire(self) -> None:
        self.asked += 1
        if self.failing is None or self.asked <= self.failing:
            raise WorkflowUpdateRPCTimeoutOrCancelledError()
        await super().acquire()


async def _one_job(emu: Emulator) -> str:
    async with AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url) as ugc:
        video = make_videos(Path(emu.root) / "in", 1, size=2048)[0]
        file = await ugc.files.upload(video)
        source = SourceIn(device_label="cam", file_id=file.id, format="MP4")  # type: ignore[arg-type]
        take = await ugc.takes.create_singlecam([source])
        return (await ugc.jobs.create_singlecam(take.id, outputs=[OutputType.MAIN_FBX])).id


async def test_a_temporal_outage_is_a_failed_round_tried_again() -> None:
    async with Emulator(CONFIG) as emu:
        job_id = await _one_job(emu)
        outage = TemporalOutage(failing=3)
        async with AsyncMoveUgc(
            emu.api_key, endpoint_url=emu.endpoint_url, rate_limit=outage
        ) as ugc:
            poller = JobPoller(ugc, interval=0.01, max_interval=0.02)
            runner = asyncio.ensure_future(poller.run())
            try:
                end = await asyncio.wait_for(poller.wait(job_id, [OutputType.MAIN_FBX]), 30)
                assert not runner.done(), "the loop goes on serving later waits"
            finally:
                runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)
    assert end.finished
    assert outage.asked > 3


async def test_a_lasting_outage_fails_the_waits_and_the_loop_lives_on() -> None:
    async with Emulator(CONFIG) as emu:
        job_id = await _one_job(emu)
        outage = TemporalOutage(failing=None)
        async with AsyncMoveUgc(
            emu.api_key, endpoint_url=emu.endpoint_url, rate_limit=outage
        ) as ugc:
            poller = JobPoller(ugc, interval=0.01, max_interval=0.02)
            runner = asyncio.ensure_future(poller.run())
            try:
                with pytest.raises(WorkflowUpdateRPCTimeoutOrCancelledError):
                    await asyncio.wait_for(poller.wait(job_id), 30)
                assert outage.asked == PollPolicy().max_failures
                outage.failing = 0  # Temporal is back: the same loop serves the next wait
                end = await asyncio.wait_for(poller.wait(job_id, ["MAIN_FBX"]), 30)
                assert end.finished
            finally:
                runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)


async def test_no_wait_outlives_the_loop_that_serves_it() -> None:
    """When the loop stops, open waits fail (their activities fail and stop heartbeating),
    and a wait made after that fails at once instead of waiting for nothing."""
    async with (
        Emulator(EmulatorConfig(job_queue_delay=60.0)) as emu,
        AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url) as ugc,
    ):
        job_id = await _one_job(emu)
        poller = JobPoller(ugc, interval=0.01, max_interval=0.02)
        runner = asyncio.ensure_future(poller.run())
        waiting = asyncio.ensure_future(poller.wait(job_id))
        for _ in range(1000):  # until the loop has served the wait twice
            if poller.rounds >= 2:
                break
            await asyncio.sleep(0.01)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        with pytest.raises(PollerStoppedError):
            await asyncio.wait_for(waiting, 5)
        assert poller.stopped
        with pytest.raises(PollerStoppedError):
            await asyncio.wait_for(poller.wait(job_id), 5)
