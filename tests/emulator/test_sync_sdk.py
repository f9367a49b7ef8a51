"""The official sync SDK (`move-ugc-python` 4.1.0) against the emulator, unchanged.

The SDK blocks (requests), so it runs in a worker thread while the emulator keeps serving on the
test's event loop. Where the SDK itself is broken, the tests pin down what actually happens.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
from gql.transport.exceptions import TransportQueryError
from pydantic import ValidationError

with warnings.catch_warnings():
    # SDK 4.1.0 still passes pydantic v1 style `Field(example=...)`, deprecated in v2.
    warnings.simplefilter("ignore", DeprecationWarning)
    from move_ugc import MoveUgc
    from move_ugc.schemas.commons import SortDirection
    from move_ugc.schemas.job import ClipWindow, JobOptions
    from move_ugc.schemas.sources import CameraSettings, SourceIn, TakeSourceKey
    from move_ugc.schemas.sync_method import ClapWindowInput, SyncMethodInput
    from move_ugc.schemas.volume import AreaType

from aio_move_ugc._schema import load_schema
from aio_move_ugc.emulator import Emulator
from aio_move_ugc.emulator._api import output_content
from tests.support import MakeEmulator

from .support import GraphQLClient, storage_key

LENS = "goprohero10-2-7k"


# ---------------------------------------------------------------------------------------------
# The seed docs' "minimal end-to-end single-camera workflow", as published: only `tqdm` (not
# installed here) is replaced by a do-nothing progress bar, and `main` takes the emulator's
# endpoint and short polling intervals instead of reading MOVE_API_KEY.
class tqdm:
    def __init__(self, **_: Any) -> None:
        pass

    def __enter__(self) -> tqdm:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def update(self, _: int) -> None:
        pass


_CHUNK = 8 << 20  # 8MiB


def upload_local_file(ugc: MoveUgc, path: Path, file_type: str) -> Any:
    """creates a File record and returns the resulting File object."""
    file_rec = ugc.files.create(file_type=file_type)
    with open(path, "rb") as f:
        requests.put(file_rec.presigned_url, data=f.read())

    return file_rec


def wait_for_job(ugc: MoveUgc, job_id: str, every: float = 15) -> Any:
    """Poll *job_id* until it reaches a terminal state and return the final Job."""
    terminal = {"FINISHED", "FAILED", "CANCELLED"}
    while True:
        job = ugc.jobs.retrieve(id=job_id)
        state = job.state
        print("Job state:", state)
        if state in terminal:
            return job
        time.sleep(every)


def wait_for_outputs(ugc: MoveUgc, job_id: str, every: float = 10, timeout: int = 600) -> Any:
    """Re-poll the job (expand=["outputs"]) until outputs expose a presigned URL."""
    t0 = time.time()
    while True:
        job = ugc.jobs.retrieve(id=job_id, expand=["outputs"])
        ready = all(asset.file and asset.file.presigned_url for asset in job.outputs)
        if ready:
            return job

        if time.time() - t0 > timeout:
            raise TimeoutError(f"Outputs not ready after {timeout}s - try a larger timeout?")
        print("Waiting for assets ...")
        time.sleep(every)


def download_outputs(job: Any, out_root: Path) -> None:
    """Download each asset in *job.outputs* into *out_root / <job_id> / ...*"""
    out_dir = out_root / job.id
    out_dir.mkdir(parents=True, exist_ok=True)

    for asset in job.outputs:
        url = asset.file.presigned_url
        fname = f" output{asset.file.type.lower()}"
        dest = out_dir / fname

        print(f"downloading {fname}")
        with requests.get(url, stream=True) as r:
            r.raise_for_status()
            total = int(r.headers.get("content-length", 0))
            with tqdm(total=total, unit="B", unit_scale=True) as bar, dest.open("wb") as fh:
                for chunk in r.iter_content(chunk_size=_CHUNK):
                    fh.write(chunk)
                    bar.update(len(chunk))

        print("Saved ->", dest)


def main(
    emu: Emulator,
    video_path: Path,
    move_path: Path | None,
    device_label: str,
    outputs_dir: Path,
) -> dict[str, Any]:
    ugc = MoveUgc(api_key=emu.api_key, endpoint_url=emu.endpoint_url)

    # 1. Upload required video
    video_file = upload_local_file(ugc, video_path, "mp4")

    # 2. Optionally upload .move metadata
    move_file = upload_local_file(ugc, move_path, "move") if move_path else None

    # 3. Create take
    sources = [SourceIn(device_label=device_label, file_id=video_file.id, format=TakeSourceKey.mp4)]
    if move_file:
        sources.append(
            SourceIn(device_label=device_label, file_id=move_file.id, format=TakeSourceKey.move)
        )

    take = ugc.takes.create_singlecam(sources=sources)
    print("Created take:", take.id)

    # 4. Kick off job
    job = ugc.jobs.create_singlecam(take_id=take.id, outputs=["MAIN_BLEND", "MAIN_FBX"])
    print("Created job:", job.id)

    # 5. Wait for the solver to finish
    job = wait_for_job(ugc, job.id, every=0.05)
    if job.state != "FINISHED":
        raise RuntimeError(f"Job ended in state {job.state}")

    job = wait_for_outputs(ugc, job.id, every=0.05)

    download_outputs(job, outputs_dir)
    return {"video": video_file, "move": move_file, "take": take, "job": job}


# ---------------------------------------------------------------------------------------------
async def test_seed_workflow_runs_unchanged(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(os.urandom(300_000))
    move = tmp_path / "clip.move"
    move.write_bytes(b"move sensor data " * 100)
    # No readiness lag here: the published SDK cannot read a job whose outputs have no URL yet
    # (see test_outputs_without_urls_break_the_sync_sdk).
    async with make_emulator(output_lag=0.0) as emu:
        result = await asyncio.to_thread(main, emu, video, move, "iphone", tmp_path / "outputs")

        video_key = storage_key(str(result["video"].presigned_url))
        assert emu.storage.read_bytes(video_key) == video.read_bytes()
        move_key = storage_key(str(result["move"].presigned_url))
        assert emu.storage.read_bytes(move_key) == move.read_bytes()
        assert result["video"].id.startswith("file-")
        assert result["take"].id.startswith("take-")

        job = result["job"]
        assert job.state == "FINISHED"
        assert job.progress.state == "FINISHED"
        assert job.progress.percentage_complete == 100
        assert sorted(o.format for o in job.outputs) == ["MAIN_BLEND", "MAIN_FBX"]
        out_dir = tmp_path / "outputs" / job.id
        saved = sorted(p.name for p in out_dir.iterdir())
        assert saved == [" outputblend", " outputfbx"]  # the docs' odd file names, as written
        for output in job.outputs:
            downloaded = (out_dir / f" output{output.file.type}").read_bytes()
            key = storage_key(str(output.file.presigned_url))
            assert downloaded == emu.storage.read_bytes(key)
            assert downloaded == b"".join(
                output_content(job.id, output.format, emu.config.output_size)
            )
        # The take the SDK created holds both sources.
        session_take = emu.state.takes[result["take"].id]
        assert [(s.format, s.device_label) for s in session_take.sources] == [
            ("MP4", "iphone"),
            ("MOVE", "iphone"),
        ]
        # The SDK introspects the schema before every single call (a new gql client per
        # service access): half of its requests are introspection.
        ops = emu.stats.operations
        assert ops["IntrospectionQuery"] > 5
        assert ops["IntrospectionQuery"] * 2 == emu.stats.graphql_requests


async def test_outputs_without_urls_break_the_sync_sdk(
    make_emulator: MakeEmulator, session: aiohttp.ClientSession
) -> None:
    """During the readiness lag the service lists outputs whose presignedUrl is null.

    SDK 4.1.0 declares `FileType.presigned_url` as a required URL, so `retrieve(expand=
    ["outputs"])` raises a pydantic ValidationError instead of returning a job to poll again;
    the docs' `wait_for_outputs` would crash there. Once the URLs exist it works.
    """
    async with make_emulator(job_queue_delay=0.0, job_duration=0.1, output_lag=60.0) as emu:
        gql = GraphQLClient(session, emu)
        job = await gql.singlecam_job(outputs=["MAIN_FBX", "MOTION_DATA"])
        raw = await gql.wait_job(job["id"])
        assert raw["state"] == "FINISHED"
        assert [o["file"]["presignedUrl"] for o in raw["outputs"]] == [None, None]

        ugc = MoveUgc(api_key=emu.api_key, endpoint_url=emu.endpoint_url)
        plain = await asyncio.to_thread(ugc.jobs.retrieve, id=job["id"])
        assert plain.state == "FINISHED"
        with pytest.raises(ValidationError) as caught:
            await asyncio.to_thread(ugc.jobs.retrieve, id=job["id"], expand=["outputs"])
        errors = caught.value.errors()
        assert {e["loc"] for e in errors} == {
            ("outputs", 0, "file", "presignedUrl"),
            ("outputs", 1, "file", "presignedUrl"),
        }
        assert all(e["input"] is None for e in errors)

        emu.advance(61)
        ready = await asyncio.to_thread(ugc.jobs.retrieve, id=job["id"], expand=["outputs"])
        assert all(o.file.presigned_url for o in ready.outputs)


async def test_sdk_reads_the_endpoint_from_the_environment(emulator: Emulator) -> None:
    env = {**os.environ, **emulator.environment()}
    assert env["MOVE_UGC_ENDPOINT_URL"] == emulator.endpoint_url
    script = (
        "import os\n"
        "from move_ugc import MoveUgc\n"
        "ugc = MoveUgc(api_key=os.environ['MOVE_UGC_API_KEY'])\n"
        "print(ugc.endpoint_url)\n"
        "print(ugc.client.retrieve().id)\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    endpoint, client_id = stdout.decode().split()
    assert endpoint == emulator.endpoint_url
    assert client_id == emulator.state.client.id
    assert emulator.stats.root_fields["client"] == 1


def exercise_every_service(emu: Emulator) -> dict[str, Any]:
    """Every service method of the SDK, in the order a user would meet them."""
    ugc = MoveUgc(api_key=emu.api_key, endpoint_url=emu.endpoint_url)
    seen: dict[str, Any] = {}

    def upload(content: bytes, file_type: str = "mp4") -> Any:
        file = ugc.files.create(file_type=file_type, name=f"{len(content)}", metadata={"n": 1})
        assert requests.put(str(file.presigned_url), data=content).status_code == 200
        return file

    # ---- files
    file = upload(b"file service")
    assert file.name == "12"
    assert file.metadata == {"n": 1}
    got = ugc.files.retrieve(id=file.id, expand=["client"])
    assert got.client is not None
    assert got.client.id == emu.state.client.id
    assert requests.get(str(got.presigned_url)).content == b"file service"
    updated = ugc.files.update(id=file.id, metadata={"k": "v"}, name="renamed")
    assert (updated.name, updated.metadata) == ("renamed", {"k": "v"})
    share = ugc.files.generate_share_code(file_id=file.id)
    assert share.file_id == file.id
    assert (share.expires - share.created).days == 7
    assert requests.get(str(share.url)).content == b"file service"

    # ---- takes
    take = ugc.takes.create_singlecam(
        sources=[SourceIn(device_label="phone", file_id=file.id, format="mp4")],
        name="take",
        metadata={"t": 1},
        expand=["sources", "client"],
    )
    assert take.sources is not None
    assert [(s.device_label, s.format, s.file.id) for s in take.sources] == [
        ("phone", "MP4", file.id)
    ]
    assert take.client is not None
    again = ugc.takes.retrieve(id=take.id, expand=["sources"])
    assert (again.name, again.metadata) == ("take", {"t": 1})
    take = ugc.takes.update(id=take.id, name="take 2", metadata={"t": 2})
    assert (take.name, take.metadata) == ("take 2", {"t": 2})
    other_take = ugc.takes.create_singlecam(
        sources=[SourceIn(device_label="phone", file_id=file.id, format="mp4")]
    )
    page = ugc.takes.list(limit=1, expand=["sources", "client"])
    assert [t.id for t in page.items] == [other_take.id]  # newest first
    assert page.limit == 1
    # The SDK parses the `after` cursor into a dict and then sends that dict back as the
    # AWSJSON variable; AWSJSON must be a JSON string, so its own next_token is refused.
    assert isinstance(page.next_token, dict)
    with pytest.raises(TransportQueryError) as caught:
        ugc.takes.list(limit=1, next_token=page.next_token)  # type: ignore[arg-type]
    assert caught.value.errors is not None
    assert "$after" in caught.value.errors[0]["message"]
    rest = ugc.takes.list(limit=1, next_token=json.dumps(page.next_token))
    assert [t.id for t in rest.items] == [take.id]
    assert rest.next_token is None
    ascending = ugc.takes.list(sort_by=SortDirection.ASC)
    assert [t.id for t in ascending.items] == [take.id, other_take.id]
    with pytest.raises(TransportQueryError) as caught:
        ugc.takes.retrieve(id="take-00000000-0000-4000-8000-000000000000")
    assert caught.value.errors is not None
    assert caught.value.errors[0]["errorType"] == "MoveNotFoundError"
    assert caught.value.errors[0]["path"] == ["getTake"]

    # ---- singlecam jobs
    job = ugc.jobs.create_singlecam(
        take_id=take.id,
        name="job",
        metadata={"j": 1},
        options=JobOptions(trackFingers=True),
        clip_window=ClipWindow(start_time=1.0, end_time=3.0),
        expand=["take", "client", "outputs", "inputs"],
    )
    assert job.take is not None
    assert job.take.id == take.id
    assert job.state == job.progress.state == "FINISHED"  # instant jobs in this emulator
    assert job.inputs is not None
    assert job.inputs.clip_window is not None
    # SDK 4.1.0 maps both clip window fields to `endTime`: start_time reads 3.0, not 1.0.
    assert (job.inputs.clip_window.start_time, job.inputs.clip_window.end_time) == (3.0, 3.0)
    assert emu.state.jobs[job.id].clip_window == {"startTime": 1.0, "endTime": 3.0}
    job = ugc.jobs.update(id=job.id, metadata={"j": 2}, name="job 2")
    assert (job.name, job.metadata) == ("job 2", {"j": 2})
    ugc.jobs.create_singlecam(take_id=other_take.id)
    listed = ugc.jobs.list(take_id=take.id, expand=["take", "client", "rig", "inputs"])
    assert [j.id for j in listed.items] == [job.id]
    assert len(ugc.jobs.list().items) == 2
    deadline = time.monotonic() + 10
    while ugc.jobs.retrieve(id=job.id).state != "FINISHED":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    while True:
        try:
            finished = ugc.jobs.retrieve(id=job.id, expand=["outputs"])
            break
        except ValidationError:  # outputs listed before their URLs exist (see above)
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert finished.outputs is not None
    assert len(finished.outputs) == 7

    # ---- volumes and multicam
    cams = [upload(f"camera {i}".encode()) for i in range(2)]
    sources = [
        SourceIn(
            device_label=f"cam-{i}",
            file_id=cam.id,
            format="mp4",
            camera_settings=CameraSettings(lens=LENS),
        )
        for i, cam in enumerate(cams)
    ]
    clap = SyncMethodInput(clap_window=ClapWindowInput(start_time=0.5, end_time=1.5))
    volume = ugc.volumes.create_human_volume(
        sources=sources,
        human_height=1.75,
        area_type=AreaType.NORMAL,
        sync_method=clap,
        name="volume",
        expand=["client", "sources"],
    )
    assert volume.id.startswith("volume-")
    assert volume.area_type is AreaType.NORMAL
    assert volume.sources is not None
    # The service returns `cameraSettings { lens }`, but the SDK's Source model only has a
    # serialization alias for it, so the parsed sources never carry camera settings.
    assert [s.camera_settings for s in volume.sources] == [None, None]
    assert [s.lens for s in emu.state.volumes[volume.id].sources] == [LENS, LENS]
    while (
        ugc.volumes.retrieve_human_volume(id=volume.id, expand=["sources", "outputs"]).state
        != "FINISHED"
    ):
        assert time.monotonic() < deadline + 10
        time.sleep(0.05)
    volumes = ugc.volumes.list(limit=5)
    assert [v.id for v in volumes.items] == [volume.id]
    # volumes.list sends a `takeId` variable its query does not declare; GraphQL ignores
    # undeclared variables, so the "filter" does nothing.
    unfiltered = ugc.volumes.list(take_id="take-that-does-not-exist")
    assert [v.id for v in unfiltered.items] == [volume.id]

    # The SDK's volume fragment leaves out `progress`, which its own model requires: asking
    # for expand=["volume"] fails to parse a take that the service did create.
    takes_before = len(emu.state.takes)
    with pytest.raises(ValidationError) as bad_expand:
        ugc.takes.create_multicam(
            sources=sources, volume_id=volume.id, sync_method=clap, expand=["volume"]
        )
    assert [e["loc"] for e in bad_expand.value.errors()] == [("volume", "progress")]
    assert len(emu.state.takes) == takes_before + 1
    multicam_take = ugc.takes.create_multicam(
        sources=sources, volume_id=volume.id, sync_method=clap, expand=["sources", "client"]
    )
    assert multicam_take.sources is not None
    assert len(multicam_take.sources) == 2
    # The docs write JobOptions(track_fingers=True), but extra fields skip the camelCase alias
    # generator, so `track_fingers` goes out as is and the schema has no such option field.
    with pytest.raises(TransportQueryError) as bad_option:
        ugc.jobs.create_multicam(
            take_id=multicam_take.id,
            number_of_actors=2,
            options=JobOptions(track_fingers=True),
        )
    assert bad_option.value.errors is not None
    assert "trackFingers" in bad_option.value.errors[0]["message"]
    assert "errorType" not in bad_option.value.errors[0]
    multicam_job = ugc.jobs.create_multicam(
        take_id=multicam_take.id,
        number_of_actors=2,
        options=JobOptions(trackFingers=True),
        name="My multicam job",
        expand=["take", "client", "rig"],
    )
    assert multicam_job.rig is not None
    assert multicam_job.rig.name == "move_mo"  # the SDK sends rig "" and gets the default
    assert emu.state.jobs[multicam_job.id].number_of_actors == 2
    assert emu.state.jobs[multicam_job.id].options == {"trackFingers": True}
    ue5 = ugc.jobs.create_multicam(take_id=multicam_take.id, number_of_actors=1, rig="move_ue5")
    assert emu.state.jobs[ue5.id].rig == "move_ue5"
    with pytest.raises(TransportQueryError, match="Unknown rig"):
        ugc.jobs.create_multicam(take_id=multicam_take.id, number_of_actors=1, rig="nope")

    # ---- client, webhooks, rigs, camera settings
    client = ugc.client.retrieve()
    assert client.id == emu.state.client.id
    assert client.metadata == {}
    client = ugc.client.update(metadata={"plan": "free"})
    assert client.metadata == {"plan": "free"}
    hook = ugc.webhooks.upsert(
        events=["ugc.job.state.completed"], uid="hook", url="https://example.com/hook"
    )
    assert hook.secret is not None
    assert hook.secret.get_secret_value().startswith("whsec_")
    hook = ugc.webhooks.upsert(
        events=["ugc.job.state.failed"],
        uid="hook",
        url="https://example.com/hook2",
        description="second",
    )
    assert hook.secret is None
    assert (hook.events, str(hook.url), hook.description) == (
        ["ugc.job.state.failed"],
        "https://example.com/hook2",
        "second",
    )
    given = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    hook = ugc.webhooks.upsert(events=[], uid="other", url="https://example.com/x", secret=given)
    assert hook.secret is not None
    assert hook.secret.get_secret_value() == given
    rigs = ugc.rigs.list()
    assert "move_mo" in [r.name for r in rigs.items]
    lenses = ugc.camera_settings.list()
    assert LENS in [c.lens for c in lenses.items]
    seen["calls_done"] = True
    return seen


async def test_every_service_method(make_emulator: MakeEmulator) -> None:
    # Instant jobs and volumes: every SDK call costs an introspection round trip and a schema
    # build on the client, so the walk through the services keeps its polling short.
    async with make_emulator(
        job_queue_delay=0.0, job_duration=0.0, output_lag=0.0, volume_duration=0.0
    ) as emu:
        seen = await asyncio.to_thread(exercise_every_service, emu)
        assert seen["calls_done"]
        # Between them, the SDK's services reach every root field of the schema.
        schema = load_schema()
        assert schema.query_type is not None
        assert schema.mutation_type is not None
        every_field = {*schema.query_type.fields, *schema.mutation_type.fields}
        assert every_field - set(emu.stats.root_fields) == set()
