"""Submitting inputs to the cluster and following them to their `BulkResult`s."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from .. import InvalidInputError, JobFailedError, MoveUgcError, OutputType
from .._retry import Retrier, RetryPolicy
from .._steps import (
    BulkItem,
    BulkResult,
    as_item,
    identity,
    normalise_outputs,
    read_digests,
)
from ..transfers.upload import check_upload_source
from ._identity import workflow_id
from ._types import DEFAULT_TASK_QUEUE, Previous, TakeInput, TakeOutcome, Timing
from ._workflow import INPUT_FAILED, TakeWorkflow

SUBMIT_CONCURRENCY = 16
"""Inputs hashed and started at once (hashing reads every byte, in worker threads)."""
RESULT_RETRIES = 60
_ASK_AGAIN = Retrier(RetryPolicy(max_retries=RESULT_RETRIES, base_delay=0.2, max_delay=5.0))
"""Times the wait for a result is taken up again while the cluster cannot be reached."""
RESULT_WAITERS = 500
"""Workflow results awaited at once (each is one long poll on the Temporal connection)."""


@dataclass(frozen=True)
class Submission:
    """One submitted input and the workflow that processes it."""

    item: BulkItem
    key: str
    workflow_id: str
    started: bool
    """False when the input was already known: the submission attached to its workflow."""
    finished_before: bool = False
    """True when the input's workflow had already completed: its result is `skipped`."""


