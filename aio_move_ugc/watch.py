"""The one polling engine, and the generators and waiters built on it.

Polling sees everything the API shows (state, `percentageComplete`, outputs getting URLs);
webhooks (see `webhooks.py`) only see state changes, but cost no requests. Everything that
polls — `jobs.watch`, `jobs.watch_many`, `jobs.wait`, `volumes.wait` and bulk runs — goes
through `Poller`, so they share one behaviour:

- **Batching**: up to 50 records per request through GraphQL aliases, so following N jobs
  costs ceil(N/50) requests per round.
- **Pacing**: the pause between rounds grows with the time since the last state change
  (`PollPolicy.growth` of it, from `interval` up to `max_interval`); progress never resets
  it, a state change does (a job has few). With a rate budget, polling takes at most half
  of its sustained rate; after throttling, the pause is the longest. A pause runs from the
  start of one round to the start of the next (after a failed round: from its end), so a slow
  answer does not delay every later look by its own duration.
- **Readiness**: a FINISHED job is ready when every output it was asked for (or, when that
  is unknown, its defaults) is listed with a download URL — not when every listed output has
  one, since outputs may be listed one by one. A finished job whose outputs are not all ready
  after `OUTPUTS_TIMEOUT` seconds (or by the watch's deadline) ends the wait with
  `OutputsNotReadyError`, naming what is missing.
- **Failures**: a round that fails with a transient error (after the client's own retries)
  is tried again next round; `max_failures` failed rounds in a row, or any error that is not
  transient, end the polling with that error.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import anyio

from . import _validation as check
from ._answers import parse
from ._exceptions import (
    ConfigurationError,
    InvalidInputError,
    JobFailedError,
    MoveUgcError,
    NotFoundError,
    OutputsNotReadyError,
    RateLimitError,
    WatchTimeoutError,
)
from ._retry import is_transient_api
from ._schema.operations import job_batch, volume_batch
from .transfers.outputs import label_of, missing_outputs, outputs_ready
from .types._enums import JobState, OutputType
from .types._models import HumanVolume, Job
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
    from ._context import ClientContext

log = logging.getLogger("aio_move_ugc.watch")

Until = Literal["outputs_ready", "terminal"]
BATCH_SIZE = 50
LAST_LOOK_GRACE = 5.0
"""Seconds the last look, taken at the deadline, may still take before the watch gives up."""
OUTPUTS_TIMEOUT = 3600.0
"""Seconds a FINISHED job may take to list every requested output with a URL."""
SETTLE_MIN = 10.0
"""When what a job was asked for is unknown: seconds its list of outputs must stay the same,
all with URLs, before it is taken as complete (and at least twice as long as it grew)."""
Requested = tuple[OutputType, ...] | None
"""The outputs a job was asked for; None when unknown (see `JobTracker`)."""

T = TypeVar("T")
Answer = tuple[list[tuple[str, T]], list[str]]
"""One round's answer: (the id asked for, its record) for each found, and the unknown ids."""


@dataclass(frozen=True)
class PollPolicy:
    """How often to ask, and how many failed rounds to bear.

    The pause between rounds is `growth` times the seconds since the last state change,
    never below `interval` nor above `max_interval`. The defaults follow one 10-minute job in
    under 30 requests, which suits the smallest plan (100 requests per hour).
    """

    interval: float = 5.0
    max_interval: float = 60.0
    growth: float = 0.25
    max_failures: int = 5
    """Failed rounds in a row (each after the client's own retries) before giving up."""

    def __post_init__(self) -> None:
        check.seconds(self.interval, "interval")
        check.seconds(self.max_interval, "max_interval")
        if self.max_interval < self.interval:
            raise ConfigurationError(
                f"max_interval ({self.max_interval:g}) must not be below interval "
                f"({self.interval:g})"
            )
        check.factor(self.growth, "growth", minimum=0.0)
        check.count(self.max_failures, "max_failures", minimum=1)

    @classmethod
    def of(cls, interval: float | None, max_interval: float | None) -> PollPolicy:
        """A policy from the `interval=`/`max_interval=` arguments of the public calls; when
        only `interval` is given above the default ceiling, the ceiling follows it."""
        default = cls()
        first = default.interval if interval is None else check.seconds(interval, "interval")
        if max_interval is None:
            ceiling = max(default.max_interval, first)
        else:
            ceiling = check.seconds(max_interval, "max_interval")
        return cls(interval=first, max_interval=ceiling)


