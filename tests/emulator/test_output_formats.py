"""The emulator's outputs are files of their formats, checked with struct, json and zipfile only:
every OutputType, for several jobs, clip windows and actor counts; and they agree on the
skeleton, the frame count and the duration."""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
from typing import Any

import aiohttp
import pytest

from aio_move_ugc.emulator import EmulatorConfig
from aio_move_ugc.emulator._motion import DEFAULT_DURATION, FRAME_RATE, JOINT_NAMES, frame_count
from aio_move_ugc.emulator._outputs import formatted_output
from aio_move_ugc.emulator._state import OUTPUT_FILE_TYPES
from tests.support import MakeEmulator

from .support import GraphQLClient

JOBS = ["job-00000000-0000-4000-8000-000000000000", "job-5f0c2a1e-7b7d-4c1e-9a55-1d2b3c4d5e6f"]
CLIPS: list[dict[str, float] | None] = [None, {"startTime": 1.0, "endTime": 2.5}]


def glb_document(data: bytes) -> tuple[dict[str, Any], bytes]:
    magic, version, length = struct.unpack_from("<4sII", data)
    assert (magic, version, length) == (b"glTF", 2, len(data))
    json_len, json_type = struct.unpack_from("<I4s", data, 12)
    assert json_type == b"JSON"
    assert json_len % 4 == 0
    document = json.loads(data[20 : 20 + json_len])
    bin_len, bin_type = struct.unpack_from("<I4s", data, 20 + json_len)
    assert bin_type == b"BIN\x00"
    assert 28 + json_len + bin_len == len(data)
    binary = data[28 + json_len :]
    assert document["buffers"] == [{"byteLength": bin_len}]
    return document, binary


def glb_facts(data: bytes) -> tuple[list[str], int, float]:
    document, binary = glb_document(data)
    skin = document["skins"][0]
    names = [document["nodes"][j]["name"] for j in skin["joints"]]
    sampler = document["animations"][0]["samplers"][0]
    times = document["accessors"][sampler["input"]]
    for view in document["bufferViews"]:
        assert view["byteOffset"] + view["byteLength"] <= len(binary)
        assert view["byteOffset"] % 4 == 0
    return names, times["count"], times["max"][0] + 1 / FRAME_RATE


def bvh_facts(data: bytes) -> tuple[list[str], int, float]:
    text = data.decode()
    hierarchy, _, motion = text.partition("MOTION\n")
    names = re.findall(r"^\s*(?:ROOT|JOINT) (\w+)$", hierarchy, re.M)
    channels = sum(int(n) for n in re.findall(r"CHANNELS (\d+)", hierarchy))
    assert hierarchy.count("{") == hierarchy.count("}")
    lines = motion.strip().split("\n")
    frames = int(lines[0].removeprefix("Frames: "))
    frame_time = float(lines[1].removeprefix("Frame Time: "))
    assert len(lines) == 2 + frames
    assert all(len(line.split()) == channels for line in lines[2:])
    return names, frames, frames * frame_time


def c3d_facts(data: bytes) -> tuple[list[str], int, float]:
    header = struct.unpack_from("<BBHHHHHfHHf", data)
    first_param, key, points, analog, first, last, _, scale, data_start, _, rate = header
    assert (first_param, key, analog, first, scale) == (2, 0x50, 0, 1, -1.0)
    assert data[512 + 1] == 0x50
    assert data[512 + 3] == 84
    frames = last - first + 1
    assert len(data) == (data_start - 1) * 512 + frames * points * 16
    blob = data[512 : (data_start - 1) * 512]
    width = max(len(n) for n in JOINT_NAMES)
    start = blob.index(b"LABELS") + 6 + 2 + 1 + 1 + 2  # name, offset, type, dims, dim sizes
    labels = blob[start : start + width * points].decode()
    names = [labels[i : i + width].strip() for i in range(0, len(labels), width)]
    return names, frames, frames / rate


def fbx_nodes(data: bytes, start: int, end: int) -> list[tuple[str, int, int, int]]:
    """(name, properties start, children start, end) of each node record in [start, end)."""
    nodes = []
    while start < end:
        node_end, _, props_len, name_len = struct.unpack_from("<IIIB", data, start)
        if node_end == 0:
            break
        name = data[start + 13 : start + 13 + name_len].decode()
        props = start + 13 + name_len
        nodes.append((name, props, props + props_len, node_end))
        start = node_end
    return nodes


