"""An aiohttp web app: upload a video in the browser, follow its job live, download the outputs.

    python examples/webapp/app.py --port 8080        # then open http://127.0.0.1:8080/

- `POST /jobs` (multipart form, field `video`): the upload is streamed to a temporary file, sent
  on with `ugc.files.upload`, and a take and a job are created; the answer names the job.
- `GET /jobs/{job_id}/events`: Server-Sent Events, one `data:` JSON line per event of
  `ugc.jobs.watch`; once the outputs are ready the app downloads them (`download_outputs`,
  into a folder of that job) and sends a last `downloads` event with a link per output.
- `GET /jobs/{job_id}/outputs/{output_type}`: one output, served by the app.

Only jobs this app created are served, looked up by id in its own table: nothing from the
request is ever joined into a path. One `AsyncMoveUgc` serves every request; it is opened at
start-up and closed at shutdown (`app.cleanup_ctx`). The client reads MOVE_UGC_API_KEY and
MOVE_UGC_ENDPOINT_URL; without an endpoint the app starts the embedded emulator.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from aiohttp import BodyPartReader, web

from aio_move_ugc import (
    AsyncMoveUgc,
    InvalidInputError,
    JobEvent,
    JobFailed,
    JobNotFound,
    MoveUgcError,
    OutputType,
    SourceFormat,
    SourceIn,
)
from aio_move_ugc.emulator import Emulator, EmulatorConfig

STATIC = Path(__file__).with_name("static")
VIDEO_SUFFIXES = {".mp4": "mp4", ".mov": "mov", ".avi": "avi"}
MAX_UPLOAD = 2 * 1024**3
"""Largest video accepted (bytes)."""
CHUNK = 1 << 20
KEEPALIVE = 15.0
"""Seconds of silence after which the event stream sends a comment, so proxies keep it open."""
EMULATED = EmulatorConfig(job_queue_delay=0.5, job_duration=4.0, output_lag=0.5)


@dataclass
class JobRecord:
    """A job this app created, and its outputs once downloaded."""

    job_id: str
    folder: Path
    outputs: dict[OutputType, Path] = field(default_factory=dict)
    download_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class Settings:
    api_key: str | None = None
    endpoint_url: str | None = None
    workdir: Path | None = None
    """Where uploads wait and outputs land (default: a temporary directory)."""
    poll_interval: float = 1.0


UGC = web.AppKey("ugc", AsyncMoveUgc)
JOBS = web.AppKey("jobs", dict[str, JobRecord])
WORKDIR = web.AppKey("workdir", Path)
SETTINGS = web.AppKey("settings", Settings)


# ------------------------------------------------------------------------------ lifecycle
async def client_context(app: web.Application) -> AsyncIterator[None]:
    """One client (one connection pool) for the app's whole life."""
    settings = app[SETTINGS]
    async with contextlib.AsyncExitStack() as stack:
        api_key, endpoint_url = settings.api_key, settings.endpoint_url
        if endpoint_url is None and not os.environ.get("MOVE_UGC_ENDPOINT_URL"):
            emu = await stack.enter_async_context(Emulator(EMULATED))
            print(f"no MOVE_UGC_ENDPOINT_URL: using the embedded emulator at {emu.endpoint_url}")
            api_key, endpoint_url = emu.api_key, emu.endpoint_url
        app[UGC] = await stack.enter_async_context(AsyncMoveUgc(api_key, endpoint_url=endpoint_url))
        if settings.workdir is None:
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="move-ugc-webapp-"))
            app[WORKDIR] = Path(scratch)
        else:
            app[WORKDIR] = settings.workdir
        for sub in ("uploads", "outputs"):
            await anyio.Path(app[WORKDIR] / sub).mkdir(parents=True, exist_ok=True)
        yield