class DistributedBulk:
    """Bulk runs on a Temporal cluster: one workflow per input, keyed by the input's content.

    ```python
    temporal = await Client.connect("localhost:7233")
    bulk = DistributedBulk(temporal)
    async for result in bulk.run(videos, host="studio-a", dest="/srv/outputs"):
        print(result.item.path, result.ok)
    ```
    """

    def __init__(
        self,
        temporal: Client,
        *,
        task_queue: str = DEFAULT_TASK_QUEUE,
        timing: Timing | None = None,
    ) -> None:
        self._temporal = temporal
        self.task_queue = task_queue
        self.timing = timing or Timing()

    async def submit(
        self,
        inputs: Iterable[str | os.PathLike[str] | BulkItem],
        *,
        host: str,
        dest: str | os.PathLike[str],
        dest_host: str | None = None,
        outputs: Sequence[OutputType | str] | None = None,
        retry_failed: bool = False,
    ) -> list[Submission]:
        """Start a workflow per input (idempotent), or attach to the one already there.

        `host` is the machine that holds the videos (paths are read there) and `dest` the
        directory on `dest_host` (default: `host`) where outputs land. Every input is checked
        before anything is sent. An input whose earlier run failed is run again (reusing its
        upload and take) only with `retry_failed=True`.
        """
        wanted = normalise_outputs(outputs)
        _name(host, "host")
        target = _name(dest_host if dest_host is not None else host, "dest_host")
        if isinstance(inputs, str | os.PathLike):
            raise InvalidInputError("inputs must be a list of paths or BulkItems")
        items = [as_item(raw, wanted) for raw in inputs]
        dest_dir, checked = await asyncio.to_thread(_prepare, items, dest)
        limiter = asyncio.Semaphore(SUBMIT_CONCURRENCY)

        async def one(item: BulkItem, path: Path, size: int, file_type: str) -> Submission:
            async with limiter:
                outputs = [o.value for o in item.outputs] if item.outputs else None
                key = identity((await read_digests(path)).content, item.outputs)
                take = TakeInput(
                    key=key,
                    path=str(path),
                    size=size,
                    file_type=file_type,
                    host=host,
                    dest=dest_dir,
                    dest_host=target,
                    task_queue=self.task_queue,
                    device_label=item.device_label,
                    name=item.name,
                    metadata=item.metadata,
                    outputs=outputs,
                    timing=self.timing,
                )
                started, finished = await self._start(take, retry_failed=retry_failed)
                return Submission(item, key, workflow_id(key), started, finished)

        return list(await asyncio.gather(*(one(*entry) for entry in checked)))

    async def _start(self, take: TakeInput, *, retry_failed: bool) -> tuple[bool, bool]:
        """Whether a run was started, and whether the input had finished before."""
        wid = workflow_id(take.key)
        try:
            await self._temporal.start_workflow(
                TakeWorkflow.run,
                take,
                id=wid,
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
            return True, False
        except WorkflowAlreadyStartedError:
            pass
        handle = self._temporal.get_workflow_handle(wid)
        description = await handle.describe()
        if description.status == WorkflowExecutionStatus.COMPLETED:
            return False, True
        if description.status == WorkflowExecutionStatus.RUNNING or not retry_failed:
            return False, False
        outcome = await _outcome_of(handle)
        previous = Previous(
            file_id=outcome.file_id if outcome else None,
            take_id=outcome.take_id if outcome else None,
            failed_job_ids=[outcome.job_id] if outcome and outcome.job_id else [],
        )
        try:
            # Only a failed last run is replaced: a concurrent retry that already started
            # (or finished) a new run is attached to instead.
            await self._temporal.start_workflow(
                TakeWorkflow.run,
                TakeInput(**{**take.__dict__, "previous": previous}),
                id=wid,
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            )
        except WorkflowAlreadyStartedError:
            return False, False
        return True, False

    async def stage(self, submission: Submission) -> str | None:
        """The step a submitted input is at (pending, uploading, creating, processing,
        downloading, done), or None when the cluster does not say just now."""
        handle = self._temporal.get_workflow_handle(submission.workflow_id)
        try:
            stage = await handle.query("stage")
        except (RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError):
            return None
        return stage if isinstance(stage, str) else None

    async def results(self, submissions: Sequence[Submission]) -> AsyncIterator[BulkResult]:
        """A `BulkResult` per submission, as each workflow ends (in completion order)."""
        limiter = asyncio.Semaphore(RESULT_WAITERS)

        async def one(submission: Submission) -> BulkResult:
            async with limiter:
                return await self._result(submission)

        tasks = [asyncio.ensure_future(one(s)) for s in submissions]
        try:
            for next_done in asyncio.as_completed(tasks):
                yield await next_done
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _result(self, submission: Submission) -> BulkResult:
        handle = self._temporal.get_workflow_handle(submission.workflow_id, result_type=TakeOutcome)

        async def attempt() -> TakeOutcome | None:
            try:
                done: TakeOutcome = await handle.result()
            except WorkflowFailureError:
                return await _outcome_of(handle)
            return done

        # While the cluster is unreachable (restarting?), its workflows carry on: ask again.
        outcome = await _ASK_AGAIN.call(
            attempt, retryable=lambda exc: isinstance(exc, RPCError), what="a run's result"
        )
        result = BulkResult(item=submission.item, ok=False, key=submission.key)
        if outcome is None:
            result.error = MoveUgcError(f"the workflow {submission.workflow_id} did not complete")
            return result
        result.ok = outcome.ok
        result.file_id, result.take_id, result.job_id = (
            outcome.file_id,
            outcome.take_id,
            outcome.job_id,
        )
        result.outputs = {OutputType(k): Path(v) for k, v in outcome.outputs.items()}
        result.skipped = outcome.ok and submission.finished_before
        if not outcome.ok:
            if outcome.job_failed and outcome.job_id:
                result.error = JobFailedError(outcome.job_id, "FAILED", outcome.error)
            else:
                result.error = MoveUgcError(outcome.error or "the input failed")
        return result

    async def run(
        self,
        inputs: Iterable[str | os.PathLike[str] | BulkItem],
        *,
        host: str,
        dest: str | os.PathLike[str],
        dest_host: str | None = None,
        outputs: Sequence[OutputType | str] | None = None,
        retry_failed: bool = False,
    ) -> AsyncIterator[BulkResult]:
        """Submit the inputs, then yield a `BulkResult` for each as it finishes."""
        submissions = await self.submit(
            inputs,
            host=host,
            dest=dest,
            dest_host=dest_host,
            outputs=outputs,
            retry_failed=retry_failed,
        )
        async for result in self.results(submissions):
            yield result


async def _outcome_of(handle: WorkflowHandle[Any, Any]) -> TakeOutcome | None:
    """The outcome a failed run carried in its failure (None when it carried none)."""
    try:
        await handle.result()
    except WorkflowFailureError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == INPUT_FAILED and cause.details:
            detail = cause.details[0]
            if isinstance(detail, dict):
                return TakeOutcome(**detail)
        return None
    return None


def _name(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or "@" in value:
        raise InvalidInputError(f"{what} must be a non-empty host name without '@'")
    return value


def _prepare(
    items: list[BulkItem], dest: str | os.PathLike[str]
) -> tuple[str, list[tuple[BulkItem, Path, int, str]]]:
    return os.path.abspath(dest), [(item, *_check_file(item)) for item in items]


def _check_file(item: BulkItem) -> tuple[Path, int, str]:
    """The absolute path, size and API file type of a video fit to upload (nothing sent)."""
    return check_upload_source(Path(item.path).absolute(), None)
