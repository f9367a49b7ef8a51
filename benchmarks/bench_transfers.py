"""Transfer throughput of aio_move_ugc against curl: same server, same bytes, same run.

    python -m benchmarks.bench_transfers               # 512 MiB, 7 repetitions
    python -m benchmarks.bench_transfers --size 128    # 128 MiB
    python -m benchmarks.bench_transfers --quick       # one small run (CI smoke)

Two servers, each in its own process:

* **nginx** (see `_nginx.py`), a static server fast enough that the client is the bottleneck.
  Downloads go through the public `ugc.files.download(url, dest)` (given a URL, it makes no
  API call; the client's own storage session and settings). Uploads call
  `ugc.files.upload_to_url(url, path)`, the layer under
  `files.upload` (which first asks the API for a URL): nginx answers a PUT with 201/204 and
  an ETag the configuration sets to the file's MD5, so the session here reads 201/204 as the
  200 of S3; otherwise it is built with the settings of the client's storage session. A
  second location limits every request to `RATE_MB` MiB/s (`limit_rate`), as object stores
  limit each connection: there, ranged downloads are compared with one curl stream.
* **the emulator**, through the full client (`files.download` of its presigned GET URL,
  `files.upload` with its createFile call), against curl on the same presigned URLs.

Each repetition runs every case once in a rotating order; ratios compare the SDK with the
curl run of the same repetition, and the median of these ratios is the figure. The SDK's
downloads hash the bytes as they arrive when the ETag is an MD5 to check them against (the
emulator's are; nginx's are not, so nothing is hashed there) and, with `fsync=True` (the
default), flush them and rename into place: they are compared with curl followed by an
fsync; with `fsync=False`, with curl.
Without nginx, only the emulator cases run.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
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

import aiohttp

from aio_move_ugc import AsyncMoveUgc
from aio_move_ugc.transfers import TransferConfig

from ._common import EmulatorProcess, Row, aim_vs, paired_ratio, print_rows, result
from ._nginx import NGINX_HINT, Nginx, find_nginx, has_dav

NAME = "transfers"
MiB = 1 << 20
RATE_MB = 50
"""Per-request limit of nginx's rate-limited location, in MiB/s."""
RESULTS = Path(__file__).resolve().parent / "results" / f"{NAME}.json"

# nginx at full speed
CURL_GET = "curl GET -o file (nginx)"
CURL_GET_SYNC = "curl GET -o file, then fsync (nginx)"
SINGLE = "aio download, 1 stream, fsync (nginx)"
SINGLE_NO_FSYNC = "aio download, 1 stream, fsync=False (nginx)"
RANGED = "aio download, 4 ranged parts, fsync (nginx)"
RANGED_NO_FSYNC = "aio download, 4 ranged parts, fsync=False (nginx)"
CURL_PUT = "curl PUT -T file (nginx)"
UPLOAD = "aio upload_file (nginx)"
# nginx, every request limited to RATE_MB
CURL_SLOW = f"curl GET -o file (nginx, {RATE_MB} MiB/s per request)"
RANGED_SLOW = f"aio download, 4 ranged parts, fsync=False (nginx, {RATE_MB} MiB/s per request)"
# the emulator
EMU_CURL_GET = "curl GET -o file (emulator)"
EMU_SINGLE = "aio files.download, 1 stream, fsync=False (emulator)"
EMU_CURL_PUT = "curl PUT -T file (emulator)"
EMU_UPLOAD = "aio files.upload (emulator)"

PEERS = {
    SINGLE: (CURL_GET_SYNC,),
    SINGLE_NO_FSYNC: (CURL_GET,),
    RANGED: (CURL_GET_SYNC,),
    RANGED_NO_FSYNC: (CURL_GET,),
    UPLOAD: (CURL_PUT,),
    RANGED_SLOW: (CURL_SLOW,),
    EMU_SINGLE: (EMU_CURL_GET,),
    EMU_UPLOAD: (EMU_CURL_PUT,),
}
UNUSED_KEY = "benchmark-key-never-sent"


def find_curl() -> str:
    curl = shutil.which("curl")
    if curl is None:
        sys.exit(
            "curl is needed as the reference and was not found on PATH; "
            "install it (Debian/Ubuntu: apt-get install -y curl) and run again"
        )
    return curl


