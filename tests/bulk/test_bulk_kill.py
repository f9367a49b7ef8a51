"""`aio-move-ugc bulk` killed (SIGKILL) at several points and resumed: nothing twice, nothing lost.

The emulator runs in the test's own loop, which keeps serving while the command runs in a
subprocess, and outlives each killed run. One run after another is killed at a different
point (each with faults that widen its window), then a last run finishes the batch:

1. mid-upload: PUTs held up by storage latency;
2. mid-take-create: createSingleCamTake has created the take but its answer is held up; the
   client dies without knowing the take's id, so only the lookup by marker can find it;
3. mid-job-create: the same for createSingleCamJob (found with `jobs.list(take_id=...)`);
4. after job creation: some jobs exist, not every output is downloaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from asyncio.subprocess import Process
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from aio_move_ugc.bulk import JOURNAL_NAME
from aio_move_ugc.emulator import Emulator, EmulatorConfig, RouteFaults
from tests.bulk.test_bulk import make_videos

pytestmark = pytest.mark.slow

INPUTS = 6
OUTPUTS_PER_JOB = 7
CONFIG = EmulatorConfig(
    job_queue_delay=0.2, job_duration=1.0, output_lag=0.2, output_size=4096, seed=11
)
WAIT_LIMIT = 40.0
"""Seconds a phase may take to reach its kill point (the machine may be busy)."""


def journal_records(journal: Path) -> list[dict[str, Any]]:
    if not journal.exists():
        return []
    records = []
    for line in journal.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line being written
        if isinstance(record, dict) and "key" in record:  # not the header
            records.append(record)
    return records


def keys_with(records: list[dict[str, Any]], field: str, *, since: float = 0.0) -> set[str]:
    return {r["key"] for r in records if field in r and r.get("at", 0.0) >= since}


def pending_create(records: list[dict[str, Any]], kind: str, since: float) -> str | None:
    """An input whose create of `kind` was announced (intent record) since `since` but whose
    id has not been recorded: the request is on its way."""
    announced = keys_with(records, f"creating_{kind}", since=since)
    answered = keys_with(records, f"{kind}_id", since=since)
    waiting = sorted(announced - answered)
    return waiting[0] if waiting else None


def created_for(emu: Emulator, kind: str, key: str) -> int:
    """How many takes or jobs carry this input's marker."""
    records = emu.state.takes if kind == "take" else emu.state.jobs
    return sum(1 for r in records.values() if key in (r.metadata or ""))


@dataclass
class Phase:
    name: str
    ready: Callable[[Emulator, list[dict[str, Any]], float], bool]
    """True when the run is where this phase kills it."""
    faults: dict[str, RouteFaults] = field(default_factory=dict)
    slow_answer: str | None = None
    """A mutation that is applied at once but answered late (the answer is what gets lost)."""


def uploading(emu: Emulator, records: list[dict[str, Any]], since: float) -> bool:
    # Two uploads finished and two more file records created: those PUTs are held up.
    stats = emu.stats
    return stats.storage_count("PUT", 200) >= 2 and stats.operations["CreateFile"] >= 4


def created_unanswered(kind: str) -> Callable[[Emulator, list[dict[str, Any]], float], bool]:
    """The server has made the take (job) of an input whose client is still waiting for the id."""

    def ready(emu: Emulator, records: list[dict[str, Any]], since: float) -> bool:
        key = pending_create(records, kind, since)
        return key is not None and created_for(emu, kind, key) == 1

    return ready


def jobs_running(emu: Emulator, records: list[dict[str, Any]], since: float) -> bool:
    return len(keys_with(records, "job_id")) == INPUTS and len(
        keys_with(records, "downloaded")
    ) < len(keys_with(records, "job_id"))


PHASES = [
    Phase("mid-upload", uploading, faults={"storage_put": RouteFaults(latency=1.0)}),
    Phase("mid-take-create", created_unanswered("take"), slow_answer="createSingleCamTake"),
    Phase("mid-job-create", created_unanswered("job"), slow_answer="createSingleCamJob"),
    Phase("after job creation", jobs_running),
]


@contextlib.contextmanager
def answered_late(emu: Emulator, mutation: str | None, delay: float = 1.5) -> Iterator[None]:
    """Apply `mutation` at once, answer it `delay` seconds later (the resolver on the
    emulator's root value is wrapped for the duration)."""
    if mutation is None:
        yield
        return
    apply = getattr(emu.api, mutation)

    async def late(info: Any, **arguments: Any) -> Any:
        view = apply(info, **arguments)
        await asyncio.sleep(delay)
        return view

    setattr(emu.api, mutation, late)
    try:
        yield
    finally:
        delattr(emu.api, mutation)


