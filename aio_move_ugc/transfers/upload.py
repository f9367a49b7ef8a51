"""Streamed uploads to presigned PUT URLs: exact length, no Content-Type, MD5 ETags checked.

The API hands out one presigned PUT per file record, so a file goes up in one request. The
body is read (and hashed) in a worker thread one chunk ahead of the socket; a URL that expires
is replaced by a new file record.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import anyio

from .._exceptions import IntegrityError, InvalidInputError, UnexpectedResponseError
from .._retry import create_with_lookup, is_transient_storage, with_fresh_urls
from .config import Progress
from .meter import TransferMeter
from .storage import S3_SINGLE_PUT_LIMIT, md5_of_etag, redact_url, storage_error

if TYPE_CHECKING:
    from .._context import ClientContext
    from ..types._models import File

log = logging.getLogger("aio_move_ugc.transfers")

VIDEO_TYPES = {".mp4": "mp4", ".mov": "mov", ".avi": "avi", ".move": "move"}


def check_upload_source(
    path: str | os.PathLike[str], file_type: str | None
) -> tuple[Path, int, str]:
    """Path, size and API file type of a file fit to upload, or a clear error (nothing sent)."""
    if not isinstance(path, str | os.PathLike):
        raise InvalidInputError(f"path must be a file path, not {type(path).__name__}")
    source = Path(path)
    try:
        info = source.stat()
    except FileNotFoundError:
        raise InvalidInputError(f"no such file: {source}") from None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "invalid path"
        raise InvalidInputError(f"cannot read {source}: {reason}") from None
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
                f"cannot tell the file type of {source.name!r} from its suffix "
                f'(known: {", ".join(VIDEO_TYPES)}); pass type="mp4" or another of '
                f"{', '.join(sorted(VIDEO_TYPES.values()))}"
            )
        file_type = inferred
    return source, info.st_size, file_type


def md5_of_file(path: Path) -> str:
    """The hex MD5 of a file's bytes, read a MiB at a time (blocking: run it in a thread).
    What storage's single-PUT ETag holds, so a program can tell whether its upload arrived."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class FileBody:
    """A request body that streams one file: each chunk is read and hashed in a worker thread
    while the previous one is on the wire.

    An iterator object rather than an async generator: when the request is cancelled while
    aiohttp's writer is inside `__anext__`, nothing has to be closed under it; `aclose()` then
    waits for the read in flight so the file can be closed safely.
    """

    def __init__(
        self,
        raw: BinaryIO,
        name: str,
        length: int,
        chunk_size: int,
        *,
        progress: Progress | None = None,
        meter: TransferMeter | None = None,
        hashing: bool = True,
    ) -> None:
        self._raw = raw
        self._meter = meter
        self._name = name
        self.length = length
        self._chunk_size = chunk_size
        self._progress = progress
        self._hashing = hashing
        self.digest = hashlib.md5(usedforsecurity=False)
        """The MD5 of what was read (when `hashing`)."""
        self.sent = 0
        self._asked = 0
        self.error: BaseException | None = None
        self._pending: asyncio.Future[bytes] | None = None

    def _read(self, size: int) -> bytes:
        # Reads never overlap (the next starts after this one is awaited): file order holds.
        chunk = self._raw.read(size)
        if self._hashing:
            self.digest.update(chunk)
        return chunk

    def _read_ahead(self) -> None:
        size = min(self._chunk_size, self.length - self._asked)
        if size > 0:
            self._asked += size
            self._pending = asyncio.get_running_loop().run_in_executor(None, self._read, size)

    def __aiter__(self) -> FileBody:
        return self

    async def __anext__(self) -> bytes:
        if self._pending is None:
            if self._asked >= self.length:
                raise StopAsyncIteration
            self._read_ahead()
        assert self._pending is not None
        try:
            # Shielded: a cancelled request leaves the read to finish, and `aclose` awaits it.
            chunk = await asyncio.shield(self._pending)
        except Exception as exc:
            self.error = exc
            raise
        self._pending = None
        if not chunk:
            self.error = IntegrityError(f"{self._name} shrank while it was being uploaded")
            raise self.error
        self._read_ahead()
        self.sent += len(chunk)
        if self._meter is not None:
            self._meter.moved(len(chunk))
        if self._progress is not None:
            self._progress(self.sent, self.length)
        return chunk

    async def aclose(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await pending


async def put_file(
    ctx: ClientContext,
    path: Path,
    size: int,
    url: str,
    *,
    progress: Progress | None = None,
    meter: TransferMeter | None = None,
    md5: str | None = None,
) -> str:
    """PUT the whole file to `url` once; return the MD5 the storage's ETag confirmed. `meter`
    counts the request and the bytes sent.

    `md5` is the hex MD5 of the file when the caller has read it already: the bytes are then
    not hashed again on their way out, and the ETag must match it (so a file that changed
    since it was hashed fails the upload instead of being stored as something else)."""
    where = redact_url(url)
    what = f"upload of {path.name} to {where}"
    # The open runs to completion even when cancelled, so no file object is dropped unclosed.
    raw = await anyio.to_thread.run_sync(open, path, "rb")
    try:
        body = FileBody(
            raw,
            path.name,
            size,
            ctx.transfer_config.chunk_size,
            progress=progress,
            meter=meter,
            hashing=md5 is None,
        )
        try:
            async with ctx.storage.request(
                "PUT",
                url,
                what=what,
                headers={"Content-Length": str(size)},
                body=body,
                body_failed=lambda: body.error,
                meter=meter,
            ) as answer:
                reply = await answer.read()
                # S3 answers 200; stores that speak WebDAV answer 201 or 204.
                if answer.status not in (200, 201, 204):
                    raise storage_error(answer.status, reply, f"{what} failed", answer.headers)
                etag = answer.headers.get("ETag")
        finally:
            await body.aclose()
    finally:
        raw.close()  # at once: an await here would not run inside a cancelled scope
    expected = body.digest.hexdigest() if md5 is None else md5.lower()
    if body.sent != size:
        raise IntegrityError(f"sent {body.sent} bytes of {size} to {where}")
    got = md5_of_etag(etag)
    if got is None:
        # The store promises no digest (a multipart-style or opaque ETag, or none): the
        # length it took is all there is to check, and was checked.
        log.info("storage gave no MD5 ETag for %s; its length was checked", path.name)
        return expected
    if got != expected:
        what_md5 = "what was sent" if md5 is None else f"{path.name} (did it change?)"
        raise IntegrityError(f"ETag {got} does not match the MD5 {expected} of {what_md5}")
    return got


async def upload_file(
    ctx: ClientContext,
    path: Path,
    size: int,
    url: str,
    *,
    refresh: Callable[[], Awaitable[str]] | None,
    progress: Progress | None = None,
    md5: str | None = None,
) -> str:
    """Upload `path` to `url`: transient failures re-stream from the start, an expired URL is
    replaced by `refresh()`. Returns the verified hex MD5 (`md5`, when known: see `put_file`).

    As it ends (done, failed or cancelled), the transfer is logged and its `TransferEvent`
    handed to the client's `on_transfer` hook.
    """
    meter = TransferMeter("upload", path.name, size=size, hook=ctx.on_transfer)

    async def to(current: str) -> str:
        return await ctx.storage_retrier.call(
            lambda: put_file(ctx, path, size, current, progress=progress, meter=meter, md5=md5),
            retryable=is_transient_storage,
            what=f"upload of {path.name}",
            on_retry=meter.retried,
        )

    fresh: Callable[[], Awaitable[str]] | None = None
    if refresh is not None:
        ask = refresh

        async def fresh() -> str:
            url = await ask()
            meter.refreshed()
            return url

    try:
        # aclose() ends the upload wherever it waits (a read, a back-off) with
        # ClientClosedError, whatever aiohttp would make of the closed session.
        async with ctx.closer.guard(f"the upload of {path.name} was under way"):
            verified = await with_fresh_urls(
                to,
                url,
                refresh=fresh,
                max_refreshes=ctx.transfer_config.max_url_refreshes,
                what=f"the upload of {path.name}",
            )
    except BaseException as exc:
        meter.end(exc)
        raise
    meter.end(None)
    return verified


async def upload_new_file(
    ctx: ClientContext,
    path: Path,
    size: int,
    *,
    create: Callable[[], Awaitable[File]],
    on_record: Callable[[File], Awaitable[object]] | None = None,
    progress: Progress | None = None,
    md5: str | None = None,
) -> File:
    """Create a file record with `create()` and stream `path` to its presigned URL.

    When the URL expires, a new record is created and the bytes go there; `on_record(file)` is
    awaited with each record before bytes are sent to it (to journal it). Returns the record
    whose URL received the bytes. `md5`: the file's MD5 when already known (see `put_file`).
    """

    async def new_record() -> File:
        # A record that never receives bytes is never used: creating again is safe, as often
        # as the client's retry policy allows any request to be tried.
        record = await create_with_lookup(create, None, attempts=ctx.retry.max_retries + 1)
        if not record.presigned_url:
            raise UnexpectedResponseError(f"the API created file {record.id} without an upload URL")
        if on_record is not None:
            await on_record(record)
        return record

    async with ctx.transfer_slots():
        record = await new_record()

        async def refresh() -> str:
            nonlocal record
            record = await new_record()
            return str(record.presigned_url)

        await upload_file(
            ctx,
            path,
            size,
            str(record.presigned_url),
            refresh=refresh,
            progress=progress,
            md5=md5,
        )
    return record
