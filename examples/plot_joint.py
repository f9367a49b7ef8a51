"""Plot one joint's path from a job's GLB: upload, job, download MAIN_GLB, read it, plot.

    python examples/plot_joint.py dance.mp4 --joint LeftFoot -o left_foot.png

The GLB is read with the standard library alone (its JSON chunk and binary chunk): the node
hierarchy, the animation's translation and rotation channels, and forward kinematics to get
the joint's world position at every key. matplotlib draws the height and the forward distance
over time. The client reads MOVE_UGC_API_KEY and MOVE_UGC_ENDPOINT_URL; without an endpoint the
script starts the embedded emulator, whose GLB carries a 21-joint walk.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import struct
import sys
from array import array
from pathlib import Path
from typing import Any

from aio_move_ugc import AsyncMoveUgc, MoveUgcError, OutputType, SourceFormat, SourceIn
from aio_move_ugc.emulator import Emulator, EmulatorConfig

Vec = tuple[float, float, float]
Quat = tuple[float, float, float, float]
COMPONENTS = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}


def read_glb(data: bytes) -> tuple[dict[str, Any], bytes]:
    """The JSON document and the binary chunk of a GLB."""
    magic, version, _ = struct.unpack_from("<4sII", data)
    if magic != b"glTF" or version != 2:
        raise ValueError("not a glTF 2.0 binary")
    json_len, _ = struct.unpack_from("<I4s", data, 12)
    document = json.loads(data[20 : 20 + json_len])
    return document, data[28 + json_len :]


def floats(document: dict[str, Any], binary: bytes, index: int) -> list[tuple[float, ...]]:
    """A float accessor's elements."""
    accessor = document["accessors"][index]
    view = document["bufferViews"][accessor["bufferView"]]
    width = COMPONENTS[accessor["type"]]
    start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    values = array("f", binary[start : start + 4 * width * accessor["count"]])
    return [tuple(values[i : i + width]) for i in range(0, len(values), width)]


def rotate(q: Quat, v: Vec) -> Vec:
    x, y, z, w = q
    cx, cy, cz = 2 * (y * v[2] - z * v[1]), 2 * (z * v[0] - x * v[2]), 2 * (x * v[1] - y * v[0])
    return (
        v[0] + w * cx + y * cz - z * cy,
        v[1] + w * cy + z * cx - x * cz,
        v[2] + w * cz + x * cy - y * cx,
    )


def multiply(a: Quat, b: Quat) -> Quat:
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    )


def joint_path(data: bytes, joint: str) -> tuple[list[float], list[Vec]]:
    """Key times and the world position of node `joint` at each, from the first animation."""
    document, binary = read_glb(data)
    nodes = document["nodes"]
    names = [node.get("name") for node in nodes]
    if joint not in names:
        raise SystemExit(f"no node {joint!r}; nodes: {', '.join(n for n in names if n)}")
    parent = {kid: i for i, node in enumerate(nodes) for kid in node.get("children", [])}
    animation = document["animations"][0]
    times = [t[0] for t in floats(document, binary, animation["samplers"][0]["input"])]
    tracks: dict[tuple[int, str], list[tuple[float, ...]]] = {}
    for channel in animation["channels"]:
        sampler = animation["samplers"][channel["sampler"]]
        target = channel["target"]
        tracks[target["node"], target["path"]] = floats(document, binary, sampler["output"])

    def world(index: int, frame: int) -> tuple[Vec, Quat]:
        node = nodes[index]
        t = tracks.get((index, "translation"), [tuple(node.get("translation", (0, 0, 0)))])
        r = tracks.get((index, "rotation"), [tuple(node.get("rotation", (0, 0, 0, 1)))])
        local_t: Vec = t[min(frame, len(t) - 1)]  # type: ignore[assignment]
        local_r: Quat = r[min(frame, len(r) - 1)]  # type: ignore[assignment]
        if index not in parent:
            return local_t, local_r
        parent_t, parent_r = world(parent[index], frame)
        offset = rotate(parent_r, local_t)
        position = (parent_t[0] + offset[0], parent_t[1] + offset[1], parent_t[2] + offset[2])
        return position, multiply(parent_r, local_r)

    target = names.index(joint)
    return times, [world(target, frame)[0] for frame in range(len(times))]


def plot(times: list[float], path: list[Vec], joint: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (height, ground) = plt.subplots(1, 2, figsize=(10, 4))
    height.plot(times, [p[1] for p in path])
    height.set(title=f"{joint}: height", xlabel="time (s)", ylabel="y (m)")
    ground.plot([p[0] for p in path], [p[2] for p in path])
    ground.set(title=f"{joint}: path on the ground", xlabel="x (m)", ylabel="z (m)")
    ground.set_aspect("equal", adjustable="datalim")
    figure.tight_layout()
    figure.savefig(out, dpi=80)
    plt.close(figure)


async def fetch_glb(ugc: AsyncMoveUgc, video: Path, out_dir: Path) -> Path:
    file = await ugc.files.upload(video)
    take = await ugc.takes.create_singlecam(
        [SourceIn(device_label="camera", file_id=file.id, format=SourceFormat(file.type or "MP4"))]
    )
    job = await ugc.jobs.create_singlecam(take.id, outputs=[OutputType.MAIN_GLB])
    print(f"job {job.id}: waiting for its GLB")
    paths = await ugc.jobs.download_outputs(job.id, out_dir, timeout=600)
    return paths[OutputType.MAIN_GLB]


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("--joint", default="LeftFoot")
    parser.add_argument("-o", "--output", type=Path, default=Path("joint.png"))
    args = parser.parse_args(argv)
    async with contextlib.AsyncExitStack() as stack:
        if not os.environ.get("MOVE_UGC_ENDPOINT_URL"):
            print("no MOVE_UGC_ENDPOINT_URL: using the embedded emulator")
            config = EmulatorConfig(job_queue_delay=0.1, job_duration=0.5, output_lag=0.1)
            emulator = await stack.enter_async_context(Emulator(config))
            os.environ.update(emulator.environment())
        ugc = await stack.enter_async_context(AsyncMoveUgc())
        try:
            glb = await fetch_glb(ugc, args.video, args.output.parent / "outputs")
        except MoveUgcError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    times, path = joint_path(glb.read_bytes(), args.joint)
    plot(times, path, args.joint, args.output)
    heights = [p[1] for p in path]
    print(
        f"{args.joint}: {len(times)} keys over {times[-1] - times[0]:.2f} s, "
        f"height {min(heights):.3f}..{max(heights):.3f} m; plotted to {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
