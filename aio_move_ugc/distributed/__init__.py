"""Bulk runs across machines on Temporal (the `temporal` extra: `pip install -e '.[temporal]'`).

One workflow per input, its id the input's identity (the sha256 of the video's bytes and of the
requested outputs, as in local bulk runs), so submitting an input again attaches to its run.
Uploads run on the queue of the host that holds the video, downloads on the queue of the host
chosen for the outputs, the API steps and the waiting on any worker; one budget workflow per
API key keeps the whole cluster under the plan's request limit. See docs/guides/distributed.md.

    DistributedBulk      submit inputs, stream `BulkResult`s
    run_worker           serve workflows and activities (`aio-move-ugc worker`)
    WorkerConfig         a worker's host name, queue, budget and limits
    ClusterBudget        the cluster-wide `RequestBudget`
    Timing               activity timeouts and retry pacing
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._activities import MoveUgcActivities, StepHook
    from ._budget import ClusterBudget, budget_id_for
    from ._budget_workflow import BudgetWorkflow
    from ._identity import workflow_id
    from ._poller import JobPoller
    from ._submit import DistributedBulk, Submission
    from ._types import DEFAULT_TASK_QUEUE, MARKER_KEY, TakeOutcome, Timing, host_queue
    from ._worker import WorkerConfig, run_worker
    from ._workflow import TakeWorkflow

_HOMES = {
    "MoveUgcActivities": "_activities",
    "StepHook": "_activities",
    "ClusterBudget": "_budget",
    "budget_id_for": "_budget",
    "BudgetWorkflow": "_budget_workflow",
    "workflow_id": "_identity",
    "JobPoller": "_poller",
    "DistributedBulk": "_submit",
    "Submission": "_submit",
    "DEFAULT_TASK_QUEUE": "_types",
    "MARKER_KEY": "_types",
    "TakeOutcome": "_types",
    "Timing": "_types",
    "host_queue": "_types",
    "WorkerConfig": "_worker",
    "run_worker": "_worker",
    "TakeWorkflow": "_workflow",
}


def __getattr__(name: str) -> Any:
    # Loaded on first use, so the command line can offer `worker` without Temporal installed
    # and explain what to install when it is missing.
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        import temporalio  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        from .._exceptions import ConfigurationError

        raise ConfigurationError(
            "aio_move_ugc.distributed needs Temporal, the temporal extra: "
            "pip install -e '.[temporal]' in a checkout of aio-move-ugc"
        ) from exc
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_TASK_QUEUE",
    "MARKER_KEY",
    "BudgetWorkflow",
    "ClusterBudget",
    "DistributedBulk",
    "JobPoller",
    "MoveUgcActivities",
    "StepHook",
    "Submission",
    "TakeOutcome",
    "TakeWorkflow",
    "Timing",
    "WorkerConfig",
    "budget_id_for",
    "host_queue",
    "run_worker",
    "workflow_id",
]
