"""Helpers of the transfer tests: real files on disk, hashes, and seeded storage faults that
hit a chosen request."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import anyio

from aio_move_ugc.emulator import Emulator, RouteFaults
from aio_move_ugc.emulator._faults import FaultInjector
from tests.support import MiB

SEED = 11


# ------------------------------------------------------------------ files on disk
def _write_random(path: Path, size: int, seed: int) -> None:
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        remaining = size
        while remaining:
            n = min(remaining, 4 * MiB)
            handle.write(rng.randbytes(n))
            remaining -= n


async def random_file(path: Path, size: int, seed: int = 0) -> Path:
    """`size` seeded random bytes at `path` (written off the event loop)."""
    await anyio.to_thread.run_sync(_write_random, path, size, seed)
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(4 * MiB):
            digest.update(block)
    return digest.hexdigest()


async def sha256_of(path: Path) -> str:
    return await anyio.to_thread.run_sync(_sha256, path)


async def stored_sha256(emu: Emulator, file_id: str) -> str:
    """Hash of the bytes the emulator holds for a file record."""
    return await sha256_of(emu.storage.path_of(emu.state.files[file_id].key))


def storage_requests(emu: Emulator) -> int:
    return sum(emu.stats.storage.values())


# ------------------------------------------------------------------ seeded faults
_RATE_FIELDS = {"500": "rate_500", "503": "rate_503", "reset": "reset_rate"}


def faults_hitting(
    hits: set[int], *, kind: str = "reset", route: str = "storage_get", spared: int = 8
) -> tuple[int, RouteFaults]:
    """A seed and faults of `kind` on `route` that hit exactly the requests numbered in `hits`
    (from 0) and spare every other request up to `max(hits) + spared`.

    The emulator draws each request's fate from its seed; replaying those draws with the
    emulator's own injector finds a seed and rate with that outcome, so the tests do not
    depend on how the generator happens to be implemented.
    """
    horizon = max(hits) + spared + 1
    for seed in range(500):
        for percent in range(5, 100, 5):
            faults = RouteFaults(**{_RATE_FIELDS[kind]: percent / 100})
            injector = FaultInjector(seed, {route: faults})
            fates = [injector.draw(route) for _ in range(horizon)]
            hit = {i for i, fate in enumerate(fates) if fate is not None and fate.kind == kind}
            if hit == hits:
                return seed, faults
    raise AssertionError(f"no seed below 500 gives {kind} faults on exactly {sorted(hits)}")
