"""Seeded, reproducible fault injection and the emulator's clock."""

from __future__ import annotations

import random
import time
import zlib
from dataclasses import dataclass
from typing import Literal

from ._config import ROUTES, RouteFaults, check_route_faults

FaultKind = Literal["429", "500", "503", "reset", "expired"]


@dataclass(frozen=True)
class Fault:
    """What happens to one request: an error status, a cut connection, and/or added latency."""

    kind: FaultKind | None
    latency: float
    reset_fraction: float = 0.5
    """For resets: the share of the body that gets through before the cut."""


class Clock:
    """Server time: the wall clock plus an offset that tests move forward (`advance`)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class FaultInjector:
    """Draws the fate of each request from one seeded generator per route."""

    def __init__(self, seed: int | None, faults: dict[str, RouteFaults]) -> None:
        # Without a seed, fates are drawn as with seed 0: only ids need to differ per emulator.
        self._seed = seed or 0
        self._faults = dict(faults)
        self._rngs = {route: self._rng(route) for route in ROUTES}

    def _rng(self, route: str) -> random.Random:
        return random.Random(self._seed * 1_000_003 + zlib.crc32(route.encode()))

    def set(self, route: str, faults: RouteFaults | None) -> None:
        """Change a route's faults while running; its draws restart from the seed."""
        check_route_faults(route, faults)
        if faults is None:
            self._faults.pop(route, None)
        else:
            self._faults[route] = faults
        self._rngs[route] = self._rng(route)

    def draw(self, route: str) -> Fault | None:
        spec = self._faults.get(route)
        if spec is None:
            return None
        rng = self._rngs[route]
        roll = rng.random()
        fraction = rng.random()
        kind: FaultKind | None = None
        edge = 0.0
        for name, rate in (
            ("429", spec.rate_429),
            ("500", spec.rate_500),
            ("503", spec.rate_503),
            ("reset", spec.reset_rate),
            ("expired", spec.expire_rate),
        ):
            edge += rate
            if roll < edge:
                kind = name  # type: ignore[assignment]
                break
        if kind is None and spec.latency == 0:
            return None
        return Fault(kind=kind, latency=spec.latency, reset_fraction=0.1 + 0.8 * fraction)
