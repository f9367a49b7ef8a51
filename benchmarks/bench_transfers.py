"""Transfer throughput of aio_move_ugc against curl, same emulator, same presigned URLs.

    python -m benchmarks.bench_transfers               # 64 MiB, 3 repetitions
    python -m benchmarks.bench_transfers --size 1024   # 1 GiB
    python -m benchmarks.bench_transfers --quick       # one small run (CI smoke)

The emulator runs in its own process; the SDK runs here, curl in a child process. Cases:

* single-stream download: `files.download` with `part_size` above the object size (one GET),
  as configured by default and with `fsync=False`;
* ranged download: default `part_size`, 4 and 8 parts in flight;
* upload: `files.upload` (createFile + one streamed PUT with MD5 checked against the ETag).

curl downloads the same presigned GET URL with `-o FILE` and uploads with `-T FILE
-H 'Content-Type:'` to a fresh presigned PUT URL. Each repetition runs every case once in a
rotating order; ratios compare the SDK with the curl run of the same repetition. The SDK's
figures include what curl does not do: the MD5 check of the downloaded bytes against the
ETag, fsync and the rename into place (download), the createFile call and the MD5 (upload);
a second curl case adds the fsync, so downloads are also compared at equal durability.
Results also go to `benchmarks/results/transfers.json` (and `transfers-<size>mib.json`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from aio_move_ugc import AsyncMoveUgc
from aio_move_ugc.transfers import TransferConfig

from ._common import EmulatorProcess, Row, aim, paired_ratio, print_rows, result

NAME = "transfers"
MiB = 1 << 20
RESULTS = Path(__file__).resolve().parent / "results" / f"{NAME}.json"

CURL_GET = "curl GET -o file"
CURL_GET_SYNC = "curl GET -o file, then fsync"
CURL_PUT = "curl PUT -T file"
SINGLE = "aio download, single stream"
SINGLE_NO_FSYNC = "aio download, single stream, fsync=False"
RANGED_4 = "aio download, ranged, 4 in flight"
RANGED_8 = "aio download, ranged, 8 in flight"
UPLOAD = "aio upload"


def find_curl() -> str:
    curl = shutil.which("curl")
    if curl is None:
        sys.exit(
            "curl is needed as the reference and was not found on PATH; "
            "install it (Debian/Ubuntu: apt-get install -y curl) and run again"
        )
    return curl


def write_random(path: Path, size: int) -> None:
    rng = random.Random(size)
    with path.open("wb") as handle:
        left = size
        while left:
            n = min(left, 8 * MiB)
            handle.write(rng.randbytes(n))
            left -= n


def clear(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".part")):
        leftover.unlink(missing_ok=True)


class Bench:
    """Every case against one emulator process; each call times one transfer (seconds)."""

    def __init__(self, emu: EmulatorProcess, curl: str, workdir: Path, size: int) -> None:
        self.emu = emu
        self.curl = curl
        self.workdir = workdir
        self.size = size
        self.source = workdir / "source.mp4"
        self.dest = workdir / "dest.mp4"
        self.loop = asyncio.new_event_loop()
        self.clients: dict[str, AsyncMoveUgc] = {}
        self.file_id = ""

    def client(self, name: str, config: TransferConfig) -> AsyncMoveUgc:
        """One client per case, kept for the whole run, so its connections stay warm."""
        if name not in self.clients:
            self.clients[name] = AsyncMoveUgc(
                self.emu.api_key, endpoint_url=self.emu.endpoint_url, transfer_config=config
            )
        return self.clients[name]

    def close(self) -> None:
        for ugc in self.clients.values():
            self.loop.run_until_complete(ugc.aclose())
        self.loop.close()

    def prepare(self) -> None:
        write_random(self.source, self.size)
        ugc = self.client("setup", TransferConfig())
        record = self.loop.run_until_complete(ugc.files.upload(self.source))
        self.file_id = record.id

    def _url(self, *, upload: bool) -> str:
        ugc = self.clients["setup"]
        if upload:
            record = self.loop.run_until_complete(ugc.files.create("mp4"))
        else:
            record = self.loop.run_until_complete(ugc.files.retrieve(self.file_id))
        assert record.presigned_url is not None
        return record.presigned_url

    def _run_curl(self, args: list[str]) -> float:
        started = time.perf_counter()
        subprocess.run([self.curl, "-sS", "-f", *args], check=True, timeout=3600)
        return time.perf_counter() - started

    def curl_get(self) -> float:
        url = self._url(upload=False)
        clear(self.dest)
        seconds = self._run_curl(["-o", str(self.dest), url])
        assert self.dest.stat().st_size == self.size
        return seconds

    def curl_get_synced(self) -> float:
        """curl, then the flush to disk that the SDK does before it reports success."""
        url = self._url(upload=False)
        clear(self.dest)
        started = time.perf_counter()
        subprocess.run([self.curl, "-sS", "-f", "-o", str(self.dest), url], check=True)
        fd = os.open(self.dest, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return time.perf_counter() - started

    def curl_put(self) -> float:
        url = self._url(upload=True)
        return self._run_curl(
            ["-T", str(self.source), "-H", "Content-Type:", "-o", os.devnull, url]
        )

    def sdk_get(self, name: str, config: TransferConfig) -> float:
        ugc = self.client(name, config)
        url = self._url(upload=False)
        clear(self.dest)
        started = time.perf_counter()
        self.loop.run_until_complete(ugc.files.download(url, self.dest))
        seconds = time.perf_counter() - started
        assert self.dest.stat().st_size == self.size
        return seconds

    def sdk_put(self) -> float:
        ugc = self.client(UPLOAD, TransferConfig())
        started = time.perf_counter()
        self.loop.run_until_complete(ugc.files.upload(self.source))
        return time.perf_counter() - started


def measure(size: int, reps: int) -> tuple[list[Row], dict[str, list[float]]]:
    curl = find_curl()
    single = TransferConfig(part_size=max(size + MiB, TransferConfig().part_size))
    ranged = TransferConfig()
    with EmulatorProcess() as emu, TemporaryDirectory(prefix="bench-transfers-") as tmp:
        bench = Bench(emu, curl, Path(tmp), size)
        try:
            bench.prepare()
            cases: dict[str, Callable[[], float]] = {
                CURL_GET: bench.curl_get,
                CURL_GET_SYNC: bench.curl_get_synced,
                SINGLE: lambda: bench.sdk_get(SINGLE, single),
                SINGLE_NO_FSYNC: lambda: bench.sdk_get(
                    SINGLE_NO_FSYNC, replace(single, fsync=False)
                ),
                RANGED_4: lambda: bench.sdk_get(RANGED_4, replace(ranged, parts_in_flight=4)),
                RANGED_8: lambda: bench.sdk_get(RANGED_8, replace(ranged, parts_in_flight=8)),
                CURL_PUT: bench.curl_put,
                UPLOAD: bench.sdk_put,
            }
            for case in cases.values():  # warm-up: connections, thread pools, page cache
                case()
            names = list(cases)
            rates: dict[str, list[float]] = {name: [] for name in names}
            for rep in range(reps):
                order = names[rep % len(names) :] + names[: rep % len(names)]
                for name in order:
                    rates[name].append(size / cases[name]() / 1e6)
        finally:
            bench.close()
    peers = {
        SINGLE: (CURL_GET, CURL_GET_SYNC),
        SINGLE_NO_FSYNC: (CURL_GET,),
        RANGED_4: (CURL_GET, CURL_GET_SYNC),
        RANGED_8: (CURL_GET, CURL_GET_SYNC),
        UPLOAD: (CURL_PUT,),
    }
    rows = [
        Row(
            case=name,
            unit="MB/s",
            values=rates[name],
            ratios={peer: paired_ratio(rates[name], rates[peer]) for peer in peers.get(name, ())},
        )
        for name in names
    ]
    return rows, rates


def run(quick: bool = False, size_mib: int = 64, reps: int = 3) -> dict[str, Any]:
    started = time.perf_counter()
    if quick:
        size_mib, reps = min(size_mib, 16), 1
    size = size_mib * MiB
    rows, _ = measure(size, reps)
    print_rows(f"Transfers of {size_mib} MiB: MB/s (emulator in its own process)", rows)

    def ratio(case: str, peer: str = CURL_GET) -> float:
        row = next(r for r in rows if r.case == case)
        return float(row.ratios[peer]["median"])

    aims = [
        aim("single-stream download >= 0.9x curl", ratio(SINGLE), 0.9),
        aim(
            "ranged download >= 1.1x curl",
            max(ratio(RANGED_4), ratio(RANGED_8)),
            1.1,
        ),
        aim("upload >= 0.9x curl", ratio(UPLOAD, CURL_PUT), 0.9),
        aim("single-stream download >= 0.9x curl + fsync", ratio(SINGLE, CURL_GET_SYNC), 0.9),
        aim("single-stream download, fsync=False >= 0.9x curl", ratio(SINGLE_NO_FSYNC), 0.9),
    ]
    for item in aims:
        print(f"  {'met' if item['met'] else 'MISSED':6} {item['aim']}: {item['value']:.2f}x")
    return result(
        NAME,
        f"Transfers of {size_mib} MiB against curl",
        rows,
        params={"size_mib": size_mib, "reps": reps, "quick": quick, "cpus": os.cpu_count()},
        aims=aims,
        notes=[
            "SDK downloads include the MD5 check against the ETag, fsync and rename; "
            "curl writes the file and stops (its second case adds the fsync).",
            f"load average at the end: {os.getloadavg()[0]:.2f}",
        ],
        started=started,
    )


def main() -> None:
    import json

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=64, help="object size in MiB (default 64)")
    parser.add_argument("--runs", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--quick", action="store_true", help="one small run, for CI")
    args = parser.parse_args()
    if args.runs < 1 or args.size < 1:
        parser.error("--size and --runs must be at least 1")
    outcome = run(quick=args.quick, size_mib=args.size, reps=args.runs)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(outcome, indent=2) + "\n"
    by_size = RESULTS.with_name(f"{NAME}-{outcome['params']['size_mib']}mib.json")
    for path in (RESULTS, by_size):
        path.write_text(text)
    print(f"\nwritten to {RESULTS} and {by_size.name}")


if __name__ == "__main__":
    main()