def fbx_facts(data: bytes) -> tuple[list[str], int, float]:
    assert data.startswith(b"Kaydara FBX Binary  \x00\x1a\x00")
    assert struct.unpack_from("<I", data, 23) == (7400,)
    assert data.endswith(bytes.fromhex("f85a8c6adef5d97eece90ce3758f290b"))
    top = fbx_nodes(data, 27, len(data))
    assert [n[0] for n in top] == [
        "FBXHeaderExtension", "GlobalSettings", "Definitions", "Objects", "Connections", "Takes"
    ]  # fmt: skip
    objects = next(n for n in top if n[0] == "Objects")
    names: list[str] = []
    frames = 0
    for name, props, kids, end in fbx_nodes(data, objects[2], objects[3]):
        if name == "Model":
            (length,) = struct.unpack_from("<I", data, props + 1 + 8 + 1)
            label = data[props + 14 : props + 14 + length]
            names.append(label.split(b"\x00\x01")[0].decode())
        if name == "AnimationCurve":
            key_time = next(k for k in fbx_nodes(data, kids, end) if k[0] == "KeyTime")
            assert data[key_time[1]] == ord("l")
            (frames,) = struct.unpack_from("<I", data, key_time[1] + 1)
    return names, frames, frames / FRAME_RATE


def usda_facts(text: str) -> tuple[list[str], int, float]:
    assert text.startswith("#usda 1.0\n")
    joints = re.search(r"uniform token\[\] joints = \[(.*)\]", text)
    assert joints is not None
    names = [p.strip(' "').rsplit("/", 1)[-1] for p in joints.group(1).split(",")]
    end = int(re.search(r"endTimeCode = (\d+)", text).group(1))  # type: ignore[union-attr]
    rate = int(re.search(r"timeCodesPerSecond = (\d+)", text).group(1))  # type: ignore[union-attr]
    samples = re.search(r"rotations.timeSamples = \{(.*?)\n\s*\}", text, re.S)
    assert samples is not None
    assert samples.group(1).count(": [") == end + 1
    return names, end + 1, (end + 1) / rate


def lz4_block(data: bytes) -> bytes:
    """Decode one LZ4 block (any encoder's, literals and matches)."""
    out = bytearray()
    i = 0
    while i < len(data):
        token = data[i]
        i += 1
        length = token >> 4
        if length == 15:
            while data[i] == 255:
                length += 255
                i += 1
            length += data[i]
            i += 1
        out += data[i : i + length]
        i += length
        if i >= len(data):
            break
        offset = data[i] | data[i + 1] << 8
        i += 2
        length = token & 15
        if length == 15:
            while data[i] == 255:
                length += 255
                i += 1
            length += data[i]
            i += 1
        for _ in range(length + 4):
            out.append(out[-offset])
    return bytes(out)


def usdc_facts(data: bytes) -> tuple[list[str], int, float]:
    """Bootstrap, table of contents and tokens of a crate file (frames need a full reader:
    the slow tier checks them with usd-core)."""
    ident, major, minor, patch, toc = struct.unpack_from("<8s3B5xq", data)
    assert (ident, major, minor, patch) == (b"PXR-USDC", 0, 8, 0)
    (count,) = struct.unpack_from("<Q", data, toc)
    sections = {}
    for k in range(count):
        name, start, size = struct.unpack_from("<16sqq", data, toc + 8 + 32 * k)
        assert start >= 88
        assert start + size <= toc
        sections[name.rstrip(b"\x00").decode()] = (start, size)
    assert list(sections) == ["TOKENS", "STRINGS", "FIELDS", "FIELDSETS", "PATHS", "SPECS"]
    start, _ = sections["TOKENS"]
    tokens, raw_size, packed_size = struct.unpack_from("<QQQ", data, start)
    packed = data[start + 24 : start + 24 + packed_size]
    assert packed[0] == 0  # one LZ4 chunk
    chars = lz4_block(packed[1:])
    assert len(chars) == raw_size
    names = chars.decode().split("\x00")[:-1]
    assert len(names) == tokens
    paths = [n for n in names if n.startswith("Hips")]
    return [p.rsplit("/", 1)[-1] for p in paths], -1, -1.0


