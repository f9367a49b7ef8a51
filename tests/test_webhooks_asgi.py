"""Webhooks in ASGI apps: one core behind the aiohttp and ASGI adapters, the route in real
Starlette and FastAPI apps, and the FastAPI example's whole lifecycle over real HTTP."""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette

from aio_move_ugc import AsyncMoveUgc, JobEvent, JobFinished, SourceIn
from aio_move_ugc.emulator import Emulator
from aio_move_ugc.webhooks import WebhookReceiver
from tests.support import FAST
from tests.test_webhooks import VIDEO, _body, _payload, _signed

SECRET = "whsec_" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fastapi_app.py"
INSTANT = replace(FAST, job_queue_delay=0.0, job_duration=0.0, output_lag=0.0)
"""Jobs end the moment they are created: a run takes no real time beyond its requests."""

Post = Callable[..., Awaitable[int]]


# ------------------------------------------------------------------ one core, four adapters


@asynccontextmanager
async def _over_asgi(app: Any) -> AsyncIterator[Post]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://app"
    ) as client:

        async def post(
            path: str, body: bytes, headers: dict[str, str], method: str = "POST"
        ) -> int:
            answer = await client.request(method, path, content=body, headers=headers)
            return answer.status_code

        yield post


@asynccontextmanager
async def _over_aiohttp(receiver: WebhookReceiver) -> AsyncIterator[Post]:
    await receiver.start()
    base = receiver.url.removesuffix(receiver.path)
    try:
        async with aiohttp.ClientSession() as session:

            async def post(
                path: str, body: bytes, headers: dict[str, str], method: str = "POST"
            ) -> int:
                async with session.request(method, base + path, data=body, headers=headers) as r:
                    await r.read()
                    return r.status

            yield post
    finally:
        await receiver.aclose()


def _served(kind: str, receiver: WebhookReceiver) -> Any:
    if kind == "aiohttp":
        return _over_aiohttp(receiver)
    if kind == "asgi":
        return _over_asgi(receiver.asgi_app())
    if kind == "starlette":
        return _over_asgi(Starlette(routes=[receiver.asgi_route()]))
    app = FastAPI()
    app.router.routes.append(receiver.asgi_route())
    return _over_asgi(app)


ADAPTERS = ["aiohttp", "asgi", "starlette", "fastapi"]


async def _drained(receiver: WebhookReceiver) -> list[JobEvent]:
    await receiver.aclose()
    return [event async for event in receiver.events()]


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_every_adapter_queues_a_verified_delivery_once(kind: str) -> None:
    receiver = WebhookReceiver(SECRET, path="/hooks")
    body = _body()
    headers = _signed(body, secret=SECRET, msg_id="msg_once")
    async with _served(kind, receiver) as post:
        assert await post("/hooks", body, headers) == 204
        assert await post("/hooks", body, headers) == 204
    assert [(type(e), e.job_id) for e in await _drained(receiver)] == [(JobFinished, "job-1")]
    assert (receiver.received, receiver.duplicates, receiver.rejected) == (1, 1, 0)


@pytest.mark.parametrize("kind", ADAPTERS)
@pytest.mark.parametrize("change", ["tampered", "unsigned", "oversized", "no secret"])
async def test_every_adapter_refuses_the_same_deliveries(kind: str, change: str) -> None:
    receiver = WebhookReceiver(
        None if change == "no secret" else SECRET, path="/hooks", max_body_size=2000
    )
    body = _body(_payload(padding="x" * 3000)) if change == "oversized" else _body()
    headers = {} if change == "unsigned" else _signed(body, secret=SECRET)
    sent = body.replace(b"job-1", b"job-9") if change == "tampered" else body
    expected = {"tampered": 400, "unsigned": 400, "oversized": 413, "no secret": 503}[change]
    async with _served(kind, receiver) as post:
        assert await post("/hooks", sent, headers) == expected
    assert receiver.rejected == 1
    assert await _drained(receiver) == []


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_every_adapter_answers_post_only_and_503_once_closed(kind: str) -> None:
    receiver = WebhookReceiver(SECRET, path="/hooks")
    body = _body()
    async with _served(kind, receiver) as post:
        assert await post("/hooks", b"", {}, method="GET") == 405
        if kind != "aiohttp":  # aiohttp's own server stops with the receiver
            await receiver.aclose()
            assert await post("/hooks", body, _signed(body, secret=SECRET)) == 503
    assert receiver.received == 0


async def test_the_asgi_app_stops_reading_at_the_cap_and_ignores_a_client_that_left() -> None:
    receiver = WebhookReceiver(SECRET, max_body_size=10)
    app = receiver.asgi_app()
    scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    chunks = [{"type": "http.request", "body": b"x" * 8, "more_body": True}] * 1000
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return chunks.pop()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert len(chunks) == 998, "read two chunks (16 bytes), not the thousand"

    gone = [{"type": "http.disconnect"}]
    sent.clear()

    async def receive_gone() -> dict[str, Any]:
        return gone.pop()

    await app(scope, receive_gone, send)
    assert sent == []
    assert receiver.rejected == 1


