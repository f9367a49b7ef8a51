"""The client's core flows under every variant of the hosted service's unobserved behaviours.

Each test runs once per name in `aio_move_ugc.emulator.VARIANTS` (the `variant` fixture):
outputs labelled `MAIN_FBX`, `main_fbx` or `fbx`; outputs that become ready with null URLs,
one by one or all at once; throttling answered four ways; missing metadata read as null or
`"{}"`. Whatever the variant, every requested output arrives with the bytes the emulator
serves, and nothing is ever handed back partial without an error.

Time is the emulator's: the client's clock sleeps by moving the emulator's clock forward, so
jobs that take seconds of the emulator's time finish at once and every deadline is exact.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from aio_move_ugc import (
    AdditionalFile,
    AsyncMoveUgc,
    File,
    InvalidInputError,
    Job,
    OutputLabel,
    OutputMissingError,
    OutputsNotReadyError,
    OutputsReady,
    OutputType,
    RetryPolicy,
    SourceFormat,
    SourceIn,
    WatchTimeoutError,
)
from aio_move_ugc.bulk import BulkItem
from aio_move_ugc.emulator import Emulator, RouteFaults, Variants
from aio_move_ugc.testing import EmulatorClock
from aio_move_ugc.transfers import output_filename
from aio_move_ugc.transfers.naming import label_filename
from aio_move_ugc.transfers.outputs import (
    SINGLECAM_DEFAULT_OUTPUTS,
    match_outputs,
    missing_outputs,
    output_candidates,
    outputs_ready,
)

from .support import FAST

TIMING = replace(FAST, job_queue_delay=1.0, job_duration=4.0, output_lag=8.0, output_size=4096)
"""Emulator seconds: a job finishes 5 s after creation, its outputs are all ready 8 s later."""
INTERVAL = 0.5
ASKED = (
    OutputType.MAIN_FBX,
    OutputType.RENDER_VIDEO,
    OutputType.RENDER_OVERLAY_VIDEO,
    OutputType.MOTION_DATA,
)
"""Two outputs share the `mp4` label under extension labels; one more is JSON."""


@dataclass
class Env:
    emu: Emulator
    ugc: AsyncMoveUgc
    variant: Variants
    tmp: Path

    def client(self, **kwargs: object) -> AsyncMoveUgc:
        """Another client of the same emulator and clock (one that created nothing)."""
        return AsyncMoveUgc(
            self.emu.api_key,
            endpoint_url=self.emu.endpoint_url,
            clock=EmulatorClock(self.emu),
            **kwargs,  # type: ignore[arg-type]
        )


@pytest.fixture
async def env(variant: Variants, tmp_path: Path) -> AsyncIterator[Env]:
    async with Emulator(replace(TIMING, variants=variant)) as emu:
        ugc = AsyncMoveUgc(
            emu.api_key,
            endpoint_url=emu.endpoint_url,
            clock=EmulatorClock(emu),
            retry=RetryPolicy(max_retries=10),
        )
        async with ugc:
            yield Env(emu, ugc, variant, tmp_path)


async def new_take(env: Env, name: str = "take") -> str:
    video = env.tmp / f"{name}.mp4"
    video.write_bytes(os.urandom(4096))
    file = await env.ugc.files.upload(video)
    take = await env.ugc.takes.create_singlecam(
        [SourceIn(device_label="cam", file_id=file.id, format=SourceFormat.MP4)]
    )
    return take.id


async def served(env: Env, job_id: str) -> dict[str, bytes]:
    """What the emulator serves for each output of the job, by output type."""
    record = env.emu.state.jobs[job_id]

    def read() -> dict[str, bytes]:
        return {
            kind: env.emu.storage.read_bytes(env.emu.state.files[file_id].key)
            for kind, file_id in record.output_files.items()
        }

    return await anyio.to_thread.run_sync(read)


async def assert_landed(
    env: Env, job_id: str, landed: dict[OutputType | OutputLabel, Path], asked: Sequence[OutputType]
) -> None:
    assert set(landed) == set(asked)
    expected = await served(env, job_id)
    for kind in asked:
        assert isinstance(kind, OutputType)
        path = landed[kind]
        assert path.name == output_filename(job_id, kind)
        on_disk = await anyio.Path(path).read_bytes()
        assert on_disk == expected[kind.value], f"{kind.value} differs from what was served"


def assert_complete(job: Job, asked: Sequence[OutputType]) -> None:
    """Every asked output is listed with a URL, each told apart from the others."""
    ready = [o for o in job.outputs or [] if o.file.presigned_url]
    matched, unmatched = match_outputs(ready, asked)
    assert set(asked) <= set(matched)
    assert not unmatched


# ------------------------------------------------------------------ every variant
async def test_create_wait_download_brings_every_requested_output(env: Env) -> None:
    job = await env.ugc.jobs.create_singlecam(await new_take(env), outputs=ASKED)
    ready = await env.ugc.jobs.wait(job.id, interval=INTERVAL)
    assert_complete(ready, ASKED)

    landed = await env.ugc.jobs.download_outputs(job.id, env.tmp / "out", interval=INTERVAL)
    await assert_landed(env, job.id, landed, ASKED)


async def test_default_outputs_arrive_in_full(env: Env) -> None:
    job = await env.ugc.jobs.create_singlecam(await new_take(env))
    landed = await env.ugc.jobs.download_outputs(job.id, env.tmp / "out", interval=INTERVAL)
    await assert_landed(env, job.id, landed, SINGLECAM_DEFAULT_OUTPUTS)


async def test_a_job_created_elsewhere_is_waited_for_in_full(env: Env) -> None:
    """A client that did not create the job reads its take's type for the defaults, or is
    told what was asked for."""
    defaults = await env.ugc.jobs.create_singlecam(await new_take(env, "a"))
    custom = await env.ugc.jobs.create_singlecam(await new_take(env, "b"), outputs=ASKED)
    async with env.client() as other:
        got = await other.jobs.download_outputs(defaults.id, env.tmp / "a", interval=INTERVAL)
        await assert_landed(env, defaults.id, got, SINGLECAM_DEFAULT_OUTPUTS)
        got = await other.jobs.download_outputs(
            custom.id, env.tmp / "b", interval=INTERVAL, outputs=ASKED
        )
        await assert_landed(env, custom.id, got, ASKED)


async def test_a_job_whose_request_is_unknown_is_taken_whole_once_its_list_settles(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that did not create the job and is not told what it asked for waits until
    the listed outputs stop changing, then takes them without a warning (nothing to act on)."""
    job = await env.ugc.jobs.create_singlecam(await new_take(env), outputs=ASKED)
    async with env.client() as other:
        got = await other.jobs.download_outputs(job.id, env.tmp / "out", interval=INTERVAL)
    await assert_landed(env, job.id, got, ASKED)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_job_whose_request_is_unknown_is_not_ready_early(env: Env) -> None:
    """With nothing to go by, a list that keeps growing is waited for; by the deadline, the
    error says what is missing."""
    job = await env.ugc.jobs.create_singlecam(await new_take(env), outputs=ASKED)
    async with env.client() as other:
        with pytest.raises(OutputsNotReadyError) as caught:
            await other.jobs.wait(job.id, interval=INTERVAL, timeout=10.0)
    assert caught.value.missing
    assert caught.value.job_id == job.id


