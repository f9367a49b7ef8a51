"""What uploads and downloads share: settings, the storage session, S3 error mapping, redaction."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiofiles.threadpool
import aiohttp
import anyio

from .._exceptions import IntegrityError, StorageError, URLExpiredError
from .._retry import RetryPolicy

Progress = Callable[[int, int], object]
"""Called as `progress(bytes_done, bytes_total)` as a transfer advances."""

MiB = 1 << 20
S3_SINGLE_PUT_LIMIT = 5 * 1000**3
MD5_ETAG = re.compile(r'^"?([0-9a-fA-F]{32})"?$')


@dataclass(frozen=True)
class TransferConfig:
    """Knobs of presigned-URL transfers.

    The defaults were measured on loopback: 1 MiB chunks with a large read buffer move bytes
    about 2.5 times faster than 64 KiB chunks.
    """

    chunk_size: int = 1 * MiB
    read_bufsize: int = 4 * MiB
    part_size: int = 16 * MiB
    """Size of the ranged parts of a download; objects up to this size arrive in one stream."""
    parts_in_flight: int = 4
    """Ranged parts of one download fetched at once."""
    max_concurrent_transfers: int = 8
    """Files moving at once per client (uploads and downloads together)."""
    connect_timeout: float = 10.0
    stall_timeout: float = 60.0
    """A transfer that receives or sends nothing for this long is abandoned (and retried)."""
    max_retries: int = 5
    retry_base_delay: float = 0.25
    retry_max_delay: float = 8.0
    max_url_refreshes: int = 3
    connection_limit: int = 64
    fsync: bool = True
    """Downloads reach the disk (fsync) before they are renamed into place, so a crash never
    leaves a complete-looking file with missing bytes. Off: faster where the disk is slower
    than the network and durability does not matter (scratch space)."""

    def __post_init__(self) -> None:
        if self.chunk_size < 1024 or self.part_size < self.chunk_size:
            raise ValueError("chunk_size must be >= 1 KiB and part_size >= chunk_size")
        if self.parts_in_flight < 1 or self.max_concurrent_transfers < 1:
            raise ValueError("parts_in_flight and max_concurrent_transfers must be >= 1")

    def retry_policy(self) -> RetryPolicy:
        """Retries of one transfer step against the same URL."""
        return RetryPolicy(
            max_retries=self.max_retries,
            base_delay=self.retry_base_delay,
            max_delay=self.retry_max_delay,
        )


def new_storage_session(config: TransferConfig) -> aiohttp.ClientSession:
    """A session for storage hosts only: no API key, no automatic Content-Type, no proxies."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=config.connection_limit),
        timeout=aiohttp.ClientTimeout(
            total=None, sock_connect=config.connect_timeout, sock_read=config.stall_timeout
        ),
        read_bufsize=config.read_bufsize,
        auto_decompress=False,
        trust_env=False,
        skip_auto_headers=("Content-Type",),
    )


def redact_url(url: str) -> str:
    """A presigned URL without its query (which holds the signature and the token)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "<redacted>" if parts.query else "", ""))


def _xml_field(body: bytes, name: str) -> str | None:
    match = re.search(rf"<{name}>(.*?)</{name}>".encode(), body, re.DOTALL)
    return match.group(1).decode("utf-8", "replace").strip() if match else None


def storage_error(status: int, body: bytes, what: str) -> StorageError:
    """The S3 error answer as one of our errors (the body's Code and Message, never the URL)."""
    code = _xml_field(body, "Code")
    message = _xml_field(body, "Message") or f"HTTP {status}"
    text = f"{what}: {message}"
    if 300 <= status < 400:
        return StorageError(f"{what}: redirected elsewhere; not followed", status=status, code=code)
    if status == 403 and code == "AccessDenied" and "expired" in message.lower():
        return URLExpiredError(text, status=status, code=code)
    return StorageError(text, status=status, code=code)


def is_transient_storage(exc: BaseException) -> bool:
    """Worth another try against the same URL."""
    if isinstance(exc, URLExpiredError | IntegrityError):
        return False
    if isinstance(exc, StorageError):
        return exc.status in (408, 429, 500, 502, 503, 504) or exc.code in (
            "SlowDown",
            "InternalError",
            "RequestTimeout",
        )
    # Network trouble only: a local OSError (disk full, read-only) is not cured by retrying.
    return isinstance(exc, aiohttp.ClientError | ConnectionError | TimeoutError)


def md5_of_etag(etag: str | None) -> str | None:
    """The hex MD5 an ETag stands for, when it is a single-PUT ETag (multipart ETags are not)."""
    if not etag:
        return None
    match = MD5_ETAG.match(etag.strip())
    return match.group(1).lower() if match else None


@asynccontextmanager
async def open_file(path: str | os.PathLike[str], mode: str) -> AsyncIterator[Any]:
    """An aiofiles handle that cannot leak: `aiofiles.open` cancelled mid-open drops a file
    object the thread already opened, so the open runs to completion here (cancellation
    waits for it), and the close happens even inside a cancelled scope."""
    raw = await anyio.to_thread.run_sync(open, path, mode)
    try:
        yield aiofiles.threadpool.wrap(raw)
    finally:
        raw.close()
