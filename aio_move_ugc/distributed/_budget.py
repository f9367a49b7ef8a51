"""`ClusterBudget`: one request budget shared by every worker that uses the same API key."""

from __future__ import annotations

import hashlib
import time
from collections import deque
from datetime import timedelta
from math import inf

import anyio
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from .._exceptions import ConfigurationError
from .._ratelimit import RateBudget
from .._retry import Retrier, RetryPolicy
from ._budget_workflow import BudgetState, BudgetWorkflow, Grant
from ._types import DEFAULT_TASK_QUEUE

LEASE_MARGIN = 0.5
"""Seconds of a lease left unused (at most a quarter of it): a permit is dropped, not used,
this close to its end, so the request it allows reaches the API within the lease."""


OUTAGE_RETRIES = 40
_ASK_AGAIN = Retrier(RetryPolicy(max_retries=OUTAGE_RETRIES, base_delay=0.05, max_delay=5.0))
"""Times a reservation is asked again while Temporal cannot be reached (about 3 minutes)."""
_OUTAGE = frozenset(
    {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED}
)


def budget_id_for(api_key: str) -> str:
    """The budget workflow's id for an API key: a one-way digest, never the key itself."""
    digest = hashlib.sha256(b"aio-move-ugc budget\x00" + api_key.encode()).hexdigest()
    return f"move-ugc-budget-{digest[:24]}"


class ClusterBudget(RateBudget):
    """At most `limit` API requests in any rolling `window` seconds, for the whole cluster.

    Permits come from one budget workflow (`budget_id`, by default derived from the API key)
    that every worker asks, `batch` at a time; a permit not used within `lease` seconds of
    asking is dropped. Pass it as `AsyncMoveUgc(rate_limit=...)`: it satisfies the
    `RequestBudget` protocol the client paces itself by (and, for clients that expect the
    in-memory class, is one).
    """

    def __init__(
        self,
        client: Client,
        *,
        api_key: str | None = None,
        budget_id: str | None = None,
        limit: int,
        window: float = 3600.0,
        lease: float = 30.0,
        batch: int = 1,
        task_queue: str = DEFAULT_TASK_QUEUE,
    ) -> None:
        super().__init__(limit, window=window)
        if isinstance(lease, bool) or not isinstance(lease, int | float) or not 0 < lease < inf:
            raise ConfigurationError("the lease must be a positive number of seconds")
        if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= limit:
            raise ConfigurationError("batch must be an integer from 1 to the limit")
        if budget_id is None:
            if not api_key:
                raise ConfigurationError("a cluster budget needs the API key or a budget_id")
            budget_id = budget_id_for(api_key)
        self.lease = float(lease)
        self.batch = batch
        self.budget_id = budget_id
        self.task_queue = task_queue
        self._client = client
        self._permits: deque[float] = deque()
        """Local monotonic deadlines of the permits held, oldest first."""
        self._started = False
        self._mutex = anyio.Lock()
        self.requests_to_budget = 0
        """Reservations sent to the budget workflow (for monitoring and tests)."""

    def __repr__(self) -> str:
        return (
            f"ClusterBudget(budget_id={self.budget_id!r}, limit={self.limit}, "
            f"window={self.window}, lease={self.lease})"
        )

    @property
    def remaining(self) -> int:
        """Permits held by this process and still usable (the cluster may have more)."""
        self._drop_stale(time.monotonic())
        return len(self._permits)

    def delay(self) -> float:
        """0 when a permit is held; otherwise unknown until the budget is asked (0 too)."""
        return 0.0

    def _drop_stale(self, now: float) -> None:
        while self._permits and self._permits[0] <= now:
            self._permits.popleft()

    async def acquire(self) -> None:
        """Take one permit, asking the budget workflow (and waiting for room) when none is held."""
        async with self._mutex:
            while True:
                self._drop_stale(time.monotonic())
                if self._permits:
                    self._permits.popleft()
                    return
                asked = time.monotonic()
                grant = await self._reserve()
                if grant.granted:
                    deadline = asked + self.lease - min(LEASE_MARGIN, self.lease / 4)
                    self._permits.extend([deadline] * grant.granted)
                else:
                    await anyio.sleep(grant.retry_after)

    async def _reserve(self) -> Grant:
        if not self._started:
            await self._start()
        handle = self._client.get_workflow_handle(self.budget_id)

        async def attempt() -> Grant:
            self.requests_to_budget += 1
            try:
                grant: Grant = await handle.execute_update(BudgetWorkflow.reserve, self.batch)
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    await self._start()  # then asked again, right away
                raise
            return grant

        return await _ASK_AGAIN.call(attempt, retryable=_worth_asking_again, what="a permit")

    async def _start(self) -> None:
        await self._client.start_workflow(
            BudgetWorkflow.run,
            BudgetState(self.limit, float(self.window), self.lease),
            id=self.budget_id,
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            task_timeout=timedelta(seconds=10),
        )
        self._started = True


def _worth_asking_again(exc: BaseException) -> bool:
    """A reservation not answered for now: the budget is continuing as new or was not found
    (started again), or Temporal is restarting or out of reach (no permit, so no request)."""
    if isinstance(exc, WorkflowUpdateFailedError):
        return True
    return isinstance(exc, RPCError) and (
        exc.status == RPCStatusCode.NOT_FOUND or exc.status in _OUTAGE
    )
