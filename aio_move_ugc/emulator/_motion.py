"""The skeleton and the motion every generated output carries: one humanoid rig, a walk drawn
from the job's id, and its forward kinematics, computed once per job and actor.

Units are metres, Y is up and the character faces +Z. Each joint's local rotation is given as
Euler angles in degrees, applied Z then X then Y (BVH's `Zrotation Xrotation Yrotation`), and as
the equivalent quaternion (x, y, z, w) that the glTF, USD and FBX writers use.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FRAME_RATE = 30
"""Frames per second of every output."""
DEFAULT_DURATION = 2.0
"""Seconds of motion when the job has no clip window."""
MAX_FRAMES = 600
"""The longest motion (20 s at 30 fps): a long clip window must not make outputs huge."""

Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]

JOINTS: tuple[tuple[str, int, Vec3], ...] = (
    # (name, parent index or -1, offset from the parent in metres)
    ("Hips", -1, (0.0, 0.95, 0.0)),
    ("Spine", 0, (0.0, 0.10, 0.0)),
    ("Spine1", 1, (0.0, 0.15, 0.0)),
    ("Neck", 2, (0.0, 0.22, 0.0)),
    ("Head", 3, (0.0, 0.10, 0.02)),
    ("LeftShoulder", 2, (0.05, 0.18, 0.0)),
    ("LeftArm", 5, (0.13, 0.0, 0.0)),
    ("LeftForeArm", 6, (0.0, -0.28, 0.0)),
    ("LeftHand", 7, (0.0, -0.25, 0.0)),
    ("RightShoulder", 2, (-0.05, 0.18, 0.0)),
    ("RightArm", 9, (-0.13, 0.0, 0.0)),
    ("RightForeArm", 10, (0.0, -0.28, 0.0)),
    ("RightHand", 11, (0.0, -0.25, 0.0)),
    ("LeftUpLeg", 0, (0.09, -0.05, 0.0)),
    ("LeftLeg", 13, (0.0, -0.42, 0.0)),
    ("LeftFoot", 14, (0.0, -0.42, 0.0)),
    ("LeftToeBase", 15, (0.0, -0.05, 0.13)),
    ("RightUpLeg", 0, (-0.09, -0.05, 0.0)),
    ("RightLeg", 17, (0.0, -0.42, 0.0)),
    ("RightFoot", 18, (0.0, -0.42, 0.0)),
    ("RightToeBase", 19, (0.0, -0.05, 0.13)),
)
"""The rig: 21 joints, parents before children, Hips the root."""

JOINT_NAMES: tuple[str, ...] = tuple(name for name, _, _ in JOINTS)
PARENTS: tuple[int, ...] = tuple(parent for _, parent, _ in JOINTS)
OFFSETS: tuple[Vec3, ...] = tuple(offset for _, _, offset in JOINTS)


def children(index: int) -> list[int]:
    return [i for i, parent in enumerate(PARENTS) if parent == index]


def joint_paths() -> tuple[str, ...]:
    """Each joint as a path from the root ("Hips/Spine/Spine1"), as USD names joints."""
    paths: list[str] = []
    for name, parent, _ in JOINTS:
        paths.append(name if parent < 0 else f"{paths[parent]}/{name}")
    return tuple(paths)


def quat_mul(a: Quat, b: Quat) -> Quat:
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    )


def quat_rotate(q: Quat, v: Vec3) -> Vec3:
    x, y, z, w = q
    vx, vy, vz = v
    # v + 2w (q cross v) + 2 q cross (q cross v)
    cx, cy, cz = y * vz - z * vy, z * vx - x * vz, x * vy - y * vx
    cx, cy, cz = 2 * cx, 2 * cy, 2 * cz
    return (
        vx + w * cx + (y * cz - z * cy),
        vy + w * cy + (z * cx - x * cz),
        vz + w * cz + (x * cy - y * cx),
    )


def euler_zxy_quat(z: float, x: float, y: float) -> Quat:
    """The rotation of BVH's `Zrotation Xrotation Yrotation` channels (degrees): Rz·Rx·Ry."""
    hz, hx, hy = math.radians(z) / 2, math.radians(x) / 2, math.radians(y) / 2
    qz = (0.0, 0.0, math.sin(hz), math.cos(hz))
    qx = (math.sin(hx), 0.0, 0.0, math.cos(hx))
    qy = (0.0, math.sin(hy), 0.0, math.cos(hy))
    return quat_mul(quat_mul(qz, qx), qy)


