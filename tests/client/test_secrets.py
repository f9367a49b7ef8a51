"""The API key never shows: not in logs, reprs, error messages or exception arguments."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from aio_move_ugc import (
    APIConnectionError,
    AsyncMoveUgc,
    AuthenticationError,
    InvalidInputError,
    MoveUgcError,
    NotFoundError,
    OutcomeUnknownError,
    RetryPolicy,
    Timeout,
    ValidationError,
)
from aio_move_ugc._schema.operations import operation
from aio_move_ugc.emulator import Emulator, RouteFaults
from tests.chains import texts as chain_texts
from tests.support import FAST

from ._paths import broken
from .support import SEED, inject_once, singlecam_take

KEY = "sk-live-7Hq2VxN9pLw4Rt8Zk3Jd"
WRONG_KEY = "sk-live-WRONG-0b1c2d3e4f5a6b"
FAST_RETRY = RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.02, max_retry_after=0.02)


@pytest.fixture
async def secret_emu() -> AsyncIterator[Emulator]:
    async with Emulator(replace(FAST, seed=SEED), api_key=KEY) as emu:
        yield emu


async def test_the_key_shows_nowhere(
    secret_emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emu = secret_emu
    errors: list[BaseException] = []
    shown: list[Any] = []

    async def expect(error: type[BaseException], call: Any) -> None:
        with pytest.raises(error) as caught:
            await call
        errors.append(caught.value)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/graphql"

    async with (
        AsyncMoveUgc(KEY, endpoint_url=emu.endpoint_url, retry=FAST_RETRY) as ugc,
        AsyncMoveUgc(WRONG_KEY, endpoint_url=emu.endpoint_url, retry=FAST_RETRY) as wrong,
        AsyncMoveUgc(KEY, endpoint_url=closed, retry=FAST_RETRY) as nowhere,
        AsyncMoveUgc(KEY, endpoint_url=emu.endpoint_url, timeout=Timeout(read=0.05)) as hasty,
    ):
        # Success paths.
        take = await singlecam_take(ugc)
        job = await ugc.jobs.create_singlecam(take.id, expand=["take", "client"])
        shown += [take, job, await ugc.jobs.retrieve(job.id, expand=["outputs", "client"])]
        shown += [await ugc.takes.list(), await ugc.client.retrieve(), await ugc.rigs.list()]
        video = await ugc.takes.retrieve(take.id, expand=["sources"])
        assert video.video_file is not None
        shown += [video, await ugc.files.retrieve(video.video_file.id, expand=["client"])]
        # Refused key, missing things, rejected documents, bad input.
        await expect(AuthenticationError, wrong.jobs.retrieve(job.id))
        await expect(NotFoundError, ugc.jobs.retrieve("job-00000000-0000-4000-8000-000000000000"))
        await expect(
            ValidationError, ugc._ctx.execute(broken(operation("GetJob")), {"jobId": job.id})
        )
        await expect(InvalidInputError, ugc.jobs.retrieve("take-1"))
        # Faults: retried 503s, a cut answer of a create, an unreachable host, a slow answer.
        inject_once(emu, "503")
        shown.append(await ugc.jobs.retrieve(job.id))
        emu.set_faults("graphql", RouteFaults(rate_503=1.0))
        await expect(MoveUgcError, ugc.client.retrieve())
        emu.set_faults("graphql", RouteFaults(reset_rate=1.0))
        await expect(OutcomeUnknownError, ugc.jobs.create_singlecam(take.id))
        emu.set_faults("graphql", RouteFaults(latency=0.2))
        await expect(APIConnectionError, hasty.rigs.list())
        emu.set_faults("graphql", None)
        await expect(APIConnectionError, nowhere.files.create("mp4"))
        shown += [ugc, wrong, nowhere, hasty, ugc._ctx.transport, ugc.retry, ugc.timeout]
        shown += [vars(ugc), vars(ugc._ctx.transport)]
    # Configuration mistakes that involve a key.
    for bad in (KEY[:10], f"{KEY} ", f"{KEY}\n"):
        with pytest.raises(MoveUgcError) as caught:
            AsyncMoveUgc(bad)
        errors.append(caught.value)

    assert len(errors) == 11
    texts = [text for error in errors for text in chain_texts(error)]
    texts += [repr(thing) for thing in shown] + [str(thing) for thing in shown]
    formatter = logging.Formatter()
    texts += [record.getMessage() for record in caplog.records]
    texts += [formatter.format(record) for record in caplog.records]
    assert caplog.records, "the paths above log something (retries at least)"
    assert any("retrying" in record.getMessage() for record in caplog.records)
    for secret in (KEY, KEY[:10], WRONG_KEY):
        leaks = [text for text in texts if secret in text]
        assert leaks == [], f"{secret!r} leaked"
