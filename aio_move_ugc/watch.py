"""Following jobs and volumes: async generators of typed events, many jobs per request.

Polling sees everything the API shows (state, `percentageComplete`, outputs getting URLs);
webhooks (see `webhooks.py`) only see state changes, but cost no requests. The generators here
yield only changes, slow down while nothing changes, and fetch up to 50 jobs per request
through GraphQL aliases, so following N jobs costs ceil(N/50) requests per round.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncGenerator, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import anyio

from . import _validation as check
from ._answers import parse
from ._exceptions import InvalidInputError, JobFailedError, NotFoundError, WatchTimeoutError
from ._graphql.operations import job_batch, volume_batch
from .types._models import HumanVolume, Job, JobState
from .types.events import (
    JobEvent,
    JobFailed,
    JobFinished,
    JobNotFound,
    JobProgressed,
    JobStateChanged,
    OutputsReady,
    VolumeStateChanged,
)

if TYPE_CHECKING:
    from ._client import AsyncMoveUgc

log = logging.getLogger("aio_move_ugc.watch")

Until = Literal["outputs_ready", "terminal"]
BATCH_SIZE = 50
FAILED_STATES = frozenset({JobState.FAILED, JobState.CANCELLED})


@dataclass(frozen=True)
class PollPolicy:
    """How often to ask: `interval` at first, growing by `backoff` while nothing changes,
    never above `max_interval`; back to `interval` after a change."""

    interval: float = 2.0
    max_interval: float = 30.0
    backoff: float = 1.5

    def __post_init__(self) -> None:
        if not 0 < self.interval <= self.max_interval or self.backoff < 1:
            raise ValueError("need 0 < interval <= max_interval and backoff >= 1")


class _Pacer:
    """The adaptive delay between rounds, stretched so polling leaves room in the rate budget."""

    def __init__(self, client: AsyncMoveUgc, policy: PollPolicy) -> None:
        self._client = client
        self._policy = policy
        self.delay = policy.interval

    def changed(self, changed: bool) -> None:
        if changed:
            self.delay = self._policy.interval
        else:
            self.delay = min(self._policy.max_interval, self.delay * self._policy.backoff)

    def next_delay(self, requests_per_round: int) -> float:
        budget = self._client.rate_budget
        if budget is None:
            return self.delay
        # Use at most half of the budget's sustained rate for polling; the rest is for real work.
        floor = 2 * requests_per_round * budget.window / budget.limit
        return max(self.delay, floor)


@dataclass
class _Tracker:
    """What has been reported about one job."""

    job_id: str
    until: Until
    state: JobState | str | None = None
    percentage: int | None = None
    finished_reported: bool = False
    done: bool = False
    last: Job | None = None

    def observe(self, job: Job) -> list[JobEvent]:
        self.last = job
        events: list[JobEvent] = []
        state = job.current_state
        if state is not None and state != self.state:
            events.append(
                JobStateChanged(job_id=self.job_id, previous=self.state, state=state, job=job)
            )
            self.state = state
        percentage = job.progress.percentage_complete if job.progress else None
        if state == JobState.RUNNING and percentage is not None and percentage != self.percentage:
            events.append(JobProgressed(job_id=self.job_id, percentage=percentage, job=job))
            self.percentage = percentage
        if state in FAILED_STATES:
            events.append(JobFailed(job_id=self.job_id, state=state, job=job))
            self.done = True
        elif state == JobState.FINISHED:
            if not self.finished_reported:
                events.append(JobFinished(job_id=self.job_id, job=job))
                self.finished_reported = True
            if self.until == "terminal":
                self.done = True
            elif job.outputs_ready:
                events.append(OutputsReady(job_id=self.job_id, outputs=job.outputs or [], job=job))
                self.done = True
        return events


def _check_until(until: str) -> Until:
    if until not in ("outputs_ready", "terminal"):
        raise InvalidInputError("until must be 'outputs_ready' or 'terminal'")
    return until  # type: ignore[return-value]


LAST_LOOK_GRACE = 5.0
"""Seconds the last look, taken at the deadline, may still take before the watch gives up."""


class _Deadline:
    """When a watch gives up: sleeps end at the deadline, so the last look happens there."""

    def __init__(self, timeout: float | None) -> None:
        if timeout is None:
            self.at = math.inf
        elif not timeout > 0:
            raise InvalidInputError("timeout must be positive")
        else:
            self.at = anyio.current_time() + timeout

    def remaining(self) -> float:
        return self.at - anyio.current_time()

    def passed(self) -> bool:
        return self.remaining() <= 0

    async def sleep(self, delay: float) -> None:
        await anyio.sleep(max(0.0, min(delay, self.remaining())))

    def request_limit(self) -> float:
        """How long the next request may take: until the deadline, and at least the grace."""
        return max(self.remaining(), LAST_LOOK_GRACE)


def _timed_out(pending: Sequence[str], what: str, until: str) -> WatchTimeoutError:
    still = ", ".join(sorted(pending)[:5])
    return WatchTimeoutError(
        f"{len(pending)} {what}(s) not {until.replace('_', ' ')} in time: {still}",
        job_id=pending[0] if pending and what == "job" else None,
    )


async def watch_job(
    client: AsyncMoveUgc,
    job_id: str,
    *,
    until: Until = "outputs_ready",
    policy: PollPolicy = PollPolicy(),
    timeout: float | None = None,
    raise_on_failure: bool = False,
) -> AsyncGenerator[JobEvent, None]:
    """Events of one job until it is terminal (and, by default, its outputs have URLs)."""
    async for event in watch_jobs(
        client,
        [job_id],
        until=until,
        policy=policy,
        timeout=timeout,
        raise_on_failure=raise_on_failure,
    ):
        yield event


async def watch_jobs(
    client: AsyncMoveUgc,
    job_ids: Iterable[str],
    *,
    until: Until = "outputs_ready",
    policy: PollPolicy = PollPolicy(),
    timeout: float | None = None,
    raise_on_failure: bool = False,
    batch_size: int = BATCH_SIZE,
) -> AsyncGenerator[JobEvent, None]:
    """Events of many jobs, fetched `batch_size` per request; finished jobs drop out.

    A job that is not found or fails yields its event and leaves the watch; the others go on.
    With `raise_on_failure` the first failure raises `JobFailedError` instead. With `timeout`,
    the waits between rounds end at the deadline, one last round looks there, and
    `WatchTimeoutError` follows if jobs are still pending.
    """
    until = _check_until(until)
    ids = list(dict.fromkeys(check.identifier(j, "job") for j in job_ids))
    if not 1 <= batch_size <= BATCH_SIZE:
        raise InvalidInputError(f"batch_size must be from 1 to {BATCH_SIZE}")
    deadline = _Deadline(timeout)
    trackers = {job_id: _Tracker(job_id, until) for job_id in ids}
    pacer = _Pacer(client, policy)
    try:
        while trackers:
            pending = list(trackers)
            batches = [pending[i : i + batch_size] for i in range(0, len(pending), batch_size)]
            changed = False
            for batch in batches:
                fetched = None
                with anyio.move_on_after(deadline.request_limit()):
                    fetched = await _fetch_jobs(client, batch)
                if fetched is None:
                    raise _timed_out(list(trackers), "job", until)
                jobs, missing = fetched
                for job_id in missing:
                    tracker = trackers.pop(job_id)
                    changed = True
                    yield JobNotFound(job_id=job_id, job=tracker.last)
                for job in jobs:
                    tracker = trackers[job.id]
                    for event in tracker.observe(job):
                        changed = True
                        if isinstance(event, JobFailed) and raise_on_failure:
                            raise JobFailedError(job.id, str(event.state), event.reason)
                        yield event
                    if tracker.done:
                        del trackers[job.id]
            if not trackers:
                return
            if deadline.passed():
                raise _timed_out(list(trackers), "job", until)
            pacer.changed(changed)
            await deadline.sleep(pacer.next_delay(len(batches)))
    finally:
        log.debug("stopped watching %d job(s)", len(trackers))


async def _fetch_jobs(client: AsyncMoveUgc, job_ids: Sequence[str]) -> tuple[list[Job], list[str]]:
    """Jobs of one batch in one request; ids the API does not know come back separately.

    `getJob` returns `Job!`, so one unknown id nulls the whole answer: the unknown ones are
    read from the error paths and the rest asked again (one more request, only then).
    """
    remaining = list(job_ids)
    missing: list[str] = []
    while remaining:
        variables = {f"j{i}": job_id for i, job_id in enumerate(remaining)}
        try:
            data = await client._execute(job_batch(remaining), variables)
        except NotFoundError as exc:
            gone = _aliases_in(exc.errors, "j", remaining)
            if not gone:
                raise
            missing.extend(gone)
            remaining = [j for j in remaining if j not in gone]
            continue
        jobs = [
            parse(Job, data[f"j{i}"], "GetJobs") for i in range(len(remaining)) if data.get(f"j{i}")
        ]
        return jobs, missing
    return [], missing


def _aliases_in(errors: list[dict[str, Any]], prefix: str, ids: Sequence[str]) -> list[str]:
    found = []
    for error in errors:
        path = error.get("path") or []
        alias = path[0] if path else None
        if isinstance(alias, str) and alias.startswith(prefix) and alias[len(prefix) :].isdigit():
            index = int(alias[len(prefix) :])
            if index < len(ids):
                found.append(ids[index])
    return list(dict.fromkeys(found))


async def wait_job(
    client: AsyncMoveUgc,
    job_id: str,
    *,
    until: Until = "outputs_ready",
    policy: PollPolicy = PollPolicy(),
    timeout: float | None = None,
    raise_on_failure: bool = True,
) -> Job:
    """The job once `watch_job` ends: terminal, and by default with every output's URL."""
    last: Job | None = None
    async for event in watch_job(
        client,
        job_id,
        until=until,
        policy=policy,
        timeout=timeout,
        raise_on_failure=raise_on_failure,
    ):
        if isinstance(event, JobNotFound):
            raise NotFoundError(f"job {job_id} not found", status=200)
        if event.job is not None:
            last = event.job
    assert last is not None
    return last


