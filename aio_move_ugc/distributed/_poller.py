"""One polling loop per worker for every job its activities wait on: ceil(N/50) requests a round.

The loop is the SDK's shared job waiter (`ugc.jobs.waiter`), the engine under every other
wait: the same acceptors (a job is done when every output it was asked for has a URL, or by
the settle rule when that is unknown), the same pacing, the same failure policy. It never
dies silently: a failed round, whatever raised it (a Temporal outage behind the cluster
budget included), is logged and tried again; after `max_failures` in a row the jobs then
waited on fail their waits, so their activities fail and Temporal moves the step. When the
loop stops, every wait still open fails, and a wait made after that fails at once: an
activity never heartbeats for a wait nothing serves.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from .. import (
    AsyncMoveUgc,
    InvalidInputError,
    Job,
    JobFailedError,
    JobNotFoundError,
    OutputMissingError,
    OutputType,
)

log = logging.getLogger("aio_move_ugc.distributed")


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
        self.interval = interval
        self.max_interval = max_interval
        self._waiter = ugc.jobs.waiter(interval=interval, max_interval=max_interval)

    @property
    def rounds(self) -> int:
        return self._waiter.rounds

    @property
    def requests(self) -> int:
        """GetJobs requests made (ceil(N/50) per round of N jobs)."""
        return self._waiter.requests

    @property
    def stopped(self) -> bool:
        """True once `run` has ended: waits then fail at once."""
        return self._waiter.stopped

    async def wait(self, job_id: str, outputs: Iterable[OutputType | str] | None = None) -> Ended:
        """How `job_id` ends; several waiters of the same job share its polling. `outputs`:
        what the job was asked for (None: as the SDK's waits judge a job whose request is
        unknown). Raises the polling error that made the failure policy give up, or
        `PollerStoppedError` when the loop is not running."""
        requested = tuple(OutputType(o) for o in outputs) if outputs else None
        try:
            job = await self._waiter.wait(job_id, requested)
        except JobFailedError as exc:
            return Ended(None, False, exc.state, f"the job ended {exc.state}")
        except JobNotFoundError:
            return Ended(None, False, "NOT_FOUND", "the API has no such job")
        except OutputMissingError as exc:
            return Ended(None, False, "OUTPUTS_MISSING", str(exc))
        return Ended(job, True, "FINISHED")

    async def run(self) -> None:
        """Poll until cancelled."""
        await self._waiter.run()
