"""A cancel lands promptly while bulk reads a large video for its identity: the wait for the
hashing thread is abandoned at once and the thread stops at its next mebibyte."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import pytest

from aio_move_ugc import AsyncMoveUgc
from aio_move_ugc._steps import read_digests
from aio_move_ugc.bulk import JOURNAL_NAME
from aio_move_ugc.emulator import Emulator

pytestmark = pytest.mark.slow

MiB = 1 << 20
HEADER = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


def sparse_video(path: Path, size: int) -> Path:
    """A video of `size` bytes that takes no disk (holes read as zeros, at memory speed)."""
    with open(path, "wb") as handle:
        handle.write(HEADER)
        handle.truncate(size)
    return path


async def test_a_cancel_while_a_large_video_is_hashed_lands_at_once(
    emulator: Emulator, tmp_path: Path
) -> None:
    # The baseline: how long this machine takes to hash 64 MiB, measured now.
    sample = sparse_video(tmp_path / "sample.mp4", 64 * MiB)
    started = time.monotonic()
    await read_digests(sample)
    per_64 = time.monotonic() - started
    big = sparse_video(tmp_path / "big.mp4", 2048 * MiB)  # about 32 baselines to hash
    dest = tmp_path / "out"
    async with AsyncMoveUgc(emulator.api_key, endpoint_url=emulator.endpoint_url) as ugc:

        async def consume() -> None:
            async for _ in ugc.bulk.run([big], dest=dest):
                raise AssertionError("the run cannot end before the video is hashed")

        task = asyncio.ensure_future(consume())
        await asyncio.sleep(2 * per_64)  # well into the file (a third of it at most)
        assert not task.done()
        cancelled_at = time.monotonic()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        latency = time.monotonic() - cancelled_at
    print(f"\ncancel latency {latency * 1000:.0f} ms; hashing 64 MiB takes {per_64 * 1000:.0f} ms")
    # Far sooner than the rest of the file takes to hash (30 baselines): within one baseline.
    assert latency < per_64, (latency, per_64)
    assert emulator.stats.graphql_requests == 0
    lines = (dest / JOURNAL_NAME).read_text().splitlines()
    assert len(lines) == 1, "only the header: no identity was recorded"
    # The journal was let go: the next run opens it.
    async with AsyncMoveUgc(emulator.api_key, endpoint_url=emulator.endpoint_url) as ugc:
        runs = ugc.bulk.run([sample], dest=dest, interval=0.1)
        assert [r.ok async for r in runs] == [True]
