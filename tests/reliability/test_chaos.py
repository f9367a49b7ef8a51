"""A bulk run through injected throttling, server faults, cut connections and short-lived URLs."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from pathlib import Path

import pytest

from aio_move_ugc import AsyncMoveUgc, OutcomeUnknownError, OutputType, RetryPolicy
from aio_move_ugc.bulk import JOURNAL_NAME
from aio_move_ugc.emulator import Emulator, EmulatorConfig, RouteFaults
from aio_move_ugc.transfers import TransferConfig

pytestmark = pytest.mark.slow

TAKES = 50
OUTPUTS = (OutputType.MAIN_FBX, OutputType.RENDER_VIDEO, OutputType.MOTION_DATA)
FAULTS = RouteFaults(rate_429=0.025, rate_500=0.025, rate_503=0.025, reset_rate=0.025)
"""About 10% of requests on every route meet a fault."""
STORAGE_FAULTS = RouteFaults(
    rate_429=0.025, rate_500=0.025, rate_503=0.025, reset_rate=0.025, expire_rate=0.03
)
"""The same on storage, plus URLs refused as expired (an explicit fault, not the clock)."""

REQUEST_BOUND = {
    "CreateFile": TAKES * 2,
    "CreateSingleCamTake": TAKES * 2,
    "CreateSingleCamJob": TAKES * 2,
}
"""Creates repeat only when a fault hid the outcome and lookups over the window (and then the
rerun's) found nothing made."""
MIN_INTERVAL = 0.1
LOOKUP_WINDOW = 0.3
"""Seconds (real: the client's default clock) an unanswered create is looked for."""
"""The shortest pause between polling rounds the run is given."""


def _videos(folder: Path) -> list[Path]:
    folder.mkdir()
    paths = []
    for i in range(TAKES):
        path = folder / f"take-{i:02d}.mp4"
        path.write_bytes(os.urandom(96 * 1024 + i))
        paths.append(path)
    return paths


def _client(emu: Emulator) -> AsyncMoveUgc:
    return AsyncMoveUgc(
        emu.api_key,
        endpoint_url=emu.endpoint_url,
        retry=RetryPolicy(max_retries=8, base_delay=0.01, max_delay=0.1, max_retry_after=0.05),
        transfer_config=TransferConfig(
            chunk_size=16 * 1024,
            part_size=32 * 1024,
            max_retries=8,
            retry_base_delay=0.01,
            retry_max_delay=0.1,
        ),
    )


async def test_chaos_bulk_completes_without_duplicates_or_debris(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    videos = _videos(tmp_path / "videos")
    dest = tmp_path / "out"
    config = EmulatorConfig(
        seed=11,
        job_queue_delay=0.05,
        job_duration=0.3,
        output_lag=0.1,
        output_size=80 * 1024,
        faults={"graphql": FAULTS, "storage_put": STORAGE_FAULTS, "storage_get": STORAGE_FAULTS},
    )
    async with Emulator(config) as emu, _client(emu) as ugc:
        started = time.monotonic()
        results = []
        # Up to five runs: with a 0.3 s lookup window on the real clock, a busy machine can
        # leave one input's create unknown in two runs in a row (seen once).
        for _run in range(5):
            done = [
                r
                async for r in ugc.bulk.run(
                    videos,
                    dest=dest,
                    outputs=OUTPUTS,
                    concurrency=8,
                    interval=MIN_INTERVAL,
                    max_interval=0.3,
                    lookup_window=LOOKUP_WINDOW,
                )
            ]
            # An input fails only when a create's outcome stayed unknown past the window
            # (typed, its intent kept); the rerun looks again and finishes it.
            failures = [(r.item.path.name, r.error) for r in done if not r.ok]
            assert all(isinstance(e, OutcomeUnknownError) for _, e in failures), failures
            results = done
            if not failures:
                break
        elapsed = time.monotonic() - started
        injected = sum(emu.stats.faults.values())
        ops = dict(emu.stats.operations)

        # Every input succeeded, within five runs.
        failures = [(r.item.path.name, r.error) for r in results if not r.ok]
        assert failures == []
        assert len(results) == TAKES
        # Faults were really injected on every route.
        assert injected > 50
        assert {k.split()[0] for k in emu.stats.faults} >= {"graphql", "storage_put", "storage_get"}
        # URLs were refused as expired on the way (403 AccessDenied) and were refreshed. Every
        # route draws its faults in order from the seed, and each run makes at least 150 GETs and
        # 50 PUTs, so these counts never depend on timing.
        assert emu.stats.faults["storage_get expired"] > 0
        assert emu.stats.faults["storage_put expired"] > 0
        assert emu.stats.storage_count("GET", 403) >= emu.stats.faults["storage_get expired"]

        # Exactly one take and one job per input: no duplicates, counted at the emulator.
        assert len(emu.state.takes) == TAKES
        assert len(emu.state.jobs) == TAKES
        assert sorted(j.take_id for j in emu.state.jobs.values()) == sorted(emu.state.takes)

        # Outputs byte-identical to what the emulator serves.
        for result in results:
            assert result.job_id is not None
            job = emu.state.jobs[result.job_id]
            assert set(result.outputs) == set(OUTPUTS)
            for kind, path in result.outputs.items():
                stored = emu.storage.read_bytes(emu.state.files[job.output_files[kind.value]].key)
                assert hashlib.md5(path.read_bytes()).digest() == hashlib.md5(stored).digest()
        # And each upload is the video's bytes.
        uploaded = {r.file_id: r.item.path for r in results}
        for file_id, path in uploaded.items():
            assert file_id is not None
            assert emu.storage.read_bytes(emu.state.files[file_id].key) == path.read_bytes()

        # No debris: no partial downloads, no sidecars; the journal is the only extra file.
        leftovers = [p.name for p in dest.iterdir() if p.suffix in (".part", ".tmp")]
        leftovers += [p.name for p in dest.iterdir() if p.name.endswith(".part.json")]
        assert leftovers == []
        assert (dest / JOURNAL_NAME).exists()

        # Requests stay within the documented bound.
        for name, bound in REQUEST_BOUND.items():
            assert TAKES <= ops.get(name, 0) <= bound, (name, ops)
        # Polling is batched: one GetJobs per round for up to 50 jobs, rounds at least
        # MIN_INTERVAL apart, plus retries of rounds that met a fault. The bound grows with the
        # run's length, so a slow machine cannot break it; per-job polling would exceed it.
        graphql_faults = sum(v for k, v in emu.stats.faults.items() if k.startswith("graphql"))
        assert ops.get("GetJobs", 0) <= elapsed / MIN_INTERVAL + 1 + graphql_faults

    # Nothing secret reached the logs, even with everything at DEBUG and faults everywhere.
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert config.api_key not in text
    assert "Signature=" not in text
    assert "x-amz-security-token=" not in text
