"""Streamed uploads to presigned PUT URLs: exact length, no Content-Type, MD5 checked against ETag.

The API hands out one presigned PUT per file, so a file goes up as one part. The upload is
written as a list of `PartTarget`s nonetheless: if the API ever offers per-part URLs
(S3 UploadPart needs its own signature), a plan with several parts plugs in here.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import stat
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import aiohttp
import anyio

from .._exceptions import IntegrityError, InvalidInputError, StorageError, URLExpiredError
from .._retry import call_with_retries
from ._common import (
    S3_SINGLE_PUT_LIMIT,
    Progress,
    TransferConfig,
    is_transient_storage,
    md5_of_etag,
    redact_url,
    storage_error,
)

log = logging.getLogger("aio_move_ugc.transfers")

VIDEO_TYPES = {".mp4": "mp4", ".mov": "mov", ".avi": "avi", ".move": "move"}


@dataclass(frozen=True)
class PartTarget:
    """Where one byte range of the file goes."""

    url: str
    offset: int
    length: int


def check_upload_source(
    path: str | os.PathLike[str], file_type: str | None
) -> tuple[Path, int, str]:
    """Path, size and API file type of a file fit to upload, or a clear error (nothing sent)."""
    source = Path(path)
    try:
        info = source.stat()
    except FileNotFoundError:
        raise InvalidInputError(f"no such file: {source}") from None
    except OSError as exc:
        raise InvalidInputError(f"cannot read {source}: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InvalidInputError(f"{source} is a directory, not a video file")
    if not stat.S_ISREG(info.st_mode):
        raise InvalidInputError(f"{source} is not a regular file (a FIFO, socket or device?)")
    if not os.access(source, os.R_OK):
        raise InvalidInputError(f"{source} is not readable")
    if info.st_size == 0:
        raise InvalidInputError(f"{source} is empty")
    if info.st_size > S3_SINGLE_PUT_LIMIT:
        raise InvalidInputError(
            f"{source} is {info.st_size} bytes; one upload takes at most 5 GB "
            f"({S3_SINGLE_PUT_LIMIT} bytes)"
        )
    if file_type is None:
        inferred = VIDEO_TYPES.get(source.suffix.lower())
        if inferred is None:
            raise InvalidInputError(
                f"cannot tell the file type of {source.name!r} from its suffix; "
                f"pass type= one of {sorted(VIDEO_TYPES.values())}"
            )
        file_type = inferred
    return source, info.st_size, file_type


async def _file_chunks(
    raw: BinaryIO,
    path: Path,
    part: PartTarget,
    config: TransferConfig,
    digest: hashlib._Hash,
    sent: list[int],
    progress: Progress | None,
    total: int,
    failures: list[Exception],
) -> AsyncGenerator[bytes, None]:
    """The part's bytes, read and hashed in a worker thread one chunk ahead of the socket."""
    loop = asyncio.get_running_loop()

    def read(size: int) -> bytes:
        # Reads never overlap (the next starts after this one is awaited): file order holds.
        chunk = raw.read(size)
        digest.update(chunk)
        return chunk

    pending: asyncio.Future[bytes] | None = None
    try:
        await anyio.to_thread.run_sync(raw.seek, part.offset)
        remaining = part.length
        pending = loop.run_in_executor(None, read, min(config.chunk_size, remaining))
        while pending is not None:
            chunk = await pending
            pending = None
            if not chunk:
                raise IntegrityError(f"{path.name} shrank while it was being uploaded")
            remaining -= len(chunk)
            if remaining > 0:
                pending = loop.run_in_executor(None, read, min(config.chunk_size, remaining))
            sent[0] += len(chunk)
            if progress is not None:
                progress(sent[0], total)
            yield chunk
    except Exception as exc:
        # aiohttp reports a failing body as a connection error; keep ours to raise instead.
        failures.append(exc)
        raise
    finally:
        if pending is not None:
            # The file is closed after this generator: let the read in flight end first.
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await pending


async def put_part(
    session: aiohttp.ClientSession,
    path: Path,
    part: PartTarget,
    *,
    config: TransferConfig,
    progress: Progress | None = None,
    total: int | None = None,
) -> str:
    """PUT one part streamed from disk; return the verified ETag."""
    digest = hashlib.md5(usedforsecurity=False)
    sent = [0]
    headers = {"Content-Length": str(part.length)}
    failures: list[Exception] = []
    where = redact_url(part.url)
    # The file is opened here, not in the body generator, so it is closed when the request
    # ends even if aiohttp abandons the generator half-way (a cut connection). The open runs
    # to completion even when cancelled, so no file object is dropped unclosed.
    raw = await anyio.to_thread.run_sync(open, path, "rb")
    try:
        body = _file_chunks(
            raw, path, part, config, digest, sent, progress, total or part.length, failures
        )
        try:
            return await _send(session, part, body, headers, where, digest, sent, failures)
        finally:
            await body.aclose()
    finally:
        raw.close()


async def _send(
    session: aiohttp.ClientSession,
    part: PartTarget,
    body: AsyncIterator[bytes],
    headers: dict[str, str],
    where: str,
    digest: Any,
    sent: list[int],
    failures: list[Exception],
) -> str:
    try:
        async with session.put(
            part.url,
            data=body,
            headers=headers,
            skip_auto_headers=("Content-Type",),
            allow_redirects=False,
        ) as response:
            answer = await response.read()
            if response.status != 200:
                raise storage_error(response.status, answer, f"upload to {where} failed")
            etag = response.headers.get("ETag")
    except aiohttp.ClientError:
        if failures:  # the file, not the network: reading it again would not help
            raise failures[0] from None
        raise
    expected = digest.hexdigest()
    if sent[0] != part.length:
        raise IntegrityError(f"sent {sent[0]} bytes of {part.length} to {where}")
    got = md5_of_etag(etag)
    if got is None:
        raise IntegrityError(f"storage answered without an MD5 ETag for {where}")
    if got != expected:
        raise IntegrityError(f"ETag {got} does not match the MD5 {expected} of what was sent")
    return got


async def upload_file(
    session: aiohttp.ClientSession,
    path: Path,
    size: int,
    url: str,
    *,
    config: TransferConfig,
    refresh: Callable[[], Awaitable[str]],
    progress: Progress | None = None,
) -> str:
    """Upload `path` to `url`; transient failures re-stream from the start, an expired URL is
    replaced by `refresh()`. Returns the verified hex MD5."""
    policy = config.retry_policy()
    refreshes = 0
    while True:
        part = PartTarget(url=url, offset=0, length=size)
        try:
            return await call_with_retries(
                lambda part=part: put_part(  # type: ignore[misc]
                    session, path, part, config=config, progress=progress, total=size
                ),
                policy=policy,
                retryable=is_transient_storage,
                what=f"upload of {path.name}",
            )
        except URLExpiredError:
            if refreshes >= config.max_url_refreshes:
                raise
            refreshes += 1
            log.info("upload URL for %s expired; asking for a fresh one", path.name)
            url = await refresh()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise StorageError(
                f"upload of {path.name} to {redact_url(url)} failed: {type(exc).__name__}"
            ) from exc