def cli_env(emu: Emulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOVE_UGC_")}
    env.update(emu.environment())
    return env


async def start_bulk(
    emu: Emulator, videos: Path, out: Path, *, resume: bool, json_output: bool = False
) -> Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aio_move_ugc",
        *(["--json"] if json_output else []),
        "bulk",
        str(videos),
        "-o",
        str(out),
        "--interval",
        "0.2",
        "--concurrency",
        "2",
        *(["--resume"] if resume else []),
        env=cli_env(emu),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def kill_when(
    proc: asyncio.subprocess.Process,
    emu: Emulator,
    journal: Path,
    phase: Phase,
    since: float,
) -> list[dict[str, Any]]:
    """SIGKILL the run once `phase.ready`; the journal as it was at that moment."""
    deadline = time.monotonic() + WAIT_LIMIT
    while True:
        records = journal_records(journal)
        if phase.ready(emu, records, since):
            break
        if proc.returncode is not None:
            _, stderr = await proc.communicate()
            raise AssertionError(f"{phase.name}: the run ended first: {stderr.decode()}")
        assert time.monotonic() < deadline, f"{phase.name}: kill point not reached in time"
        await asyncio.sleep(0.02)
    if phase.name == "mid-upload":
        await asyncio.sleep(0.2)  # let the last file record's PUT start (it is held 1 s)
    proc.kill()
    await proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    return records


async def test_killed_runs_resume_without_uploading_or_creating_twice(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    make_videos(videos, INPUTS, size=64 * 1024)
    out = tmp_path / "out"
    journal = out / JOURNAL_NAME
    orphans: dict[str, str] = {}
    async with Emulator(CONFIG) as emu:
        for index, phase in enumerate(PHASES):
            for route in ("graphql", "storage_put"):
                emu.set_faults(route, phase.faults.get(route))
            since = time.time()
            with answered_late(emu, phase.slow_answer):
                proc = await start_bulk(emu, videos, out, resume=index > 0)
                records = await kill_when(proc, emu, journal, phase, since)
            for kind in ("take", "job"):
                if phase.name == f"mid-{kind}-create":
                    # The server made it; the killed client never learnt its id.
                    key = pending_create(records, kind, since)
                    assert key is not None
                    assert created_for(emu, kind, key) == 1
                    orphans[kind] = key
        emu.set_faults("graphql", None)
        emu.set_faults("storage_put", None)

        # Resume until done (one run should do).
        for _attempt in range(3):
            proc = await start_bulk(emu, videos, out, resume=True, json_output=True)
            stdout, stderr = await proc.communicate()
            if proc.returncode == 0:
                break
        assert proc.returncode == 0, stderr.decode()[-2000:]
        # JSON Lines: one row per input as it ended, then the summary.
        *rows, last = [json.loads(line) for line in stdout.splitlines()]
        summary = {**last["summary"], "results": rows}
        state, stats = emu.state, emu.stats

    assert summary["failed"] == 0
    assert len(summary["results"]) == INPUTS
    assert all(row["ok"] for row in summary["results"])
    ops = stats.operations
    print(
        f"\nafter {len(PHASES)} kills: {dict(sorted(ops.items()))}, storage {dict(stats.storage)}"
    )

    # No file uploaded twice: one stored upload per input.
    assert stats.storage_count("PUT", 200) == INPUTS
    # No input got a second take or job: the orphans were found by lookup, not re-created.
    assert len(state.takes) == INPUTS
    assert ops["CreateSingleCamTake"] == INPUTS
    assert ops["CreateSingleCamJob"] == INPUTS
    jobs_per_take = Counter(job.take_id for job in state.jobs.values())
    assert set(jobs_per_take) == set(state.takes)
    assert set(jobs_per_take.values()) == {1}
    assert ops["ListTakes"] >= 1
    assert ops["ListJobs"] >= 1
    # The take and the job whose answers were lost are the ones the resumed runs went on with.
    assert set(orphans) == {"take", "job"}
    final = {}
    for record in journal_records(journal):
        final.setdefault(record["key"], {}).update(record)
    for kind, key in orphans.items():
        assert created_for(emu, kind, key) == 1
        (made,) = (
            rid
            for rid, r in (state.takes if kind == "take" else state.jobs).items()
            if key in (r.metadata or "")
        )
        assert final[key][f"{kind}_id"] == made
    sources = [take.sources[0].file_id for take in state.takes.values()]
    assert len(set(sources)) == INPUTS

    assert {row["job_id"] for row in summary["results"]} == set(state.jobs)
    check_outputs(summary, out)


def check_outputs(summary: dict[str, Any], out: Path) -> None:
    """Every output is there, whole; nothing half-written is left behind."""
    for row in summary["results"]:
        assert len(row["outputs"]) == OUTPUTS_PER_JOB
        for path in row["outputs"].values():
            assert Path(path).stat().st_size == CONFIG.output_size
    landed = [p for p in out.iterdir() if p.name.startswith("job-")]
    assert len(landed) == INPUTS * OUTPUTS_PER_JOB
    assert not [p for p in out.rglob("*") if ".part" in p.name]