async def watch_volumes(
    client: AsyncMoveUgc,
    volume_ids: Iterable[str],
    *,
    policy: PollPolicy = PollPolicy(),
    timeout: float | None = None,
) -> AsyncGenerator[VolumeStateChanged, None]:
    """State changes of volumes until each is FINISHED or FAILED (50 per request)."""
    ids = list(dict.fromkeys(check.identifier(v, "volume") for v in volume_ids))
    deadline = _Deadline(timeout)
    states: dict[str, JobState | str | None] = dict.fromkeys(ids)
    pacer = _Pacer(client, policy)
    while states:
        pending = list(states)
        changed = False
        for start in range(0, len(pending), BATCH_SIZE):
            batch = pending[start : start + BATCH_SIZE]
            variables = {f"v{i}": volume_id for i, volume_id in enumerate(batch)}
            data = None
            with anyio.move_on_after(deadline.request_limit()):
                data = await client._execute(volume_batch(batch), variables)
            if data is None:
                raise _timed_out(list(states), "volume", "finished")
            for i, volume_id in enumerate(batch):
                volume = parse(HumanVolume, data[f"v{i}"], "GetVolumes")
                state = volume.state or (volume.progress.state if volume.progress else None)
                if state != states[volume_id]:
                    changed = True
                    yield VolumeStateChanged(
                        volume_id=volume_id,
                        previous=states[volume_id],
                        state=state or "UNKNOWN",
                        volume=volume,
                    )
                    states[volume_id] = state
                if state in (JobState.FINISHED, *FAILED_STATES):
                    del states[volume_id]
        if not states:
            return
        if deadline.passed():
            raise _timed_out(list(states), "volume", "finished")
        pacer.changed(changed)
        await deadline.sleep(pacer.next_delay(math.ceil(len(states) / BATCH_SIZE)))
