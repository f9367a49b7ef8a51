"""`ugc.bulk.run` end to end (upload → take → job → watch → download) against its lower bound.

The emulator runs in its own process; each job takes T seconds there (queue + running +
output lag) and has one output of the input's size S. No pipeline can finish before
T + (bytes up) / (storage's PUT throughput) + (bytes down) / (storage's GET throughput): the
last job cannot start before every input is stored, nor end before T has passed, nor land
before its output is read back. Both throughputs are curl's, on one large object of the same
emulator, measured in the same repetition. That is the bound the aim uses.

An earlier, looser figure is kept in the report for comparison: T + (all bytes) / (curl's GET
speed). It is not a lower bound: it assumes the storage takes uploads as fast as it serves
downloads, while this emulator (one Python process computing each object's MD5 as it arrives)
takes PUTs about five times slower than it serves GETs — the SDK cannot upload faster than the
storage accepts.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from aio_move_ugc import AsyncMoveUgc

from ._common import (
    EmulatorProcess,
    Row,
    aim,
    curl_speed,
    fmt,
    print_rows,
    process_cpu,
    result,
    stats_delta,
    storage_requests,
    summary,
)

NAME = "bulk"
MiB = 1 << 20


def _inputs(directory: Path, count: int, size: int) -> list[Path]:
    """`count` distinct videos of `size` bytes (distinct first MiB, so distinct fingerprints)."""
    block = os.urandom(size)
    paths = []
    for i in range(count):
        path = directory / f"clip-{i:03d}.mp4"
        path.write_bytes(i.to_bytes(8, "big") + block[8:])
        paths.append(path)
    return paths


async def _probe_url(ugc: AsyncMoveUgc, path: Path) -> str:
    """A presigned GET URL of a large object on the emulator's storage."""
    file = await ugc.files.upload(path)
    fresh = await ugc.files.retrieve(file.id)
    assert fresh.presigned_url
    return fresh.presigned_url


