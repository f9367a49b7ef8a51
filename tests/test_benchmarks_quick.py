"""The benchmark suite's quick mode runs end to end and writes its results."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

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
    assert results["environment"]["revision"]
    for name in ("api", "watch", "follow", "import"):
        bench = results["benchmarks"][name]
        assert "error" not in bench, bench.get("error")
        assert bench["rows"]
        for row in bench["rows"]:
            assert row["min"] <= row["median"] <= row["max"]
            assert len(row["runs"]) >= 1
        assert bench["aims"]
        for item in bench["aims"]:
            assert item["runs"]
            assert item["target"] > 0
    watch = results["benchmarks"]["watch"]
    assert watch["aims"][0]["met"], "watch_many sent more than one request per 50 jobs a round"
    follow = results["benchmarks"]["follow"]
    assert follow["rows"][0]["median"] >= 3, "a followed job needs a few requests at least"
    assert follow["rows"][1]["median"] >= 600, "the job was not followed to its end"
    if shutil.which("curl") is not None:
        transfers = results["benchmarks"]["transfers"]
        assert "error" not in transfers, transfers.get("error")
        # Without nginx the nginx cases are skipped, with a reason, and have no aims.
        assert bool(transfers["aims"]) == (transfers["skipped"] is None)
    assert (tmp_path / "RESULTS.md").read_text().startswith("# Benchmarks")
    assert (tmp_path / "results.png").stat().st_size > 0


def test_full_run_refuses_uncommitted_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that publishes figures measures a committed tree, unless told otherwise."""
    from benchmarks import __main__ as runner

    monkeypatch.setattr(runner, "_revision", lambda: ("abc1234", ["aio_move_ugc/_client.py"]))
    assert runner.main(["--only", "follow", "--results-dir", str(tmp_path)]) == 2
    assert not (tmp_path / "results.json").exists()
