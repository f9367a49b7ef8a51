"""Following many jobs to outputs-ready: `ugc.jobs.watch_many` vs the documented polling loop.

For each method, an emulator process gets 1 upload, 1 take and N `create_singlecam`
(gathered, 32 at a time); the clock starts when the last job is created. `watch_many` fetches
up to 50 jobs per request; the documented loop (`wait_for_job` / `wait_for_outputs` of the
sync SDK's end-to-end example, extended to N jobs) sends one `retrieve` per pending job per
round. Both sleep the same interval between rounds (`watch_many` with `max_interval=interval`,
so it does not slow down while nothing changes). The documented loop runs on our async client,
one request at a time, which only makes it faster than the sync SDK would be. A round of
`watch_many` is the requests it sends between two of its sleeps (its clock counts them).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import anyio

from aio_move_ugc import AsyncMoveUgc, JobState, SourceFormat, SourceIn

from ._common import EmulatorProcess, Row, aim, paired_ratio, print_rows, result, stats_delta

NAME = "watch"
OURS = "watch_many (50 jobs per request)"
SEED = "documented loop (1 retrieve per job)"
TERMINAL_FAILED = {JobState.FAILED, JobState.CANCELLED}


async def _create_jobs(ugc: AsyncMoveUgc, count: int, tmp: Path) -> list[str]:
    video = tmp / "clip.mp4"
    video.write_bytes(b"\0" * 4096)
    file = await ugc.files.upload(video)
    take = await ugc.takes.create_singlecam(
        [SourceIn(device_label="cam", file_id=file.id, format=SourceFormat.MP4)]
    )
    slots = asyncio.Semaphore(32)

    async def one() -> str:
        async with slots:
            return (await ugc.jobs.create_singlecam(take.id, outputs=["MAIN_FBX"])).id

    return list(await asyncio.gather(*(one() for _ in range(count))))


class RoundClock:
    """The loop's clock, counting its sleeps: `watch_many` sleeps once between two rounds, so
    the requests sent between two sleeps are one round (however long the round takes)."""

    def __init__(self) -> None:
        self.sleeps = 0

    def now(self) -> float:
        return anyio.current_time()

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        await anyio.sleep(seconds)


def _instrument(ugc: AsyncMoveUgc, clock: RoundClock) -> list[int]:
    """The round (sleeps so far) each API request of this client was sent in."""
    sent_in: list[int] = []
    execute = ugc._ctx.execute

    async def counted(*args: Any, **kwargs: Any) -> Any:
        sent_in.append(clock.sleeps)
        return await execute(*args, **kwargs)

    ugc._ctx.execute = counted  # type: ignore[method-assign]
    return sent_in


def _rounds(sent_in: list[int]) -> list[int]:
    """Requests per round, in order."""
    counts: dict[int, int] = {}
    for round_number in sent_in:
        counts[round_number] = counts.get(round_number, 0) + 1
    return list(counts.values())


async def _ours(
    ugc: AsyncMoveUgc, ids: list[str], interval: float, clock: RoundClock
) -> dict[str, Any]:
    sent_in = _instrument(ugc, clock)
    ready = 0
    async for event in ugc.jobs.watch_many(
        ids, interval=interval, max_interval=interval, timeout=600
    ):
        if event.kind in ("outputs_ready", "failed", "not_found"):
            ready += 1
    return {"requests": len(sent_in), "rounds": _rounds(sent_in), "done": ready}


async def _seed(
    ugc: AsyncMoveUgc, ids: list[str], interval: float, clock: RoundClock
) -> dict[str, Any]:
    """One `retrieve(id, expand=["outputs"])` per pending job per round, then sleep."""
    pending = list(ids)
    rounds: list[int] = []
    requests = 0
    deadline = time.monotonic() + 600
    while pending and time.monotonic() < deadline:
        still = []
        for job_id in pending:
            job = await ugc.jobs.retrieve(job_id, expand=["outputs"])
            requests += 1
            state = job.current_state
            if state in TERMINAL_FAILED or (
                state == JobState.FINISHED
                and bool(job.outputs)
                and all(o.file.presigned_url for o in job.outputs or [])
            ):
                continue
            still.append(job_id)
        rounds.append(len(pending))
        pending = still
        if pending:
            await asyncio.sleep(interval)
    return {"requests": requests, "rounds": rounds, "done": len(ids) - len(pending)}


async def _one(
    method: Callable[[AsyncMoveUgc, list[str], float, RoundClock], Any],
    emu: EmulatorProcess,
    count: int,
    interval: float,
) -> dict[str, Any]:
    with TemporaryDirectory() as tmp:
        clock = RoundClock()
        async with AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url, clock=clock) as ugc:
            ids = await _create_jobs(ugc, count, Path(tmp))
            before = emu.stats()
            started = time.perf_counter()
            out: dict[str, Any] = await method(ugc, ids, interval, clock)
            out["wall_s"] = time.perf_counter() - started
            delta = stats_delta(before, emu.stats())
            out["server_requests"] = delta["graphql_requests"]
            out["getJob_fields"] = delta.get("root_fields", {}).get("getJob", 0)
            return out


def run(quick: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    count = 100 if quick else 1000
    reps = 1 if quick else 3
    interval = 0.2
    # Jobs wait in the queue a little longer than it takes to create them all, so every
    # job is still pending when watching starts; one output per job, 1 KiB.
    timing = (
        {"queue_delay": 0.5, "job_duration": 0.5, "output_lag": 0.2}
        if quick
        else {"queue_delay": 3.0, "job_duration": 2.0, "output_lag": 0.5}
    )
    bound = sum(timing.values())
    runs: dict[str, list[dict[str, Any]]] = {OURS: [], SEED: []}
    methods = {OURS: _ours, SEED: _seed}
    for rep in range(reps):
        order = [OURS, SEED] if rep % 2 == 0 else [SEED, OURS]
        with EmulatorProcess(output_size=1024, **timing) as emu:
            for name in order:
                runs[name].append(asyncio.run(_one(methods[name], emu, count, interval)))
                done = runs[name][-1]["done"]
                if done != count:
                    raise RuntimeError(f"{name}: only {done} of {count} jobs reached the end")

    def values(name: str, key: str) -> list[float]:
        return [float(r[key]) for r in runs[name]]

    def per_round(name: str) -> list[float]:
        return [float(max(r["rounds"])) for r in runs[name]]

    def vs_seed(ours: list[float], seed: list[float]) -> dict[str, Any]:
        return {SEED: paired_ratio(ours, seed)}

    rows = [
        Row(
            f"{OURS}: wall time",
            "s",
            values(OURS, "wall_s"),
            ratios=vs_seed(values(OURS, "wall_s"), values(SEED, "wall_s")),
            higher_is_better=False,
            extra={"bound_s": bound},
        ),
        Row(f"{SEED}: wall time", "s", values(SEED, "wall_s"), higher_is_better=False),
    ]
    for name in (OURS, SEED):
        rows.append(
            Row(
                f"{name}: requests",
                "requests",
                values(name, "server_requests"),
                ratios=vs_seed(values(OURS, "server_requests"), values(SEED, "server_requests"))
                if name == OURS
                else {},
                higher_is_better=False,
                extra={
                    "rounds": [len(r["rounds"]) for r in runs[name]],
                    "requests_per_round": runs[name][0]["rounds"],
                },
            )
        )
    for name in (OURS, SEED):
        rows.append(
            Row(
                f"{name}: most requests in a round",
                "requests",
                per_round(name),
                ratios=vs_seed(per_round(OURS), per_round(SEED)) if name == OURS else {},
                higher_is_better=False,
            )
        )
    print_rows(f"Watching {count} jobs to outputs-ready (interval {interval} s)", rows)
    ours_rounds = per_round(OURS)
    aims = [
        aim(
            f"watch_many: <= {math.ceil(count / 50)} requests per round for {count} jobs",
            max(ours_rounds),
            math.ceil(count / 50),
            at_most=True,
            unit="requests",
        )
    ]
    return result(
        NAME,
        f"Watching {count} jobs to outputs-ready",
        rows,
        params={"jobs": count, "interval_s": interval, "reps": reps, **timing},
        aims=aims,
        started=started,
        runs=runs,
    )


if __name__ == "__main__":
    run()
