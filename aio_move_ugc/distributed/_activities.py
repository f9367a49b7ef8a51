"""The steps of a take workflow, as Temporal activities run by a worker.

Temporal delivers an activity at least once: a worker may die after the API did what was asked
and before Temporal heard of it. So every attempt after the first looks before it acts —

- upload: the file record an earlier attempt sent bytes to (remembered on the host, which
  runs every attempt, and in the heartbeat details) is reused when storage holds an object of
  the same size and MD5 and the record carries this workflow's marker; otherwise a new record
  receives the bytes (a record without bytes is never used);
- create take: the newest takes are searched for this workflow's marker in their metadata;
- create job: the take's jobs are listed (a take belongs to one input; jobs of an earlier,
  failed run are excluded).

And an attempt that outlives its timeout (Temporal has started the next one) sends no create
late: creates happen before the attempt's deadline, less a margin, or not at all.

Every activity heartbeats while it runs, so a worker that dies is noticed within the heartbeat
timeout and its step is given to another worker of the same queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
from temporalio import activity
from temporalio.exceptions import ApplicationError

from .. import (
    AsyncMoveUgc,
    AuthenticationError,
    BadRequestError,
    InvalidInputError,
    JobFailedError,
    JobNotFoundError,
    MoveUgcError,
    NotFoundError,
    OutputType,
    ValidationError,
)
from .._clock import LoopClock
from .._steps import (
    Lookup,
    create_job,
    create_take,
    find_job,
    find_take,
    look_again,
    marked,
    stored_before,
)
from ._poller import JobPoller
from ._types import CreateJobArgs, CreateTakeArgs, DownloadArgs, JobEnd, UploadArgs
from ._workflow import PERMANENT

StepHook = Callable[[str], object]
"""Called as an activity passes a point of its step: `upload` (mid-transfer), `uploaded`,
`create_take`, `create_job` (right after the API answered) and `download` (mid-transfer).
Tests stop the worker there to prove a retry does nothing twice."""

_PERMANENT_ERRORS = (
    InvalidInputError,
    AuthenticationError,
    NotFoundError,
    JobNotFoundError,
    ValidationError,
    BadRequestError,
    JobFailedError,
)


CREATE_MARGIN = 10.0
"""Seconds (at most a quarter of the attempt's timeout) before an attempt's deadline after
which it sends no create: the request must have reached the API before a retry looks for it."""


@contextlib.contextmanager
def _before_deadline(entered: float) -> Iterator[None]:
    """Give up (retryably) what has not happened by the attempt's deadline, less a margin.

    Temporal retries an attempt that outlives its start-to-close timeout while the first may
    still be running (waiting for a permit of the request budget, say). Such a late attempt
    must not create anything after its successor has looked and found nothing: it is
    cancelled first — before its request is sent, or while it is on its way.
    """
    timeout = activity.info().start_to_close_timeout
    if timeout is None:
        yield
        return
    total = timeout.total_seconds()
    left = total - min(total / 4, CREATE_MARGIN) - (time.monotonic() - entered)
    try:
        with anyio.fail_after(max(left, 0.0)):
            yield
    except TimeoutError:
        raise ApplicationError(
            "the create did not happen in time; the next attempt looks for it first",
            type="CreateTooLate",
        ) from None


def _earlier_lookup(window: float) -> Lookup:
    """How long a retried attempt looks for what an earlier attempt made: the rest of the
    window since that attempt ended (it ended before this one was scheduled, so its create,
    if any, was sent before then)."""
    scheduled = activity.info().current_attempt_scheduled_time
    passed = (datetime.now(UTC) - scheduled).total_seconds()
    return Lookup(LoopClock(), max(0.0, window - max(passed, 0.0)))


def _read_record(path: Path) -> str | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("file_id")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _write_record(path: Path, file_id: str) -> None:
    """Write atomically and durably: a crash leaves the old record or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump({"file_id": file_id}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _failure(exc: Exception) -> ApplicationError:
    """An activity failure Temporal can store: the SDK's messages, which never hold a secret."""
    if isinstance(exc, _PERMANENT_ERRORS):
        return ApplicationError(str(exc), type=PERMANENT, non_retryable=True)
    if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
        return ApplicationError(
            f"cannot read the input: {exc.strerror}", type=PERMANENT, non_retryable=True
        )
    return ApplicationError(str(exc) or type(exc).__name__, type=type(exc).__name__)


@contextlib.asynccontextmanager
async def _heartbeating(*details: Any) -> AsyncIterator[Callable[..., None]]:
    """Heartbeat every third of the heartbeat timeout while the step runs; the yielded
    function replaces the details sent (and sends them now)."""
    current: list[Any] = list(details)
    timeout = activity.info().heartbeat_timeout
    period = timeout.total_seconds() / 3 if timeout else 10.0

    def beat(*new: Any) -> None:
        current[:] = new
        activity.heartbeat(*current)

    async def ticker() -> None:
        while True:
            activity.heartbeat(*current)
            await anyio.sleep(period)

    task = asyncio.get_running_loop().create_task(ticker())
    try:
        yield beat
    except MoveUgcError as exc:
        raise _failure(exc) from None
    except OSError as exc:
        raise _failure(exc) from None
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class MoveUgcActivities:
    """The activities of one worker, sharing its client, its job poller and a storage session.

    Each step is one of `_steps`' (the local bulk runner's too); `hooks(point)` is called at
    the points `StepHook` names.
    """

    def __init__(
        self,
        ugc: AsyncMoveUgc,
        poller: JobPoller,
        *,
        state_dir: Path,
        hooks: StepHook | None = None,
    ) -> None:
        self._ugc = ugc
        self._poller = poller
        self._hooks = hooks
        self._records = state_dir / "uploads"
        """Per workflow, the file record its upload sends bytes to: this host's memory of
        uploads, read by a retried attempt (which runs on the same host's queue)."""

    def _at(self, point: str) -> None:
        if self._hooks is not None:
            self._hooks(point)

    async def aclose(self) -> None:
        """Nothing of its own to close: storage is reached through the worker's client."""

    # ------------------------------------------------------------------ upload
    @activity.defn(name="upload")
    async def upload(self, args: UploadArgs) -> str:
        """Send the video to storage (or find it there already); returns the file id."""
        info = activity.info()
        path = Path(args.path)
        async with _heartbeating() as beat:
            size = (await anyio.Path(path).stat()).st_size
            if size != args.size:
                raise InvalidInputError(f"{path} changed size since it was submitted")
            remembered = self._records / f"{args.workflow_id}.json"
            if info.attempt > 1:
                earlier = {await anyio.to_thread.run_sync(_read_record, remembered)}
                if info.heartbeat_details and isinstance(info.heartbeat_details[0], str):
                    earlier.add(info.heartbeat_details[0])
                for file_id in sorted(e for e in earlier if e):
                    found = await stored_before(
                        self._ugc.files, file_id, path=path, size=size, md5=None
                    )
                    if found:
                        return file_id
            record: list[str] = []

            async def on_record(file: Any) -> None:
                # Remembered before any byte goes out, so a retry can find what it received.
                await anyio.to_thread.run_sync(_write_record, remembered, file.id)
                record[:] = [file.id]
                beat(file.id)

            def progress(done: int, total: int) -> None:
                if record:
                    beat(record[0], done)
                if 0 < done < total:
                    self._at("upload")

            file = await self._ugc.files.upload(
                path,
                type=args.file_type,
                metadata=marked(None, args.key),
                progress=progress,
                on_record=on_record,
            )
            self._at("uploaded")
            return file.id

    # ------------------------------------------------------------------ take
    @activity.defn(name="create_take")
    async def create_take(self, args: CreateTakeArgs) -> str:
        """Create the take (or find the one an earlier attempt created); returns its id."""
        entered = time.monotonic()
        lookup = Lookup(LoopClock(), args.lookup_window)
        takes = self._ugc.takes
        async with _heartbeating():
            if activity.info().attempt > 1:
                found = await look_again(
                    lambda: find_take(takes, args.key, since=args.not_before),
                    _earlier_lookup(args.lookup_window),
                )
                if found is not None:
                    return found
            with _before_deadline(entered):
                take_id = await create_take(
                    takes,
                    args.key,
                    args,
                    file_id=args.file_id,
                    file_type=args.file_type,
                    lookup=lookup,
                    since=lambda: args.not_before,
                )
            self._at("create_take")
            return take_id

    # ------------------------------------------------------------------ job
    @activity.defn(name="create_job")
    async def create_job(self, args: CreateJobArgs) -> str:
        """Start the job (or find the one an earlier attempt started); returns its id."""
        entered = time.monotonic()
        lookup = Lookup(LoopClock(), args.lookup_window)
        jobs = self._ugc.jobs
        async with _heartbeating():
            if activity.info().attempt > 1:
                found = await look_again(
                    lambda: find_job(jobs, args.take_id, exclude=args.exclude),
                    _earlier_lookup(args.lookup_window),
                )
                if found is not None:
                    return found
            with _before_deadline(entered):
                job_id = await create_job(
                    jobs,
                    args.key,
                    args,
                    take_id=args.take_id,
                    exclude=args.exclude,
                    lookup=lookup,
                )
            self._at("create_job")
            return job_id

    # ------------------------------------------------------------------ wait
    @activity.defn(name="wait_job")
    async def wait_job(self, job_id: str, outputs: list[str] | None = None) -> JobEnd:
        """Wait, in this worker's shared polling rounds, until the job ends and the outputs
        it was asked for (`outputs`; None: the API's defaults) have URLs (or it fails)."""
        async with _heartbeating():
            end = await self._poller.wait(job_id, outputs)
            return JobEnd(job_id, end.finished, end.state, end.reason)

    # ------------------------------------------------------------------ download
    @activity.defn(name="download")
    async def download(self, args: DownloadArgs) -> dict[str, str]:
        """Fetch the job's outputs into `dest` (atomically, resuming an earlier attempt's
        partial files); returns where each output landed."""
        async with _heartbeating() as beat:

            def progress(done: int, total: int) -> None:
                beat(done)
                if 0 < done < total:
                    self._at("download")

            wanted = [OutputType(o) for o in args.outputs] if args.outputs else None
            paths = await self._ugc.jobs.download_outputs(
                args.job_id, args.dest, types=wanted, progress=progress
            )
            return {kind.value: str(path) for kind, path in paths.items()}
