"""The workflow of one input: upload → take → job → wait → download, each step an activity.

Workflow code is replayed after a crash, so it holds no I/O and no clock but Temporal's; every
call to the API or to storage happens in an activity (see `_activities.py`). The steps are
named by string so the workflow sandbox never imports the client.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import NoReturn

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from ._types import (
        CreateJobArgs,
        CreateTakeArgs,
        DownloadArgs,
        JobEnd,
        TakeInput,
        TakeOutcome,
        Timing,
        UploadArgs,
        host_queue,
    )

PERMANENT = "PermanentError"
"""Error type of activity failures that retrying cannot fix (bad input, unknown ids, auth)."""
INPUT_FAILED = "InputFailed"
"""Error type of a failed take workflow; its first detail is the `TakeOutcome` so far."""


def _retry(timing: Timing, attempts: int) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=timedelta(seconds=timing.retry_initial),
        maximum_interval=timedelta(seconds=timing.retry_max),
        maximum_attempts=attempts,
        non_retryable_error_types=[PERMANENT],
    )


def _reason(exc: ActivityError) -> str:
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause or exc)


@workflow.defn(name="MoveUgcTake")
class TakeWorkflow:
    """Turns one video into downloaded outputs; its id is the input's content identity."""

    def __init__(self) -> None:
        self._stage = "pending"

    @workflow.query(name="stage")
    def stage(self) -> str:
        """The step the input is at: pending, uploading, creating, processing, downloading, done."""
        return self._stage

    @workflow.run
    async def run(self, take: TakeInput) -> TakeOutcome:
        """Run every step not already done by an earlier run (`take.previous`).

        A failed input fails the workflow (so `retry_failed` can start it again, and only
        then), with what it got so far as the failure's detail.
        """
        wid = workflow.info().workflow_id
        timing = take.timing
        api = _retry(timing, timing.api_attempts)
        transfers = _retry(timing, 0)
        previous = take.previous
        outcome = TakeOutcome(key=take.key, ok=False)
        # Records made by this workflow cannot be older than its start (with slack for clocks).
        not_before = workflow.info().start_time.timestamp() - 300.0
        try:
            self._stage = "uploading"
            file_id = previous.file_id if previous and previous.file_id else None
            if file_id is None:
                file_id = await workflow.execute_activity(
                    "upload",
                    UploadArgs(wid, take.path, take.size, take.file_type, take.key, not_before),
                    result_type=str,
                    task_queue=host_queue(take.task_queue, take.host),
                    start_to_close_timeout=timedelta(seconds=timing.transfer),
                    heartbeat_timeout=timedelta(seconds=timing.heartbeat),
                    retry_policy=transfers,
                )
            outcome = replace(outcome, file_id=file_id)
            self._stage = "creating"
            take_id = previous.take_id if previous and previous.take_id else None
            if take_id is None:
                take_id = await workflow.execute_activity(
                    "create_take",
                    CreateTakeArgs(
                        wid,
                        take.key,
                        file_id,
                        take.file_type,
                        take.device_label,
                        take.name,
                        take.metadata,
                        not_before,
                        timing.lookup_window,
                    ),
                    result_type=str,
                    start_to_close_timeout=timedelta(seconds=timing.api_call),
                    retry_policy=api,
                )
            outcome = replace(outcome, take_id=take_id)
            job_id = await workflow.execute_activity(
                "create_job",
                CreateJobArgs(
                    wid,
                    take.key,
                    take_id,
                    take.outputs,
                    take.name,
                    take.metadata,
                    list(previous.failed_job_ids) if previous else [],
                    timing.lookup_window,
                ),
                result_type=str,
                start_to_close_timeout=timedelta(seconds=timing.api_call),
                retry_policy=api,
            )
            outcome = replace(outcome, job_id=job_id)
            self._stage = "processing"
            end = await workflow.execute_activity(
                "wait_job",
                args=[job_id, take.outputs],
                result_type=JobEnd,
                start_to_close_timeout=timedelta(seconds=timing.wait),
                heartbeat_timeout=timedelta(seconds=timing.heartbeat),
                retry_policy=transfers,
            )
            if not end.finished:
                self._stage = "done"
                _fail(replace(outcome, job_failed=True, error=end.reason or end.state))
            self._stage = "downloading"
            paths = await workflow.execute_activity(
                "download",
                DownloadArgs(job_id, take.dest, take.outputs),
                result_type=dict[str, str],
                task_queue=host_queue(take.task_queue, take.dest_host),
                start_to_close_timeout=timedelta(seconds=timing.transfer),
                heartbeat_timeout=timedelta(seconds=timing.heartbeat),
                retry_policy=transfers,
            )
        except ActivityError as exc:
            self._stage = "done"
            _fail(replace(outcome, error=_reason(exc)))
        self._stage = "done"
        return replace(outcome, ok=True, outputs=paths)


def _fail(outcome: TakeOutcome) -> NoReturn:
    raise ApplicationError(
        outcome.error or "the input failed", outcome, type=INPUT_FAILED, non_retryable=True
    )
