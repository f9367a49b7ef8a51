"""`ugc.files.upload` against the emulator: round trips, refusals before sending, expired URLs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aio_move_ugc import AsyncMoveUgc, IntegrityError, InvalidInputError, StorageError
from aio_move_ugc.emulator import Emulator
from aio_move_ugc.transfers import TransferConfig
from tests.support import MakeClient, MakeEmulator, MiB

from .support import faults_hitting, random_file, sha256_of, storage_requests, stored_sha256


def assert_nothing_sent(emu: Emulator) -> None:
    assert emu.stats.graphql_requests == 0
    assert storage_requests(emu) == 0
    assert emu.state.files == {}


# ------------------------------------------------------------------ round trips
@pytest.mark.parametrize("size", [1, MiB, 64 * MiB], ids=["1B", "1MiB", "64MiB"])
async def test_round_trip_keeps_every_byte(
    emu: Emulator, ugc: AsyncMoveUgc, tmp_path: Path, size: int
) -> None:
    source = await random_file(tmp_path / "take.mp4", size, seed=size)
    seen: list[tuple[int, int]] = []

    record = await ugc.files.upload(source, progress=lambda done, total: seen.append((done, total)))

    assert emu.stats.storage["PUT 200"] == 1
    assert emu.storage.info(emu.state.files[record.id].key).size == size  # type: ignore[union-attr]
    assert await stored_sha256(emu, record.id) == await sha256_of(source)
    assert seen[-1] == (size, size)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)

    dest = tmp_path / "back" / "take.mp4"
    assert await ugc.files.download(record.id, dest) == dest
    assert await sha256_of(dest) == await sha256_of(source)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["take.mp4"]


async def test_upload_returns_the_record_that_received_the_bytes(
    emu: Emulator, ugc: AsyncMoveUgc, tmp_path: Path
) -> None:
    source = await random_file(tmp_path / "clip.mp4", 1000)
    record = await ugc.files.upload(source, name="clip", metadata={"shot": 3})
    stored = emu.state.files[record.id]
    assert emu.storage.read_bytes(stored.key) == source.read_bytes()
    assert (record.type, record.name, record.metadata) == ("mp4", "clip", {"shot": 3})


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.mp4", "mp4"), ("b.MOV", "mov"), ("c.Avi", "avi"), ("d.move", "move")],
)
async def test_type_comes_from_the_suffix(
    emu: Emulator, ugc: AsyncMoveUgc, tmp_path: Path, name: str, expected: str
) -> None:
    source = await random_file(tmp_path / name, 64)
    record = await ugc.files.upload(source)
    assert record.type == expected
    assert emu.state.files[record.id].type == expected
    assert emu.state.files[record.id].key.endswith(f".{expected}")


async def test_unknown_suffix_is_refused_unless_the_type_is_given(
    emu: Emulator, ugc: AsyncMoveUgc, tmp_path: Path
) -> None:
    source = await random_file(tmp_path / "capture.bin", 64)
    with pytest.raises(InvalidInputError, match="type="):
        await ugc.files.upload(source)
    assert_nothing_sent(emu)

    record = await ugc.files.upload(source, type="mp4")
    assert record.type == "mp4"
    assert emu.storage.read_bytes(emu.state.files[record.id].key) == source.read_bytes()


# ------------------------------------------------------------------ refusals
async def test_empty_file_is_refused_before_any_request(
    emu: Emulator, ugc: AsyncMoveUgc, tmp_path: Path
) -> None:
    source = tmp_path / "empty.mp4"
    source.touch()
    with pytest.raises(InvalidInputError, match="empty"):
        await ugc.files.upload(source)
    assert_nothing_sent(emu)


async def test_file_over_five_gb_is_refused_before_any_request(
    emu: Emulator, ugc: AsyncMoveUgc, tmp_path: Path
) -> None:
    source = tmp_path / "huge.mp4"
    with source.open("wb") as handle:
        handle.truncate(5 * 10**9 + 1)  # sparse: no disk used
    with pytest.raises(InvalidInputError, match="5 GB"):
        await ugc.files.upload(source)
    assert_nothing_sent(emu)


async def test_directory_fifo_and_missing_file_are_refused(
    emu: Emulator, ugc: AsyncMoveUgc, tmp_path: Path
) -> None:
    directory = tmp_path / "folder.mp4"
    directory.mkdir()
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    missing = tmp_path / "missing.mp4"

    with pytest.raises(InvalidInputError, match="directory"):
        await ugc.files.upload(directory)
    with pytest.raises(InvalidInputError, match="regular file"):
        await ugc.files.upload(fifo)  # opening it would block forever
    with pytest.raises(InvalidInputError, match="no such file"):
        await ugc.files.upload(missing)
    assert_nothing_sent(emu)


# ------------------------------------------------------------------ faults
async def test_expired_upload_url_is_replaced_by_a_new_record(
    emu: Emulator, ugc: AsyncMoveUgc, tmp_path: Path
) -> None:
    """The server clock passes the URL's expiry before the PUT reaches it (a stalled client).

    The clock moves when the first chunk is read from disk: the request's headers leave
    together with that chunk, so the storage sees an expired URL and answers 403.
    """
    source = await random_file(tmp_path / "late.mp4", 256 * 1024)
    moved: list[bool] = []

    def stall(done: int, total: int) -> None:
        if not moved:
            moved.append(True)
            emu.advance(emu.config.url_ttl + 60)

    record = await ugc.files.upload(source, progress=stall)

    assert emu.stats.operations["CreateFile"] == 2
    assert emu.stats.storage["PUT 403"] == 1
    assert emu.stats.storage["PUT 200"] == 1
    first, second = emu.state.files.values()
    assert record.id == second.id
    assert not emu.storage.exists(first.key)
    assert emu.storage.read_bytes(second.key) == source.read_bytes()


async def test_upload_gives_up_after_max_url_refreshes(
    emu: Emulator, make_client: MakeClient, tmp_path: Path
) -> None:
    ugc = make_client(transfer_config=TransferConfig(max_url_refreshes=2))
    source = await random_file(tmp_path / "late.mp4", 4096)

    def stall(done: int, total: int) -> None:
        if done == 0 or done == total:
            emu.advance(emu.config.url_ttl + 60)

    with pytest.raises(StorageError, match="expired") as caught:
        await ugc.files.upload(source, progress=stall)
    assert caught.value.status == 403
    assert emu.stats.operations["CreateFile"] == 3
    assert emu.stats.storage["PUT 403"] == 3


async def test_transient_put_failures_are_retried_from_the_start(
    make_emulator: MakeEmulator, make_client: MakeClient, tmp_path: Path
) -> None:
    seed, faults = faults_hitting({0, 1}, route="storage_put")
    emu = await make_emulator(seed=seed)
    ugc = make_client(emulator=emu, transfer_config=TransferConfig(max_retries=3))
    source = await random_file(tmp_path / "flaky.mp4", 3 * MiB)
    emu.set_faults("storage_put", faults)
    record = await ugc.files.upload(source)
    assert emu.stats.faults["storage_put reset"] == 2
    assert emu.stats.storage["PUT 200"] == 1
    assert emu.stats.operations["CreateFile"] == 1
    assert await stored_sha256(emu, record.id) == await sha256_of(source)


async def test_slow_down_answers_are_retried(
    make_emulator: MakeEmulator, make_client: MakeClient, tmp_path: Path
) -> None:
    seed, faults = faults_hitting({0, 1, 2}, kind="503", route="storage_put")
    emu = await make_emulator(seed=seed)
    ugc = make_client(emulator=emu, transfer_config=TransferConfig(max_retries=8))
    source = await random_file(tmp_path / "busy.mp4", 100_000)
    emu.set_faults("storage_put", faults)
    record = await ugc.files.upload(source)
    assert emu.stats.storage["PUT 503"] == 3
    assert emu.stats.storage["PUT 200"] == 1
    assert emu.storage.read_bytes(emu.state.files[record.id].key) == source.read_bytes()


async def test_file_that_changes_size_while_uploading_is_an_integrity_error(
    emu: Emulator, make_client: MakeClient, tmp_path: Path
) -> None:
    ugc = make_client(transfer_config=TransferConfig(chunk_size=64 * 1024, max_retries=0))
    source = await random_file(tmp_path / "growing.mp4", MiB)

    def shrink(done: int, total: int) -> None:
        if done == 64 * 1024:
            os.truncate(source, 128 * 1024)

    with pytest.raises(IntegrityError, match="shrank"):
        await ugc.files.upload(source, progress=shrink)
    (stored,) = emu.state.files.values()
    assert not emu.storage.exists(stored.key)
