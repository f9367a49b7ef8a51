"""`ugc.takes`: create_singlecam, create_multicam, retrieve, update, list, with every error path."""

from __future__ import annotations

import pytest

from aio_move_ugc import (
    AsyncMoveUgc,
    BadRequestError,
    Page,
    SourceFormat,
    SourceIn,
    Take,
)
from aio_move_ugc.emulator import Emulator
from aio_move_ugc.types import TakeType

from . import _paths as paths
from ._paths import Case
from .support import finished_volume, singlecam_take, uploaded_file

MISSING = "take-00000000-0000-4000-8000-000000000000"
MISSING_VOLUME = "volume-00000000-0000-4000-8000-000000000000"


async def _singlecam_sources(ugc: AsyncMoveUgc) -> list[SourceIn]:
    video, move = await uploaded_file(ugc), await uploaded_file(ugc, "move")
    return [
        SourceIn(device_label="phone", file_id=video.id, format=SourceFormat.MP4),
        SourceIn(device_label="phone", file_id=move.id, format=SourceFormat.MOVE),
    ]


def _check_singlecam(emu: Emulator, sources: list[SourceIn], take: Take) -> None:
    assert take.id.startswith("take-")
    assert take.take_type == TakeType.SINGLE_CAM
    assert (take.name, take.metadata) == ("dance", {"n": 1})
    record = emu.state.takes[take.id]
    assert [s.file_id for s in record.sources] == [s.file_id for s in sources]
    assert [s.format for s in record.sources] == ["MP4", "MOVE"]


async def _multicam_inputs(ugc: AsyncMoveUgc) -> tuple[str, list[SourceIn]]:
    volume, sources = await finished_volume(ugc)
    return volume.id, sources


def _check_multicam(emu: Emulator, ctx: tuple[str, list[SourceIn]], take: Take) -> None:
    volume_id, _ = ctx
    assert take.take_type == TakeType.MULTI_CAM
    record = emu.state.takes[take.id]
    assert record.volume_id == volume_id
    assert record.sync_method == {"clapWindow": {"startTime": 0.5, "endTime": 1.5}}
    assert [s.lens for s in record.sources] == ["goprohero10-2-7k"] * 2


def _check_retrieved(emu: Emulator, ctx: Take, take: Take) -> None:
    assert take.id == ctx.id
    assert take.client is not None
    assert take.client.id == emu.state.client.id
    assert take.sources is not None
    assert len(take.sources) == 1
    assert take.sources[0].format == SourceFormat.MP4
    assert take.video_file is not None
    assert take.sources[0].file is not None
    assert take.video_file.id == take.sources[0].file.id
    assert take.volume is None


def _check_updated(emu: Emulator, ctx: Take, take: Take) -> None:
    assert (take.id, take.name, take.metadata) == (ctx.id, "renamed", [1, "two"])
    assert emu.state.takes[ctx.id].metadata == '[1,"two"]'


async def _two_takes(ugc: AsyncMoveUgc) -> list[Take]:
    return [await singlecam_take(ugc), await singlecam_take(ugc)]


def _check_page(emu: Emulator, takes: list[Take], page: Page[Take]) -> None:
    assert [t.id for t in page.items] == [t.id for t in reversed(takes)]
    assert page.next_token is None


