"""What a download hashes, and how: bytes hashed as they arrive when the ETag is an MD5, the
`.part` file read back only for what did not arrive at the hashed frontier, and nothing hashed
when the ETag is no MD5 (nothing to compare a digest with)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from aio_move_ugc import AsyncMoveUgc, IntegrityError, StorageError
from aio_move_ugc.transfers import TransferConfig, part_paths
from aio_move_ugc.transfers.download import Downloader
from tests.support import MakeClient, MakeEmulator, MiB

from .support import faults_hitting, random_file, sha256_of
from .test_download import SIZE, SMALL_PARTS, assert_landed, download_url_of, uploaded

ReadBack = list[int]


@pytest.fixture
def read_back(monkeypatch: pytest.MonkeyPatch) -> ReadBack:
    """Bytes the follower read back from `.part` files, one entry per trip to its thread."""
    seen: ReadBack = []
    original = Downloader._hash_upto

    def counting(self: Downloader, target: int) -> None:
        before = self._hashed
        original(self, target)
        seen.append(self._hashed - before)

    monkeypatch.setattr(Downloader, "_hash_upto", counting)
    return seen


@pytest.fixture
async def plain_server(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """A static file server whose ETags are not MD5s (as nginx's), with ranges."""
    source = await random_file(tmp_path / "served" / "video.mp4", 5 * MiB + 7, seed=3)

    async def serve(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(source)

    app = web.Application()
    app.router.add_get("/video.mp4", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/video.mp4", source
    finally:
        await runner.cleanup()


async def test_single_stream_is_hashed_as_it_arrives_and_never_read_back(
    ugc: AsyncMoveUgc, tmp_path: Path, read_back: ReadBack
) -> None:
    record = await uploaded(ugc, tmp_path, size=3 * MiB + 5)
    dest = tmp_path / "out" / "one.mp4"
    await ugc.files.download(record, dest)
    assert sum(read_back) == 0
    assert await sha256_of(dest) == await sha256_of(tmp_path / "source.mp4")
    assert_landed(dest)


async def test_ranged_parts_read_back_at_most_what_arrived_off_the_frontier(
    make_client: MakeClient, tmp_path: Path, read_back: ReadBack
) -> None:
    ugc = make_client(transfer_config=SMALL_PARTS)
    record = await uploaded(ugc, tmp_path)
    dest = tmp_path / "out" / "parts.mp4"
    await ugc.files.download(record, dest)
    # The first part, at least, is hashed in memory; the digest still covers every byte.
    assert sum(read_back) <= SIZE - MiB
    assert await sha256_of(dest) == await sha256_of(tmp_path / "source.mp4")
    assert_landed(dest)


async def test_resumed_download_hashes_the_ranges_on_disk_and_still_verifies(
    make_emulator: MakeEmulator, make_client: MakeClient, tmp_path: Path, read_back: ReadBack
) -> None:
    seed, faults = faults_hitting({4})  # the fifth GET is cut, the four before it are whole
    emu = await make_emulator(seed=seed)
    ugc = make_client(emulator=emu, transfer_config=SMALL_PARTS)
    record = await uploaded(ugc, tmp_path)
    url = await download_url_of(ugc, record.id)
    dest = tmp_path / "out" / "resumed.mp4"
    _, sidecar = part_paths(dest)
    emu.set_faults("storage_get", faults)
    with pytest.raises(StorageError):
        await ugc.files.download(url, dest)
    on_disk = sum(end - start for start, end in json.loads(sidecar.read_text())["done"])
    assert on_disk >= 3 * MiB  # two parts in flight: three of the four before the cut, at least
    emu.set_faults("storage_get", None)
    read_back.clear()

    await ugc.files.download(url, dest)
    assert sum(read_back) >= on_disk  # what an earlier run left is read and hashed
    assert await sha256_of(dest) == await sha256_of(tmp_path / "source.mp4")


async def test_resumed_download_with_a_corrupt_earlier_range_fails_the_md5(
    make_emulator: MakeEmulator, make_client: MakeClient, tmp_path: Path
) -> None:
    seed, faults = faults_hitting({4})
    emu = await make_emulator(seed=seed)
    ugc = make_client(emulator=emu, transfer_config=SMALL_PARTS)
    record = await uploaded(ugc, tmp_path)
    url = await download_url_of(ugc, record.id)
    dest = tmp_path / "out" / "corrupt.mp4"
    part, sidecar = part_paths(dest)
    emu.set_faults("storage_get", faults)
    with pytest.raises(StorageError):
        await ugc.files.download(url, dest)
    start, _ = min(json.loads(sidecar.read_text())["done"])
    with part.open("r+b") as handle:  # a byte of a range finished before the cut
        handle.seek(start + 10)
        original = handle.read(1)
        handle.seek(start + 10)
        handle.write(bytes([original[0] ^ 0xFF]))
    emu.set_faults("storage_get", None)

    with pytest.raises(IntegrityError, match="MD5"):
        await ugc.files.download(url, dest)
    assert not dest.exists()


@pytest.mark.parametrize("fsync", [True, False])
@pytest.mark.parametrize("part_size", [MiB, 16 * MiB])
async def test_without_an_md5_etag_nothing_is_read_back(
    make_client: MakeClient,
    tmp_path: Path,
    plain_server: tuple[str, Path],
    read_back: ReadBack,
    fsync: bool,
    part_size: int,
) -> None:
    url, source = plain_server
    ugc = make_client(transfer_config=TransferConfig(part_size=part_size, fsync=fsync))
    dest = tmp_path / "out" / "plain.mp4"
    await ugc.files.download(url, dest)
    assert read_back == []
    assert await sha256_of(dest) == await sha256_of(source)
    assert_landed(dest)
