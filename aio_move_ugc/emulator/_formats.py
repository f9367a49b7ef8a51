"""Writers of the emulator's outputs as files of their real formats (BVH, glTF binary, C3D, FBX,
JSON, zip packages, a BLEND placeholder), all from one `Motion`.

Every writer is deterministic: the same motion gives the same bytes (zip entries carry a fixed
date). What each format carries is listed in docs/guides/outputs.md.
"""

from __future__ import annotations

import json
import math
import struct
import zipfile
import zlib
from array import array
from collections.abc import Iterable, Sequence
from io import BytesIO
from typing import Any, TypeAlias

from ._motion import (
    JOINT_NAMES,
    OFFSETS,
    PARENTS,
    Motion,
    Quat,
    children,
    rest_world,
)

MOTION_SCHEMA = "aio-move-ugc/motion-data/1"
SYNC_SCHEMA = "aio-move-ugc/sync-data/1"
ZIP_DATE = (2024, 1, 1, 0, 0, 0)
"""The date of every zip entry, so a package's bytes depend on its contents only."""


def _floats(values: Iterable[float]) -> bytes:
    return array("f", values).tobytes()


# --------------------------------------------------------------------------------- BVH
def bvh(motion: Motion) -> bytes:
    """Biovision hierarchy in centimetres; the root has six channels, every other joint three
    (Zrotation Xrotation Yrotation); one End Site under each leaf."""
    lines = ["HIERARCHY"]
    order: list[int] = []

    def emit(j: int, depth: int) -> None:
        pad = "\t" * depth
        ox, oy, oz = (0.0, 0.0, 0.0) if PARENTS[j] < 0 else OFFSETS[j]
        kind = "ROOT" if PARENTS[j] < 0 else "JOINT"
        lines.append(f"{pad}{kind} {JOINT_NAMES[j]}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}\tOFFSET {ox * 100:.4f} {oy * 100:.4f} {oz * 100:.4f}")
        if PARENTS[j] < 0:
            lines.append(
                f"{pad}\tCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"
            )
        else:
            lines.append(f"{pad}\tCHANNELS 3 Zrotation Xrotation Yrotation")
        order.append(j)
        kids = children(j)
        for kid in kids:
            emit(kid, depth + 1)
        if not kids:
            ex, ey, ez = (0.3 * c * 100 for c in OFFSETS[j])
            lines.extend(
                [
                    f"{pad}\tEnd Site",
                    f"{pad}\t{{",
                    f"{pad}\t\tOFFSET {ex:.4f} {ey:.4f} {ez:.4f}",
                    f"{pad}\t}}",
                ]
            )
        lines.append(f"{pad}}}")

    emit(0, 0)
    lines += ["MOTION", f"Frames: {motion.frames}", f"Frame Time: {1 / motion.frame_rate:.8f}"]
    for f in range(motion.frames):
        rx, ry, rz = motion.root_positions[f]
        values = [rx * 100, ry * 100, rz * 100]
        euler = motion.euler[f]
        for j in order:
            values += euler[j]
        lines.append(" ".join(f"{v:.4f}" for v in values))
    return ("\n".join(lines) + "\n").encode()