CASES = [
    Case(
        "takes.create_singlecam",
        "CreateSingleCamTake",
        lambda ugc, sources: ugc.takes.create_singlecam(sources, name="dance", metadata={"n": 1}),
        prepare=_singlecam_sources,
        check=_check_singlecam,
        creates="takes",
    ),
    Case(
        "takes.create_multicam",
        "CreateMultiCamTake",
        lambda ugc, ctx: ugc.takes.create_multicam(
            ctx[1],
            volume_id=ctx[0],
            sync_method={"clap_window": {"start_time": 0.5, "end_time": 1.5}},
        ),
        prepare=_multicam_inputs,
        check=_check_multicam,
        creates="takes",
    ),
    Case(
        "takes.retrieve",
        "GetTake",
        lambda ugc, take: ugc.takes.retrieve(take.id, expand=["sources", "client", "volume"]),
        prepare=singlecam_take,
        check=_check_retrieved,
    ),
    Case(
        "takes.update",
        "UpdateTake",
        lambda ugc, take: ugc.takes.update(take.id, name="renamed", metadata=[1, "two"]),
        prepare=singlecam_take,
        check=_check_updated,
    ),
    Case(
        "takes.list",
        "ListTakes",
        lambda ugc, takes: ugc.takes.list(limit=5),
        prepare=_two_takes,
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
    await paths.not_found(ugc.takes.retrieve(MISSING), emu, "GetTake")


async def test_update_missing(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    await paths.not_found(ugc.takes.update(MISSING, name="x"), emu, "UpdateTake")


async def test_multicam_with_missing_volume(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    _, sources = await finished_volume(ugc)
    before = len(emu.state.takes)
    call = ugc.takes.create_multicam(sources, volume_id=MISSING_VOLUME)
    await paths.not_found(call, emu, "CreateMultiCamTake")
    assert len(emu.state.takes) == before


async def test_singlecam_with_unknown_file_is_a_bad_request(
    emu: Emulator, ugc: AsyncMoveUgc
) -> None:
    source = SourceIn(device_label="cam", file_id="file-unknown", format=SourceFormat.MP4)
    with pytest.raises(BadRequestError) as caught:
        await ugc.takes.create_singlecam([source])
    assert caught.value.error_type == "BadRequestException"
    assert caught.value.status == 200
    assert emu.state.takes == {}


async def test_multicam_before_the_volume_finished_is_a_bad_request(
    emu: Emulator, ugc: AsyncMoveUgc
) -> None:
    _, sources = await finished_volume(ugc)
    fresh = await ugc.volumes.create_human_volume(sources, human_height=1.7, area_type="LARGE")
    with pytest.raises(BadRequestError, match="not FINISHED"):
        await ugc.takes.create_multicam(sources, volume_id=fresh.id)


async def test_sources_given_as_dicts(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    file = await uploaded_file(ugc)
    take = await ugc.takes.create_singlecam(
        [{"deviceLabel": "cam", "fileId": file.id, "format": "mp4"}]
    )
    assert emu.state.takes[take.id].sources[0].format == "MP4"


async def test_list_walks_every_page_once(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    takes = [await singlecam_take(ugc) for _ in range(5)]
    pages_before = emu.stats.operations["ListTakes"]
    seen = [take.id async for take in ugc.takes.list(limit=2)]
    assert sorted(seen) == sorted(t.id for t in takes)
    assert len(seen) == len(set(seen)) == 5
    assert seen == [t.id for t in reversed(takes)], "newest first by default"
    assert emu.stats.operations["ListTakes"] - pages_before == 3


async def test_list_ascending_reverses_the_order(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    takes = [await singlecam_take(ugc) for _ in range(3)]
    descending = [t.id async for t in ugc.takes.list()]
    ascending = [t.id async for t in ugc.takes.list(sort_by="ASC")]
    assert ascending == [t.id for t in takes]
    assert ascending == list(reversed(descending))


async def test_list_pages_and_resume_from_a_token(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    takes = [await singlecam_take(ugc) for _ in range(3)]
    first = await ugc.takes.list(limit=2)
    assert len(first.items) == 2
    assert first.next_token is not None
    rest = await ugc.takes.list(limit=2, next_token=first.next_token)
    assert rest.next_token is None
    assert [t.id for t in first.items + rest.items] == [t.id for t in reversed(takes)]
    pages = [page async for page in ugc.takes.list(limit=2).pages()]
    assert [len(p.items) for p in pages] == [2, 1]


async def test_list_of_nothing(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    page = await ugc.takes.list()
    assert page.items == []
    assert page.next_token is None
    assert [t async for t in ugc.takes.list()] == []


async def test_list_expands(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    take = await singlecam_take(ugc)
    (listed,) = (await ugc.takes.list(expand=["sources"])).items
    assert listed.id == take.id
    assert listed.sources is not None
    assert listed.video_file is not None
