"""One video through the Move UGC API: upload, take, job, watch, download.

    python examples/one_take.py dance.mp4 -o out/

The client reads MOVE_UGC_API_KEY and MOVE_UGC_ENDPOINT_URL. Without an endpoint the script
starts the embedded emulator of the API and runs against that (no account, no network).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from pathlib import Path

from aio_move_ugc import (
    AsyncMoveUgc,
    JobEvent,
    JobFinished,
    JobProgressed,
    JobStateChanged,
    MoveUgcError,
    OutputsReady,
    OutputType,
    SourceFormat,
    SourceIn,
)
from aio_move_ugc.emulator import Emulator, EmulatorConfig

EMULATED = EmulatorConfig(job_queue_delay=0.3, job_duration=2.0, output_lag=0.5)
"""Timings of the embedded emulator: a job of a few seconds, so there is something to watch."""


async def process(
    ugc: AsyncMoveUgc, video: Path, out_dir: Path, outputs: list[OutputType] | None
) -> dict[OutputType, Path]:
    file = await ugc.files.upload(video)
    print(f"uploaded {video.name} as {file.id}")
    take = await ugc.takes.create_singlecam(
        [SourceIn(device_label="camera", file_id=file.id, format=SourceFormat(file.type or "MP4"))]
    )
    job = await ugc.jobs.create_singlecam(take.id, outputs=outputs)
    print(f"created take {take.id} and job {job.id}")
    async for event in ugc.jobs.watch(job.id, interval=0.5, raise_on_failure=True):
        print(f"  {event.kind}: {describe(event)}")
    return await ugc.jobs.download_outputs(job.id, out_dir)


def describe(event: JobEvent) -> str:
    """Events are a typed union: match on the class."""
    match event:
        case JobStateChanged(previous=previous, state=state):
            return f"{previous or 'new'} -> {state}"
        case JobProgressed(percentage=percentage):
            return f"{percentage}%"
        case JobFinished():
            return "waiting for the outputs' download URLs"
        case OutputsReady(outputs=outputs):
            return f"{len(outputs)} outputs have download URLs"
        case _:
            return ""


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("-o", "--output", type=Path, default=Path("one-take-out"))
    parser.add_argument("--outputs", nargs="+", metavar="TYPE", help="output types (default: all)")
    args = parser.parse_args(argv)
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
        try:
            paths = await process(ugc, args.video, args.output, outputs)
        except MoveUgcError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    for kind, path in paths.items():
        print(f"{kind.value}: {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
