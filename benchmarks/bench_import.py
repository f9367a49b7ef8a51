"""Import time of `aio_move_ugc` vs the sync SDK's `move_ugc`, in fresh interpreters.

Each measurement is a new `python -c "import X"` process; the modules take turns. `import
aiohttp` alone is measured too: it is the floor of any SDK built on aiohttp. Bytecode
caching is on (as after `pip install`), and one untimed import of each fills the caches first.
`python -X importtime` then names what our import spends its time on.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

from ._common import Row, aim, bench_env, paired_ratio, print_rows, result

NAME = "import"
OURS = "aio_move_ugc"
SYNC = "move_ugc"
FLOOR = "aiohttp"
"""The HTTP library itself: no aiohttp-based SDK imports faster than this."""
SNIPPET = "import time; t = time.perf_counter(); import {mod}; print(time.perf_counter() - t)"


def _once(module: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET.format(mod=module)],
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
        self_us, cumulative_us, name = line[len("import time:") :].split("|")
        rows.append((int(self_us), int(cumulative_us), name.rstrip()))
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
    reps = 2 if quick else 9
    modules = (OURS, SYNC, FLOOR)
    for module in modules:  # write the bytecode caches
        _once(module)
    times: dict[str, list[float]] = {module: [] for module in modules}
    for rep in range(reps):
        for module in modules[rep % 3 :] + modules[: rep % 3]:
            times[module].append(_once(module) * 1000)
    profile = importtime(OURS)
    rows = [
        Row(
            f"import {OURS}",
            "ms",
            times[OURS],
            ratios={
                SYNC: paired_ratio(times[OURS], times[SYNC]),
                FLOOR: paired_ratio(times[OURS], times[FLOOR]),
            },
            higher_is_better=False,
            extra={"importtime": profile},
        ),
        Row(f"import {SYNC}", "ms", times[SYNC], higher_is_better=False),
        Row(f"import {FLOOR} (alone)", "ms", times[FLOOR], higher_is_better=False),
    ]
    print_rows("Import time (fresh interpreter each time)", rows)
    print("  largest self times (-X importtime):")
    for entry in profile["top_self_ms"][:8]:
        print(f"    {entry['ms']:8.1f} ms  {entry['module']}")
    median = rows[0].as_dict()["median"]
    return result(
        NAME,
        "Import time",
        rows,
        params={"reps": reps},
        aims=[aim("import aio_move_ugc <= 250 ms (median)", median, 250, at_most=True)],
        started=started,
    )


if __name__ == "__main__":
    run()
