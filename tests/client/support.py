"""Helpers of the client tests: seeded faults that hit a chosen request, uploads, takes, volumes."""

from __future__ import annotations

import asyncio
import io

import aiohttp

from aio_move_ugc import (
    AsyncMoveUgc,
    CameraSettings,
    File,
    HumanVolume,
    JobState,
    SourceFormat,
    SourceIn,
    Take,
)
from aio_move_ugc.emulator import Emulator, RouteFaults
from aio_move_ugc.emulator._faults import FaultInjector

SEED = 4
"""A seed whose first fault draw on the GraphQL route is lower than the next several."""

VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4
LENS = "goprohero10-2-7k"


def faults_on_first(emu: Emulator, kind: str, *, spared: int = 4) -> RouteFaults:
    """GraphQL faults that hit the next request only and spare the `spared` after it.

    The emulator draws each request's fate from its seed; the rate is chosen by replaying
    those draws with the emulator's own injector, so a change of its generator shows up here.
    """
    field = {"429": "rate_429", "500": "rate_500", "503": "rate_503", "reset": "reset_rate"}[kind]
    for percent in range(1, 100):
        faults = RouteFaults(**{field: percent / 100})
        injector = FaultInjector(emu.config.seed, {"graphql": faults})
        fates = [injector.draw("graphql") for _ in range(spared + 1)]
        first = fates[0]
        if first is not None and first.kind == kind and all(f is None for f in fates[1:]):
            return faults
    raise AssertionError(f"seed {emu.config.seed} has no rate that faults only the first request")


def inject_once(emu: Emulator, kind: str) -> None:
    emu.set_faults("graphql", faults_on_first(emu, kind))


async def put_bytes(url: str, data: bytes = VIDEO) -> None:
    """PUT to a presigned URL as S3 wants it: exact length, no Content-Type, no Authorization."""
    async with (
        aiohttp.ClientSession() as session,
        session.put(url, data=io.BytesIO(data), skip_auto_headers={"Content-Type"}) as resp,
    ):
        body = await resp.read()
        assert resp.status == 200, body


async def uploaded_file(ugc: AsyncMoveUgc, file_type: str = "mp4") -> File:
    """A file record whose bytes are in storage (createFile, then a PUT to its URL)."""
    file = await ugc.files.create(file_type)
    assert file.presigned_url is not None
    await put_bytes(file.presigned_url)
    return file


async def singlecam_take(ugc: AsyncMoveUgc) -> Take:
    file = await uploaded_file(ugc)
    return await ugc.takes.create_singlecam(
        [SourceIn(device_label="cam", file_id=file.id, format=SourceFormat.MP4)]
    )


async def camera_sources(ugc: AsyncMoveUgc, count: int = 2) -> list[SourceIn]:
    files = [await uploaded_file(ugc) for _ in range(count)]
    return [
        SourceIn(
            device_label=f"cam{i}",
            file_id=f.id,
            format=SourceFormat.MP4,
            camera_settings=CameraSettings(lens=LENS),
        )
        for i, f in enumerate(files)
    ]


async def finished_volume(ugc: AsyncMoveUgc) -> tuple[HumanVolume, list[SourceIn]]:
    """A human volume that has finished calibrating, and the sources it was made from."""
    sources = await camera_sources(ugc)
    volume = await ugc.volumes.create_human_volume(sources, human_height=1.8, area_type="NORMAL")
    for _ in range(200):
        volume = await ugc.volumes.retrieve_human_volume(volume.id)
        if volume.state == JobState.FINISHED:
            return volume, sources
        await asyncio.sleep(0.02)
    raise AssertionError("the volume never finished")
