"""The API's enums: no pydantic here, so modules needing only these stay cheap to import."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class CaseInsensitiveEnum(StrEnum):
    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str):
            wanted = value.strip().upper()
            for member in cls:
                if member.value == wanted:
                    return member
        return None


class OutputType(CaseInsensitiveEnum):
    """What a job can produce (the schema's `OutputType`)."""

    ALL_BLEND = "ALL_BLEND"
    ALL_BVH = "ALL_BVH"
    ALL_C3D = "ALL_C3D"
    ALL_FBX = "ALL_FBX"
    ALL_GLB = "ALL_GLB"
    ALL_USDC = "ALL_USDC"
    ALL_USDZ = "ALL_USDZ"
    MAIN_BLEND = "MAIN_BLEND"
    MAIN_FBX = "MAIN_FBX"
    MAIN_GLB = "MAIN_GLB"
    MAIN_USDC = "MAIN_USDC"
    MAIN_USDZ = "MAIN_USDZ"
    MOTION_DATA = "MOTION_DATA"
    RENDER_OVERLAY_VIDEO = "RENDER_OVERLAY_VIDEO"
    RENDER_VIDEO = "RENDER_VIDEO"
    SYNC_DATA = "SYNC_DATA"


class SourceFormat(CaseInsensitiveEnum):
    """Format of a take's source file."""

    AVI = "AVI"
    MOV = "MOV"
    MOVE = "MOVE"
    MP4 = "MP4"


class JobState(CaseInsensitiveEnum):
    """States a job or volume goes through. `CANCELLED` is checked by the service's own docs."""

    NOT_STARTED = "NOT_STARTED"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        """True for the states a job or volume never leaves: FINISHED, FAILED, CANCELLED."""
        return self in (JobState.FINISHED, JobState.FAILED, JobState.CANCELLED)


class SortDirection(CaseInsensitiveEnum):
    """The order of list calls, by creation time: `DESC` (newest first) or `ASC`."""

    ASC = "ASC"
    DESC = "DESC"


class AreaType(CaseInsensitiveEnum):
    """The size of the capture area a human volume calibrates (`NORMAL` or `LARGE`)."""

    NORMAL = "NORMAL"
    LARGE = "LARGE"


class MocapModel(CaseInsensitiveEnum):
    M1 = "M1"
    M2 = "M2"
    S1 = "S1"
    S2 = "S2"


class TakeType(CaseInsensitiveEnum):
    SINGLE_CAM = "SINGLE_CAM"
    MULTI_CAM = "MULTI_CAM"


VIDEO_FORMATS = frozenset({SourceFormat.MP4, SourceFormat.MOV, SourceFormat.AVI})
