"""USD's binary crate format (`.usdc`, version 0.8.0), written by hand for the emulator's skeleton
layer: the same prims, properties and values as the usda layer in `_usd`.

A crate file is an 88-byte bootstrap (ident `PXR-USDC`, version, offset of the table of
contents), the values that do not fit in a field's 8-byte reference, six structural sections
(TOKENS, STRINGS, FIELDS, FIELDSETS, PATHS, SPECS) and the table of contents naming them. From
version 0.4.0 on, the structural sections are compressed: integers with USD's integer coding
(a common value, 2-bit width codes, deltas) and then LZ4. The emulator needs no compressor:
an LZ4 block made of a single run of literals is valid LZ4, and every delta is written in its
widest, 32-bit form. Readers decompress either as they would any other file.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field

from ._motion import JOINT_NAMES, OFFSETS, Motion, joint_paths, rest_world

VERSION = (0, 8, 0)

# Type numbers of a value reference (the `crateDataTypes` table of USD).
BOOL, TOKEN, MATRIX4D, QUATF, VEC3F, VEC3H = 1, 11, 15, 17, 24, 25
DOUBLE, TOKEN_LIST_OP, PATH_LIST_OP, TOKEN_VECTOR = 9, 32, 34, 41
SPECIFIER, VARIABILITY, TIME_SAMPLES, DOUBLE_VECTOR = 42, 44, 46, 48
IS_ARRAY, IS_INLINED = 1 << 63, 1 << 62

# SdfSpecType numbers.
ATTRIBUTE, PRIM, PSEUDO_ROOT, RELATIONSHIP = 1, 6, 7, 8
UNIFORM, VARYING = 1, 0


def lz4_literals(data: bytes) -> bytes:
    """`data` as an LZ4 block of one literal run, prefixed by USD's chunk count (0: one)."""
    n = len(data)
    if n < 15:
        return bytes([0, n << 4]) + data
    extra = n - 15
    return bytes([0, 0xF0]) + b"\xff" * (extra // 255) + bytes([extra % 255]) + data


def coded_ints(values: Sequence[int]) -> bytes:
    """USD's integer coding of `values` (every delta 32-bit wide), LZ4-wrapped and sized."""
    codes = bytearray()
    for start in range(0, len(values), 4):
        codes.append((1 << (2 * min(4, len(values) - start))) - 1)  # code 3 for each
    # Deltas wrap around in 32 bits, as the reader adds them (0xFFFFFFFF ends each field set).
    deltas = array(
        "i",
        (
            (v - p + (1 << 31)) % (1 << 32) - (1 << 31)
            for v, p in zip(values, [0, *values[:-1]], strict=False)
        ),
    )
    packed = lz4_literals(struct.pack("<i", 0) + bytes(codes) + deltas.tobytes())
    return struct.pack("<Q", len(packed)) + packed


@dataclass
class _Node:
    name: str
    token: int
    is_property: bool
    index: int
    children: list[_Node] = field(default_factory=list)


class CrateWriter:
    """Collects tokens, values and specs, then lays them out as a crate file."""

    def __init__(self) -> None:
        self.tokens: list[str] = [""]  # index 0 is never a property name (its sign is lost)
        self._token_index: dict[str, int] = {"": 0}
        self.data = bytearray(88)  # the bootstrap, filled at the end
        self.fields: list[tuple[int, int]] = []
        self._field_index: dict[tuple[int, int], int] = {}
        self.field_sets: list[int] = []
        self.root = _Node("", 0, False, 0)
        self._nodes: dict[str, _Node] = {"/": self.root}
        self.specs: list[tuple[int, int, int]] = []

    # ---------------------------------------------------------------- values
    def token(self, text: str) -> int:
        if text not in self._token_index:
            self._token_index[text] = len(self.tokens)
            self.tokens.append(text)
        return self._token_index[text]

    def _place(self, payload: bytes) -> int:
        self.data += b"\x00" * (-len(self.data) % 8)
        offset = len(self.data)
        self.data += payload
        return offset

    @staticmethod
    def inline(kind: int, value: int) -> int:
        return IS_INLINED | kind << 48 | value

    def token_value(self, text: str) -> int:
        return self.inline(TOKEN, self.token(text))

    def double(self, value: float) -> int:
        return DOUBLE << 48 | self._place(struct.pack("<d", value))

    def token_vector(self, items: Sequence[str]) -> int:
        indexes = array("I", (self.token(t) for t in items)).tobytes()
        return TOKEN_VECTOR << 48 | self._place(struct.pack("<Q", len(items)) + indexes)

    def token_array(self, items: Sequence[str]) -> int:
        indexes = array("I", (self.token(t) for t in items)).tobytes()
        return IS_ARRAY | TOKEN << 48 | self._place(struct.pack("<Q", len(items)) + indexes)

    def array(self, kind: int, count: int, raw: bytes) -> int:
        return IS_ARRAY | kind << 48 | self._place(struct.pack("<Q", count) + raw)

    def prepended_tokens(self, items: Sequence[str]) -> int:
        indexes = array("I", (self.token(t) for t in items)).tobytes()
        body = bytes([1 << 5]) + struct.pack("<Q", len(items)) + indexes
        return TOKEN_LIST_OP << 48 | self._place(body)

    def explicit_paths(self, paths: Sequence[str]) -> int:
        indexes = array("I", (self._path(p).index for p in paths)).tobytes()
        body = bytes([0b11]) + struct.pack("<Q", len(paths)) + indexes
        return PATH_LIST_OP << 48 | self._place(body)

    def time_samples(self, times: Sequence[float], reps: Sequence[int]) -> int:
        times_at = self._place(struct.pack("<Q", len(times)) + array("d", times).tobytes())
        body = b"".join(
            (
                struct.pack("<qQ", 8, DOUBLE_VECTOR << 48 | times_at),  # jump to the times
                struct.pack("<qQ", 8, len(reps)),  # jump to the values
                array("Q", reps).tobytes(),
            )
        )
        return TIME_SAMPLES << 48 | self._place(body)

    # ---------------------------------------------------------------- specs
    def _path(self, path: str) -> _Node:
        if path in self._nodes:
            return self._nodes[path]
        if "." in path.rsplit("/", 1)[-1]:
            parent_path, name = path.rsplit(".", 1)
            is_property = True
        else:
            parent_path, name = path.rsplit("/", 1)
            is_property = False
        parent = self._path(parent_path or "/")
        node = _Node(name, self.token(name), is_property, len(self._nodes))
        parent.children.append(node)
        self._nodes[path] = node
        return node

    def spec(self, path: str, spec_type: int, fields: Sequence[tuple[str, int]]) -> None:
        field_set = len(self.field_sets)
        for name, rep in fields:
            key = (self.token(name), rep)
            if key not in self._field_index:
                self._field_index[key] = len(self.fields)
                self.fields.append(key)
            self.field_sets.append(self._field_index[key])
        self.field_sets.append(0xFFFFFFFF)
        self.specs.append((self._path(path).index, field_set, spec_type))

    # ---------------------------------------------------------------- layout
    def _path_tables(self) -> tuple[list[int], list[int], list[int]]:
        order: list[_Node] = []
        jumps: list[int] = []

        def visit(node: _Node, has_sibling: bool) -> None:
            at = len(order)
            order.append(node)
            jumps.append(0)
            for i, kid in enumerate(node.children):
                visit(kid, i + 1 < len(node.children))
            if node.children and has_sibling:
                jumps[at] = len(order) - at  # the sibling follows this subtree
            elif node.children:
                jumps[at] = -1
            elif not has_sibling:
                jumps[at] = -2

        visit(self.root, False)
        indexes = [n.index for n in order]
        elements = [
            0 if n is self.root else (-n.token if n.is_property else n.token) for n in order
        ]
        return indexes, elements, jumps

    def finish(self) -> bytes:
        sections: list[tuple[bytes, int, int]] = []

        def section(name: bytes, body: bytes) -> None:
            start = self._place(body)
            sections.append((name, start, len(body)))

        chars = b"".join(t.encode() + b"\x00" for t in self.tokens)
        packed = lz4_literals(chars)
        section(b"TOKENS", struct.pack("<QQQ", len(self.tokens), len(chars), len(packed)) + packed)
        section(b"STRINGS", struct.pack("<Q", 0))
        reps = lz4_literals(array("Q", (rep for _, rep in self.fields)).tobytes())
        section(
            b"FIELDS",
            struct.pack("<Q", len(self.fields))
            + coded_ints([token for token, _ in self.fields])
            + struct.pack("<Q", len(reps))
            + reps,
        )
        section(b"FIELDSETS", struct.pack("<Q", len(self.field_sets)) + coded_ints(self.field_sets))
        indexes, elements, jumps = self._path_tables()
        section(
            b"PATHS",
            struct.pack("<QQ", len(self._nodes), len(indexes))
            + coded_ints(indexes)
            + coded_ints(elements)
            + coded_ints(jumps),
        )
        section(
            b"SPECS",
            struct.pack("<Q", len(self.specs))
            + coded_ints([s[0] for s in self.specs])
            + coded_ints([s[1] for s in self.specs])
            + coded_ints([s[2] for s in self.specs]),
        )
        toc = self._place(
            struct.pack("<Q", len(sections))
            + b"".join(struct.pack("<16sqq", n, s, z) for n, s, z in sections)
        )
        struct.pack_into("<8s3B5xq", self.data, 0, b"PXR-USDC", *VERSION, toc)
        return bytes(self.data)


def _matrices(translations: Sequence[tuple[float, float, float]]) -> bytes:
    return array(
        "d",
        (v for x, y, z in translations for v in (1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, x, y, z, 1)),
    ).tobytes()


def usdc(motion: Motion) -> bytes:
    """The skeleton layer of `_usd.usda` as a crate: SkelRoot `/Character`, Skeleton
    `Skeleton` (SkelBindingAPI, joints, bind and rest transforms, animation source) and
    SkelAnimation `Motion` (time-sampled translations and rotations, scales)."""
    w = CrateWriter()
    count = len(JOINT_NAMES)
    paths = list(joint_paths())
    frames = motion.frames
    w.spec(
        "/",
        PSEUDO_ROOT,
        [
            ("defaultPrim", w.token_value("Character")),
            ("metersPerUnit", w.double(1.0)),
            ("upAxis", w.token_value("Y")),
            ("startTimeCode", w.double(0.0)),
            ("endTimeCode", w.double(frames - 1)),
            ("timeCodesPerSecond", w.double(motion.frame_rate)),
            ("framesPerSecond", w.double(motion.frame_rate)),
            ("primChildren", w.token_vector(["Character"])),
        ],
    )
    define = w.inline(SPECIFIER, 0)
    w.spec(
        "/Character",
        PRIM,
        [
            ("specifier", define),
            ("typeName", w.token_value("SkelRoot")),
            ("primChildren", w.token_vector(["Skeleton"])),
        ],
    )
    skeleton_props = ["joints", "bindTransforms", "restTransforms", "skel:animationSource"]
    w.spec(
        "/Character/Skeleton",
        PRIM,
        [
            ("specifier", define),
            ("typeName", w.token_value("Skeleton")),
            ("apiSchemas", w.prepended_tokens(["SkelBindingAPI"])),
            ("primChildren", w.token_vector(["Motion"])),
            ("properties", w.token_vector(skeleton_props)),
        ],
    )
    not_custom = w.inline(BOOL, 0)
    uniform = w.inline(VARIABILITY, UNIFORM)
    varying = w.inline(VARIABILITY, VARYING)
    joints = w.token_array(paths)

    def attribute(path: str, type_name: str, variability: int, value: tuple[str, int]) -> None:
        w.spec(
            path,
            ATTRIBUTE,
            [
                ("typeName", w.token_value(type_name)),
                ("variability", variability),
                ("custom", not_custom),
                value,
            ],
        )

    rest = [OFFSETS[j] for j in range(count)]
    attribute("/Character/Skeleton.joints", "token[]", uniform, ("default", joints))
    attribute(
        "/Character/Skeleton.bindTransforms",
        "matrix4d[]",
        uniform,
        ("default", w.array(MATRIX4D, count, _matrices(rest_world()))),
    )
    attribute(
        "/Character/Skeleton.restTransforms",
        "matrix4d[]",
        uniform,
        ("default", w.array(MATRIX4D, count, _matrices(rest))),
    )
    w.spec(
        "/Character/Skeleton.skel:animationSource",
        RELATIONSHIP,
        [
            ("variability", uniform),
            ("custom", not_custom),
            ("targetPaths", w.explicit_paths(["/Character/Skeleton/Motion"])),
        ],
    )
    w.spec(
        "/Character/Skeleton/Motion",
        PRIM,
        [
            ("specifier", define),
            ("typeName", w.token_value("SkelAnimation")),
            ("properties", w.token_vector(["joints", "translations", "rotations", "scales"])),
        ],
    )
    attribute("/Character/Skeleton/Motion.joints", "token[]", uniform, ("default", joints))
    times = [float(f) for f in range(frames)]
    translations = []
    rotations = []
    for f in range(frames):
        moved = [motion.root_positions[f], *(OFFSETS[j] for j in range(1, count))]
        translations.append(
            w.array(VEC3F, count, array("f", (c for p in moved for c in p)).tobytes())
        )
        quats = array("f", (c for q in motion.rotations[f] for c in q))  # x, y, z, w as GfQuatf
        rotations.append(w.array(QUATF, count, quats.tobytes()))
    attribute(
        "/Character/Skeleton/Motion.translations",
        "float3[]",
        varying,
        ("timeSamples", w.time_samples(times, translations)),
    )
    attribute(
        "/Character/Skeleton/Motion.rotations",
        "quatf[]",
        varying,
        ("timeSamples", w.time_samples(times, rotations)),
    )
    ones = struct.pack("<3e", 1.0, 1.0, 1.0) * count
    attribute(
        "/Character/Skeleton/Motion.scales",
        "half3[]",
        varying,
        ("default", w.array(VEC3H, count, ones)),
    )
    return w.finish()
