"""What travels between the submitter, the workflows and the activities: plain dataclasses.

Temporal stores each of these (as JSON) in a workflow's history, so they hold only ids, paths,
sizes and names: never a secret, never a presigned URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._steps import MARKER_KEY

__all__ = ["DEFAULT_TASK_QUEUE", "MARKER_KEY"]

DEFAULT_TASK_QUEUE = "move-ugc"
"""Queue of the workflows and of the activities that only talk to the API."""


def host_queue(task_queue: str, host: str) -> str:
    """The queue of one host's transfers: uploads of the files it holds, downloads it receives."""
    return f"{task_queue}@{host}"


@dataclass(frozen=True)
class Timing:
    """Timeouts and retry pacing of the activities (seconds).

    A worker that dies is noticed when its activity misses a heartbeat (`heartbeat`) or, for
    the short API calls, when the call outlives `api_call`; the attempt is then retried, on
    another worker of the same queue when there is one.
    """

    heartbeat: float = 30.0
    api_call: float = 120.0
    transfer: float = 6 * 3600.0
    wait: float = 7 * 24 * 3600.0
    retry_initial: float = 1.0
    retry_max: float = 60.0
    api_attempts: int = 20
    """Attempts of each API step before the input is given up (0: no limit)."""
    lookup_window: float = 5.0
    """Seconds a create whose outcome is unknown is looked for before the attempt fails (list
    queries lag behind writes); the next attempt looks again before it creates."""


@dataclass(frozen=True)
class Previous:
    """What an earlier run of the same input left behind, reused by `retry_failed`."""

    file_id: str | None = None
    take_id: str | None = None
    failed_job_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TakeInput:
    """One input: a video on `host`, processed into outputs that land in `dest` on `dest_host`."""

    key: str
    """The input's identity (`_steps.identity`): its bytes and the outputs it asks for."""
    path: str
    size: int
    file_type: str
    host: str
    dest: str
    dest_host: str
    task_queue: str = DEFAULT_TASK_QUEUE
    device_label: str = "camera"
    name: str | None = None
    metadata: Any = None
    outputs: list[str] | None = None
    timing: Timing = field(default_factory=Timing)
    previous: Previous | None = None


@dataclass(frozen=True)
class UploadArgs:
    workflow_id: str
    path: str
    size: int
    file_type: str
    key: str
    not_before: float
    """Epoch seconds before which no record of this workflow can exist (lookups stop there)."""


@dataclass(frozen=True)
class CreateTakeArgs:
    workflow_id: str
    key: str
    file_id: str
    file_type: str
    device_label: str
    name: str | None
    metadata: Any
    not_before: float
    lookup_window: float = 5.0


@dataclass(frozen=True)
class CreateJobArgs:
    workflow_id: str
    key: str
    take_id: str
    outputs: list[str] | None
    name: str | None
    metadata: Any
    exclude: list[str] = field(default_factory=list)
    """Jobs of the take that belong to an earlier, failed run."""
    lookup_window: float = 5.0


@dataclass(frozen=True)
class JobEnd:
    """How a job ended: FINISHED with outputs ready, or not (`reason` says how)."""

    job_id: str
    finished: bool
    state: str
    reason: str | None = None


@dataclass(frozen=True)
class DownloadArgs:
    job_id: str
    dest: str
    outputs: list[str] | None


@dataclass(frozen=True)
class TakeOutcome:
    """What became of one input: the result of its workflow."""

    key: str
    ok: bool
    file_id: str | None = None
    take_id: str | None = None
    job_id: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    job_failed: bool = False
