"""Load from one client: many concurrent API calls and transfers, then nothing left open."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import os
from pathlib import Path

import pytest

from aio_move_ugc import AsyncMoveUgc, SourceIn
from aio_move_ugc.emulator import Emulator
from aio_move_ugc.transfers import TransferConfig

pytestmark = pytest.mark.slow


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _a_job(ugc: AsyncMoveUgc, tmp_path: Path) -> str:
    video = tmp_path / "seed.mp4"
    video.write_bytes(b"\x00" * 2048)
    file = await ugc.files.upload(video)
    take = await ugc.takes.create_singlecam(
        [SourceIn(device_label="cam", file_id=file.id, format="MP4")]  # type: ignore[arg-type]
    )
    job = await ugc.jobs.create_singlecam(take.id)
    return job.id


async def test_thousand_concurrent_retrieves_then_no_fd_growth(
    emulator: Emulator, tmp_path: Path
) -> None:
    fds_before = _open_fds()
    async with AsyncMoveUgc(
        emulator.api_key, endpoint_url=emulator.endpoint_url, connection_limit=20
    ) as ugc:
        job_id = await _a_job(ugc, tmp_path)
        before = emulator.stats.operations["GetJob"]
        tasks = []
        for _ in range(10):  # start them in batches so no single step holds the loop
            tasks += [asyncio.create_task(ugc.jobs.retrieve(job_id)) for _ in range(100)]
            await asyncio.sleep(0)
        jobs = await asyncio.gather(*tasks)
        assert {job.id for job in jobs} == {job_id}
        assert emulator.stats.operations["GetJob"] - before == 1000
        assert ugc.requests_sent == 3 + 1000  # createFile, take, job, then the 1,000
    # The pool was bounded by connection_limit, and the client released every connection.
    assert emulator.stats.connections <= 20 + 2
    gc.collect()
    assert _open_fds() <= fds_before


async def test_hundred_concurrent_transfers_then_no_fd_growth(
    emulator: Emulator, tmp_path: Path
) -> None:
    videos = []
    for i in range(100):
        path = tmp_path / f"v{i:03d}.mp4"
        path.write_bytes(os.urandom(64 * 1024 + i))
        videos.append(path)
    fds_before = _open_fds()
    config = TransferConfig(max_concurrent_transfers=100, connection_limit=32)
    async with AsyncMoveUgc(
        emulator.api_key, endpoint_url=emulator.endpoint_url, transfer_config=config
    ) as ugc:
        files = await asyncio.gather(*(ugc.files.upload(v) for v in videos))
        out = tmp_path / "back"
        out.mkdir()
        paths = await asyncio.gather(
            *(ugc.files.download(f.id, out / f"{i:03d}.mp4") for i, f in enumerate(files))
        )
    for video, path in zip(videos, paths, strict=True):
        assert (
            hashlib.sha256(path.read_bytes()).digest()
            == hashlib.sha256(video.read_bytes()).digest()
        )
    assert emulator.stats.storage_count("PUT", 200) == 100
    assert emulator.stats.storage_count("GET", 206) == 100  # one ranged GET per small object
    assert not [p for p in out.iterdir() if p.name.endswith((".part", ".part.json"))]
    gc.collect()
    assert _open_fds() <= fds_before
