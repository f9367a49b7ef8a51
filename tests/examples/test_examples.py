"""The examples run as a user runs them: the scripts as programs, the web app over HTTP (and in a
headless Chromium when one is installed), all against the emulator."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from aio_move_ugc.emulator import Emulator
from tests.bulk.test_bulk import make_videos

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CHROMIUM = Path("/usr/bin/chromium")
DEFAULT_OUTPUTS = 7


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOVE_UGC_")}
    env.update(extra)
    return env


async def run_script(script: str, *args: str, cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / script),
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, output.decode()


def served_outputs(emu: Emulator, job_id: str) -> dict[str, bytes]:
    job = emu.state.jobs[job_id]
    return {
        kind: emu.storage.read_bytes(emu.state.files[file_id].key)
        for kind, file_id in job.output_files.items()
    }


# ------------------------------------------------------------------------------ scripts
@pytest.mark.slow
async def test_one_take_against_a_service_and_on_its_own(
    emulator: Emulator, tmp_path: Path
) -> None:
    (video,) = make_videos(tmp_path / "videos", 1)
    # Pointed at a service (the emulator here), and with no endpoint (its own emulator).
    (code, output), (alone_code, alone) = await asyncio.gather(
        run_script(
            "one_take.py",
            str(video),
            "-o",
            "out",
            cwd=tmp_path,
            env=clean_env(**emulator.environment()),
        ),
        run_script("one_take.py", str(video), "-o", "alone", cwd=tmp_path, env=clean_env()),
    )

    assert code == 0, output
    assert "embedded emulator" not in output
    (job_id,) = emulator.state.jobs
    assert f"job {job_id}" in output
    # The first state seen depends on when the first poll lands, not on the script.
    for line in ("state_changed: new -> ", "-> FINISHED", "outputs_ready:"):
        assert line in output
    for kind, content in served_outputs(emulator, job_id).items():
        (path,) = (tmp_path / "out").glob(f"{job_id}_{kind.lower()}.*")
        assert path.read_bytes() == content
        assert f"{kind}: {path.relative_to(tmp_path)} ({len(content)} bytes)" in output

    assert alone_code == 0, alone
    assert "no MOVE_UGC_ENDPOINT_URL: using the embedded emulator" in alone
    assert "outputs_ready: 7 outputs have download URLs" in alone
    assert len(list((tmp_path / "alone").iterdir())) == DEFAULT_OUTPUTS


@pytest.mark.slow  # a subprocess that imports matplotlib and waits for a job: a few seconds
async def test_plot_joint_reads_the_glb_and_plots_the_walk(tmp_path: Path) -> None:
    (video,) = make_videos(tmp_path / "videos", 1)
    code, output = await run_script(
        "plot_joint.py", str(video), "--joint", "LeftFoot", "-o", "foot.png",
        cwd=tmp_path, env=clean_env(),
    )  # fmt: skip
    assert code == 0, output
    found = re.search(
        r"LeftFoot: (\d+) keys over ([\d.]+) s, height ([\d.]+)\.\.([\d.]+) m", output
    )
    assert found is not None, output
    keys, seconds, low, high = (float(g) for g in found.groups())
    assert keys == 60  # the emulator's default: 2 s at 30 fps
    assert seconds == pytest.approx(59 / 30, abs=0.01)
    assert 0.0 < low < high < 0.5  # a foot near the ground that lifts while walking
    assert (tmp_path / "foot.png").read_bytes().startswith(b"\x89PNG")
    missing = await run_script(
        "plot_joint.py", str(video), "--joint", "Tail", cwd=tmp_path, env=clean_env()
    )
    assert missing[0] != 0
    assert "no node 'Tail'" in missing[1]


async def test_bulk_takes_prints_each_result_and_a_summary(
    emulator: Emulator, tmp_path: Path
) -> None:
    videos = tmp_path / "videos"
    make_videos(videos, 3)
    (videos / "empty.mp4").write_bytes(b"")
    env = clean_env(**emulator.environment())
    code, output = await run_script(
        "bulk_takes.py", "videos", "-o", "out", "--interval", "0.1", cwd=tmp_path, env=env
    )

    assert code == 1, output  # one input failed
    assert re.search(r"FAILED  empty\.mp4: .*empty", output)
    assert len(re.findall(r"^ok +take-00\d\.mp4: job job-", output, re.MULTILINE)) == 3
    assert "3/4 done (0 skipped), 1 failed, 21 output files in out" in output
    assert "downloaded 3" in output
    for job_id in emulator.state.jobs:
        for kind, content in served_outputs(emulator, job_id).items():
            (path,) = (tmp_path / "out").glob(f"{job_id}_{kind.lower()}.*")
            assert path.read_bytes() == content

    # Run again: the journal makes every finished input a skip.
    code, again = await run_script(
        "bulk_takes.py", "videos", "-o", "out", "--interval", "0.1", cwd=tmp_path, env=env
    )
    assert code == 1, again
    assert "3/4 done (3 skipped), 1 failed" in again
    assert len(emulator.state.jobs) == 3


# ------------------------------------------------------------------------------ web app
def load_webapp() -> ModuleType:
    spec = importlib.util.spec_from_file_location("webapp_example", EXAMPLES / "webapp/app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def webapp(emulator: Emulator, tmp_path: Path) -> AsyncIterator[tuple[str, web.Application]]:
    """The example app on 127.0.0.1:0, using the emulator; yields its base URL and the app."""
    module = load_webapp()
    settings = module.Settings(
        api_key=emulator.api_key,
        endpoint_url=emulator.endpoint_url,
        workdir=tmp_path / "webapp",
        poll_interval=0.1,
    )
    app = module.make_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        ugc = app[module.UGC]
        await runner.cleanup()
        assert ugc.is_closed, "the app's client was not closed at shutdown"
        sys.modules.pop("webapp_example", None)


async def read_events(response: aiohttp.ClientResponse) -> list[dict[str, Any]]:
    """Server-Sent Events until the stream's last one (`downloads`, `end` or `error`)."""
    assert response.headers["Content-Type"].startswith("text/event-stream")
    events = []
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("data: "):
            events.append(json.loads(line[len("data: ") :]))
            if events[-1]["kind"] in ("downloads", "end", "error"):
                break
    return events


