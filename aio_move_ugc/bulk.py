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
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from . import _validation as check
from ._exceptions import ConfigurationError, InvalidInputError, JobFailedError, MoveUgcError
from ._retry import create_with_lookup
from .transfers.outputs import OutputKey, download_outputs, output_key, requested_outputs
from .transfers.upload import check_upload_source, md5_of_file, upload_new_file
from .types._enums import OutputType, SourceFormat
from .types._models import File, Job, SourceIn, Take
from .watch import JobWaiter, PollPolicy

if TYPE_CHECKING:
    from ._context import ClientContext
    from .resources.files import Files
    from .resources.jobs import Jobs
    from .resources.takes import Takes

log = logging.getLogger("aio_move_ugc.bulk")

JOURNAL_NAME = ".move-ugc-journal.jsonl"
CRASH_AFTER_ENV = "AIO_MOVE_UGC_JOURNAL_CRASH_AFTER"
"""Fault injection for resumability tests: when set to N, the process kills itself (SIGKILL)
just before it writes its N-th journal record, as a power cut would stop it: the step that
record would have made durable has happened, the journal does not know it."""
MARKER_KEY = "aio_move_ugc_input"
"""Metadata key that ties a take and its job to the input they were made from."""
STAGES = ("uploaded", "job_created", "outputs_ready", "downloaded")
"""Stages reported to `on_stage`, in order, for each input that gets through them."""
LOOKUP_SLACK = 300.0
"""How far before an intent record a take found by lookup may have been created (clock skew)."""


@dataclass(frozen=True)
class BulkItem:
    """One input of a bulk run: a video and how to process it.

    Bad values raise `ConfigurationError` here (the video itself is checked when the run
    reaches it: a missing or empty file fails that input alone).
    """

    path: Path
    device_label: str = "camera"
    name: str | None = None
    metadata: Any = None
    outputs: tuple[OutputType, ...] | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "path", check.path(self.path, "path"))
            check.text(self.device_label, "device_label", allow_empty=False)
            if self.device_label is None:
                raise InvalidInputError("device_label must be a string")
            check.text(self.name, "name")
            check.metadata(self.metadata)
            if self.outputs is not None:
                chosen = check.outputs(self.outputs) or []
                object.__setattr__(self, "outputs", tuple(OutputType(v) for v in chosen))
        except InvalidInputError as exc:
            raise ConfigurationError(f"BulkItem: {exc}") from None


@dataclass
class BulkResult:
    """What became of one input."""

    item: BulkItem
    ok: bool
    key: str = ""
    file_id: str | None = None
    take_id: str | None = None
    job_id: str | None = None
    outputs: dict[OutputKey, Path] = field(default_factory=dict)
    error: MoveUgcError | None = None
    skipped: bool = False
    """True when a previous run had already finished this input."""


def content_identity(path: Path) -> str:
    """The identity of a video: the SHA-256 of every byte (two videos that differ anywhere,
    even only in the middle, are two inputs)."""
    return fingerprint(path)[0]