class Deadline:
    """When a watch gives up: sleeps end at the deadline, so the last look happens there."""

    def __init__(self, ctx: ClientContext, timeout: float | None) -> None:
        self._clock = ctx.clock
        if timeout is None:
            self.at = math.inf
        else:
            self.at = self._clock.now() + check.positive_number(timeout, "timeout")

    def remaining(self) -> float:
        return self.at - self._clock.now()

    def passed(self) -> bool:
        return self.remaining() <= 0

    def request_limit(self) -> float:
        """How long the next request may take: until the deadline, and at least the grace."""
        return max(self.remaining(), LAST_LOOK_GRACE)


class Poller(Generic[T]):
    """Rounds of batched requests for a set of ids, paced and with one failure policy.

    `fetch(batch)` answers one batch in one request: the records found (each with the id it
    was asked for) and the ids the API does not know.
    """

    def __init__(
        self,
        ctx: ClientContext,
        policy: PollPolicy,
        fetch: Callable[[ClientContext, Sequence[str]], Awaitable[Answer[T]]],
        *,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int):
            raise InvalidInputError(f"batch_size must be an integer from 1 to {BATCH_SIZE}")
        if not 1 <= batch_size <= BATCH_SIZE:
            raise InvalidInputError(f"batch_size must be from 1 to {BATCH_SIZE}")
        self._ctx = ctx
        self.policy = policy
        self._fetch = fetch
        self.batch_size = batch_size
        self.failures = 0
        self._throttled = False
        self.rounds = 0
        self._round_started: float | None = None

    def batches(self, ids: Sequence[str]) -> list[list[str]]:
        return [list(ids[i : i + self.batch_size]) for i in range(0, len(ids), self.batch_size)]

    async def round(self, ids: Sequence[str], deadline: Deadline | None = None) -> Answer[T] | None:
        """One round over `ids`: what was found and what is unknown, or None when the round
        failed and may be tried again. Raises when the failure policy says to give up, and
        `WatchTimeoutError`-worthy `TimeoutError` when the deadline cut a request short."""
        found: list[tuple[str, T]] = []
        missing: list[str] = []
        self.rounds += 1
        self._round_started = self._ctx.clock.now()
        for batch in self.batches(ids):
            try:
                if deadline is None:
                    items, unknown = await self._fetch(self._ctx, batch)
                else:
                    with anyio.fail_after(deadline.request_limit()):
                        items, unknown = await self._fetch(self._ctx, batch)
            except MoveUgcError as exc:
                self.failures += 1
                self._throttled = isinstance(exc, RateLimitError)
                self._round_started = None  # after a failure, the whole pause from now
                if not is_transient_api(exc) or self.failures >= self.policy.max_failures:
                    raise
                log.warning(
                    "polling round failed (%d of %d allowed in a row): %s",
                    self.failures,
                    self.policy.max_failures - 1,
                    exc,
                )
                return None
            found.extend(items)
            missing.extend(unknown)
        self.failures = 0
        self._throttled = False
        return found, missing

    def pause(self, since_change: float, requests_per_round: int) -> float:
        """Seconds to wait before the next round."""
        policy = self.policy
        delay = min(policy.max_interval, max(policy.interval, policy.growth * since_change))
        if self._throttled:
            delay = policy.max_interval
        budget = self._ctx.rate_budget
        if budget is not None:
            # Polling takes at most half of the budget's sustained rate; the rest is for work.
            delay = max(delay, 2 * requests_per_round * budget.window / budget.limit)
        return delay

    async def sleep(self, seconds: float, deadline: Deadline | None = None) -> None:
        """Wait until `seconds` after the start of the last round: a pause runs from one
        round's start to the next, so the time an answer takes does not make every look that
        much later (nor the requests any more frequent than one per pause). After a failed
        round, the whole pause runs from now."""
        if self._round_started is not None:
            seconds -= self._ctx.clock.now() - self._round_started
        if deadline is not None:
            seconds = min(seconds, deadline.remaining())
        await self._ctx.clock.sleep(max(0.0, seconds))


