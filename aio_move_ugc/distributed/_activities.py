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
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
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
    MoveUgcError,
    NotFoundError,
    OutputType,
    SourceIn,
    ValidationError,
)
from ..transfers.upload import md5_of_file
from ._poller import JobPoller
from ._types import MARKER_KEY, CreateJobArgs, CreateTakeArgs, DownloadArgs, JobEnd, UploadArgs
from ._workflow import PERMANENT

CRASH_ENV = "AIO_MOVE_UGC_CRASH_AT"
"""Fault injection for tests of recovery: a comma-separated list of steps (`upload`,
`uploaded`, `create_take`, `create_job`, `download`) at which the worker SIGKILLs its own
process — mid-transfer for `upload` and `download`, right after the API answered for the others."""
CRASH_LEDGER_ENV = "AIO_MOVE_UGC_CRASH_LEDGER"
"""With fault injection: a directory shared by the workers; each step then kills only the first
process that reaches it (the file it creates there, exclusively, marks the step as used)."""

_PERMANENT_ERRORS = (
    InvalidInputError,
    AuthenticationError,
    NotFoundError,
    ValidationError,
    BadRequestError,
    JobFailedError,
)


def crash_point(step: str) -> None:
    """Kill this process now when `step` is one of the steps named in `AIO_MOVE_UGC_CRASH_AT`
    (and, with a ledger, when no process has been killed at this step yet)."""
    if step not in os.environ.get(CRASH_ENV, "").split(","):
        return
    ledger = os.environ.get(CRASH_LEDGER_ENV)
    if ledger:
        try:
            os.close(os.open(Path(ledger) / step, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            return
    os.kill(os.getpid(), signal.SIGKILL)


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
    """The activities of one worker, sharing its client, its job poller and a storage session."""

    def __init__(self, ugc: AsyncMoveUgc, poller: JobPoller, *, state_dir: Path) -> None:
        self._ugc = ugc
        self._poller = poller
        self._records = state_dir / "uploads"
        """Per workflow, the file record its upload sends bytes to: this host's memory of
        uploads, read by a retried attempt (which runs on the same host's queue)."""

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
                    if await self._stored_before(file_id, args):
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
                    crash_point("upload")

            file = await self._ugc.files.upload(
                path,
                type=args.file_type,
                metadata={MARKER_KEY: args.workflow_id},
                progress=progress,
                on_record=on_record,
            )
            crash_point("uploaded")
            return file.id

    async def _stored_before(self, file_id: str, args: UploadArgs) -> bool:
        """True when `file_id` is this workflow's record and storage holds exactly this video."""
        try:
            record = await self._ugc.files.retrieve(file_id)
        except MoveUgcError:
            return False
        metadata = record.metadata
        if not isinstance(metadata, dict) or metadata.get(MARKER_KEY) != args.workflow_id:
            return False
        if not record.presigned_url:
            return False
        found = await self._probe(record.presigned_url)
        if found is None or found[0] != args.size or found[1] is None:
            return False
        local = await anyio.to_thread.run_sync(md5_of_file, Path(args.path))
        return found[1] == local

    async def _probe(self, url: str) -> tuple[int, str | None] | None:
        """Size and MD5 (from the ETag) of the object behind a presigned GET URL, or None."""
        try:
            return await self._ugc.files.probe(url)
        except MoveUgcError:
            return None  # nothing proven: the bytes are sent again

    # ------------------------------------------------------------------ take
    @activity.defn(name="create_take")
    async def create_take(self, args: CreateTakeArgs) -> str:
        """Create the take (or find the one an earlier attempt created); returns its id."""
        entered = time.monotonic()
        async with _heartbeating():
            if activity.info().attempt > 1:
                found = await self._find_take(args.workflow_id, args.not_before)
                if found is not None:
                    return found
            source = SourceIn(
                device_label=args.device_label,
                file_id=args.file_id,
                format=args.file_type.upper(),  # type: ignore[arg-type]
            )
            with _before_deadline(entered):
                take = await self._ugc.takes.create_singlecam(
                    [source], name=args.name, metadata=_marked(args.metadata, args.workflow_id)
                )
            crash_point("create_take")
            return take.id

    async def _find_take(self, workflow_id: str, not_before: float) -> str | None:
        async for take in self._ugc.takes.list(limit=100):
            metadata = take.metadata
            if isinstance(metadata, dict) and metadata.get(MARKER_KEY) == workflow_id:
                return take.id
            if take.created is not None and take.created.timestamp() < not_before:
                return None
        return None

    # ------------------------------------------------------------------ job
    @activity.defn(name="create_job")
    async def create_job(self, args: CreateJobArgs) -> str:
        """Start the job (or find the one an earlier attempt started); returns its id."""
        entered = time.monotonic()
        async with _heartbeating():
            if activity.info().attempt > 1:
                page = await self._ugc.jobs.list(take_id=args.take_id, limit=20)
                for job in page.items:
                    if job.id not in args.exclude:
                        return job.id
            with _before_deadline(entered):
                job = await self._ugc.jobs.create_singlecam(
                    args.take_id,
                    outputs=args.outputs,
                    name=args.name,
                    metadata=_marked(args.metadata, args.workflow_id),
                )
            crash_point("create_job")
            return job.id

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
                    crash_point("download")

            wanted = [OutputType(o) for o in args.outputs] if args.outputs else None
            paths = await self._ugc.jobs.download_outputs(
                args.job_id, args.dest, types=wanted, progress=progress
            )
            return {kind.value: str(path) for kind, path in paths.items()}


def _marked(metadata: Any, workflow_id: str) -> dict[str, Any]:
    base = (
        metadata if isinstance(metadata, dict) else ({} if metadata is None else {"user": metadata})
    )
    return {**base, MARKER_KEY: workflow_id}
