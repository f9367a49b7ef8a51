"""Where real users leave the happy path: cancellation and timeouts, several event loops, two
calls on one destination, unusable destinations, names from the server, look-alike inputs, bad
inputs in a bulk run, and secrets in exception chains. Each class is tried over many cases."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from aio_move_ugc import (
    APIError,
    AsyncMoveUgc,
    BadRequestError,
    BulkItem,
    ClientClosedError,
    ConfigurationError,
    File,
    InvalidInputError,
    MoveUgcError,
    NotFoundError,
    OutputType,
    PollPolicy,
    RetryPolicy,
    SourceFormat,
    SourceIn,
    StorageError,
    TransferConfig,
)
from aio_move_ugc.emulator import Emulator, RouteFaults
from aio_move_ugc.testing import EmulatorThread
from aio_move_ugc.transfers import part_paths
from tests.chains import texts
from tests.support import FAST

MiB = 1 << 20
SIGNATURE_MARKS = ("Signature=", "x-amz-security-token", "AWSAccessKeyId=")


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(FAST) as emulator:
        yield emulator


def client(emu: Emulator, **options: Any) -> AsyncMoveUgc:
    return AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url, **options)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def other_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()}


async def video(tmp: Path, name: str = "take.mp4", size: int = 64 * 1024) -> Path:
    path = tmp / name
    await anyio.Path(path).write_bytes(os.urandom(size))
    return path


# ---------------------------------------------------------------- cancellation
CANCELLERS: dict[str, Callable[[Awaitable[Any]], Awaitable[str]]] = {}


def canceller(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        CANCELLERS[name] = fn
        return fn

    return register


@canceller("task.cancel")
async def _by_task_cancel(work: Awaitable[Any]) -> str:
    task = asyncio.ensure_future(work)
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return "cancelled"


@canceller("asyncio.timeout")
async def _by_asyncio_timeout(work: Awaitable[Any]) -> str:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await work
    return "timed out"


@canceller("anyio.move_on_after")
async def _by_move_on_after(work: Awaitable[Any]) -> str:
    with anyio.move_on_after(0.1) as scope:
        await work
    assert scope.cancelled_caught, "the scope absorbed its own cancellation"
    return "moved on"


@pytest.mark.parametrize("how", list(CANCELLERS))
@pytest.mark.parametrize("transfer", ["upload", "download"])
async def test_a_cancelled_transfer_ends_as_the_framework_says_and_leaks_nothing(
    emu: Emulator, tmp_path: Path, how: str, transfer: str
) -> None:
    source = await video(tmp_path, size=2 * MiB)
    config = TransferConfig(chunk_size=64 * 1024, part_size=256 * 1024, parts_in_flight=2)
    async with client(emu, transfer_config=config) as ugc:
        uploaded = await ugc.files.upload(source)
        dest = tmp_path / "out" / "copy.mp4"
        await ugc.files.retrieve(uploaded.id)  # the API session is open before counting
        fds, tasks = open_fds(), other_tasks()
        # Storage answers slowly: the transfer is under way when the cancellation comes.
        route = "storage_put" if transfer == "upload" else "storage_get"
        emu.set_faults(route, RouteFaults(latency=0.5))
        work = (
            ugc.files.upload(source)
            if transfer == "upload"
            else ugc.files.download(uploaded.id, dest)
        )
        await CANCELLERS[how](work)
        emu.set_faults(route, None)
        await asyncio.sleep(0.6)  # let the server finish with the abandoned request

        assert other_tasks() <= tasks, "no task of the transfer is left running"
        # The client stays usable, and an interrupted download resumes to the right bytes.
        again = await ugc.files.upload(source)
        assert again.id != uploaded.id
        landed = await ugc.files.download(uploaded.id, dest)
        assert landed.read_bytes() == source.read_bytes()
        assert not any(p.exists() for p in part_paths(dest))
    assert open_fds() <= fds + 2, "sockets and files of the transfer were closed"


@pytest.mark.parametrize("transfer", ["upload", "download"])
async def test_closing_the_client_under_a_transfer_gives_that_transfer_client_closed_error(
    emu: Emulator, tmp_path: Path, transfer: str
) -> None:
    source = await video(tmp_path, size=1 * MiB)
    ugc = client(emu, transfer_config=TransferConfig(chunk_size=16 * 1024, part_size=64 * 1024))
    uploaded = await ugc.files.upload(source)
    route = "storage_put" if transfer == "upload" else "storage_get"
    emu.set_faults(route, RouteFaults(latency=0.3))

    async def work() -> object:
        if transfer == "upload":
            return await ugc.files.upload(source)
        return await ugc.files.download(uploaded.id, tmp_path / "copy.mp4")

    task = asyncio.ensure_future(work())
    await asyncio.sleep(0.15)
    await ugc.aclose()
    with pytest.raises(ClientClosedError):
        await task
    with pytest.raises(ClientClosedError):
        await ugc.files.retrieve(uploaded.id)


# ---------------------------------------------------------------- event loops
def test_one_client_serves_one_asyncio_run_after_another(tmp_path: Path) -> None:
    with EmulatorThread(FAST) as server:
        ugc = AsyncMoveUgc(server.api_key, endpoint_url=server.endpoint_url)
        source = tmp_path / "take.mp4"
        source.write_bytes(os.urandom(32 * 1024))

        async def once(n: int) -> bytes:
            file = await ugc.files.upload(source)
            path = await ugc.files.download(file.id, tmp_path / f"copy{n}.mp4")
            return path.read_bytes()

        for n in range(3):
            assert asyncio.run(once(n)) == source.read_bytes()
        asyncio.run(ugc.aclose())
        assert ugc.is_closed


# ---------------------------------------------------------------- destinations
async def test_two_concurrent_downloads_to_one_destination_are_one_download(
    emu: Emulator, tmp_path: Path
) -> None:
    async with client(emu) as ugc:
        source = await video(tmp_path, size=512 * 1024)
        file = await ugc.files.upload(source)
        dest = tmp_path / "out" / "copy.mp4"
        gets = emu.stats.storage_count("GET")
        first, second = await asyncio.gather(
            ugc.files.download(file.id, dest), ugc.files.download(file.id, dest)
        )
        assert first == second == dest
        assert dest.read_bytes() == source.read_bytes()
        assert emu.stats.storage_count("GET") - gets == 1, "the bytes came once"
        assert sorted(p.name for p in dest.parent.iterdir()) == ["copy.mp4"]


async def test_a_webhook_delivered_twice_downloads_the_outputs_once(
    emu: Emulator, tmp_path: Path
) -> None:
    async with client(emu) as ugc:
        file = await ugc.files.upload(await video(tmp_path))
        take = await ugc.takes.create_singlecam(
            [SourceIn(device_label="cam", file_id=file.id, format=SourceFormat.MP4)]
        )
        job = await ugc.jobs.create_singlecam(
            take.id, outputs=[OutputType.MAIN_FBX, OutputType.MOTION_DATA]
        )
        out = tmp_path / "outputs"
        both = await asyncio.gather(
            *(ugc.jobs.download_outputs(job.id, out, interval=0.05) for _ in range(2))
        )
        assert both[0] == both[1]
        assert set(both[0]) == {OutputType.MAIN_FBX, OutputType.MOTION_DATA}
        assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in both[0].values())


async def test_a_trailing_separator_means_a_directory(emu: Emulator, tmp_path: Path) -> None:
    async with client(emu) as ugc:
        file = await ugc.files.upload(await video(tmp_path))
        landed = await ugc.files.download(file.id, f"{tmp_path}/new/dir/")
        assert landed == tmp_path / "new" / "dir" / f"{file.id}.mp4"
        assert landed.is_file()


@pytest.mark.parametrize(
    "sidecar",
    [
        {"done": [[0, 10**9]]},
        {"done": [[-5, 10]]},
        {"done": [[10, 5]]},
        {"size": 10**9},
        {"etag": 42},
        {"version": 99},
        "not json",
    ],
    ids=["past-end", "negative", "reversed", "wrong-size", "etag-type", "version", "garbage"],
)
async def test_an_inconsistent_sidecar_starts_the_download_over(
    emu: Emulator, tmp_path: Path, sidecar: Any
) -> None:
    async with client(emu) as ugc:
        source = await video(tmp_path, size=300 * 1024)
        file = await ugc.files.upload(source)
        dest = tmp_path / "copy.mp4"
        part, side = part_paths(dest)
        part.write_bytes(b"\0" * len(source.read_bytes()))
        if isinstance(sidecar, dict):
            size = len(source.read_bytes())
            base = {"version": 1, "size": size, "etag": None, "done": [[0, size // 2]]}
            side.write_text(json.dumps({**base, **sidecar}))
        else:
            side.write_text(sidecar)
        landed = await ugc.files.download(file.id, dest)
        assert landed.read_bytes() == source.read_bytes()
        assert not part.exists()
        assert not side.exists()


def _unusable(tmp: Path, kind: str) -> Path:
    if kind == "existing directory":
        (tmp / "dir").mkdir()
        return tmp / "dir" / "sub"
    if kind == "parent is a file":
        (tmp / "plain").write_text("x")
        return tmp / "plain" / "copy.mp4"
    if kind == "grandparent is a file":
        (tmp / "plain").write_text("x")
        return tmp / "plain" / "deeper" / "copy.mp4"
    if kind == "read-only directory":
        locked = tmp / "locked"
        locked.mkdir()
        locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
        return locked / "copy.mp4"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    ["existing directory", "parent is a file", "grandparent is a file", "read-only directory"],
)
async def test_an_unusable_destination_is_refused_before_any_request(
    emu: Emulator, tmp_path: Path, kind: str
) -> None:
    if kind == "read-only directory" and os.geteuid() == 0:
        pytest.skip("root writes into read-only directories (see test_disk for a real one)")
    target = _unusable(tmp_path, kind)
    if kind == "existing directory":
        target.mkdir()
    async with client(emu) as ugc:
        file = await ugc.files.upload(await video(tmp_path))
        # Into an existing directory, only a file id or record names the file: a URL does not.
        url = (await ugc.files.retrieve(file.id)).presigned_url
        assert url is not None
        source = url if kind == "existing directory" else file.id
        sent, gets = ugc.requests_sent, emu.stats.storage_count("GET")
        with pytest.raises(InvalidInputError):
            await ugc.files.download(source, target)
        if kind != "existing directory":
            with pytest.raises(InvalidInputError):
                await ugc.jobs.download_outputs("job-00000000-0000-4000-8000-000000000000", target)
        assert ugc.requests_sent == sent
        assert emu.stats.storage_count("GET") == gets


# ---------------------------------------------------------------- names from the server
@pytest.mark.parametrize(
    "file_id",
    [
        "file-x/../../../escaped",
        "file-../x",
        "file-a\\b",
        "file-\x00",
        "file-" + "a" * 300,
        "file-.hidden/x",
    ],
)
async def test_a_server_id_never_becomes_a_path_outside_the_directory(
    emu: Emulator, tmp_path: Path, file_id: str
) -> None:
    async with client(emu) as ugc:
        real = await ugc.files.upload(await video(tmp_path))
        hostile = File(id=file_id, type="mp4", presigned_url=real.presigned_url)
        target = tmp_path / "inside"
        target.mkdir()
        with pytest.raises(InvalidInputError):
            await ugc.files.download(hostile, target)
    assert list(target.iterdir()) == []
    assert not (tmp_path / "escaped").exists()


# ---------------------------------------------------------------- bulk
async def test_look_alike_videos_are_two_inputs(emu: Emulator, tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    body = bytearray(os.urandom(3 * MiB))
    (folder / "a.mp4").write_bytes(body)
    body[len(body) // 2] ^= 0xFF  # same size, same first and last MiB, one byte apart
    (folder / "b.mp4").write_bytes(body)
    async with client(emu) as ugc:
        results = [
            r
            async for r in ugc.bulk.run(
                sorted(folder.iterdir()),
                dest=tmp_path / "out",
                outputs=[OutputType.MAIN_FBX],
                interval=0.05,
            )
        ]
    assert [r.ok for r in results] == [True, True]
    assert not any(r.skipped for r in results)
    assert len({r.key for r in results}) == 2
    assert len(emu.state.jobs) == 2
    assert len({r.job_id for r in results}) == 2


async def test_a_bad_input_fails_alone(emu: Emulator, tmp_path: Path) -> None:
    good = [await video(tmp_path, f"good{i}.mp4") for i in range(2)]
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    folder = tmp_path / "folder.mp4"
    folder.mkdir()
    unreadable_type = await video(tmp_path, "notes.txt")
    inputs: list[Any] = [
        good[0],
        tmp_path / "missing.mp4",
        empty,
        folder,
        unreadable_type,
        BulkItem(good[1], device_label="cam-2"),
    ]
    async with client(emu) as ugc:
        results = {
            r.item.path.name: r
            async for r in ugc.bulk.run(
                inputs, dest=tmp_path / "out", outputs=[OutputType.MAIN_FBX], interval=0.05
            )
        }
    assert {name for name, r in results.items() if r.ok} == {"good0.mp4", "good1.mp4"}
    for name in ("missing.mp4", "empty.mp4", "folder.mp4", "notes.txt"):
        assert isinstance(results[name].error, MoveUgcError), name
    assert len(emu.state.jobs) == 2


@pytest.mark.parametrize(
    "item",
    [
        {"device_label": None},
        {"device_label": ""},
        {"device_label": 5},
        {"metadata": {"x": object()}},
        {"outputs": ["NOPE"]},
        {"name": 3},
        {"path": None},
    ],
)
def test_a_bad_bulk_item_is_refused_where_it_is_made(item: dict[str, Any]) -> None:
    fields: dict[str, Any] = {"path": Path("take.mp4"), **item}
    with pytest.raises(ConfigurationError):
        BulkItem(**fields)


async def test_bulk_on_a_closed_client_raises_at_once_and_writes_nothing(
    emu: Emulator, tmp_path: Path
) -> None:
    ugc = client(emu)
    await ugc.aclose()
    dest = tmp_path / "out"
    with pytest.raises(ClientClosedError):
        async for _ in ugc.bulk.run([await video(tmp_path)], dest=dest):
            pass
    assert not dest.exists()


# ---------------------------------------------------------------- bad calls
BAD_CALLS: dict[str, Callable[[AsyncMoveUgc, Path], Awaitable[Any]]] = {
    "files.upload(None)": lambda u, t: u.files.upload(None),  # type: ignore[arg-type]
    "files.upload(42)": lambda u, t: u.files.upload(42),  # type: ignore[arg-type]
    "files.download(id, None)": lambda u, t: u.files.download(
        "file-00000000-0000-4000-8000-000000000000",
        None,  # type: ignore[arg-type]
    ),
    "files.download(None, dest)": lambda u, t: u.files.download(None, t / "x"),  # type: ignore[arg-type]
    "jobs.wait(interval=0)": lambda u, t: u.jobs.wait("job-1", interval=0),
    "jobs.wait(interval='2')": lambda u, t: u.jobs.wait("job-1", interval="2"),  # type: ignore[arg-type]
    "jobs.wait(interval=nan)": lambda u, t: u.jobs.wait("job-1", interval=float("nan")),
    "jobs.wait(timeout=-1)": lambda u, t: u.jobs.wait("job-1", timeout=-1),
    "jobs.wait(until='soon')": lambda u, t: u.jobs.wait("job-1", until="soon"),  # type: ignore[arg-type]
    "jobs.download_outputs(id, file)": lambda u, t: u.jobs.download_outputs(
        "job-1", t / "plain.txt"
    ),
    "jobs.download_outputs(types='X')": lambda u, t: u.jobs.download_outputs(
        "job-1", t, types=["NOPE"]
    ),
    "volumes.wait(interval=-1)": lambda u, t: u.volumes.wait("volume-1", interval=-1),
    "webhooks.upsert(uid=None)": lambda u, t: u.webhooks.upsert(
        ["ugc.job.state.completed"],
        uid=None,  # type: ignore[arg-type]
        url="https://example.com/hook",
    ),
    "takes.create_singlecam([])": lambda u, t: u.takes.create_singlecam([]),
    "jobs.create_singlecam(None)": lambda u, t: u.jobs.create_singlecam(None),  # type: ignore[arg-type]
}


async def _drain(iterator: Any) -> None:
    async for _ in iterator:
        pass


BAD_GENERATORS: dict[str, Callable[[AsyncMoveUgc, Path], Any]] = {
    "jobs.watch_many(None)": lambda u, t: u.jobs.watch_many(None),  # type: ignore[arg-type]
    "jobs.watch_many('job-1')": lambda u, t: u.jobs.watch_many("job-1"),
    "jobs.watch(interval=0)": lambda u, t: u.jobs.watch("job-1", interval=0),
    "bulk.run(None)": lambda u, t: _drain(u.bulk.run(None, dest=t)),  # type: ignore[arg-type]
    "bulk.run([None])": lambda u, t: _drain(u.bulk.run([None], dest=t)),  # type: ignore[list-item]
    "bulk.run(concurrency=0)": lambda u, t: _drain(u.bulk.run([], dest=t, concurrency=0)),
    "bulk.run(dest=file)": lambda u, t: _drain(u.bulk.run([], dest=t / "plain.txt")),
}


async def _bad_call(call: str, ugc: AsyncMoveUgc, tmp: Path) -> None:
    if call in BAD_CALLS:
        await BAD_CALLS[call](ugc, tmp)
        return
    made = BAD_GENERATORS[call](ugc, tmp)
    await (made if asyncio.iscoroutine(made) else _drain(made))


@pytest.mark.parametrize("call", [*BAD_CALLS, *BAD_GENERATORS])
async def test_every_bad_argument_is_refused_before_the_first_request(
    emu: Emulator, tmp_path: Path, call: str
) -> None:
    (tmp_path / "plain.txt").write_text("a file, not a directory")
    async with client(emu) as ugc:
        with pytest.raises(InvalidInputError):
            await _bad_call(call, ugc, tmp_path)
        assert ugc.requests_sent == 0
    assert emu.stats.storage_count("GET") == emu.stats.storage_count("PUT") == 0


@pytest.mark.parametrize(
    "make",
    [
        lambda: TransferConfig(max_retries=-1),
        lambda: TransferConfig(chunk_size=0),
        lambda: TransferConfig(stall_timeout=float("nan")),
        lambda: TransferConfig(fsync="yes"),  # type: ignore[arg-type]
        lambda: RetryPolicy(max_retries=-1),
        lambda: RetryPolicy(base_delay=float("inf")),
        lambda: PollPolicy(interval=0),
        lambda: PollPolicy(interval=10, max_interval=5),
        lambda: AsyncMoveUgc("k" * 20, max_retries=-1),
        lambda: AsyncMoveUgc("k" * 20, timeout=0),
        lambda: AsyncMoveUgc("k" * 20, rate_limit=0),
        lambda: AsyncMoveUgc("k" * 20, connection_limit=True),
    ],
)
def test_value_classes_refuse_bad_values_with_configuration_error(make: Callable[[], Any]) -> None:
    with pytest.raises(ConfigurationError):
        make()


# ---------------------------------------------------------------- secrets in chains
@pytest.mark.parametrize(
    "fault",
    [
        RouteFaults(reset_rate=1.0),
        RouteFaults(rate_500=1.0),
        RouteFaults(rate_503=1.0),
        RouteFaults(expire_rate=1.0),
        "unreachable",
        "stalled",
    ],
    ids=["reset", "500", "503", "expired", "unreachable", "stalled"],
)
@pytest.mark.parametrize("transfer", ["upload", "download"])
async def test_no_signature_or_token_is_reachable_from_a_storage_error(
    emu: Emulator, tmp_path: Path, fault: Any, transfer: str
) -> None:
    source = await video(tmp_path, size=256 * 1024)
    config = TransferConfig(
        max_retries=1,
        retry_base_delay=0,
        retry_max_delay=0,
        max_url_refreshes=0,
        stall_timeout=0.2,
        connect_timeout=0.5,
    )
    async with client(emu, transfer_config=config, retry=RetryPolicy(max_retries=0)) as ugc:
        file = await ugc.files.upload(source)
        url = (await ugc.files.retrieve(file.id)).presigned_url
        assert url is not None
        with socket.socket() as sock:  # a port nobody listens on
            sock.bind(("127.0.0.1", 0))
            nowhere = f"http://127.0.0.1:{sock.getsockname()[1]}"
        if fault == "unreachable":
            url = url.replace(emu.url, nowhere)
        route = "storage_put" if transfer == "upload" else "storage_get"
        if isinstance(fault, RouteFaults):
            emu.set_faults(route, fault)
        elif fault == "stalled":
            emu.set_faults(route, RouteFaults(latency=1.0))
        if transfer == "upload":
            created = await ugc.files.create("mp4")
            assert created.presigned_url is not None
            url = created.presigned_url
            if fault == "unreachable":
                url = url.replace(emu.url, nowhere)
            work = ugc.files.upload_to_url(url, source)
        else:
            work = ugc.files.download(url, tmp_path / "copy.mp4")
        with pytest.raises(StorageError) as caught:
            await work
    text = "\n".join(texts(caught.value))
    for mark in SIGNATURE_MARKS:
        assert mark not in text
    assert "Signature" not in text


# ---------------------------------------------------------------- limits the client does not invent
async def test_what_only_the_emulator_assumes_is_left_to_the_service(emu: Emulator) -> None:
    """A page larger than the emulator's invented ceiling, and a volume id in the "volume job id"
    form the schema describes, are sent: the service, not the client, decides."""
    async with client(emu) as ugc:
        with pytest.raises(APIError):
            await ugc.jobs.list(limit=1000)
        with pytest.raises(NotFoundError):
            await ugc.volumes.retrieve_human_volume("job-00000000-0000-4000-8000-000000000000")
        # The emulator's list of file types is its own: another type reaches the service.
        with pytest.raises(BadRequestError):
            await ugc.files.create("mkv")
        assert ugc.requests_sent == 3