async def test_watch_reports_outputs_ready_only_once_every_output_has_a_url(env: Env) -> None:
    job = await env.ugc.jobs.create_singlecam(await new_take(env), outputs=ASKED)
    events = [e async for e in env.ugc.jobs.watch(job.id, interval=INTERVAL)]

    kinds = [e.kind for e in events]
    assert kinds[-1] == "outputs_ready"
    assert kinds.count("outputs_ready") == 1
    assert kinds.index("finished") < kinds.index("outputs_ready")
    last = events[-1]
    assert isinstance(last, OutputsReady)
    assert last.job is not None
    assert_complete(last.job, ASKED)
    for event in events[:-1]:  # no earlier event held every output
        assert event.job is None or not outputs_ready(event.job, ASKED)


async def test_until_terminal_may_see_outputs_half_ready_but_not_ready(env: Env) -> None:
    """At FINISHED the job lists some of its outputs, or all without URLs, or none: never
    ready (the old rule, "every listed output has a URL", was fooled by one_by_one)."""
    job = await env.ugc.jobs.create_singlecam(await new_take(env), outputs=ASKED)
    finished = await env.ugc.jobs.wait(job.id, until="terminal", interval=INTERVAL)
    assert not outputs_ready(finished, ASKED)
    assert missing_outputs(finished, ASKED)


