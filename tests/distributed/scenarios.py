"""Scenarios of the distributed tests, each run in its own process (see `harness.run_scenario`).

`python -m tests.distributed.scenarios NAME WORKDIR FINDINGS_JSON`: runs the scenario against a
real emulator (in this process), a real Temporal dev server and real worker processes, writes
what it observed to FINDINGS_JSON, and leaves through `os._exit` (Temporal's runtime may crash
while an interpreter tears down).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aio_move_ugc import InvalidInputError, JobFailedError, OutputType
from aio_move_ugc.bulk import BulkItem, BulkResult
from aio_move_ugc.emulator import Emulator, EmulatorConfig
from tests.distributed.harness import DevServer, WorkerProcess, make_videos, wait_for

OUTPUTS = [OutputType.MAIN_FBX, OutputType.MOTION_DATA]
FAST_TIMING = {
    "heartbeat": 2.0,
    "api_call": 4.0,
    "retry_initial": 0.2,
    "retry_max": 1.0,
    "lookup_window": 1.0,
}


def _marker_counts(emu: Emulator) -> tuple[Counter[str], Counter[str]]:
    """Takes and jobs per workflow marker, straight from the emulator's records."""
    from aio_move_ugc.distributed import MARKER_KEY

    def marker(raw: str | None) -> str:
        value = json.loads(raw) if raw else None
        return str(value.get(MARKER_KEY)) if isinstance(value, dict) else "<none>"

    takes = Counter(marker(t.metadata) for t in emu.state.takes.values())
    jobs = Counter(marker(j.metadata) for j in emu.state.jobs.values())
    return takes, jobs


def _outputs_identical(emu: Emulator, results: list[BulkResult]) -> list[str]:
    """Outputs that differ from what the emulator serves, or are missing (empty: all good)."""
    wrong = []
    for result in results:
        if result.job_id is None:
            wrong.append(f"{result.item.path}: no job")
            continue
        job = emu.state.jobs[result.job_id]
        if set(result.outputs) != {OutputType(k) for k in job.output_files}:
            wrong.append(f"{result.job_id}: outputs {sorted(result.outputs)}")
        for kind, file_id in job.output_files.items():
            served = emu.storage.read_bytes(emu.state.files[file_id].key)
            path = result.outputs.get(OutputType(kind))
            if path is None or path.read_bytes() != served:
                wrong.append(f"{result.job_id} {kind}")
    return wrong


def _leftovers(root: Path) -> list[str]:
    return sorted(str(p) for p in root.rglob("*") if ".part" in p.name)


async def _collect(results: Any) -> list[BulkResult]:
    return [result async for result in results]