def usdz_layer(data: bytes) -> str:
    pack = zipfile.ZipFile(io.BytesIO(data))
    infos = pack.infolist()
    assert infos[0].filename.endswith((".usda", ".usdc"))
    for info in infos:
        assert info.compress_type == zipfile.ZIP_STORED
        (name_len, extra_len) = struct.unpack_from("<HH", data, info.header_offset + 26)
        assert (info.header_offset + 30 + name_len + extra_len) % 64 == 0
    return pack.read(infos[0]).decode()


def mp4_boxes(data: bytes, start: int, end: int) -> dict[bytes, tuple[int, int]]:
    boxes = {}
    while start < end:
        size, kind = struct.unpack_from(">I4s", data, start)
        assert size >= 8
        boxes[kind] = (start + 8, start + size)
        start += size
    assert start == end
    return boxes


def mp4_facts(data: bytes) -> tuple[int, float]:
    top = mp4_boxes(data, 0, len(data))
    assert list(top) == [b"ftyp", b"moov", b"mdat"]
    trak = mp4_boxes(data, *mp4_boxes(data, *top[b"moov"])[b"trak"])
    mdia = mp4_boxes(data, *trak[b"mdia"])
    _, _, _, timescale, duration = struct.unpack_from(">IIIII", data, mdia[b"mdhd"][0])
    stbl = mp4_boxes(data, *mp4_boxes(data, *mdia[b"minf"])[b"stbl"])
    assert data[stbl[b"stsd"][0] + 12 : stbl[b"stsd"][0] + 16] == b"png "
    _, _, count = struct.unpack_from(">III", data, stbl[b"stsz"][0])
    sizes = struct.unpack_from(f">{count}I", data, stbl[b"stsz"][0] + 12)
    (offset,) = struct.unpack_from(">I", data, stbl[b"stco"][0] + 8)
    assert offset == top[b"mdat"][0]
    assert sum(sizes) == top[b"mdat"][1] - offset
    for size in sizes:
        assert data[offset : offset + 8] == b"\x89PNG\r\n\x1a\n"
        assert data[offset + size - 8 : offset + size - 4] == b"IEND"
        offset += size
    return count, duration / timescale


def facts(output_type: str, data: bytes) -> list[tuple[list[str] | None, int, float]]:
    """(joint names or None, frames, seconds) of every actor's file in an output."""
    kind = OUTPUT_FILE_TYPES[output_type]
    if kind == "zip":
        pack = zipfile.ZipFile(io.BytesIO(data))
        names = pack.namelist()
        assert names == [f"actor_{i}.{names[0].rsplit('.', 1)[1]}" for i in range(len(names))]
        member = {"ALL_USDC": "MAIN_USDC", "ALL_USDZ": "MAIN_USDZ"}.get(
            output_type, output_type.replace("ALL_", "MAIN_")
        )
        out: list[tuple[list[str] | None, int, float]] = []
        for name in names:
            if output_type == "ALL_BVH":
                out.append(bvh_facts(pack.read(name)))
            elif output_type == "ALL_C3D":
                out.append(c3d_facts(pack.read(name)))
            else:
                out += facts(member, pack.read(name))
        return out
    if output_type == "MAIN_GLB":
        return [glb_facts(data)]
    if output_type == "MAIN_FBX":
        return [fbx_facts(data)]
    if output_type == "MAIN_USDC":
        return [usdc_facts(data)]
    if output_type == "MAIN_USDZ":
        return [usda_facts(usdz_layer(data))]
    if output_type == "MAIN_BLEND":
        assert data.startswith(b"BLENDER-v300")
        assert data[12:16] == b"ENDB"
        return [(None, -1, -1.0)]
    if kind == "mp4":
        frames, seconds = mp4_facts(data)
        return [(None, frames, seconds)]
    document = json.loads(data)
    if output_type == "SYNC_DATA":
        assert document["schema"] == "aio-move-ugc/sync-data/1"
        assert len(document["frameTimes"]) == document["frameCount"]
        return [(None, document["frameCount"], document["duration"])]
    assert document["schema"] == "aio-move-ugc/motion-data/1"
    names = [j["name"] for j in document["joints"]]
    out = []
    for actor in document["actors"]:
        frames = len(actor["rotations"])
        assert len(actor["positions"]) == len(actor["rootPositions"]) == frames
        assert all(len(f) == len(names) for f in actor["positions"])
        out.append((names, frames, frames / document["frameRate"]))
    assert out[0][1] == document["frameCount"]
    return out


