"""`ugc.bulk.run` against the emulator: 30 takes end to end, request budget, bad inputs, reruns."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from aio_move_ugc import APIStatusError, AsyncMoveUgc, InvalidInputError, OutputType, RetryPolicy
from aio_move_ugc.bulk import JOURNAL_NAME, STAGES, BulkItem, BulkResult
from aio_move_ugc.emulator import Emulator, RouteFaults
from aio_move_ugc.transfers import TransferConfig
from tests.support import FAST

TAKES = 30
DEFAULT_OUTPUTS = 7
INTERVAL = 0.1

MP4_HEADER = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


def make_videos(directory: Path, count: int, *, size: int = 8192) -> list[Path]:
    """`count` small MP4 stand-ins whose contents (and so whose fingerprints) all differ."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        filler = (index.to_bytes(4, "big") + bytes(range(256))) * (size // 260 + 1)
        path = directory / f"take-{index:03d}.mp4"
        path.write_bytes((MP4_HEADER + filler)[:size])
        paths.append(path)
    return paths


def _assert_outputs_match(emu: Emulator, result: BulkResult) -> None:
    assert result.job_id is not None
    job = emu.state.jobs[result.job_id]
    assert len(job.output_files) == DEFAULT_OUTPUTS
    assert set(result.outputs) == {OutputType(kind) for kind in job.output_files}
    for kind, file_id in job.output_files.items():
        served = emu.storage.read_bytes(emu.state.files[file_id].key)
        on_disk = result.outputs[OutputType(kind)].read_bytes()
        assert on_disk == served, f"{result.job_id} {kind} differs from what was served"


async def assert_outputs_match(emu: Emulator, results: list[BulkResult]) -> None:
    """Every output each job has is on disk, byte for byte what the emulator serves (the files
    are read in a worker thread, away from the loop that serves the emulator)."""

    def check_all() -> None:
        for result in results:
            _assert_outputs_match(emu, result)

    await anyio.to_thread.run_sync(check_all)


@pytest.fixture
async def plain_emulator() -> AsyncIterator[Emulator]:
    """The emulator with fast jobs on a loop without asyncio debug mode, which would triple the
    time of the 30-take run (the other bulk tests keep the blocked-loop guard)."""
    async with Emulator(FAST) as emu:
        yield emu


async def run_bulk(
    ugc: AsyncMoveUgc, inputs: list[Path | BulkItem], dest: Path, **kwargs: object
) -> list[BulkResult]:
    results = []
    async for result in ugc.bulk.run(
        inputs,
        dest=dest,
        concurrency=8,
        interval=INTERVAL,
        max_interval=0.5,
        **kwargs,  # type: ignore[arg-type]
    ):
        results.append(result)
    return results


async def test_thirty_takes_complete_with_a_small_request_budget(
    plain_emulator: Emulator, tmp_path: Path
) -> None:
    emulator = plain_emulator
    videos = make_videos(tmp_path / "videos", TAKES)
    dest = tmp_path / "out"
    stages: dict[str, int] = dict.fromkeys(STAGES, 0)

    def on_stage(item: BulkItem, stage: str) -> None:
        stages[stage] += 1

    started = time.monotonic()
    async with AsyncMoveUgc(emulator.api_key, endpoint_url=emulator.endpoint_url) as ugc:
        results = await run_bulk(ugc, list(videos), dest, on_stage=on_stage)
    elapsed = time.monotonic() - started

    assert len(results) == TAKES
    failures = [(r.item.path.name, r.error) for r in results if not r.ok]
    assert not failures
    assert {r.item.path for r in results} == set(videos)
    assert stages == dict.fromkeys(STAGES, TAKES)
    assert not any(r.skipped for r in results)
    await assert_outputs_match(emulator, results)
    assert len({r.job_id for r in results}) == TAKES
    assert not list(dest.rglob("*.part"))

    ops = emulator.stats.operations
    print(f"\n30 takes in {elapsed:.2f}s; requests: {dict(sorted(ops.items()))}")
    assert ops["CreateFile"] == TAKES
    assert ops["CreateSingleCamTake"] == TAKES
    assert ops["CreateSingleCamJob"] == TAKES
    assert emulator.stats.storage_count("PUT", 200) == TAKES
    assert emulator.stats.storage_count("PUT") == TAKES
    # One request per polling round for all jobs together: rounds are at least INTERVAL apart.
    assert 1 <= ops["GetJobs"] <= elapsed / INTERVAL + 1
    assert ops["GetJobs"] < TAKES
    # Nothing was looked up: no outcome was unknown, nothing expired.
    assert ops["ListTakes"] == ops["ListJobs"] == ops["GetJob"] == 0
    assert len(emulator.state.takes) == len(emulator.state.jobs) == TAKES


