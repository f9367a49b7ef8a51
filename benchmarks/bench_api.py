"""`jobs.retrieve` calls per second: aio_move_ugc vs raw aiohttp sending the same POSTs.

The emulator runs in its own process. The peer is the least any aiohttp client can do for
the same answer: one `ClientSession`, the exact bytes and headers our client sends for
`jobs.retrieve(job_id)` (captured once through a small recording proxy), then `read()` and
`json.loads` of the answer. Our client does that plus what makes it a client: variables
checked, the answer mapped to errors, the job validated into a pydantic model, the retry
wrapper, the rate budget. Sequential and 16 concurrent callers; each repetition runs every
case once, in a rotating order, so the ratios compare runs made moments apart. The sync SDK
(as its documentation uses it) is measured once per repetition for reference, without aim.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import aiohttp
from aiohttp import web

from aio_move_ugc import AsyncMoveUgc, SourceFormat, SourceIn

from ._common import (
    EmulatorProcess,
    Row,
    aim_vs,
    paired_ratio,
    print_rows,
    process_cpu,
    result,
    stats_delta,
)
from ._nginx import free_port

NAME = "api"

AIO_SEQ = "aio_move_ugc jobs.retrieve, sequential"
RAW_SEQ = "raw aiohttp POST + json.loads, sequential"
AIO_16 = "aio_move_ugc jobs.retrieve, 16 concurrent"
RAW_16 = "raw aiohttp POST + json.loads, 16 concurrent"
SYNC_SEQ = "sync SDK jobs.retrieve, sequential (as documented)"
PEERS = {AIO_SEQ: RAW_SEQ, AIO_16: RAW_16}


async def _make_job(key: str, url: str, tmp: Path) -> str:
    video = tmp / "clip.mp4"
    video.write_bytes(b"\0" * 4096)
    async with AsyncMoveUgc(key, endpoint_url=url) as ugc:
        file = await ugc.files.upload(video)
        take = await ugc.takes.create_singlecam(
            [SourceIn(device_label="cam", file_id=file.id, format=SourceFormat.MP4)]
        )
        job = await ugc.jobs.create_singlecam(take.id)
        return job.id


async def capture_request(key: str, url: str, job_id: str) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one `jobs.retrieve(job_id)`, seen by a proxy to the emulator."""
    seen: list[tuple[bytes, dict[str, str]]] = []

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
        }
        seen.append((body, headers))
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=body, headers=headers) as answer,
        ):
            return web.Response(
                status=answer.status, body=await answer.read(), content_type=answer.content_type
            )

    app = web.Application()
    app.router.add_post("/graphql", forward)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        async with AsyncMoveUgc(key, endpoint_url=f"http://127.0.0.1:{port}/graphql") as ugc:
            await ugc.jobs.retrieve(job_id)
    finally:
        await runner.cleanup()
    assert len(seen) == 1, f"{len(seen)} requests for one retrieve"
    return seen[0]


async def _gather(call: Callable[[], Any], calls: int, concurrency: int) -> None:
    if concurrency == 1:
        for _ in range(calls):
            await call()
        return
    slots = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with slots:
            await call()

    await asyncio.gather(*(one() for _ in range(calls)))


async def _aio(key: str, url: str, job_id: str, calls: int, concurrency: int) -> float:
    async with AsyncMoveUgc(key, endpoint_url=url) as ugc:
        await ugc.jobs.retrieve(job_id)  # opens the session and a connection

        async def call() -> None:
            await ugc.jobs.retrieve(job_id)

        started = time.perf_counter()
        await _gather(call, calls, concurrency)
        return time.perf_counter() - started


async def _raw(
    url: str, body: bytes, headers: dict[str, str], calls: int, concurrency: int
) -> float:
    async with aiohttp.ClientSession() as session:

        async def call() -> None:
            async with session.post(url, data=body, headers=headers) as response:
                payload = json.loads(await response.read())
            if response.status != 200 or payload.get("errors") or not payload["data"]:
                raise RuntimeError(f"unexpected answer {response.status}: {payload}")

        await call()  # opens a connection
        started = time.perf_counter()
        await _gather(call, calls, concurrency)
        return time.perf_counter() - started


def _sync_seq(key: str, url: str, job_id: str, calls: int) -> float:
    sync_sdk: Any = importlib.import_module("move_ugc")
    ugc = sync_sdk.MoveUgc(api_key=key, endpoint_url=url)
    started = time.perf_counter()
    for _ in range(calls):
        ugc.jobs.retrieve(id=job_id)
    return time.perf_counter() - started


def measure(reps: int, sizes: dict[str, int]) -> list[Row]:
    with EmulatorProcess(queue_delay=0, job_duration=0, output_lag=0) as emu:
        key, url = emu.api_key, emu.endpoint_url
        with TemporaryDirectory() as tmp:
            job_id = asyncio.run(_make_job(key, url, Path(tmp)))
        body, headers = asyncio.run(capture_request(key, url, job_id))
        cases: dict[str, Callable[[], float]] = {
            AIO_SEQ: lambda: asyncio.run(_aio(key, url, job_id, sizes[AIO_SEQ], 1)),
            RAW_SEQ: lambda: asyncio.run(_raw(url, body, headers, sizes[RAW_SEQ], 1)),
            AIO_16: lambda: asyncio.run(_aio(key, url, job_id, sizes[AIO_16], 16)),
            RAW_16: lambda: asyncio.run(_raw(url, body, headers, sizes[RAW_16], 16)),
            SYNC_SEQ: lambda: _sync_seq(key, url, job_id, sizes[SYNC_SEQ]),
        }
        names = list(cases)
        rates: dict[str, list[float]] = {name: [] for name in names}
        per_call: dict[str, float] = {}
        cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
        for rep in range(reps):
            # A rotating order: no case always runs first, or right after the same one.
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
                per_call[name] = delta["graphql_requests"] / sizes[name]
    rows = []
    for name in names:
        peer = PEERS.get(name)
        rows.append(
            Row(
                case=name,
                unit="calls/s",
                values=rates[name],
                ratios={peer: paired_ratio(rates[name], rates[peer])} if peer else {},
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
    reps = 2 if quick else 7
    sizes = {
        AIO_SEQ: 40 if quick else 400,
        RAW_SEQ: 40 if quick else 400,
        AIO_16: 80 if quick else 800,
        RAW_16: 80 if quick else 800,
        SYNC_SEQ: 2 if quick else 10,
    }
    rows = measure(reps, sizes)
    print_rows("API calls: jobs.retrieve per second (emulator in its own process)", rows)

    by_case = {row.case: row for row in rows}
    aims = [
        aim_vs(
            "jobs.retrieve, sequential >= 0.9x raw aiohttp", by_case[AIO_SEQ], by_case[RAW_SEQ], 0.9
        ),
        aim_vs(
            "jobs.retrieve, 16 concurrent >= 0.9x raw aiohttp",
            by_case[AIO_16],
            by_case[RAW_16],
            0.9,
        ),
    ]
    return result(
        NAME,
        "API calls: jobs.retrieve per second",
        rows,
        params={"reps": reps, "calls": sizes},
        aims=aims,
        notes=[
            "The emulator's own CPU time per request is in both cases' figures; "
            "client CPU per call (below) shows the client's share alone."
        ],
        started=started,
    )


if __name__ == "__main__":
    run()