@pytest.mark.parametrize("output_type", sorted(OUTPUT_FILE_TYPES))
@pytest.mark.parametrize("job_id", JOBS)
@pytest.mark.parametrize("clip", CLIPS, ids=["default", "clip1.5s"])
def test_every_output_is_its_format_and_all_agree(
    output_type: str, job_id: str, clip: dict[str, float] | None
) -> None:
    frames = frame_count(clip)
    duration = frames / FRAME_RATE
    actors = 2 if output_type.startswith("ALL_") or output_type == "MOTION_DATA" else 1
    data = formatted_output(job_id, output_type, clip_window=clip, actors=actors)
    found = facts(output_type, data)
    assert len(found) == actors
    for names, count, seconds in found:
        if output_type.endswith("BLEND"):
            continue  # a placeholder: no skeleton, no motion
        if output_type.endswith("USDC"):
            assert names == list(JOINT_NAMES)
            continue  # frames are checked by usd-core in the slow tier
        assert names in (None, list(JOINT_NAMES))
        assert count == frames
        assert seconds == pytest.approx(duration, abs=1e-6)
    assert formatted_output(job_id, output_type, clip_window=clip, actors=actors) == data


def test_frames_follow_the_clip_window_within_bounds() -> None:
    assert frame_count(None) == round(DEFAULT_DURATION * FRAME_RATE)
    assert frame_count({"startTime": 2.0, "endTime": 3.0}) == FRAME_RATE
    assert frame_count({"startTime": 0.0, "endTime": 0.001}) == 1
    assert frame_count({"startTime": 0.0, "endTime": 3600.0}) == 600


@pytest.mark.parametrize("output_type", ["MAIN_GLB", "ALL_BVH", "MOTION_DATA", "RENDER_VIDEO"])
def test_jobs_and_actors_move_differently(output_type: str) -> None:
    one, two = (formatted_output(job, output_type) for job in JOBS)
    assert one != two
    if output_type == "ALL_BVH":
        pack = zipfile.ZipFile(io.BytesIO(formatted_output(JOBS[0], output_type, actors=2)))
        assert pack.read("actor_0.bvh") != pack.read("actor_1.bvh")
        assert pack.read("actor_0.bvh") == zipfile.ZipFile(io.BytesIO(one)).read("actor_0.bvh")


def test_sync_data_names_the_takes_cameras() -> None:
    document = json.loads(formatted_output(JOBS[0], "SYNC_DATA", cameras=("left", "right")))
    assert [c["deviceLabel"] for c in document["cameras"]] == ["left", "right"]
    assert [c["offsetFrames"] for c in document["cameras"]] == [0, 1]


def test_output_size_none_is_the_default_and_numbers_still_mean_noise() -> None:
    assert EmulatorConfig().output_size is None
    assert EmulatorConfig(output_size=0).output_size == 0


async def test_served_outputs_are_the_formatted_files(
    make_emulator: MakeEmulator, session: aiohttp.ClientSession
) -> None:
    """Through the server: each downloaded output is the job's file of its format, shaped by
    the job's clip window, and noise of `output_size` bytes when that is set."""
    types = sorted(OUTPUT_FILE_TYPES)
    async with make_emulator(output_size=None) as emu:
        gql = GraphQLClient(session, emu)
        take_id = await gql.singlecam_take()
        created = await gql.data(
            "mutation($t: String!, $o: [OutputType]) { createSingleCamJob(takeId: $t,"
            " outputs: $o, clipWindow: {startTime: 0.5, endTime: 1.5}) { id } }",
            {"t": take_id, "o": types},
        )
        job_id = created["createSingleCamJob"]["id"]
        await gql.wait_job(job_id)
        ready = await gql.wait_outputs(job_id)
        clip = {"startTime": 0.5, "endTime": 1.5}
        for output in ready["outputs"]:
            body = await gql.get_bytes(output["file"]["presignedUrl"])
            kind = output["format"]
            assert body == formatted_output(job_id, kind, clip_window=clip, cameras=("iphone",))
            if not kind.endswith(("BLEND", "USDC")):  # no frame count read here
                assert all(f[1] == FRAME_RATE for f in facts(kind, body))
        assert sorted(o["format"] for o in ready["outputs"]) == types