async def test_bad_inputs_fail_alone_and_a_rerun_skips_everything(
    emulator: Emulator, tmp_path: Path
) -> None:
    videos = make_videos(tmp_path / "videos", 4)
    missing = tmp_path / "videos" / "missing.mp4"
    directory = tmp_path / "videos" / "folder.mp4"
    directory.mkdir()
    empty = tmp_path / "videos" / "empty.mp4"
    empty.write_bytes(b"")
    bad = [missing, directory, empty]
    dest = tmp_path / "out"
    inputs: list[Path | BulkItem] = [*videos[:2], *bad, *videos[2:]]

    async with AsyncMoveUgc(emulator.api_key, endpoint_url=emulator.endpoint_url) as ugc:
        first = await run_bulk(ugc, inputs, dest)
        creates_after_first = emulator.stats.snapshot()["operations"]
        second = await run_bulk(ugc, inputs, dest)

    by_path = {r.item.path: r for r in first}
    assert len(first) == len(inputs)
    for path in videos:
        assert by_path[path].ok, by_path[path].error
    await assert_outputs_match(emulator, [by_path[path] for path in videos])
    messages = {}
    for path in bad:
        result = by_path[path]
        assert not result.ok
        assert isinstance(result.error, InvalidInputError)
        assert result.job_id is None
        assert result.file_id is None
        messages[path] = str(result.error)
    assert "no such file" in messages[missing]
    assert "directory" in messages[directory]
    assert "empty" in messages[empty]
    assert emulator.stats.operations["CreateFile"] == len(videos)

    # The rerun skips what is done (no request at all for it) and fails the bad inputs again.
    again = {r.item.path: r for r in second}
    assert len(second) == len(inputs)
    for path in videos:
        assert again[path].ok
        assert again[path].skipped
        assert again[path].job_id == by_path[path].job_id
        assert again[path].outputs == by_path[path].outputs
    for path in bad:
        assert not again[path].ok
        assert isinstance(again[path].error, InvalidInputError)
    assert emulator.stats.snapshot()["operations"] == creates_after_first
    assert len(emulator.state.jobs) == len(videos)

    # The journal is JSON lines; every finished input has a `downloaded` record.
    records = [json.loads(line) for line in (dest / JOURNAL_NAME).read_text().splitlines()]
    downloaded = {r["key"] for r in records if "downloaded" in r}
    assert len(downloaded) == len(videos)


async def test_identical_videos_are_processed_once(emulator: Emulator, tmp_path: Path) -> None:
    original, other = make_videos(tmp_path / "videos", 2)
    copy = tmp_path / "videos" / "copy-of-take-000.mp4"
    copy.write_bytes(original.read_bytes())

    async with AsyncMoveUgc(emulator.api_key, endpoint_url=emulator.endpoint_url) as ugc:
        results = {r.item.path: r for r in await run_bulk(ugc, [original, copy, other], tmp_path)}

    assert all(r.ok for r in results.values())
    assert results[original].key == results[copy].key
    assert results[original].job_id == results[copy].job_id
    assert results[original].outputs == results[copy].outputs
    # Whichever of the two went first did the work; the other found it done.
    assert sorted([results[original].skipped, results[copy].skipped]) == [False, True]
    assert emulator.stats.operations["CreateFile"] == 2
    assert len(emulator.state.jobs) == 2


