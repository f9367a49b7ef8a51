"""Hostile and mistaken input, from the caller and from servers: typed errors, nothing sent, nothing
written outside its place."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from aio_move_ugc import (
    APIConnectionError,
    AsyncMoveUgc,
    ConfigurationError,
    IntegrityError,
    InvalidInputError,
    OutputType,
    SourceIn,
    StorageError,
    UnexpectedResponseError,
)
from aio_move_ugc.emulator import Emulator
from aio_move_ugc.transfers import TransferConfig, output_filename
from aio_move_ugc.types import AdditionalFile, File

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def hostile() -> AsyncIterator[tuple[str, dict[str, Handler], list[web.Request]]]:
    """A server whose routes each test fills in; it records every request it saw."""
    routes: dict[str, Handler] = {}
    seen: list[web.Request] = []

    async def dispatch(request: web.Request) -> web.StreamResponse:
        seen.append(request)
        return await routes[request.path](request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", dispatch)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", routes, seen
    finally:
        await runner.cleanup()


def _ugc(endpoint: str, **kwargs: Any) -> AsyncMoveUgc:
    return AsyncMoveUgc("hostile-test-key-0001", endpoint_url=endpoint, max_retries=0, **kwargs)


# ------------------------------------------------------------------ caller input, nothing sent
BAD_CLIENT_ARGS: list[tuple[dict[str, Any], str]] = [
    ({"api_key": ""}, "empty key"),
    ({"api_key": "            "}, "whitespace key"),
    ({"api_key": "short"}, "short key"),
    ({"api_key": "has a space in it"}, "key with spaces"),
    ({"endpoint_url": "not a url"}, "endpoint without scheme"),
    ({"endpoint_url": "ftp://example.com/graphql"}, "endpoint with another scheme"),
    ({"endpoint_url": "http://user:pw@127.0.0.1/graphql"}, "endpoint with credentials"),
    ({"endpoint_url": "http://127.0.0.1:notaport/graphql"}, "endpoint with a bad port"),
]


@pytest.mark.parametrize(("kwargs", "why"), BAD_CLIENT_ARGS, ids=[w for _, w in BAD_CLIENT_ARGS])
def test_bad_configuration_is_refused(kwargs: dict[str, Any], why: str) -> None:
    args = {"api_key": "a-perfectly-fine-key", "endpoint_url": "http://127.0.0.1:1/graphql"}
    args.update(kwargs)
    with pytest.raises(ConfigurationError):
        AsyncMoveUgc(args.pop("api_key"), **args)


class Unserialisable:
    pass


BAD_CALLS: list[tuple[str, Callable[[AsyncMoveUgc], Awaitable[Any]]]] = [
    ("job id with a take prefix", lambda u: u.jobs.retrieve("take-123")),
    ("file id without prefix", lambda u: u.files.retrieve("123")),
    ("volume id with spaces", lambda u: u.volumes.retrieve_human_volume("volume- 1")),
    ("unknown output type", lambda u: u.jobs.create_singlecam("take-1", outputs=["MAIN_XYZ"])),
    ("outputs as one string", lambda u: u.jobs.create_singlecam("take-1", outputs="MAIN_FBX")),  # type: ignore[arg-type]
    ("metadata with an object", lambda u: u.jobs.update("job-1", metadata={"x": Unserialisable()})),
    ("metadata with NaN", lambda u: u.takes.update("take-1", metadata={"x": float("nan")})),
    ("page size zero", lambda u: u.jobs.list(limit=0).__await__().__next__()),
    ("page size negative", lambda u: u.takes.list(limit=-5).__await__().__next__()),
    ("unknown expand", lambda u: u.jobs.retrieve("job-1", expand=["secrets"])),
    (
        "two videos in a singlecam take",
        lambda u: u.takes.create_singlecam(
            [
                SourceIn(device_label="a", file_id="file-1", format="MP4"),  # type: ignore[arg-type]
                SourceIn(device_label="a", file_id="file-2", format="MOV"),  # type: ignore[arg-type]
            ]
        ),
    ),
    (
        "clip window backwards",
        lambda u: u.jobs.create_singlecam("take-1", clip_window={"start_time": 5, "end_time": 1}),
    ),
    (
        "webhook url not http",
        lambda u: u.webhooks.upsert(["ugc.job.state.completed"], uid="x", url="file:///etc/passwd"),
    ),
    (
        "webhook secret not whsec",
        lambda u: u.webhooks.upsert(["e"], uid="x", url="http://h/", secret="plain"),
    ),
    ("negative actors", lambda u: u.jobs.create_multicam("take-1", number_of_actors=-1)),
]


@pytest.mark.parametrize(("why", "call"), BAD_CALLS, ids=[w for w, _ in BAD_CALLS])
async def test_bad_calls_raise_before_sending(
    emulator: Emulator, why: str, call: Callable[[AsyncMoveUgc], Awaitable[Any]]
) -> None:
    async with AsyncMoveUgc(emulator.api_key, endpoint_url=emulator.endpoint_url) as ugc:
        with pytest.raises(InvalidInputError):
            await call(ugc)
    assert emulator.stats.graphql_requests == 0


@pytest.mark.parametrize("kind", ["directory", "fifo", "missing", "empty", "too_big"])
async def test_bad_videos_are_refused_before_sending(
    emulator: Emulator, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "video.mp4"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "empty":
        path.touch()
    elif kind == "too_big":
        path.touch()
        os.truncate(path, 5 * 10**9 + 1)  # sparse: costs no disk
    async with AsyncMoveUgc(emulator.api_key, endpoint_url=emulator.endpoint_url) as ugc:
        with pytest.raises(InvalidInputError):
            await ugc.files.upload(path)
    assert emulator.stats.graphql_requests == 0
    assert sum(emulator.stats.storage.values()) == 0


# ------------------------------------------------------------- names from the server
@pytest.mark.parametrize("evil", ["../../etc/passwd", "/abs/path", "a\x00b", "..", "C:\\x"])
def test_server_strings_never_reach_file_names(evil: str) -> None:
    output = AdditionalFile.model_validate(
        {"key": "MAIN_FBX", "format": evil, "file": {"id": "file-1", "type": evil}}
    )
    assert output.output_type == OutputType.MAIN_FBX
    name = output_filename("job-1234", OutputType.MAIN_FBX)
    assert name == "job-1234_main_fbx.fbx"
    assert "/" not in name
    assert "\x00" not in name
    with pytest.raises(InvalidInputError):
        output_filename("../job", OutputType.MAIN_FBX)


# ------------------------------------------------------------- hostile API answers
async def test_non_json_answer_is_a_typed_error(hostile: Any) -> None:
    base, routes, _ = hostile

    async def garbage(request: web.Request) -> web.StreamResponse:
        return web.Response(text="<html>surprise</html>", content_type="text/html")

    routes["/graphql"] = garbage
    async with _ugc(f"{base}/graphql") as ugc:
        with pytest.raises(UnexpectedResponseError, match="not JSON"):
            await ugc.jobs.retrieve("job-1")


async def test_truncated_answer_is_a_typed_error(hostile: Any) -> None:
    base, routes, _ = hostile

    async def truncated(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = 1000
        await response.prepare(request)
        await response.write(b'{"data": {"getJob": {"id": "job-1"')
        assert request.transport is not None
        request.transport.close()
        return response

    routes["/graphql"] = truncated
    async with _ugc(f"{base}/graphql") as ugc:
        with pytest.raises(APIConnectionError, match="connection broke"):
            await ugc.jobs.retrieve("job-1")


# ------------------------------------------------------------- hostile storage
async def test_storage_sending_more_than_promised_is_refused(tmp_path: Path, hostile: Any) -> None:
    base, routes, _ = hostile
    body = os.urandom(4096)

    async def liar(request: web.Request) -> web.StreamResponse:
        # Claims a 2,048-byte object but sends 4,096 bytes with a matching Content-Length.
        return web.Response(
            status=206,
            body=body,
            headers={"Content-Range": "bytes 0-4095/2048", "ETag": '"00"'},
        )

    routes["/obj"] = liar
    async with _ugc(f"{base}/graphql") as ugc:
        with pytest.raises(IntegrityError):
            await ugc.files.download(f"{base}/obj", tmp_path / "out.bin")
    assert not (tmp_path / "out.bin").exists()


async def test_storage_with_wrong_etag_is_refused(tmp_path: Path, hostile: Any) -> None:
    base, routes, _ = hostile
    body = os.urandom(10_000)
    wrong = hashlib.md5(b"something else").hexdigest()

    async def wrong_etag(request: web.Request) -> web.StreamResponse:
        return web.Response(
            status=206,
            body=body,
            headers={"Content-Range": f"bytes 0-{len(body) - 1}/{len(body)}", "ETag": f'"{wrong}"'},
        )

    routes["/obj"] = wrong_etag
    async with _ugc(f"{base}/graphql") as ugc:
        with pytest.raises(IntegrityError, match="MD5"):
            await ugc.files.download(f"{base}/obj", tmp_path / "out.bin")
    assert os.listdir(tmp_path) == []  # no file, no .part, no sidecar


async def test_storage_redirect_is_not_followed_and_no_key_is_sent(
    tmp_path: Path, hostile: Any
) -> None:
    base, routes, seen = hostile

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("http://127.0.0.2:9/steal")

    routes["/obj"] = redirect
    async with _ugc(f"{base}/graphql") as ugc:
        with pytest.raises(StorageError, match="redirect"):
            await ugc.files.download(f"{base}/obj", tmp_path / "out.bin")
    assert [r.path for r in seen] == ["/obj"]
    assert all("Authorization" not in r.headers for r in seen)


async def test_upload_to_storage_never_carries_the_api_key(tmp_path: Path, hostile: Any) -> None:
    base, routes, seen = hostile
    video = tmp_path / "v.mp4"
    video.write_bytes(os.urandom(5000))

    async def graphql(request: web.Request) -> web.StreamResponse:
        assert request.headers["Authorization"] == "hostile-test-key-0001"
        data = {
            "createFile": File(id="file-1", type="mp4", presigned_url=f"{base}/put").model_dump(
                by_alias=True, mode="json"
            )
        }
        return web.json_response({"data": data})

    async def put(request: web.Request) -> web.StreamResponse:
        received = await request.read()
        digest = hashlib.md5(received).hexdigest()
        return web.Response(headers={"ETag": f'"{digest}"'})

    routes["/graphql"] = graphql
    routes["/put"] = put
    async with _ugc(f"{base}/graphql", transfer_config=TransferConfig()) as ugc:
        await ugc.files.upload(video)
    storage_requests = [r for r in seen if r.path == "/put"]
    assert len(storage_requests) == 1
    assert "Authorization" not in storage_requests[0].headers
    assert "Content-Type" not in storage_requests[0].headers
    assert storage_requests[0].headers["Content-Length"] == "5000"
    assert json.dumps(dict(storage_requests[0].headers)).find("hostile-test-key") == -1