def nginx_problem() -> str | None:
    """Why the nginx cases cannot run here, or None when they can."""
    binary = find_nginx()
    if binary is None:
        return f"nginx was not found; {NGINX_HINT}"
    if not has_dav(binary):
        return f"{binary} lacks the dav module (PUT); Debian's `nginx` package has it"
    return None


def write_random(path: Path, size: int) -> str:
    """`size` seeded random bytes at `path`; their hex MD5."""
    rng = random.Random(size)
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("wb") as handle:
        left = size
        while left:
            block = rng.randbytes(min(left, 8 * MiB))
            digest.update(block)
            handle.write(block)
            left -= len(block)
    return digest.hexdigest()


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while block := handle.read(8 * MiB):
            digest.update(block)
    return digest.hexdigest()


def clear(path: Path) -> None:
    for leftover in (
        path,
        path.with_name(path.name + ".part"),
        path.with_name(path.name + ".part.json"),
    ):
        leftover.unlink(missing_ok=True)


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Bench:
    """Every case; each call times one transfer (seconds). Clients and sessions stay warm."""

    def __init__(self, curl: str, workdir: Path, size: int, slow_size: int) -> None:
        self.curl = curl
        self.workdir = workdir
        self.size = size
        self.slow_size = slow_size
        self.source = workdir / "source.mp4"
        self.dest = workdir / "dest.mp4"
        self.source_md5 = write_random(self.source, size)
        self.loop = asyncio.new_event_loop()
        self.clients: dict[str, AsyncMoveUgc] = {}
        self.sessions: list[aiohttp.ClientSession] = []
        self.web: Nginx | None = None
        self.emu: EmulatorProcess | None = None
        self.emu_file_id = ""
        self.puts = 0
        self.checked: set[str] = set()

    # ------------------------------------------------------------ set-up
    def client(self, name: str, config: TransferConfig) -> AsyncMoveUgc:
        """One client per case, kept for the whole run, so its connections stay warm."""
        if name not in self.clients:
            if self.emu is not None:
                key, endpoint = self.emu.api_key, self.emu.endpoint_url
            else:  # given URLs, `files.download` never calls the API
                key, endpoint = UNUSED_KEY, "http://127.0.0.1:9/graphql"
            self.clients[name] = AsyncMoveUgc(key, endpoint_url=endpoint, transfer_config=config)
        return self.clients[name]

    def with_nginx(self, web: Nginx) -> None:
        self.web = web
        shutil.copyfile(self.source, web.served("object.bin"))
        write_random(web.served("slow.bin"), self.slow_size)

    def with_emulator(self, emu: EmulatorProcess) -> None:
        self.emu = emu
        ugc = self.client("setup", TransferConfig())
        self.emu_file_id = self.loop.run_until_complete(ugc.files.upload(self.source)).id

    def close(self) -> None:
        for ugc in self.clients.values():
            self.loop.run_until_complete(ugc.aclose())
        for session in self.sessions:
            self.loop.run_until_complete(session.close())
        self.loop.close()

    def _check_once(self, case: str, path: Path, size: int) -> None:
        """The first transfer of each case is checked byte for byte (MD5 of the whole file)."""
        assert path.stat().st_size == size, f"{case}: {path.stat().st_size} bytes, not {size}"
        if case not in self.checked:
            self.checked.add(case)
            if size == self.size:
                assert md5_of(path) == self.source_md5, f"{case}: wrong bytes"

    # ------------------------------------------------------------- curl
    def _curl(self, args: list[str]) -> float:
        started = time.perf_counter()
        subprocess.run([self.curl, "-sS", "-f", *args], check=True, timeout=3600)
        return time.perf_counter() - started

    def curl_get(self, case: str, url: str, size: int, *, sync: bool = False) -> float:
        clear(self.dest)
        started = time.perf_counter()
        subprocess.run([self.curl, "-sS", "-f", "-o", str(self.dest), url], check=True)
        if sync:
            fsync_path(self.dest)
        seconds = time.perf_counter() - started
        self._check_once(case, self.dest, size)
        return seconds

    def curl_put(self, case: str, url: str) -> float:
        return self._curl(["-T", str(self.source), "-H", "Content-Type:", "-o", os.devnull, url])

    # -------------------------------------------------------------- SDK
    def sdk_get(self, case: str, config: TransferConfig, url: str, size: int) -> float:
        ugc = self.client(case, config)
        clear(self.dest)
        started = time.perf_counter()
        self.loop.run_until_complete(ugc.files.download(url, self.dest))
        seconds = time.perf_counter() - started
        self._check_once(case, self.dest, size)
        return seconds

    def sdk_upload_file(self, case: str, url: str) -> float:
        """`files.upload_to_url` to nginx: one streamed PUT, MD5 checked against the ETag."""
        ugc = self.client(case, TransferConfig())
        started = time.perf_counter()
        self.loop.run_until_complete(ugc.files.upload_to_url(url, self.source))
        return time.perf_counter() - started

    def sdk_upload(self, case: str) -> float:
        ugc = self.client(case, TransferConfig())
        started = time.perf_counter()
        self.loop.run_until_complete(ugc.files.upload(self.source))
        return time.perf_counter() - started

    # ---------------------------------------------------------- servers
    def put_url(self) -> str:
        """A fresh name on nginx for each PUT, the previous one removed (disk space)."""
        assert self.web is not None
        if self.puts:
            self.web.uploaded(f"up-{self.puts - 1}.bin").unlink(missing_ok=True)
        self.puts += 1
        return self.web.url("put", f"up-{self.puts - 1}.bin")

    def emu_url(self, *, upload: bool) -> str:
        ugc = self.clients["setup"]
        if upload:
            record = self.loop.run_until_complete(ugc.files.create("mp4"))
        else:
            record = self.loop.run_until_complete(ugc.files.retrieve(self.emu_file_id))
        assert record.presigned_url is not None
        return record.presigned_url

    def nginx_cases(self) -> dict[str, Callable[[], float]]:
        web = self.web
        assert web is not None
        full, slow = web.url("files", "object.bin"), web.url("slow", "slow.bin")
        size, slow_size = self.size, self.slow_size
        single = TransferConfig(part_size=max(size + MiB, TransferConfig().part_size))
        ranged = TransferConfig()  # 16 MiB parts, 4 in flight
        unsynced = replace(ranged, fsync=False)
        return {
            CURL_GET: lambda: self.curl_get(CURL_GET, full, size),
            CURL_GET_SYNC: lambda: self.curl_get(CURL_GET_SYNC, full, size, sync=True),
            SINGLE: lambda: self.sdk_get(SINGLE, single, full, size),
            SINGLE_NO_FSYNC: lambda: self.sdk_get(
                SINGLE_NO_FSYNC, replace(single, fsync=False), full, size
            ),
            RANGED: lambda: self.sdk_get(RANGED, ranged, full, size),
            RANGED_NO_FSYNC: lambda: self.sdk_get(RANGED_NO_FSYNC, unsynced, full, size),
            CURL_PUT: lambda: self.curl_put(CURL_PUT, self.put_url()),
            UPLOAD: lambda: self.sdk_upload_file(UPLOAD, self.put_url()),
            CURL_SLOW: lambda: self.curl_get(CURL_SLOW, slow, slow_size),
            RANGED_SLOW: lambda: self.sdk_get(RANGED_SLOW, unsynced, slow, slow_size),
        }

    def emulator_cases(self) -> dict[str, Callable[[], float]]:
        size = self.size
        single = TransferConfig(part_size=max(size + MiB, TransferConfig().part_size), fsync=False)
        return {
            EMU_CURL_GET: lambda: self.curl_get(EMU_CURL_GET, self.emu_url(upload=False), size),
            EMU_SINGLE: lambda: self.sdk_get(EMU_SINGLE, single, self.emu_url(upload=False), size),
            EMU_CURL_PUT: lambda: self.curl_put(EMU_CURL_PUT, self.emu_url(upload=True)),
            EMU_UPLOAD: lambda: self.sdk_upload(EMU_UPLOAD),
        }