async def test_outputs_not_ready_in_time_name_what_is_missing(env: Env) -> None:
    job = await env.ugc.jobs.create_singlecam(await new_take(env), outputs=ASKED)
    # Finished 5 s after creation; 5 s later, one_by_one has listed two of the four.
    with pytest.raises(OutputsNotReadyError) as caught:
        await env.ugc.jobs.download_outputs(
            job.id, env.tmp / "out", interval=INTERVAL, timeout=10.0
        )
    error = caught.value
    assert isinstance(error, WatchTimeoutError)
    assert error.job_id == job.id
    expected = ASKED[2:] if env.variant.readiness == "one_by_one" else ASKED
    assert error.missing == [kind.value for kind in expected]
    assert all(kind.value in str(error) for kind in expected)
    assert not (env.tmp / "out").exists()


async def test_bulk_run_of_three_takes(env: Env) -> None:
    videos = []
    for index in range(3):
        video = env.tmp / f"in-{index}.mp4"
        video.write_bytes(os.urandom(4096))
        videos.append(BulkItem(video))
    results = [
        r
        async for r in env.ugc.bulk.run(
            videos, dest=env.tmp / "out", outputs=list(ASKED), interval=INTERVAL
        )
    ]
    assert len(results) == 3
    for result in results:
        assert result.ok, result.error
        assert result.job_id is not None
        await assert_landed(env, result.job_id, result.outputs, ASKED)


async def test_throttled_calls_are_retried(env: Env) -> None:
    env.emu.set_faults("graphql", RouteFaults(rate_429=0.25))
    job = await env.ugc.jobs.create_singlecam(await new_take(env), outputs=ASKED)
    landed = await env.ugc.jobs.download_outputs(job.id, env.tmp / "out", interval=INTERVAL)
    env.emu.set_faults("graphql", None)

    assert env.emu.stats.faults["graphql 429"] > 0
    await assert_landed(env, job.id, landed, ASKED)


async def test_metadata_reads_alike_whatever_the_service_shows(env: Env) -> None:
    take_id = await new_take(env)
    job = await env.ugc.jobs.create_singlecam(take_id, outputs=[OutputType.MAIN_FBX])
    take = await env.ugc.takes.retrieve(take_id)
    assert take.metadata == {}
    assert job.metadata == {}
    assert env.emu.state.jobs[job.id].metadata == "{}"  # sent as the official SDK sends it

    renamed = await env.ugc.jobs.update(job.id, name="renamed")  # no metadata: left alone
    assert renamed.metadata == {}
    assert env.emu.state.jobs[job.id].metadata == "{}"

    given = await env.ugc.jobs.create_singlecam(take_id, metadata={"shot": 3})
    assert (await env.ugc.jobs.retrieve(given.id)).metadata == {"shot": 3}

    account = await env.ugc.client.retrieve()
    ready = await env.ugc.jobs.wait(job.id, interval=INTERVAL)
    outputs_metadata = [o.file.metadata for o in ready.outputs or []]
    assert account.metadata in (None, {})
    assert outputs_metadata
    assert all(m in (None, {}) for m in outputs_metadata)


async def test_an_output_of_unknown_type_is_downloaded_under_its_label(env: Env) -> None:
    job = await env.ugc.jobs.create_singlecam(await new_take(env), outputs=ASKED)
    await env.ugc.jobs.wait(job.id, interval=INTERVAL)
    extra = env.tmp / "extra.mp4"
    extra.write_bytes(b"a later kind of output")
    extra_file = await env.ugc.files.upload(extra)
    env.emu.state.jobs[job.id].output_files["FUTURE_OUTPUT"] = extra_file.id

    landed = await env.ugc.jobs.download_outputs(job.id, env.tmp / "out", interval=INTERVAL)

    labels = [k for k in landed if not isinstance(k, OutputType)]
    assert set(landed) - set(labels) == set(ASKED)
    (label,) = labels
    expected_label = "mp4" if env.variant.output_labels == "extension" else "future_output"
    assert label == expected_label
    assert label.value == expected_label
    assert landed[label].name == label_filename(job.id, expected_label, "mp4")
    assert landed[label].read_bytes() == b"a later kind of output"


async def test_a_type_the_job_was_not_asked_for_is_refused_before_waiting(env: Env) -> None:
    job = await env.ugc.jobs.create_singlecam(await new_take(env), outputs=ASKED)
    before = env.emu.stats.operations.get("GetJobs", 0)
    with pytest.raises(OutputMissingError, match="MAIN_GLB") as caught:
        await env.ugc.jobs.download_outputs(job.id, env.tmp / "out", types=["MAIN_GLB"])
    assert isinstance(caught.value, InvalidInputError)
    assert caught.value.missing == ["MAIN_GLB"]
    assert env.emu.stats.operations.get("GetJobs", 0) == before


