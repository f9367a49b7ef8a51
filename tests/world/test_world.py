"""The simulated hostile world: seeds drawn into worlds, played, every invariant checked.

The fast tier plays a small sample of seeds; `@pytest.mark.slow` plays a few hundred; `nox -s
soak` (or `WORLD_SEEDS=start:count pytest tests/world -m slow`) plays thousands. A failing seed
says how to replay it alone: `WORLD_SEED=123 pytest tests/world`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .world import draw, play

FAST_SEEDS = list(range(12))


def _seeds(default: list[int]) -> list[int]:
    one = os.environ.get("WORLD_SEED")
    if one is not None:
        return [int(one)]
    return default


def _soak_seeds() -> list[int]:
    span = os.environ.get("WORLD_SEEDS")
    if span is None:
        return list(range(1000, 1300))
    start, _, count = span.partition(":")
    return list(range(int(start), int(start) + int(count or 1)))


async def _play(seed: int, root: Path) -> None:
    await play(draw(seed), root)


@pytest.mark.parametrize("seed", _seeds(FAST_SEEDS))
async def test_world(seed: int, tmp_path: Path) -> None:
    await _play(seed, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("seed", _seeds(_soak_seeds()))
async def test_world_soak(seed: int, tmp_path: Path) -> None:
    await _play(seed, tmp_path)