def sizes_of(name: str, size: int, slow_size: int) -> int:
    return slow_size if name in (CURL_SLOW, RANGED_SLOW) else size


def measure(
    size: int, slow_size: int, reps: int, *, use_nginx: bool
) -> tuple[list[Row], dict[str, list[float]]]:
    curl = find_curl()
    with TemporaryDirectory(prefix="bench-transfers-") as tmp, EmulatorProcess() as emu:
        bench = Bench(curl, Path(tmp), size, slow_size)
        web = Nginx(rate_limit_mb=RATE_MB, put_etag=bench.source_md5) if use_nginx else None
        try:
            bench.with_emulator(emu)
            cases: dict[str, Callable[[], float]] = {}
            if web is not None:
                bench.with_nginx(web.__enter__())
                cases.update(bench.nginx_cases())
            cases.update(bench.emulator_cases())
            for case in cases.values():  # warm-up: connections, thread pools, page cache
                case()
            names = list(cases)
            rates: dict[str, list[float]] = {name: [] for name in names}
            for rep in range(reps):
                shift = rep * 3 % len(names)
                for name in names[shift:] + names[:shift]:
                    rates[name].append(sizes_of(name, size, slow_size) / cases[name]() / 1e6)
        finally:
            bench.close()
            if web is not None:
                web.__exit__(None, None, None)
    rows = [
        Row(
            case=name,
            unit="MB/s",
            values=rates[name],
            ratios={peer: paired_ratio(rates[name], rates[peer]) for peer in PEERS.get(name, ())},
        )
        for name in names
    ]
    return rows, rates


