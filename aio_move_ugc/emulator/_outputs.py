"""What a job's output holds: each OutputType as a file of its format (the default), or seeded
noise of a fixed size (`EmulatorConfig.output_size`, for benchmarks and transfer tests)."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._formats import blend, bvh, c3d, fbx, glb, motion_data, sync_data, usdz_package, zip_package
from ._motion import Motion, frame_count, motion
from ._usd import usda
from ._usdc import usdc
from ._video import mp4

OUTPUT_BLOCK = 64 * 1024


def output_content(job_id: str, output_type: str, size: int) -> Iterable[bytes]:
    """Deterministic bytes of one output: a readable header, then seeded noise, in 1 MiB chunks.

    The noise is one seeded 64 KiB block, repeated; each copy starts with its own offset, so
    no two 64 KiB stretches of an output are alike (a misplaced range still shows). Drawing
    every byte from the generator instead held the event loop for tens of milliseconds per
    MiB while an output was first handed out.
    """
    header = f"aio-move-ugc emulator output {output_type} of {job_id}\n".encode()
    rng = random.Random(f"{job_id}/{output_type}")
    head = header[:size]
    if head:
        yield head
    offset = len(head)
    tail = rng.randbytes(max(0, min(size - offset, OUTPUT_BLOCK) - 8))
    while offset < size:
        n = min(size - offset, 1 << 20)
        pieces: list[bytes] = []
        for start in range(offset, offset + n, OUTPUT_BLOCK):
            pieces += (start.to_bytes(8, "big"), tail)
        chunk = b"".join(pieces)
        yield chunk if len(chunk) == n else chunk[:n]
        offset += n


def _single(kind: str, m: Motion) -> bytes:
    """One actor's file of a packaged kind (the member of ALL_* zips and the MAIN_* file)."""
    if kind == "bvh":
        return bvh(m)
    if kind == "glb":
        return glb(m)
    if kind == "c3d":
        return c3d(m)
    if kind == "fbx":
        return fbx(m)
    if kind == "usdc":
        return usdc(m)
    if kind == "usdz":
        return usdz_package([("motion.usda", usda(m))])
    if kind == "blend":
        return blend()
    raise ValueError(f"no writer for {kind!r}")


_ALL_MEMBERS = {
    "ALL_BLEND": ("blend", "blend"),
    "ALL_BVH": ("bvh", "bvh"),
    "ALL_C3D": ("c3d", "c3d"),
    "ALL_FBX": ("fbx", "fbx"),
    "ALL_GLB": ("glb", "glb"),
    "ALL_USDC": ("usdc", "usdc"),
    "ALL_USDZ": ("usdz", "usdz"),
}
"""ALL_* output -> (writer, extension of each actor's file in the zip)."""

_MAIN = {
    "MAIN_BLEND": "blend",
    "MAIN_FBX": "fbx",
    "MAIN_GLB": "glb",
    "MAIN_USDC": "usdc",
    "MAIN_USDZ": "usdz",
}


def formatted_output(
    job_id: str,
    output_type: str,
    *,
    clip_window: Mapping[str, Any] | None = None,
    actors: int = 1,
    cameras: Sequence[str] = ("camera-0",),
) -> bytes:
    """The file of `output_type` for job `job_id`: the same arguments give the same bytes.

    Every output of a job carries one skeleton and one motion per actor (actor 0 in MAIN_*
    outputs and the videos), `frame_count(clip_window)` frames at `FRAME_RATE`.
    """
    frames = frame_count(clip_window)
    main = motion(job_id, frames)
    if output_type in _MAIN:
        return _single(_MAIN[output_type], main)
    if output_type in _ALL_MEMBERS:
        kind, extension = _ALL_MEMBERS[output_type]
        members = [
            (f"actor_{a}.{extension}", _single(kind, motion(job_id, frames, a)))
            for a in range(max(1, actors))
        ]
        return zip_package(members)
    if output_type == "MOTION_DATA":
        everyone = [motion(job_id, frames, a) for a in range(max(1, actors))]
        return motion_data(job_id, everyone)
    if output_type == "SYNC_DATA":
        return sync_data(job_id, main, cameras)
    if output_type in ("RENDER_VIDEO", "RENDER_OVERLAY_VIDEO"):
        return mp4(main, overlay=output_type == "RENDER_OVERLAY_VIDEO")
    raise ValueError(f"unknown output type {output_type!r}")
