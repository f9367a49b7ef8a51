"""File names for downloads: every string from the server that becomes part of a path goes
through `safe_name` (or is refused), so no answer can write outside the chosen directory."""

from __future__ import annotations

import re

from .._exceptions import InvalidInputError
from ..types._enums import OutputType

OUTPUT_SUFFIXES: dict[OutputType, str] = {
    OutputType.ALL_BLEND: ".blend.zip",
    OutputType.ALL_BVH: ".bvh.zip",
    OutputType.ALL_C3D: ".c3d.zip",
    OutputType.ALL_FBX: ".fbx.zip",
    OutputType.ALL_GLB: ".glb.zip",
    OutputType.ALL_USDC: ".usdc.zip",
    OutputType.ALL_USDZ: ".usdz.zip",
    OutputType.MAIN_BLEND: ".blend",
    OutputType.MAIN_FBX: ".fbx",
    OutputType.MAIN_GLB: ".glb",
    OutputType.MAIN_USDC: ".usdc",
    OutputType.MAIN_USDZ: ".usdz",
    OutputType.MOTION_DATA: ".json",
    OutputType.RENDER_OVERLAY_VIDEO: ".mp4",
    OutputType.RENDER_VIDEO: ".mp4",
    OutputType.SYNC_DATA: ".json",
}

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_SAFE_SUFFIX = re.compile(r"^[a-z0-9]{1,10}$")


def safe_name(value: object, what: str) -> str:
    """`value` when it is fit to be (part of) a file name: letters, digits, `_` and `-`, at
    most 128 characters, not starting with a separator; anything else is refused."""
    if not isinstance(value, str) or not _SAFE_NAME.match(value):
        raise InvalidInputError(f"the {what} holds characters that do not belong in a file name")
    return value


def safe_suffix(value: object, what: str) -> str:
    """A file type such as `mp4` as a suffix (lower case letters and digits only)."""
    text = value.lower() if isinstance(value, str) else ""
    if not _SAFE_SUFFIX.match(text):
        raise InvalidInputError(f"the {what} is not a usable file suffix")
    return text


def output_filename(job_id: str, output_type: OutputType) -> str:
    """`<job id>_<output type>.<suffix>`, e.g. `job-1f..._main_fbx.fbx`."""
    name = safe_name(job_id, "job id")
    return f"{name}_{output_type.value.lower()}{OUTPUT_SUFFIXES[output_type]}"


def label_filename(job_id: str, label: str, file_type: str | None) -> str:
    """`<job id>_<label>.<file type>` for an output whose type could not be told, e.g.
    `job-1f..._bvh.bvh`; the label and the type go through `safe_name`/`safe_suffix`, and an
    unusable file type gives no suffix."""
    name = safe_name(job_id, "job id")
    stem = safe_name(label, "output label")
    try:
        suffix = "." + safe_suffix(file_type, "output file type")
    except InvalidInputError:
        suffix = ""
    return f"{name}_{stem.lower()}{suffix}"


def file_filename(file_id: str, file_type: str | None) -> str:
    """`<file id>.<type>`, e.g. `file-1f....mp4`, for a file downloaded into a directory."""
    return f"{safe_name(file_id, 'file id')}.{safe_suffix(file_type, 'file type')}"