# --------------------------------------------------------------------------------- routes
async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def create_job(request: web.Request) -> web.Response:
    """Stream the uploaded video to a temporary file, upload it, create the take and the job."""
    ugc, workdir = request.app[UGC], request.app[WORKDIR]
    reader = await request.multipart()
    while True:
        part = await reader.next()
        if part is None:
            raise web.HTTPBadRequest(text="the form has no `video` file")
        if isinstance(part, BodyPartReader) and part.name == "video":
            break
    suffix = Path(part.filename or "").suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise web.HTTPBadRequest(text=f"send a video ({', '.join(VIDEO_SUFFIXES)})")
    file_type = VIDEO_SUFFIXES[suffix]
    # The name on disk is ours; the browser's file name only tells the type.
    fd, name = tempfile.mkstemp(suffix=suffix, dir=workdir / "uploads")
    os.close(fd)
    upload = Path(name)
    try:
        size = 0
        async with await anyio.open_file(upload, "wb") as sink:
            while chunk := await part.read_chunk(CHUNK):
                size += len(chunk)
                if size > MAX_UPLOAD:
                    raise web.HTTPRequestEntityTooLarge(max_size=MAX_UPLOAD, actual_size=size)
                await sink.write(chunk)
        try:
            file = await ugc.files.upload(upload, type=file_type)
            take = await ugc.takes.create_singlecam(
                [SourceIn(device_label="browser", file_id=file.id, format=SourceFormat(file_type))]
            )
            job = await ugc.jobs.create_singlecam(take.id)
        except InvalidInputError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        except MoveUgcError as exc:
            raise web.HTTPBadGateway(text=f"the Move UGC API failed: {exc}") from None
    finally:
        await anyio.Path(upload).unlink(missing_ok=True)
    # The folder is named by the API's id, never by anything in the request.
    record = JobRecord(job.id, workdir / "outputs" / job.id)
    request.app[JOBS][job.id] = record
    return web.json_response(
        {"job_id": job.id, "take_id": take.id, "events": f"/jobs/{job.id}/events"}, status=201
    )


def job_of(request: web.Request) -> JobRecord:
    record = request.app[JOBS].get(request.match_info["job_id"])
    if record is None:
        raise web.HTTPNotFound(text="no such job here")
    return record


async def job_events(request: web.Request) -> web.StreamResponse:
    """The job's events as Server-Sent Events, then the links to its outputs."""
    record = job_of(request)
    ugc = request.app[UGC]
    stream = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await stream.prepare(request)

    async def send(payload: dict[str, Any] | str) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        await stream.write(f"data: {text}\n\n".encode())

    queue: asyncio.Queue[JobEvent | None] = asyncio.Queue()

    async def follow() -> None:
        # `put_nowait` never suspends, so cancelling this task (the page went away) always
        # lands inside the watch, whose `finally` then stops its polling.
        interval = request.app[SETTINGS].poll_interval
        async for event in ugc.jobs.watch(record.job_id, interval=interval):
            queue.put_nowait(event)
        queue.put_nowait(None)

    ready = False
    try:
        async with asyncio.TaskGroup() as group:
            follower = group.create_task(follow())
            try:
                while True:
                    try:
                        event = await asyncio.wait_for(queue.get(), KEEPALIVE)
                    except TimeoutError:
                        await stream.write(b": keep-alive\n\n")
                        continue
                    if event is None:
                        break
                    await send(event.model_dump_json(exclude={"job"}))
                    ready |= event.kind == "outputs_ready"
                    if isinstance(event, JobFailed | JobNotFound):
                        break
            finally:
                follower.cancel()
        if ready:
            await send({"kind": "downloads", "files": await downloads(request, record)})
        else:
            await send({"kind": "end"})
    except* MoveUgcError as group:
        with contextlib.suppress(ConnectionResetError):
            await send({"kind": "error", "message": str(group.exceptions[0])})
    except* ConnectionResetError:
        pass  # the browser went away; the watch has been closed
    return stream


async def downloads(request: web.Request, record: JobRecord) -> list[dict[str, Any]]:
    """Fetch the job's outputs into its folder (once, however many pages are watching)."""
    async with record.download_lock:
        if not record.outputs:
            record.outputs = await request.app[UGC].jobs.download_outputs(
                record.job_id, record.folder
            )
    return [
        {
            "output_type": kind.value,
            "name": path.name,
            "size": path.stat().st_size,
            "url": f"/jobs/{record.job_id}/outputs/{kind.value}",
        }
        for kind, path in record.outputs.items()
    ]


async def job_output(request: web.Request) -> web.FileResponse:
    record = job_of(request)
    try:
        kind = OutputType(request.match_info["output_type"])
    except ValueError:
        raise web.HTTPNotFound(text="no such output type") from None
    path = record.outputs.get(kind)
    if path is None:
        raise web.HTTPNotFound(text="that output is not downloaded (yet)")
    return web.FileResponse(
        path, headers={"Content-Disposition": f'attachment; filename="{path.name}"'}
    )


def make_app(settings: Settings | None = None) -> web.Application:
    app = web.Application()
    app[SETTINGS] = settings or Settings()
    app[JOBS] = {}
    app.cleanup_ctx.append(client_context)
    app.router.add_get("/", index)
    app.router.add_post("/jobs", create_job)
    app.router.add_get("/jobs/{job_id}/events", job_events)
    app.router.add_get("/jobs/{job_id}/outputs/{output_type}", job_output)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--workdir", type=Path, help="uploads and outputs (default: temporary)")
    args = parser.parse_args()
    web.run_app(make_app(Settings(workdir=args.workdir)), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
