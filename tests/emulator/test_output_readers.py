"""The emulator's outputs open in the field's own readers (the `formats` extra: pygltflib, bvhio,
c3d, PyAV, usd-core; Assimp's command line and Khronos' glTF validator when installed), and
what each reader sees agrees with the motion and with the other readers."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from aio_move_ugc.emulator._motion import FRAME_RATE, JOINT_NAMES, frame_count, motion
from aio_move_ugc.emulator._outputs import formatted_output

pytestmark = pytest.mark.slow

JOB = "job-7d1f6c1e-2b0a-4f55-8a1e-0c9d8e7f6a5b"
CLIP = {"startTime": 0.0, "endTime": 1.5}
FRAMES = frame_count(CLIP)
MOTION = motion(JOB, FRAMES)


def output(kind: str, **extra: object) -> bytes:
    return formatted_output(JOB, kind, clip_window=CLIP, **extra)  # type: ignore[arg-type]


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_glb_opens_in_pygltflib_with_the_motion() -> None:
    pygltflib = pytest.importorskip("pygltflib")
    np = pytest.importorskip("numpy")
    gltf = pygltflib.GLTF2.load_from_bytes(output("MAIN_GLB"))
    skin = gltf.skins[0]
    assert [gltf.nodes[j].name for j in skin.joints] == list(JOINT_NAMES)
    animation = gltf.animations[0]
    assert len(animation.channels) == len(JOINT_NAMES) + 1
    blob = gltf.binary_blob()

    def read(index: int, width: int) -> object:
        accessor = gltf.accessors[index]
        view = gltf.bufferViews[accessor.bufferView]
        flat = np.frombuffer(blob, np.float32, accessor.count * width, view.byteOffset)
        return flat.reshape(accessor.count, width)

    times = read(animation.samplers[0].input, 1)
    assert len(times) == FRAMES
    assert float(times[-1][0]) == pytest.approx((FRAMES - 1) / FRAME_RATE)
    for channel in animation.channels:
        if channel.target.path == "rotation":
            values = read(animation.samplers[channel.sampler].output, 4)
            joint = channel.target.node
            expected = [MOTION.rotations[f][joint] for f in range(FRAMES)]
            assert np.allclose(values, expected, atol=1e-6)


def test_glb_passes_khronos_validator(tmp_path: Path) -> None:
    """Runs where `npm install gltf-validator` was done and NODE_PATH points at it."""
    node = shutil.which("node")
    if node is None or not os.environ.get("NODE_PATH"):
        pytest.skip("node with gltf-validator on NODE_PATH is not installed")
    found = subprocess.run([node, "-e", "require.resolve('gltf-validator')"], check=False)
    if found.returncode:
        pytest.skip("gltf-validator is not on NODE_PATH")
    path = write(tmp_path, "main.glb", output("MAIN_GLB"))
    script = (
        "require('gltf-validator').validateBytes(new Uint8Array(require('fs')"
        ".readFileSync(process.argv[1]))).then(r => console.log(JSON.stringify(r.issues)))"
    )
    result = subprocess.run(
        [node, "-e", script, str(path)], check=True, capture_output=True, text=True
    )
    issues = json.loads(result.stdout)
    assert (issues["numErrors"], issues["numWarnings"], issues["numInfos"]) == (0, 0, 0)


def test_bvh_opens_in_bvhio(tmp_path: Path) -> None:
    bvhio = pytest.importorskip("bvhio")
    pack = zipfile.ZipFile(io.BytesIO(output("ALL_BVH", actors=2)))
    for actor in range(2):
        path = write(tmp_path, f"a{actor}.bvh", pack.read(f"actor_{actor}.bvh"))
        bvh = bvhio.readAsBvh(str(path))
        assert bvh.FrameCount == FRAMES
        assert bvh.FrameTime * FRAMES == pytest.approx(FRAMES / FRAME_RATE, abs=1e-6)
        names = [joint.Name for joint, _, _ in bvh.Root.layout()]
        assert names == list(JOINT_NAMES)
        hierarchy = bvhio.readAsHierarchy(str(path))
        head = hierarchy.filter("Head")[0]
        hierarchy.loadPose(FRAMES - 1)
        world = motion(JOB, FRAMES, actor).world[FRAMES - 1][JOINT_NAMES.index("Head")]
        assert list(head.PositionWorld) == pytest.approx([c * 100 for c in world], abs=0.05)


def test_c3d_opens_in_c3d(tmp_path: Path) -> None:
    c3d = pytest.importorskip("c3d")
    pack = zipfile.ZipFile(io.BytesIO(output("ALL_C3D")))
    with io.BytesIO(pack.read("actor_0.c3d")) as handle:
        with pytest.warns(UserWarning, match="analog"):  # the file has none, as intended
            reader = c3d.Reader(handle)
        assert [label.strip() for label in reader.point_labels] == list(JOINT_NAMES)
        assert reader.point_rate == FRAME_RATE
        frames = list(reader.read_frames())
    assert len(frames) == FRAMES
    np = pytest.importorskip("numpy")
    for index, (_, points, _) in enumerate(frames):
        expected = np.array(MOTION.world[index]) * 1000
        assert np.allclose(points[:, :3], expected, atol=0.01)


@pytest.mark.parametrize("kind", ["RENDER_VIDEO", "RENDER_OVERLAY_VIDEO"])
def test_videos_decode_in_pyav(kind: str) -> None:
    av = pytest.importorskip("av")
    with av.open(io.BytesIO(output(kind))) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "png"
        assert float(stream.duration * stream.time_base) == pytest.approx(FRAMES / FRAME_RATE)
        pictures = [frame.to_ndarray() for frame in container.decode(video=0)]
    assert len(pictures) == FRAMES
    assert all(picture.max() == 255 for picture in pictures)  # the figure is drawn
    assert (pictures[0] != pictures[-1]).any()  # and it moves


@pytest.mark.parametrize("kind", ["MAIN_USDZ", "MAIN_USDC", "ALL_USDZ", "ALL_USDC"])
def test_usd_opens_in_usd_core(kind: str, tmp_path: Path) -> None:
    pytest.importorskip("pxr")
    from pxr import Usd, UsdSkel

    data = output(kind)
    if kind.startswith("ALL_"):
        suffix = kind.removeprefix("ALL_").lower()
        data = zipfile.ZipFile(io.BytesIO(data)).read(f"actor_0.{suffix}")
        kind = f"MAIN_{suffix.upper()}"
    path = write(tmp_path, "out." + kind.removeprefix("MAIN_").lower(), data)
    stage = Usd.Stage.Open(str(path))
    assert stage.GetTimeCodesPerSecond() == FRAME_RATE
    assert stage.GetEndTimeCode() - stage.GetStartTimeCode() + 1 == FRAMES
    skeleton = UsdSkel.Skeleton(stage.GetPrimAtPath("/Character/Skeleton"))
    joints = [str(j).rsplit("/", 1)[-1] for j in skeleton.GetJointsAttr().Get()]
    assert joints == list(JOINT_NAMES)
    animation = UsdSkel.Animation(stage.GetPrimAtPath("/Character/Skeleton/Motion"))
    rotations = animation.GetRotationsAttr()
    assert len(rotations.GetTimeSamples()) == FRAMES
    last = rotations.Get(FRAMES - 1)
    for joint, quat in enumerate(last):
        x, y, z, w = MOTION.rotations[FRAMES - 1][joint]
        imaginary = quat.GetImaginary()
        got = [imaginary[0], imaginary[1], imaginary[2], quat.GetReal()]
        assert got == pytest.approx([x, y, z, w], abs=1e-5)
    query = UsdSkel.Cache().GetSkelQuery(skeleton)
    assert query.GetAnimQuery().GetPrim() == animation.GetPrim()
    translations = animation.GetTranslationsAttr().Get(FRAMES - 1)
    assert list(translations[0]) == pytest.approx(list(MOTION.root_positions[-1]), abs=1e-5)
    bind = skeleton.GetBindTransformsAttr().Get()
    assert bind[JOINT_NAMES.index("Head")].ExtractTranslation()[1] == pytest.approx(1.52)


def test_fbx_opens_in_assimp(tmp_path: Path) -> None:
    assimp = shutil.which("assimp")
    if assimp is None:
        pytest.skip("assimp-utils is not installed (apt-get install assimp-utils)")
    path = write(tmp_path, "main.fbx", output("MAIN_FBX"))
    info = subprocess.run(
        [assimp, "info", str(path)], check=True, capture_output=True, text=True
    ).stdout
    counts = dict(re.findall(r"^(Nodes|Animations|Animation Channels):\s+(\d+)", info, re.M))
    assert counts == {"Nodes": "22", "Animations": "1", "Animation Channels": "21"}
    # Converted to glTF by Assimp, the rotations are the motion's.
    pygltflib = pytest.importorskip("pygltflib")
    np = pytest.importorskip("numpy")
    converted = tmp_path / "converted.glb"
    subprocess.run([assimp, "export", str(path), str(converted)], check=True, capture_output=True)
    gltf = pygltflib.GLTF2().load(str(converted))
    blob = gltf.binary_blob()
    animation = gltf.animations[0]
    checked = 0
    for channel in animation.channels:
        name = gltf.nodes[channel.target.node].name
        if channel.target.path != "rotation" or name not in JOINT_NAMES:
            continue
        accessor = gltf.accessors[animation.samplers[channel.sampler].output]
        view = gltf.bufferViews[accessor.bufferView]
        offset = view.byteOffset + (accessor.byteOffset or 0)
        values = np.frombuffer(blob, np.float32, accessor.count * 4, offset).reshape(-1, 4)
        joint = JOINT_NAMES.index(name)
        expected = np.array([MOTION.rotations[f][joint] for f in range(FRAMES)])
        same_sign = np.sign((values * expected).sum(axis=1))[:, None]
        assert np.allclose(values * same_sign, expected, atol=1e-4)
        checked += 1
    assert checked == len(JOINT_NAMES)
