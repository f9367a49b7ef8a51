"""Peak memory of a client that uploads and downloads one large file, in a process of its own.

Run from the repository root:

    python -m tests.transfers._memory_probe SIZE WORKDIR

It starts the emulator in a second process (`... _memory_probe --serve ROOT`), so that only the
client's memory is measured; warms the client up with a small round trip; then a round trip of a
sparse file of SIZE/4 bytes (the baseline: every buffer, thread and connection a transfer uses
is in place after it), then one of SIZE bytes. It prints one JSON line: the peak resident set
size (`VmHWM`) after the warm-up, after the baseline and after the large round trip, in KiB, and
what it moved. Memory that does not grow with size grows little from the baseline on.
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

    small, base, large = workdir / "small.mp4", workdir / "base.mp4", workdir / "large.mp4"
    async with AsyncMoveUgc(where["api_key"], endpoint_url=where["endpoint_url"]) as ugc:
        warm = await ugc.files.upload(small)
        await ugc.files.download(warm.id, workdir / "small.back.mp4")
        warmed = peak_rss_kib()
        record = await ugc.files.upload(base)
        await ugc.files.download(record.id, workdir / "base.back.mp4")
        baseline = peak_rss_kib()
        record = await ugc.files.upload(large)
        back = await ugc.files.download(record.id, workdir / "large.back.mp4")
        after = peak_rss_kib()
    return {
        "warmed_kib": warmed,
        "baseline_kib": baseline,
        "after_kib": after,
        "baseline_size": (await anyio.Path(base).stat()).st_size,
        "uploaded": size,
        "downloaded": (await anyio.Path(back).stat()).st_size,
    }


def measure(size: int, workdir: Path) -> dict[str, Any]:
    (workdir / "small.mp4").write_bytes(b"warm-up " * 100_000)
    for name, length in (("base.mp4", size // 4), ("large.mp4", size)):
        with (workdir / name).open("wb") as handle:
            handle.truncate(length)  # sparse: reading it costs no disk
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
        for leftover in [*workdir.glob("large*"), *workdir.glob("base*")]:  # GiB: not left
            leftover.unlink()


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        asyncio.run(serve(Path(sys.argv[2])))
        return
    print(json.dumps(measure(int(sys.argv[1]), Path(sys.argv[2]))))


if __name__ == "__main__":
    main()
