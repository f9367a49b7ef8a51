"""Import time of `aio_move_ugc` vs `import aiohttp, pydantic`, in fresh interpreters.

Each measurement is a new `python -c "import X"` process; the imports take turns. The peer,
`import aiohttp, pydantic`, is what any SDK built on these two libraries must load; the sync
SDK's `move_ugc` is measured for reference. Bytecode caching is on (as after `pip install`),
and one untimed import of each fills the caches first. `python -X importtime` then names what
our import spends its time on.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

from ._common import Row, aim_vs, bench_env, paired_ratio, print_rows, result

NAME = "import"
OURS = "aio_move_ugc"
SYNC = "move_ugc"
FLOOR = "aiohttp, pydantic"
"""The two libraries the SDK is built on: the peer of the aim."""
MODELS = "aiohttp, pydantic.main"
"""`import pydantic` alone defers its model machinery until first use; this loads it (reference)."""
SNIPPET = "import time; t = time.perf_counter(); import {mod}{use}; print(time.perf_counter() - t)"
USE = {OURS: "; aio_move_ugc.AsyncMoveUgc"}
"""Our import also touches the client class, so that names loaded lazily on first use (if
the package ever defers them) are counted: what a program needs before its first call."""


def _once(module: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET.format(mod=module, use=USE.get(module, ""))],
        capture_output=True,
        text=True,
        env=bench_env(),
        timeout=120,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def importtime(module: str, top: int = 12) -> dict[str, Any]:
    """`-X importtime` of `module`: the biggest self times and the top-level packages."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        env=bench_env(),
        timeout=120,
        check=True,
    )
    rows = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        own, cumulative, name = line[len("import time:") :].split("|")
        rows.append((int(own), int(cumulative), name.rstrip()))
    by_self = sorted(rows, key=lambda r: r[0], reverse=True)[:top]
    # Self time summed per top-level package: where the import spends its time, by project.
    packages: dict[str, int] = {}
    for self_us, _cumulative, name in rows:
        package = name.strip().split(".")[0]
        packages[package] = packages.get(package, 0) + self_us
    total = max((r[1] for r in rows if r[2].strip() == module), default=0)
    return {
        "total_ms": total / 1000,
        "top_self_ms": [{"module": n.strip(), "ms": s / 1000} for s, _c, n in by_self],
        "top_packages_ms": [
            {"package": name, "ms": us / 1000}
            for name, us in sorted(packages.items(), key=lambda kv: kv[1], reverse=True)[:top]
        ],
    }


def run(quick: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    reps = 2 if quick else 11
    modules = (OURS, FLOOR, MODELS, SYNC)
    for module in modules:  # write the bytecode caches
        _once(module)
    times: dict[str, list[float]] = {module: [] for module in modules}
    for rep in range(reps):
        shift = rep % len(modules)
        for module in modules[shift:] + modules[:shift]:
            times[module].append(_once(module) * 1000)
    profile = importtime(OURS)
    rows = [
        Row(
            f"import {OURS}",
            "ms",
            times[OURS],
            ratios={
                f"import {FLOOR}": paired_ratio(times[OURS], times[FLOOR]),
                f"import {MODELS}": paired_ratio(times[OURS], times[MODELS]),
                f"import {SYNC}": paired_ratio(times[OURS], times[SYNC]),
            },
            higher_is_better=False,
            extra={"importtime": profile},
        ),
        Row(f"import {FLOOR}", "ms", times[FLOOR], higher_is_better=False),
        Row(f"import {MODELS}", "ms", times[MODELS], higher_is_better=False),
        Row(f"import {SYNC}", "ms", times[SYNC], higher_is_better=False),
    ]
    print_rows("Import time (fresh interpreter each time)", rows)
    print("  largest self times (-X importtime):")
    for entry in profile["top_self_ms"][:8]:
        print(f"    {entry['ms']:8.1f} ms  {entry['module']}")
    return result(
        NAME,
        "Import time",
        rows,
        params={"reps": reps},
        aims=[aim_vs(f"import {OURS} <= 1.2x import {FLOOR}", rows[0], rows[1], 1.2, at_most=True)],
        started=started,
    )


if __name__ == "__main__":
    run()
