"""`retry_failed` killed at every journal step: no input ever gets a second live job.

A first run leaves its input's job FAILED. Then a run with `retry_failed=True` is killed
(SIGKILL, from inside, just before its N-th journal record: the driver's `before_record` hook)
for N = 1, 2, ...
until a run gets through without reaching its N-th record; after each kill the emulator must
hold at most one job of that input that has not failed. A last run finishes: exactly one
replacement job, and the outputs are its.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from aio_move_ugc.emulator import Emulator
from tests.support import FAST

pytestmark = pytest.mark.slow

DRIVER = """
import asyncio, os, signal, sys
from aio_move_ugc import AsyncMoveUgc, OutputType

def power_cut_before(n: int) -> None:
    if n == int(sys.argv[5]):
        os.kill(os.getpid(), signal.SIGKILL)

async def main() -> None:
    key, url, video, dest = sys.argv[1:5]
    async with AsyncMoveUgc(key, endpoint_url=url) as ugc:
        async for result in ugc.bulk.run(
            [video], dest=dest, outputs=[OutputType.MAIN_FBX], retry_failed=True,
            interval=0.05, max_interval=0.1, before_record=power_cut_before,
        ):
            print("ok" if result.ok else f"failed: {result.error}", result.job_id, flush=True)

asyncio.run(main())
"""
MAX_STEPS = 30


async def run_bulk(emu: Emulator, video: Path, dest: Path, crash_after: int | None) -> int:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        DRIVER,
        emu.api_key,
        emu.endpoint_url,
        str(video),
        str(dest),
        str(crash_after or 0),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode in (0, -signal.SIGKILL), err.decode()[-2000:]
    return process.returncode


def live_jobs(emu: Emulator) -> list[str]:
    """Jobs of the emulator that have not failed (running, queued or finished)."""
    now = emu.clock.monotonic()
    return [job.id for job in emu.state.jobs.values() if job.timeline.state(now) != "FAILED"]


async def test_no_kill_point_of_retry_failed_makes_a_second_live_job(tmp_path: Path) -> None:
    video = tmp_path / "take.mp4"
    video.write_bytes(os.urandom(32 * 1024))
    dest = tmp_path / "out"
    async with Emulator(FAST) as emu:
        emu.set_failure_rate(1.0)
        assert await run_bulk(emu, video, dest, None) == 0
        (failed,) = emu.state.jobs
        assert live_jobs(emu) == []

        emu.set_failure_rate(0.0)
        left_behind = []
        for step in range(1, MAX_STEPS + 1):
            code = await run_bulk(emu, video, dest, step)
            assert len(live_jobs(emu)) <= 1, f"killed before journal record {step}"
            if code == 0:
                break
            left_behind.append(len(live_jobs(emu)))
        else:
            raise AssertionError(f"every run was killed within {MAX_STEPS} records")
        # Killed before its intent (nothing made), then between the create and its record:
        # the replacement existed and the journal did not know it; the next run found it.
        assert left_behind[:2] == [0, 1]

        assert await run_bulk(emu, video, dest, None) == 0
        (live,) = live_jobs(emu)
        assert live != failed
        assert len(emu.state.jobs) == 2, "one failed job and exactly one replacement"
        assert len(emu.state.takes) == 1
        outputs = sorted(p.name for p in dest.iterdir() if not p.name.startswith("."))
        assert outputs == [f"{live}_main_fbx.fbx"]
