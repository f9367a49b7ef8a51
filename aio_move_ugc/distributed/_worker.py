"""A worker: runs take workflows, the API steps, and the transfers of the host it runs on."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from .. import AsyncMoveUgc, ConfigurationError
from ..transfers import TransferConfig
from ._activities import MoveUgcActivities, StepHook
from ._budget import ClusterBudget
from ._budget_workflow import BudgetWorkflow
from ._poller import JobPoller
from ._types import DEFAULT_TASK_QUEUE, host_queue
from ._workflow import TakeWorkflow

API_KEY_ENV = "MOVE_UGC_API_KEY"


@dataclass(frozen=True)
class WorkerConfig:
    """How a worker joins the cluster.

    `host` names the machine: uploads of the files it holds and downloads meant for it run on
    its own queue (`<task_queue>@<host>`). `rate_limit` (requests per `window` seconds) turns on
    the cluster-wide budget; every worker of the same API key must give the same numbers.
    """

    host: str
    task_queue: str = DEFAULT_TASK_QUEUE
    rate_limit: int | None = None
    window: float = 3600.0
    lease: float = 30.0
    budget_batch: int = 1
    budget_id: str | None = None
    poll_interval: float = 5.0
    poll_max_interval: float = 60.0
    max_concurrent_transfers: int = 8
    max_concurrent_activities: int = 200
    transfer_config: TransferConfig | None = None
    state_dir: Path | None = None
    """Where this host remembers its uploads (default: `$XDG_CACHE_HOME/aio-move-ugc`)."""

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host.strip() or "@" in self.host:
            raise ConfigurationError("host must be a non-empty name without '@'")
        if not isinstance(self.task_queue, str) or not self.task_queue.strip():
            raise ConfigurationError("task_queue must be a non-empty name")
        for name in ("max_concurrent_transfers", "max_concurrent_activities"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"{name} must be a positive integer")
        if not 0 < self.poll_interval <= self.poll_max_interval:
            raise ConfigurationError("need 0 < poll_interval <= poll_max_interval")


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "aio-move-ugc"


def _sandbox() -> SandboxedWorkflowRunner:
    # The workflows import only dataclasses of this package; passing the package through keeps
    # the sandbox from re-importing the client (aiohttp, pydantic) for every workflow run.
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("aio_move_ugc")
    )


async def run_worker(
    temporal: Client,
    config: WorkerConfig,
    *,
    api_key: str | None = None,
    endpoint_url: str | None = None,
    stop: asyncio.Event | None = None,
    hooks: StepHook | None = None,
) -> None:
    """Serve until `stop` is set (or the task is cancelled), then finish in-flight work briefly
    and return. The API key and endpoint default to `MOVE_UGC_API_KEY` / `MOVE_UGC_ENDPOINT_URL`.
    `hooks(point)` is called at the points of the steps `StepHook` names (tests stop the
    worker there).
    """
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    budget: ClusterBudget | None = None
    if config.rate_limit is not None:
        budget = ClusterBudget(
            temporal,
            api_key=key,
            budget_id=config.budget_id,
            limit=config.rate_limit,
            window=config.window,
            lease=config.lease,
            batch=config.budget_batch,
            task_queue=config.task_queue,
        )
    transfer_config = config.transfer_config or TransferConfig(
        max_concurrent_transfers=config.max_concurrent_transfers
    )
    async with AsyncMoveUgc(
        key, endpoint_url=endpoint_url, rate_limit=budget, transfer_config=transfer_config
    ) as ugc:
        poller = JobPoller(
            ugc, interval=config.poll_interval, max_interval=config.poll_max_interval
        )
        activities = MoveUgcActivities(
            ugc, poller, state_dir=config.state_dir or _cache_dir(), hooks=hooks
        )
        shared = Worker(
            temporal,
            task_queue=config.task_queue,
            workflows=[TakeWorkflow, BudgetWorkflow],
            activities=[activities.create_take, activities.create_job, activities.wait_job],
            workflow_runner=_sandbox(),
            max_concurrent_activities=config.max_concurrent_activities,
        )
        local = Worker(
            temporal,
            task_queue=host_queue(config.task_queue, config.host),
            activities=[activities.upload, activities.download],
            max_concurrent_activities=config.max_concurrent_transfers,
        )
        polling = asyncio.get_running_loop().create_task(poller.run())
        try:
            async with shared, local:
                await (stop.wait() if stop is not None else asyncio.Event().wait())
        finally:
            polling.cancel()
            await asyncio.gather(polling, return_exceptions=True)
            await activities.aclose()
