"""`ugc.jobs`: create_singlecam, create_multicam, retrieve, update, list, with every error path."""

from __future__ import annotations

import asyncio

import pytest

from aio_move_ugc import (
    AsyncMoveUgc,
    BadRequestError,
    Job,
    JobState,
    OutcomeUnknownError,
    OutputType,
    Page,
    Take,
)
from aio_move_ugc.emulator import Emulator, RouteFaults

from . import _paths as paths
from ._paths import Case
from .support import finished_volume, singlecam_take

MISSING = "job-00000000-0000-4000-8000-000000000000"
MISSING_TAKE = "take-00000000-0000-4000-8000-000000000000"


async def multicam_take(ugc: AsyncMoveUgc) -> Take:
    volume, sources = await finished_volume(ugc)
    return await ugc.takes.create_multicam(sources, volume_id=volume.id)


async def _job(ugc: AsyncMoveUgc) -> Job:
    take = await singlecam_take(ugc)
    return await ugc.jobs.create_singlecam(take.id, name="first", metadata={"a": 1})


def _check_singlecam(emu: Emulator, take: Take, job: Job) -> None:
    assert job.id.startswith("job-")
    assert job.current_state == JobState.NOT_STARTED
    assert job.progress is not None
    assert job.progress.percentage_complete == 0
    assert (job.name, job.metadata) == ("walk", {"k": "v"})
    record = emu.state.jobs[job.id]
    assert record.take_id == take.id
    assert record.outputs == ("MAIN_FBX", "RENDER_VIDEO")
    assert record.clip_window == {"startTime": 1.0, "endTime": 2.5}
    assert record.options == {"trackFingers": True, "mocapModel": "S2"}


def _check_multicam(emu: Emulator, take: Take, job: Job) -> None:
    record = emu.state.jobs[job.id]
    assert (record.take_id, record.job_type) == (take.id, "MULTI_CAM")
    assert (record.number_of_actors, record.rig) == (2, "move_ue5")
    assert job.rig is not None
    assert job.rig.name == "move_ue5"
    assert job.inputs is not None
    assert job.inputs.number_of_actors == 2
    assert len(record.outputs) == 6, "the multicam defaults"


def _check_retrieved(emu: Emulator, ctx: Job, job: Job) -> None:
    assert job.id == ctx.id
    assert job.take is not None
    assert job.take.id == emu.state.jobs[ctx.id].take_id
    assert job.client is not None
    assert job.client.id == emu.state.client.id
    assert job.outputs == [], "no outputs before the job finished"
    assert job.inputs is not None
    assert job.inputs.number_of_actors is None
    assert job.rig is None


def _check_updated(emu: Emulator, ctx: Job, job: Job) -> None:
    assert (job.id, job.name, job.metadata) == (ctx.id, "renamed", {"a": 2})
    assert emu.state.jobs[ctx.id].name == "renamed"


async def _jobs_of_two_takes(ugc: AsyncMoveUgc) -> tuple[Take, list[Job]]:
    take, other = await singlecam_take(ugc), await singlecam_take(ugc)
    mine = [await ugc.jobs.create_singlecam(take.id) for _ in range(2)]
    await ugc.jobs.create_singlecam(other.id)
    return take, mine


def _check_filtered(emu: Emulator, ctx: tuple[Take, list[Job]], page: Page[Job]) -> None:
    take, mine = ctx
    assert [j.id for j in page.items] == [j.id for j in reversed(mine)]
    assert all(j.take is not None and j.take.id == take.id for j in page.items)


