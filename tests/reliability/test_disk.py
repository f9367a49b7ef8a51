"""A full disk and a read-only destination: a typed error; a full disk leaves a resumable download.

Both need a small file system of their own (a 1 MiB tmpfs, a read-only bind mount), which only
root can mount; where mounting is not allowed the tests say so and skip.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from aio_move_ugc import AsyncMoveUgc, DiskError, InvalidInputError
from aio_move_ugc.emulator import Emulator


def _mount(args: list[str]) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here: {done.stderr.strip() or done.returncode}")


def _umount(path: Path) -> None:
    subprocess.run(["umount", str(path)], capture_output=True, check=False)


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A directory on a 1 MiB file system."""
    small = tmp_path / "small"
    small.mkdir()
    _mount(["-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)])
    try:
        yield small
    finally:
        _umount(small)


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A directory that cannot be written, even by root."""
    target = tmp_path / "ro"
    target.mkdir()
    _mount(["--bind", "-o", "ro", str(target), str(target)])
    try:
        yield target
    finally:
        _umount(target)


async def _uploaded(emulator: Emulator, ugc: AsyncMoveUgc, tmp_path: Path, size: int) -> str:
    video = tmp_path / "big.mp4"
    video.write_bytes(os.urandom(size))
    return (await ugc.files.upload(video)).id


async def test_full_disk_is_a_typed_error_and_the_download_resumes_once_space_is_made(
    emulator: Emulator, tmp_path: Path, full_disk: Path
) -> None:
    filler = full_disk / "filler"
    filler.write_bytes(b"\0" * (600 << 10))  # what is left cannot hold the object
    async with AsyncMoveUgc(emulator.api_key, endpoint_url=emulator.endpoint_url) as ugc:
        file_id = await _uploaded(emulator, ugc, tmp_path, 900 << 10)
        dest = full_disk / "big.mp4"
        with pytest.raises(DiskError, match="No space left") as caught:
            await ugc.files.download(file_id, dest)
        assert caught.value.errno == errno.ENOSPC
        assert isinstance(caught.value, OSError)
        assert not dest.exists()
        # What was written stays, recorded in the sidecar: the next try resumes from it.
        assert (full_disk / "big.mp4.part.json").exists()
        filler.unlink()
        landed = await ugc.files.download(file_id, dest)
        stored = emulator.storage.read_bytes(emulator.state.files[file_id].key)
        assert landed.read_bytes() == stored
    assert sorted(os.listdir(full_disk)) == ["big.mp4"]


async def test_read_only_destination_is_refused_before_any_request(
    emulator: Emulator, tmp_path: Path, read_only: Path
) -> None:
    async with AsyncMoveUgc(emulator.api_key, endpoint_url=emulator.endpoint_url) as ugc:
        file_id = await _uploaded(emulator, ugc, tmp_path, 200_000)
        sent = ugc.requests_sent
        with pytest.raises(InvalidInputError, match="not writable"):
            await ugc.files.download(file_id, read_only / "out.mp4")
        with pytest.raises(InvalidInputError, match="not writable"):
            await ugc.files.download(file_id, read_only / "deeper" / "out.mp4")
        assert ugc.requests_sent == sent  # not even the file's URL was asked for
    assert emulator.stats.storage_count("GET") == 0
    assert os.listdir(read_only) == []