# ------------------------------------------------------------------ jobs
async def fetch_jobs(ctx: ClientContext, job_ids: Sequence[str]) -> Answer[Job]:
    """Jobs of one batch in one request; ids the API does not know come back separately.

    `getJob` returns `Job!`, so one unknown id nulls the whole answer: the unknown ones are
    read from the error paths and the rest asked again (one more request, only then).
    """
    return await _fetch_aliased(ctx, job_ids, "j", job_batch, Job, "GetJobs")


async def fetch_volumes(ctx: ClientContext, volume_ids: Sequence[str]) -> Answer[HumanVolume]:
    """Volumes of one batch in one request, as `fetch_jobs` does for jobs."""
    return await _fetch_aliased(ctx, volume_ids, "v", volume_batch, HumanVolume, "GetVolumes")


async def _fetch_aliased(
    ctx: ClientContext,
    ids: Sequence[str],
    prefix: str,
    document: Callable[[list[str]], Any],
    model: type[Any],
    name: str,
) -> Answer[Any]:
    remaining = list(ids)
    missing: list[str] = []
    while remaining:
        variables = {f"{prefix}{i}": record_id for i, record_id in enumerate(remaining)}
        try:
            data = await ctx.execute(document(remaining), variables)
        except NotFoundError as exc:
            gone = _aliases_in(exc.errors, prefix, remaining)
            if not gone:
                raise
            missing.extend(gone)
            remaining = [j for j in remaining if j not in gone]
            continue
        data = data if isinstance(data, dict) else {}
        found = []
        for i, record_id in enumerate(remaining):
            value = data.get(f"{prefix}{i}")
            if value:
                found.append((record_id, parse(model, value, name)))
            else:
                missing.append(record_id)
        return found, missing
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


