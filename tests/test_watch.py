"""Watching jobs and volumes against the emulator: event order, failures, late outputs, batching."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from aio_move_ugc import (
    AsyncMoveUgc,
    HumanVolume,
    Job,
    JobEvent,
    JobFailed,
    JobFailedError,
    JobFinished,
    JobNotFound,
    JobProgressed,
    JobState,
    JobStateChanged,
    OutputsReady,
    SourceIn,
    WatchTimeoutError,
)
from aio_move_ugc.emulator import Emulator
from tests.support import FAST, slow_callback

VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4
LENS = "goprohero10-2-7k"
POLL = {"interval": 0.02, "max_interval": 0.05}
"""Poll every 20-50 ms: the emulator's jobs take a few hundred milliseconds."""

StartEmulator = Callable[..., Any]


@pytest.fixture
async def start_emulator() -> AsyncIterator[Callable[..., Any]]:
    """Emulators with the test's own timings (fast by default), all stopped afterwards."""
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = slow_callback()
    running: list[Emulator] = []

    async def start(**overrides: Any) -> Emulator:
        emu = Emulator(replace(FAST, **overrides))
        await emu.start()
        running.append(emu)
        return emu

    yield start
    for emu in running:
        await emu.stop()


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., AsyncMoveUgc]]:
    clients: list[AsyncMoveUgc] = []

    def make(emu: Emulator, *, endpoint_url: str | None = None) -> AsyncMoveUgc:
        client = AsyncMoveUgc(emu.api_key, endpoint_url=endpoint_url or emu.endpoint_url)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


async def _take_id(ugc: AsyncMoveUgc, tmp_path: Path) -> str:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(VIDEO)
    video = await ugc.files.upload(clip)
    take = await ugc.takes.create_singlecam(
        [SourceIn(device_label="cam", file_id=video.id, format="MP4")]
    )
    return take.id


async def _new_job(ugc: AsyncMoveUgc, tmp_path: Path) -> Job:
    return await ugc.jobs.create_singlecam(await _take_id(ugc, tmp_path))


def _state_changes(events: list[JobEvent]) -> list[JobState | str]:
    return [e.state for e in events if isinstance(e, JobStateChanged)]


# ------------------------------------------------------------------ one job


async def test_watch_reports_each_step_of_a_finishing_job_once_in_order(
    start_emulator: StartEmulator, connect: Callable[..., AsyncMoveUgc], tmp_path: Path
) -> None:
    # A queue long enough for the first poll to find the job NOT_STARTED on a busy machine.
    emu = await start_emulator(job_queue_delay=0.6, job_duration=0.4, output_lag=0.2)
    ugc = connect(emu)
    job = await _new_job(ugc, tmp_path)

    events = [event async for event in ugc.jobs.watch(job.id, **POLL)]

    assert all(e.job_id == job.id and e.source == "poll" for e in events)
    kinds = [e.kind for e in events]
    # Collapse the run of progress events to read the shape of the sequence.
    shape = [k for i, k in enumerate(kinds) if k != "progress" or kinds[i - 1] != "progress"]
    assert shape == [
        "state_changed",
        "state_changed",
        "progress",
        "state_changed",
        "finished",
        "outputs_ready",
    ]
    assert _state_changes(events) == [JobState.NOT_STARTED, JobState.RUNNING, JobState.FINISHED]
    changes = [e for e in events if isinstance(e, JobStateChanged)]
    assert [c.previous for c in changes] == [None, JobState.NOT_STARTED, JobState.RUNNING]
    percentages = [e.percentage for e in events if isinstance(e, JobProgressed)]
    assert percentages == sorted(set(percentages))
    assert all(0 <= p < 100 for p in percentages)
    ready = events[-1]
    assert isinstance(ready, OutputsReady)
    assert ready.outputs
    assert all(output.file.presigned_url for output in ready.outputs)
    assert ready.job is not None
    assert ready.job.outputs == ready.outputs


async def test_watch_ends_a_failing_job_with_job_failed(
    start_emulator: StartEmulator, connect: Callable[..., AsyncMoveUgc], tmp_path: Path
) -> None:
    emu = await start_emulator(failure_rate=1.0)
    ugc = connect(emu)
    job = await _new_job(ugc, tmp_path)

    events = [event async for event in ugc.jobs.watch(job.id, **POLL)]

    assert isinstance(events[-1], JobFailed)
    assert events[-1].state == JobState.FAILED
    assert _state_changes(events)[-1] == JobState.FAILED
    assert not any(isinstance(e, JobFinished | OutputsReady) for e in events)


