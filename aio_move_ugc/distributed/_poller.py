"""One polling loop per worker for every job its activities wait on: ceil(N/50) requests a round.

Each round hands the jobs waiting right now to `ugc.jobs.watch_many` and reads exactly one
round from it: the first look at a job always yields an event carrying the job (or saying it
was not found), so once every job has spoken the generator is closed before it sleeps or asks
again. Between
rounds the loop waits `interval` seconds, longer (up to `max_interval`) while nothing ends,
and never shorter than what keeps polling within half of the client's request budget.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import anyio

from .. import AsyncMoveUgc, InvalidInputError, Job, JobEvent, JobNotFound, JobState, MoveUgcError

log = logging.getLogger("aio_move_ugc.distributed")

BATCH = 50


@dataclass(frozen=True)
class Ended:
    """How a waited-on job left the watch."""

    job: Job | None
    finished: bool
    state: str
    reason: str | None = None


class JobPoller:
    """Follows every job that this process's activities wait on, in shared rounds."""

    def __init__(
        self, ugc: AsyncMoveUgc, *, interval: float = 5.0, max_interval: float = 60.0
    ) -> None:
        if not 0 < interval <= max_interval:
            raise InvalidInputError("need 0 < interval <= max_interval")
        self._ugc = ugc
        self.interval = interval
        self.max_interval = max_interval
        self._waiting: dict[str, list[asyncio.Future[Ended]]] = {}
        self._wake = asyncio.Event()
        self.rounds = 0
        self.requests = 0
        """GetJobs requests made (ceil(N/50) per round of N jobs)."""

    async def wait(self, job_id: str) -> Ended:
        """How `job_id` ends; several waiters of the same job share its polling."""
        future: asyncio.Future[Ended] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(job_id, []).append(future)
        self._wake.set()
        try:
            return await future
        finally:
            waiters = self._waiting.get(job_id)
            if waiters is not None and future in waiters:
                waiters.remove(future)
                if not waiters:
                    del self._waiting[job_id]

    async def run(self) -> None:
        """Poll until cancelled."""
        delay = self.interval
        while True:
            if not self._waiting:
                self._wake.clear()
                await self._wake.wait()
                delay = self.interval
            ended = await self._round(list(self._waiting))
            delay = self.interval if ended else min(self.max_interval, delay * 1.5)
            await anyio.sleep(max(delay, self._budget_floor(len(self._waiting))))

    def _budget_floor(self, jobs: int) -> float:
        budget = self._ugc.rate_budget
        if budget is None or not jobs:
            return 0.0
        # Polling takes at most half of the budget's sustained rate; the rest is for real work.
        return 2 * -(-jobs // BATCH) * budget.window / budget.limit

    async def _round(self, ids: list[str]) -> bool:
        """One look at every job in `ids`; True when some ended."""
        self.rounds += 1
        self.requests += -(-len(ids) // BATCH)
        unseen = set(ids)
        ended = False
        events = self._ugc.jobs.watch_many(ids, interval=self.interval)
        try:
            async for event in events:
                if event.job_id not in unseen:
                    continue  # more news of a job already read this round
                unseen.discard(event.job_id)
                end = _ending(event)
                if end is not None:
                    ended = True
                    self._settle(event.job_id, end)
                if not unseen:
                    break
        except MoveUgcError as exc:
            # Transient trouble (after the client's own retries): the next round asks again.
            log.warning("polling %d job(s) failed: %s", len(ids), exc)
        finally:
            await events.aclose()
        return ended

    def _settle(self, job_id: str, end: Ended) -> None:
        for future in self._waiting.get(job_id, []):
            if not future.done():
                future.set_result(end)


def _ending(event: JobEvent) -> Ended | None:
    """How the job of the round's first event about it stands: ended, or None (not yet)."""
    if isinstance(event, JobNotFound):
        return Ended(None, False, "NOT_FOUND", "the API has no such job")
    job = event.job
    if job is None:
        return None
    state = job.current_state
    if state == JobState.FINISHED and job.outputs_ready:
        return Ended(job, True, "FINISHED")
    if state in (JobState.FAILED, JobState.CANCELLED):
        name = str(state)
        return Ended(job, False, name, f"the job ended {name}")
    return None