class JobTracker:
    """What has been reported about one job, and since when its state has not changed.

    A FINISHED job is ready when every output in `outputs` (what it was asked for) is listed
    with a URL. When that is unknown (`outputs=None`), it is ready when every default output
    of a singlecam job is, or else when every listed output has a URL and the list has not
    changed for `SETTLE_MIN` seconds and for twice as long as it took to grow since FINISHED
    (a warning is logged then: the job may have asked for more).
    """

    def __init__(self, job_id: str, until: Until, now: float, outputs: Requested = None) -> None:
        self.job_id = job_id
        self.until = until
        self.outputs = outputs
        self.finished_at: float | None = None
        self._listed: frozenset[str] | None = None
        self._listed_at = now
        self.state: JobState | str | None = None
        self.percentage: int | None = None
        self.finished_reported = False
        self.done = False
        self.last: Job | None = None
        self.changed_at = now

    def observe(self, job: Job, now: float) -> list[JobEvent]:
        self.last = job
        events: list[JobEvent] = []
        state = job.current_state
        if state is not None and state != self.state:
            events.append(
                JobStateChanged(job_id=self.job_id, previous=self.state, state=state, job=job)
            )
            self.state = state
            self.changed_at = now
        percentage = job.progress.percentage_complete if job.progress else None
        if state == JobState.RUNNING and percentage is not None and percentage != self.percentage:
            events.append(JobProgressed(job_id=self.job_id, percentage=percentage, job=job))
            self.percentage = percentage
        known = known_state(state)
        if known is not None and known.is_terminal and known != JobState.FINISHED:
            events.append(JobFailed(job_id=self.job_id, state=state or known, job=job))
            self.done = True
        elif known == JobState.FINISHED:
            if not self.finished_reported:
                events.append(JobFinished(job_id=self.job_id, job=job))
                self.finished_reported = True
                self.finished_at = now
            if self.until == "terminal":
                self.done = True
            elif self._ready(job, now):
                events.append(OutputsReady(job_id=self.job_id, outputs=job.outputs or [], job=job))
                self.done = True
        return events

    def _ready(self, job: Job, now: float) -> bool:
        if outputs_ready(job, self.outputs):
            return True
        if self.outputs is not None:
            return False
        listed = job.outputs or []
        files = frozenset(o.file.id for o in listed)
        if files != self._listed:
            self._listed, self._listed_at = files, now
            return False
        if not listed or not all(o.file.presigned_url for o in listed):
            return False
        grew_for = self._listed_at - (self.finished_at if self.finished_at is not None else now)
        if now - self._listed_at < max(SETTLE_MIN, 2 * grew_for):
            return False
        log.warning(
            "job %s: what it was asked for is unknown; its %d listed output(s) stayed the same "
            "for %.0f s and are taken as all (pass outputs= to wait for exactly those)",
            self.job_id,
            len(listed),
            now - self._listed_at,
        )
        return True

    def outputs_overdue(self, now: float) -> OutputsNotReadyError | None:
        """The error to end the wait with when the job finished `OUTPUTS_TIMEOUT` ago and its
        outputs are still not all ready."""
        if self.done or self.finished_at is None or now - self.finished_at < OUTPUTS_TIMEOUT:
            return None
        return self.not_ready()

    def not_ready(self) -> OutputsNotReadyError:
        """What is missing of a finished job's outputs, as an error."""
        job = self.last
        if job is None:
            return OutputsNotReadyError(self.job_id, ["(no answer about the job)"])
        if self.outputs is not None:
            missing = [kind.value for kind in missing_outputs(job, self.outputs)]
        else:
            missing = [label_of(o) for o in job.outputs or [] if not o.file.presigned_url]
            missing = missing or ["(what the job was asked for is unknown; pass outputs=)"]
        return OutputsNotReadyError(self.job_id, missing)


def known_state(value: JobState | str | None) -> JobState | None:
    """A state the SDK knows (read case-insensitively), or None for one it does not."""
    if value is None:
        return None
    try:
        return JobState(value)
    except ValueError:
        return None


def check_until(until: object) -> Until:
    if until not in ("outputs_ready", "terminal"):
        raise InvalidInputError("until must be 'outputs_ready' or 'terminal'")
    return until


