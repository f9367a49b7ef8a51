"""What the benchmarks share: an emulator in its own process, summaries, rows, printing."""

from __future__ import annotations

import json
import os
import selectors
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SERVE_SCRIPT = Path(__file__).with_name("_serve.py")
ROOT = Path(__file__).resolve().parent.parent


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Median, min, max and the raw values of repeated measurements."""
    vals = [float(v) for v in values]
    return {
        "median": statistics.median(vals),
        "min": min(vals),
        "max": max(vals),
        "runs": vals,
    }


def paired_ratio(ours: Sequence[float], peer: Sequence[float]) -> dict[str, Any]:
    """Ratios of measurements taken in the same repetition, summarized."""
    return summary([a / b for a, b in zip(ours, peer, strict=True) if b])


@dataclass
class Row:
    """One case of a benchmark: repeated measurements and how they compare to a peer."""

    case: str
    unit: str
    values: list[float]
    ratios: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Peer case -> summary of the ratios to it, repetition by repetition."""
    higher_is_better: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "unit": self.unit,
            **summary(self.values),
            "ratios": self.ratios,
            "higher_is_better": self.higher_is_better,
            "extra": self.extra,
        }


def fmt(value: float) -> str:
    """A number with about three significant digits."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def fmt_ratio(ratio: dict[str, Any] | None) -> str:
    if not ratio:
        return ""
    return f"{fmt(ratio['median'])}x [{fmt(ratio['min'])}-{fmt(ratio['max'])}]"


def fmt_ratios(ratios: dict[str, dict[str, Any]]) -> str:
    return "; ".join(f"{fmt_ratio(r)} vs {peer}" for peer, r in ratios.items())


def print_rows(title: str, rows: Sequence[Row]) -> None:
    print(f"\n== {title}", flush=True)
    print(f"{'case':44} {'unit':10} {'median':>10} {'min':>10} {'max':>10}  ratio vs peer")
    for row in rows:
        s = summary(row.values)
        ratio = fmt_ratios(row.ratios)
        print(
            f"{row.case:44} {row.unit:10} {fmt(s['median']):>10} {fmt(s['min']):>10} "
            f"{fmt(s['max']):>10}  {ratio}",
            flush=True,
        )


def aim(
    text: str,
    value: float | dict[str, Any],
    target: float,
    *,
    at_most: bool = False,
    unit: str = "x",
    ours: str = "",
    peer: str = "",
) -> dict[str, Any]:
    """An aim of the suite and whether this run met it.

    `value` is a number, or a summary (`summary`, `paired_ratio`) whose median is judged and
    whose runs the figure shows. `unit` is "x" for a ratio to a peer, else the unit of a count.
    """
    runs: list[float] = []
    if isinstance(value, dict):
        runs = [float(v) for v in value["runs"]]
        value = float(value["median"])
    met = value <= target if at_most else value >= target
    return {
        "aim": text,
        "value": value,
        "runs": runs or [value],
        "target": target,
        "at_most": at_most,
        "unit": unit,
        "met": met,
        "ours": ours,
        "peer": peer,
    }


def aim_vs(
    text: str, row: Row, peer: Row, target: float, *, at_most: bool = False
) -> dict[str, Any]:
    """An aim on the ratio of `row` to `peer` (repetition by repetition), both figures shown."""
    return aim(
        text,
        row.ratios[peer.case],
        target,
        at_most=at_most,
        ours=f"{fmt(statistics.median(row.values))} {row.unit}",
        peer=f"{peer.case}: {fmt(statistics.median(peer.values))} {peer.unit}",
    )


def result(
    name: str,
    title: str,
    rows: Sequence[Row],
    *,
    params: dict[str, Any],
    aims: Sequence[dict[str, Any]] = (),
    notes: Sequence[str] = (),
    started: float,
    **more: Any,
) -> dict[str, Any]:
    return {
        "name": name,
        "title": title,
        "params": params,
        "rows": [r.as_dict() for r in rows],
        "aims": list(aims),
        "notes": list(notes),
        "elapsed_s": time.perf_counter() - started,
        **more,
    }


def bench_env() -> dict[str, str]:
    """The environment for child processes: this repository importable, bytecode cached."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


class EmulatorProcess:
    """The emulator in a child process, so client and server do not share an interpreter.

    ```python
    with EmulatorProcess(job_duration=2.0, latency=0.05) as emu:
        emu.api_key, emu.endpoint_url, emu.stats()
    ```
    """

    def __init__(
        self,
        *,
        queue_delay: float = 0.2,
        job_duration: float = 1.0,
        output_lag: float = 0.3,
        output_size: int = 64 * 1024,
        latency: float = 0.0,
        max_seconds: float = 1800.0,
    ) -> None:
        self.args = [
            "--queue-delay",
            str(queue_delay),
            "--job-duration",
            str(job_duration),
            "--output-lag",
            str(output_lag),
            "--output-size",
            str(output_size),
            "--latency",
            str(latency),
            "--max-seconds",
            str(max_seconds),
        ]
        self.proc: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {}

    def __enter__(self) -> EmulatorProcess:
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVE_SCRIPT), *self.args],
            stdout=subprocess.PIPE,
            env=bench_env(),
        )
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + 60.0
        buffer = b""
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while len(self.env) < 3:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    self.__exit__(None, None, None)
                    raise RuntimeError("the emulator process did not start")
                if not sel.select(timeout=min(left, 1.0)):
                    continue
                chunk = os.read(fd, 4096)
                if not chunk:
                    continue
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    text = line.decode().strip()
                    if text.startswith("export "):
                        name, _, value = text[len("export ") :].partition("=")
                        self.env[name] = value
        return self

    def __exit__(self, *exc: object) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def api_key(self) -> str:
        return self.env["MOVE_UGC_API_KEY"]

    @property
    def endpoint_url(self) -> str:
        return self.env["MOVE_UGC_ENDPOINT_URL"]

    @property
    def url(self) -> str:
        return self.env["EMULATOR_URL"]

    def stats(self) -> dict[str, Any]:
        """The emulator's counters (GraphQL requests, operations, storage requests, bytes)."""
        with urllib.request.urlopen(f"{self.url}/_emulator/stats", timeout=10) as response:
            data: dict[str, Any] = json.loads(response.read())
        return data


def stats_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What the emulator served between two snapshots."""
    out: dict[str, Any] = {}
    for key, value in after.items():
        old = before.get(key)
        if isinstance(value, int | float):
            out[key] = value - (old or 0)
        elif isinstance(value, dict):
            old = old or {}
            out[key] = {k: v - old.get(k, 0) for k, v in value.items() if v - old.get(k, 0)}
    return out


def storage_requests(delta: dict[str, Any]) -> int:
    return sum(delta.get("storage", {}).values())


def process_cpu(pid: int | None = None) -> float:
    """CPU seconds (user + system) used so far by a process (this one by default)."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def curl_speed(url: str, *, runs: int = 3) -> dict[str, Any] | None:
    """Download speed of curl on `url` (bytes/s, summarized), or None without curl."""
    import shutil

    curl = shutil.which("curl")
    if curl is None:
        return None
    speeds = []
    for _ in range(runs):
        out = subprocess.run(
            [curl, "-s", "-f", "-o", "/dev/null", "-w", "%{speed_download}", url],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        speeds.append(float(out.stdout.strip()))
    return summary(speeds)
