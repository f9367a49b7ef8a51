"""Typed events that `watch`, `watch_many` and the webhook receiver yield (a tagged union)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from ._enums import JobState
from ._models import AdditionalFile, HumanVolume, Job, MoveModel


def _now() -> datetime:
    return datetime.now(UTC)


class _JobEvent(MoveModel):
    job_id: str
    at: AwareDatetime = Field(default_factory=_now)
    """When the SDK observed the change (polling) or the service sent it (webhooks)."""
    job: Job | None = None
    """The job as last seen (None when the event came from a webhook with no job body)."""
    source: Literal["poll", "webhook"] = "poll"


class JobStateChanged(_JobEvent):
    """A job's state changed (`previous` to `state`)."""

    kind: Literal["state_changed"] = "state_changed"
    previous: JobState | str | None = None
    state: JobState | str


class JobProgressed(_JobEvent):
    """`percentageComplete` moved (only polling can see this; webhooks carry no progress)."""

    kind: Literal["progress"] = "progress"
    percentage: int


class JobFinished(_JobEvent):
    """A job reached FINISHED (its outputs may still be getting their URLs)."""

    kind: Literal["finished"] = "finished"


class OutputsReady(_JobEvent):
    """Every output of a FINISHED job has a download URL."""

    kind: Literal["outputs_ready"] = "outputs_ready"
    outputs: list[AdditionalFile]


class JobFailed(_JobEvent):
    """A job ended FAILED or CANCELLED; it leaves the watch."""

    kind: Literal["failed"] = "failed"
    state: JobState | str = JobState.FAILED
    reason: str | None = None
    """What the API said about the failure, when it said anything."""


class JobNotFound(_JobEvent):
    """The job does not exist (or not for this API key); it is dropped from the watch."""

    kind: Literal["not_found"] = "not_found"


class VolumeStateChanged(MoveModel):
    """A human volume's state changed (`previous` to `state`)."""

    kind: Literal["volume_state_changed"] = "volume_state_changed"
    volume_id: str
    previous: JobState | str | None = None
    state: JobState | str
    at: AwareDatetime = Field(default_factory=_now)
    volume: HumanVolume | None = None


JobEvent = Annotated[
    JobStateChanged | JobProgressed | JobFinished | OutputsReady | JobFailed | JobNotFound,
    Field(discriminator="kind"),
]
"""Any event about a job."""
