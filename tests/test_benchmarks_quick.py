"""The benchmark suite's quick mode runs end to end and writes its results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_benchmarks_run_and_write_json(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--results-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["quick"] is True
    for name in ("api", "watch", "import"):
        bench = results["benchmarks"][name]
        assert "error" not in bench, bench.get("error")
        assert bench["rows"]
        for row in bench["rows"]:
            assert row["min"] <= row["median"] <= row["max"]
            assert len(row["runs"]) >= 1
        assert bench["aims"]
    watch = results["benchmarks"]["watch"]
    assert watch["aims"][0]["met"], "watch_many sent more than one request per 50 jobs a round"
    assert (tmp_path / "RESULTS.md").read_text().startswith("# Benchmarks")
    assert (tmp_path / "results.png").stat().st_size > 0