def fingerprint(path: Path) -> tuple[str, str]:
    """The content identity (SHA-256) and the MD5 of a video, both from one read of its bytes
    (blocking: run it in a thread). The MD5 is what the storage's ETag must show once the
    video is uploaded, so the upload need not hash the bytes again."""
    identity = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            identity.update(chunk)
            md5.update(chunk)
    return identity.hexdigest(), md5.hexdigest()


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
        self._written = 0
        crash_after = os.environ.get(CRASH_AFTER_ENV, "")
        self._crash_after = int(crash_after) if crash_after.isdigit() else 0
        self.identities: dict[tuple[str, int, int], str] = {}
        """Content identities of files hashed before, by (path, size, mtime_ns)."""
        for key, entry in self.state.items():
            seen = entry.get("source")
            if isinstance(seen, list) and len(seen) == 3:
                self.identities[(str(seen[0]), int(seen[1]), int(seen[2]))] = key

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
        self._written += 1
        if self._written == self._crash_after:
            os.kill(os.getpid(), signal.SIGKILL)
        os.write(self._fd, line)
        os.fsync(self._fd)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)

    def remove(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class Bulk:
    """`ugc.bulk`: process many videos in parallel.

    Made by the client on first use of `ugc.bulk`: `ctx` is the client's context and `files`,
    `takes` and `jobs` its resources; there is no need to build one by hand.
    """

    def __init__(self, ctx: ClientContext, *, files: Files, takes: Takes, jobs: Jobs) -> None:
        self._ctx = ctx
        self._files = files
        self._takes = takes
        self._jobs = jobs

    async def run(
        self,
        inputs: Iterable[str | os.PathLike[str] | BulkItem],
        *,
        dest: str | os.PathLike[str],
        outputs: Sequence[OutputType | str] | None = None,
        concurrency: int = 8,
        journal: str | os.PathLike[str] | None = None,
        interval: float | None = None,
        max_interval: float | None = None,
        retry_failed: bool = False,
        on_stage: Callable[[BulkItem, str], object] | None = None,
        on_progress: Callable[[BulkItem, int, int], object] | None = None,
    ) -> AsyncIterator[BulkResult]:
        """Yield a `BulkResult` per input as each finishes (in completion order).

        `concurrency` bounds the inputs being uploaded at once and, apart from them, the inputs
        whose take and job are being created (an upload slot is not held while the API answers);
        inputs are read and hashed for their identity in order, a few at a time, ahead of their
        uploads. Downloads share the client's transfer limit.

        `journal` (default `<dest>/.move-ugc-journal.jsonl`) makes the run resumable; inputs a
        previous run finished are yielded as `skipped`, and so is an input whose content is
        identical to one already processed in this run.
        Jobs that failed in a previous run are re-run only with `retry_failed=True`.
        `on_stage(item, stage)` is called as each input passes one of `STAGES`, and
        `on_progress(item, done, total)` as the bytes of its upload go out (`done` of `total`
        bytes; it starts again from 0 when a failed try is sent again). An input whose upload
        a previous run finished is not uploaded, and gets no `on_progress` call.

        `inputs` are video paths or `BulkItem`s; results land under `dest`. `outputs` are the
        output types to ask for, for every input whose `BulkItem` does not name its own
        (default: the API's defaults). Jobs are polled as by `jobs.wait`: `interval` seconds
        apart at first (default 5), growing towards `max_interval` (default 60).

        The arguments are checked before anything is written or sent (`InvalidInputError`);
        after that, whatever goes wrong with one input becomes that input's failed result,
        and only cancellation ends the run.
        """
        self._ctx.ensure_open()
        check.count(concurrency, "concurrency", minimum=1)
        check.flag(retry_failed, "retry_failed")
        for hook, name in ((on_stage, "on_stage"), (on_progress, "on_progress")):
            if hook is not None and not callable(hook):
                raise InvalidInputError(f"{name} must be a callable")
        policy = PollPolicy.of(interval, max_interval)
        default_outputs = _parse_outputs(outputs)
        dest_dir = check.directory(dest, "dest")
        journal_path = check.path(journal, "journal") if journal is not None else None
        if isinstance(inputs, str | os.PathLike) or not isinstance(inputs, Iterable):
            raise InvalidInputError("inputs must be a list of paths or BulkItems")
        items = [_as_item(raw, default_outputs) for raw in inputs]
        journal_file = await Journal.open(journal_path or dest_dir / JOURNAL_NAME)
        waiter = JobWaiter(self._ctx, policy)
        send, receive = anyio.create_memory_object_stream[BulkResult](
            max_buffer_size=len(items) or 1
        )
        runner = _Runner(
            self._ctx,
            self._files,
            self._takes,
            self._jobs,
            journal_file,
            waiter,
            anyio.CapacityLimiter(concurrency),
            anyio.CapacityLimiter(concurrency),
            anyio.CapacityLimiter(min(concurrency, os.cpu_count() or 1)),
            dest_dir,
            retry_failed,
            on_stage,
            on_progress,
        )

        async def drive() -> None:
            async with send, anyio.create_task_group() as group:
                group.start_soon(waiter.run)
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
    if isinstance(raw, bool) or not isinstance(raw, str | os.PathLike):
        raise InvalidInputError(
            f"each input must be a path or a BulkItem, not {type(raw).__name__}"
        )
    return BulkItem(check.path(raw, "input"), outputs=default_outputs)


@dataclass
class _Runner:
    ctx: ClientContext
    files: Files
    takes: Takes
    jobs: Jobs
    journal: Journal
    waiter: JobWaiter
    limiter: anyio.CapacityLimiter
    """Inputs being uploaded at once."""
    creating: anyio.CapacityLimiter
    """Inputs whose take and job are being created at once."""
    hashing: anyio.CapacityLimiter
    """Inputs being read for their identity at once: no more than the CPUs that hash them, so
    the first inputs are ready to upload early instead of all at the end (waiters are served
    in the order they came, which is the order of the inputs)."""
    dest: Path
    retry_failed: bool
    on_stage: Callable[[BulkItem, str], object] | None
    on_progress: Callable[[BulkItem, int, int], object] | None
    _busy: dict[str, anyio.Lock] = field(default_factory=dict)
    """One lock per input identity: identical videos are processed once, not in parallel."""

    def _create_attempts(self) -> int:
        """Creates tried when each outcome is unknown and each lookup finds nothing: as many as
        the client's retry policy allows any request (a lookup proves nothing was made)."""
        return max(self.ctx.retry.max_retries + 1, 1)

    def _stage(self, item: BulkItem, stage: str) -> None:
        if self.on_stage is not None:
            self.on_stage(item, stage)

    async def process(self, item: BulkItem, send: MemoryObjectSendStream[BulkResult]) -> None:
        async with send:
            result = BulkResult(item=item, ok=False)
            try:
                await self._process(item, result)
                result.ok = True
            except Exception as exc:
                result.error = _as_error(item, exc)
                if result.key:
                    with contextlib.suppress(OSError):
                        await self.journal.record(
                            result.key,
                            failed=str(result.error),
                            job_failed=isinstance(exc, JobFailedError),
                            **_failed_job(self.journal.get(result.key), exc),
                        )
            await send.send(result)

    async def _process(self, item: BulkItem, result: BulkResult) -> None:
        path, size, file_type = check_upload_source(item.path, None)
        key, md5 = await self._identity(path, size)
        result.key = key
        async with self._busy.setdefault(key, anyio.Lock()):
            await self._process_input(item, result, path, size, file_type, key, md5)

    async def _identity(self, path: Path, size: int) -> tuple[str, str | None]:
        """The content identity of `path` and its MD5, from the journal when this very file
        (same path, size and modification time) was hashed by an earlier run (the MD5 is
        None when that run did not record it)."""
        async with self.hashing:
            info = await anyio.Path(path).stat()
            source = (str(await anyio.Path(path).absolute()), size, info.st_mtime_ns)
            known = self.journal.identities.get(source)
            if known is not None:
                md5 = self.journal.get(known).get("md5")
                return known, md5 if isinstance(md5, str) else None
            key, md5 = await anyio.to_thread.run_sync(fingerprint, path)
        self.journal.identities[source] = key
        await self.journal.record(key, source=list(source), md5=md5)
        return key, md5

    async def _process_input(
        self,
        item: BulkItem,
        result: BulkResult,
        path: Path,
        size: int,
        file_type: str,
        key: str,
        md5: str | None,
    ) -> None:
        done = self.journal.get(key)
        if done.get("downloaded"):
            result.file_id, result.take_id, result.job_id = (
                done.get("file_id"),
                done.get("take_id"),
                done.get("job_id"),
            )
            result.outputs = {output_key(k): Path(v) for k, v in done["downloaded"].items()}
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
                file_id = await self._uploaded_before(done["uploading"], path, size, md5)
                if file_id:
                    await self.journal.record(key, file_id=file_id, path=str(path))
            if not file_id:
                file_id = await self._upload(item, key, path, size, file_type, md5)
            result.file_id = file_id
            self._stage(item, "uploaded")
        async with self.creating:
            take_id = await self._take(item, key, file_id, file_type)
            result.take_id = take_id
            job_id = await self._job(item, key, take_id)
            result.job_id = job_id
            self._stage(item, "job_created")
        job = await self.waiter.wait(job_id, requested_outputs(item.outputs))
        self._stage(item, "outputs_ready")
        paths = await download_outputs(
            self.ctx,
            job,
            self.dest,
            item.outputs,
            retrieve=lambda: self.jobs.retrieve(job_id, expand=["outputs"]),
        )
        result.outputs = paths
        await self.journal.record(key, downloaded={k.value: str(p) for k, p in paths.items()})
        self._stage(item, "downloaded")

    async def _upload(
        self, item: BulkItem, key: str, path: Path, size: int, file_type: str, md5: str | None
    ) -> str:
        async def journal_record(file: File) -> None:
            await self.journal.record(key, uploading=file.id)

        on_progress = self.on_progress
        progress = None
        if on_progress is not None:

            def progress(done: int, total: int) -> None:
                on_progress(item, done, total)

        # As `files.upload` does, with the MD5 read along with the identity: the bytes are
        # not hashed a second time on their way out, and the ETag is checked against it.
        file = await upload_new_file(
            self.ctx,
            path,
            size,
            create=lambda: self.files.create(file_type),
            on_record=journal_record,
            md5=md5,
            progress=progress,
        )
        await self.journal.record(key, file_id=file.id, path=str(path))
        return file.id

    async def _uploaded_before(
        self, file_id: str, path: Path, size: int, md5: str | None
    ) -> str | None:
        """`file_id` when a run killed between its PUT and its journal record had in fact
        stored this very video there (same size and MD5), else None."""
        try:
            found = await self.files.probe(file_id)
        except MoveUgcError as exc:
            log.info("cannot tell whether %s was stored (%s); uploading again", path.name, exc)
            return None
        if found is None or found[0] != size or found[1] is None:
            return None
        local_md5 = md5 or await anyio.to_thread.run_sync(md5_of_file, path)
        return file_id if found[1] == local_md5 else None

    def _marker(self, item: BulkItem, key: str) -> dict[str, Any]:
        base = (
            item.metadata
            if isinstance(item.metadata, dict)
            else ({} if item.metadata is None else {"user": item.metadata})
        )
        return {**base, MARKER_KEY: key}

    async def _take(self, item: BulkItem, key: str, file_id: str, file_type: str) -> str:
        entry = self.journal.get(key)
        if entry.get("take_id"):
            return str(entry["take_id"])
        intent = entry.get("creating_take")
        if intent:  # a run died with a create on its way: it may have made the take
            found = await self._find_take(key, since=float(intent) - LOOKUP_SLACK)
            if found:
                await self.journal.record(key, take_id=found, creating_take=None)
                return found
        source = SourceIn(
            device_label=item.device_label, file_id=file_id, format=SourceFormat(file_type)
        )

        async def create() -> str:
            take = await self.takes.create_singlecam(
                [source], name=item.name, metadata=self._marker(item, key)
            )
            return take.id

        take_id = await create_with_lookup(
            create,
            lambda: self._find_take(key, since=time.time() - LOOKUP_SLACK),
            before=lambda: self.journal.record(key, creating_take=time.time()),
            attempts=self._create_attempts(),
        )
        await self.journal.record(key, take_id=take_id, creating_take=None)
        return take_id

    async def _find_take(self, key: str, *, since: float) -> str | None:
        """The take this input created earlier, found by its marker among the newest takes."""
        take: Take
        async for take in self.takes.list(limit=100):
            if isinstance(take.metadata, dict) and take.metadata.get(MARKER_KEY) == key:
                return take.id
            if take.created is not None and take.created.timestamp() < since:
                return None
        return None

    async def _job(self, item: BulkItem, key: str, take_id: str) -> str:
        """This input's live job: the journaled one, one a killed run created (found by
        lookup), or a new one; a failed job is replaced only with `retry_failed`."""
        entry = self.journal.get(key)
        failed = set(entry.get("failed_jobs") or [])
        job_id = entry.get("job_id")
        if entry.get("creating_job"):
            # A run died with a create on its way (perhaps a replacement for a failed job).
            found = await self._find_job(take_id, exclude=failed)
            if found:
                await self.journal.record(key, job_id=found, creating_job=None, job_failed=False)
                return found
        if job_id and job_id not in failed and not entry.get("job_failed"):
            return str(job_id)
        if job_id and entry.get("job_failed"):
            failed.add(job_id)

        async def create() -> str:
            job = await self.jobs.create_singlecam(
                take_id, outputs=item.outputs, name=item.name, metadata=self._marker(item, key)
            )
            return job.id

        new_id = await create_with_lookup(
            create,
            lambda: self._find_job(take_id, exclude=failed),
            before=lambda: self.journal.record(
                key, creating_job=time.time(), failed_jobs=sorted(failed)
            ),
            attempts=self._create_attempts(),
        )
        await self.journal.record(key, job_id=new_id, creating_job=None, job_failed=False)
        return new_id

    async def _find_job(self, take_id: str, *, exclude: set[str]) -> str | None:
        """Every job of this input's take is this input's (the take is its alone); the newest
        that has not failed before is the live one."""
        page = await self.jobs.list(take_id=take_id, limit=10)
        job: Job
        for job in page.items:
            if job.id not in exclude:
                return job.id
        return None


def _failed_job(entry: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    """The journal fields that remember a failed job, so it is never waited on again."""
    if not isinstance(exc, JobFailedError) or exc.job_id == "?":
        return {}
    failed = set(entry.get("failed_jobs") or []) | {exc.job_id}
    return {"failed_jobs": sorted(failed)}


def _as_error(item: BulkItem, exc: Exception) -> MoveUgcError:
    """Whatever failed one input, as the `MoveUgcError` its result carries."""
    if isinstance(exc, MoveUgcError):
        return exc
    if isinstance(exc, OSError):
        return MoveUgcError(f"{item.path}: {exc.strerror or exc}")
    log.warning("input %s failed unexpectedly", item.path, exc_info=exc)
    return MoveUgcError(f"{item.path}: unexpected {type(exc).__name__}: {exc}")
