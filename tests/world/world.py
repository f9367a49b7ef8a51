"""A hostile world drawn from one seed, the user flows played in it, and the invariants checked
after every run.

`draw(seed)` picks the emulator's variants, its `Hostility`, its route faults, the size of the
outputs and the flows to play; `play(world, root)` starts the emulator so configured, plays
the flows through one client whose clock is the emulator's (jobs take no real time), and
checks every invariant, raising `WorldBroken` (with the seed to replay) when one fails.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import logging
import os
import random
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import anyio.lowlevel

from aio_move_ugc import (
    AsyncMoveUgc,
    MoveUgcError,
    OutputType,
    RetryPolicy,
    SourceFormat,
    SourceIn,
)
from aio_move_ugc.emulator import VARIANTS, Emulator, EmulatorConfig, Hostility, RouteFaults
from aio_move_ugc.transfers import TransferConfig

FLOWS = ("job", "bulk", "list", "close", "symlinks", "cancel_download")
SIZES = (0, 1, 100, 4096, 70_000, 200_000)
PART = 64 * 1024
OUTPUTS = [OutputType.MAIN_FBX, OutputType.MOTION_DATA]


class WorldBroken(AssertionError):
    """An invariant failed; the message says which, and how to replay the seed."""


@dataclass(frozen=True)
class World:
    seed: int
    config: EmulatorConfig
    flows: tuple[str, ...]
    cancel_at: int
    """The request (API and storage counted together) at which a cancelling flow cancels."""

    def describe(self) -> str:
        h = self.config.hostility
        off = Hostility()
        hostile = {
            k: getattr(h, k) for k in h.__dataclass_fields__ if getattr(h, k) != getattr(off, k)
        }
        return (
            f"seed {self.seed}: flows {list(self.flows)}, variants "
            f"{self.config.variants.describe()}, hostility {hostile}, faults "
            f"{dict(self.config.faults)}, output_size "
            f"{self.config.output_size}, cancel_at {self.cancel_at}"
        )


def _rate(rng: random.Random, *choices: float) -> float:
    return rng.choice(choices)


def draw(seed: int) -> World:
    """The world of `seed`: several fault classes at once, each on or off by the draw."""
    rng = random.Random(seed)
    on = lambda: rng.random() < 0.5  # noqa: E731
    hostility = Hostility(
        retry_after=rng.choice(("seconds", "http_date", "mixed", "none")),
        retry_after_seconds=rng.choice((0.0, 1.0, 2.0)),
        backend_error_rate=_rate(rng, 0.05, 0.15) if on() else 0.0,
        partial_error_rate=_rate(rng, 0.05, 0.15) if on() else 0.0,
        echo_secrets_rate=_rate(rng, 0.3, 1.0) if on() else 0.0,
        etag_style=rng.choice(("md5", "md5", "multipart", "opaque")),
        ignore_if_match=on(),
        replace_rate=_rate(rng, 0.2, 0.6) if on() else 0.0,
        proxy_encoding=rng.choice(("none", "none", "honest", "honest", "forced")),
        empty_page_rate=_rate(rng, 0.2, 0.4) if on() else 0.0,
        repeat_cursor_rate=_rate(rng, 0.1, 0.3) if rng.random() < 0.3 else 0.0,
        odd_cursor_rate=_rate(rng, 0.1, 0.3) if rng.random() < 0.3 else 0.0,
        twin_output_rate=_rate(rng, 0.5, 1.0) if on() else 0.0,
    )

    def route(storage: bool) -> RouteFaults | None:
        if not on():
            return None
        return RouteFaults(
            rate_429=_rate(rng, 0.0, 0.03, 0.08),
            rate_500=_rate(rng, 0.0, 0.03, 0.08),
            rate_503=_rate(rng, 0.0, 0.03, 0.08),
            reset_rate=_rate(rng, 0.0, 0.03, 0.08),
            expire_rate=_rate(rng, 0.0, 0.05) if storage else 0.0,
        )

    faults = {
        name: f
        for name, f in (
            ("graphql", route(False)),
            ("storage_put", route(True)),
            ("storage_get", route(True)),
        )
        if f is not None
    }
    config = EmulatorConfig(
        seed=seed,
        job_queue_delay=0.05,
        job_duration=0.3,
        output_lag=0.15,
        volume_duration=0.2,
        output_size=rng.choice(SIZES),
        failure_rate=rng.choice((0.0, 0.0, 0.2)),
        faults=faults,
        variants=rng.choice([VARIANTS[name] for name in sorted(VARIANTS)]),
        hostility=hostility,
    )
    flows = tuple(rng.sample(FLOWS, k=rng.randint(2, 3)))
    return World(seed=seed, config=config, flows=flows, cancel_at=rng.randint(1, 12))


# ------------------------------------------------------------------ observation
class WorldClock:
    """The client's clock: sleeping moves the emulator's time, so no job takes real time."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.slept = 0.0

    def now(self) -> float:
        return self.emu.clock.monotonic()

    async def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.emu.advance(seconds)
        await anyio.lowlevel.checkpoint()


