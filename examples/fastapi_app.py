"""A FastAPI app around one `AsyncMoveUgc`: request handlers await it, bulk runs go on in the
background reporting their progress, and webhook deliveries arrive on an ASGI route.

    pip install "aio-move-ugc[asgi]"
    MOVE_UGC_API_KEY=... MOVE_UGC_ENDPOINT_URL=... uvicorn examples.fastapi_app:app

- `GET /jobs/{job_id}`: the job, as `ugc.jobs.retrieve` gives it.
- `POST /runs`: starts a bulk run of every video in the videos folder (`MOVE_UGC_VIDEOS`,
  default `videos/`) into a folder of its own under `MOVE_UGC_OUT` (default `out/`); answers
  the run's id at once.
- `GET /runs/{run_id}`: how far the run is (inputs done, ok, failed, and each result).
- `POST /webhooks/move-ugc`: Move's webhook deliveries, verified, repeats dropped (the SDK's
  ASGI route). `GET /events/{job_id}` lists what they said about a job. With
  `MOVE_UGC_WEBHOOK_URL` (this route's public URL) set, the app registers the endpoint at
  start-up; `MOVE_UGC_WEBHOOK_SECRET` gives the endpoint's secret if it exists already.

`MOVE_UGC_POLL_INTERVAL` sets the seconds between the first looks at a run's jobs (default 5).

The lifespan owns everything long-lived: one client for the whole app (one connection pool,
one request budget), the webhook receiver, and a task group for the background work, which
shutdown cancels before the client closes (a bulk run is journaled: the next run of the same
folder resumes it). Nothing from a request is joined into a path: runs read the configured
folder, and ids are looked up in the app's own tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup
from fastapi import APIRouter, FastAPI, HTTPException, Request

from aio_move_ugc import AsyncMoveUgc, BulkResult, InvalidInputError, NotFoundError
from aio_move_ugc.webhooks import WebhookReceiver

VIDEO_SUFFIXES = {".mp4", ".mov", ".avi"}
WEBHOOK_UID = "fastapi-example"


@dataclass
class Run:
    """One background bulk run and what it has reported so far."""

    total: int
    dest: Path
    results: list[BulkResult] = field(default_factory=list)
    error: str | None = None
    finished: bool = False

    def report(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "done": len(self.results),
            "ok": sum(r.ok for r in self.results),
            "failed": sum(not r.ok for r in self.results),
            "finished": self.finished,
            "error": self.error,
            "results": [
                {
                    "video": r.item.path.name,
                    "ok": r.ok,
                    "skipped": r.skipped,
                    "job_id": r.job_id,
                    "outputs": sorted(str(key) for key in r.outputs),
                    "error": str(r.error) if r.error else None,
                }
                for r in self.results
            ],
        }


@dataclass
class AppState:
    """What the lifespan opens, shared by every request."""

    ugc: AsyncMoveUgc
    receiver: WebhookReceiver
    tasks: TaskGroup
    videos: Path
    out: Path
    poll_interval: float | None = None
    runs: dict[str, Run] = field(default_factory=dict)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


async def record_events(state: AppState) -> None:
    """Keep what each webhook delivery said, per job, until the receiver closes."""
    async for event in state.receiver.events():
        state.events.setdefault(event.job_id, []).append(
            {"event": type(event).__name__, "at": event.at.isoformat()}
        )


async def bulk_run(state: AppState, run: Run, videos: list[Path]) -> None:
    """One bulk run, its results recorded as they come."""
    try:
        results = state.ugc.bulk.run(
            videos, dest=run.dest, concurrency=4, interval=state.poll_interval
        )
        async for result in results:
            run.results.append(result)
    except InvalidInputError as error:
        run.error = str(error)
    finally:
        run.finished = True


router = APIRouter()


def move(request: Request) -> AppState:
    state: AppState = request.app.state.move
    return state


@router.get("/jobs/{job_id}")
async def get_job(job_id: str, request: Request) -> dict[str, Any]:
    try:
        job = await move(request).ugc.jobs.retrieve(job_id)
    except InvalidInputError as error:
        raise HTTPException(422, str(error)) from None
    except NotFoundError:
        raise HTTPException(404, "no such job") from None
    return job.model_dump(mode="json", by_alias=True, exclude_none=True)


@router.post("/runs", status_code=202)
async def start_run(request: Request) -> dict[str, Any]:
    state = move(request)
    videos = sorted(
        p for p in state.videos.glob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
    )
    if not videos:
        raise HTTPException(409, "no videos to run")
    run_id = uuid.uuid4().hex[:12]
    run = Run(total=len(videos), dest=state.out / f"run-{run_id}")
    state.runs[run_id] = run
    state.tasks.start_soon(bulk_run, state, run, videos)
    return {"run_id": run_id, "total": run.total}


@router.get("/runs/{run_id}")
async def run_progress(run_id: str, request: Request) -> dict[str, Any]:
    run = move(request).runs.get(run_id)
    if run is None:
        raise HTTPException(404, "no such run")
    return run.report()


@router.get("/events/{job_id}")
async def job_events(job_id: str, request: Request) -> list[dict[str, Any]]:
    return move(request).events.get(job_id, [])


def create_app() -> FastAPI:
    """The app, configured from the environment (read now, not at request time). An app
    serves one lifespan: its receiver closes at shutdown."""
    receiver = WebhookReceiver(os.environ.get("MOVE_UGC_WEBHOOK_SECRET"), path="/webhooks/move-ugc")
    videos = Path(os.environ.get("MOVE_UGC_VIDEOS", "videos"))
    out = Path(os.environ.get("MOVE_UGC_OUT", "out"))
    public_url = os.environ.get("MOVE_UGC_WEBHOOK_URL")
    interval = os.environ.get("MOVE_UGC_POLL_INTERVAL")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncMoveUgc() as ugc, anyio.create_task_group() as tasks:
            state = AppState(
                ugc,
                receiver,
                tasks,
                videos=videos,
                out=out,
                poll_interval=float(interval) if interval else None,
            )
            app.state.move = state
            if public_url:
                await receiver.register(ugc, uid=WEBHOOK_UID, url=public_url)
            tasks.start_soon(record_events, state)
            try:
                yield
            finally:
                await receiver.aclose()  # ends record_events
                tasks.cancel_scope.cancel()  # background runs stop; their journals remain

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    app.router.routes.append(receiver.asgi_route())  # verified, deduplicated deliveries
    return app


app = create_app()