async def _command(*args: str, api_key: str) -> tuple[int, list[str], str]:
    """`python -m aio_move_ugc.distributed._cli ARGS`: exit code, stdout lines, stderr."""
    from tests.distributed.harness import ROOT

    env = {**os.environ, "MOVE_UGC_API_KEY": api_key, "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aio_move_ugc.distributed._cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, out.decode().splitlines(), err.decode()


async def _cli_runs(workdir: Path, address: str, emu: Emulator) -> dict[str, Any]:
    """`bulk --temporal` on a directory, twice; then the ways it refuses bad arguments."""
    videos = make_videos(workdir / "cli-videos", 2, size=20_000, start=50)
    (workdir / "cli-videos" / "README.txt").write_text("not a video: skipped, not submitted")
    dest = workdir / "cli-out"
    common = ["--endpoint-url", emu.endpoint_url, "--json", "bulk", str(videos[0].parent)]
    fast = ["--heartbeat", "2", "--api-call-timeout", "4", "--retry-initial", "0.2"]
    runs = []
    for _ in range(2):
        code, lines, _ = await _command(
            *common, "-o", str(dest), "--temporal", address, "--host", "alpha",
            "--outputs", "MAIN_FBX", *fast, api_key=emu.api_key,
        )  # fmt: skip
        rows = [json.loads(line) for line in lines]
        runs.append(
            {
                "code": code,
                "ok": sorted(r["ok"] for r in rows),
                "skipped": sorted(r["skipped"] for r in rows),
                "outputs": sorted(len(r["outputs"]) for r in rows),
            }
        )
    bad_address = await _command(
        *common, "-o", str(dest), "--temporal", "nowhere", api_key=emu.api_key
    )
    no_videos = await _command(
        "--json", "bulk", str(workdir / "nothing-here"), "-o", str(dest),
        "--temporal", address, api_key=emu.api_key,
    )  # fmt: skip
    worker_no_server = await _command(
        "worker", "--temporal", "127.0.0.1:1", "--host", "x", "--connect-retries", "0",
        api_key=emu.api_key,
    )  # fmt: skip
    return {
        "runs": runs,
        "refusals": [
            (code, len(err.strip().splitlines()), err.strip()[:80])
            for code, _, err in (bad_address, no_videos, worker_no_server)
        ],
        "key_printed": any(
            emu.api_key in err or emu.api_key in "".join(out)
            for _, out, err in (bad_address, no_videos, worker_no_server)
        ),
    }


async def basic(workdir: Path) -> dict[str, Any]:
    """One worker: a run, the same inputs again, bad input, failed jobs and `retry_failed`."""
    from temporalio.client import Client

    from aio_move_ugc.distributed import DistributedBulk, Timing

    findings: dict[str, Any] = {}
    config = EmulatorConfig(
        job_queue_delay=0.1, job_duration=0.3, output_lag=0.1, output_size=8192, seed=5
    )
    server = DevServer(workdir)
    try:
        async with Emulator(config) as emu:
            worker = WorkerProcess(
                "alpha",
                temporal=server.address,
                endpoint_url=emu.endpoint_url,
                api_key=emu.api_key,
                logdir=workdir,
                extra=["--poll-interval", "0.2", "--poll-max-interval", "0.5"],
            )
            # The worker starts before the server (as when both come back after a reboot, or
            # a worker restarts while the server does): it keeps trying until it answers.
            await worker.start()
            await wait_for(lambda: _logged(worker.log, "does not answer yet"), "the worker to wait")
            await server.start()
            findings["worker_waited_for_server"] = worker.process is not None and (
                worker.process.returncode is None
            )
            try:
                temporal = await Client.connect(server.address)
                bulk = DistributedBulk(temporal, timing=Timing(**FAST_TIMING))
                videos = make_videos(workdir / "videos", 4, size=50_000)
                dest = workdir / "out"
                first = await _collect(bulk.run(videos, host="alpha", dest=dest, outputs=OUTPUTS))
                findings["first_ok"] = [r.ok for r in first]
                findings["first_skipped"] = [r.skipped for r in first]
                findings["first_wrong_outputs"] = _outputs_identical(emu, first)
                findings["first_distinct_jobs"] = len({r.job_id for r in first})
                counts_before = (len(emu.state.takes), len(emu.state.jobs), len(emu.state.files))
                again = await _collect(bulk.run(videos, host="alpha", dest=dest, outputs=OUTPUTS))
                findings["again_ok"] = [r.ok for r in again]
                findings["again_skipped"] = [r.skipped for r in again]
                findings["again_same_jobs"] = sorted(r.job_id or "" for r in again) == sorted(
                    r.job_id or "" for r in first
                )
                counts_after = (len(emu.state.takes), len(emu.state.jobs), len(emu.state.files))
                findings["again_created_nothing"] = counts_before == counts_after
                # Other outputs make another input: a new workflow, a new take.
                other = await _collect(
                    bulk.run(videos[:1], host="alpha", dest=dest, outputs=[OutputType.MAIN_FBX])
                )
                findings["other_outputs_new_job"] = other[0].ok and other[0].job_id not in {
                    r.job_id for r in first
                }
                findings["other_outputs_files"] = sorted(k.value for k in other[0].outputs)
                findings["leftovers"] = _leftovers(dest)

                # Creates whose answers are lost while list queries lag a second behind:
                # each is found within the lookup window, never made twice.
                ops = emu.stats.operations
                creates = (ops["CreateSingleCamTake"], ops["CreateSingleCamJob"])
                emu.set_list_lag(1.0)
                emu.lose_answers("CreateSingleCamTake")
                emu.lose_answers("CreateSingleCamJob")
                lagging = make_videos(workdir / "lagging", 1, size=30_000, start=200)
                patient = DistributedBulk(
                    temporal, timing=Timing(**{**FAST_TIMING, "lookup_window": 2.0})
                )
                found = await _collect(
                    patient.run(lagging, host="alpha", dest=dest, outputs=OUTPUTS)
                )
                emu.set_list_lag(0.0)
                takes, jobs = _marker_counts(emu)
                findings["lag_ok"] = [r.ok for r in found]
                findings["lag_lost_answers"] = emu.stats.faults["graphql lost answer"]
                findings["lag_creates"] = [
                    ops["CreateSingleCamTake"] - creates[0],
                    ops["CreateSingleCamJob"] - creates[1],
                ]
                findings["lag_records"] = [takes[found[0].key], jobs[found[0].key]]

                # Bad input: refused before anything is sent.
                requests = emu.stats.graphql_requests
                refused = []
                empty = workdir / "videos" / "empty.mp4"
                empty.write_bytes(b"")
                text = workdir / "videos" / "notes.txt"
                text.write_text("not a video")
                attempts: list[Callable[[], Awaitable[object]]] = [
                    lambda: bulk.submit([workdir / "missing.mp4"], host="alpha", dest=dest),
                    lambda: bulk.submit([empty], host="alpha", dest=dest),
                    lambda: bulk.submit([text], host="alpha", dest=dest),
                    lambda: bulk.submit(videos, host="alpha", dest=dest, outputs=["NOPE"]),
                    lambda: bulk.submit(videos, host="", dest=dest),
                    lambda: bulk.submit(videos, host="a@b", dest=dest),
                    lambda: bulk.submit(
                        [BulkItem(videos[0], metadata={"bad": object()})], host="alpha", dest=dest
                    ),
                    lambda: bulk.submit(
                        [BulkItem(videos[0], device_label="")], host="a", dest=dest
                    ),
                ]
                for attempt in attempts:
                    try:
                        await attempt()
                        refused.append("accepted")
                    except InvalidInputError:  # ConfigurationError (a BulkItem's) included
                        refused.append("InvalidInputError")
                findings["bad_input"] = refused
                findings["bad_input_sent_nothing"] = emu.stats.graphql_requests == requests
                findings["cli"] = await _cli_runs(workdir, server.address, emu)
                await worker.stop()
            finally:
                await worker.stop()

        # Failed jobs, then retry_failed: the same take, one new job each, the old one excluded.
        failing = EmulatorConfig(
            job_queue_delay=0.1, job_duration=0.2, output_lag=0.1, failure_rate=1.0, seed=6
        )
        async with Emulator(failing) as emu:
            worker = WorkerProcess(
                "alpha",
                temporal=server.address,
                endpoint_url=emu.endpoint_url,
                api_key=emu.api_key,
                logdir=workdir,
                extra=["--poll-interval", "0.2", "--poll-max-interval", "0.5"],
            )
            await worker.start()
            try:
                temporal = await Client.connect(server.address)
                bulk = DistributedBulk(temporal, timing=Timing(**FAST_TIMING))
                videos = make_videos(workdir / "failing", 2, size=30_000, start=100)
                dest = workdir / "out-failing"
                failed = await _collect(bulk.run(videos, host="alpha", dest=dest))
                findings["failed_ok"] = [r.ok for r in failed]
                findings["failed_errors"] = [type(r.error).__name__ for r in failed]
                jobs_after_fail = len(emu.state.jobs)
                takes_after_fail = len(emu.state.takes)
                plain = await _collect(bulk.run(videos, host="alpha", dest=dest))
                findings["resubmit_no_new_job"] = len(emu.state.jobs) == jobs_after_fail
                findings["resubmit_ok"] = [r.ok for r in plain]
                retried = await _collect(
                    bulk.run(videos, host="alpha", dest=dest, retry_failed=True)
                )
                findings["retried_errors"] = [type(r.error).__name__ for r in retried]
                findings["retried_new_jobs"] = len(emu.state.jobs) - jobs_after_fail
                findings["retried_new_takes"] = len(emu.state.takes) - takes_after_fail
                findings["retried_same_takes"] = sorted(r.take_id or "" for r in retried) == sorted(
                    r.take_id or "" for r in failed
                )
                findings["retried_other_jobs"] = not (
                    {r.job_id for r in retried} & {r.job_id for r in failed}
                )
                findings["job_failed_is_typed"] = all(
                    isinstance(r.error, JobFailedError) for r in retried
                )
            finally:
                await worker.stop()
    finally:
        await server.stop()
    return findings


KILL_STEPS = ("upload", "uploaded", "create_take", "create_job", "download")


async def kills(workdir: Path) -> dict[str, Any]:
    """Three workers, 30 inputs; a worker SIGKILLed at each step once, the dev server once."""
    from temporalio.client import Client

    from aio_move_ugc.distributed import DistributedBulk, Timing

    findings: dict[str, Any] = {}
    config = EmulatorConfig(
        job_queue_delay=0.3, job_duration=1.0, output_lag=0.2, output_size=200_000, seed=21
    )
    ledger = workdir / "ledger"
    ledger.mkdir()
    server = DevServer(workdir)
    await server.start()
    hosts = ["h0", "h1", "h2"]
    try:
        async with Emulator(config) as emu:
            workers = {
                host: WorkerProcess(
                    host,
                    temporal=server.address,
                    endpoint_url=emu.endpoint_url,
                    api_key=emu.api_key,
                    logdir=workdir,
                    extra=[
                        "--poll-interval",
                        "0.3",
                        "--poll-max-interval",
                        "1",
                        "--chunk-size",
                        "65536",
                        "--max-transfers",
                        "4",
                        # The cluster budget is in play too (and must ride out the server kill).
                        "--rate-limit",
                        "5000",
                        "--budget-batch",
                        "5",
                    ],
                    kill_at=(KILL_STEPS, ledger),
                )
                for host in hosts
            }
            stopping = asyncio.Event()
            killed: list[str] = []

            async def supervise(worker: WorkerProcess) -> None:
                """Start the worker again whenever it dies (as a machine that reboots)."""
                while True:
                    code = await worker.wait_exit()
                    if stopping.is_set() or code != -9:
                        return
                    killed.append(worker.host)
                    await worker.start()

            for worker in workers.values():
                await worker.start()
            supervisors = [asyncio.create_task(supervise(w)) for w in workers.values()]

            async def kill_server_once() -> None:
                # The server dies mid-run: once a dozen jobs exist (an observable state).
                await wait_for(lambda: len(emu.state.jobs) >= 12, "a dozen jobs", limit=240)
                await server.kill()
                findings["server_killed_with_jobs"] = len(emu.state.jobs)
                findings["results_before_server_kill"] = len(results)
                await server.start()

            results: list[BulkResult] = []
            server_killer = asyncio.create_task(kill_server_once())
            try:
                temporal = await Client.connect(server.address)
                bulk = DistributedBulk(temporal, timing=Timing(**FAST_TIMING))
                submissions = []
                expected_dir: dict[str, Path] = {}
                uploaded_by: dict[str, set[str]] = {}
                for index, host in enumerate(hosts):
                    videos = make_videos(
                        workdir / f"videos-{host}", 10, size=300_000, start=10 * index
                    )
                    target = hosts[(index + 1) % 3]
                    start = len(submissions)
                    expected_dir.update(
                        (str(v.absolute()), workdir / f"out-{target}") for v in videos
                    )
                    submissions += await bulk.submit(
                        videos,
                        host=host,
                        dest=workdir / f"out-{target}",
                        dest_host=target,
                        outputs=OUTPUTS,
                    )
                    uploaded_by[host] = {s.workflow_id for s in submissions[start:]}
                async for result in bulk.results(submissions):
                    results.append(result)
                await server_killer
            finally:
                stopping.set()
                server_killer.cancel()
                for worker in workers.values():
                    await worker.stop()
                await asyncio.gather(*supervisors, return_exceptions=True)
            takes, jobs = _marker_counts(emu)
            findings["results"] = len(results)
            findings["ok"] = sum(r.ok for r in results)
            findings["errors"] = [str(r.error) for r in results if r.error]
            findings["takes"] = len(emu.state.takes)
            findings["jobs"] = len(emu.state.jobs)
            findings["takes_per_input"] = sorted(set(takes.values()))
            findings["jobs_per_input"] = sorted(set(jobs.values()))
            findings["inputs_with_take"] = len(takes)
            findings["complete_puts"] = emu.stats.storage.get("PUT 200", 0)
            findings["wrong_outputs"] = _outputs_identical(emu, results)
            findings["leftovers"] = _leftovers(workdir)
            findings["outputs_where_asked"] = all(
                all(str(p).startswith(str(workdir / "out-")) for p in r.outputs.values())
                for r in results
            )
            # Each host uploaded exactly the videos it holds (its upload records say so).
            findings["uploads_where_held"] = all(
                {p.stem for p in (workdir / f"state-{host}" / "uploads").glob("*.json")}
                == uploaded_by[host]
                for host in hosts
            )
            findings["steps_killed"] = sorted(p.name for p in ledger.iterdir())
            findings["workers_killed"] = len(killed)
            findings["server_starts"] = server.starts
    finally:
        await server.stop()
    return findings


async def budget(workdir: Path) -> dict[str, Any]:
    """Three processes share a budget of LIMIT per WINDOW; arrivals are timed at a proxy that
    stands in front of the emulator and forwards every request to it."""
    from aiohttp import ClientSession, web

    from tests.distributed.harness import ROOT

    limit, window, lease, calls = 8, 2.0, 1.0, 10
    findings: dict[str, Any] = {"limit": limit, "window": window}
    arrivals: list[float] = []
    server = DevServer(workdir)
    await server.start()
    try:
        async with Emulator(EmulatorConfig(seed=3)) as emu, ClientSession() as session:

            async def forward(request: web.Request) -> web.Response:
                arrivals.append(time.monotonic())
                body = await request.read()
                headers = {
                    k: v
                    for k, v in request.headers.items()
                    if k in ("Authorization", "Content-Type")
                }
                async with session.post(emu.endpoint_url, data=body, headers=headers) as answer:
                    return web.Response(
                        status=answer.status,
                        body=await answer.read(),
                        content_type="application/json",
                    )

            app = web.Application()
            app.router.add_post("/graphql", forward)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            proxy = f"http://127.0.0.1:{port}/graphql"
            worker = WorkerProcess(
                "budget-host",
                temporal=server.address,
                endpoint_url=emu.endpoint_url,
                api_key=emu.api_key,
                logdir=workdir,
            )
            await worker.start()
            try:
                env = {**os.environ, "MOVE_UGC_API_KEY": emu.api_key, "PYTHONPATH": str(ROOT)}
                clients = [
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "tests.distributed.budget_client",
                        server.address,
                        proxy,
                        str(limit),
                        str(window),
                        str(lease),
                        str(calls),
                        stdout=asyncio.subprocess.PIPE,
                        env=env,
                        cwd=ROOT,
                    )
                    for _ in range(3)
                ]
                outputs = [await c.communicate() for c in clients]
                findings["clients"] = [json.loads(out.decode()) for out, _ in outputs]
            finally:
                await worker.stop()
                await runner.cleanup()
            findings["emulator_requests"] = emu.stats.graphql_requests
            findings["throttled"] = emu.stats.faults.get("graphql budget", 0)
    finally:
        await server.stop()
    arrivals.sort()
    findings["arrivals"] = len(arrivals)
    findings["max_in_window"] = max(
        (sum(1 for t in arrivals[i:] if t - start <= window) for i, start in enumerate(arrivals)),
        default=0,
    )
    findings["spread"] = arrivals[-1] - arrivals[0] if arrivals else 0.0
    return findings


