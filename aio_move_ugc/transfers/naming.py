"""File names for downloaded outputs, built only from values we control."""

from __future__ import annotations

import re

from .._exceptions import InvalidInputError
from ..types._models import OutputType

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

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


def output_filename(job_id: str, output_type: OutputType) -> str:
    """`<job id>_<output type>.<suffix>`, e.g. `job-1f..._main_fbx.fbx`; never a server string."""
    if not _SAFE_ID.match(job_id):
        raise InvalidInputError("job id holds characters that do not belong in a file name")
    return f"{job_id}_{output_type.value.lower()}{OUTPUT_SUFFIXES[output_type]}"