CASES = [
    Case(
        "jobs.create_singlecam",
        "CreateSingleCamJob",
        lambda ugc, take: ugc.jobs.create_singlecam(
            take.id,
            name="walk",
            metadata={"k": "v"},
            outputs=["main_fbx", OutputType.RENDER_VIDEO, "MAIN_FBX"],
            clip_window={"start_time": 1, "end_time": 2.5},
            options={"track_fingers": True, "mocap_model": "S2"},
        ),
        prepare=singlecam_take,
        check=_check_singlecam,
        creates="jobs",
    ),
    Case(
        "jobs.create_multicam",
        "CreateMultiCamJob",
        lambda ugc, take: ugc.jobs.create_multicam(
            take.id, number_of_actors=2, rig="move_ue5", expand=["rig", "inputs"]
        ),
        prepare=multicam_take,
        check=_check_multicam,
        creates="jobs",
    ),
    Case(
        "jobs.retrieve",
        "GetJob",
        lambda ugc, job: ugc.jobs.retrieve(
            job.id, expand=["take", "client", "outputs", "inputs", "rig"]
        ),
        prepare=_job,
        check=_check_retrieved,
    ),
    Case(
        "jobs.update",
        "UpdateJob",
        lambda ugc, job: ugc.jobs.update(job.id, name="renamed", metadata={"a": 2}),
        prepare=_job,
        check=_check_updated,
    ),
    Case(
        "jobs.list",
        "ListJobs",
        lambda ugc, ctx: ugc.jobs.list(take_id=ctx[0].id, expand=["take"]),
        prepare=_jobs_of_two_takes,
        check=_check_filtered,
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
    error = await paths.not_found(ugc.jobs.retrieve(MISSING), emu, "GetJob")
    assert error.errors[0]["path"] == ["getJob"]
    assert error.data is None


async def test_update_missing(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    await paths.not_found(ugc.jobs.update(MISSING, name="x"), emu, "UpdateJob")


async def test_singlecam_job_of_missing_take(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    await paths.not_found(ugc.jobs.create_singlecam(MISSING_TAKE), emu, "CreateSingleCamJob")
    assert emu.state.jobs == {}


async def test_multicam_job_of_missing_take(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    await paths.not_found(ugc.jobs.create_multicam(MISSING_TAKE), emu, "CreateMultiCamJob")
    assert emu.state.jobs == {}


async def test_multicam_job_of_a_singlecam_take_is_a_bad_request(
    emu: Emulator, ugc: AsyncMoveUgc
) -> None:
    take = await singlecam_take(ugc)
    with pytest.raises(BadRequestError, match="createSingleCamJob"):
        await ugc.jobs.create_multicam(take.id)
    assert emu.state.jobs == {}


async def test_job_of_a_take_whose_video_was_never_uploaded(
    emu: Emulator, ugc: AsyncMoveUgc
) -> None:
    file = await ugc.files.create("mp4")
    take = await ugc.takes.create_singlecam(
        [{"device_label": "cam", "file_id": file.id, "format": "MP4"}]
    )
    with pytest.raises(BadRequestError, match="has not been uploaded"):
        await ugc.jobs.create_singlecam(take.id)


async def test_singlecam_defaults(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    take = await singlecam_take(ugc)
    job = await ugc.jobs.create_singlecam(take.id)
    record = emu.state.jobs[job.id]
    assert len(record.outputs) == 7
    assert (record.clip_window, record.options, record.name) == (None, None, None)


async def test_outcome_unknown_names_the_take_to_look_up(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    take = await singlecam_take(ugc)
    emu.set_faults("graphql", RouteFaults(reset_rate=1.0))
    with pytest.raises(OutcomeUnknownError) as caught:
        await ugc.jobs.create_singlecam(take.id, name="nightly")
    emu.set_faults("graphql", None)
    assert f"jobs.list(take_id={take.id!r})" in caught.value.lookup
    assert "'nightly'" in caught.value.lookup
    (job,) = (await ugc.jobs.list(take_id=take.id)).items
    assert job.name == "nightly", "the lookup the error suggests finds the job"


async def test_job_runs_to_finished_with_outputs(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    take = await singlecam_take(ugc)
    job = await ugc.jobs.create_singlecam(take.id, outputs=["MAIN_FBX", "MOTION_DATA"])
    seen = {job.current_state}
    for _ in range(100):
        job = await ugc.jobs.retrieve(job.id, expand=["outputs"])
        seen.add(job.current_state)
        if job.outputs and all(o.file.presigned_url for o in job.outputs):
            break
        await asyncio.sleep(0.03)
    assert job.outputs
    assert all(o.file.presigned_url for o in job.outputs)
    assert seen >= {JobState.NOT_STARTED, JobState.RUNNING, JobState.FINISHED}
    assert job.progress is not None
    assert job.progress.percentage_complete == 100
    assert job.outputs is not None
    assert {o.output_type for o in job.outputs} == {OutputType.MAIN_FBX, OutputType.MOTION_DATA}


async def test_list_one_page_has_a_token(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    take = await singlecam_take(ugc)
    jobs = [await ugc.jobs.create_singlecam(take.id) for _ in range(3)]
    page = await ugc.jobs.list(limit=2)
    assert isinstance(page, Page)
    assert [j.id for j in page.items] == [j.id for j in reversed(jobs)][:2]
    assert page.next_token is not None
    assert page.first == 2
    assert emu.stats.operations["ListJobs"] == 1


async def test_list_ascending_and_filtered(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    take, other = await singlecam_take(ugc), await singlecam_take(ugc)
    mine = [await ugc.jobs.create_singlecam(take.id) for _ in range(3)]
    theirs = await ugc.jobs.create_singlecam(other.id)
    ascending = [j.id async for j in ugc.jobs.list(take_id=take.id, sort_by="asc", limit=2)]
    assert ascending == [j.id for j in mine]
    everything = [j.id async for j in ugc.jobs.list(sort_by="DESC")]
    assert everything == [theirs.id, *reversed(ascending)]