def job_ids(values: Iterable[str]) -> list[str]:
    """Job ids to follow, checked, without repeats (order kept)."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise InvalidInputError("job_ids must be a list of job ids")
    return list(dict.fromkeys(check.identifier(j, "job") for j in values))


def _timed_out(pending: Sequence[str], what: str, until: str) -> WatchTimeoutError:
    """The error of a watch whose deadline passed with `pending` ids not done."""
    still = ", ".join(sorted(pending)[:5])
    return WatchTimeoutError(
        f"{len(pending)} {what}(s) not {until.replace('_', ' ')} in time: {still}",
        job_id=pending[0] if pending and what == "job" else None,
    )


async def watch_jobs(
    ctx: ClientContext,
    ids: list[str],
    *,
    until: Until = "outputs_ready",
    policy: PollPolicy = PollPolicy(),
    timeout: float | None = None,
    raise_on_failure: bool = False,
    batch_size: int = BATCH_SIZE,
    outputs: dict[str, Requested] | None = None,
) -> AsyncGenerator[JobEvent, None]:
    """Events of many (checked) jobs, fetched `batch_size` per request; finished jobs drop out.

    A job that is not found or fails yields its event and leaves the watch; the others go on.
    With `raise_on_failure` the first failure raises `JobFailedError` instead. With `timeout`,
    the waits between rounds end at the deadline, one last round looks there, and
    `WatchTimeoutError` follows if jobs are still pending (`OutputsNotReadyError` when the
    first of them finished and only waits for outputs). `outputs` maps a job id to what the job
    was asked for; a job not in it is judged by its defaults.
    """
    deadline = Deadline(ctx, timeout)
    poller: Poller[Job] = Poller(ctx, policy, fetch_jobs, batch_size=batch_size)
    now = ctx.clock.now()
    wanted = outputs or {}
    trackers = {job_id: JobTracker(job_id, until, now, wanted.get(job_id)) for job_id in ids}
    try:
        while trackers:
            try:
                answer = await poller.round(list(trackers), deadline)
            except TimeoutError:
                raise _watch_timed_out(trackers, until) from None
            if answer is not None:
                jobs, missing = answer
                for job_id in missing:
                    tracker = trackers.pop(job_id)
                    yield JobNotFound(job_id=job_id, job=tracker.last)
                now = ctx.clock.now()
                for job_id, job in jobs:
                    tracker = trackers[job_id]
                    for event in tracker.observe(job, now):
                        if isinstance(event, JobFailed) and raise_on_failure:
                            raise JobFailedError(job_id, str(event.state), event.reason)
                        yield event
                    if tracker.done:
                        del trackers[job_id]
                    elif (overdue := tracker.outputs_overdue(now)) is not None:
                        raise overdue
            if not trackers:
                return
            if deadline.passed():
                raise _watch_timed_out(trackers, until)
            since = ctx.clock.now() - max(t.changed_at for t in trackers.values())
            await poller.sleep(poller.pause(since, len(poller.batches(list(trackers)))), deadline)
    finally:
        log.debug("stopped watching %d job(s)", len(trackers))


def _watch_timed_out(trackers: dict[str, JobTracker], until: str) -> WatchTimeoutError:
    first = next(iter(trackers.values()))
    if first.finished_reported and until == "outputs_ready":
        return first.not_ready()
    return _timed_out(list(trackers), "job", until)


async def wait_job(
    ctx: ClientContext,
    job_id: str,
    *,
    until: Until = "outputs_ready",
    policy: PollPolicy = PollPolicy(),
    timeout: float | None = None,
    raise_on_failure: bool = True,
    outputs: Requested = None,
) -> Job:
    """The job once its watch ends: terminal, and by default with a URL for every output it
    was asked for (`outputs`; None: its defaults)."""
    last: Job | None = None
    async for event in watch_jobs(
        ctx,
        [job_id],
        until=until,
        policy=policy,
        timeout=timeout,
        raise_on_failure=raise_on_failure,
        outputs={job_id: outputs},
    ):
        if isinstance(event, JobNotFound):
            raise NotFoundError(f"job {job_id} not found", status=200)
        if event.job is not None:
            last = event.job
    assert last is not None
    return last


class JobWaiter:
    """Many tasks waiting for their own job, served by shared polling rounds (bulk runs).

    `wait(job_id, outputs)` returns the job once the outputs it was asked for are ready and
    raises `JobFailedError`, `NotFoundError`, `OutputsNotReadyError` (finished, outputs not
    ready after `OUTPUTS_TIMEOUT`) or the polling error that made the failure policy give up.
    """

    def __init__(self, ctx: ClientContext, policy: PollPolicy) -> None:
        self._ctx = ctx
        self._poller: Poller[Job] = Poller(ctx, policy, fetch_jobs)
        self._waiting: dict[str, tuple[JobTracker, asyncio.Future[Job]]] = {}
        self._wake = anyio.Event()

    @property
    def rounds(self) -> int:
        return self._poller.rounds

    async def wait(self, job_id: str, outputs: Requested = None) -> Job:
        future: asyncio.Future[Job] = asyncio.get_running_loop().create_future()
        tracker = JobTracker(job_id, "outputs_ready", self._ctx.clock.now(), outputs)
        self._waiting[job_id] = (tracker, future)
        self._wake.set()
        try:
            return await future
        finally:
            self._waiting.pop(job_id, None)

    async def run(self) -> None:
        """Poll while anyone waits; runs until cancelled."""
        while True:
            if not self._waiting:
                self._wake = anyio.Event()
                await self._wake.wait()
            ids = list(self._waiting)
            try:
                answer = await self._poller.round(ids)
            except MoveUgcError as exc:
                log.warning("giving up polling %d job(s): %s", len(ids), exc)
                for job_id in ids:
                    self._settle(job_id, exc)
                self._poller.failures = 0
                continue
            if answer is not None:
                self._observe(*answer)
            if not self._waiting:
                continue
            now = self._ctx.clock.now()
            since = now - max(t.changed_at for t, _ in self._waiting.values())
            batches = len(self._poller.batches(list(self._waiting)))
            await self._poller.sleep(self._poller.pause(since, batches))

    def _observe(self, jobs: list[tuple[str, Job]], missing: list[str]) -> None:
        for job_id in missing:
            self._settle(job_id, NotFoundError(f"job {job_id} not found", status=200))
        now = self._ctx.clock.now()
        for job_id, job in jobs:
            entry = self._waiting.get(job_id)
            if entry is None:
                continue
            tracker, future = entry
            tracker.observe(job, now)
            overdue = tracker.outputs_overdue(now)
            if overdue is not None:
                self._settle(job_id, overdue)
            elif tracker.done:
                del self._waiting[job_id]  # now, not when its task next runs: no extra round
                if not future.done():
                    state = job.current_state
                    if state == JobState.FINISHED:
                        future.set_result(job)
                    else:
                        future.set_exception(JobFailedError(job_id, str(state)))

    def _settle(self, job_id: str, error: BaseException) -> None:
        entry = self._waiting.pop(job_id, None)
        if entry is not None and not entry[1].done():
            entry[1].set_exception(error)


# ------------------------------------------------------------------ volumes
async def watch_volumes(
    ctx: ClientContext,
    ids: list[str],
    *,
    policy: PollPolicy = PollPolicy(),
    timeout: float | None = None,
) -> AsyncGenerator[VolumeStateChanged, None]:
    """State changes of (checked) volumes until each is FINISHED or FAILED (50 per request)."""
    deadline = Deadline(ctx, timeout)
    poller: Poller[HumanVolume] = Poller(ctx, policy, fetch_volumes)
    states: dict[str, JobState | str | None] = dict.fromkeys(ids)
    changed_at = ctx.clock.now()
    while states:
        try:
            answer = await poller.round(list(states), deadline)
        except TimeoutError:
            raise _timed_out(list(states), "volume", "finished") from None
        if answer is not None:
            volumes, missing = answer
            if missing:
                raise NotFoundError(f"volume {missing[0]} not found", status=200)
            for volume_id, volume in volumes:
                state = volume.state or (volume.progress.state if volume.progress else None)
                if state != states[volume_id]:
                    changed_at = ctx.clock.now()
                    yield VolumeStateChanged(
                        volume_id=volume_id,
                        previous=states[volume_id],
                        state=state or "UNKNOWN",
                        volume=volume,
                    )
                    states[volume_id] = state
                known = known_state(state)
                if known is not None and known.is_terminal:
                    del states[volume_id]
        if not states:
            return
        if deadline.passed():
            raise _timed_out(list(states), "volume", "finished")
        since = ctx.clock.now() - changed_at
        await poller.sleep(poller.pause(since, len(poller.batches(list(states)))), deadline)