def _curl_put_speed(emu: EmulatorProcess, path: Path, runs: int = 3) -> float:
    """curl's upload speed (bytes/s, median) to fresh presigned PUT URLs of the emulator."""

    async def put_url() -> str:
        async with AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url) as ugc:
            url = (await ugc.files.create("mp4")).presigned_url
            assert url
            return url

    speeds = []
    for _ in range(runs):
        url = asyncio.run(put_url())
        command = ["curl", "-s", "-f", "-T", str(path), "-H", "Content-Type:", "-o", os.devnull]
        out = subprocess.run(
            [*command, "-w", "%{speed_upload}", url],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        speeds.append(float(out.stdout.strip()))
    return statistics.median(speeds)


async def _bulk(
    ugc: AsyncMoveUgc, paths: list[Path], dest: Path
) -> tuple[float, int, dict[str, float]]:
    """Wall time, inputs done, and when the last input passed each stage (s from the start)."""
    started = time.perf_counter()
    stages: dict[str, float] = {}

    def on_stage(_item: object, stage: str) -> None:
        stages[stage] = time.perf_counter() - started

    ok = 0
    async for outcome in ugc.bulk.run(
        paths,
        dest=dest,
        outputs=["MAIN_FBX"],
        concurrency=8,
        interval=0.25,
        max_interval=1.0,
        on_stage=on_stage,
    ):
        if not outcome.ok:
            raise RuntimeError(f"bulk input failed: {outcome.error}")
        ok += 1
    return time.perf_counter() - started, ok, stages


def _write_random(path: Path, size: int) -> None:
    with path.open("wb") as handle:
        for _ in range(size // MiB):
            handle.write(os.urandom(MiB))


def run(quick: bool = False) -> dict[str, Any]:
    if shutil.which("curl") is None:
        raise RuntimeError("curl measures the lower bound; install it (apt-get install -y curl)")
    started = time.perf_counter()
    count = 8 if quick else 50
    size = 256 * 1024 if quick else 4 * MiB
    get_probe = 16 * MiB if quick else 256 * MiB
    put_probe = 16 * MiB if quick else 64 * MiB
    reps = 1 if quick else 3
    timing = (
        {"queue_delay": 0.1, "job_duration": 0.3, "output_lag": 0.1}
        if quick
        else {"queue_delay": 0.2, "job_duration": 1.5, "output_lag": 0.3}
    )
    job_time = sum(timing.values())
    up = down = count * size  # every input goes up once and its one output comes down once
    details: list[dict[str, Any]] = []
    with TemporaryDirectory(prefix="bench-bulk-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "in").mkdir()
        paths = _inputs(tmp / "in", count, size)
        probe = tmp / "probe.mp4"
        _write_random(probe, get_probe)
        with EmulatorProcess(output_size=size, **timing) as emu:

            async def probe_url() -> str:
                async with AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url) as ugc:
                    return await _probe_url(ugc, probe)

            url = asyncio.run(probe_url())
            _write_random(probe, put_probe)
            for rep in range(reps):
                get_speed = curl_speed(url)
                if get_speed is None:
                    raise RuntimeError("curl is needed for the bulk benchmark's lower bound")
                put_speed = _curl_put_speed(emu, probe)
                before = emu.stats()
                cpu_client, cpu_server = process_cpu(), process_cpu(emu.pid)

                async def one(rep: int = rep) -> tuple[float, int, dict[str, float], int]:
                    async with AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url) as ugc:
                        wall, ok, stages = await _bulk(ugc, paths, tmp / f"out-{rep}")
                        return wall, ok, stages, ugc.requests_sent

                wall, ok, stages, sent = asyncio.run(one())
                delta = stats_delta(before, emu.stats())
                details.append(
                    {
                        "wall_s": wall,
                        "bound_s": job_time + (up + down) / get_speed["median"],
                        "bound_put_get_s": job_time + up / put_speed + down / get_speed["median"],
                        "curl_get_MiB_s": get_speed["median"] / MiB,
                        "curl_put_MiB_s": put_speed / MiB,
                        "last_input_at_stage_s": stages,
                        "ok": ok,
                        "graphql_requests": delta["graphql_requests"],
                        "operations": delta["operations"],
                        "storage_requests": storage_requests(delta),
                        "storage": delta["storage"],
                        "client_requests_sent": sent,
                        "client_cpu_s": process_cpu() - cpu_client,
                        "server_cpu_s": process_cpu(emu.pid) - cpu_server,
                    }
                )
                shutil.rmtree(tmp / f"out-{rep}", ignore_errors=True)

    def col(key: str) -> list[float]:
        return [float(d[key]) for d in details]

    walls = col("wall_s")
    first = details[0]
    rows = [
        Row(
            "bulk.run: wall time",
            "s",
            walls,
            ratios={
                "lower bound (curl PUT + GET speeds)": summary(
                    [w / b for w, b in zip(walls, col("bound_put_get_s"), strict=True)]
                ),
                "T + all bytes / curl GET speed (not a bound: uploads are slower)": summary(
                    [w / b for w, b in zip(walls, col("bound_s"), strict=True)]
                ),
            },
            higher_is_better=False,
            extra={
                "last_input_at_stage_s": [d["last_input_at_stage_s"] for d in details],
                "client_cpu_s": [round(d["client_cpu_s"], 2) for d in details],
                "server_cpu_s": [round(d["server_cpu_s"], 2) for d in details],
            },
        ),
        Row(
            "lower bound: T + up / curl PUT + down / curl GET",
            "s",
            col("bound_put_get_s"),
            higher_is_better=False,
            extra={"T_s": job_time, "bytes_moved": up + down},
        ),
        Row(
            "T + all bytes / curl GET speed (not a bound)",
            "s",
            col("bound_s"),
            higher_is_better=False,
        ),
        Row("curl GET speed (same emulator)", "MiB/s", col("curl_get_MiB_s")),
        Row("curl PUT speed (same emulator)", "MiB/s", col("curl_put_MiB_s")),
        Row(
            "API requests (GraphQL)",
            "requests",
            col("graphql_requests"),
            higher_is_better=False,
            extra={"per_take": first["graphql_requests"] / count, **first["operations"]},
        ),
        Row(
            "storage requests",
            "requests",
            col("storage_requests"),
            higher_is_better=False,
            extra=first["storage"],
        ),
    ]
    print_rows(
        f"Bulk: {count} takes of {size // 1024} KiB, T = {job_time:g} s, "
        f"{(up + down) / MiB:.0f} MiB moved",
        rows,
    )
    aims = [
        aim(
            f"bulk.run of {count} takes: wall time <= 1.3x the lower bound",
            rows[0].ratios["lower bound (curl PUT + GET speeds)"],
            1.3,
            at_most=True,
            ours=f"{fmt(statistics.median(walls))} s",
            peer="lower bound (T + up / curl PUT + down / curl GET): "
            f"{fmt(statistics.median(col('bound_put_get_s')))} s",
        )
    ]
    return result(
        NAME,
        f"Bulk: {count} takes end to end",
        rows,
        params={"takes": count, "size": size, "T_s": job_time, "reps": reps, **timing},
        aims=aims,
        started=started,
        runs=details,
    )


if __name__ == "__main__":
    run()
