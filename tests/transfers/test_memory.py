"""Memory of the client stays flat however large the file: a 1 GiB round trip after a 256 MiB one,
measured in a process of its own (the emulator runs in yet another process).

The bound is relative to the same run: the 256 MiB round trip puts every buffer, worker thread and
connection of a transfer in place (its cost over a small warm-up is the baseline), and four times
the bytes may then add at most half of that baseline, plus 8 MiB of slack for the allocator.
Memory that grew with size would add three baselines. A fixed ceiling of 64 MiB once failed at
65.4 MiB on a busy machine: it measured the machine (allocator arenas, thread stacks), not
whether memory grows with size. Seen here: baseline +52 MiB, then +14 MiB for 2 GiB."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
GiB = 1 << 30
SLACK_KIB = 8 * 1024


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_four_times_the_bytes_adds_at_most_half_the_baseline_to_peak_rss(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.transfers._memory_probe", str(GiB), str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["uploaded"] == report["downloaded"] == GiB
    baseline_cost = report["baseline_kib"] - report["warmed_kib"]
    growth = report["after_kib"] - report["baseline_kib"]
    extra_kib = (GiB - report["baseline_size"]) // 1024
    print(f"256 MiB round trip: +{baseline_cost / 1024:.1f} MiB; 1 GiB: +{growth / 1024:.1f} MiB")
    assert growth <= baseline_cost / 2 + SLACK_KIB, (
        f"peak RSS grew by {growth / 1024:.1f} MiB over the baseline for "
        f"{extra_kib / 1024:.0f} MiB more bytes (the baseline cost {baseline_cost / 1024:.1f} MiB)"
    )