@dataclass(frozen=True)
class Motion:
    """One actor's motion: per frame, the root's position and every joint's local rotation,
    plus the world positions forward kinematics gives."""

    frame_rate: int
    root_positions: tuple[Vec3, ...]
    euler: tuple[tuple[Vec3, ...], ...]
    """Per frame, per joint: (Z, X, Y) rotation in degrees."""
    rotations: tuple[tuple[Quat, ...], ...]
    """Per frame, per joint: local rotation quaternion (x, y, z, w)."""
    world: tuple[tuple[Vec3, ...], ...]
    """Per frame, per joint: world position in metres."""

    @property
    def frames(self) -> int:
        return len(self.root_positions)

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the one after the last (frames / rate)."""
        return self.frames / self.frame_rate

    def time(self, frame: int) -> float:
        return frame / self.frame_rate


def frame_count(clip_window: Mapping[str, Any] | None) -> int:
    """Frames of a job's motion: its clip window's length at `FRAME_RATE`, or
    `DEFAULT_DURATION` without one; at least 1, at most `MAX_FRAMES`."""
    duration = DEFAULT_DURATION
    if clip_window:
        duration = float(clip_window["endTime"]) - float(clip_window["startTime"])
    return max(1, min(MAX_FRAMES, round(duration * FRAME_RATE)))


# Swing of each animated joint: (joint, axis 0=Z 1=X 2=Y, amplitude in degrees, phase, bias,
# frequency multiple). A walk: legs swing in opposition, knees bend, arms counter-swing.
_SWINGS: tuple[tuple[str, int, float, float, float, int], ...] = (
    ("Hips", 2, 6.0, 0.0, 0.0, 1),
    ("Spine", 2, -4.0, 0.0, 0.0, 1),
    ("Spine1", 1, 2.0, 0.5, 3.0, 2),
    ("Neck", 2, 3.0, 0.0, 0.0, 1),
    ("Head", 1, 3.0, 1.0, -2.0, 2),
    ("LeftArm", 0, 3.0, 0.0, 8.0, 1),
    ("RightArm", 0, -3.0, 0.0, -8.0, 1),
    ("LeftArm", 1, 25.0, 0.0, 0.0, 1),
    ("RightArm", 1, -25.0, 0.0, 0.0, 1),
    ("LeftForeArm", 1, 10.0, 0.6, -20.0, 1),
    ("RightForeArm", 1, -10.0, 0.6, -20.0, 1),
    ("LeftUpLeg", 1, -28.0, 0.0, 0.0, 1),
    ("RightUpLeg", 1, 28.0, 0.0, 0.0, 1),
    ("LeftLeg", 1, 22.0, -1.2, 24.0, 1),
    ("RightLeg", 1, -22.0, -1.2, 24.0, 1),
    ("LeftFoot", 1, -10.0, 0.3, -5.0, 1),
    ("RightFoot", 1, 10.0, 0.3, -5.0, 1),
)


@functools.lru_cache(maxsize=64)
def motion(job_id: str, frames: int, actor: int = 0) -> Motion:
    """The walk of `actor` in job `job_id`: the same arguments give the same motion."""
    rng = random.Random(f"{job_id}/motion/{actor}")
    cadence = rng.uniform(0.8, 1.1)  # strides per second
    speed = rng.uniform(1.0, 1.4)  # metres per second
    scale = rng.uniform(0.8, 1.2)
    heading = rng.uniform(-15.0, 15.0)
    start_x = 0.5 * actor
    index = {name: i for i, name in enumerate(JOINT_NAMES)}
    swings = [
        (index[name], axis, amp * scale, phase + rng.uniform(-0.2, 0.2), bias, mult)
        for name, axis, amp, phase, bias, mult in _SWINGS
    ]
    omega = 2 * math.pi * cadence
    sin_h, cos_h = math.sin(math.radians(heading)), math.cos(math.radians(heading))
    roots: list[Vec3] = []
    eulers: list[tuple[Vec3, ...]] = []
    rotations: list[tuple[Quat, ...]] = []
    worlds: list[tuple[Vec3, ...]] = []
    for f in range(frames):
        t = f / FRAME_RATE
        angles = [[0.0, 0.0, 0.0] for _ in JOINTS]
        angles[0][2] = heading
        for joint, axis, amp, phase, bias, mult in swings:
            angles[joint][axis] += bias + amp * math.sin(mult * omega * t + phase)
        forward = speed * t
        root = (
            start_x + sin_h * forward,
            OFFSETS[0][1] + 0.02 * math.cos(2 * omega * t),
            cos_h * forward,
        )
        euler = tuple((a[0], a[1], a[2]) for a in angles)
        local = tuple(euler_zxy_quat(*e) for e in euler)
        world_rot: list[Quat] = []
        world_pos: list[Vec3] = []
        for j, parent in enumerate(PARENTS):
            if parent < 0:
                world_rot.append(local[j])
                world_pos.append(root)
                continue
            px, py, pz = world_pos[parent]
            ox, oy, oz = quat_rotate(world_rot[parent], OFFSETS[j])
            world_rot.append(quat_mul(world_rot[parent], local[j]))
            world_pos.append((px + ox, py + oy, pz + oz))
        roots.append(root)
        eulers.append(euler)
        rotations.append(local)
        worlds.append(tuple(world_pos))
    return Motion(
        frame_rate=FRAME_RATE,
        root_positions=tuple(roots),
        euler=tuple(eulers),
        rotations=tuple(rotations),
        world=tuple(worlds),
    )


def rest_world() -> tuple[Vec3, ...]:
    """World position of each joint in the rest pose (no rotation, root at its offset)."""
    positions: list[Vec3] = []
    for j, parent in enumerate(PARENTS):
        if parent < 0:
            positions.append(OFFSETS[j])
        else:
            px, py, pz = positions[parent]
            ox, oy, oz = OFFSETS[j]
            positions.append((px + ox, py + oy, pz + oz))
    return tuple(positions)