class Records(logging.Handler):
    """Every record the SDK logs (the emulator's own excepted)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("aio_move_ugc.emulator"):
            return
        text = record.getMessage()
        if record.exc_info:
            text += "".join(traceback.format_exception(*record.exc_info))
        self.lines.append(f"{record.name}: {text}")
        if record.levelno >= logging.ERROR:
            self.errors.append(f"{record.name}: {text}")


@dataclass
class Seen:
    """Everything the SDK showed during the run: errors raised, events, outcomes."""

    errors: list[BaseException] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    landed: list[tuple[Path, str]] = field(default_factory=list)
    """(path, storage key) of every file the SDK reported done."""
    texts: list[str] = field(default_factory=list)


def _exception_texts(exc: BaseException, depth: int = 0) -> list[str]:
    """The text of an exception, its chain and its attributes."""
    if depth > 8:
        return []
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    for value in vars(exc).values():
        try:
            texts.append(json.dumps(value, default=repr))
        except (TypeError, ValueError):
            texts.append(repr(value))
    for linked in (exc.__cause__, exc.__context__):
        if linked is not None and linked is not exc:
            texts += _exception_texts(linked, depth + 1)
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            texts += _exception_texts(inner, depth + 1)
    return texts


def _tree(root: Path) -> dict[str, tuple[str, bytes | str]]:
    """Every entry under `root` (symlinks not followed): kind and content."""
    found: dict[str, tuple[str, bytes | str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path))
            elif path.is_file():
                found[rel] = ("file", path.read_bytes())
            else:
                found[rel] = ("dir", "")
    return found


# ------------------------------------------------------------------ the run
class Run:
    """One world played: the emulator, one client at a time, and what was seen."""

    def __init__(self, world: World, root: Path, emu: Emulator) -> None:
        self.world = world
        self.root = root
        self.emu = emu
        self.rng = random.Random(world.seed ^ 0x5EED)
        self.seen = Seen()
        self.clock = WorldClock(emu)
        self.inputs = root / "inputs"
        self.dest = root / "dest"
        self.outside = root / "outside"
        self.bulk_inputs: list[Path] = []
        self.canaries: dict[str, bytes] = {}

    def client(self) -> AsyncMoveUgc:
        return AsyncMoveUgc(
            self.emu.api_key,
            endpoint_url=self.emu.endpoint_url,
            retry=RetryPolicy(max_retries=6, base_delay=0.5, max_delay=8.0),
            transfer_config=TransferConfig(
                chunk_size=16 * 1024,
                part_size=PART,
                parts_in_flight=3,
                max_retries=6,
                fsync=False,
            ),
            clock=self.clock,
            on_request=lambda e: self.seen.events.append(repr(e)),
            on_transfer=lambda e: self.seen.events.append(repr(e)),
        )

    async def video(self, name: str, size: int | None = None) -> Path:
        path = self.inputs / name
        n = size if size is not None else self.rng.choice((1, 3000, 70_000, 150_000))
        await anyio.Path(path).write_bytes(self.rng.randbytes(n))
        return path

    async def attempt(self, work: Awaitable[Any]) -> Any:
        """Await `work`; a typed error is recorded and returned as None; anything else that
        escapes the public API breaks the world."""
        try:
            return await work
        except MoveUgcError as exc:
            self.seen.errors.append(exc)
            return None
        except (asyncio.CancelledError, anyio.get_cancelled_exc_class()):
            raise
        except BaseException as exc:
            self.seen.errors.append(exc)
            raise WorldBroken(
                f"{type(exc).__name__} escaped the public API: {exc!r}\n"
                + "".join(traceback.format_exception(exc))
            ) from None

    def requests(self) -> int:
        stats = self.emu.stats
        return stats.graphql_requests + sum(stats.storage.values())

    async def cancel_after(self, work: Callable[[], Awaitable[Any]], extra: int) -> bool:
        """Run `work()`, cancelled once `extra` more requests reached the emulator; True when
        the cancellation landed."""
        target = self.requests() + extra
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as group:

                async def watch() -> None:
                    while self.requests() < target:  # noqa: ASYNC110 - counts, no event
                        await asyncio.sleep(0.0005)
                    scope.cancel()

                group.start_soon(watch)
                await self.attempt(work())
                group.cancel_scope.cancel()
        return scope.cancelled_caught

    def landed(self, path: Path | None, key: str) -> None:
        if path is not None:
            self.seen.landed.append((path, key))

    def key_of(self, file_id: str) -> str:
        return self.emu.state.files[file_id].key

    # ------------------------------------------------------------ flows
    async def flow_job(self, ugc: AsyncMoveUgc) -> None:
        """upload -> take -> job -> wait -> download every output."""
        source = await self.video("job.mp4")
        uploaded = await self.attempt(ugc.files.upload(source))
        if uploaded is None:
            return
        take = await self.attempt(
            ugc.takes.create_singlecam(
                [SourceIn(device_label="cam", file_id=uploaded.id, format=SourceFormat.MP4)]
            )
        )
        if take is None:
            return
        job = await self.attempt(ugc.jobs.create_singlecam(take.id, outputs=OUTPUTS))
        if job is None:
            return
        done = await self.attempt(ugc.jobs.wait(job.id, timeout=600))
        if done is None:
            return
        out = self.dest / "job"
        got = await self.attempt(ugc.jobs.download_outputs(job.id, out, timeout=600))
        if got is None:
            return
        self.check_outputs(job.id, got)

    def check_outputs(self, job_id: str, got: dict[Any, Path]) -> None:
        """Every output the job lists landed, each in a file of its own."""
        record = self.emu.state.jobs[job_id]
        keys = [self.emu.state.files[f].key for f in record.output_files.values()]
        paths = list(got.values())
        if len({str(p).casefold() for p in paths}) != len(paths):
            raise WorldBroken(f"two outputs of {job_id} landed under one name: {paths}")
        if len(paths) != len(keys):
            raise WorldBroken(f"{len(keys)} outputs listed, {len(paths)} downloaded: {got}")
        stored = {hashlib.sha256(self.emu.storage.read_bytes(k)).hexdigest(): k for k in keys}
        for path in paths:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest not in stored and self.world.config.output_size:
                raise WorldBroken(f"{path.name} is not what the service holds")

    async def flow_bulk(self, ugc: AsyncMoveUgc) -> None:
        """bulk.run over a few inputs, interrupted at a request, then run again to the end."""
        count = self.rng.randint(2, 3)
        self.bulk_inputs = [await self.video(f"bulk-{i}.mp4") for i in range(count)]
        out = self.dest / "bulk"

        async def run() -> None:
            async for result in ugc.bulk.run(
                self.bulk_inputs, dest=out, outputs=OUTPUTS, interval=1.0, max_interval=4.0
            ):
                self.seen.texts.append(repr(result))
                if result.error is not None:
                    self.seen.errors.append(result.error)

        await self.cancel_after(run, self.world.cancel_at)
        await self.attempt(run())
        journal = out / ".move-ugc-journal.jsonl"
        if journal.exists():
            self.seen.texts.append(journal.read_text())

    async def flow_list(self, ugc: AsyncMoveUgc) -> None:
        """Walk every page of takes; what comes is every take once, or a typed error."""
        source = await self.video("list.mp4", 10)
        uploaded = await self.attempt(ugc.files.upload(source))
        if uploaded is None:
            return
        for _ in range(self.rng.randint(2, 7)):
            await self.attempt(
                ugc.takes.create_singlecam(
                    [SourceIn(device_label="cam", file_id=uploaded.id, format=SourceFormat.MP4)]
                )
            )
        before = self.emu.stats.graphql_requests
        seen: list[str] = []

        async def walk() -> None:
            async for take in ugc.takes.list(limit=self.rng.randint(1, 3)):
                seen.append(take.id)

        failed = len(self.seen.errors)
        await self.attempt(walk())
        spent = self.emu.stats.graphql_requests - before
        known = set(self.emu.state.takes)
        if len(seen) != len(set(seen)):
            raise WorldBroken(f"a take came twice while walking the pages: {seen}")
        if not set(seen) <= known:
            raise WorldBroken("walking the pages gave takes that do not exist")
        if len(self.seen.errors) == failed and set(seen) != known:
            raise WorldBroken(f"walking the pages missed {len(known - set(seen))} takes")
        if spent > 40 * (len(known) + 2):
            raise WorldBroken(f"{spent} requests to list {len(known)} takes")

    async def flow_download(self, ugc: AsyncMoveUgc, name: str) -> tuple[Any, Path] | None:
        source = await self.video(f"{name}.mp4")
        uploaded = await self.attempt(ugc.files.upload(source))
        if uploaded is None:
            return None
        return uploaded, self.dest / name / "copy.mp4"

    async def flow_cancel_download(self, ugc: AsyncMoveUgc) -> None:
        """A download cancelled at a request, then run again: it resumes to the right bytes."""
        ready = await self.flow_download(ugc, "cancelled")
        if ready is None:
            return
        uploaded, target = ready
        await self.cancel_after(
            lambda: ugc.files.download(uploaded.id, target), self.rng.randint(1, 4)
        )
        self.landed(await self.attempt(ugc.files.download(uploaded.id, target)), uploaded.id)

    async def flow_symlinks(self, ugc: AsyncMoveUgc) -> None:
        """Symlinks planted at every path a download writes: none is followed."""
        ready = await self.flow_download(ugc, "linked")
        if ready is None:
            return
        uploaded, target = ready
        target.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", ".part", ".part.json", ".part.json.tmp"):
            canary = self.outside / f"canary{suffix or '.final'}"
            canary.write_bytes(b"canary " + suffix.encode())
            self.canaries[canary.name] = canary.read_bytes()
            os.symlink(canary, target.with_name(target.name + suffix))
        self.landed(await self.attempt(ugc.files.download(uploaded.id, target)), uploaded.id)

    async def flow_close(self, ugc: AsyncMoveUgc) -> None:
        """The client closed under a download (and under a back-off): ClientClosedError."""
        ready = await self.flow_download(ugc, "closed")
        if ready is None:
            return
        uploaded, target = ready
        target_requests = self.requests() + self.rng.randint(1, 4)
        outcome: list[BaseException | None] = []

        async def download() -> None:
            try:
                await ugc.files.download(uploaded.id, target)
                outcome.append(None)
            except BaseException as exc:
                outcome.append(exc)

        task = asyncio.ensure_future(download())
        while self.requests() < target_requests and not outcome:  # noqa: ASYNC110
            await asyncio.sleep(0.0005)
        await ugc.aclose()
        await asyncio.wait([task], timeout=CLOSE_LIMIT)
        if not task.done():
            frames = "\n\n".join(
                "\n".join(_awaiting(t.get_coro())) for t in _other_tasks() if t is not task
            )
            frames = "\n".join(_awaiting(task.get_coro())) + "\n--- others:\n" + frames
            task.cancel()
            await asyncio.wait([task])
            raise WorldBroken(
                f"a download did not end within {CLOSE_LIMIT} s of aclose():\n{frames}"
            )
        error = outcome[0] if outcome else None
        if error is not None:
            self.seen.errors.append(error)
            if not isinstance(error, MoveUgcError):
                raise WorldBroken(
                    f"a download under aclose() ended with {type(error).__name__}: {error!r}"
                )

    # ------------------------------------------------------------ invariants
    def check_secrets(self, records: Records) -> None:
        storage = self.emu.storage
        secrets = {
            "the API key": self.emu.api_key,
            "the storage token": storage.security_token,
            "a quoted storage token": quote(storage.security_token, safe=""),
            "a signature": "Signature=",
        }
        texts = list(records.lines) + self.seen.events + self.seen.texts
        for exc in self.seen.errors:
            texts += _exception_texts(exc)
        for text in texts:
            for what, secret in secrets.items():
                if secret in text:
                    raise WorldBroken(f"{what} is reachable from: {text[:600]}")

    def check_landed(self) -> None:
        for path, file_id in self.seen.landed:
            if not path.is_file() or path.is_symlink():
                raise WorldBroken(f"{path} was reported done but is not a file on disk")
            key = self.key_of(file_id)
            if path.read_bytes() != self.emu.storage.read_bytes(key):
                raise WorldBroken(f"{path} differs from what the service holds")

    def check_bulk(self) -> None:
        """No input ever had a second take or job, across interruptions and reruns."""
        if not self.bulk_inputs:
            return
        digests = {hashlib.md5(p.read_bytes()).hexdigest(): p.name for p in self.bulk_inputs}
        takes: dict[str, list[str]] = {}
        for take in self.emu.state.takes.values():
            for source in take.sources:
                rec = self.emu.state.files.get(source.file_id)
                if rec is None or not self.emu.storage.exists(rec.key):
                    continue
                md5 = hashlib.md5(self.emu.storage.read_bytes(rec.key)).hexdigest()
                if md5 in digests:
                    takes.setdefault(digests[md5], []).append(take.id)
        for name, ids in takes.items():
            if len(ids) > 1:
                raise WorldBroken(f"input {name} has {len(ids)} takes")
            jobs = [j for j in self.emu.state.jobs.values() if j.take_id == ids[0]]
            if len(jobs) > 1:
                raise WorldBroken(f"input {name} has {len(jobs)} jobs")


FLOW_METHODS: dict[str, Callable[[Run, AsyncMoveUgc], Awaitable[None]]] = {
    "job": Run.flow_job,
    "bulk": Run.flow_bulk,
    "list": Run.flow_list,
    "close": Run.flow_close,
    "symlinks": Run.flow_symlinks,
    "cancel_download": Run.flow_cancel_download,
}


def _awaiting(coro: Any) -> list[str]:
    """Where a suspended coroutine waits: each frame of its chain of awaits."""
    found: list[str] = []
    while coro is not None and len(found) < 80:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
        if frame is not None:
            found.append(f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
    found.append(repr(coro))
    return found


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _other_tasks() -> set[asyncio.Task[Any]]:
    """Tasks of the SDK still running (the stopped server's idle handlers are the server's,
    and their sockets are counted with the file descriptors)."""
    return {
        t
        for t in asyncio.all_tasks()
        if t is not asyncio.current_task()
        and not t.done()
        and "RequestHandler" not in getattr(t.get_coro(), "__qualname__", "")
    }


CLOSE_LIMIT = 5.0
"""Real seconds a transfer may take to end once its client is closed."""
REAL_TIME_LIMIT = 60.0
"""Real seconds a world may take before it counts as hung (a loop that spins or waits)."""


async def play(world: World, root: Path) -> Run:
    """Play `world` under `root` and check every invariant; `WorldBroken` when one fails."""
    try:
        return await _play(world, root)
    except WorldBroken as exc:
        raise WorldBroken(
            f"{exc}\n\nworld: {world.describe()}\n"
            f"replay with: WORLD_SEED={world.seed} pytest tests/world"
        ) from None


async def _play(world: World, root: Path) -> Run:
    records = Records()
    logger = logging.getLogger("aio_move_ugc")
    asyncio_logger = logging.getLogger("asyncio")
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(records)
    asyncio_logger.addHandler(records)
    for name in ("inputs", "dest", "outside"):
        (root / name).mkdir(parents=True, exist_ok=True)
    (root / "outside" / "untouched").write_bytes(b"keep me")
    tasks_before = _other_tasks()
    fds_before = _open_fds()
    try:
        async with Emulator(world.config) as emu:
            run = Run(world, root, emu)
            with anyio.fail_after(REAL_TIME_LIMIT):
                for flow in world.flows:
                    ugc = run.client()
                    try:
                        await FLOW_METHODS[flow](run, ugc)
                    finally:
                        await ugc.aclose()
                # The client stays usable: a new one, faults off, does the plain things.
                for route in ("graphql", "storage_put", "storage_get"):
                    emu.set_faults(route, None)
                emu.hostile.config = Hostility()
                async with run.client() as ugc:
                    if await run.attempt(ugc.client.retrieve()) is None:
                        raise WorldBroken(f"the client is unusable: {run.seen.errors[-1]!r}")
            run.check_secrets(records)
            run.check_landed()
            run.check_bulk()
            # Only the canaries the symlink flow planted may be there, each as it was written.
            changed = [
                name
                for name, (kind, content) in _tree(run.outside).items()
                if (name, kind, content) != ("untouched", "file", b"keep me")
                and (kind, content) != ("file", run.canaries.get(name))
            ]
            if changed:
                raise WorldBroken(f"written outside the destination: {sorted(changed)}")
            stray = [p for p in os.listdir(root) if p not in ("inputs", "dest", "outside")]
            if stray:
                raise WorldBroken(f"written outside the destination: {stray}")
            bound = 300 * len(world.flows) + 100
            if run.requests() > bound:
                raise WorldBroken(f"{run.requests()} requests for {len(world.flows)} flows")
    finally:
        logger.removeHandler(records)
        asyncio_logger.removeHandler(records)
        logger.setLevel(old_level)
    # The server's own handlers end a moment after it stops.
    for _ in range(100):
        gc.collect()
        left = _other_tasks() - tasks_before
        if not left:
            break
        await asyncio.sleep(0.01)
    if left:
        raise WorldBroken(f"tasks outlived the run: {left}")
    if _open_fds() > fds_before + 2:
        raise WorldBroken(f"{_open_fds() - fds_before} file descriptors outlived the run")
    if records.errors:
        raise WorldBroken("logged at ERROR:\n" + "\n".join(records.errors))
    return run
