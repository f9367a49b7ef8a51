"""The cluster's request budget as a workflow: one per API key, granting permits by update.

Every permit is counted at the moment it is granted and keeps occupying the budget for
`window + lease` seconds: a holder may send its request at any time within `lease` seconds of
asking, so any `window` seconds of requests, as the API counts them on arrival, were granted
within one `window + lease` span — of which the workflow never grants more than `limit`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from temporalio import workflow

ROTATE_AFTER = 500
"""Reservations handled before the workflow continues as new (keeps its history short)."""


@dataclass(frozen=True)
class BudgetState:
    """Configuration of a budget and the grants still inside its span (epoch seconds)."""

    limit: int
    window: float
    lease: float
    grants: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Grant:
    """Permits granted now (0 when the budget is spent) and when to ask again."""

    granted: int
    retry_after: float = 0.0


@workflow.defn(name="MoveUgcRequestBudget")
class BudgetWorkflow:
    """Grants at most `limit` permits in any `window + lease` seconds, to every worker alike."""

    @workflow.init
    def __init__(self, state: BudgetState) -> None:
        self._state = state
        self._grants: deque[float] = deque(sorted(state.grants))
        self._handled = 0
        self._rotating = False

    @workflow.run
    async def run(self, state: BudgetState) -> None:
        """Serve reservations; continue as new now and then with the grants still in span."""
        await workflow.wait_condition(
            lambda: self._handled >= ROTATE_AFTER or workflow.info().is_continue_as_new_suggested()
        )
        self._rotating = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._forget(workflow.now().timestamp())
        workflow.continue_as_new(
            BudgetState(state.limit, state.window, state.lease, list(self._grants))
        )

    def _forget(self, now: float) -> None:
        span = self._state.window + self._state.lease
        while self._grants and self._grants[0] < now - span:
            self._grants.popleft()

    @workflow.update(name="reserve")
    def reserve(self, count: int) -> Grant:
        """Grant up to `count` permits now, or say how long until one is free."""
        self._handled += 1
        now = workflow.now().timestamp()
        self._forget(now)
        room = self._state.limit - len(self._grants)
        granted = min(count, room)
        if granted > 0:
            self._grants.extend([now] * granted)
            return Grant(granted)
        span = self._state.window + self._state.lease
        return Grant(0, retry_after=max(0.05, self._grants[0] + span - now + 0.01))

    @reserve.validator
    def _check(self, count: int) -> None:
        if self._rotating:
            raise ValueError("the budget is moving to a new run; ask again")
        if not isinstance(count, int) or count < 1:
            raise ValueError("reserve at least one permit")

    @workflow.query(name="granted")
    def granted(self) -> int:
        """Permits still inside the span (for monitoring)."""
        since = workflow.now().timestamp() - (self._state.window + self._state.lease)
        return sum(1 for at in self._grants if at >= since)
