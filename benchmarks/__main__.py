"""Run the benchmarks: `python -m benchmarks [--quick] [--only NAME ...]`.

Benchmarks: import, api, watch, follow, bulk, transfers. Results go to
`benchmarks/results/results.json` (or `--results-dir`). A full run (without `--quick`) also
writes `benchmarks/RESULTS.md` and `benchmarks/results.png`; with `--only`, the benchmarks that
were not run keep their figures from the previous full run's JSON. Quick runs write their
Markdown and figure next to the JSON.

A full run measures a committed revision: it refuses a tree with uncommitted changes (its own
outputs aside) unless given `--allow-dirty`, and then lists the changed files in the results.
Every run records the revision, the date, the machine and the load average before and after
each benchmark.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import inspect
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import report

MODULES = {
    "import": "benchmarks.bench_import",
    "api": "benchmarks.bench_api",
    "watch": "benchmarks.bench_watch",
    "follow": "benchmarks.bench_follow",
    "bulk": "benchmarks.bench_bulk",
    "transfers": "benchmarks.bench_transfers",
}
NEEDS_CURL = frozenset({"bulk", "transfers"})
"""Benchmarks whose reference is curl: skipped (not failed) where curl is missing."""
TRANSFERS_FULL_MIB = 512
TRANSFERS_FULL_REPS = 7
OUTPUTS = ("benchmarks/RESULTS.md", "benchmarks/results.png", "benchmarks/results/")
"""What a run writes: not counted when deciding whether the tree is clean."""


def _runner(name: str) -> Callable[[bool], dict[str, Any]] | None:
    module_name = MODULES[name]
    if importlib.util.find_spec(module_name) is None:
        return None
    module = importlib.import_module(module_name)
    run = getattr(module, "run", None)
    if run is None:
        return None
    if name != "transfers":
        return run  # type: ignore[no-any-return]
    accepted = inspect.signature(run).parameters

    def transfers(quick: bool) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"quick": quick}
        if not quick and "size_mib" in accepted:
            kwargs["size_mib"] = TRANSFERS_FULL_MIB
        if not quick and "reps" in accepted:
            kwargs["reps"] = TRANSFERS_FULL_REPS
        outcome: dict[str, Any] = run(**kwargs)
        return outcome

    return transfers


def _git(*args: str) -> str:
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
    )
    return out.stdout.strip()


def _revision() -> tuple[str, list[str]]:
    """The commit measured, and the files that differ from it (the run's own outputs aside)."""
    try:
        head = _git("rev-parse", "--short", "HEAD")
        status = _git("status", "--porcelain", "--untracked-files=all")
    except (OSError, subprocess.SubprocessError):
        return "unknown", ["(not a git checkout)"]
    changed = [
        line[3:] for line in status.splitlines() if line[3:] and not line[3:].startswith(OUTPUTS)
    ]
    return head, changed


def _machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = "?"
    memory_gib: float | None = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / (1 << 20), 1)
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "memory_gib": memory_gib,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI (< 1 min)")
    parser.add_argument("--only", nargs="+", choices=list(MODULES), metavar="NAME")
    parser.add_argument("--results-dir", type=Path, default=report.RESULTS_DIR)
    parser.add_argument(
        "--allow-dirty",
        action="store_true",
        help="measure a tree with uncommitted changes (recorded in the results)",
    )
    args = parser.parse_args(argv)
    revision, changed = _revision()
    if changed and not args.quick and not args.allow_dirty:
        shown = ", ".join(changed[:8]) + (", ..." if len(changed) > 8 else "")
        print(
            f"refusing to publish figures of a tree that differs from {revision} ({shown}): "
            "commit first, or pass --allow-dirty (recorded in the results)",
            file=sys.stderr,
        )
        return 2
    names = args.only or list(MODULES)
    json_path = args.results_dir / "results.json"
    results: dict[str, Any] = {"quick": args.quick, "benchmarks": {}}
    if args.only and json_path.exists():
        previous = json.loads(json_path.read_text())
        if previous.get("quick") == args.quick:
            results = previous
    started = time.perf_counter()
    environment = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "revision": revision,
        "dirty": changed,
        **_machine(),
        "load_before": [round(x, 2) for x in os.getloadavg()],
    }
    failed = []
    for name in names:
        runner = _runner(name)
        if runner is None:
            print(f"\n== {name}: not available, skipped", flush=True)
            continue
        if name in NEEDS_CURL and shutil.which("curl") is None:
            print(f"\n== {name}: skipped, curl is not installed", flush=True)
            continue
        t0 = time.perf_counter()
        ran_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        load = os.getloadavg()[0]
        try:
            outcome = runner(args.quick)
        except (Exception, SystemExit):
            failed.append(name)
            outcome = {"name": name, "error": traceback.format_exc(limit=8)}
            print(f"\n== {name} FAILED\n{outcome['error']}", file=sys.stderr, flush=True)
        outcome.setdefault("elapsed_s", time.perf_counter() - t0)
        outcome["ran_at"] = ran_at
        outcome["load"] = [round(load, 2), round(os.getloadavg()[0], 2)]
        results["benchmarks"][name] = outcome
        print(f"   ({name}: {outcome['elapsed_s']:.1f} s)", flush=True)
    environment["load_after"] = [round(x, 2) for x in os.getloadavg()]
    results["environment"] = environment
    results["elapsed_s"] = sum(b.get("elapsed_s", 0) for b in results["benchmarks"].values())
    report.write_json(results, json_path)
    if args.quick:
        md, png = args.results_dir / "RESULTS.md", args.results_dir / "results.png"
    else:
        md, png = report.PUBLISHED_MD, report.PUBLISHED_PNG
    report.write_reports(results, md, png)
    print("\n== aims")
    for bench in results["benchmarks"].values():
        for item in bench.get("aims", []):
            print(f"  {'met   ' if item['met'] else 'MISSED'} {item['aim']}: {item['value']:.3g}")
    print(f"\nwritten {json_path}, {md}, {png} in {time.perf_counter() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
