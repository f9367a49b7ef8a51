"""The testing kit's simulated time and in-process transport: a ten-minute job followed in a
fraction of a second, and a client that reaches the emulator's API without a socket."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from aio_move_ugc import (
    APIConnectionError,
    AsyncMoveUgc,
    AuthenticationError,
    ConfigurationError,
    JobState,
    OutputType,
    RetryPolicy,
    SourceFormat,
    SourceIn,
)
from aio_move_ugc.emulator import Emulator, RouteFaults
from aio_move_ugc.testing import EmulatorClock, EmulatorThread, InProcessTransport
from tests.support import FAST, FAST_RETRY, MakeEmulator

TEN_MINUTES = 600.0


async def _job(ugc: AsyncMoveUgc, tmp_path: Path) -> str:
    video = tmp_path / "take.mp4"
    video.write_bytes(b"\x00" * 2048)
    file = await ugc.files.upload(video)
    take = await ugc.takes.create_singlecam(
        [SourceIn(device_label="cam", file_id=file.id, format=SourceFormat.MP4)]
    )
    job = await ugc.jobs.create_singlecam(take.id, outputs=[OutputType.MAIN_FBX])
    return job.id


async def test_a_ten_minute_job_is_followed_on_the_emulators_time(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emu = await make_emulator(job_queue_delay=0.0, job_duration=TEN_MINUTES, output_lag=5.0)
    clock = EmulatorClock(emu)
    async with AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url, clock=clock) as ugc:
        job_id = await _job(ugc, tmp_path)
        server_start = emu.clock.monotonic()
        real_start = time.monotonic()
        job = await ugc.jobs.wait(job_id)
        real = time.monotonic() - real_start
        emulated = emu.clock.monotonic() - server_start

    assert job.current_state == JobState.FINISHED
    assert emulated >= TEN_MINUTES, "the job cannot end before ten minutes of its time"
    assert sum(clock.slept) >= TEN_MINUTES - real, "the time was slept on the clock"
    assert emulated < sum(clock.slept) + real + 1.0, "time moved only by the waits asked for"
    assert emu.stats.operations["GetJobs"] + emu.stats.operations.get("GetJob", 0) <= 30
    print(f"ten emulated minutes followed in {real:.3f} s of real time")


def test_the_kits_client_runs_on_the_emulators_clock(tmp_path: Path) -> None:
    with EmulatorThread(FAST, job_duration=TEN_MINUTES) as emu:

        async def follow() -> tuple[JobState | None, float]:
            async with emu.client() as ugc:
                job_id = await _job(ugc, tmp_path)
                before = emu.emulator.clock.monotonic()
                job = await ugc.jobs.wait(job_id)
                return job.current_state, emu.emulator.clock.monotonic() - before

        state, emulated = asyncio.run(follow())
        assert state == JobState.FINISHED
        assert emulated >= TEN_MINUTES


async def test_waits_that_overlap_do_not_add_up(emulator: Emulator) -> None:
    clock = EmulatorClock(emulator)
    start = clock.now()
    await asyncio.gather(*(clock.sleep(5.0) for _ in range(10)))
    moved = clock.now() - start
    assert clock.slept == [5.0] * 10
    assert 5.0 <= moved < 6.0, "ten waits of 5 s side by side last 5 s, not 50"


async def test_in_process_calls_open_no_connection(emulator: Emulator) -> None:
    transport = InProcessTransport(emulator)
    async with AsyncMoveUgc(
        emulator.api_key, endpoint_url=emulator.endpoint_url, transport=transport
    ) as ugc:
        client = await ugc.client.retrieve()
        rigs = await ugc.rigs.list()
        assert client.id == emulator.state.client.id
        assert rigs
    assert emulator.stats.operations["GetClient"] == 1
    assert emulator.stats.connections == 0, "no request reached the HTTP server"


async def test_in_process_answers_carry_faults_keys_and_retries(emulator: Emulator) -> None:
    transport = InProcessTransport(emulator)
    async with AsyncMoveUgc(
        "not-the-emulator-key-0000",
        endpoint_url=emulator.endpoint_url,
        transport=transport,
    ) as wrong:
        with pytest.raises(AuthenticationError):
            await wrong.client.retrieve()

    emulator.set_faults("graphql", RouteFaults(reset_rate=1.0))
    async with AsyncMoveUgc(
        emulator.api_key,
        endpoint_url=emulator.endpoint_url,
        transport=transport,
        retry=RetryPolicy(max_retries=2, base_delay=0.001, max_delay=0.001),
    ) as ugc:
        with pytest.raises(APIConnectionError):
            await ugc.client.retrieve()
        assert emulator.stats.faults["graphql reset"] == 3, "one try and two retries"
        emulator.set_faults("graphql", None)
        assert (await ugc.client.retrieve()).id == emulator.state.client.id


async def test_in_process_flow_moves_files_over_storage(emulator: Emulator, tmp_path: Path) -> None:
    async with AsyncMoveUgc(
        emulator.api_key,
        endpoint_url=emulator.endpoint_url,
        transport=InProcessTransport(emulator),
        clock=EmulatorClock(emulator),
        retry=FAST_RETRY,
    ) as ugc:
        job_id = await _job(ugc, tmp_path)
        paths = await ugc.jobs.download_outputs(job_id, tmp_path / "out")
    assert set(paths) == {OutputType.MAIN_FBX}
    assert paths[OutputType.MAIN_FBX].stat().st_size == FAST.output_size


def test_a_thread_emulator_answers_in_process(tmp_path: Path) -> None:
    with EmulatorThread(FAST) as emu:

        async def use() -> str:
            async with emu.client(transport=InProcessTransport(emu)) as ugc:
                return await _job(ugc, tmp_path)

        job_id = asyncio.run(use())
        assert job_id in emu.call(lambda: set(emu.emulator.state.jobs))


def test_a_transport_must_be_one() -> None:
    with pytest.raises(ConfigurationError, match="transport must be an ApiTransport"):
        AsyncMoveUgc("k" * 16, endpoint_url="http://127.0.0.1:9/graphql", transport=object())  # type: ignore[arg-type]