@pytest.mark.slow  # a fresh interpreter: over a second
def test_the_asgi_adapter_needs_no_framework() -> None:
    code = (
        "import sys, aio_move_ugc.webhooks as w\n"
        f"w.WebhookReceiver({SECRET!r}).asgi_app()\n"
        "loaded = {'starlette', 'fastapi', 'uvicorn', 'httpx'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# ------------------------------------------------------------------ the example, over HTTP


def bound_socket() -> socket.socket:
    """A socket on a free port of 127.0.0.1, bound before the server starts (so an app can
    know its own URL at start-up)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def uvicorn_serving(app: Any, sock: socket.socket) -> AsyncIterator[str]:
    """`app` served by uvicorn on `sock` in this event loop; yields the base URL."""
    config = uvicorn.Config(
        app, lifespan="on", log_level="warning", http="h11", ws="none", access_log=False
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(20):
            while not server.started:
                assert not serving.done(), "uvicorn stopped during start-up"
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await serving
        sock.close()


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fastapi_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


async def _until(what: Callable[[], Awaitable[Any]], timeout: float = 20) -> Any:
    async with asyncio.timeout(timeout):
        # Polled over HTTP as a user's page would: there is no event to wait on.
        while not (found := await what()):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    return found


async def test_the_emulators_deliveries_verify_on_an_asgi_route_over_http(
    tmp_path: Path,
) -> None:
    receiver = WebhookReceiver(path="/hooks")
    app = FastAPI()
    app.router.routes.append(receiver.asgi_route())
    sock = bound_socket()
    async with (
        Emulator(INSTANT) as emu,
        AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url) as ugc,
        uvicorn_serving(app, sock) as base,
    ):
        await receiver.register(ugc, uid="asgi", url=f"{base}/hooks")
        assert receiver.has_secret, "adopted from the API's answer"
        clip = tmp_path / "clip.mp4"
        clip.write_bytes(VIDEO)
        video = await ugc.files.upload(clip)
        take = await ugc.takes.create_singlecam(
            [SourceIn(device_label="cam", file_id=video.id, format="MP4")]
        )
        job = await ugc.jobs.create_singlecam(take.id)
        async with asyncio.timeout(20):
            async for event in receiver.events():
                if isinstance(event, JobFinished):
                    break
        assert event.job_id == job.id
        assert event.source == "webhook"
    assert receiver.rejected == 0
    assert emu.stats.webhook_deliveries >= 1
    assert {d["url"] for d in emu.webhooks.delivered} == {f"{base}/hooks"}


@pytest.mark.slow  # a whole bulk run: one to two seconds
async def test_the_fastapi_example_over_http(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    for index in range(2):
        (videos / f"take-{index}.mp4").write_bytes(VIDEO + bytes([index]) * 64)
    (videos / "notes.txt").write_text("not a video")
    sock = bound_socket()
    hooks_url = f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks/move-ugc"

    async with Emulator(INSTANT) as emu:
        for name, value in {
            **emu.environment(),
            "MOVE_UGC_VIDEOS": str(videos),
            "MOVE_UGC_OUT": str(tmp_path / "out"),
            "MOVE_UGC_POLL_INTERVAL": "0.02",
            "MOVE_UGC_WEBHOOK_URL": hooks_url,
        }.items():
            monkeypatch.setenv(name, value)
        app = _load_example().create_app()
        async with uvicorn_serving(app, sock) as base:
            state = app.state.move
            assert emu.state.webhooks["fastapi-example"].url == hooks_url, "registered"
            async with httpx.AsyncClient(base_url=base, timeout=20) as http:
                started = await http.post("/runs")
                assert started.status_code == 202
                run_id = started.json()["run_id"]
                assert started.json()["total"] == 2

                async def finished() -> dict[str, Any] | None:
                    report = (await http.get(f"/runs/{run_id}")).json()
                    return report if report["finished"] else None

                report = await _until(finished)
                assert (report["done"], report["ok"], report["failed"]) == (2, 2, 0)
                job_id = report["results"][0]["job_id"]
                assert (await http.get(f"/jobs/{job_id}")).json()["id"] == job_id
                assert (await http.get("/jobs/not-an-id")).status_code == 422
                unknown = "job-00000000-0000-4000-8000-000000000000"
                assert (await http.get(f"/jobs/{unknown}")).status_code == 404
                assert (await http.get("/runs/nope")).status_code == 404

                async def heard() -> list[dict[str, Any]]:
                    events = (await http.get(f"/events/{job_id}")).json()
                    return [e for e in events if e["event"] == "JobFinished"]

                assert await _until(heard)
        assert state.ugc.is_closed, "the lifespan closed the app's client"
        assert state.receiver.is_closed
        assert state.receiver.rejected == 0, "every delivery of the emulator verified"
        assert emu.stats.webhook_deliveries >= 2
        for delivery in emu.webhooks.delivered:
            assert delivery["url"] == hooks_url
        assert len(emu.state.jobs) == 2
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"run-{run_id}"]