# --------------------------------------------------------------------------------- glTF
class _GlbBuffer:
    """The binary chunk of a GLB and the bufferViews and accessors that point into it."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.views: list[dict[str, Any]] = []
        self.accessors: list[dict[str, Any]] = []

    def add(
        self,
        payload: bytes,
        *,
        count: int,
        kind: str,
        component: int = 5126,
        target: int | None = None,
        bounds: tuple[list[float], list[float]] | None = None,
    ) -> int:
        self.data += b"\x00" * (-len(self.data) % 4)
        view: dict[str, Any] = {
            "buffer": 0,
            "byteOffset": len(self.data),
            "byteLength": len(payload),
        }
        if target is not None:
            view["target"] = target
        self.data += payload
        self.views.append(view)
        accessor: dict[str, Any] = {
            "bufferView": len(self.views) - 1,
            "componentType": component,
            "count": count,
            "type": kind,
        }
        if bounds is not None:
            accessor["min"], accessor["max"] = bounds
        self.accessors.append(accessor)
        return len(self.accessors) - 1


def glb(motion: Motion) -> bytes:
    """glTF 2.0 binary: one node per joint, a skin over them, a points mesh bound to the skin
    (one vertex per joint, fully weighted to it) and one animation (every joint's rotation, the
    root's translation), in metres."""
    buf = _GlbBuffer()
    count = len(JOINT_NAMES)
    rest = rest_world()
    frames = motion.frames
    times = [motion.time(f) for f in range(frames)]
    t_in = buf.add(_floats(times), count=frames, kind="SCALAR", bounds=([times[0]], [times[-1]]))
    positions = [c for p in rest for c in p]
    lows = [min(p[i] for p in rest) for i in range(3)]
    highs = [max(p[i] for p in rest) for i in range(3)]
    pos = buf.add(_floats(positions), count=count, kind="VEC3", target=34962, bounds=(lows, highs))
    joints = buf.add(
        bytes(b for j in range(count) for b in (j, 0, 0, 0)),
        count=count,
        kind="VEC4",
        component=5121,
        target=34962,
    )
    weights = buf.add(_floats([1.0, 0.0, 0.0, 0.0] * count), count=count, kind="VEC4", target=34962)
    inverse_bind = buf.add(
        _floats(
            v
            for x, y, z in rest
            for v in (1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, -x, -y, -z, 1)  # column-major
        ),
        count=count,
        kind="MAT4",
    )
    samplers: list[dict[str, Any]] = []
    channels: list[dict[str, Any]] = []
    root_out = buf.add(
        _floats(c for p in motion.root_positions for c in p), count=frames, kind="VEC3"
    )
    samplers.append({"input": t_in, "output": root_out, "interpolation": "LINEAR"})
    channels.append({"sampler": 0, "target": {"node": 0, "path": "translation"}})
    for j in range(count):
        out = buf.add(
            _floats(c for f in range(frames) for c in motion.rotations[f][j]),
            count=frames,
            kind="VEC4",
        )
        samplers.append({"input": t_in, "output": out, "interpolation": "LINEAR"})
        channels.append({"sampler": len(samplers) - 1, "target": {"node": j, "path": "rotation"}})
    nodes: list[dict[str, Any]] = []
    for j, name in enumerate(JOINT_NAMES):
        node: dict[str, Any] = {"name": name, "translation": list(OFFSETS[j])}
        kids = children(j)
        if kids:
            node["children"] = kids
        nodes.append(node)
    nodes.append({"name": "Body", "mesh": 0, "skin": 0})
    document = {
        "asset": {"version": "2.0", "generator": "aio-move-ugc emulator"},
        "scene": 0,
        "scenes": [{"name": "Scene", "nodes": [0, count]}],
        "nodes": nodes,
        "skins": [
            {
                "name": "Skeleton",
                "joints": list(range(count)),
                "skeleton": 0,
                "inverseBindMatrices": inverse_bind,
            }
        ],
        "meshes": [
            {
                "name": "Joints",
                "primitives": [
                    {
                        "attributes": {"POSITION": pos, "JOINTS_0": joints, "WEIGHTS_0": weights},
                        "mode": 0,
                    }
                ],
            }
        ],
        "animations": [{"name": "Take", "samplers": samplers, "channels": channels}],
        "buffers": [{"byteLength": len(buf.data) + (-len(buf.data) % 4)}],
        "bufferViews": buf.views,
        "accessors": buf.accessors,
    }
    text = json.dumps(document, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    binary = bytes(buf.data) + b"\x00" * (-len(buf.data) % 4)
    total = 12 + 8 + len(text) + 8 + len(binary)
    return b"".join(
        (
            struct.pack("<4sII", b"glTF", 2, total),
            struct.pack("<I4s", len(text), b"JSON"),
            text,
            struct.pack("<I4s", len(binary), b"BIN\x00"),
            binary,
        )
    )


# --------------------------------------------------------------------------------- JSON
def _round(values: Iterable[float], digits: int = 5) -> list[float]:
    return [round(v, digits) for v in values]


def motion_data(job_id: str, motions: Sequence[Motion]) -> bytes:
    """MOTION_DATA: the skeleton and, per actor, every frame's root position, local rotations
    and world positions (schema in docs/guides/outputs.md)."""
    first = motions[0]
    document = {
        "schema": MOTION_SCHEMA,
        "jobId": job_id,
        "units": "m",
        "upAxis": "Y",
        "frameRate": first.frame_rate,
        "frameCount": first.frames,
        "duration": first.duration,
        "joints": [
            {
                "name": name,
                "parent": JOINT_NAMES[PARENTS[j]] if PARENTS[j] >= 0 else None,
                "offset": list(OFFSETS[j]),
            }
            for j, name in enumerate(JOINT_NAMES)
        ],
        "actors": [
            {
                "actor": index,
                "rootPositions": [_round(p) for p in m.root_positions],
                "rotations": [[_round(q) for q in frame] for frame in m.rotations],
                "positions": [[_round(p) for p in frame] for frame in m.world],
            }
            for index, m in enumerate(motions)
        ],
    }
    return json.dumps(document, separators=(",", ":")).encode()


def sync_data(job_id: str, motion: Motion, cameras: Sequence[str]) -> bytes:
    """SYNC_DATA: each camera's offset from the first and the time of every output frame."""
    document = {
        "schema": SYNC_SCHEMA,
        "jobId": job_id,
        "frameRate": motion.frame_rate,
        "frameCount": motion.frames,
        "duration": motion.duration,
        "cameras": [
            {
                "deviceLabel": label,
                "offsetFrames": i,
                "offsetSeconds": round(i / motion.frame_rate, 6),
            }
            for i, label in enumerate(cameras)
        ],
        "frameTimes": [round(motion.time(f), 6) for f in range(motion.frames)],
    }
    return json.dumps(document, separators=(",", ":")).encode()


# --------------------------------------------------------------------------------- C3D
def _c3d_param(group: int, name: str, kind: int, dims: Sequence[int], data: bytes) -> bytes:
    desc = b""
    body = struct.pack("<bB", kind, len(dims)) + bytes(dims) + data + bytes([len(desc)]) + desc
    head = struct.pack("<bb", len(name), group) + name.encode()
    return head + struct.pack("<h", 2 + len(body)) + body


def _c3d_group(group: int, name: str) -> bytes:
    body = b"\x00"  # no description
    head = struct.pack("<bb", len(name), -group) + name.encode()
    return head + struct.pack("<h", 2 + len(body)) + body


def c3d(motion: Motion) -> bytes:
    """C3D (Intel byte order, float storage): one marker per joint, named after it, at the
    joint's world position in millimetres; no analog channels."""
    markers = len(JOINT_NAMES)
    frames = motion.frames
    width = max(len(n) for n in JOINT_NAMES)
    labels = b"".join(n.encode().ljust(width) for n in JOINT_NAMES)
    rate = float(motion.frame_rate)
    params = [
        _c3d_group(1, "POINT"),
        _c3d_param(1, "USED", 2, (), struct.pack("<h", markers)),
        _c3d_param(1, "FRAMES", 2, (), struct.pack("<h", frames)),
        _c3d_param(1, "SCALE", 4, (), struct.pack("<f", -1.0)),
        _c3d_param(1, "RATE", 4, (), struct.pack("<f", rate)),
        _c3d_param(1, "DATA_START", 2, (), struct.pack("<h", 0)),  # patched below
        _c3d_param(1, "UNITS", -1, (2,), b"mm"),
        _c3d_param(1, "LABELS", -1, (width, markers), labels),
        _c3d_param(1, "DESCRIPTIONS", -1, (1, markers), b" " * markers),
        _c3d_group(2, "ANALOG"),
        _c3d_param(2, "USED", 2, (), struct.pack("<h", 0)),
        _c3d_param(2, "RATE", 4, (), struct.pack("<f", 0.0)),
        _c3d_param(2, "GEN_SCALE", 4, (), struct.pack("<f", 1.0)),
    ]
    # The last parameter's offset is zero: readers stop there.
    last = bytearray(params[-1])
    name_len = last[0]
    struct.pack_into("<h", last, 2 + name_len, 0)
    params[-1] = bytes(last)
    section = b"".join(params)
    blocks = (4 + len(section) + 511) // 512
    data_start = 2 + blocks
    section = section.replace(
        _c3d_param(1, "DATA_START", 2, (), struct.pack("<h", 0)),
        _c3d_param(1, "DATA_START", 2, (), struct.pack("<h", data_start)),
    )
    parameter_block = struct.pack("<BBBB", 1, 0x50, blocks, 84) + section
    parameter_block += b"\x00" * (blocks * 512 - len(parameter_block))
    header = struct.pack(
        "<BBHHHHHfHHf", 2, 0x50, markers, 0, 1, frames, 0, -1.0, data_start, 0, rate
    )
    header += b"\x00" * (512 - len(header))
    samples = array("f")
    for frame in motion.world:
        for x, y, z in frame:
            samples.extend((x * 1000, y * 1000, z * 1000, 0.0))
    return header + parameter_block + samples.tobytes()


# --------------------------------------------------------------------------------- FBX
FBX_VERSION = 7400
FBX_MAGIC = b"Kaydara FBX Binary  \x00\x1a\x00"
FBX_FOOTER_ID = bytes.fromhex("fabcab09d0c8d466b176fb831cf7267e")
FBX_FOOTER_END = bytes.fromhex("f85a8c6adef5d97eece90ce3758f290b")
KTIME_PER_SECOND = 46_186_158_000
"""FBX's time unit: ticks of one second."""

FbxValue: TypeAlias = "bool | int | float | str | bytes | array[Any]"
FbxNode = tuple[str, Sequence[FbxValue], Sequence["FbxNode"]]


class _Int16(int):
    """An FBX `Y` (16-bit) property."""


class _Int64(int):
    """An FBX `L` (64-bit) property; plain ints are written as `I` (32-bit)."""


def _fbx_property(value: FbxValue) -> bytes:
    if isinstance(value, bool):
        return b"C" + struct.pack("<?", value)
    if isinstance(value, _Int16):
        return b"Y" + struct.pack("<h", value)
    if isinstance(value, _Int64):
        return b"L" + struct.pack("<q", value)
    if isinstance(value, int):
        return b"I" + struct.pack("<i", value)
    if isinstance(value, float):
        return b"D" + struct.pack("<d", value)
    if isinstance(value, str):
        raw = value.encode()
        return b"S" + struct.pack("<I", len(raw)) + raw
    if isinstance(value, bytes):
        return b"R" + struct.pack("<I", len(value)) + value
    code = {"f": b"f", "d": b"d", "q": b"l", "i": b"i"}[value.typecode]
    raw = value.tobytes()
    return code + struct.pack("<III", len(value), 0, len(raw))


def _fbx_array_payload(value: FbxValue) -> bytes:
    return value.tobytes() if isinstance(value, array) else b""


def _fbx_node(out: bytearray, node: FbxNode) -> None:
    name, props, kids = node
    start = len(out)
    encoded = b"".join(_fbx_property(p) + _fbx_array_payload(p) for p in props)
    out += struct.pack("<III", 0, len(props), len(encoded))
    out += bytes([len(name)]) + name.encode() + encoded
    for kid in kids:
        _fbx_node(out, kid)
    if kids or not props:
        out += b"\x00" * 13
    struct.pack_into("<I", out, start, len(out))


def _p(name: str, kind: str, flags: str, *values: FbxValue) -> FbxNode:
    return ("P", (name, kind, "", flags, *values), ())


def _euler_xyz(q: Quat) -> tuple[float, float, float]:
    """Degrees about X, Y, Z of FBX's default order (X applied first: R = Rz·Ry·Rx)."""
    x, y, z, w = q
    m20 = 2 * (x * z - w * y)
    m21 = 2 * (y * z + w * x)
    m22 = 1 - 2 * (x * x + y * y)
    m10 = 2 * (x * y + w * z)
    m00 = 1 - 2 * (y * y + z * z)
    ry = math.asin(max(-1.0, min(1.0, -m20)))
    return (
        math.degrees(math.atan2(m21, m22)),
        math.degrees(ry),
        math.degrees(math.atan2(m10, m00)),
    )


def fbx(motion: Motion) -> bytes:
    """FBX 7.4 binary: one LimbNode model per joint (with its skeleton attribute), in
    centimetres, and one animation stack whose curves key every joint's rotation and the
    root's translation at every frame."""
    frames = motion.frames
    stop = _Int64(round((frames - 1) * KTIME_PER_SECOND / motion.frame_rate))
    key_times = array("q", [round(f * KTIME_PER_SECOND / motion.frame_rate) for f in range(frames)])
    next_id = iter(range(1_000_000, 10_000_000))
    objects: list[FbxNode] = []
    links: list[FbxNode] = []
    model_ids: list[int] = []
    for j, name in enumerate(JOINT_NAMES):
        attr_id, model_id = _Int64(next(next_id)), _Int64(next(next_id))
        model_ids.append(model_id)
        objects.append(
            (
                "NodeAttribute",
                (attr_id, f"{name}\x00\x01NodeAttribute", "LimbNode"),
                (("TypeFlags", ("Skeleton",), ()),),
            )
        )
        tx, ty, tz = (c * 100 for c in OFFSETS[j])
        objects.append(
            (
                "Model",
                (model_id, f"{name}\x00\x01Model", "LimbNode"),
                (
                    ("Version", (232,), ()),
                    (
                        "Properties70",
                        (),
                        (_p("Lcl Translation", "Lcl Translation", "A", tx, ty, tz),),
                    ),
                ),
            )
        )
        parent = _Int64(0 if PARENTS[j] < 0 else model_ids[PARENTS[j]])
        links.append(("C", ("OO", attr_id, model_id), ()))
        links.append(("C", ("OO", model_id, parent), ()))
    stack_id, layer_id = _Int64(next(next_id)), _Int64(next(next_id))
    objects.append(
        (
            "AnimationStack",
            (stack_id, "Take 001\x00\x01AnimStack", ""),
            (
                (
                    "Properties70",
                    (),
                    (
                        _p("LocalStop", "KTime", "Time", stop),
                        _p("ReferenceStop", "KTime", "Time", stop),
                    ),
                ),
            ),
        )
    )
    # Assimp requires a child scope on the layer, even an empty one.
    layer_props: FbxNode = ("Properties70", (), ())
    objects.append(("AnimationLayer", (layer_id, "BaseLayer\x00\x01AnimLayer", ""), (layer_props,)))
    links.append(("C", ("OO", layer_id, stack_id), ()))

    def curve_node(target: int, prop: str, short: str, series: list[list[float]]) -> None:
        node_id = _Int64(next(next_id))
        objects.append(
            (
                "AnimationCurveNode",
                (node_id, f"{short}\x00\x01AnimCurveNode", ""),
                (
                    (
                        "Properties70",
                        (),
                        tuple(
                            _p(f"d|{axis}", "Number", "A", values[0])
                            for axis, values in zip("XYZ", series, strict=True)
                        ),
                    ),
                ),
            )
        )
        links.append(("C", ("OO", node_id, layer_id), ()))
        links.append(("C", ("OP", node_id, target, prop), ()))
        for axis, values in zip("XYZ", series, strict=True):
            curve_id = _Int64(next(next_id))
            objects.append(
                (
                    "AnimationCurve",
                    (curve_id, "\x00\x01AnimCurve", ""),
                    (
                        ("Default", (0.0,), ()),
                        ("KeyVer", (4009,), ()),
                        ("KeyTime", (key_times,), ()),
                        ("KeyValueFloat", (array("f", values),), ()),
                        ("KeyAttrFlags", (array("i", [8456]),), ()),  # linear interpolation
                        ("KeyAttrDataFloat", (array("f", [0.0, 0.0, 0.0, 0.0]),), ()),
                        ("KeyAttrRefCount", (array("i", [frames]),), ()),
                    ),
                )
            )
            links.append(("C", ("OP", curve_id, node_id, f"d|{axis}"), ()))

    roots = motion.root_positions
    curve_node(
        model_ids[0], "Lcl Translation", "T", [[p[i] * 100 for p in roots] for i in range(3)]
    )
    for j in range(len(JOINT_NAMES)):
        eulers = [_euler_xyz(motion.rotations[f][j]) for f in range(frames)]
        curve_node(model_ids[j], "Lcl Rotation", "R", [[e[i] for e in eulers] for i in range(3)])

    def definition(kind: str, count: int) -> FbxNode:
        return ("ObjectType", (kind,), (("Count", (count,), ()),))

    tops: list[FbxNode] = [
        (
            "FBXHeaderExtension",
            (),
            (
                ("FBXHeaderVersion", (1003,), ()),
                ("FBXVersion", (FBX_VERSION,), ()),
                ("Creator", ("aio-move-ugc emulator",), ()),
            ),
        ),
        (
            "GlobalSettings",
            (),
            (
                ("Version", (1000,), ()),
                (
                    "Properties70",
                    (),
                    (
                        _p("UpAxis", "int", "Integer", 1),
                        _p("UpAxisSign", "int", "Integer", 1),
                        _p("FrontAxis", "int", "Integer", 2),
                        _p("FrontAxisSign", "int", "Integer", 1),
                        _p("CoordAxis", "int", "Integer", 0),
                        _p("CoordAxisSign", "int", "Integer", 1),
                        _p("UnitScaleFactor", "double", "Number", 1.0),
                        _p("TimeMode", "enum", "", 6),  # 30 frames per second
                        _p("TimeSpanStart", "KTime", "Time", _Int64(0)),
                        _p("TimeSpanStop", "KTime", "Time", stop),
                    ),
                ),
            ),
        ),
        (
            "Definitions",
            (),
            (
                ("Version", (100,), ()),
                ("Count", (len(objects),), ()),
                definition("NodeAttribute", len(JOINT_NAMES)),
                definition("Model", len(JOINT_NAMES)),
                definition("AnimationStack", 1),
                definition("AnimationLayer", 1),
                definition("AnimationCurveNode", 1 + len(JOINT_NAMES)),
                definition("AnimationCurve", 3 * (1 + len(JOINT_NAMES))),
            ),
        ),
        ("Objects", (), objects),
        ("Connections", (), links),
        (
            "Takes",
            (),
            (
                ("Current", ("Take 001",), ()),
                (
                    "Take",
                    ("Take 001",),
                    (
                        ("FileName", ("Take_001.tak",), ()),
                        ("LocalTime", (_Int64(0), stop), ()),
                        ("ReferenceTime", (_Int64(0), stop), ()),
                    ),
                ),
            ),
        ),
    ]
    out = bytearray(FBX_MAGIC + struct.pack("<I", FBX_VERSION))
    for top in tops:
        _fbx_node(out, top)
    out += b"\x00" * 13
    out += FBX_FOOTER_ID + b"\x00" * 4
    out += b"\x00" * ((-len(out) % 16) or 16)
    out += struct.pack("<I", FBX_VERSION) + b"\x00" * 120 + FBX_FOOTER_END
    return bytes(out)


# --------------------------------------------------------------------------------- BLEND
def blend() -> bytes:
    """A placeholder: Blender's file header (64-bit pointers, little endian, version 3.00)
    followed straight by the end block. It names itself a .blend file and holds no scene;
    Blender itself cannot load it (a real one needs the DNA catalogue of Blender's structs)."""
    return b"BLENDER-v300" + struct.pack("<4siQii", b"ENDB", 0, 0, 0, 0)


# --------------------------------------------------------------------------------- zip
def zip_package(files: Sequence[tuple[str, bytes]]) -> bytes:
    """A deflated zip of `files` with fixed dates (for the ALL_* outputs)."""
    out = BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as pack:
        for name, data in files:
            pack.writestr(zipfile.ZipInfo(name, ZIP_DATE), data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def usdz_package(files: Sequence[tuple[str, bytes]]) -> bytes:
    """A USDZ package: an uncompressed zip whose every file's data starts at a multiple of 64
    bytes (padding goes in each local header's extra field), the first file the root layer."""
    out = bytearray()
    central = bytearray()
    dos_time, dos_date = 0, (ZIP_DATE[0] - 1980) << 9 | ZIP_DATE[1] << 5 | ZIP_DATE[2]
    for name, data in files:
        raw_name = name.encode()
        offset = len(out)
        pad = -(offset + 30 + len(raw_name) + 4) % 64
        extra = struct.pack("<HH", 0x1986, pad) + b"\x00" * pad
        crc = zlib.crc32(data)
        fields = (20, 0, 0, dos_time, dos_date, crc, len(data), len(data), len(raw_name))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields, len(extra))
        out += raw_name + extra + data
        central += struct.pack("<IH", 0x02014B50, 20) + struct.pack("<HHHHHIIIHH", *fields, 0)
        central += struct.pack("<HHHII", 0, 0, 0, 0, offset) + raw_name
    start = len(out)
    out += central
    out += struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(files), len(files), len(central), start, 0
    )
    return bytes(out)
