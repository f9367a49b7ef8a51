"""How `ugc.bulk.run` moves inputs along: each video is read once for its identity and MD5
(in input order, a few at a time), its upload does not hash it again, and an upload slot is
free for the next video while the API creates a take and a job."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from aio_move_ugc import AsyncMoveUgc, IntegrityError
from aio_move_ugc import _steps as steps_module
from aio_move_ugc.bulk import JOURNAL_NAME, BulkItem
from aio_move_ugc.emulator import Emulator
from aio_move_ugc.transfers import upload as upload_module
from tests.bulk.test_bulk import make_videos, run_bulk

INPUTS = 12
CONCURRENCY = 8


async def test_each_video_is_read_once_for_identity_and_md5_in_input_order(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    videos = make_videos(tmp_path / "videos", INPUTS)
    lock = threading.Lock()
    started: list[Path] = []
    in_flight = [0, 0]  # now, most at once
    real_digest: Callable[..., Any] = steps_module._digest

    def counting_digest(path: Path, stop: threading.Event) -> Any:
        with lock:
            started.append(path)
            in_flight[0] += 1
            in_flight[1] = max(in_flight[1], in_flight[0])
        try:
            return real_digest(path, stop)
        finally:
            with lock:
                in_flight[0] -= 1

    hashing_bodies: list[bool] = []
    real_init = upload_module.FileBody.__init__

    def spying_init(self: upload_module.FileBody, *args: Any, **kwargs: Any) -> None:
        hashing_bodies.append(kwargs.get("hashing", True))
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(steps_module, "_digest", counting_digest)
    monkeypatch.setattr(upload_module.FileBody, "__init__", spying_init)
    dest = tmp_path / "out"
    async with AsyncMoveUgc(emulator.api_key, endpoint_url=emulator.endpoint_url) as ugc:
        results = await run_bulk(ugc, list(videos), dest)

    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    # One read per video for both digests, a few at a time, taken in the order of the inputs.
    assert sorted(started) == sorted(videos)
    capacity = min(CONCURRENCY, os.cpu_count() or 1)
    assert in_flight[1] <= capacity
    for position, path in enumerate(started):
        assert videos.index(path) < position + capacity
    # The uploads sent the bytes without hashing them again...
    assert hashing_bodies == [False] * INPUTS
    # ...and the MD5 the ETag was checked against is journaled with the identity.
    records = [json.loads(line) for line in (dest / JOURNAL_NAME).read_text().splitlines()]
    journaled = {r["key"]: r["md5"] for r in records if "source" in r}
    for video in videos:
        data = video.read_bytes()
        key = steps_module.identity(hashlib.sha256(data).hexdigest(), None)
        assert journaled[key] == hashlib.md5(data, usedforsecurity=False).hexdigest()


async def test_a_video_changed_after_it_was_hashed_is_not_stored_as_the_hashed_one(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed, steady = make_videos(tmp_path / "videos", 2)
    real_digest: Callable[..., Any] = steps_module._digest

    def then_change(path: Path, stop: threading.Event) -> Any:
        digests = real_digest(path, stop)
        if path == changed:
            data = path.read_bytes()
            path.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))  # same size, other bytes
        return digests

    monkeypatch.setattr(steps_module, "_digest", then_change)
    async with AsyncMoveUgc(emulator.api_key, endpoint_url=emulator.endpoint_url) as ugc:
        results = {r.item.path: r for r in await run_bulk(ugc, [changed, steady], tmp_path)}

    assert results[steady].ok
    assert not results[changed].ok
    assert isinstance(results[changed].error, IntegrityError)
    assert results[changed].take_id is None
    assert len(emulator.state.jobs) == 1


async def test_an_upload_slot_is_free_while_the_take_and_job_are_created(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = make_videos(tmp_path / "videos", 2)
    uploaded: list[Path] = []
    both_uploaded = anyio.Event()
    takes_created_after: list[int] = []

    def on_stage(item: BulkItem, stage: str) -> None:
        if stage == "uploaded":
            uploaded.append(item.path)
            if len(uploaded) == 2:
                both_uploaded.set()

    async with AsyncMoveUgc(emulator.api_key, endpoint_url=emulator.endpoint_url) as ugc:
        real_create = ugc.takes.create_singlecam

        async def create_after_both_uploads(*args: Any, **kwargs: Any) -> Any:
            # With one slot for uploads, the second video can only be uploaded while the
            # first one's take is being created if that slot was let go.
            with anyio.fail_after(30):
                await both_uploaded.wait()
            takes_created_after.append(len(uploaded))
            return await real_create(*args, **kwargs)

        monkeypatch.setattr(ugc.takes, "create_singlecam", create_after_both_uploads)
        results = []
        async for result in ugc.bulk.run(
            [first, second],
            dest=tmp_path / "out",
            concurrency=1,
            interval=0.1,
            max_interval=0.5,
            on_stage=on_stage,
        ):
            results.append(result)

    assert all(r.ok for r in results), [r.error for r in results]
    assert uploaded == [first, second]
    assert takes_created_after == [2, 2]
    assert emulator.stats.operations["CreateSingleCamTake"] == 2
