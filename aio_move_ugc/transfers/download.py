"""Ranged, resumable downloads from presigned GET URLs that land atomically.

Bytes go to `<dest>.part`; a small sidecar `<dest>.part.json` records the object's size and
ETag and the ranges already on disk, so a download killed at any point resumes where it
stopped. Every ranged request carries `If-Match: <etag>`, so an object that changed in the
meantime is detected (and the download restarts) instead of being stitched from two
versions. When complete: MD5 checked (when the ETag is one), fsync, atomic rename.

The MD5 and the flush to disk do not wait for the last byte: a follower hashes the `.part`
file in order, right behind the bytes arriving, and flushes what it hashed every
`FLUSH_EVERY` bytes, so what is left at the end is the hash of the last few chunks and a
small fsync rather than another pass over the whole file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import anyio

from .._concurrency import leaves
from .._exceptions import IntegrityError, StorageError, URLExpiredError
from .._retry import call_with_retries
from ._common import (
    Progress,
    TransferConfig,
    is_transient_storage,
    md5_of_etag,
    open_file,
    redact_url,
    storage_error,
)

log = logging.getLogger("aio_move_ugc.transfers")

SIDECAR_VERSION = 1
FLUSH_EVERY = 32 << 20
"""The follower flushes the `.part` file to disk after hashing this many more bytes."""
HASH_STEP = 16 << 20
"""The most the follower hashes in one trip to its thread (bounds how long a cancel waits)."""


class _ObjectChanged(StorageError):
    """The object's ETag changed between requests (412 on If-Match)."""


@dataclass
class _Plan:
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
    def from_json(cls, raw: Any) -> _Plan | None:
        try:
            if raw.get("version") != SIDECAR_VERSION:
                return None
            done = [(int(a), int(b)) for a, b in raw["done"]]
            return cls(size=int(raw["size"]), etag=raw["etag"], done=done)
        except (AttributeError, KeyError, TypeError, ValueError):
            return None

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
        return sum(end - start for start, end in self.done)


def part_paths(dest: Path) -> tuple[Path, Path]:
    return dest.with_name(dest.name + ".part"), dest.with_name(dest.name + ".part.json")


def _write_sidecar(path: Path, plan: _Plan) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(plan.to_json()))
    os.replace(tmp, path)


def _load_plan(part: Path, sidecar: Path) -> _Plan | None:
    if not (part.exists() and sidecar.exists()):
        return None
    try:
        plan = _Plan.from_json(json.loads(sidecar.read_text()))
    except (OSError, ValueError):
        return None
    if plan is None or part.stat().st_size != plan.size:
        return None
    return plan


