"""USD layers of a motion: a UsdSkel skeleton and its animation, as usda text."""

from __future__ import annotations

from collections.abc import Iterable

from ._motion import JOINT_NAMES, OFFSETS, PARENTS, Motion, joint_paths, rest_world


def _matrix(t: tuple[float, float, float]) -> str:
    x, y, z = t
    return f"( (1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), ({x:.6g}, {y:.6g}, {z:.6g}, 1) )"


def _list(items: Iterable[str]) -> str:
    return "[" + ", ".join(items) + "]"


def usda(motion: Motion) -> bytes:
    """A usda layer: SkelRoot `/Character` holding Skeleton `Skeleton` (joints named by their
    path from Hips, rest and bind transforms) and SkelAnimation `Motion` (every joint's
    translation and rotation at every time code; time codes are frames, at the frame rate)."""
    paths = joint_paths()
    tokens = _list(f'"{p}"' for p in paths)
    rest = _list(_matrix(OFFSETS[j] if PARENTS[j] >= 0 else OFFSETS[0]) for j in range(len(paths)))
    bind = _list(_matrix(p) for p in rest_world())
    translations: list[str] = []
    rotations: list[str] = []
    for f in range(motion.frames):
        root = motion.root_positions[f]
        moved = [root] + [OFFSETS[j] for j in range(1, len(JOINT_NAMES))]
        translations.append(
            f"            {f}: " + _list(f"({x:.7g}, {y:.7g}, {z:.7g})" for x, y, z in moved) + ","
        )
        rotations.append(
            f"            {f}: "
            + _list(f"({w:.6g}, {x:.6g}, {y:.6g}, {z:.6g})" for x, y, z, w in motion.rotations[f])
            + ","
        )
    scales = _list("(1, 1, 1)" for _ in paths)
    lines = [
        "#usda 1.0",
        "(",
        '    defaultPrim = "Character"',
        "    metersPerUnit = 1",
        '    upAxis = "Y"',
        "    startTimeCode = 0",
        f"    endTimeCode = {motion.frames - 1}",
        f"    timeCodesPerSecond = {motion.frame_rate}",
        f"    framesPerSecond = {motion.frame_rate}",
        ")",
        "",
        'def SkelRoot "Character"',
        "{",
        '    def Skeleton "Skeleton" (',
        '        prepend apiSchemas = ["SkelBindingAPI"]',
        "    )",
        "    {",
        f"        uniform token[] joints = {tokens}",
        f"        uniform matrix4d[] bindTransforms = {bind}",
        f"        uniform matrix4d[] restTransforms = {rest}",
        "        rel skel:animationSource = </Character/Skeleton/Motion>",
        "",
        '        def SkelAnimation "Motion"',
        "        {",
        f"            uniform token[] joints = {tokens}",
        "            float3[] translations.timeSamples = {",
        *translations,
        "            }",
        "            quatf[] rotations.timeSamples = {",
        *rotations,
        "            }",
        f"            half3[] scales = {scales}",
        "        }",
        "    }",
        "}",
        "",
    ]
    return "\n".join(lines).encode()
