"""Peak memory of a client that uploads and downloads one large file, in a process of its own.

Run from the repository root:

    python -m tests.transfers._memory_probe SIZE WORKDIR

It starts the emulator in a second process (`... _memory_probe --serve ROOT`), so that only the
client's memory is measured; warms the client up with a small round trip; then uploads a sparse
file of SIZE bytes and downloads it again. It prints one JSON line: the peak resident set size
(`VmHWM`) before and after the large transfers, in KiB, and what it moved.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio


def peak_rss_kib() -> int:
    status = Path("/proc/self/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    assert match is not None
    return int(match.group(1))


async def serve(root: Path) -> None:
    from aio_move_ugc.emulator import Emulator

    async with Emulator(root=root) as emu:
        print(json.dumps({"endpoint_url": emu.endpoint_url, "api_key": emu.api_key}), flush=True)
        # Serve until the parent closes our standard input.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


async def round_trip(where: dict[str, str], size: int, workdir: Path) -> dict[str, Any]:
    from aio_move_ugc import AsyncMoveUgc

    small, large = workdir / "small.mp4", workdir / "large.mp4"
    async with AsyncMoveUgc(where["api_key"], endpoint_url=where["endpoint_url"]) as ugc:
        warm = await ugc.files.upload(small)
        await ugc.files.download(warm.id, workdir / "small.back.mp4")
        before = peak_rss_kib()
        record = await ugc.files.upload(large)
        back = await ugc.files.download(record.id, workdir / "large.back.mp4")
        after = peak_rss_kib()
    return {
        "before_kib": before,
        "after_kib": after,
        "uploaded": size,
        "downloaded": (await anyio.Path(back).stat()).st_size,
    }


def measure(size: int, workdir: Path) -> dict[str, Any]:
    (workdir / "small.mp4").write_bytes(b"warm-up " * 100_000)
    with (workdir / "large.mp4").open("wb") as handle:
        handle.truncate(size)  # sparse: reading it costs no disk
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.transfers._memory_probe", "--serve", str(workdir / "emu")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        where = json.loads(server.stdout.readline())
        return asyncio.run(round_trip(where, size, workdir))
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=30)
        for leftover in workdir.glob("large*"):  # a gibibyte or two: do not leave it behind
            leftover.unlink()


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        asyncio.run(serve(Path(sys.argv[2])))
        return
    print(json.dumps(measure(int(sys.argv[1]), Path(sys.argv[2]))))


if __name__ == "__main__":
    main()
