"""Many takes at once: upload → take → job → watch → download, bounded, journaled, resumable.

`ugc.bulk.run(inputs, dest=...)` yields one `BulkResult` per input, as each finishes; a failing
input fails alone. Every step is recorded in a journal (JSON lines, `<dest>/.move-ugc-journal.jsonl`
by default) so a run killed at any point — even with SIGKILL — can be run again: finished uploads
are not repeated, and no input ever gets a second take or job. Before a create whose outcome is
unknown (a crash or a cut connection right after the request), the journal holds an intent
record; the rerun then looks the record up (takes carry the input's fingerprint in their
metadata; a take's jobs are listed with `jobs.list(take_id=...)`) before creating anything.
Jobs are followed together, up to 50 per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from . import _validation as check
from ._exceptions import (
    APITimeoutError,
    InvalidInputError,
    JobFailedError,
    MoveUgcError,
    NotFoundError,
    OutcomeUnknownError,
)
from .transfers import check_upload_source
from .transfers._common import md5_of_etag
from .transfers.download import probe
from .types._models import File, Job, JobState, OutputType, SourceFormat, SourceIn, Take
from .watch import PollPolicy, _fetch_jobs, _Pacer, _Tracker

if TYPE_CHECKING:
    from ._client import AsyncMoveUgc

log = logging.getLogger("aio_move_ugc.bulk")

JOURNAL_NAME = ".move-ugc-journal.jsonl"
MARKER_KEY = "aio_move_ugc_input"
"""Metadata key that ties a take and its job to the input they were made from."""
STAGES = ("uploaded", "job_created", "outputs_ready", "downloaded")
"""Stages reported to `on_stage`, in order, for each input that gets through them."""
CREATE_ATTEMPTS = 3
"""Creates tried per input when each outcome is unknown and the lookup finds nothing."""
POLL_FAILURES = 5
"""Polling rounds in a row that may fail (each after the client's own retries) before the
jobs of the failing batch are given up for this run; their journal entries keep them resumable."""
LOOKUP_SLACK = 300.0
"""How far before an intent record a take found by lookup may have been created (clock skew)."""


@dataclass(frozen=True)
class BulkItem:
    """One input of a bulk run: a video and how to process it."""

    path: Path
    device_label: str = "camera"
    name: str | None = None
    metadata: Any = None
    outputs: tuple[OutputType, ...] | None = None


@dataclass
class BulkResult:
    """What became of one input."""

    item: BulkItem
    ok: bool
    key: str = ""
    file_id: str | None = None
    take_id: str | None = None
    job_id: str | None = None
    outputs: dict[OutputType, Path] = field(default_factory=dict)
    error: MoveUgcError | None = None
    skipped: bool = False
    """True when a previous run had already finished this input."""


def _md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(path: Path, size: int) -> str:
    """A cheap, stable identity of a video's content: size plus its first and last MiB."""
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as handle:
        digest.update(handle.read(1 << 20))
        if size > 2 << 20:
            handle.seek(size - (1 << 20))
            digest.update(handle.read(1 << 20))
    return digest.hexdigest()[:32]


class Journal:
    """Append-only JSON lines: one record per step per input, replayed on start.

    Records are written and fsynced in a worker thread: the event loop never waits on the disk.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.state: dict[str, dict[str, Any]] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line torn by a crash mid-write
                if isinstance(record, dict) and isinstance(record.get("key"), str):
                    self.state.setdefault(record["key"], {}).update(record)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    @classmethod
    async def open(cls, path: Path) -> Journal:
        """Read (a possibly long) journal without holding up the event loop."""
        return await anyio.to_thread.run_sync(cls, path)

    def get(self, key: str) -> dict[str, Any]:
        return self.state.get(key, {})

    async def record(self, key: str, **fields: Any) -> None:
        """Write one record and make it durable before the next step starts."""
        entry = {"key": key, "at": time.time(), **fields}
        self.state.setdefault(key, {}).update(entry)
        line = (json.dumps(entry, default=str) + "\n").encode()
        await anyio.to_thread.run_sync(self._append, line)

    def _append(self, line: bytes) -> None:
        # One write() per record: O_APPEND keeps records from concurrent threads whole.
        os.write(self._fd, line)
        os.fsync(self._fd)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)

    def remove(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class _Monitor:
    """Follows every job of the run in shared rounds (50 jobs per request)."""

    def __init__(self, client: AsyncMoveUgc, policy: PollPolicy) -> None:
        self._client = client
        self._policy = policy
        self._waiting: dict[str, tuple[_Tracker, asyncio.Future[Job]]] = {}
        self._wake = asyncio.Event()

    async def wait(self, job_id: str) -> Job:
        future: asyncio.Future[Job] = asyncio.get_running_loop().create_future()
        self._waiting[job_id] = (_Tracker(job_id, "outputs_ready"), future)
        self._wake.set()
        try:
            return await future
        finally:
            self._waiting.pop(job_id, None)

    async def run(self) -> None:
        pacer = _Pacer(self._client, self._policy)
        failures: dict[str, int] = {}
        while True:
            if not self._waiting:
                self._wake.clear()
                await self._wake.wait()
            ids = list(self._waiting)
            changed = False
            for start in range(0, len(ids), 50):
                batch = ids[start : start + 50]
                try:
                    jobs, missing = await _fetch_jobs(self._client, batch)
                except MoveUgcError as exc:
                    log.warning("polling %d jobs failed: %s", len(batch), exc)
                    for job_id in batch:
                        failures[job_id] = failures.get(job_id, 0) + 1
                        if failures[job_id] >= POLL_FAILURES:
                            self._settle(job_id, error=exc)
                    continue
                for job_id in batch:
                    failures.pop(job_id, None)
                for job_id in missing:
                    self._settle(job_id, error=NotFoundError(f"job {job_id} not found", status=200))
                for job in jobs:
                    entry = self._waiting.get(job.id)
                    if entry is None:
                        continue
                    tracker, future = entry
                    changed |= bool(tracker.observe(job))
                    if tracker.done and not future.done():
                        state = job.current_state
                        if state == JobState.FINISHED:
                            future.set_result(job)
                        else:
                            future.set_exception(JobFailedError(job.id, str(state)))
            for job_id in list(failures):
                if job_id not in self._waiting:
                    del failures[job_id]
            pacer.changed(changed)
            await anyio.sleep(pacer.next_delay(max(1, -(-len(ids) // 50))))

    def _settle(self, job_id: str, *, error: MoveUgcError) -> None:
        entry = self._waiting.get(job_id)
        if entry is not None and not entry[1].done():
            entry[1].set_exception(error)


class Bulk:
    """`ugc.bulk`: process many videos in parallel."""

    def __init__(self, client: AsyncMoveUgc) -> None:
        self._client = client

    async def run(
        self,
        inputs: Iterable[str | os.PathLike[str] | BulkItem],
        *,
        dest: str | os.PathLike[str],
        outputs: Sequence[OutputType | str] | None = None,
        concurrency: int = 8,
        journal: str | os.PathLike[str] | None = None,
        interval: float = 5.0,
        max_interval: float = 30.0,
        retry_failed: bool = False,
        on_stage: Callable[[BulkItem, str], object] | None = None,
    ) -> AsyncIterator[BulkResult]:
        """Yield a `BulkResult` per input as each finishes (in completion order).

        `concurrency` bounds the inputs being uploaded and created at once; downloads share
        the client's transfer limit. `journal` (default `<dest>/.move-ugc-journal.jsonl`)
        makes the run resumable; inputs a previous run finished are yielded as `skipped`, and
        so is an input whose content is identical to one already processed in this run.
        Jobs that failed in a previous run are re-run only with `retry_failed=True`.
        `on_stage(item, stage)` is called as each input passes one of `STAGES`.
        """
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise InvalidInputError("concurrency must be a positive integer")
        default_outputs = _parse_outputs(outputs)
        dest_dir = Path(dest)
        items = [_as_item(raw, default_outputs) for raw in inputs]
        journal_file = await Journal.open(Path(journal) if journal else dest_dir / JOURNAL_NAME)
        monitor = _Monitor(self._client, PollPolicy(interval=interval, max_interval=max_interval))
        send, receive = anyio.create_memory_object_stream[BulkResult](
            max_buffer_size=len(items) or 1
        )
        limiter = anyio.CapacityLimiter(concurrency)
        runner = _Runner(
            self._client, journal_file, monitor, limiter, dest_dir, retry_failed, on_stage
        )

        async def drive() -> None:
            async with send, anyio.create_task_group() as group:
                group.start_soon(monitor.run)
                async with anyio.create_task_group() as inputs_group:
                    for item in items:
                        inputs_group.start_soon(runner.process, item, send.clone())
                group.cancel_scope.cancel()

        task = asyncio.get_running_loop().create_task(drive())
        try:
            async with receive:
                async for result in receive:
                    yield result
            await task
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            journal_file.close()


def _parse_outputs(outputs: Sequence[OutputType | str] | None) -> tuple[OutputType, ...] | None:
    values = check.outputs(outputs)
    return tuple(OutputType(v) for v in values) if values else None


def _as_item(
    raw: str | os.PathLike[str] | BulkItem, default_outputs: tuple[OutputType, ...] | None
) -> BulkItem:
    if isinstance(raw, BulkItem):
        if raw.outputs is None and default_outputs is not None:
            return BulkItem(raw.path, raw.device_label, raw.name, raw.metadata, default_outputs)
        return raw
    return BulkItem(Path(raw), outputs=default_outputs)


@dataclass
class _Runner:
    client: AsyncMoveUgc
    journal: Journal
    monitor: _Monitor
    limiter: anyio.CapacityLimiter
    dest: Path
    retry_failed: bool
    on_stage: Callable[[BulkItem, str], object] | None
    _busy: dict[str, anyio.Lock] = field(default_factory=dict)
    """One lock per input fingerprint: identical videos are processed once, not in parallel."""

    def _stage(self, item: BulkItem, stage: str) -> None:
        if self.on_stage is not None:
            self.on_stage(item, stage)

    async def process(self, item: BulkItem, send: MemoryObjectSendStream[BulkResult]) -> None:
        async with send:
            result = BulkResult(item=item, ok=False)
            try:
                await self._process(item, result)
                result.ok = True
            except MoveUgcError as exc:
                result.error = exc
                if result.key:
                    await self.journal.record(
                        result.key, failed=str(exc), job_failed=isinstance(exc, JobFailedError)
                    )
            except OSError as exc:
                result.error = MoveUgcError(f"{item.path}: {exc.strerror or exc}")
            await send.send(result)

    async def _process(self, item: BulkItem, result: BulkResult) -> None:
        path, size, file_type = check_upload_source(item.path, None)
        check.metadata(item.metadata)
        check.text(item.device_label, "device_label", allow_empty=False)
        key = await anyio.to_thread.run_sync(fingerprint, path, size)
        result.key = key
        async with self._busy.setdefault(key, anyio.Lock()):
            await self._process_input(item, result, path, file_type, key)

    async def _process_input(
        self, item: BulkItem, result: BulkResult, path: Path, file_type: str, key: str
    ) -> None:
        ugc = self.client
        done = self.journal.get(key)
        if done.get("downloaded"):
            result.file_id, result.take_id, result.job_id = (
                done.get("file_id"),
                done.get("take_id"),
                done.get("job_id"),
            )
            result.outputs = {OutputType(k): Path(v) for k, v in done["downloaded"].items()}
            if all(p.exists() for p in result.outputs.values()):
                result.skipped = True
                for stage in STAGES:
                    self._stage(item, stage)
                return
        if done.get("job_failed") and not self.retry_failed:
            raise JobFailedError(done.get("job_id") or "?", "FAILED", "failed in an earlier run")
        async with self.limiter:
            file_id = done.get("file_id")
            if not file_id and done.get("uploading"):
                file_id = await self._uploaded_before(done["uploading"], path)
                if file_id:
                    await self.journal.record(key, file_id=file_id, path=str(path))
            if not file_id:

                async def journal_record(file: File) -> None:
                    await self.journal.record(key, uploading=file.id)

                file = await ugc.files.upload(path, type=file_type, on_record=journal_record)
                file_id = file.id
                await self.journal.record(key, file_id=file_id, path=str(path))
            result.file_id = file_id
            self._stage(item, "uploaded")
            take_id = done.get("take_id") or await self._take(item, key, file_id, file_type)
            result.take_id = take_id
            job_id = done.get("job_id")
            if not job_id or (done.get("job_failed") and self.retry_failed):
                job_id = await self._job(item, key, take_id, fresh=bool(done.get("job_failed")))
            result.job_id = job_id
            self._stage(item, "job_created")
        job = await self.monitor.wait(job_id)
        self._stage(item, "outputs_ready")
        paths = await ugc.jobs._download_ready_outputs(job, self.dest, item.outputs)
        result.outputs = paths
        await self.journal.record(key, downloaded={k.value: str(p) for k, p in paths.items()})
        self._stage(item, "downloaded")

    async def _uploaded_before(self, file_id: str, path: Path) -> str | None:
        """`file_id` when a run killed between its PUT and its journal record had in fact
        stored this very video there (same size and MD5), else None."""
        try:
            record = await self.client.files.retrieve(file_id)
            if not record.presigned_url:
                return None
            found = await probe(self.client._storage_session(), record.presigned_url)
        except MoveUgcError:
            return None
        if found is None:
            return None
        size, etag = found
        local_size = (await anyio.Path(path).stat()).st_size
        if size != local_size:
            return None
        local_md5 = await anyio.to_thread.run_sync(_md5_of, path)
        if md5_of_etag(etag) == local_md5:
            return file_id
        return None

    def _marker(self, item: BulkItem, key: str) -> dict[str, Any]:
        base = (
            item.metadata
            if isinstance(item.metadata, dict)
            else ({} if item.metadata is None else {"user": item.metadata})
        )
        return {**base, MARKER_KEY: key}

    async def _take(self, item: BulkItem, key: str, file_id: str, file_type: str) -> str:
        intent = self.journal.get(key).get("creating_take")
        if intent:
            found = await self._find_take(key, since=float(intent) - LOOKUP_SLACK)
            if found:
                await self.journal.record(key, take_id=found)
                return found
        source = SourceIn(
            device_label=item.device_label, file_id=file_id, format=SourceFormat(file_type)
        )
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            await self.journal.record(key, creating_take=time.time())
            try:
                take = await self.client.takes.create_singlecam(
                    [source], name=item.name, metadata=self._marker(item, key)
                )
            except OutcomeUnknownError as exc:
                found = await self._find_take(key, since=time.time() - LOOKUP_SLACK)
                if found:
                    await self.journal.record(key, take_id=found)
                    return found
                if attempt == CREATE_ATTEMPTS or _may_still_be_running(exc):
                    raise
                continue  # not created: the request was answered or cut, and no take has it
            await self.journal.record(key, take_id=take.id)
            return take.id
        raise AssertionError("unreachable")

    async def _find_take(self, key: str, *, since: float) -> str | None:
        """The take this input created earlier, found by its marker among the newest takes."""
        take: Take
        async for take in self.client.takes.list(limit=100):
            if isinstance(take.metadata, dict) and take.metadata.get(MARKER_KEY) == key:
                return take.id
            if take.created is not None and take.created.timestamp() < since:
                return None
        return None

    async def _job(self, item: BulkItem, key: str, take_id: str, *, fresh: bool) -> str:
        entry = self.journal.get(key)
        if entry.get("creating_job") and not fresh:
            existing = await self._find_job(take_id, exclude=None)
            if existing:
                await self.journal.record(key, job_id=existing)
                return existing
        exclude = entry.get("job_id") if fresh else None
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            await self.journal.record(key, creating_job=time.time(), job_failed=False)
            try:
                job = await self.client.jobs.create_singlecam(
                    take_id, outputs=item.outputs, name=item.name, metadata=self._marker(item, key)
                )
            except OutcomeUnknownError as exc:
                existing = await self._find_job(take_id, exclude=exclude)
                if existing:
                    await self.journal.record(key, job_id=existing)
                    return existing
                if attempt == CREATE_ATTEMPTS or _may_still_be_running(exc):
                    raise
                continue  # not created: the request was answered or cut, and the take has no job
            await self.journal.record(key, job_id=job.id)
            return job.id
        raise AssertionError("unreachable")

    async def _find_job(self, take_id: str, *, exclude: str | None) -> str | None:
        """Every job of this input's take is this input's: the take is its alone."""
        page = await self.client.jobs.list(take_id=take_id, limit=10)
        for job in page.items:
            if job.id != exclude:
                return job.id
        return None


def _may_still_be_running(exc: OutcomeUnknownError) -> bool:
    """A create that timed out may still be under way on the server, so a lookup made now
    proves nothing; the intent record lets a later run look again."""
    return isinstance(exc.__cause__, APITimeoutError)
