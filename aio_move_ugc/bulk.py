"""Many takes at once: upload → take → job → watch → download, bounded, journaled, resumable.

`ugc.bulk.run(inputs, dest=...)` yields one `BulkResult` per input, as each finishes; a failing
input fails alone. Every step is recorded in a journal (typed JSON lines,
`<dest>/.move-ugc-journal.jsonl` by default; see `JournalLockedError` and
`JournalMismatchError` for the rules it keeps) so a run killed at any point — even with
SIGKILL — can be run again: finished uploads are not repeated, and no input ever gets a second
take or job. Before a create whose outcome is unknown (a crash or a cut connection right after
the request), the journal holds an intent record; the rerun then looks the record up (takes
carry the input's identity in their metadata; a take's jobs are listed with
`jobs.list(take_id=...)`) before creating anything. The steps themselves, and the identity of
an input, are the ones distributed runs use too. Jobs are followed together, up to 50 per
request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from . import _validation as check
from ._exceptions import InvalidInputError, JobFailedError, MoveUgcError
from ._journal import (
    Entry,
    Journal,
    JournalError,
    JournalLockedError,
    JournalMismatchError,
    SourceStat,
)
from ._steps import (
    LOOKUP_SLACK,
    LOOKUP_WINDOW,
    MARKER_KEY,
    BulkItem,
    BulkResult,
    Lookup,
    as_item,
    create_job,
    create_take,
    discover,
    find_job,
    find_take,
    identity,
    look_again,
    normalise_outputs,
    read_digests,
    stored_before,
)
from .transfers.outputs import download_outputs, output_key, requested_outputs
from .transfers.upload import check_upload_source, upload_new_file
from .types._enums import OutputType
from .types._models import File
from .watch import JobWaiter, PollPolicy

if TYPE_CHECKING:
    from ._context import ClientContext
    from .resources.files import Files
    from .resources.jobs import Jobs
    from .resources.takes import Takes

__all__ = [
    "JOURNAL_NAME",
    "LOOKUP_WINDOW",
    "MARKER_KEY",
    "STAGES",
    "Bulk",
    "BulkItem",
    "BulkResult",
    "JournalError",
    "JournalLockedError",
    "JournalMismatchError",
    "discover",
]

log = logging.getLogger("aio_move_ugc.bulk")

JOURNAL_NAME = ".move-ugc-journal.jsonl"
STAGES = ("uploaded", "job_created", "outputs_ready", "downloaded")
"""Stages reported to `on_stage`, in order, for each input that gets through them."""


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
        lookup_window: float = LOOKUP_WINDOW,
        before_record: Callable[[int], object] | None = None,
    ) -> AsyncIterator[BulkResult]:
        """Yield a `BulkResult` per input as each finishes (in completion order).

        `concurrency` bounds the inputs being uploaded at once and, apart from them, the inputs
        whose take and job are being created (an upload slot is not held while the API answers);
        inputs are read and hashed for their identity in order, a few at a time, ahead of their
        uploads. Downloads share the client's transfer limit.

        `journal` (default `<dest>/.move-ugc-journal.jsonl`) makes the run resumable; inputs a
        previous run finished are yielded as `skipped`, and so is an input identical to one
        already processed in this run (an input is its video's bytes and the outputs it asks
        for). The journal is locked for the run: a second run on it is refused at once
        (`JournalLockedError`, naming the holder); a journal written against another endpoint
        or API key is refused too (`JournalMismatchError`).
        A create whose outcome is unknown is looked for over `lookup_window` seconds (of the
        client's clock): when it is still not found the input fails with
        `OutcomeUnknownError`, and the next run looks again before it creates anything.
        `before_record(n)` is called just before the n-th journal record of this run is
        written (tests stop the process there).
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
        check.seconds(lookup_window, "lookup_window", allow_zero=True)
        if before_record is not None and not callable(before_record):
            raise InvalidInputError("before_record must be a callable")
        default_outputs = normalise_outputs(outputs)
        dest_dir = check.directory(dest, "dest")
        journal_path = check.path(journal, "journal") if journal is not None else None
        if isinstance(inputs, str | os.PathLike) or not isinstance(inputs, Iterable):
            raise InvalidInputError("inputs must be a list of paths or BulkItems")
        items = [as_item(raw, default_outputs) for raw in inputs]
        journal_file = await Journal.open(
            journal_path or dest_dir / JOURNAL_NAME,
            endpoint=self._ctx.transport.endpoint_url,
            account=self._ctx.transport.account(),
            before_write=before_record,
        )
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
            Lookup(self._ctx.clock, lookup_window),
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
    lookup: Lookup
    _busy: dict[str, anyio.Lock] = field(default_factory=dict)
    """One lock per input identity: identical inputs are processed once, not in parallel."""

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
        content, md5 = await self._digests(path, item.outputs)
        key = identity(content, item.outputs)
        result.key = key
        async with self._busy.setdefault(key, anyio.Lock()):
            await self._process_input(item, result, path, size, file_type, key, md5)

    async def _digests(
        self, path: Path, outputs: tuple[OutputType, ...] | None
    ) -> tuple[str, str | None]:
        """The SHA-256 and MD5 of `path`'s bytes; from the journal when an earlier run hashed
        this very file, unchanged since (same path, size, mtime, ctime and inode: a copy or
        a rewrite that keeps the size and mtime is read again). The MD5 is None when that run
        did not record it."""
        async with self.hashing:
            info = await anyio.Path(path).stat()
            source = SourceStat.of(Path(await anyio.Path(path).absolute()), info)
            known = self.journal.identities.get(source)
            if known is not None:
                return known
            digests = await read_digests(path)
        key = identity(digests.content, outputs)
        await self.journal.record(key, source=source, content=digests.content, md5=digests.md5)
        return digests.content, digests.md5

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
        if done.downloaded:
            result.file_id, result.take_id, result.job_id = done.file_id, done.take_id, done.job_id
            result.outputs = {output_key(k): Path(v) for k, v in done.downloaded.items()}
            if all(p.exists() for p in result.outputs.values()):
                result.skipped = True
                for stage in STAGES:
                    self._stage(item, stage)
                return
        if done.job_failed and not self.retry_failed:
            raise JobFailedError(done.job_id or "?", "FAILED", "failed in an earlier run")
        async with self.limiter:
            file_id = done.file_id
            earlier = done.uploading
            if (
                not file_id
                and earlier
                and await stored_before(self.files, earlier, path=path, size=size, md5=md5)
            ):
                file_id = earlier
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

    async def _take(self, item: BulkItem, key: str, file_id: str, file_type: str) -> str:
        entry = self.journal.get(key)
        if entry.take_id:
            return entry.take_id
        if entry.creating_take:  # a run died with a create on its way: it may have made it
            since = entry.creating_take - LOOKUP_SLACK
            found = await look_again(lambda: find_take(self.takes, key, since=since), self.lookup)
            if found:
                await self.journal.record(key, take_id=found, creating_take=None)
                return found
        take_id = await create_take(
            self.takes,
            key,
            item,
            file_id=file_id,
            file_type=file_type,
            lookup=self.lookup,
            since=lambda: time.time() - LOOKUP_SLACK,
            before=lambda: self.journal.record(key, creating_take=time.time()),
        )
        await self.journal.record(key, take_id=take_id, creating_take=None)
        return take_id

    async def _job(self, item: BulkItem, key: str, take_id: str) -> str:
        """This input's live job: the journaled one, one a killed run created (found by
        lookup), or a new one; a failed job is replaced only with `retry_failed`."""
        entry = self.journal.get(key)
        failed = set(entry.failed_jobs or [])
        job_id = entry.job_id
        if entry.creating_job:
            # A run died with a create on its way (perhaps a replacement for a failed job).
            exclude = sorted(failed)
            found = await look_again(
                lambda: find_job(self.jobs, take_id, exclude=exclude), self.lookup
            )
            if found:
                await self.journal.record(key, job_id=found, creating_job=None, job_failed=False)
                return found
        if job_id and job_id not in failed and not entry.job_failed:
            return job_id
        if job_id and entry.job_failed:
            failed.add(job_id)
        new_id = await create_job(
            self.jobs,
            key,
            item,
            take_id=take_id,
            exclude=sorted(failed),
            lookup=self.lookup,
            before=lambda: self.journal.record(
                key, creating_job=time.time(), failed_jobs=sorted(failed)
            ),
        )
        await self.journal.record(key, job_id=new_id, creating_job=None, job_failed=False)
        return new_id


def _failed_job(entry: Entry, exc: BaseException) -> dict[str, list[str]]:
    """The journal fields that remember a failed job, so it is never waited on again."""
    if not isinstance(exc, JobFailedError) or exc.job_id == "?":
        return {}
    failed = set(entry.failed_jobs or []) | {exc.job_id}
    return {"failed_jobs": sorted(failed)}


def _as_error(item: BulkItem, exc: Exception) -> MoveUgcError:
    """Whatever failed one input, as the `MoveUgcError` its result carries."""
    if isinstance(exc, MoveUgcError):
        return exc
    if isinstance(exc, OSError):
        return MoveUgcError(f"{item.path}: {exc.strerror or exc}")
    log.warning("input %s failed unexpectedly", item.path, exc_info=exc)
    return MoveUgcError(f"{item.path}: unexpected {type(exc).__name__}: {exc}")
