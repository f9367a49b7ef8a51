"""`ugc.jobs.download_outputs`: names from our own mapping only, subsets, exact bytes, and server
strings that never reach a path."""

from __future__ import annotations

from pathlib import Path

import pytest

from aio_move_ugc import (
    AdditionalFile,
    AsyncMoveUgc,
    File,
    InvalidInputError,
    Job,
    OutputType,
    SourceIn,
)
from aio_move_ugc.emulator import Emulator, Variants
from aio_move_ugc.transfers import TransferConfig, output_filename
from tests.support import MakeClient, MakeEmulator, MiB

from .support import random_file

SINGLECAM_SUFFIXES = {
    "RENDER_VIDEO": ".mp4",
    "MAIN_FBX": ".fbx",
    "MAIN_USDC": ".usdc",
    "MAIN_USDZ": ".usdz",
    "MAIN_BLEND": ".blend",
    "MOTION_DATA": ".json",
    "RENDER_OVERLAY_VIDEO": ".mp4",
}
"""The default outputs of a singlecam job and the suffixes their files must get."""


async def started_job(ugc: AsyncMoveUgc, tmp_path: Path) -> Job:
    video = await random_file(tmp_path / "take.mp4", 2048)
    file = await ugc.files.upload(video)
    take = await ugc.takes.create_singlecam(
        [SourceIn(device_label="cam", file_id=file.id, format="MP4")]
    )
    return await ugc.jobs.create_singlecam(take.id)


def stored_output(emu: Emulator, job_id: str, output_type: str) -> bytes:
    file_id = emu.state.jobs[job_id].output_files[output_type]
    return emu.storage.read_bytes(emu.state.files[file_id].key)


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


async def test_every_output_lands_under_its_own_name_with_the_stored_bytes(
    make_emulator: MakeEmulator, make_client: MakeClient, tmp_path: Path
) -> None:
    emu = await make_emulator(output_size=3 * MiB + 17)
    ugc = make_client(emulator=emu, transfer_config=TransferConfig(part_size=MiB))
    job = await started_job(ugc, tmp_path)
    dest = tmp_path / "outputs"
    reports: list[tuple[int, int]] = []

    landed = await ugc.jobs.download_outputs(
        job.id, dest, interval=0.05, timeout=20, progress=lambda d, t: reports.append((d, t))
    )

    expected = {f"{job.id}_{kind.lower()}{suffix}" for kind, suffix in SINGLECAM_SUFFIXES.items()}
    assert tree(dest) == sorted(expected)
    assert {kind.value for kind in landed} == set(SINGLECAM_SUFFIXES)
    for kind, path in landed.items():
        assert path == dest / f"{job.id}_{kind.value.lower()}{SINGLECAM_SUFFIXES[kind.value]}"
        assert path.read_bytes() == stored_output(emu, job.id, kind.value)
    total = 7 * (3 * MiB + 17)
    assert reports[-1] == (total, total)


async def test_types_limit_what_is_downloaded(
    make_emulator: MakeEmulator, make_client: MakeClient, variant: Variants, tmp_path: Path
) -> None:
    emu = await make_emulator(variants=variant)
    ugc = make_client(emulator=emu)
    job = await started_job(ugc, tmp_path)
    dest = tmp_path / "outputs"
    landed = await ugc.jobs.download_outputs(
        job.id, dest, types=["MAIN_FBX", OutputType.MOTION_DATA], interval=0.05, timeout=20
    )
    assert set(landed) == {OutputType.MAIN_FBX, OutputType.MOTION_DATA}
    assert tree(dest) == [f"{job.id}_main_fbx.fbx", f"{job.id}_motion_data.json"]
    for kind, path in landed.items():
        assert path.read_bytes() == stored_output(emu, job.id, kind.value)
    assert emu.stats.storage_count("GET") == 2


async def test_a_type_the_job_did_not_produce_is_refused(
    emu: Emulator, ugc: AsyncMoveUgc, tmp_path: Path
) -> None:
    job = await started_job(ugc, tmp_path)
    with pytest.raises(InvalidInputError, match="MAIN_GLB"):
        await ugc.jobs.download_outputs(
            job.id, tmp_path / "outputs", types=["MAIN_GLB"], interval=0.05, timeout=20
        )
    assert emu.stats.storage_count("GET") == 0


async def test_server_strings_never_reach_the_path(
    make_emulator: MakeEmulator, make_client: MakeClient, variant: Variants, tmp_path: Path
) -> None:
    """Outputs whose `format`/`key` the server sets to paths are not written anywhere."""
    emu = await make_emulator(variants=variant)
    ugc = make_client(emulator=emu)
    job = await started_job(ugc, tmp_path)
    await ugc.jobs.wait(job.id, interval=0.05, timeout=20)
    record = emu.state.jobs[job.id]
    fbx_file = record.output_files["MAIN_FBX"]
    escape = tmp_path / "escaped.fbx"
    for hostile in ("../../escaped.fbx", str(escape), "/etc/passwd", "MAIN_FBX/../../x", "..\\x"):
        record.output_files[hostile] = fbx_file  # served as both `format` and `key`
    served = await ugc.jobs.retrieve(job.id, expand=["outputs"])
    assert len(served.outputs or []) == len(SINGLECAM_SUFFIXES) + 5

    dest = tmp_path / "deep" / "outputs"
    before = tree(tmp_path)
    landed = await ugc.jobs.download_outputs(job.id, dest, interval=0.05, timeout=20)

    assert {kind.value for kind in landed} == set(SINGLECAM_SUFFIXES)
    assert all(path.parent == dest for path in landed.values())
    new = sorted(set(tree(tmp_path)) - set(before))
    assert new == sorted(
        ["deep", "deep/outputs", *(f"deep/outputs/{p.name}" for p in landed.values())]
    )
    assert not escape.exists()


@pytest.mark.parametrize(
    ("fmt", "key", "expected"),
    [
        ("../../etc/passwd", "/abs/path", None),
        ("MAIN_FBX/../x", None, None),
        ("../x", "MAIN_FBX", OutputType.MAIN_FBX),
        ("MOTION_DATA", "../y", OutputType.MOTION_DATA),
    ],
)
def test_output_type_comes_only_from_known_names(
    fmt: str, key: str | None, expected: OutputType | None
) -> None:
    output = AdditionalFile(file=File(id="file-1"), format=fmt, key=key)
    assert output.output_type is expected
    if expected is not None:
        name = output_filename("job-1", expected)
        assert "/" not in name
        assert ".." not in name
        assert name.startswith("job-1_")


@pytest.mark.parametrize("job_id", ["../job", "a/b", "/abs", "", ".hidden", "job\x00", "j" * 200])
def test_job_ids_unfit_for_a_file_name_are_refused(job_id: str) -> None:
    with pytest.raises(InvalidInputError):
        output_filename(job_id, OutputType.MAIN_FBX)


def test_every_output_type_has_a_distinct_name() -> None:
    names = {output_filename("job-1", kind) for kind in OutputType}
    assert len(names) == len(OutputType)
    assert all(name.startswith("job-1_") and "/" not in name for name in names)
