"""Requests spent following one 10-minute job with `jobs.watch` and its default settings.

A count, not a time: how many GraphQL requests the emulator receives while `jobs.watch(id)`
(default `interval`, `max_interval`, no rate budget) follows one job from creation to
outputs-ready, the job running for `JOB_SECONDS` of the emulator's time — once straight away,
once after `QUEUE_SECONDS` in the queue (the pace counts from the start of the watch, so the
job starting does not make it ask more often).

Nobody waits ten minutes for this. Client and emulator share one event loop whose clock
is virtual: whenever the loop has nothing to do but wait for a timer (the watcher sleeping
between polls, a keep-alive timer), the loop's clock jumps to that timer and the emulator's
clock (`emu.advance`) jumps with it. Everything else runs as it would: real sockets on
127.0.0.1, the real client and the real emulator, timers firing in their order. The count
therefore depends only on the client's pacing and the job's timeline, which is what a real
ten-minute job would see; running the emulator in real time with a shorter job would change
the count, since the watcher's intervals are not scaled with it. The loop jumps only when no
socket is ready and a short real grace (`GRACE` s) has passed without any, and the jumps are
switched off while the job is set up (that part uses worker threads for the file).
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from aio_move_ugc import AsyncMoveUgc, SourceFormat, SourceIn
from aio_move_ugc.emulator import Emulator, EmulatorConfig

from ._common import Row, aim, print_rows, result

NAME = "follow"
JOB_SECONDS = 600.0
AIM_REQUESTS = 30
QUEUE_SECONDS = 300.0
AIM_QUEUED_REQUESTS = 40
GRACE = 0.005
"""Real seconds the loop waits for I/O before it lets its clock jump to the next timer."""


class _JumpingSelector:
    """A selector that, when asked to wait for a timer, moves the loop's clock instead."""

    def __init__(self, inner: selectors.BaseSelector) -> None:
        self.inner = inner
        self.on_wait: Callable[[float], None] | None = None

    def select(self, timeout: float | None = None) -> list[Any]:
        events = self.inner.select(0)
        if events or timeout == 0 or self.on_wait is None:
            return events or self.inner.select(timeout)
        if timeout is None:  # no timer at all: only I/O can wake the loop
            return self.inner.select(None)
        events = self.inner.select(min(timeout, GRACE))
        if not events and timeout > GRACE:
            self.on_wait(timeout)
        return events

    def register(self, *args: Any) -> Any:
        return self.inner.register(*args)

    def unregister(self, *args: Any) -> Any:
        return self.inner.unregister(*args)

    def modify(self, *args: Any) -> Any:
        return self.inner.modify(*args)

    def get_key(self, *args: Any) -> Any:
        return self.inner.get_key(*args)

    def get_map(self) -> Any:
        return self.inner.get_map()

    def close(self) -> None:
        self.inner.close()


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock jumps over idle waits (see the module's docstring)."""

    def __init__(self) -> None:
        self._jumper = _JumpingSelector(selectors.DefaultSelector())
        super().__init__(self._jumper)  # type: ignore[arg-type]
        self.skew = 0.0
        self.jumps = 0
        self.listeners: list[Callable[[float], None]] = []

    def time(self) -> float:
        return super().time() + self.skew

    def jumping(self, on: bool) -> None:
        self._jumper.on_wait = self._jump if on else None

    def _jump(self, seconds: float) -> None:
        self.skew += seconds
        self.jumps += 1
        for listener in self.listeners:
            listener(seconds)


async def _follow(loop: VirtualClockLoop, tmp: Path, queue: float) -> dict[str, Any]:
    config = EmulatorConfig(job_duration=JOB_SECONDS, job_queue_delay=queue)
    async with Emulator(config) as emu:
        loop.listeners.append(emu.advance)
        video = tmp / "clip.mp4"
        video.write_bytes(b"\0" * 4096)
        async with AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url) as ugc:
            file = await ugc.files.upload(video)
            take = await ugc.takes.create_singlecam(
                [SourceIn(device_label="cam", file_id=file.id, format=SourceFormat.MP4)]
            )
            job = await ugc.jobs.create_singlecam(take.id)
            before = emu.stats.snapshot()
            started = loop.time()
            timeline: list[tuple[float, int]] = []

            def seen(_seconds: float) -> None:
                count = emu.stats.snapshot()["graphql_requests"] - before["graphql_requests"]
                if not timeline or timeline[-1][1] != count:
                    timeline.append((round(loop.time() - started, 1), count))

            loop.listeners.append(seen)
            loop.jumping(True)
            events: list[str] = []
            async for event in ugc.jobs.watch(job.id):
                events.append(event.kind)
            loop.jumping(False)
            after = emu.stats.snapshot()
            return {
                "requests": after["graphql_requests"] - before["graphql_requests"],
                "virtual_s": loop.time() - started,
                "events": events,
                "timeline": timeline,
                "jumps": loop.jumps,
            }


def follow_once(queue: float = EmulatorConfig().job_queue_delay) -> dict[str, Any]:
    loop = VirtualClockLoop()
    real = time.perf_counter()
    try:
        with TemporaryDirectory(prefix="bench-follow-") as tmp:
            out = loop.run_until_complete(_follow(loop, Path(tmp), queue))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()
    out["real_s"] = time.perf_counter() - real
    return out


def run(quick: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    reps = 1 if quick else 3
    runs = [follow_once() for _ in range(reps)]
    queued = [follow_once(QUEUE_SECONDS) for _ in range(reps)]
    rows = [
        Row(
            f"jobs.watch, defaults, one {JOB_SECONDS / 60:g}-minute job: requests",
            "requests",
            [float(r["requests"]) for r in runs],
            higher_is_better=False,
            extra={"timeline_s_requests": runs[0]["timeline"], "events": runs[0]["events"]},
        ),
        Row(
            "time followed (emulator's clock)",
            "s",
            [r["virtual_s"] for r in runs],
            higher_is_better=False,
        ),
        Row("real time taken", "s", [r["real_s"] for r in runs], higher_is_better=False),
        Row(
            f"jobs.watch, defaults, {QUEUE_SECONDS / 60:g} minutes queued then "
            f"{JOB_SECONDS / 60:g} running: requests",
            "requests",
            [float(r["requests"]) for r in queued],
            higher_is_better=False,
            extra={"timeline_s_requests": queued[0]["timeline"]},
        ),
    ]
    print_rows(f"Following one {JOB_SECONDS:g} s job with jobs.watch defaults", rows)
    requests = max(r["requests"] for r in runs)
    queued_requests = max(r["requests"] for r in queued)
    return result(
        NAME,
        f"Following one {JOB_SECONDS / 60:g}-minute job (requests)",
        rows,
        params={"job_seconds": JOB_SECONDS, "queue_seconds": QUEUE_SECONDS, "reps": reps},
        aims=[
            aim(
                f"following one {JOB_SECONDS / 60:g}-minute job, defaults: <= {AIM_REQUESTS} "
                "requests",
                float(requests),
                AIM_REQUESTS,
                at_most=True,
                unit="requests",
            ),
            aim(
                f"following a job queued {QUEUE_SECONDS / 60:g} minutes then running "
                f"{JOB_SECONDS / 60:g}, defaults: <= {AIM_QUEUED_REQUESTS} requests",
                float(queued_requests),
                AIM_QUEUED_REQUESTS,
                at_most=True,
                unit="requests",
            ),
        ],
        notes=[
            "Counted by the emulator; the clock jumps over idle waits (see bench_follow.py), "
            "so the count is the one of a real ten-minute job and takes a second to measure."
        ],
        started=started,
    )


if __name__ == "__main__":
    run()
