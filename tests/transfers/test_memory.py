"""Memory of the client stays flat however large the file: a 1 GiB round trip, measured in a
process of its own (the emulator runs in yet another process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
GiB = 1 << 30
BOUND_KIB = 64 * 1024


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_one_gib_round_trip_grows_peak_rss_by_at_most_64_mib(tmp_path: Path) -> None:
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
    growth = report["after_kib"] - report["before_kib"]
    assert growth <= BOUND_KIB, f"peak RSS grew by {growth / 1024:.1f} MiB"
