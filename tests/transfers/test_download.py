"""`ugc.files.download` against the emulator: ranged parts, resuming, changed objects, expiry,
typed storage errors that never show a signature or token."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest

from aio_move_ugc import (
    AsyncMoveUgc,
    File,
    IntegrityError,
    StorageError,
    URLExpiredError,
)
from aio_move_ugc.emulator import Emulator, RouteFaults
from aio_move_ugc.transfers import TransferConfig, part_paths, upload_file
from tests.support import MakeClient, MakeEmulator, MiB

from .support import faults_hitting, random_file, sha256_of, storage_requests

SMALL_PARTS = TransferConfig(part_size=MiB, parts_in_flight=2, max_retries=0)
SIZE = 12 * MiB + 12345
"""Thirteen parts of SMALL_PARTS, the last one short."""


def parts_of(size: int, part_size: int) -> set[tuple[int, int]]:
    return {(start, min(size, start + part_size)) for start in range(0, size, part_size)}


def recorded_ranges(sidecar: Path) -> set[tuple[int, int]]:
    raw = json.loads(sidecar.read_text())
    return {(int(start), int(end)) for start, end in raw["done"]}


async def uploaded(ugc: AsyncMoveUgc, tmp_path: Path, size: int = SIZE, seed: int = 1) -> File:
    source = await random_file(tmp_path / "source.mp4", size, seed=seed)
    return await ugc.files.upload(source)


async def download_url_of(ugc: AsyncMoveUgc, file_id: str) -> str:
    url = (await ugc.files.retrieve(file_id)).presigned_url
    assert url is not None
    return url


async def settled(emu: Emulator) -> None:
    """Wait until requests that an interrupted download abandoned are over on the server too
    (the emulator counts a request, and the bytes it sent, when its handler ends)."""
    last = None
    for _ in range(100):
        now = (storage_requests(emu), emu.stats.bytes_out)
        if now == last:
            return
        last = now
        await asyncio.sleep(0.05)
    raise AssertionError("the emulator kept serving storage requests")


def assert_landed(dest: Path) -> None:
    part, sidecar = part_paths(dest)
    assert dest.is_file()
    assert not part.exists()
    assert not sidecar.exists()
    assert sorted(p.name for p in dest.parent.iterdir()) == [dest.name]


# ------------------------------------------------------------------ shapes of a download
async def test_small_object_comes_in_one_request(
    emu: Emulator, ugc: AsyncMoveUgc, tmp_path: Path
) -> None:
    record = await uploaded(ugc, tmp_path, size=3 * MiB)
    dest = tmp_path / "out" / "small.mp4"
    await ugc.files.download(record, dest)
    assert emu.stats.storage_count("GET") == 1
    assert emu.stats.storage["GET 206"] == 1
    assert await sha256_of(dest) == await sha256_of(tmp_path / "source.mp4")
    assert_landed(dest)


async def test_large_object_comes_in_ranged_parts(
    emu: Emulator, make_client: MakeClient, tmp_path: Path
) -> None:
    ugc = make_client(transfer_config=SMALL_PARTS)
    record = await uploaded(ugc, tmp_path)
    url = await download_url_of(ugc, record.id)
    seen: list[int] = []
    dest = tmp_path / "out" / "big.mp4"

    await ugc.files.download(url, dest, progress=lambda done, total: seen.append(done))

    assert emu.stats.storage["GET 206"] == len(parts_of(SIZE, MiB)) == 13
    assert emu.stats.storage_count("GET") == 13
    assert emu.stats.bytes_out >= SIZE
    assert seen[-1] == SIZE
    assert await sha256_of(dest) == await sha256_of(tmp_path / "source.mp4")
    assert_landed(dest)


async def test_download_without_fsync_lands_the_same_bytes(
    make_client: MakeClient, tmp_path: Path
) -> None:
    ugc = make_client(transfer_config=TransferConfig(part_size=MiB, fsync=False))
    record = await uploaded(ugc, tmp_path, size=3 * MiB + 5)
    dest = tmp_path / "out" / "scratch.mp4"
    await ugc.files.download(record.id, dest)
    assert await sha256_of(dest) == await sha256_of(tmp_path / "source.mp4")
    assert_landed(dest)


async def test_download_into_a_directory_is_named_after_the_record(
    ugc: AsyncMoveUgc, tmp_path: Path
) -> None:
    record = await uploaded(ugc, tmp_path, size=1000)
    folder = tmp_path / "downloads"
    folder.mkdir()
    landed = await ugc.files.download(record.id, folder)
    assert landed == folder / f"{record.id}.mp4"
    assert landed.read_bytes() == (tmp_path / "source.mp4").read_bytes()


async def test_existing_destination_is_replaced(ugc: AsyncMoveUgc, tmp_path: Path) -> None:
    record = await uploaded(ugc, tmp_path, size=5000)
    dest = tmp_path / "out" / "clip.mp4"
    dest.parent.mkdir()
    dest.write_bytes(b"old bytes, longer or shorter" * 1000)
    await ugc.files.download(record.id, dest)
    assert dest.read_bytes() == (tmp_path / "source.mp4").read_bytes()
    assert_landed(dest)


# ------------------------------------------------------------------ resuming
async def test_reset_leaves_a_part_that_resumes_with_only_the_missing_ranges(
    make_emulator: MakeEmulator, make_client: MakeClient, tmp_path: Path
) -> None:
    seed, faults = faults_hitting({4})  # the fifth GET is cut, the four before it are whole
    emu = await make_emulator(seed=seed)
    ugc = make_client(emulator=emu, transfer_config=SMALL_PARTS)
    record = await uploaded(ugc, tmp_path)
    url = await download_url_of(ugc, record.id)
    dest = tmp_path / "out" / "video.mp4"
    part, sidecar = part_paths(dest)

    emu.set_faults("storage_get", faults)
    with pytest.raises(StorageError) as caught:
        await ugc.files.download(url, dest)
    # What broke stays visible by name; the aiohttp error itself (it holds the signed URL) is
    # not chained.
    assert "ClientPayloadError" in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None

    assert part.is_file()
    assert sidecar.is_file()
    assert not dest.exists()
    assert part.stat().st_size == SIZE
    done = recorded_ranges(sidecar)
    everything = parts_of(SIZE, MiB)
    assert done
    assert done < everything
    missing = everything - done

    emu.set_faults("storage_get", None)
    await settled(emu)
    before_206, before_gets, before_bytes = (
        emu.stats.storage["GET 206"],
        emu.stats.storage_count("GET"),
        emu.stats.bytes_out,
    )
    await ugc.files.download(url, dest)

    assert emu.stats.storage["GET 206"] - before_206 == len(missing)
    assert emu.stats.storage_count("GET") - before_gets == len(missing)
    assert emu.stats.bytes_out - before_bytes == sum(end - start for start, end in missing)
    assert await sha256_of(dest) == await sha256_of(tmp_path / "source.mp4")
    assert_landed(dest)


async def test_cancelled_download_resumes_with_only_the_missing_ranges(
    emu: Emulator, make_client: MakeClient, tmp_path: Path
) -> None:
    ugc = make_client(transfer_config=SMALL_PARTS)
    record = await uploaded(ugc, tmp_path)
    url = await download_url_of(ugc, record.id)
    dest = tmp_path / "out" / "video.mp4"
    part, sidecar = part_paths(dest)
    emu.set_faults("storage_get", RouteFaults(latency=0.05))
    halfway = asyncio.Event()

    def progress(done: int, total: int) -> None:
        if done >= total // 3:
            halfway.set()

    task = asyncio.create_task(ugc.files.download(url, dest, progress=progress))
    await asyncio.wait_for(halfway.wait(), 20)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert part.is_file()
    assert sidecar.is_file()
    assert not dest.exists()
    done = recorded_ranges(sidecar)
    missing = parts_of(SIZE, MiB) - done
    assert done
    assert missing

    emu.set_faults("storage_get", None)
    await settled(emu)
    before_206, before_bytes = emu.stats.storage["GET 206"], emu.stats.bytes_out
    await ugc.files.download(url, dest)
    assert emu.stats.storage["GET 206"] - before_206 == len(missing)
    assert emu.stats.bytes_out - before_bytes == sum(end - start for start, end in missing)
    assert await sha256_of(dest) == await sha256_of(tmp_path / "source.mp4")
    assert_landed(dest)


async def test_object_changed_between_attempts_restarts_from_scratch(
    make_emulator: MakeEmulator, make_client: MakeClient, tmp_path: Path
) -> None:
    seed, faults = faults_hitting({3})
    emu = await make_emulator(seed=seed)
    ugc = make_client(emulator=emu, transfer_config=SMALL_PARTS)
    record = await uploaded(ugc, tmp_path)
    dest = tmp_path / "out" / "video.mp4"
    _, sidecar = part_paths(dest)
    emu.set_faults("storage_get", faults)
    with pytest.raises(StorageError):
        await ugc.files.download(record.id, dest)
    assert recorded_ranges(sidecar)
    emu.set_faults("storage_get", None)

    new = await random_file(tmp_path / "new.mp4", SIZE - 1000, seed=99)
    await emu.storage.write_object(emu.state.files[record.id].key, [new.read_bytes()])

    await ugc.files.download(record.id, dest)
    assert emu.stats.storage["GET 412"] >= 1
    assert await sha256_of(dest) == await sha256_of(new)
    assert_landed(dest)


async def test_bytes_corrupted_on_disk_between_attempts_fail_the_md5_check(
    make_emulator: MakeEmulator, make_client: MakeClient, tmp_path: Path
) -> None:
    seed, faults = faults_hitting({4})
    emu = await make_emulator(seed=seed)
    ugc = make_client(emulator=emu, transfer_config=SMALL_PARTS)
    record = await uploaded(ugc, tmp_path)
    url = await download_url_of(ugc, record.id)
    dest = tmp_path / "out" / "video.mp4"
    part, sidecar = part_paths(dest)
    emu.set_faults("storage_get", faults)
    with pytest.raises(StorageError):
        await ugc.files.download(url, dest)
    emu.set_faults("storage_get", None)
    start, _ = min(recorded_ranges(sidecar))
    with part.open("r+b") as handle:  # a bit flips in a range the sidecar calls done
        handle.seek(start + 1000)
        byte = handle.read(1)
        handle.seek(start + 1000)
        handle.write(bytes([byte[0] ^ 0x01]))

    with pytest.raises(IntegrityError, match="MD5"):
        await ugc.files.download(url, dest)
    assert not dest.exists()
    assert not part.exists()
    assert not sidecar.exists()

    await ugc.files.download(url, dest)  # the next try starts from scratch
    assert await sha256_of(dest) == await sha256_of(tmp_path / "source.mp4")
    assert_landed(dest)


async def test_unusable_sidecar_means_starting_over(
    emu: Emulator, make_client: MakeClient, tmp_path: Path
) -> None:
    ugc = make_client(transfer_config=SMALL_PARTS)
    record = await uploaded(ugc, tmp_path, size=3 * MiB)
    dest = tmp_path / "out" / "video.mp4"
    part, sidecar = part_paths(dest)
    dest.parent.mkdir()
    part.write_bytes(b"\xff" * (3 * MiB))
    sidecar.write_text("{not json")
    await ugc.files.download(record.id, dest)
    assert emu.stats.storage["GET 206"] == 3
    assert dest.read_bytes() == (tmp_path / "source.mp4").read_bytes()
    assert_landed(dest)


# ------------------------------------------------------------------ expiry
async def test_url_expiring_between_parts_is_refreshed(
    make_emulator: MakeEmulator, make_client: MakeClient, tmp_path: Path
) -> None:
    emu = await make_emulator(url_ttl=60)
    ugc = make_client(
        emulator=emu,
        transfer_config=TransferConfig(part_size=MiB, parts_in_flight=1, max_retries=0),
    )
    record = await uploaded(ugc, tmp_path, size=6 * MiB)
    moved: list[bool] = []

    def progress(done: int, total: int) -> None:
        if done >= 2 * MiB and not moved:
            moved.append(True)
            emu.advance(120)

    dest = tmp_path / "out" / "video.mp4"
    await ugc.files.download(record.id, dest, progress=progress)

    assert emu.stats.storage["GET 403"] >= 1
    assert emu.stats.operations["GetFile"] == 2  # the first URL, then one refresh
    assert emu.stats.storage["GET 206"] == 6
    assert dest.read_bytes() == (tmp_path / "source.mp4").read_bytes()
    assert_landed(dest)


async def test_expired_url_given_directly_cannot_be_refreshed(
    emu: Emulator, ugc: AsyncMoveUgc, tmp_path: Path
) -> None:
    record = await uploaded(ugc, tmp_path, size=1000)
    url = await download_url_of(ugc, record.id)
    emu.advance(emu.config.url_ttl + 1)
    with pytest.raises(URLExpiredError) as caught:
        await ugc.files.download(url, tmp_path / "out" / "late.mp4")
    assert (caught.value.status, caught.value.code) == (403, "AccessDenied")
    assert_clean(str(caught.value), url)


# ------------------------------------------------------------------ typed, redacted errors
def _tampered(url: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query["Signature"] = "A" * len(query["Signature"])
    return urlunsplit(parts._replace(query=urlencode(query)))


def _secrets_of(url: str) -> list[str]:
    query = dict(parse_qsl(urlsplit(url).query))
    found = ["Signature=", query["Signature"], query["x-amz-security-token"]]
    found += [quote(value, safe="") for value in found[1:]]
    return found


def assert_clean(text: str, *urls: str) -> None:
    for url in urls:
        for secret in _secrets_of(url):
            assert secret not in text


async def test_tampered_download_url_is_a_typed_error_without_secrets(
    emu: Emulator, ugc: AsyncMoveUgc, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    record = await uploaded(ugc, tmp_path, size=1000)
    url = await download_url_of(ugc, record.id)
    bad = _tampered(url)
    caplog.set_level(logging.DEBUG)
    dest = tmp_path / "out" / "video.mp4"

    with pytest.raises(StorageError) as caught:
        await ugc.files.download(bad, dest)

    error = caught.value
    assert not isinstance(error, URLExpiredError)
    assert (error.status, error.code) == (403, "SignatureDoesNotMatch")
    assert emu.stats.storage["GET 403"] == 1
    assert_clean(str(error), url, bad)
    assert_clean(repr(error), url, bad)
    assert_clean(caplog.text, url, bad)
    assert not dest.exists()
    assert not any(p.exists() for p in part_paths(dest))


async def test_tampered_upload_url_is_a_typed_error_without_secrets(
    emu: Emulator, ugc: AsyncMoveUgc, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = await random_file(tmp_path / "clip.mp4", 2 * MiB)
    created = await ugc.files.create("mp4")
    assert created.presigned_url is not None
    bad = _tampered(created.presigned_url)
    caplog.set_level(logging.DEBUG)
    refreshed: list[bool] = []

    async def refresh() -> str:
        refreshed.append(True)
        return bad

    with pytest.raises(StorageError) as caught:
        await upload_file(ugc._ctx, source, source.stat().st_size, bad, refresh=refresh)

    error = caught.value
    assert (error.status, error.code) == (403, "SignatureDoesNotMatch")
    assert not refreshed  # a bad signature is not an expired URL
    assert emu.stats.storage["PUT 403"] == 1
    assert not emu.storage.exists(emu.state.files[created.id].key)
    assert_clean(str(error), created.presigned_url, bad)
    assert_clean(caplog.text, created.presigned_url, bad)


async def test_missing_object_is_a_typed_error(
    emu: Emulator, ugc: AsyncMoveUgc, tmp_path: Path
) -> None:
    created = await ugc.files.create("mp4")  # never uploaded
    with pytest.raises(StorageError) as caught:
        await ugc.files.download(created.id, tmp_path / "nothing.mp4")
    assert (caught.value.status, caught.value.code) == (404, "NoSuchKey")
    assert storage_requests(emu) == 1