async def test_polling_that_keeps_failing_gives_up_and_a_rerun_resumes(
    emulator: Emulator, tmp_path: Path
) -> None:
    videos = make_videos(tmp_path / "videos", 2)
    created: list[BulkItem] = []

    def break_api_once_jobs_exist(item: BulkItem, stage: str) -> None:
        if stage == "job_created":
            created.append(item)
            if len(created) == len(videos):
                emulator.set_faults("graphql", RouteFaults(rate_500=1.0))

    quick = RetryPolicy(max_retries=1, base_delay=0.01, max_delay=0.02)
    async with AsyncMoveUgc(
        emulator.api_key, endpoint_url=emulator.endpoint_url, retry=quick
    ) as ugc:
        first = await run_bulk(ugc, list(videos), tmp_path, on_stage=break_api_once_jobs_exist)
        assert [r.ok for r in first] == [False, False]
        assert all(isinstance(r.error, APIStatusError) for r in first)
        assert all(r.job_id for r in first)

        emulator.set_faults("graphql", None)
        creates = emulator.stats.operations["CreateSingleCamJob"]
        second = await run_bulk(ugc, list(videos), tmp_path)

    assert all(r.ok and not r.skipped for r in second)
    assert {r.job_id for r in second} == {r.job_id for r in first}
    assert emulator.stats.operations["CreateSingleCamJob"] == creates == len(videos)
    await assert_outputs_match(emulator, second)


async def test_on_progress_tells_the_bytes_of_each_upload(
    emulator: Emulator, tmp_path: Path
) -> None:
    chunk = TransferConfig().chunk_size
    size = 3 * chunk + 100
    videos = make_videos(tmp_path / "videos", 2, size=size)
    seen: dict[Path, list[tuple[int, int]]] = {}
    timeline: list[tuple[Path, str]] = []

    def on_progress(item: BulkItem, done: int, total: int) -> None:
        seen.setdefault(item.path, []).append((done, total))
        timeline.append((item.path, "bytes"))

    async with AsyncMoveUgc(emulator.api_key, endpoint_url=emulator.endpoint_url) as ugc:
        results = await run_bulk(
            ugc,
            list(videos),
            tmp_path / "out",
            on_progress=on_progress,
            on_stage=lambda item, stage: timeline.append((item.path, stage)),
        )
        assert all(r.ok for r in results)
        # Each upload told its bytes as they went, chunk by chunk, up to the whole.
        assert set(seen) == set(videos)
        for reports in seen.values():
            assert [done for done, _ in reports] == [chunk, 2 * chunk, 3 * chunk, size]
            assert {total for _, total in reports} == {size}
        # ... and all of them before the input was "uploaded".
        for video in videos:
            mine = [what for path, what in timeline if path == video]
            assert mine[: mine.index("uploaded") + 1] == ["bytes"] * 4 + ["uploaded"]
        # A rerun finds everything done: nothing is uploaded, nothing is told.
        seen.clear()
        again = await run_bulk(ugc, list(videos), tmp_path / "out", on_progress=on_progress)
    assert all(r.skipped for r in again)
    assert seen == {}


async def test_on_progress_and_on_stage_must_be_callable(
    emulator: Emulator, tmp_path: Path
) -> None:
    videos = make_videos(tmp_path / "videos", 1)
    async with AsyncMoveUgc(emulator.api_key, endpoint_url=emulator.endpoint_url) as ugc:
        for name in ("on_progress", "on_stage"):
            with pytest.raises(InvalidInputError, match=name):
                await run_bulk(ugc, list(videos), tmp_path / "out", **{name: "print"})
    assert emulator.stats.graphql_requests == 0
    assert not (tmp_path / "out").exists()
