"""Ranged, resumable downloads from presigned GET URLs that land atomically.

Bytes go to `<dest>.part`; a small sidecar `<dest>.part.json` records the object's size and
ETag and the ranges already on disk, so a download killed at any point resumes where it
stopped. Every ranged request carries `If-Match: <etag>`, so an object that changed in the
meantime is detected (and the download restarts) instead of being stitched from two
versions. When complete: MD5 checked (when the ETag is one), fsync, atomic rename.

The MD5 and the flush to disk do not wait for the last byte. Bytes that arrive right at the
hashed frontier are hashed in memory, in the same worker-thread trip that writes them
(hashlib releases the GIL on large buffers), so a single stream is never read back. A
follower covers the rest: it hashes in order what reached the `.part` file out of order
(later ranges, ranges on disk from an earlier run) right behind the bytes arriving, and
flushes every `FLUSH_EVERY` bytes, so what is left at the end is a small fsync rather than
another pass over the whole file. When the ETag is not an MD5 (another store's, or an S3
multipart upload's), there is nothing to compare a digest with and nothing is hashed: the
follower only flushes (when `fsync` is on).

Two downloads to one destination in one process are one download: the second waits for the
first and gets its result. All file I/O runs in worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from .._concurrency import leaves
from .._exceptions import (
    DiskError,
    IntegrityError,
    InvalidInputError,
    MoveUgcError,
    StorageError,
    URLExpiredError,
)
from .._retry import is_transient_storage, with_fresh_urls
from .config import Progress
from .meter import TransferMeter
from .storage import StorageResponse, content_range, md5_of_etag, redact_url, storage_error

if TYPE_CHECKING:
    from .._context import ClientContext

log = logging.getLogger("aio_move_ugc.transfers")

SIDECAR_VERSION = 1
FLUSH_EVERY = 32 << 20
"""The follower flushes the `.part` file to disk after hashing this many more bytes."""
HASH_STEP = 16 << 20
"""The most the follower hashes in one trip to its thread (bounds how long a cancel waits)."""


class ObjectChangedError(StorageError):
    """The object's ETag changed between requests (412 on If-Match), or what is on disk no
    longer fits it: the download starts over."""


@dataclass
class Plan:
    """What is known of the object and what is already on disk."""

    size: int
    etag: str | None
    done: list[tuple[int, int]] = field(default_factory=list)
    """Finished byte ranges, [start, end) each."""

    def to_json(self) -> dict[str, Any]:
        return {
            "version": SIDECAR_VERSION,
            "size": self.size,
            "etag": self.etag,
            "done": [list(r) for r in sorted(self.done)],
        }

    @classmethod
    def from_json(cls, raw: Any) -> Plan | None:
        """The plan a sidecar holds, or None when it is not one this SDK could have written
        (another version, ranges outside the object, an ETag that is not a string)."""
        try:
            if raw.get("version") != SIDECAR_VERSION:
                return None
            size = int(raw["size"])
            etag = raw["etag"]
            done = [(int(a), int(b)) for a, b in raw["done"]]
        except (AttributeError, KeyError, TypeError, ValueError):
            return None
        if size < 0 or not (etag is None or isinstance(etag, str)):
            return None
        if any(not 0 <= a < b <= size for a, b in done):
            return None
        return cls(size=size, etag=etag, done=done)

    def missing(self, part_size: int) -> list[tuple[int, int]]:
        """Ranges still to fetch, cut into parts of at most `part_size`."""
        gaps: list[tuple[int, int]] = []
        cursor = 0
        for start, end in sorted(self.done):
            if start > cursor:
                gaps.append((cursor, start))
            cursor = max(cursor, end)
        if cursor < self.size:
            gaps.append((cursor, self.size))
        parts = []
        for start, end in gaps:
            for offset in range(start, end, part_size):
                parts.append((offset, min(end, offset + part_size)))
        return parts

    @property
    def bytes_done(self) -> int:
        covered = 0
        cursor = 0
        for start, end in sorted(self.done):
            start = max(start, cursor)
            if end > start:
                covered += end - start
                cursor = end
        return covered


def part_paths(dest: Path) -> tuple[Path, Path]:
    """Where the bytes and the sidecar of a download to `dest` are kept until it lands."""
    return dest.with_name(dest.name + ".part"), dest.with_name(dest.name + ".part.json")


def check_destination(dest: Path) -> None:
    """Refuse a destination that cannot receive a file, before any request is sent: an
    existing directory, a parent that is a file, a directory that cannot be written."""
    if dest.name in ("", ".", ".."):
        raise InvalidInputError(f"{dest} does not name a file")
    if dest.is_dir():
        raise InvalidInputError(f"{dest} is a directory; give the file name to write")
    parent = dest.parent
    while not parent.exists():
        if parent.parent == parent:
            break
        parent = parent.parent
    if not parent.is_dir():
        raise InvalidInputError(f"cannot write {dest}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InvalidInputError(f"cannot write {dest}: {parent} is not writable")


NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
"""Opening never goes through a symlink: whatever sits at a path the SDK writes is its own."""


def open_new(path: Path) -> int:
    """A new, empty regular file at `path` for writing: whatever was there (a symlink above
    all) is removed, never followed or written through."""
    with contextlib.suppress(FileNotFoundError):
        if path.is_symlink() or not path.is_file():
            path.unlink()
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | NOFOLLOW, 0o644)


def _write_sidecar(path: Path, plan: Plan) -> None:
    tmp = path.with_name(path.name + ".tmp")
    data = json.dumps(plan.to_json()).encode()
    fd = open_new(tmp)
    try:
        try:
            _write_all(fd, data, 0)
        finally:
            os.close(fd)
        os.replace(tmp, path)  # replaces the entry itself, a symlink included
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _read_regular(path: Path) -> bytes | None:
    """The bytes of the regular file at `path`, None when it is a symlink or not there."""
    try:
        fd = os.open(path, os.O_RDONLY | NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        return handle.read(1 << 20)


def _load_plan(part: Path, sidecar: Path) -> Plan | None:
    if part.is_symlink() or not part.is_file():
        return None
    raw = _read_regular(sidecar)
    if raw is None:
        return None
    try:
        plan = Plan.from_json(json.loads(raw))
    except ValueError:
        return None
    if plan is None or part.lstat().st_size != plan.size:
        return None
    return plan


def _most_telling(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """One error for parts that failed together: a changed object or corrupt bytes first, then
    a storage error, then anything else, and an expired URL (which fails every part) last."""
    found = leaves(group)

    def rank(exc: BaseException) -> int:
        if isinstance(exc, ObjectChangedError | IntegrityError):
            return 0
        if isinstance(exc, URLExpiredError):
            return 3
        if isinstance(exc, StorageError):
            return 1
        return 4 if isinstance(exc, anyio.get_cancelled_exc_class()) else 2

    return min(found, key=rank)


class Downloader:
    """One download of one object to one destination."""

    def __init__(
        self,
        ctx: ClientContext,
        url: str,
        dest: Path,
        *,
        refresh: Callable[[], Awaitable[str]] | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.ctx = ctx
        self.url = url
        self.dest = dest
        self.config = ctx.transfer_config
        self.refresh = refresh
        self.progress = progress
        self.part, self.sidecar = part_paths(dest)
        self.meter = TransferMeter("download", dest.name, hook=ctx.on_transfer)
        """What this download costs on the wire; told (logged, hooked) as it ends."""
        self.plan: Plan | None = None
        self._lock = anyio.Lock()
        self._done_bytes = 0
        self._whole_in_first = False
        # The follower: bytes written so far by each part in flight (by its start), and how far
        # the `.part` file has been hashed and flushed, from byte 0.
        self._written: dict[int, int] = {}
        self._wake = anyio.Event()
        self._digest = hashlib.md5(usedforsecurity=False)
        self._verify = False
        """Whether the bytes are hashed: only when the ETag is an MD5 to compare them with."""
        self._hashed = 0
        """How far from byte 0 the follower has gone (hashed, when `_verify`)."""
        self._hashing = False
        """A worker thread is updating the digest; nobody else may until it is back."""
        self._flushed = 0
        self._buffer: memoryview | None = None

    # ---------------------------------------------------------------- public
    async def run(self) -> Path:
        """Download to `dest` (resuming what an earlier try left); return `dest`.

        As it ends (done, failed or cancelled), the transfer is logged and its
        `TransferEvent` handed to the client's `on_transfer` hook.
        """
        try:
            # aclose() ends the download wherever it waits (a read, a part, a back-off) with
            # ClientClosedError, whatever aiohttp would make of the closed session.
            async with self.ctx.closer.guard(f"the download of {self.dest.name} was under way"):
                await self._run()
        except BaseException as exc:
            self.meter.end(exc)
            raise
        self.meter.end(None)
        return self.dest

    async def _run(self) -> None:
        try:
            await with_fresh_urls(
                self._attempt,
                self.url,
                refresh=self._fresh_url if self.refresh is not None else None,
                max_refreshes=self.config.max_url_refreshes,
                what=f"the download of {self.dest.name}",
                progress=lambda: self.plan.bytes_done if self.plan is not None else 0,
                restart_on=ObjectChangedError,
                restart=self._discard,
            )
            await anyio.to_thread.run_sync(self._verify_and_land, md5_of_etag(self._etag()))
        except OSError as exc:
            if isinstance(exc, MoveUgcError):
                raise
            # The local disk failed (full, read-only, gone): retrying cannot help until
            # someone acts. The `.part` file and its sidecar stay: the sidecar lists only
            # ranges wholly written, so the next try resumes from them once space is made.
            log.info("cannot write %s (%s); kept for resuming", self.dest.name, exc.strerror)
            raise DiskError(
                exc.errno or 0, f"cannot write {self.dest.name}: {exc.strerror or exc}"
            ) from None

    async def _fresh_url(self) -> str:
        assert self.refresh is not None
        url = await self.refresh()
        self.meter.refreshed()
        return url

    def _etag(self) -> str | None:
        return self.plan.etag if self.plan is not None else None

    # --------------------------------------------------------------- phases
    async def _attempt(self, url: str) -> None:
        self.url = url
        if self.plan is None:
            self.plan = await anyio.to_thread.run_sync(_load_plan, self.part, self.sidecar)
            if self.plan is not None:
                self.meter.resumed = self.plan.bytes_done
                log.info(
                    "resuming %s: %d of %d bytes on disk",
                    self.dest.name,
                    self.plan.bytes_done,
                    self.plan.size,
                )
        first: StorageResponse | None = None
        async with contextlib.AsyncExitStack() as closing:
            if self.plan is None:
                first = await self._open_first(closing)
            assert self.plan is not None
            self.meter.size = self.plan.size
            self._verify = md5_of_etag(self.plan.etag) is not None
            self._done_bytes = self.plan.bytes_done
            self._report()
            limiter = anyio.CapacityLimiter(self.config.parts_in_flight)
            parts = self.plan.missing(self.config.part_size)
            if self._whole_in_first:
                parts = [(0, self.plan.size)] if self.plan.size else []
            chosen: BaseException | None = None
            try:
                async with anyio.create_task_group() as group:
                    group.start_soon(self._follow)
                    if first is not None and parts:
                        head, parts = parts[0], parts[1:]
                        group.start_soon(self._stream_first, limiter, first, *head)
                    for start, end in parts:
                        group.start_soon(self._fetch_part_limited, limiter, start, end)
            except BaseExceptionGroup as group_error:
                chosen = _most_telling(group_error)
            if chosen is not None:
                raise chosen  # outside the handler: its own chain, not the group around it

    async def _open_first(self, closing: contextlib.AsyncExitStack) -> StorageResponse:
        """Learn size and ETag from a request for the first part (the whole of a small object);
        the answer stays open (closed by `closing`) for `_stream_first` to stream its body."""

        async def attempt() -> StorageResponse:
            async with contextlib.AsyncExitStack() as stack:
                answer = await stack.enter_async_context(
                    self.ctx.storage.request(
                        "GET",
                        self.url,
                        what=self._what(),
                        headers={"Range": f"bytes=0-{self.config.part_size - 1}"},
                        meter=self.meter,
                    )
                )
                await self._learn_plan(answer)
                closing.push_async_exit(stack.pop_all())
                return answer
            raise AssertionError("unreachable")  # pragma: no cover

        return await self.ctx.storage_retrier.call(
            attempt,
            retryable=is_transient_storage,
            what=f"download of {self.dest.name}",
            on_retry=self.meter.retried,
        )

    async def _learn_plan(self, answer: StorageResponse) -> None:
        if answer.status == 416:  # an empty object has no byte 0
            await answer.read()
            self.plan = Plan(size=0, etag=answer.headers.get("ETag"))
        elif answer.status == 206:
            parsed = content_range(answer.headers.get("Content-Range"))
            if parsed is None or parsed[0] != 0:
                raise IntegrityError(f"{self._what()}: malformed Content-Range")
            self.plan = Plan(size=parsed[2], etag=answer.headers.get("ETag"))
        elif answer.status == 200:  # the server ignored the range: all in one stream
            size = answer.content_length
            if size is None:
                raise IntegrityError(f"{self._what()}: no Content-Length")
            self.plan = Plan(size=size, etag=answer.headers.get("ETag"))
            self._whole_in_first = True
        else:
            raise storage_error(answer.status, await answer.read(), self._what(), answer.headers)
        await anyio.to_thread.run_sync(self._create_part, self.plan)

    async def _stream_first(
        self, limiter: anyio.CapacityLimiter, answer: StorageResponse, start: int, end: int
    ) -> None:
        """Stream the first answer into place; if it breaks, fetch that part again by range."""
        assert self.plan is not None
        if self._whole_in_first:
            end = self.plan.size
        async with limiter:
            try:
                try:
                    await self._stream_into(answer, start, end)
                finally:
                    answer.release()
            except Exception as exc:
                if not is_transient_storage(exc) or (self._whole_in_first and not self.plan.etag):
                    raise
                log.info("first part of %s broke (%s); fetching it again", self.dest.name, exc)
                self.meter.retried(exc)
                await self._fetch_part(start, end)
                return
            await self._mark_done(start, end)

    async def _fetch_part_limited(
        self, limiter: anyio.CapacityLimiter, start: int, end: int
    ) -> None:
        async with limiter:
            await self._fetch_part(start, end)

    async def _fetch_part(self, start: int, end: int) -> None:
        await self.ctx.storage_retrier.call(
            lambda: self._fetch_range(start, end),
            retryable=is_transient_storage,
            what=f"download of {self.dest.name} [{start}-{end}]",
            on_retry=self.meter.retried,
        )

    async def _fetch_range(self, start: int, end: int) -> None:
        assert self.plan is not None
        headers = {"Range": f"bytes={start}-{end - 1}"}
        if self.plan.etag:
            headers["If-Match"] = self.plan.etag
        async with self.ctx.storage.request(
            "GET", self.url, what=self._what(), headers=headers, meter=self.meter
        ) as answer:
            if answer.status == 412:
                await answer.read()
                raise ObjectChangedError(f"{self._what()}: the object changed", status=412)
            if answer.status != 206:
                raise storage_error(
                    answer.status, await answer.read(), self._what(), answer.headers
                )
            etag = answer.headers.get("ETag")
            if self.plan.etag and etag and etag != self.plan.etag:
                # A store that ignores If-Match still names the version it served.
                raise ObjectChangedError(f"{self._what()}: the object changed", status=206)
            parsed = content_range(answer.headers.get("Content-Range"))
            if parsed is not None and parsed[2] != self.plan.size:
                raise ObjectChangedError(f"{self._what()}: the object's size changed")
            if parsed is None or parsed[:2] != (start, end):
                raise IntegrityError(f"{self._what()}: storage sent another range than asked")
            await self._stream_into(answer, start, end)
        await self._mark_done(start, end)

    async def _mark_done(self, start: int, end: int) -> None:
        assert self.plan is not None
        async with self._lock:
            self.plan.done.append((start, end))
            self._written.pop(start, None)
            self._wake.set()
            await anyio.to_thread.run_sync(_write_sidecar, self.sidecar, self.plan)

    # ------------------------------------------------------------- follower
    def _frontier(self) -> int:
        """How many bytes from byte 0 on are on disk without a gap."""
        assert self.plan is not None
        cursor = 0
        for start, end in sorted(self.plan.done):
            if start > cursor:
                break
            cursor = max(cursor, end)
        return cursor + self._written.get(cursor, 0)

    async def _follow(self) -> None:
        """Hash (when verifying) and flush the `.part` file right behind the bytes arriving;
        ends when every byte is covered (the parts failing cancel it earlier)."""
        assert self.plan is not None
        while self._hashed < self.plan.size:
            frontier = self._frontier()
            if not self._verify:
                self._hashed = max(self._hashed, frontier)  # nothing to read back
            elif not self._hashing and frontier > self._hashed:
                self._hashing = True
                try:
                    target = min(frontier, self._hashed + HASH_STEP)
                    await anyio.to_thread.run_sync(self._hash_upto, target)
                finally:
                    self._hashing = False
                continue
            if self.config.fsync and self._hashed - self._flushed >= FLUSH_EVERY:
                # No thread trip otherwise: with nothing to hash or flush, nothing to do.
                await anyio.to_thread.run_sync(self._flush, self._hashed)
                continue
            if self._hashed >= self.plan.size:
                break
            self._wake = anyio.Event()
            await self._wake.wait()

    def _flush(self, upto: int) -> None:
        """Flush the `.part` file to disk (worker thread)."""
        with _open_part(self.part) as handle:
            getattr(os, "fdatasync", os.fsync)(handle.fileno())
        self._flushed = upto

    def _hash_upto(self, target: int) -> None:
        """Hash [hashed, target) of the `.part` file (worker thread)."""
        if self._buffer is None:
            # One buffer, reused: reading into fresh bytes objects from a worker thread makes
            # the allocator keep memory around (measured: tens of MiB over a 1 GiB download).
            self._buffer = memoryview(bytearray(self.config.chunk_size))
        with _open_part(self.part) as handle:
            handle.seek(self._hashed)
            while self._hashed < target:
                size = handle.readinto(
                    self._buffer[: min(len(self._buffer), target - self._hashed)]
                )
                if not size:
                    raise ObjectChangedError(f"{self.dest.name}: the .part file shrank")
                self._digest.update(self._buffer[:size])
                self._hashed += size

    # -------------------------------------------------------------- helpers
    def _what(self) -> str:
        return f"download of {self.dest.name} from {redact_url(self.url)}"

    def _create_part(self, plan: Plan) -> None:
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        fd = open_new(self.part)
        try:
            os.ftruncate(fd, plan.size)
        finally:
            os.close(fd)
        _write_sidecar(self.sidecar, plan)

    async def _stream_into(self, answer: StorageResponse, start: int, end: int) -> None:
        """Write the body at [start, end); the bytes counted as done only when complete."""
        expected = end - start
        if answer.content_length is not None and answer.content_length != expected:
            raise IntegrityError(
                f"{self._what()}: Content-Length {answer.content_length}, expected {expected}"
            )
        written = 0
        fd = await anyio.to_thread.run_sync(os.open, self.part, os.O_WRONLY | NOFOLLOW)
        try:
            async for chunk in answer.chunks(self.config.chunk_size):
                if written + len(chunk) > expected:
                    raise IntegrityError(f"{self._what()}: storage sent more bytes than promised")
                offset = start + written
                if (
                    self._verify
                    and not self._hashing
                    and offset <= self._hashed < offset + len(chunk)
                ):
                    # At the hashed frontier: hash it here, no reading back.
                    self._hashing = True
                    try:
                        await anyio.to_thread.run_sync(
                            self._write_and_hash, fd, chunk, offset, self._hashed - offset
                        )
                    finally:
                        self._hashing = False
                else:
                    await anyio.to_thread.run_sync(_write_all, fd, chunk, offset)
                written += len(chunk)
                self.meter.moved(len(chunk))
                self._written[start] = written
                self._wake.set()
                self._done_bytes += len(chunk)
                self._report()
        finally:
            os.close(fd)
        if written != expected:
            self._done_bytes -= written
            raise self.ctx.storage.mapped(
                ConnectionResetError(f"body ended after {written} of {expected} bytes"),
                self._what(),
            )

    def _write_and_hash(self, fd: int, chunk: bytes, offset: int, skip: int) -> None:
        """Write `chunk` at `offset` and hash it from `skip` on, the bytes before being hashed
        already (worker thread)."""
        _write_all(fd, chunk, offset)
        self._digest.update(memoryview(chunk)[skip:])
        self._hashed = offset + len(chunk)

    def _report(self) -> None:
        if self.progress is not None and self.plan is not None:
            self.progress(min(self._done_bytes, self.plan.size), self.plan.size)

    async def _discard(self) -> None:
        self.plan = None
        self.meter.resumed = 0  # whatever was on disk is fetched again
        self._whole_in_first = False
        self._written.clear()
        self._digest = hashlib.md5(usedforsecurity=False)
        self._hashed = self._flushed = 0
        self._hashing = False
        await anyio.to_thread.run_sync(self._remove_partial_files)

    def _remove_partial_files(self) -> None:
        for path in (self.part, self.sidecar):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _verify_and_land(self, expected_md5: str | None) -> None:
        assert self.plan is not None
        size = self.part.lstat().st_size
        if size != self.plan.size:
            raise IntegrityError(
                f"{self.dest.name}: {size} bytes on disk, {self.plan.size} expected"
            )
        if expected_md5 is not None:
            self._hash_upto(self.plan.size)  # whatever the follower had not reached
            got = self._digest.hexdigest()
            if got != expected_md5:
                self.plan = None
                self._remove_partial_files()
                raise IntegrityError(
                    f"{self.dest.name}: MD5 {got} does not match ETag {expected_md5}"
                )
        if self.config.fsync:
            with _open_part(self.part) as handle:
                os.fsync(handle.fileno())
        os.replace(self.part, self.dest)
        if self.config.fsync:
            dir_fd = os.open(self.dest.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        with contextlib.suppress(FileNotFoundError):
            self.sidecar.unlink()


def _open_part(path: Path) -> Any:
    """The `.part` file for reading, never through a symlink."""
    return os.fdopen(os.open(path, os.O_RDONLY | NOFOLLOW), "rb", buffering=0)


def _write_all(fd: int, chunk: bytes, offset: int) -> None:
    view = memoryview(chunk)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


_IN_FLIGHT: dict[tuple[asyncio.AbstractEventLoop, str], asyncio.Future[Path]] = {}
"""Downloads under way, by loop and destination: a second call for one destination waits for
the first instead of writing the same `.part` file at the same time."""


async def download_url(
    ctx: ClientContext,
    url: str | Callable[[], Awaitable[str]],
    dest: Path,
    *,
    refresh: Callable[[], Awaitable[str]] | None = None,
    progress: Progress | None = None,
) -> Path:
    """Download `url` (or the URL `url()` gives) to `dest`, resuming a `.part` left by an
    earlier try. A download to the same destination already under way in this process is
    joined, not repeated."""
    await anyio.to_thread.run_sync(check_destination, dest)
    loop = asyncio.get_running_loop()
    key = (loop, str(await anyio.Path(dest).absolute()))
    running = _IN_FLIGHT.get(key)
    if running is not None:
        log.info("joining the download to %s already under way", dest.name)
        try:
            return await asyncio.shield(running)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not running.cancelled() or task is None or task.cancelling():
                raise
        # That download was cancelled, this one was not: carry on with it here.
        return await download_url(ctx, url, dest, refresh=refresh, progress=progress)
    done: asyncio.Future[Path] = loop.create_future()
    _IN_FLIGHT[key] = done
    try:
        address = url if isinstance(url, str) else await url()
        result = await Downloader(ctx, address, dest, refresh=refresh, progress=progress).run()
    except Exception as exc:
        done.set_exception(exc)
        done.exception()  # retrieved: no "never retrieved" warning when nobody joined
        raise
    except BaseException:
        done.cancel()
        raise
    else:
        done.set_result(result)
        return result
    finally:
        _IN_FLIGHT.pop(key, None)
