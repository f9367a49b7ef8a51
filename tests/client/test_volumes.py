"""`ugc.volumes`: create_human_volume, retrieve_human_volume, list, with every error path."""

from __future__ import annotations

import pytest

from aio_move_ugc import (
    AreaType,
    AsyncMoveUgc,
    BadRequestError,
    ClipWindow,
    HumanVolume,
    Page,
    SourceIn,
)
from aio_move_ugc.emulator import Emulator

from . import _paths as paths
from ._paths import Case
from .support import LENS, camera_sources, finished_volume

MISSING = "volume-00000000-0000-4000-8000-000000000000"


def _check_created(emu: Emulator, sources: list[SourceIn], volume: HumanVolume) -> None:
    assert volume.id.startswith("volume-")
    assert (volume.area_type, volume.human_height) == (AreaType.LARGE, 1.75)
    assert volume.clip_window == ClipWindow(start_time=0, end_time=3)
    record = emu.state.volumes[volume.id]
    assert [s.file_id for s in record.sources] == [s.file_id for s in sources]
    assert record.metadata == '{"rig":"studio"}'
    assert record.clip_window == {"startTime": 0.0, "endTime": 3.0}


def _check_retrieved(
    emu: Emulator, ctx: tuple[HumanVolume, list[SourceIn]], vol: HumanVolume
) -> None:
    volume, _ = ctx
    assert vol.id == volume.id
    assert vol.state == "FINISHED"
    assert vol.progress is not None
    assert vol.progress.percentage_complete == 100
    assert vol.sources is not None
    assert [s.camera_settings.lens for s in vol.sources if s.camera_settings] == [LENS, LENS]
    assert vol.client is not None
    assert vol.client.id == emu.state.client.id


async def _two_volumes(ugc: AsyncMoveUgc) -> list[HumanVolume]:
    sources = await camera_sources(ugc)
    return [
        await ugc.volumes.create_human_volume(sources, human_height=h, area_type="NORMAL")
        for h in (1.6, 1.9)
    ]


def _check_page(emu: Emulator, volumes: list[HumanVolume], page: Page[HumanVolume]) -> None:
    assert [v.id for v in page.items] == [volumes[0].id]
    assert page.next_token is not None


CASES = [
    Case(
        "volumes.create_human_volume",
        "CreateVolumeWithHuman",
        lambda ugc, sources: ugc.volumes.create_human_volume(
            sources,
            human_height=1.75,
            area_type="large",
            metadata={"rig": "studio"},
            clip_window={"start_time": 0, "end_time": 3},
            expand=["clipWindow"],
        ),
        prepare=camera_sources,
        check=_check_created,
        creates="volumes",
    ),
    Case(
        "volumes.retrieve_human_volume",
        "GetVolume",
        lambda ugc, ctx: ugc.volumes.retrieve_human_volume(
            ctx[0].id, expand=["sources", "client", "outputs"]
        ),
        prepare=finished_volume,
        check=_check_retrieved,
    ),
    Case(
        "volumes.list",
        "ListVolumes",
        lambda ugc, volumes: ugc.volumes.list(limit=1, sort_by="ASC"),
        prepare=_two_volumes,
        check=_check_page,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_succeeds(case: Case, emu: Emulator, ugc: AsyncMoveUgc) -> None:
    await paths.succeeds(case, emu, ugc)


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_wrong_key_is_refused(
    case: Case, emu: Emulator, ugc: AsyncMoveUgc, wrong_key: AsyncMoveUgc
) -> None:
    await paths.unauthorized(case, emu, ugc, wrong_key)


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_rejected_document_is_a_validation_error(
    case: Case, emu: Emulator, ugc: AsyncMoveUgc
) -> None:
    await paths.rejected_document(case, emu, ugc)


@pytest.mark.parametrize("kind", ["429", "503"])
@pytest.mark.parametrize("case", CASES, ids=str)
async def test_retried_after_refusal(
    case: Case, kind: str, emu: Emulator, ugc: AsyncMoveUgc
) -> None:
    await paths.succeeds_after_fault(case, emu, ugc, kind)


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_connection_cut_after_send(case: Case, emu: Emulator, ugc: AsyncMoveUgc) -> None:
    await paths.connection_cut(case, emu, ugc)


async def test_retrieve_missing(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    error = await paths.not_found(ugc.volumes.retrieve_human_volume(MISSING), emu, "GetVolume")
    assert error.errors[0]["path"] == ["getVolume"]


async def test_height_out_of_range_is_a_bad_request(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    sources = await camera_sources(ugc)
    with pytest.raises(BadRequestError, match="humanHeight"):
        await ugc.volumes.create_human_volume(sources, human_height=3.5, area_type="NORMAL")
    assert emu.state.volumes == {}


async def test_volume_finishes(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    volume, _ = await finished_volume(ugc)
    assert volume.state == "FINISHED"
    assert emu.state.volumes[volume.id].human_height == 1.8


async def test_list_walks_every_volume(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    volumes = await _two_volumes(ugc)
    newest_first = [v.id async for v in ugc.volumes.list(limit=1)]
    assert newest_first == [v.id for v in reversed(volumes)]
    assert emu.stats.operations["ListVolumes"] == 2