async def validation(workdir: Path) -> dict[str, Any]:
    """Configuration refused with typed errors before anything connects; ids hide the key."""
    from temporalio.client import Client

    from aio_move_ugc import ConfigurationError, RateBudget
    from aio_move_ugc._ratelimit import RequestBudget
    from aio_move_ugc.distributed import ClusterBudget, WorkerConfig, budget_id_for

    # A client that is never connected: nothing below may reach for the network.
    unconnected: Any = object.__new__(Client)
    refused = []
    budgets: list[Callable[[], object]] = [
        lambda: ClusterBudget(unconnected, api_key="k" * 20, limit=0),
        lambda: ClusterBudget(unconnected, api_key="k" * 20, limit=10, window=0),
        lambda: ClusterBudget(unconnected, api_key="k" * 20, limit=10, lease=0),
        lambda: ClusterBudget(unconnected, api_key="k" * 20, limit=10, batch=11),
        lambda: ClusterBudget(unconnected, limit=10),
        lambda: WorkerConfig(host=""),
        lambda: WorkerConfig(host="a@b"),
        lambda: WorkerConfig(host="a", max_concurrent_transfers=0),
        lambda: WorkerConfig(host="a", poll_interval=5, poll_max_interval=1),
    ]
    for make in budgets:
        try:
            make()
            refused.append("accepted")
        except ConfigurationError:
            refused.append("ConfigurationError")
    key = "secret-api-key-0123456789"
    budget = ClusterBudget(unconnected, api_key=key, limit=100, window=60, lease=5)
    return {
        "refused": refused,
        "id_hides_key": key not in budget_id_for(key) and key not in repr(budget),
        "same_key_same_id": budget_id_for(key) == budget.budget_id,
        "other_key_other_id": budget_id_for(key + "x") != budget.budget_id,
        "cluster_is_request_budget": isinstance(budget, RequestBudget),
        "local_is_request_budget": isinstance(RateBudget(5), RequestBudget),
        "limit_window": [budget.limit, budget.window],
    }


def _logged(path: Path, text: str) -> bool:
    return path.exists() and text in path.read_text(errors="replace")


SCENARIOS: dict[str, Callable[[Path], Awaitable[dict[str, Any]]]] = {
    "basic": basic,
    "kills": kills,
    "budget": budget,
    "validation": validation,
}


def main() -> None:
    name, workdir, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    started = time.monotonic()
    code = 0
    try:
        findings = asyncio.run(SCENARIOS[name](workdir))
        findings["seconds"] = round(time.monotonic() - started, 1)
        out.write_text(json.dumps(findings, indent=1, default=str))
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