def run(
    quick: bool = False, size_mib: int = 512, reps: int = 7, slow_mib: int = 128
) -> dict[str, Any]:
    started = time.perf_counter()
    if quick:
        # The rate-limited object keeps 4 parts of the default 16 MiB: one would prove nothing.
        size_mib, slow_mib, reps = min(size_mib, 16), min(slow_mib, 64), 1
    size, slow_size = size_mib * MiB, slow_mib * MiB
    problem = nginx_problem()
    if problem:
        print(f"  nginx cases skipped: {problem}", flush=True)
    rows, _ = measure(size, slow_size, reps, use_nginx=problem is None)
    print_rows(f"Transfers of {size_mib} MiB: MB/s (servers in their own processes)", rows)

    by_case = {row.case: row for row in rows}

    def vs(text: str, case: str, target: float) -> dict[str, Any]:
        return aim_vs(text, by_case[case], by_case[PEERS[case][0]], target)

    aims = []
    if problem is None:
        aims = [
            vs("download, 1 stream, fsync=False >= 0.9x curl", SINGLE_NO_FSYNC, 0.9),
            vs("download, 1 stream, fsync >= 0.9x curl + fsync", SINGLE, 0.9),
            vs("download, 4 ranged parts, fsync=False >= 0.9x curl", RANGED_NO_FSYNC, 0.9),
            vs("download, 4 ranged parts, fsync >= 0.9x curl + fsync", RANGED, 0.9),
            vs(
                f"download, 4 ranged parts at {RATE_MB} MiB/s per request >= 3.5x one curl stream",
                RANGED_SLOW,
                3.5,
            ),
            vs("upload >= 0.9x curl -T", UPLOAD, 0.9),
        ]
    for item in aims:
        print(f"  {'met' if item['met'] else 'MISSED':6} {item['aim']}: {item['value']:.2f}x")
    notes = [
        "Downloads from the emulator hash every byte (MD5, its ETags are MD5s; a single stream "
        "in memory as it arrives); from nginx, whose ETags are not MD5s, nothing is hashed. "
        "With fsync they flush and rename into place.",
        "Uploads read and hash every byte and check the MD5 against the ETag.",
    ]
    if problem:
        notes.append(f"nginx cases skipped: {problem}")
    return result(
        NAME,
        f"Transfers of {size_mib} MiB against curl",
        rows,
        params={
            "size_mib": size_mib,
            "rate_limited_size_mib": slow_mib,
            "rate_limit_mib_s": RATE_MB,
            "reps": reps,
            "quick": quick,
            "nginx": problem is None,
        },
        aims=aims,
        notes=notes,
        started=started,
        skipped=problem,
    )


def main() -> None:
    import json

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=512, help="object size in MiB (default 512)")
    parser.add_argument("--runs", type=int, default=7, help="repetitions (default 7)")
    parser.add_argument("--quick", action="store_true", help="one small run, for CI")
    args = parser.parse_args()
    if args.runs < 1 or args.size < 1:
        parser.error("--size and --runs must be at least 1")
    outcome = run(quick=args.quick, size_mib=args.size, reps=args.runs)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(outcome, indent=2) + "\n")
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
