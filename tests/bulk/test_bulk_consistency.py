"""Creates whose answer is lost while list queries lag behind writes (`list_lag`): a run looks
again over its lookup window and never makes a second take or job; past the window the input
fails with `OutcomeUnknownError`, keeps its intent, and the rerun finds what was made."""

from __future__ import annotations

from pathlib import Path

import pytest

from aio_move_ugc import AsyncMoveUgc, OutcomeUnknownError
from aio_move_ugc.bulk import JOURNAL_NAME, BulkResult
from aio_move_ugc.emulator import Emulator
from aio_move_ugc.testing import EmulatorClock
from tests.bulk.test_bulk import make_videos
from tests.support import FAST

WINDOW = 4.0
CREATES = {"take": "CreateSingleCamTake", "job": "CreateSingleCamJob"}


async def _run(emu: Emulator, video: Path, dest: Path) -> list[BulkResult]:
    async with AsyncMoveUgc(
        emu.api_key, endpoint_url=emu.endpoint_url, clock=EmulatorClock(emu)
    ) as ugc:
        return [
            r
            async for r in ugc.bulk.run(
                [video], dest=dest, interval=0.1, max_interval=0.5, lookup_window=WINDOW
            )
        ]


@pytest.mark.parametrize("kind", sorted(CREATES))
@pytest.mark.parametrize("lag", [0.0, 0.5, 1.5, WINDOW - 0.5])
async def test_a_lost_answer_is_found_within_the_window(
    tmp_path: Path, kind: str, lag: float
) -> None:
    (video,) = make_videos(tmp_path / "videos", 1)
    async with Emulator(FAST, list_lag=lag) as emu:
        emu.lose_answers(CREATES[kind])
        (result,) = await _run(emu, video, tmp_path / "out")
        ops = emu.stats.operations
        assert result.ok, result.error
        assert emu.stats.faults["graphql lost answer"] == 1
        assert len(emu.state.takes) == 1
        assert len(emu.state.jobs) == 1
        assert ops[CREATES[kind]] == 1
        lookups = ops["ListTakes" if kind == "take" else "ListJobs"]
        # An empty answer was not taken as proof: it looked again until the record showed.
        assert lookups >= (2 if lag else 1)


@pytest.mark.parametrize("kind", sorted(CREATES))
async def test_past_the_window_the_input_fails_and_the_rerun_finds_the_record(
    tmp_path: Path, kind: str
) -> None:
    (video,) = make_videos(tmp_path / "videos", 1)
    dest = tmp_path / "out"
    async with Emulator(FAST, list_lag=3 * WINDOW) as emu:
        emu.lose_answers(CREATES[kind])
        (first,) = await _run(emu, video, dest)
        assert not first.ok
        assert isinstance(first.error, OutcomeUnknownError)
        assert emu.stats.operations[CREATES[kind]] == 1, "never created a second time"
        journal = (dest / JOURNAL_NAME).read_text()
        assert f'"creating_{kind}":' in journal  # the intent is kept for the rerun

        emu.advance(3 * WINDOW)  # the index catches up
        (second,) = await _run(emu, video, dest)
        assert second.ok, second.error
        assert len(emu.state.takes) == 1
        assert len(emu.state.jobs) == 1
        assert emu.stats.operations["CreateSingleCamTake"] == 1
        assert emu.stats.operations["CreateSingleCamJob"] == 1
