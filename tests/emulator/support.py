"""Helpers for the emulator's behaviour tests: raw GraphQL over HTTP, uploads, job waiting, a
webhook receiver."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import aiohttp
from aiohttp import web

from aio_move_ugc.emulator import Emulator


class GraphQLClient:
    """Posts GraphQL JSON to an emulator the way any HTTP client would."""

    def __init__(self, session: aiohttp.ClientSession, emu: Emulator) -> None:
        self.session = session
        self.emu = emu

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        operation_name: str | None = None,
        api_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """Status and decoded JSON body of one request."""
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        if operation_name is not None:
            body["operationName"] = operation_name
        sent = {"Authorization": api_key if api_key is not None else self.emu.api_key}
        sent.update(headers or {})
        async with self.session.post(self.emu.endpoint_url, json=body, headers=sent) as resp:
            return resp.status, await resp.json(content_type=None)

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `data` of a request that must succeed without errors."""
        status, payload = await self.post(query, variables)
        assert status == 200, payload
        assert "errors" not in payload, payload
        result: dict[str, Any] = payload["data"]
        return result

    async def error(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The single error of a request that must fail with HTTP 200 and one GraphQL error."""
        status, payload = await self.post(query, variables)
        assert status == 200, payload
        assert len(payload["errors"]) == 1, payload
        entry: dict[str, Any] = payload["errors"][0]
        return entry

    # ------------------------------------------------------------- workflow steps
    async def create_file(self, file_type: str = "mp4", **extra: Any) -> dict[str, Any]:
        data = await self.data(
            "mutation($type: String!, $metadata: AWSJSON, $name: String) {"
            " createFile(type: $type, metadata: $metadata, name: $name) {"
            " id type name metadata presignedUrl created } }",
            {"type": file_type, **extra},
        )
        file: dict[str, Any] = data["createFile"]
        return file

    async def upload(self, file_type: str = "mp4", content: bytes = b"video bytes") -> str:
        """Create a file, PUT its bytes to the presigned URL, return the file id."""
        file = await self.create_file(file_type)
        async with self.session.put(
            file["presignedUrl"], data=content, skip_auto_headers={"Content-Type"}
        ) as resp:
            assert resp.status == 200, await resp.text()
        file_id: str = file["id"]
        return file_id

    async def singlecam_take(self, file_id: str | None = None, **extra: Any) -> str:
        file_id = file_id or await self.upload()
        data = await self.data(
            "mutation($sources: [SourceInput!], $name: String, $metadata: AWSJSON) {"
            " createSingleCamTake(sources: $sources, name: $name, metadata: $metadata) { id } }",
            {"sources": [{"deviceLabel": "iphone", "fileId": file_id, "format": "MP4"}], **extra},
        )
        take_id: str = data["createSingleCamTake"]["id"]
        return take_id

    async def singlecam_job(self, take_id: str | None = None, **extra: Any) -> dict[str, Any]:
        take_id = take_id or await self.singlecam_take()
        data = await self.data(
            "mutation($takeId: String!, $outputs: [OutputType], $name: String,"
            " $metadata: AWSJSON) {"
            " createSingleCamJob(takeId: $takeId, outputs: $outputs, name: $name,"
            " metadata: $metadata) {"
            " id state progress { state percentageComplete } } }",
            {"takeId": take_id, **extra},
        )
        job: dict[str, Any] = data["createSingleCamJob"]
        return job

    async def job(self, job_id: str) -> dict[str, Any]:
        data = await self.data(
            "query($id: ID!) { getJob(jobId: $id) { id state"
            " progress { state percentageComplete }"
            " outputs { format key file { id type presignedUrl } } } }",
            {"id": job_id},
        )
        job: dict[str, Any] = data["getJob"]
        return job

    async def wait_job(self, job_id: str, *, timeout: float = 10.0) -> dict[str, Any]:
        """Poll until the job is FINISHED or FAILED; return the last view."""
        deadline = time.monotonic() + timeout
        while True:
            job = await self.job(job_id)
            if job["progress"]["state"] in ("FINISHED", "FAILED"):
                return job
            assert time.monotonic() < deadline, f"job {job_id} still {job['progress']}"
            await asyncio.sleep(0.02)

    async def wait_outputs(self, job_id: str, *, timeout: float = 10.0) -> dict[str, Any]:
        """Poll a FINISHED job until every output has a download URL."""
        deadline = time.monotonic() + timeout
        while True:
            job = await self.job(job_id)
            outputs = job["outputs"]
            if outputs and all(o["file"]["presignedUrl"] for o in outputs):
                return job
            assert time.monotonic() < deadline, f"outputs of {job_id} never got URLs"
            await asyncio.sleep(0.02)

    async def get_bytes(self, url: str) -> bytes:
        async with self.session.get(url) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.read()


def storage_key(url: str) -> str:
    """The object key inside a presigned URL (`.../s3/<bucket>/<key>?...`)."""
    from urllib.parse import unquote, urlsplit

    path = urlsplit(url).path
    _, _, rest = path.partition("/s3/")
    _, _, key = rest.partition("/")
    return unquote(key)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class Receiver:
    """A webhook receiver on 127.0.0.1:0 that records every request it gets.

    `fail_first` makes the first attempts answer 500 (or drop the connection with
    `drop_first`), to exercise the sender's retries.
    """

    def __init__(self, *, fail_first: int = 0, drop_first: int = 0) -> None:
        self.fail_first = fail_first
        self.drop_first = drop_first
        self.attempts: list[tuple[dict[str, str], bytes]] = []
        self.accepted: list[tuple[dict[str, str], bytes]] = []
        self.arrived = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = dict(request.headers)
        self.attempts.append((headers, body))
        if len(self.attempts) <= self.drop_first:
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        if len(self.attempts) <= self.drop_first + self.fail_first:
            return web.Response(status=500, text="not now")
        self.accepted.append((headers, body))
        self.arrived.set()
        return web.Response(status=204)

    async def wait_for(
        self, count: int, timeout: float = 10.0
    ) -> list[tuple[dict[str, str], bytes]]:
        """Wait until `count` deliveries were accepted."""
        deadline = time.monotonic() + timeout
        while len(self.accepted) < count:
            assert time.monotonic() < deadline, f"only {len(self.accepted)} of {count} arrived"
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), 0.05)
        return self.accepted[:count]

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()
