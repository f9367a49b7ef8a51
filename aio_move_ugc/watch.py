"""The one polling engine, and the generators and waiters built on it.

Polling sees everything the API shows (state, `percentageComplete`, outputs getting URLs);
webhooks (see `webhooks.py`) only see state changes, but cost no requests. Everything that
polls — `jobs.watch`, `jobs.watch_many`, `jobs.wait`, `jobs.retrieve_many`, `volumes.wait`,
bulk runs and the distributed worker's poller — goes through `Engine`, so they share one
behaviour:

- **Batching**: up to 50 records per request through GraphQL aliases, so following N jobs
  costs ceil(N/50) requests per round.
- **Pacing**: the pause between rounds is `PollPolicy.growth` of the time the wait has lasted
  (from `interval` up to `max_interval`), queue included: neither progress nor a job starting
  resets it. Only a job reaching FINISHED does, since its outputs follow within seconds.
  With a rate budget, polling takes at most half of its sustained rate; after throttling, the
  pause is the longest. A pause runs from the start of one round to the start of the next
  (after a failed round: from its end), so a slow answer does not delay every later look.
- **Acceptors** say what ends a wait (`WhenFailed`, `WhenFinished`, `WhenOutputsReady`):
  the first whose condition holds ends it, in success or with an error. A FINISHED job's
  outputs are ready when every output it was asked for is listed with a download URL. When
  that is unknown, the job's own list is taken once it has settled: every listed output has a
  URL and the list has not changed for `SETTLE_MIN` seconds and twice as long as it took to
  grow. A settled list that lacks an output asked for ends the wait at once
  (`OutputMissingError`, naming what the job has); a list still growing `OUTPUTS_TIMEOUT`
  seconds after FINISHED ends it with `OutputsNotReadyError`.
- **States** are read in one place (`known_state`), case-insensitively, for every consumer.
- **Failures**: a request that fails with a transient error (after the client's own retries)
  is a failed round, tried again next round; `max_failures` failed rounds in a row, or an
  error that is not transient, end the polling with that error. An error the API reports
  about one record only (an `errors` entry whose `path` starts at its alias) touches only
  that record: `MoveNotFoundError` at the alias means it does not exist; any other error, at
  the alias or inside its fields, is a failed look at it alone — retried within
  `max_failures` looks in a row when transient (throttling, a DynamoDB or Lambda fault), else
  ending its wait at once with that error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

import anyio

from . import _validation as check
from ._answers import parse
from ._exceptions import (
    APIError,
    ConfigurationError,
    GraphQLResponseError,
    InvalidInputError,
    JobFailedError,
    JobNotFoundError,
    MoveUgcError,
    OutputMissingError,
    OutputsNotReadyError,
    RateLimitError,
    VolumeFailedError,
    VolumeNotFoundError,
    WatchTimeoutError,
)
from ._redact import scrub
from ._retry import is_transient_api
from ._schema.operations import job_batch, volume_batch
from ._transport import THROTTLING_TYPES
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
"""Seconds a FINISHED job's list of outputs must stay the same, all with URLs, before it is
taken as complete (and at least twice as long as it grew): see `WhenOutputsReady`."""
Requested = tuple[OutputType, ...] | None
"""The outputs a job was asked for; None when unknown."""
TRANSIENT_ERROR_TYPES = frozenset(
    {
        "InternalFailure",
        "InternalFailureException",
        "InternalError",
        "InternalServerError",
        "InternalServerErrorException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
"""Error types (besides throttling and the `DynamoDB:`/`Lambda:` faults of a resolver's data
source) of a fault that says nothing about the record and may pass."""
TRANSIENT_PREFIXES = ("DynamoDB:", "Lambda:")

T = TypeVar("T")
E = TypeVar("E")
R = TypeVar("R", contravariant=True)


@dataclass(frozen=True)
class PollPolicy:
    """How often to ask, and how many failed rounds to bear.

    The pause between rounds is `growth` times the seconds the wait has lasted (restarted when
    a job reaches FINISHED), never below `interval` nor above `max_interval`. The defaults
    follow one 10-minute job in at most 30 requests and a job queued 5 minutes then running 10
    in at most 40, which suits the smallest plan (100 requests per hour).
    """

    interval: float = 5.0
    max_interval: float = 60.0
    growth: float = 0.25
    max_failures: int = 5
    """Failed rounds in a row (each after the client's own retries) before giving up; also
    failed looks in a row at one record."""

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


# ------------------------------------------------------------------ states
def known_state(value: JobState | str | None) -> JobState | None:
    """A state the SDK knows (read case-insensitively), or None for one it does not: the one
    place where states are normalised before they are compared."""
    if value is None:
        return None
    try:
        return JobState(value)
    except ValueError:
        return None


def volume_state(volume: HumanVolume) -> JobState | str | None:
    """A volume's state as the API says it (`state`, else `progress.state`)."""
    return volume.state or (volume.progress.state if volume.progress else None)


# ------------------------------------------------------------------ one round's answer
@dataclass
class Looks(Generic[T]):
    """What one round (or one batch) saw: records found, ids the API does not know, and ids
    whose look failed (the error, and whether it is transient)."""

    found: dict[str, T] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    failed: dict[str, tuple[APIError, bool]] = field(default_factory=dict)

    def merge(self, other: Looks[T]) -> None:
        self.found.update(other.found)
        self.missing.extend(other.missing)
        self.failed.update(other.failed)


Fetch = Callable[["ClientContext", Sequence[str]], Awaitable[Looks[T]]]


@dataclass(frozen=True)
class _Raw:
    """A 200 answer whose errors (if any) each name one alias of the batch."""

    data: dict[str, Any] | None
    errors: list[dict[str, Any]]


def _alias_of(entry: dict[str, Any]) -> str | None:
    path = entry.get("path")
    if isinstance(path, list) and path and isinstance(path[0], str):
        return path[0]
    return None


def _batch_decoder(aliases: frozenset[str]) -> Callable[[bytes], _Raw | None]:
    """Reads an answer whose errors are all about single records (their paths start at one of
    `aliases`); None for any other answer, which the transport maps to an error as usual."""

    def decode(raw: bytes) -> _Raw | None:
        try:
            payload = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(payload, dict) or "data" not in payload:
            return None
        errors = payload.get("errors") or []
        if not isinstance(errors, list) or not all(isinstance(e, dict) for e in errors):
            return None
        if any(_alias_of(e) not in aliases for e in errors):
            return None
        data = payload.get("data")
        if not isinstance(data, dict) and not errors:
            return None
        return _Raw(data if isinstance(data, dict) else None, errors)

    return decode


def is_transient_entry(entry: dict[str, Any]) -> bool:
    """Whether an error the API reports about one record may pass: throttling, a fault of the
    resolver's data source (`DynamoDB:...`, `Lambda:...`) or an internal failure."""
    error_type = entry.get("errorType")
    if not isinstance(error_type, str):
        return False
    return (
        error_type in THROTTLING_TYPES
        or error_type in TRANSIENT_ERROR_TYPES
        or error_type.startswith(TRANSIENT_PREFIXES)
    )


def _record_error(kind: str, record_id: str, entry: dict[str, Any], name: str) -> APIError:
    path = entry.get("path") or []
    inside = ".".join(str(p) for p in path[1:])
    message = str(entry.get("message") or entry.get("errorType") or "an error")[:300]
    where = f"its {inside}" if inside else "it"
    return GraphQLResponseError(
        f"{kind} {record_id}: the API could not read {where}: {message}",
        status=200,
        errors=[scrub(entry)],
        operation_name=name,
    )


async def fetch_jobs(ctx: ClientContext, job_ids: Sequence[str]) -> Looks[Job]:
    """Jobs of one batch in one request (aliases `j0`, `j1`...).

    `getJob` returns `Job!`, so an error at one alias nulls the whole answer: the ids the
    errors name are set aside (unknown, or a failed look) and the rest asked again (one more
    request, only then).
    """
    return await _fetch_aliased(ctx, job_ids, "j", job_batch, Job, "GetJobs", "job")


async def fetch_volumes(ctx: ClientContext, volume_ids: Sequence[str]) -> Looks[HumanVolume]:
    """Volumes of one batch in one request, as `fetch_jobs` does for jobs."""
    return await _fetch_aliased(
        ctx, volume_ids, "v", volume_batch, HumanVolume, "GetVolumes", "volume"
    )


async def _fetch_aliased(
    ctx: ClientContext,
    ids: Sequence[str],
    prefix: str,
    document: Callable[[list[str]], Any],
    model: type[Any],
    name: str,
    kind: str,
) -> Looks[Any]:
    looks: Looks[Any] = Looks()
    remaining = list(ids)
    while remaining:
        aliases = {f"{prefix}{i}": record_id for i, record_id in enumerate(remaining)}
        variables = dict(zip(aliases, remaining, strict=True))
        answer = await ctx.execute(
            document(remaining), variables, decode=_batch_decoder(frozenset(aliases))
        )
        raw = answer if isinstance(answer, _Raw) else _Raw(answer, [])
        named: dict[str, dict[str, Any]] = {}
        # Errors read straight from the bytes skip the transport's mapping: scrubbed here,
        # before a message of theirs reaches an error, a log line or an event.
        for entry in ctx.scrub(raw.errors):
            alias = _alias_of(entry)
            if alias is not None:
                named.setdefault(aliases[alias], entry)
        for record_id, entry in named.items():
            path = entry.get("path") or []
            if len(path) == 1 and entry.get("errorType") == "MoveNotFoundError":
                looks.missing.append(record_id)
            else:
                error = _record_error(kind, record_id, entry, name)
                looks.failed[record_id] = (error, is_transient_entry(entry))
        if raw.data is None and named:
            # One null `getJob` nulls every other alias's data too: ask again for the others.
            remaining = [r for r in remaining if r not in named]
            continue
        data = raw.data or {}
        for alias, record_id in aliases.items():
            if record_id in named:
                continue
            value = data.get(alias)
            if value:
                looks.found[record_id] = parse(model, value, name)
            else:
                looks.missing.append(record_id)
        break
    return looks


# ------------------------------------------------------------------ request-level policy
class Poller(Generic[T]):
    """Rounds of batched requests for a set of ids, paced and with one failure policy.

    `fetch(ctx, batch)` answers one batch in one request. `foreign_failures`: an exception
    that is not one of the SDK's (a request budget kept elsewhere that cannot be reached, say)
    is a failed round like a transient API error, instead of ending the polling at once.
    """

    def __init__(
        self,
        ctx: ClientContext,
        policy: PollPolicy,
        fetch: Fetch[T],
        *,
        batch_size: int = BATCH_SIZE,
        foreign_failures: bool = False,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int):
            raise InvalidInputError(f"batch_size must be an integer from 1 to {BATCH_SIZE}")
        if not 1 <= batch_size <= BATCH_SIZE:
            raise InvalidInputError(f"batch_size must be from 1 to {BATCH_SIZE}")
        self._ctx = ctx
        self.policy = policy
        self._fetch = fetch
        self.batch_size = batch_size
        self.foreign_failures = foreign_failures
        self.failures = 0
        self._throttled = False
        self.rounds = 0
        self.requests = 0
        """Batches asked for: ceil(N/50) a round of N ids (a batch whose answer was nulled by
        an error about one record is asked again without it, which this does not count)."""
        self._round_started: float | None = None

    def batches(self, ids: Sequence[str]) -> list[list[str]]:
        return [list(ids[i : i + self.batch_size]) for i in range(0, len(ids), self.batch_size)]

    async def round(self, ids: Sequence[str], deadline: Deadline | None = None) -> Looks[T] | None:
        """One round over `ids`, or None when the round failed and may be tried again.
        Raises when the failure policy says to give up, and `TimeoutError` when the
        deadline cut a request short."""
        looks: Looks[T] = Looks()
        self.rounds += 1
        self._round_started = self._ctx.clock.now()
        for batch in self.batches(ids):
            self.requests += 1
            try:
                if deadline is None:
                    part = await self._fetch(self._ctx, batch)
                else:
                    with anyio.fail_after(deadline.request_limit()):
                        part = await self._fetch(self._ctx, batch)
            except Exception as exc:
                if not self._bear(exc):
                    raise
                return None
            looks.merge(part)
        self.failures = 0
        self._throttled = False
        return looks

    def _bear(self, exc: Exception) -> bool:
        """Count a failed round; True when it may be tried again."""
        if isinstance(exc, MoveUgcError):
            transient = is_transient_api(exc)
        elif self.foreign_failures:
            transient = True
        else:
            return False  # not a failure of the API: raised as it is
        self.failures += 1
        self._throttled = isinstance(exc, RateLimitError)
        self._round_started = None  # after a failure, the whole pause from now
        if not transient or self.failures >= self.policy.max_failures:
            return False
        log.warning(
            "polling round failed (%d of %d allowed in a row): %s",
            self.failures,
            self.policy.max_failures - 1,
            exc if isinstance(exc, MoveUgcError) else type(exc).__name__,
        )
        return True

    def pause(self, since: float, requests_per_round: int) -> float:
        """Seconds to wait before the next round, `since` seconds into the wait."""
        policy = self.policy
        delay = min(policy.max_interval, max(policy.interval, policy.growth * since))
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


# ------------------------------------------------------------------ acceptors
@dataclass(frozen=True)
class Verdict:
    """How a wait ended: in success (`error` None; `outputs_ready` when outputs were what it
    waited for), or with `error`."""

    error: MoveUgcError | None = None
    outputs_ready: bool = False


class Seen:
    """What a wait has seen of one record: its state and since when, when it finished, and
    the outputs it lists (for the settle rule)."""

    def __init__(self, record_id: str, now: float) -> None:
        self.id = record_id
        self.paced_from = now
        """Where the pause's growth counts from: the wait's start, or FINISHED."""
        self.state: JobState | str | None = None
        self.changed_at = now
        self.finished_at: float | None = None
        self._listed: frozenset[str] | None = None
        self._listed_at = now

    def see_state(self, state: JobState | str | None, now: float) -> bool:
        """Record the state; True when it differs from the last one (compared normalised)."""
        if _state_key(state) == _state_key(self.state):
            return False
        self.state = state
        self.changed_at = now
        return True

    def see_outputs(self, job: Job, now: float) -> None:
        files = frozenset(o.file.id for o in job.outputs or [])
        if files != self._listed:
            self._listed, self._listed_at = files, now

    def settled(self, job: Job, now: float) -> bool:
        """Whether the job's list of outputs is complete by the settle rule: not empty, every
        one with a URL, the same for `SETTLE_MIN` seconds and twice as long as it grew."""
        listed = job.outputs or []
        if not listed or not all(o.file.presigned_url for o in listed):
            return False
        finished = self.finished_at if self.finished_at is not None else now
        grew_for = self._listed_at - finished
        return now - self._listed_at >= max(SETTLE_MIN, 2 * grew_for)


def _state_key(state: JobState | str | None) -> JobState | str | None:
    known = known_state(state)
    return known if known is not None else state


class Acceptor(Protocol[R]):
    """Says whether what was seen of a record ends its wait (a `Verdict`) or not (None)."""

    def judge(self, record: R, seen: Seen, now: float) -> Verdict | None: ...


@dataclass(frozen=True)
class WhenFailed:
    """Ends the wait with `failure` (`JobFailedError`, or `VolumeFailedError` for volumes)
    once the record is FAILED or CANCELLED."""

    failure: type[JobFailedError] | type[VolumeFailedError] = JobFailedError

    def judge(self, record: object, seen: Seen, now: float) -> Verdict | None:
        known = known_state(seen.state)
        if known is not None and known.is_terminal and known is not JobState.FINISHED:
            return Verdict(self.failure(seen.id, str(seen.state)))
        return None


@dataclass(frozen=True)
class WhenFinished:
    """Ends the wait in success once the record is FINISHED."""

    def judge(self, record: object, seen: Seen, now: float) -> Verdict | None:
        return Verdict() if known_state(seen.state) is JobState.FINISHED else None


@dataclass(frozen=True)
class WhenOutputsReady:
    """Ends the wait of a FINISHED job once its outputs are ready: every one of `requested`
    listed with a URL (None: every singlecam default, or a settled list). A settled list that
    lacks one of `requested` ends it with `OutputMissingError`; outputs still not ready
    `OUTPUTS_TIMEOUT` seconds after FINISHED, with `OutputsNotReadyError`."""

    requested: Requested = None

    def judge(self, record: Job, seen: Seen, now: float) -> Verdict | None:
        if known_state(seen.state) is not JobState.FINISHED:
            return None
        if outputs_ready(record, self.requested):
            return Verdict(outputs_ready=True)
        if seen.settled(record, now):
            if self.requested is None:
                log.debug("job %s: its outputs stopped changing and are taken as all", seen.id)
                return Verdict(outputs_ready=True)
            missing = [kind.value for kind in missing_outputs(record, self.requested)]
            listed = ", ".join(sorted({label_of(o) for o in record.outputs or []})) or "none"
            return Verdict(OutputMissingError(seen.id, missing, detail=f"it lists: {listed}"))
        if seen.finished_at is not None and now - seen.finished_at >= OUTPUTS_TIMEOUT:
            return Verdict(not_ready(seen.id, record, self.requested))
        return None


def job_acceptors(until: Until, requested: Requested) -> tuple[Acceptor[Job], ...]:
    """What ends the wait for a job: failing, and finishing (`until="terminal"`) or its
    outputs being ready."""
    if until == "terminal":
        return (WhenFailed(), WhenFinished())
    return (WhenFailed(), WhenOutputsReady(requested))


VOLUME_ACCEPTORS: tuple[Acceptor[HumanVolume], ...] = (
    WhenFailed(VolumeFailedError),
    WhenFinished(),
)


def not_ready(job_id: str, job: Job | None, requested: Requested) -> OutputsNotReadyError:
    """What is missing of a finished job's outputs, as an error."""
    if job is None:
        return OutputsNotReadyError(job_id, ["(no answer about the job)"])
    if requested is not None:
        missing = [kind.value for kind in missing_outputs(job, requested)]
    else:
        missing = [label_of(o) for o in job.outputs or [] if not o.file.presigned_url]
        missing = missing or ["(its list of outputs was still changing)"]
    return OutputsNotReadyError(job_id, missing)


# ------------------------------------------------------------------ trackers
class Tracker(Protocol[T, E]):
    """Follows one record: its events and, once an acceptor says so, its verdict."""

    seen: Seen
    last: T | None

    def observe(self, record: T, now: float) -> tuple[list[E], Verdict | None]: ...


class JobTracker:
    """What has been reported about one job, judged by its acceptors."""

    def __init__(self, job_id: str, acceptors: Sequence[Acceptor[Job]], now: float) -> None:
        self.seen = Seen(job_id, now)
        self.acceptors = tuple(acceptors)
        self.percentage: int | None = None
        self.finished_reported = False
        self.last: Job | None = None
        self.requested = next(
            (a.requested for a in self.acceptors if isinstance(a, WhenOutputsReady)), None
        )

    def observe(self, job: Job, now: float) -> tuple[list[JobEvent], Verdict | None]:
        self.last = job
        seen = self.seen
        events: list[JobEvent] = []
        previous = seen.state
        state = job.current_state
        if state is not None and seen.see_state(state, now):
            events.append(JobStateChanged(job_id=seen.id, previous=previous, state=state, job=job))
        known = known_state(seen.state)
        percentage = job.progress.percentage_complete if job.progress else None
        if known is JobState.RUNNING and percentage is not None and percentage != self.percentage:
            events.append(JobProgressed(job_id=seen.id, percentage=percentage, job=job))
            self.percentage = percentage
        if known is JobState.FINISHED:
            if not self.finished_reported:
                events.append(JobFinished(job_id=seen.id, job=job))
                self.finished_reported = True
                seen.finished_at = seen.paced_from = now  # its outputs follow within seconds
            seen.see_outputs(job, now)
        verdict = next(
            (v for a in self.acceptors if (v := a.judge(job, seen, now)) is not None), None
        )
        if verdict is not None:
            if isinstance(verdict.error, JobFailedError):
                events.append(JobFailed(job_id=seen.id, state=state or "FAILED", job=job))
            elif verdict.outputs_ready:
                events.append(OutputsReady(job_id=seen.id, outputs=job.outputs or [], job=job))
        return events, verdict

    def not_ready(self) -> OutputsNotReadyError:
        return not_ready(self.seen.id, self.last, self.requested)


class VolumeTracker:
    """What has been reported about one volume."""

    def __init__(self, volume_id: str, now: float) -> None:
        self.seen = Seen(volume_id, now)
        self.last: HumanVolume | None = None

    def observe(
        self, volume: HumanVolume, now: float
    ) -> tuple[list[VolumeStateChanged], Verdict | None]:
        self.last = volume
        previous = self.seen.state
        state = volume_state(volume)
        events = []
        if self.seen.see_state(state, now):
            events.append(
                VolumeStateChanged(
                    volume_id=self.seen.id,
                    previous=previous,
                    state=state or "UNKNOWN",
                    volume=volume,
                )
            )
        verdict = next(
            (v for a in VOLUME_ACCEPTORS if (v := a.judge(volume, self.seen, now)) is not None),
            None,
        )
        return events, verdict


# ------------------------------------------------------------------ the engine
@dataclass
class Report(Generic[T, E]):
    """What one round says about one record: its events, and how its wait ended (`verdict`;
    None while it goes on), or that the API does not know it (`not_found`)."""

    record_id: str
    tracker: Tracker[T, E]
    events: list[E] = field(default_factory=list)
    verdict: Verdict | None = None
    not_found: bool = False


class Engine(Generic[T, E]):
    """Rounds over the records being followed: ask (batched, with the failure policy), let
    each record's tracker observe and judge, pause by the one pacing rule.

    Records join (`follow`) and leave (`drop`) between rounds; a record whose wait ended
    leaves at once, so no round asks for it again.
    """

    def __init__(
        self,
        ctx: ClientContext,
        policy: PollPolicy,
        fetch: Fetch[T],
        *,
        batch_size: int = BATCH_SIZE,
        deadline: Deadline | None = None,
        foreign_failures: bool = False,
    ) -> None:
        self._ctx = ctx
        self.poller: Poller[T] = Poller(
            ctx, policy, fetch, batch_size=batch_size, foreign_failures=foreign_failures
        )
        self.deadline = deadline
        self.trackers: dict[str, Tracker[T, E]] = {}
        self._failed_looks: dict[str, int] = {}

    def follow(self, record_id: str, tracker: Tracker[T, E]) -> None:
        self.trackers[record_id] = tracker

    def drop(self, record_id: str) -> None:
        self.trackers.pop(record_id, None)
        self._failed_looks.pop(record_id, None)

    async def round(self) -> list[Report[T, E]] | None:
        """One look at every record followed; None when the round failed (and may be tried
        again). Raises what the failure policy gives up on, or `TimeoutError` at the
        deadline."""
        looks = await self.poller.round(list(self.trackers), self.deadline)
        if looks is None:
            return None
        reports: list[Report[T, E]] = []
        for record_id in looks.missing:
            tracker = self.trackers.get(record_id)
            if tracker is not None:
                reports.append(Report(record_id, tracker, not_found=True))
                self.drop(record_id)
        limit = self.poller.policy.max_failures
        for record_id, (error, transient) in looks.failed.items():
            tracker = self.trackers.get(record_id)
            if tracker is None:
                continue
            failed = self._failed_looks[record_id] = self._failed_looks.get(record_id, 0) + 1
            if transient and failed < limit:
                log.warning("look %d of %d at %s failed: %s", failed, limit, record_id, error)
                continue
            reports.append(Report(record_id, tracker, verdict=Verdict(error)))
            self.drop(record_id)
        now = self._ctx.clock.now()
        for record_id, record in looks.found.items():
            tracker = self.trackers.get(record_id)
            if tracker is None:
                continue
            self._failed_looks.pop(record_id, None)
            events, verdict = tracker.observe(record, now)
            reports.append(Report(record_id, tracker, events, verdict))
            if verdict is not None:
                self.drop(record_id)
        return reports

    async def pause(self) -> None:
        """Wait before the next round, by the time the longest-running wait has lasted."""
        if not self.trackers:
            return
        paced_from = max(t.seen.paced_from for t in self.trackers.values())
        since = self._ctx.clock.now() - paced_from
        batches = len(self.poller.batches(list(self.trackers)))
        await self.poller.sleep(self.poller.pause(since, batches), self.deadline)


# ------------------------------------------------------------------ jobs
def check_until(until: object) -> Until:
    if until not in ("outputs_ready", "terminal"):
        raise InvalidInputError("until must be 'outputs_ready' or 'terminal'")
    return until


def job_ids(values: Iterable[str]) -> list[str]:
    """Job ids to follow, checked, without repeats (order kept)."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise InvalidInputError("job_ids must be a list of job ids")
    return list(dict.fromkeys(check.identifier(j, "job") for j in values))


async def retrieve_jobs(ctx: ClientContext, ids: Sequence[str]) -> dict[str, Job]:
    """The jobs `ids` as they are now, `BATCH_SIZE` per request, by id (in the order asked);
    the ids the API does not know are left out. An error about one job raises it."""
    looks: Looks[Job] = Looks()
    for start in range(0, len(ids), BATCH_SIZE):
        looks.merge(await fetch_jobs(ctx, ids[start : start + BATCH_SIZE]))
    for error, _transient in looks.failed.values():
        raise error
    return {job_id: looks.found[job_id] for job_id in ids if job_id in looks.found}


def _timed_out(pending: Sequence[str], what: str, until: str) -> WatchTimeoutError:
    """The error of a watch whose deadline passed with `pending` ids not done."""
    still = ", ".join(sorted(pending)[:5])
    return WatchTimeoutError(
        f"{len(pending)} {what}(s) not {until.replace('_', ' ')} in time: {still}",
        job_id=pending[0] if pending and what == "job" else None,
    )


def _watch_timed_out(engine: Engine[Job, JobEvent], until: str) -> WatchTimeoutError:
    first = next(iter(engine.trackers.values()))
    if isinstance(first, JobTracker) and first.finished_reported and until == "outputs_ready":
        return first.not_ready()
    return _timed_out(list(engine.trackers), "job", until)


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
    With `raise_on_failure` the first failure raises `JobFailedError` instead. A job whose
    wait ends with another error (outputs missing or not ready, or `max_failures` failed
    looks at it in a row) raises it. With `timeout`, the waits between rounds end at the
    deadline, one last round looks there, and `WatchTimeoutError` follows if jobs are still
    pending (`OutputsNotReadyError` when the first of them finished and only waits for
    outputs). `outputs` maps a job id to what the job was asked for.
    """
    deadline = Deadline(ctx, timeout)
    engine: Engine[Job, JobEvent] = Engine(
        ctx, policy, fetch_jobs, batch_size=batch_size, deadline=deadline
    )
    now = ctx.clock.now()
    wanted = outputs or {}
    for job_id in ids:
        engine.follow(job_id, JobTracker(job_id, job_acceptors(until, wanted.get(job_id)), now))
    try:
        while engine.trackers:
            try:
                reports = await engine.round()
            except TimeoutError:
                raise _watch_timed_out(engine, until) from None
            for report in reports or []:
                if report.not_found:
                    yield JobNotFound(job_id=report.record_id, job=report.tracker.last)
                    continue
                error = report.verdict.error if report.verdict is not None else None
                for event in report.events:
                    if isinstance(event, JobFailed) and raise_on_failure and error is not None:
                        raise error
                    yield event
                if error is not None and not isinstance(error, JobFailedError):
                    raise error
            if not engine.trackers:
                return
            if deadline.passed():
                raise _watch_timed_out(engine, until)
            await engine.pause()
    finally:
        log.debug("stopped watching %d job(s)", len(engine.trackers))


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
    was asked for (`outputs`; None: as `WhenOutputsReady` says)."""
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
            raise JobNotFoundError(job_id)
        if event.job is not None:
            last = event.job
    assert last is not None
    return last


class PollerStoppedError(MoveUgcError):
    """A wait on a shared poller whose loop is not running (any more)."""


class JobWaiter:
    """Many tasks waiting for their own job, served by shared polling rounds (bulk runs and
    the distributed worker).

    `wait(job_id, outputs)` returns the job once the outputs it was asked for are ready and
    raises `JobFailedError`, `JobNotFoundError`, `OutputMissingError`, `OutputsNotReadyError`
    or the error that made the failure policy give up (for the jobs asked about then; the
    loop goes on for later waits). `run()` serves the waits until cancelled and never ends on
    an error: an exception that is not the SDK's (a budget kept elsewhere that cannot be
    reached, say) is a failed round too. When it ends, every wait still open fails with
    `PollerStoppedError`, and a wait made after that fails at once: no wait is left that
    nothing serves.
    """

    def __init__(
        self,
        ctx: ClientContext,
        policy: PollPolicy,
        *,
        remembered: Callable[[str], Requested] | None = None,
    ) -> None:
        self._ctx = ctx
        self._remembered = remembered
        """What a job was asked for, when the client that created it remembers."""
        self._engine: Engine[Job, JobEvent] = Engine(ctx, policy, fetch_jobs, foreign_failures=True)
        self._futures: dict[str, list[asyncio.Future[Job]]] = {}
        self._wake = anyio.Event()
        self.stopped = False

    @property
    def rounds(self) -> int:
        return self._engine.poller.rounds

    @property
    def requests(self) -> int:
        """Batches asked for so far (see `Poller.requests`)."""
        return self._engine.poller.requests

    async def wait(self, job_id: str, outputs: Requested = None) -> Job:
        """The job `job_id` once its outputs (`outputs`, what it was asked for; None: as
        `WhenOutputsReady` says) are ready. Several waits on one job share its polling (the
        first one's `outputs` count)."""
        if self.stopped:
            raise PollerStoppedError("nothing polls for jobs any more: the poller has stopped")
        future: asyncio.Future[Job] = asyncio.get_running_loop().create_future()
        if outputs is None and self._remembered is not None:
            outputs = self._remembered(job_id)
        if job_id not in self._engine.trackers:
            acceptors = job_acceptors("outputs_ready", outputs)
            self._engine.follow(job_id, JobTracker(job_id, acceptors, self._ctx.clock.now()))
        self._futures.setdefault(job_id, []).append(future)
        self._wake.set()
        try:
            return await future
        finally:
            waiting = self._futures.get(job_id)
            if waiting is not None and future in waiting:
                waiting.remove(future)
                if not waiting:
                    del self._futures[job_id]
                    self._engine.drop(job_id)

    async def run(self) -> None:
        """Poll while anyone waits; runs until cancelled."""
        try:
            while True:
                if not self._engine.trackers:
                    self._wake = anyio.Event()
                    await self._wake.wait()
                    continue
                try:
                    reports = await self._engine.round()
                except Exception as exc:
                    log.warning(
                        "giving up polling %d job(s): %s",
                        len(self._engine.trackers),
                        exc if isinstance(exc, MoveUgcError) else type(exc).__name__,
                    )
                    self._fail_all(exc)
                    self._engine.poller.failures = 0
                    continue
                for report in reports or []:
                    self._settle(report)
                await self._engine.pause()
        finally:
            self.stopped = True
            self._fail_all(PollerStoppedError("the job poller stopped"))

    def _settle(self, report: Report[Job, JobEvent]) -> None:
        job_id = report.record_id
        if report.not_found:
            error: BaseException | None = JobNotFoundError(job_id)
        elif report.verdict is not None:
            error = report.verdict.error
        else:
            return
        for future in self._futures.pop(job_id, []):
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
            elif report.tracker.last is not None:
                future.set_result(report.tracker.last)

    def _fail_all(self, error: BaseException) -> None:
        for job_id in list(self._engine.trackers):
            self._engine.drop(job_id)
            for future in self._futures.pop(job_id, []):
                if not future.done():
                    future.set_exception(error)


# ------------------------------------------------------------------ volumes
async def watch_volumes(
    ctx: ClientContext,
    ids: list[str],
    *,
    policy: PollPolicy = PollPolicy(),
    timeout: float | None = None,
) -> AsyncGenerator[VolumeStateChanged, None]:
    """State changes of (checked) volumes until each is FINISHED or FAILED (50 per request).
    An unknown volume raises `VolumeNotFoundError`; one that cannot be read (`max_failures`
    looks in a row, or an error that is not transient), the error."""
    deadline = Deadline(ctx, timeout)
    engine: Engine[HumanVolume, VolumeStateChanged] = Engine(
        ctx, policy, fetch_volumes, deadline=deadline
    )
    now = ctx.clock.now()
    for volume_id in ids:
        engine.follow(volume_id, VolumeTracker(volume_id, now))
    while engine.trackers:
        try:
            reports = await engine.round()
        except TimeoutError:
            raise _timed_out(list(engine.trackers), "volume", "finished") from None
        for report in reports or []:
            if report.not_found:
                raise VolumeNotFoundError(report.record_id)
            for event in report.events:
                yield event
            error = report.verdict.error if report.verdict is not None else None
            if error is not None and not isinstance(error, VolumeFailedError):
                raise error
        if not engine.trackers:
            return
        if deadline.passed():
            raise _timed_out(list(engine.trackers), "volume", "finished")
        await engine.pause()