async def test_webapp_upload_events_and_downloads_over_http(
    emulator: Emulator, webapp: tuple[str, web.Application], tmp_path: Path
) -> None:
    base, _ = webapp
    (video,) = make_videos(tmp_path / "videos", 1, size=300_000)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/") as page:
            assert page.status == 200
            assert 'type="file"' in await page.text()

        form = aiohttp.FormData()
        form.add_field("note", "ignored")
        form.add_field(
            "video", video.read_bytes(), filename="my dance.MP4", content_type="video/mp4"
        )
        async with http.post(f"{base}/jobs", data=form) as created:
            assert created.status == 201, await created.text()
            answer = await created.json()
        job_id = answer["job_id"]
        assert answer["events"] == f"/jobs/{job_id}/events"
        # The app streamed the upload through to storage: the same bytes arrived.
        (upload,) = (f for f in emulator.state.files.values() if f.output_type is None)
        assert emulator.storage.read_bytes(upload.key) == video.read_bytes()

        async with http.get(f"{base}{answer['events']}") as stream:
            assert stream.status == 200
            events = await read_events(stream)
        kinds = [event["kind"] for event in events]
        assert kinds[0] == "state_changed"
        assert kinds[-2:] == ["outputs_ready", "downloads"]
        assert "progress" in kinds
        assert {e["job_id"] for e in events if "job_id" in e} == {job_id}

        served = served_outputs(emulator, job_id)
        files = events[-1]["files"]
        assert {f["output_type"] for f in files} == set(served)
        for file in files:
            assert file["url"] == f"/jobs/{job_id}/outputs/{file['output_type']}"
            async with http.get(f"{base}{file['url']}") as output:
                assert output.status == 200
                assert file["name"] in output.headers["Content-Disposition"]
                assert await output.read() == served[file["output_type"]]

        # Watching again finds the outputs already there (no second download).
        gets = emulator.stats.storage_count("GET")
        async with http.get(f"{base}{answer['events']}") as stream:
            assert (await read_events(stream))[-1]["kind"] == "downloads"
        assert emulator.stats.storage_count("GET") == gets