async def test_watch_raises_job_failed_error_when_asked(
    start_emulator: StartEmulator, connect: Callable[..., AsyncMoveUgc], tmp_path: Path
) -> None:
    emu = await start_emulator(failure_rate=1.0)
    ugc = connect(emu)
    job = await _new_job(ugc, tmp_path)
    seen: list[JobEvent] = []

    async def follow() -> None:
        async for event in ugc.jobs.watch(job.id, raise_on_failure=True, **POLL):
            seen.append(event)

    with pytest.raises(JobFailedError) as caught:
        await follow()

    assert caught.value.job_id == job.id
    assert caught.value.state == "FAILED"
    assert not any(isinstance(e, JobFailed) for e in seen)
    with pytest.raises(JobFailedError):
        await ugc.jobs.wait(job.id, **POLL)


async def test_outputs_ready_comes_after_the_output_lag(
    start_emulator: StartEmulator, connect: Callable[..., AsyncMoveUgc], tmp_path: Path
) -> None:
    lag = 1.0
    emu = await start_emulator(job_queue_delay=0.05, job_duration=0.3, output_lag=lag)
    ugc = connect(emu)
    take_id = await _take_id(ugc, tmp_path)
    created_at = time.monotonic()
    job = await ugc.jobs.create_singlecam(take_id)
    seen: list[tuple[float, JobEvent]] = []

    async for event in ugc.jobs.watch(job.id, **POLL):
        seen.append((time.monotonic(), event))

    (finished_at, finished), (ready_at, ready) = seen[-2], seen[-1]
    assert isinstance(finished, JobFinished)
    assert isinstance(ready, OutputsReady)
    assert finished.job is not None
    assert not all(o.file.presigned_url for o in finished.job.outputs or [])
    assert finished_at < ready_at
    # The outputs cannot be seen ready before the emulator makes them so.
    assert ready_at - created_at >= 0.05 + 0.3 + lag


async def test_until_terminal_stops_at_finished_without_waiting_for_outputs(
    start_emulator: StartEmulator, connect: Callable[..., AsyncMoveUgc], tmp_path: Path
) -> None:
    lag = 2.0
    emu = await start_emulator(job_duration=0.3, output_lag=lag)
    ugc = connect(emu)
    job = await _new_job(ugc, tmp_path)
    events: list[JobEvent] = []
    finished_at = math.inf

    async for event in ugc.jobs.watch(job.id, until="terminal", **POLL):
        events.append(event)
        if isinstance(event, JobFinished):
            finished_at = time.monotonic()
    ended_at = time.monotonic()

    assert isinstance(events[-1], JobFinished)
    assert not any(isinstance(e, OutputsReady) for e in events)
    assert ended_at - finished_at < lag / 4
    waited = await ugc.jobs.wait(job.id, until="terminal", **POLL)
    assert waited.current_state == JobState.FINISHED


async def test_watch_raises_watch_timeout_error_at_the_deadline(
    start_emulator: StartEmulator, connect: Callable[..., AsyncMoveUgc], tmp_path: Path
) -> None:
    emu = await start_emulator(job_duration=5.0)
    ugc = connect(emu)
    job = await _new_job(ugc, tmp_path)
    started = time.monotonic()

    with pytest.raises(WatchTimeoutError) as caught:
        async for _ in ugc.jobs.watch(job.id, timeout=0.3, **POLL):
            pass

    assert 0.3 <= time.monotonic() - started < 3.0
    assert caught.value.job_id == job.id
    with pytest.raises(WatchTimeoutError):
        await ugc.jobs.wait(job.id, timeout=0.2, **POLL)


async def test_watch_takes_a_last_look_at_the_deadline(
    start_emulator: StartEmulator, connect: Callable[..., AsyncMoveUgc], tmp_path: Path
) -> None:
    # While the job waits in NOT_STARTED nothing changes and polls drift apart (0, 0.3,
    # 0.75 s, then 1.4 s): the job ends at about 0.95 s, and the look at the 1.3 s deadline
    # must still see it instead of giving up unseen.
    emu = await start_emulator(job_queue_delay=0.9, job_duration=0.05, output_lag=0.0)
    ugc = connect(emu)
    job = await _new_job(ugc, tmp_path)

    events = [e async for e in ugc.jobs.watch(job.id, interval=0.3, max_interval=5.0, timeout=1.3)]

    assert isinstance(events[-1], OutputsReady)
    assert _state_changes(events)[-1] == JobState.FINISHED


