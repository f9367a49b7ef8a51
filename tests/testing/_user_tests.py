"""Test files a user of the package would write, run by the testing kit's tests in a subprocess."""

from __future__ import annotations

INI_AUTO = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
asyncio_default_test_loop_scope = function
filterwarnings = error
addopts = --strict-markers
"""

INI_STRICT = INI_AUTO.replace("asyncio_mode = auto", "asyncio_mode = strict")

# An async test of the whole flow with the client fixture; the emulator's clock is moved instead
# of waiting for the job. Written for pytest-asyncio's auto mode; strict mode adds the marker.
ASYNC_FLOW = """
import pytest
from aio_move_ugc import OutputType, SourceFormat, SourceIn

MP4 = b"\\x00\\x00\\x00\\x18ftypmp42\\x00\\x00\\x00\\x00mp42isom" + bytes(range(256)) * 8

{marker}
async def test_video_to_fbx(move_ugc_client, move_ugc_emulator, tmp_path):
    video = tmp_path / "dance.mp4"
    video.write_bytes(MP4)
    ugc = move_ugc_client
    file = await ugc.files.upload(video)
    take = await ugc.takes.create_singlecam(
        [SourceIn(device_label="phone", file_id=file.id, format=SourceFormat.MP4)]
    )
    job = await ugc.jobs.create_singlecam(take.id, outputs=[OutputType.MAIN_FBX])
    move_ugc_emulator.advance(3600)  # the job ends and its outputs get their URLs at once
    paths = await ugc.jobs.download_outputs(job.id, tmp_path / "out", timeout=30)
    assert list(paths) == [OutputType.MAIN_FBX]
    assert paths[OutputType.MAIN_FBX].read_bytes().startswith(b"Kaydara FBX Binary  ")
    stats = move_ugc_emulator.stats()
    assert stats["operations"]["CreateSingleCamJob"] == 1
"""

# Synchronous code meets the emulator through the environment: plain requests and the official
# sync SDK, neither of which knows anything about this package.
ENV_SYNC = """
import os
import warnings

import requests


def test_plain_graphql_over_http(move_ugc_env):
    answer = requests.post(
        os.environ["MOVE_UGC_ENDPOINT_URL"],
        json={"query": "{ client { id name } }"},
        headers={"Authorization": os.environ["MOVE_UGC_API_KEY"]},
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.json()["data"]["client"]["name"] == "Emulator client"
    assert move_ugc_env.stats()["graphql_requests"] == 1


def test_the_official_sync_sdk(move_ugc_env):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the SDK's own pydantic v1 style
        from move_ugc import MoveUgc

        ugc = MoveUgc(api_key=os.environ["MOVE_UGC_API_KEY"])
        created = ugc.files.create(file_type="mp4")
        again = ugc.files.retrieve(id=created.id)
    assert again.id == created.id
    assert os.environ["MOVE_UGC_ENDPOINT_URL"].startswith("http://127.0.0.1:")


def test_the_async_client_reads_the_environment_too(move_ugc_env):
    from aio_move_ugc import AsyncMoveUgc

    ugc = AsyncMoveUgc()
    assert ugc.endpoint_url == move_ugc_env.endpoint_url
"""

# Settings from the marker and from indirect parametrization, faults among them.
CONFIGURED = """
import pytest
import requests
from aio_move_ugc import APIStatusError, JobFailedError, SourceFormat, SourceIn


@pytest.mark.move_ugc_emulator(faults={"graphql": {"rate_503": 1.0}})
async def test_every_request_meets_a_503(move_ugc_emulator):
    async with move_ugc_emulator.client(max_retries=0) as ugc:
        with pytest.raises(APIStatusError) as caught:
            await ugc.client.retrieve()
    assert caught.value.status == 503
    assert move_ugc_emulator.stats()["faults"] == {"graphql 503": 1}


@pytest.mark.move_ugc_emulator(failure_rate=1.0)
async def test_a_job_that_fails(move_ugc_client, move_ugc_emulator, tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\\x00\\x00\\x00\\x18ftypmp42" + bytes(2048))
    file = await move_ugc_client.files.upload(video)
    take = await move_ugc_client.takes.create_singlecam(
        [SourceIn(device_label="cam", file_id=file.id, format=SourceFormat.MP4)]
    )
    job = await move_ugc_client.jobs.create_singlecam(take.id)
    move_ugc_emulator.advance(3600)
    with pytest.raises(JobFailedError):
        await move_ugc_client.jobs.wait(job.id, timeout=30)


@pytest.mark.parametrize(
    "move_ugc_emulator",
    [{"client_name": "Studio A"}, {"client_name": "Studio B"}],
    indirect=True,
)
def test_indirect_settings(move_ugc_emulator):
    answer = requests.post(
        move_ugc_emulator.endpoint_url,
        json={"query": "{ client { name } }"},
        headers={"Authorization": move_ugc_emulator.api_key},
        timeout=10,
    )
    assert answer.json()["data"]["client"]["name"] in {"Studio A", "Studio B"}


@pytest.mark.move_ugc_emulator(no_such_setting=1)
def test_a_misspelt_setting_is_an_error(move_ugc_emulator):
    pass
"""

# anyio's pytest plugin instead of pytest-asyncio.
ANYIO = """
import pytest


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_with_anyio(move_ugc_client):
    client = await move_ugc_client.client.retrieve()
    assert client.name == "Emulator client"


@pytest.mark.anyio
async def test_a_client_of_ones_own(move_ugc_emulator):
    async with move_ugc_emulator.client() as ugc:
        assert (await ugc.client.retrieve()).name == "Emulator client"
"""

# Someone who installed the package and never uses the fixtures.
UNUSED = """
import sys


def test_nothing_of_the_emulator_was_loaded():
    assert "aio_move_ugc.emulator" not in sys.modules
    assert "graphql" not in sys.modules


async def test_async_tests_still_run():
    assert True
"""
