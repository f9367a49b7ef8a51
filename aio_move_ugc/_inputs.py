"""Checks of the inputs users build from models (sources, clip windows, options, sync
methods), as the API would make them, before anything is sent. Apart from `_validation`
because these need the pydantic models, which plain value checks do not."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from ._exceptions import InvalidInputError
from ._validation import identifier
from .types._enums import VIDEO_FORMATS, SourceFormat
from .types._models import ClipWindow, JobOptions, SourceIn, SyncMethodIn


def unknown_fields(value: BaseModel, where: str = "") -> list[str]:
    """Fields the schema's input type lacks (the models keep unknown keys of answers)."""
    found = [f"{where}{name}" for name in value.model_extra or {}]
    for name in type(value).model_fields:
        child = getattr(value, name)
        if isinstance(child, BaseModel) and not isinstance(child, JobOptions):
            found += unknown_fields(child, f"{where}{name}.")
    return found


def checked_model(cls: type[Any], value: Any, what: str) -> Any:
    """`value` as an instance of the input model `cls`; unknown fields refused."""
    if isinstance(value, cls):
        parsed = value
    else:
        try:
            parsed = cls.model_validate(value)
        except PydanticValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InvalidInputError(f"invalid {what}: {where}: {first['msg']}") from None
    # JobOptions passes unknown keys through on purpose (options newer than this SDK).
    unknown = [] if isinstance(parsed, JobOptions) else unknown_fields(parsed)
    if unknown:
        raise InvalidInputError(f"invalid {what}: unknown field(s) {', '.join(unknown)}")
    return parsed


def sources(values: Sequence[SourceIn | dict[str, Any]], *, multicam: bool) -> list[dict[str, Any]]:
    """Sources as variables, after the checks the API would make."""
    if isinstance(values, str | bytes) or not values:
        raise InvalidInputError("sources must be a non-empty list of SourceIn")
    parsed: list[SourceIn] = [checked_model(SourceIn, v, "source") for v in values]
    for src in parsed:
        identifier(src.file_id, "file", "source file")
    videos = [s for s in parsed if s.format in VIDEO_FORMATS]
    if multicam:
        if len(videos) < 2:
            raise InvalidInputError("a multicam take or volume needs at least two video sources")
        if any(s.camera_settings is None for s in parsed):
            raise InvalidInputError("every multicam source needs camera_settings (a lens)")
    else:
        if len(videos) != 1:
            raise InvalidInputError(
                "a singlecam take needs exactly one video source "
                f"({', '.join(sorted(f.value for f in VIDEO_FORMATS))}), got {len(videos)}"
            )
        moves = [s for s in parsed if s.format == SourceFormat.MOVE]
        if len(moves) > 1 or any(m.device_label != videos[0].device_label for m in moves):
            raise InvalidInputError(
                "a singlecam take takes at most one MOVE source, with the video's device_label"
            )
    return [s.model_dump(by_alias=True, mode="json", exclude_none=True) for s in parsed]


def clip_window(value: ClipWindow | dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    window: ClipWindow = checked_model(ClipWindow, value, "clip_window")
    if not (math.isfinite(window.start_time) and math.isfinite(window.end_time)):
        raise InvalidInputError("clip_window times must be finite numbers")
    if not 0 <= window.start_time < window.end_time:
        raise InvalidInputError("clip_window needs 0 <= start_time < end_time")
    return window.model_dump(by_alias=True)


def options(value: JobOptions | dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    opts: JobOptions = checked_model(JobOptions, value, "options")
    return opts.model_dump(by_alias=True, mode="json", exclude_none=True) or None


def sync_method(value: SyncMethodIn | dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    method: SyncMethodIn = checked_model(SyncMethodIn, value, "sync_method")
    return method.model_dump(by_alias=True, mode="json", exclude_none=True)