async def test_webapp_refusals(webapp: tuple[str, web.Application]) -> None:
    base, _ = webapp
    async with aiohttp.ClientSession() as http:
        form = aiohttp.FormData()
        form.add_field("video", b"not a video", filename="notes.txt", content_type="text/plain")
        async with http.post(f"{base}/jobs", data=form) as refused:
            assert refused.status == 400
        form = aiohttp.FormData()
        form.add_field("video", b"", filename="empty.mp4", content_type="video/mp4")
        async with http.post(f"{base}/jobs", data=form) as refused:
            assert refused.status == 400
            assert "empty" in await refused.text()
        for path in (
            "/jobs/job-00000000-0000-4000-8000-000000000000/events",
            "/jobs/..%2F..%2Fetc/outputs/MAIN_FBX",
            "/jobs/x/outputs/..%2F..%2Fapp.py",
        ):
            async with http.get(f"{base}{path}") as missing:
                assert missing.status == 404, path


# ----------------------------------------------------------------------------- browser
class DevTools:
    """The few Chrome DevTools Protocol calls the browser test needs, over aiohttp's websocket."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self._socket = socket
        self._next = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        await self._socket.send_json({"id": self._next, "method": method, "params": params})
        while True:
            message = await self._socket.receive_json(timeout=60)
            if message.get("id") == self._next:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message["result"]
                return result

    async def evaluate(self, expression: str) -> Any:
        result = await self.call(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        return result["result"].get("value")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs a Chromium at /usr/bin/chromium")
async def test_webapp_in_a_headless_browser(
    emulator: Emulator, webapp: tuple[str, web.Application], tmp_path: Path
) -> None:
    base, _ = webapp
    (video,) = make_videos(tmp_path / "videos", 1)
    browser = await asyncio.create_subprocess_exec(
        str(CHROMIUM),
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--remote-debugging-port=0",
        f"--user-data-dir={tmp_path / 'profile'}",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert browser.stderr is not None
    drain: asyncio.Task[bytes] | None = None
    try:
        port = ""
        while not port:
            line = (await asyncio.wait_for(browser.stderr.readline(), 60)).decode()
            assert line, "Chromium exited before opening its DevTools port"
            if found := re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line):
                port = found.group(1)
        drain = asyncio.create_task(browser.stderr.read())  # keeps the pipe from filling up
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as listing:
                (page,) = [t for t in await listing.json() if t["type"] == "page"]
            async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as socket:
                tools = DevTools(socket)
                await tools.call("Page.navigate", url=f"{base}/")
                for _ in range(200):
                    if await tools.evaluate("!!document.getElementById('send')"):
                        break
                    await asyncio.sleep(0.05)
                document = await tools.call("DOM.getDocument")
                node = await tools.call(
                    "DOM.querySelector", nodeId=document["root"]["nodeId"], selector="#video"
                )
                await tools.call("DOM.setFileInputFiles", files=[str(video)], nodeId=node["nodeId"])
                await tools.evaluate("document.getElementById('send').click()")
                links: list[str] = []
                for _ in range(600):
                    links = await tools.evaluate(
                        "[...document.querySelectorAll('a.output')].map(a => a.href)"
                    )
                    if links:
                        break
                    await asyncio.sleep(0.1)
                assert len(links) == DEFAULT_OUTPUTS, await tools.evaluate(
                    "document.body.innerText"
                )
                status = await tools.evaluate("document.getElementById('status').textContent")
                # The browser itself downloads one output through the app.
                size = await tools.evaluate(
                    f"fetch({json.dumps(links[0])}).then(r => r.arrayBuffer())"
                    ".then(b => b.byteLength)"
                )
        (job_id,) = emulator.state.jobs
        assert status == f"Job {job_id}: done"
        assert size == emulator.config.output_size
        served = served_outputs(emulator, job_id)
        assert sorted(link.rsplit("/", 1)[1] for link in links) == sorted(served)
    finally:
        if browser.returncode is None:
            browser.terminate()
        await browser.wait()
        if drain is not None:
            await drain
        shutil.rmtree(tmp_path / "profile", ignore_errors=True)
