"""`jobs.retrieve` calls per second: aio_move_ugc vs the official sync SDK, same emulator.

The emulator runs in its own process. Each repetition runs every case once, in a rotating
order, so the ratios compare runs made moments apart. The sync SDK is used as its docs show
(`ugc = MoveUgc(...)`, then `ugc.jobs.retrieve(id=...)` in a loop): `ugc.jobs` builds a new
service, hence a new gql client, and the first call of each gql client fetches the schema
by introspection, so every call costs two requests on a fresh connection.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from aio_move_ugc import AsyncMoveUgc, SourceIn

from ._common import (
    EmulatorProcess,
    Row,
    aim,
    paired_ratio,
    print_rows,
    process_cpu,
    result,
    stats_delta,
)

NAME = "api"
LATENCY = 0.05

AIO_SEQ = "aio_move_ugc, sequential"
AIO_16 = "aio_move_ugc, 16 concurrent"
AIO_64 = "aio_move_ugc, 64 concurrent"
SYNC_SEQ = "sync SDK, sequential (as documented)"
SYNC_16 = "sync SDK, 16 threads"
SYNC_KEPT = "sync SDK, sequential, service kept"


async def _make_job(key: str, url: str, tmp: Path) -> str:
    video = tmp / "clip.mp4"
    video.write_bytes(b"\0" * 4096)
    async with AsyncMoveUgc(key, endpoint_url=url) as ugc:
        file = await ugc.files.upload(video)
        take = await ugc.takes.create_singlecam(
            [SourceIn(device_label="cam", file_id=file.id, format="MP4")]
        )
        job = await ugc.jobs.create_singlecam(take.id)
        return job.id


async def _aio(key: str, url: str, job_id: str, calls: int, concurrency: int) -> float:
    async with AsyncMoveUgc(key, endpoint_url=url) as ugc:
        await ugc.jobs.retrieve(job_id)  # opens the session and a connection
        started = time.perf_counter()
        if concurrency == 1:
            for _ in range(calls):
                await ugc.jobs.retrieve(job_id)
        else:
            slots = asyncio.Semaphore(concurrency)

            async def one() -> None:
                async with slots:
                    await ugc.jobs.retrieve(job_id)

            await asyncio.gather(*(one() for _ in range(calls)))
        return time.perf_counter() - started


def _sync_seq(key: str, url: str, job_id: str, calls: int) -> float:
    from move_ugc import MoveUgc

    ugc = MoveUgc(api_key=key, endpoint_url=url)
    started = time.perf_counter()
    for _ in range(calls):
        ugc.jobs.retrieve(id=job_id)
    return time.perf_counter() - started


def _sync_kept(key: str, url: str, job_id: str, calls: int) -> float:
    from move_ugc import MoveUgc

    jobs = MoveUgc(api_key=key, endpoint_url=url).jobs
    jobs.retrieve(id=job_id)  # the one introspection of this service object
    started = time.perf_counter()
    for _ in range(calls):
        jobs.retrieve(id=job_id)
    return time.perf_counter() - started


def _sync_threads(key: str, url: str, job_id: str, calls: int) -> float:
    from move_ugc import MoveUgc

    ugc = MoveUgc(api_key=key, endpoint_url=url)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=16) as pool:
        for future in [pool.submit(lambda: ugc.jobs.retrieve(id=job_id)) for _ in range(calls)]:
            future.result()
    return time.perf_counter() - started


def _condition(latency: float, reps: int, sizes: dict[str, int]) -> list[Row]:
    """All cases against one emulator process, `reps` times each; calls/s per case."""
    with EmulatorProcess(queue_delay=0, job_duration=0, output_lag=0, latency=latency) as emu:
        key, url = emu.api_key, emu.endpoint_url
        with TemporaryDirectory() as tmp:
            job_id = asyncio.run(_make_job(key, url, Path(tmp)))
        cases: dict[str, Callable[[], float]] = {
            AIO_SEQ: lambda: asyncio.run(_aio(key, url, job_id, sizes[AIO_SEQ], 1)),
            AIO_16: lambda: asyncio.run(_aio(key, url, job_id, sizes[AIO_16], 16)),
            AIO_64: lambda: asyncio.run(_aio(key, url, job_id, sizes[AIO_64], 64)),
            SYNC_SEQ: lambda: _sync_seq(key, url, job_id, sizes[SYNC_SEQ]),
            SYNC_16: lambda: _sync_threads(key, url, job_id, sizes[SYNC_16]),
            SYNC_KEPT: lambda: _sync_kept(key, url, job_id, sizes[SYNC_KEPT]),
        }
        names = list(cases)
        rates: dict[str, list[float]] = {name: [] for name in names}
        per_call: dict[str, float] = {}
        cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
        for rep in range(reps):
            order = names[rep % len(names) :] + names[: rep % len(names)]
            for name in order:
                before = emu.stats()
                client_cpu, server_cpu = process_cpu(), process_cpu(emu.pid)
                seconds = cases[name]()
                cpu[name].append(
                    (
                        (process_cpu() - client_cpu) * 1000 / sizes[name],
                        (process_cpu(emu.pid) - server_cpu) * 1000 / sizes[name],
                    )
                )
                delta = stats_delta(before, emu.stats())
                rates[name].append(sizes[name] / seconds)
                # Requests the emulator saw per timed call (a warm-up call included).
                per_call[name] = delta["graphql_requests"] / sizes[name]
    rows = []
    for name in names:
        ratios: dict[str, Any] = {}
        if name != SYNC_SEQ:
            ratios[SYNC_SEQ] = paired_ratio(rates[name], rates[SYNC_SEQ])
        if name in (AIO_16, AIO_64):
            ratios[SYNC_16] = paired_ratio(rates[name], rates[SYNC_16])
        rows.append(
            Row(
                case=f"{name}{' +50 ms' if latency else ''}",
                unit="calls/s",
                values=rates[name],
                ratios={f"{peer}{' +50 ms' if latency else ''}": r for peer, r in ratios.items()},
                extra={
                    "requests_per_call": round(per_call[name], 3),
                    "calls": sizes[name],
                    "client_cpu_ms_per_call": statistics.median(c for c, _ in cpu[name]),
                    "emulator_cpu_ms_per_call": statistics.median(e for _, e in cpu[name]),
                },
            )
        )
    return rows


def run(quick: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    reps = 2 if quick else 5
    plain = {
        AIO_SEQ: 40 if quick else 300,
        AIO_16: 80 if quick else 600,
        AIO_64: 80 if quick else 600,
        SYNC_SEQ: 2 if quick else 10,
        SYNC_16: 8 if quick else 32,
        SYNC_KEPT: 5 if quick else 40,
    }
    slow = {
        AIO_SEQ: 8 if quick else 40,
        AIO_16: 48 if quick else 300,
        AIO_64: 96 if quick else 600,
        SYNC_SEQ: 2 if quick else 6,
        SYNC_16: 8 if quick else 32,
        SYNC_KEPT: 4 if quick else 20,
    }
    rows_plain = _condition(0.0, reps, plain)
    rows_slow = _condition(LATENCY, reps, slow)
    rows = rows_plain + rows_slow
    print_rows("API calls: jobs.retrieve per second (emulator in its own process)", rows)

    def ratio(rows: list[Row], case: str) -> float:
        row = next(r for r in rows if r.case.startswith(case))
        return float(next(iter(row.ratios.values()))["median"])

    best_slow = max(ratio(rows_slow, AIO_16), ratio(rows_slow, AIO_64))
    aims = [
        aim("aio sequential >= 15x sync SDK sequential", ratio(rows_plain, AIO_SEQ), 15),
        aim("aio concurrent +50 ms >= 100x sync SDK sequential +50 ms", best_slow, 100),
    ]
    return result(
        NAME,
        "API calls: jobs.retrieve per second",
        rows,
        params={"reps": reps, "latency_s": LATENCY, "calls": {"plain": plain, "latency": slow}},
        aims=aims,
        started=started,
    )


if __name__ == "__main__":
    run()
