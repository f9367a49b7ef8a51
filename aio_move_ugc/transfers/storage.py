"""The storage boundary: every request to a presigned URL goes through here, and every aiohttp
or socket error on that wire becomes one of our errors here (and nowhere else).

Errors raised here never carry the URL's query (signature, token) and never chain to the
aiohttp exception that holds it: the original is dropped, its class name kept in the message.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

import aiohttp

from .._exceptions import (
    ClientClosedError,
    IntegrityError,
    MoveUgcError,
    StorageConnectionError,
    StorageError,
    URLExpiredError,
)
from .._redact import redact_url, scrub_text
from .._retry import retry_after_from
from .._sessions import LoopSessions
from .config import TransferConfig
from .meter import TransferMeter

__all__ = [
    "StorageWire",
    "content_range",
    "md5_of_etag",
    "redact_url",
    "refuse_encoding",
    "storage_error",
]

S3_SINGLE_PUT_LIMIT = 5 * 1000**3
MD5_ETAG = re.compile(r'^"?([0-9a-fA-F]{32})"?$')
NETWORK_ERRORS = (aiohttp.ClientError, ConnectionError, TimeoutError)


def md5_of_etag(etag: str | None) -> str | None:
    """The hex MD5 an ETag stands for, when it is a single-PUT ETag (multipart ETags are not)."""
    if not etag:
        return None
    match = MD5_ETAG.match(etag.strip())
    return match.group(1).lower() if match else None


def _xml_field(body: bytes, name: str) -> str | None:
    match = re.search(rf"<{name}>(.*?)</{name}>".encode(), body[:65536], re.DOTALL)
    return match.group(1).decode("utf-8", "replace").strip()[:300] if match else None


def storage_error(
    status: int, body: bytes, what: str, headers: Mapping[str, str] | None = None
) -> StorageError:
    """The S3 error answer as one of our errors (the body's Code and Message, scrubbed of any
    URL, signature or token they quote; never the URL asked for), with the wait its
    `Retry-After` asks for."""
    code = _xml_field(body, "Code")
    message = scrub_text(_xml_field(body, "Message") or f"HTTP {status}")
    code = scrub_text(code) if code is not None else None
    error: StorageError
    if 300 <= status < 400:
        error = StorageError(
            f"{what}: redirected elsewhere; not followed", status=status, code=code
        )
    elif status == 403 and code == "AccessDenied" and "expired" in message.lower():
        error = URLExpiredError(f"{what}: {message}", status=status, code=code)
    else:
        error = StorageError(f"{what}: {message}", status=status, code=code)
    error.retry_after = retry_after_from(headers)
    return error


def refuse_encoding(headers: Mapping[str, str], what: str) -> None:
    """A body coded by something between us and the store (a compressing proxy) is not the
    object's bytes: refused, never saved (asked with `Accept-Encoding: identity`, an honest
    proxy sends none)."""
    coding = headers.get("Content-Encoding", "").strip().lower()
    if coding not in ("", "identity"):
        raise IntegrityError(
            f"{what}: the answer came {coding[:20]}-encoded, not as the object's bytes "
            "(a proxy that ignores Accept-Encoding: identity?)"
        )


class StorageResponse:
    """An answer from storage whose body reads map wire errors like the request did."""

    def __init__(self, raw: aiohttp.ClientResponse, wire: StorageWire, what: str) -> None:
        self._raw = raw
        self._wire = wire
        self._what = what
        self.status = raw.status
        self.headers = raw.headers
        self.content_length = raw.content_length

    async def read(self) -> bytes:
        error: MoveUgcError | None = None
        try:
            return await self._raw.read()
        except (*NETWORK_ERRORS, RuntimeError) as exc:
            # aiohttp says "Connection closed." (a RuntimeError) when the session closed under
            # the read: the client's aclose(), which mapped() names.
            if isinstance(exc, RuntimeError) and not self._wire.is_closed():
                raise
            error = self._wire.mapped(exc, self._what)
        raise error

    async def chunks(self, size: int) -> AsyncIterator[bytes]:
        """The body, at most `size` bytes at a time."""
        while chunk := await self._read_some(size):
            yield chunk

    async def _read_some(self, size: int) -> bytes:
        error: MoveUgcError | None = None
        try:
            return await self._raw.content.read(size)
        except (*NETWORK_ERRORS, RuntimeError) as exc:
            if isinstance(exc, RuntimeError) and not self._wire.is_closed():
                raise
            error = self._wire.mapped(exc, self._what)
        raise error

    def release(self) -> None:
        self._raw.release()


class StorageWire:
    """Requests to presigned URLs over a session of their own (no API key, no Content-Type, no
    proxies), one session per event loop."""

    def __init__(self, config: TransferConfig, *, closed: Callable[[], bool]) -> None:
        self.config = config
        self._closed = closed
        self.sessions = LoopSessions(self._new_session, closed=closed)
        self._owns_sessions = True

    def _new_session(self) -> aiohttp.ClientSession:
        config = self.config
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

    def share_sessions(self, other: StorageWire) -> None:
        """Send over `other`'s sessions (it owns and closes them) when its settings make
        sessions the same way as ours."""
        shape = ("connection_limit", "connect_timeout", "stall_timeout", "read_bufsize")
        if all(getattr(self.config, f) == getattr(other.config, f) for f in shape):
            self.sessions = other.sessions
            self._owns_sessions = False

    async def aclose(self) -> None:
        if self._owns_sessions:
            await self.sessions.aclose()

    def is_closed(self) -> bool:
        return self._closed()

    def mapped(self, exc: BaseException, what: str) -> MoveUgcError:
        """The error a wire failure stands for (no chain back to `exc`: it may hold the URL)."""
        if self._closed():
            return ClientClosedError(f"the client was closed during the {what}")
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return StorageConnectionError(f"{what} failed: timed out connecting to storage")
        if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
            return StorageConnectionError(f"{what} failed: storage stalled (no bytes in time)")
        return StorageConnectionError(f"{what} failed: {type(exc).__name__}")

    @asynccontextmanager
    async def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        headers: dict[str, str] | None = None,
        body: AsyncIterable[bytes] | None = None,
        body_failed: Callable[[], BaseException | None] | None = None,
        meter: TransferMeter | None = None,
    ) -> AsyncIterator[StorageResponse]:
        """One request; `body_failed()` names a local failure (reading the file) that aiohttp
        reported as a connection error, so that failure is raised instead. `meter` counts the
        request and its answer's status into the transfer it belongs to."""
        error: BaseException | None = None
        raw: aiohttp.ClientResponse | None = None
        session = await self.sessions.get(what)
        if meter is not None:
            meter.sent()
        try:
            raw = await session.request(
                method,
                url,
                data=body,
                # No coding we would not decode (a proxy would compress for aiohttp's default
                # gzip, deflate): the bytes are the object's, so ranges and MD5 hold.
                headers={"Accept-Encoding": "identity", **(headers or {})},
                skip_auto_headers=("Content-Type",),
                allow_redirects=False,
            )
        except (*NETWORK_ERRORS, RuntimeError) as exc:
            local = body_failed() if body_failed is not None else None
            if isinstance(exc, RuntimeError) and not self._closed():
                raise
            error = local if local is not None else self.mapped(exc, what)
        if error is not None:
            raise error
        assert raw is not None
        if meter is not None:
            request_id = raw.headers.get("x-amz-request-id")
            meter.answered(raw.status, request_id[:128] if request_id else None)
        try:
            if method == "GET" and raw.status < 300:
                refuse_encoding(raw.headers, what)
            yield StorageResponse(raw, self, what)
        finally:
            raw.release()

    async def probe(self, url: str, *, what: str) -> tuple[int, str | None] | None:
        """Size and ETag of the object behind a presigned GET URL (one byte fetched), or None
        when there is no such object."""
        async with self.request("GET", url, what=what, headers={"Range": "bytes=0-0"}) as answer:
            body = await answer.read()
            if answer.status == 404:
                return None
            if answer.status == 416:  # an empty object
                return 0, answer.headers.get("ETag")
            if answer.status == 206:
                parsed = content_range(answer.headers.get("Content-Range"))
                if parsed is not None:
                    return parsed[2], answer.headers.get("ETag")
            if answer.status == 200:
                return len(body), answer.headers.get("ETag")
            raise storage_error(answer.status, body, what, answer.headers)


def content_range(header: str | None) -> tuple[int, int, int] | None:
    """`bytes a-b/total` → (a, b + 1, total)."""
    if not header or not header.startswith("bytes "):
        return None
    try:
        span, total = header[6:].split("/")
        first, last = span.split("-")
        return int(first), int(last) + 1, int(total)
    except ValueError:
        return None
