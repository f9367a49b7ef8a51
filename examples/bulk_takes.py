"""Every video of a directory through the Move UGC API at once, with a summary at the end.

    python examples/bulk_takes.py videos/ -o out/ --concurrency 16

Each finished input is printed as it completes. The run is journaled in the output directory:
run the same command again after an interruption and finished inputs are skipped, started
ones resume (no second upload, take or job). The client reads MOVE_UGC_API_KEY and
MOVE_UGC_ENDPOINT_URL; without an endpoint the script starts the embedded emulator (which
forgets everything when the script ends, so give each such run a fresh output directory).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections import Counter
from pathlib import Path

from aio_move_ugc import AsyncMoveUgc, OutputType
from aio_move_ugc.bulk import BulkItem
from aio_move_ugc.emulator import Emulator, EmulatorConfig

VIDEO_SUFFIXES = {".mp4", ".mov", ".avi"}
EMULATED = EmulatorConfig(job_queue_delay=0.2, job_duration=1.0, output_lag=0.3)


async def run(
    ugc: AsyncMoveUgc,
    videos: list[Path],
    out_dir: Path,
    *,
    concurrency: int,
    outputs: list[OutputType] | None,
    interval: float,
) -> int:
    stages: Counter[str] = Counter()

    def on_stage(item: BulkItem, stage: str) -> None:
        stages[stage] += 1

    started = time.monotonic()
    done = skipped = failed = files = 0
    async for result in ugc.bulk.run(
        videos,
        dest=out_dir,
        outputs=outputs,
        concurrency=concurrency,
        interval=interval,
        on_stage=on_stage,
    ):
        name = result.item.path.name
        if result.ok:
            done += 1
            skipped += result.skipped
            files += len(result.outputs)
            note = " (finished in an earlier run)" if result.skipped else ""
            print(f"ok      {name}: job {result.job_id}, {len(result.outputs)} outputs{note}")
        else:
            failed += 1
            print(f"FAILED  {name}: {result.error}")
    elapsed = time.monotonic() - started
    print(
        f"\n{done}/{len(videos)} done ({skipped} skipped), {failed} failed, "
        f"{files} output files in {out_dir}, {elapsed:.1f}s"
    )
    print("stages passed: " + ", ".join(f"{stage} {n}" for stage, n in stages.items()))
    return 1 if failed else 0


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("-o", "--output", type=Path, default=Path("bulk-out"))
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--outputs", nargs="+", metavar="TYPE", help="output types (default: all)")
    parser.add_argument("--interval", type=float, default=5.0, help="first polling interval (s)")
    args = parser.parse_args(argv)
    videos = sorted(
        p for p in args.directory.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()
    )
    if not videos:
        print(f"error: no videos in {args.directory}", file=sys.stderr)
        return 1
    outputs = [OutputType(value) for value in args.outputs] if args.outputs else None

    async with contextlib.AsyncExitStack() as stack:
        if os.environ.get("MOVE_UGC_ENDPOINT_URL"):
            ugc = await stack.enter_async_context(AsyncMoveUgc())
        else:
            emu = await stack.enter_async_context(Emulator(EMULATED))
            print(f"no MOVE_UGC_ENDPOINT_URL: using the embedded emulator at {emu.endpoint_url}")
            ugc = await stack.enter_async_context(
                AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url)
            )
        print(f"{len(videos)} videos, {args.concurrency} at a time")
        return await run(
            ugc,
            videos,
            args.output,
            concurrency=args.concurrency,
            outputs=outputs,
            interval=args.interval,
        )


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