async def test_breaking_out_of_watch_leaves_nothing_running(
    emulator: Emulator, connect: Callable[..., AsyncMoveUgc], tmp_path: Path
) -> None:
    ugc = connect(emulator)
    job = await _new_job(ugc, tmp_path)
    before = asyncio.all_tasks()

    watch = ugc.jobs.watch(job.id, **POLL)
    async for event in watch:
        assert isinstance(event, JobStateChanged)
        break
    await watch.aclose()  # type: ignore[attr-defined]

    assert asyncio.all_tasks() == before
    # The client is still usable after the abandoned watch.
    assert (await ugc.jobs.retrieve(job.id)).id == job.id


async def test_cancelling_a_watching_task_propagates_cancelled_error(
    start_emulator: StartEmulator, connect: Callable[..., AsyncMoveUgc], tmp_path: Path
) -> None:
    emu = await start_emulator(job_duration=60.0)  # still running when the task is cancelled
    ugc = connect(emu)
    job = await _new_job(ugc, tmp_path)
    first = asyncio.Event()
    seen: list[JobEvent] = []

    async def consume() -> None:
        async for event in ugc.jobs.watch(job.id, interval=10.0, max_interval=10.0):
            seen.append(event)
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert seen
    assert not any(isinstance(e, JobFinished | JobFailed) for e in seen)


# ------------------------------------------------------------------ many jobs


@contextlib.asynccontextmanager
async def _emulator_in_a_thread(**overrides: Any) -> AsyncIterator[Emulator]:
    """An emulator serving from its own thread and event loop.

    Answering 50 jobs in one request keeps the emulator busy for a good part of a second
    (graphql-core parses, validates and executes on its loop); in a thread of its own that
    time does not count against the test's event loop, which is watched for blocking.
    """
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="emulator", daemon=True)
    thread.start()
    emu = Emulator(replace(FAST, **overrides))
    try:
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(emu.start(), loop))
        yield emu
    finally:
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(emu.stop(), loop))
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(thread.join)
        loop.close()


class _RoundKeeper:
    """A pass-through proxy in front of the emulator's GraphQL route that notes which job ids
    each `GetJobs` request asked for, and moves the emulator's clock `step` seconds forward
    at the start of every polling round after the first.

    A round asks for each watched job once, so a request naming a job the current round has
    already asked for starts the next round.
    """

    def __init__(self, emu: Emulator, *, step: float) -> None:
        self.emu = emu
        self.step = step
        self.rounds: list[list[list[str]]] = []
        """Per round, per request, the job ids asked for."""
        self._asked: set[str] = set()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    @property
    def requests(self) -> int:
        return sum(len(r) for r in self.rounds)

    def _note(self, job_ids: list[str]) -> None:
        if not self.rounds or self._asked & set(job_ids):
            if self.rounds:
                self.emu.advance(self.step)
            self.rounds.append([])
            self._asked = set()
        self.rounds[-1].append(job_ids)
        self._asked.update(job_ids)

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        sent = json.loads(body)
        if sent.get("operationName") == "GetJobs":
            variables = sent.get("variables") or {}
            self._note([variables[f"j{i}"] for i in range(len(variables))])
        assert self._session is not None
        headers = {
            "Authorization": request.headers.get("Authorization", ""),
            "Content-Type": "application/json",
        }
        async with self._session.post(self.emu.endpoint_url, data=body, headers=headers) as resp:
            answer = await resp.read()
            return web.Response(status=resp.status, body=answer, content_type="application/json")

    async def __aenter__(self) -> _RoundKeeper:
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_post("/graphql", self._forward)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/graphql"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        assert self._session is not None
        await self._runner.cleanup()
        await self._session.close()


