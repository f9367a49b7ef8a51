"""Typed models of the API's objects, the enums, and the inputs a user builds."""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports
from ._enums import (
    AreaType,
    JobState,
    MocapModel,
    OutputType,
    SortDirection,
    SourceFormat,
    TakeType,
)

if TYPE_CHECKING:
    from ._models import (
        AdditionalFile,
        CameraSettings,
        ClapWindow,
        Client,
        ClipWindow,
        File,
        HumanVolume,
        Job,
        JobInputs,
        JobOptions,
        JobProgress,
        MoveModel,
        Page,
        Rig,
        ShareCode,
        Source,
        SourceIn,
        SyncMethod,
        SyncMethodIn,
        Take,
        TimeCodeSync,
        WebhookEndpoint,
    )

__getattr__ = lazy_exports(
    __name__,
    dict.fromkeys(
        (
            "AdditionalFile",
            "CameraSettings",
            "ClapWindow",
            "Client",
            "ClipWindow",
            "File",
            "HumanVolume",
            "Job",
            "JobInputs",
            "JobOptions",
            "JobProgress",
            "MoveModel",
            "Page",
            "Rig",
            "ShareCode",
            "Source",
            "SourceIn",
            "SyncMethod",
            "SyncMethodIn",
            "Take",
            "TimeCodeSync",
            "WebhookEndpoint",
        ),
        "._models",
    ),
    globals(),
)
"""The models load on first use: building pydantic classes is most of what importing them
costs, and the enums alone need none of it."""

__all__ = [
    "AdditionalFile",
    "AreaType",
    "CameraSettings",
    "ClapWindow",
    "Client",
    "ClipWindow",
    "File",
    "HumanVolume",
    "Job",
    "JobInputs",
    "JobOptions",
    "JobProgress",
    "JobState",
    "MocapModel",
    "MoveModel",
    "OutputType",
    "Page",
    "Rig",
    "ShareCode",
    "SortDirection",
    "Source",
    "SourceFormat",
    "SourceIn",
    "SyncMethod",
    "SyncMethodIn",
    "Take",
    "TakeType",
    "TimeCodeSync",
    "WebhookEndpoint",
]