def _most_telling(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """One error for parts that failed together: a changed object or corrupt bytes first, then
    a storage error, then anything else, and an expired URL (which fails every part) last."""
    found = leaves(group)

    def rank(exc: BaseException) -> int:
        if isinstance(exc, _ObjectChanged | IntegrityError):
            return 0
        if isinstance(exc, URLExpiredError):
            return 3
        if isinstance(exc, StorageError):
            return 1
        return 4 if isinstance(exc, anyio.get_cancelled_exc_class()) else 2

    return min(found, key=rank)


def _content_range(header: str | None) -> tuple[int, int, int] | None:
    """`bytes a-b/total` → (a, b + 1, total)."""
    if not header or not header.startswith("bytes "):
        return None
    try:
        span, total = header[6:].split("/")
        first, last = span.split("-")
        return int(first), int(last) + 1, int(total)
    except ValueError:
        return None


class Downloader:
    """One download of one object to one destination."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        dest: Path,
        *,
        config: TransferConfig,
        refresh: Callable[[], Awaitable[str]] | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.session = session
        self.url = url
        self.dest = dest
        self.config = config
        self.refresh = refresh
        self.progress = progress
        self.part, self.sidecar = part_paths(dest)
        self.plan: _Plan | None = None
        self._lock = anyio.Lock()
        self._done_bytes = 0
        self._whole_in_first = False
        self.requests = 0
        # The follower: bytes written so far by each part in flight (by its start), and how far
        # the `.part` file has been hashed and flushed, from byte 0.
        self._written: dict[int, int] = {}
        self._wake = anyio.Event()
        self._digest = hashlib.md5(usedforsecurity=False)
        self._hashed = 0
        self._flushed = 0
        self._buffer: memoryview | None = None

    # ---------------------------------------------------------------- public
    async def run(self) -> Path:
        try:
            return await self._run()
        except OSError as exc:
            if isinstance(exc, aiohttp.ClientError | ConnectionError):
                raise
            # The local disk failed (full, read-only, gone): retrying or resuming cannot help
            # until someone acts, so nothing half-written is left behind.
            log.info("cannot write %s (%s); removing partial files", self.dest.name, exc.strerror)
            self._discard()
            raise

    async def _run(self) -> Path:
        refreshes = 0
        restarts = 0
        progress_at_refresh = -1
        while True:
            try:
                await self._attempt()
                break
            except URLExpiredError:
                # Count only refreshes that bought no progress: a long download may outlive
                # many URLs, but a URL that expires before any byte arrives means trouble.
                if self.plan is not None and self.plan.bytes_done > progress_at_refresh:
                    refreshes = 0
                    progress_at_refresh = self.plan.bytes_done
                if self.refresh is None or refreshes >= self.config.max_url_refreshes:
                    raise
                refreshes += 1
                log.info("download URL for %s expired; asking for a fresh one", self.dest.name)
                self.url = await self.refresh()
            except _ObjectChanged:
                if restarts >= 1:
                    raise
                restarts += 1
                log.info("%s changed on the server; starting over", self.dest.name)
                self._discard()
        await self._finish()
        return self.dest

    # --------------------------------------------------------------- phases
    async def _attempt(self) -> None:
        if self.plan is None:
            self.plan = _load_plan(self.part, self.sidecar)
            if self.plan is not None:
                log.info(
                    "resuming %s: %d of %d bytes on disk",
                    self.dest.name,
                    self.plan.bytes_done,
                    self.plan.size,
                )
        first: aiohttp.ClientResponse | None = None
        if self.plan is None:
            first = await self._open_first()
        assert self.plan is not None
        self._done_bytes = self.plan.bytes_done
        self._report()
        limiter = anyio.CapacityLimiter(self.config.parts_in_flight)
        parts = self.plan.missing(self.config.part_size)
        if self._whole_in_first:
            parts = [(0, self.plan.size)] if self.plan.size else []
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._follow)
                if first is not None and parts:
                    head, parts = parts[0], parts[1:]
                    group.start_soon(self._stream_first, limiter, first, *head)
                    first = None  # the task owns the response now
                for start, end in parts:
                    group.start_soon(self._fetch_part_limited, limiter, start, end)
        except BaseExceptionGroup as group_error:
            chosen = _most_telling(group_error)
            raise chosen from chosen.__cause__  # its own cause, not the group around it
        finally:
            if first is not None:
                first.release()

    async def _open_first(self) -> aiohttp.ClientResponse:
        """Learn size and ETag from a request for the first part (the whole of a small object)."""

        async def attempt() -> aiohttp.ClientResponse:
            response: aiohttp.ClientResponse = await self._get(
                {"Range": f"bytes=0-{self.config.part_size - 1}"}
            )
            try:
                if response.status == 416:  # an empty object has no byte 0
                    await response.read()
                    self.plan = _Plan(size=0, etag=response.headers.get("ETag"))
                elif response.status == 206:
                    parsed = _content_range(response.headers.get("Content-Range"))
                    if parsed is None or parsed[0] != 0:
                        raise IntegrityError(f"{self._what()}: malformed Content-Range")
                    self.plan = _Plan(size=parsed[2], etag=response.headers.get("ETag"))
                elif response.status == 200:  # the server ignored the range: all in one stream
                    size = response.content_length
                    if size is None:
                        raise IntegrityError(f"{self._what()}: no Content-Length")
                    self.plan = _Plan(size=size, etag=response.headers.get("ETag"))
                    self._whole_in_first = True
                else:
                    raise storage_error(response.status, await response.read(), self._what())
            except BaseException:
                response.release()
                raise
            await anyio.to_thread.run_sync(self._create_part, self.plan.size)
            _write_sidecar(self.sidecar, self.plan)
            return response

        policy = self.config.retry_policy()
        try:
            return await call_with_retries(
                attempt,
                policy=policy,
                retryable=is_transient_storage,
                what=f"download of {self.dest.name}",
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise StorageError(f"{self._what()} failed: {type(exc).__name__}") from exc

    async def _stream_first(
        self, limiter: anyio.CapacityLimiter, response: aiohttp.ClientResponse, start: int, end: int
    ) -> None:
        """Stream the first answer into place; if it breaks, fetch that part again by range."""
        assert self.plan is not None
        if self._whole_in_first:
            end = self.plan.size
        async with limiter:
            try:
                try:
                    await self._stream_into(response, start, end)
                finally:
                    response.release()
            except Exception as exc:
                if not is_transient_storage(exc) or (self._whole_in_first and not self.plan.etag):
                    raise
                log.info("first part of %s broke (%s); fetching it again", self.dest.name, exc)
                await self._with_retries(lambda: self._fetch_range(start, end), f"{start}-{end}")
                return
            await self._mark_done(start, end)

    async def _fetch_part_limited(
        self, limiter: anyio.CapacityLimiter, start: int, end: int
    ) -> None:
        async with limiter:
            await self._with_retries(lambda: self._fetch_range(start, end), f"{start}-{end}")

    async def _with_retries(self, attempt: Callable[[], Awaitable[None]], what: str) -> None:
        policy = self.config.retry_policy()
        try:
            await call_with_retries(
                attempt,
                policy=policy,
                retryable=is_transient_storage,
                what=f"download of {self.dest.name} [{what}]",
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise StorageError(f"{self._what()} failed: {type(exc).__name__}") from exc

    async def _fetch_range(self, start: int, end: int) -> None:
        assert self.plan is not None
        headers = {"Range": f"bytes={start}-{end - 1}"}
        if self.plan.etag:
            headers["If-Match"] = self.plan.etag
        async with self._get(headers) as response:
            if response.status == 412:
                await response.read()
                raise _ObjectChanged(f"{self._what()}: the object changed", status=412)
            if response.status != 206:
                raise storage_error(response.status, await response.read(), self._what())
            parsed = _content_range(response.headers.get("Content-Range"))
            if parsed is None or parsed[:2] != (start, end) or parsed[2] != self.plan.size:
                raise IntegrityError(f"{self._what()}: storage sent another range than asked")
            await self._stream_into(response, start, end)
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
        """Hash and flush the `.part` file right behind the bytes arriving; ends when every
        byte is hashed (the parts failing cancel it earlier)."""
        assert self.plan is not None
        while self._hashed < self.plan.size:
            target = min(self._frontier(), self._hashed + HASH_STEP)
            if target > self._hashed:
                await anyio.to_thread.run_sync(self._hash_upto, target)
                continue
            self._wake = anyio.Event()
            await self._wake.wait()

    def _hash_upto(self, target: int) -> None:
        """Hash [hashed, target) of the `.part` file; flush it now and then (worker thread)."""
        if self._buffer is None:
            # One buffer, reused: reading into fresh bytes objects from a worker thread makes
            # the allocator keep memory around (measured: tens of MiB over a 1 GiB download).
            self._buffer = memoryview(bytearray(self.config.chunk_size))
        with open(self.part, "rb", buffering=0) as handle:
            handle.seek(self._hashed)
            while self._hashed < target:
                size = handle.readinto(
                    self._buffer[: min(len(self._buffer), target - self._hashed)]
                )
                if not size:
                    raise IntegrityError(f"{self.dest.name}: the .part file shrank")
                self._digest.update(self._buffer[:size])
                self._hashed += size
            if self.config.fsync and self._hashed - self._flushed >= FLUSH_EVERY:
                getattr(os, "fdatasync", os.fsync)(handle.fileno())
                self._flushed = self._hashed

    # -------------------------------------------------------------- helpers
    def _what(self) -> str:
        return f"download of {self.dest.name} from {redact_url(self.url)}"

    def _get(self, headers: dict[str, str]) -> Any:
        self.requests += 1
        return self.session.get(self.url, headers=headers, allow_redirects=False)

    def _create_part(self, size: int) -> None:
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        with open(self.part, "wb") as handle:
            handle.truncate(size)

    async def _stream_into(self, response: aiohttp.ClientResponse, start: int, end: int) -> None:
        """Write the body at [start, end); the bytes counted as done only when complete."""
        expected = end - start
        if response.content_length is not None and response.content_length != expected:
            raise IntegrityError(
                f"{self._what()}: Content-Length {response.content_length}, expected {expected}"
            )
        written = 0
        async with open_file(self.part, "r+b") as handle:
            await handle.seek(start)
            async for chunk in response.content.iter_chunked(self.config.chunk_size):
                if written + len(chunk) > expected:
                    raise IntegrityError(f"{self._what()}: storage sent more bytes than promised")
                await handle.write(chunk)
                written += len(chunk)
                self._written[start] = written
                self._wake.set()
                self._done_bytes += len(chunk)
                self._report()
        if written != expected:
            self._done_bytes -= written
            raise aiohttp.ClientPayloadError(f"body ended after {written} of {expected} bytes")

    def _report(self) -> None:
        if self.progress is not None and self.plan is not None:
            self.progress(min(self._done_bytes, self.plan.size), self.plan.size)

    def _discard(self) -> None:
        self.plan = None
        self._written.clear()
        self._digest = hashlib.md5(usedforsecurity=False)
        self._hashed = self._flushed = 0
        for path in (self.part, self.sidecar):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    async def _finish(self) -> None:
        assert self.plan is not None
        expected = md5_of_etag(self.plan.etag)
        await anyio.to_thread.run_sync(self._verify_and_land, expected)

    def _verify_and_land(self, expected_md5: str | None) -> None:
        assert self.plan is not None
        size = self.part.stat().st_size
        if size != self.plan.size:
            raise IntegrityError(
                f"{self.dest.name}: {size} bytes on disk, {self.plan.size} expected"
            )
        self._hash_upto(self.plan.size)  # whatever the follower had not reached
        if expected_md5 is not None:
            got = self._digest.hexdigest()
            if got != expected_md5:
                self._discard()
                raise IntegrityError(
                    f"{self.dest.name}: MD5 {got} does not match ETag {expected_md5}"
                )
        if self.config.fsync:
            with open(self.part, "rb") as handle:
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


async def probe(session: aiohttp.ClientSession, url: str) -> tuple[int, str | None] | None:
    """Size and ETag of the object behind a presigned GET URL (one byte fetched), or None when
    there is no such object."""
    headers = {"Range": "bytes=0-0"}
    async with session.get(url, headers=headers, allow_redirects=False) as response:
        body = await response.read()
        if response.status == 404:
            return None
        if response.status == 416:  # an empty object
            return 0, response.headers.get("ETag")
        if response.status == 206:
            parsed = _content_range(response.headers.get("Content-Range"))
            if parsed is not None:
                return parsed[2], response.headers.get("ETag")
        if response.status == 200:
            return len(body), response.headers.get("ETag")
        raise storage_error(response.status, body, f"probe of {redact_url(url)}")


async def download_url(
    session: aiohttp.ClientSession,
    url: str,
    dest: Path,
    *,
    config: TransferConfig,
    refresh: Callable[[], Awaitable[str]] | None = None,
    progress: Progress | None = None,
) -> Path:
    """Download `url` to `dest` (resuming a `.part` left by an earlier try)."""
    return await Downloader(
        session, url, dest, config=config, refresh=refresh, progress=progress
    ).run()