async def test_watch_many_polls_200_jobs_50_per_request_and_drops_finished_ones(
    tmp_path: Path,
) -> None:
    # Four waves of 50 jobs, each 100 s (of emulator time) younger than the one before; every
    # round moves the emulator 100 s on, so one more wave has finished at each round.
    step = 100.0
    started = time.monotonic()
    async with (
        _emulator_in_a_thread(job_queue_delay=0.0, job_duration=1000.0, output_lag=0.0) as emu,
        AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url) as ugc,
    ):
        take_id = await _take_id(ugc, tmp_path)
        slots = asyncio.Semaphore(16)

        async def create() -> str:
            async with slots:
                return (await ugc.jobs.create_singlecam(take_id)).id

        waves: list[list[str]] = []
        for _ in range(4):
            waves.append(list(await asyncio.gather(*(create() for _ in range(50)))))
            emu.advance(step)
        emu.advance(1000.0 - 4 * step)  # the first wave has just finished
        job_ids = [job_id for wave in waves for job_id in wave]
        assert len(set(job_ids)) == 200

        before = emu.stats.operations["GetJobs"]
        created = time.monotonic()
        # The loop guard looks at the watching (debug mode makes the setup above slow).
        loop = asyncio.get_running_loop()
        loop.set_debug(True)
        loop.slow_callback_duration = slow_callback()
        events: list[tuple[int, JobEvent]] = []
        async with (
            _RoundKeeper(emu, step=step) as keeper,
            AsyncMoveUgc(emu.api_key, endpoint_url=keeper.url) as watcher,
        ):
            async for event in watcher.jobs.watch_many(job_ids, timeout=30, **POLL):
                events.append((len(keeper.rounds) - 1, event))
        loop.set_debug(False)

    # Every request went through the proxy; each round asked for each remaining job once,
    # 50 per request.
    assert emu.stats.operations["GetJobs"] - before == keeper.requests
    per_round = [len(r) for r in keeper.rounds]
    for requests in keeper.rounds:
        asked = [job_id for request in requests for job_id in request]
        assert all(1 <= len(request) <= 50 for request in requests)
        assert len(asked) == len(set(asked))
        assert len(requests) == math.ceil(len(asked) / 50)
    # One wave finished per round and dropped out of the next.
    assert per_round == [4, 3, 2, 1]
    for index, requests in enumerate(keeper.rounds):
        asked = {job_id for request in requests for job_id in request}
        assert asked == {job_id for wave in waves[index:] for job_id in wave}

    # Every job ended exactly once, in the round its wave finished, each state seen once.
    ended = Counter((type(e).__name__, e.job_id) for _, e in events)
    ready_round = {e.job_id: r for r, e in events if isinstance(e, OutputsReady)}
    states: dict[str, list[JobState | str]] = {}
    for _, e in events:
        if isinstance(e, JobStateChanged):
            states.setdefault(e.job_id, []).append(e.state)
    for index, wave in enumerate(waves):
        for job_id in wave:
            assert ended[("JobFinished", job_id)] == 1
            assert ended[("OutputsReady", job_id)] == 1
            assert ended[("JobFailed", job_id)] == 0
            assert ready_round[job_id] == index
            assert len(states[job_id]) == len(set(states[job_id]))
            assert states[job_id][-1] == JobState.FINISHED
    print(
        f"GetJobs requests per round: {per_round}; creating took {created - started:.1f} s,"
        f" watching {time.monotonic() - created:.1f} s"
    )


async def test_watch_many_reports_an_unknown_job_and_goes_on_with_the_others(
    emulator: Emulator, connect: Callable[..., AsyncMoveUgc], tmp_path: Path
) -> None:
    ugc = connect(emulator)
    take_id = await _take_id(ugc, tmp_path)
    jobs = [await ugc.jobs.create_singlecam(take_id) for _ in range(3)]
    ghost = f"job-{uuid.uuid4()}"
    ids = [jobs[0].id, ghost, jobs[1].id, jobs[2].id]

    events = [e async for e in ugc.jobs.watch_many(ids, timeout=10, **POLL)]

    missing = [e for e in events if isinstance(e, JobNotFound)]
    assert [e.job_id for e in missing] == [ghost]
    assert not any(e.job_id == ghost for e in events if not isinstance(e, JobNotFound))
    ready = {e.job_id for e in events if isinstance(e, OutputsReady)}
    assert ready == {job.id for job in jobs}


# ------------------------------------------------------------------ volumes


async def test_volumes_wait_returns_the_finished_volume(
    emulator: Emulator, connect: Callable[..., AsyncMoveUgc], tmp_path: Path
) -> None:
    ugc = connect(emulator)
    sources = []
    for i in range(2):
        clip = tmp_path / f"cam{i}.mp4"
        clip.write_bytes(VIDEO)
        video = await ugc.files.upload(clip)
        sources.append(
            SourceIn(
                device_label=f"cam{i}",
                file_id=video.id,
                format="MP4",
                camera_settings={"lens": LENS},
            )
        )
    volume = await ugc.volumes.create_human_volume(sources, human_height=1.8, area_type="NORMAL")

    done = await ugc.volumes.wait(volume.id, timeout=5, **POLL)

    assert isinstance(done, HumanVolume)
    assert done.id == volume.id
    assert done.state == JobState.FINISHED