async def test_a_subset_of_types_is_waited_for_and_fetched(env: Env) -> None:
    job = await env.ugc.jobs.create_singlecam(await new_take(env), outputs=ASKED)
    wanted = [OutputType.RENDER_OVERLAY_VIDEO, OutputType.MOTION_DATA]
    landed = await env.ugc.jobs.download_outputs(
        job.id, env.tmp / "out", types=wanted, interval=INTERVAL
    )
    await assert_landed(env, job.id, landed, wanted)


# ------------------------------------------------------------------ telling outputs apart
def output(
    label: str | None, *, name: str | None = None, file_type: str | None = None, fid: str = "f"
) -> AdditionalFile:
    return AdditionalFile(
        file=File(id=fid, name=name, type=file_type, presigned_url="http://x/y"),
        format=label,
        key=label,
    )


@pytest.mark.parametrize(
    ("label", "name", "file_type", "expected"),
    [
        ("MAIN_FBX", None, None, {OutputType.MAIN_FBX}),
        ("main_fbx", None, None, {OutputType.MAIN_FBX}),
        ("Main-Fbx", None, None, {OutputType.MAIN_FBX}),
        ("fbx", None, None, {OutputType.MAIN_FBX}),
        (".FBX", None, None, {OutputType.MAIN_FBX}),
        ("usdz", None, "usdz", {OutputType.MAIN_USDZ}),
        ("mp4", "render_overlay_video.mp4", "mp4", {OutputType.RENDER_OVERLAY_VIDEO}),
        ("mp4", "render_video.mp4", "mp4", {OutputType.RENDER_VIDEO}),
        ("mp4", "overlay.mp4", "mp4", {OutputType.RENDER_OVERLAY_VIDEO}),
        ("mp4", None, "mp4", {OutputType.RENDER_VIDEO, OutputType.RENDER_OVERLAY_VIDEO}),
        ("json", "sync.json", "json", {OutputType.SYNC_DATA}),
        ("json", "motion_data.json", None, {OutputType.MOTION_DATA}),
        ("zip", "fbx.zip", "zip", {OutputType.ALL_FBX}),
        ("zip", "all_usdc.zip", "zip", {OutputType.ALL_USDC}),
        (None, "job-1_main_glb.glb", None, {OutputType.MAIN_GLB}),
        ("something_new", None, "bvh", set()),
        ("../../etc/passwd", None, None, set()),
    ],
)
def test_every_plausible_label_is_read(
    label: str | None, name: str | None, file_type: str | None, expected: set[OutputType]
) -> None:
    assert output_candidates(output(label, name=name, file_type=file_type)) == expected


def test_a_shared_label_is_settled_by_what_was_asked_for() -> None:
    one = [output("mp4", file_type="mp4"), output("fbx", fid="g")]
    matched, unmatched = match_outputs(one, [OutputType.RENDER_VIDEO, OutputType.MAIN_FBX])
    assert set(matched) == {OutputType.RENDER_VIDEO, OutputType.MAIN_FBX}
    assert not unmatched

    two = [output("mp4", fid="a"), output("mp4", fid="b")]
    both = [OutputType.RENDER_VIDEO, OutputType.RENDER_OVERLAY_VIDEO]
    matched, unmatched = match_outputs(two, both)
    assert not matched
    assert len(unmatched) == 2
    job = Job(id="job-1", outputs=two)
    assert missing_outputs(job, both) == []  # but both are there
    assert missing_outputs(job, [*both, OutputType.MAIN_FBX]) == [OutputType.MAIN_FBX]


def test_when_what_was_asked_for_is_unknown_every_default_is_awaited() -> None:
    listed = [output(kind.value, fid=kind.value) for kind in SINGLECAM_DEFAULT_OUTPUTS]
    assert outputs_ready(Job(id="job-1", outputs=listed), None)
    assert not outputs_ready(Job(id="job-1", outputs=listed[:-1]), None)
    no_url = AdditionalFile(file=File(id="n"), format="MAIN_GLB", key="MAIN_GLB")
    assert outputs_ready(Job(id="job-1", outputs=[*listed, no_url]), None)
    assert not outputs_ready(Job(id="job-1", outputs=[*listed, no_url]), [OutputType.MAIN_GLB])


@pytest.mark.parametrize("label", ["../../x", "/etc/passwd", "a b", "é", "x" * 300, ""])
def test_a_label_never_reaches_the_path_unchecked(label: str) -> None:
    try:
        name = label_filename("job-1", label, "mp4")
    except InvalidInputError:
        return
    assert "/" not in name
    assert ".." not in name.removesuffix(".mp4")
