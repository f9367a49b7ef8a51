"""S3-style object storage for the emulator: SigV2 presigned URLs, streamed PUT and GET.

The hosted service hands out URLs that boto3 presigns with temporary credentials (SigV2 query
auth: `AWSAccessKeyId`, `Signature`, `x-amz-security-token`, `Expires`). This module issues URLs of
that shape and serves them the way S3 does, including the ways S3 says no, so that client code
which works here works against the real thing:

* the signature covers the verb, the `Content-MD5` and `Content-Type` headers actually sent, the
  expiry, the token and `/<bucket>/<key>`; a URL is therefore bound to one method and to the exact
  headers it was signed for (none, for the URLs Move hands out);
* PUT needs an exact `Content-Length` (chunked uploads get 501, none at all 411) and at most
  `max_object_size` bytes; the body is streamed to a temporary file and renamed into place only
  when every byte arrived (and matched `Content-MD5` when one was sent);
* GET honours one `Range: bytes=...` and `If-Match`, and streams the object from disk.

Memory stays flat whatever the object size: bodies move through in chunks of at most
`CHUNK_SIZE` bytes in both directions and disk I/O runs in the default executor.

Objects live at `<root>/objects/<key>` and uploads in progress under `<root>/incoming/`. Keys with
empty, `.` or `..` segments, leading slashes, backslashes or NUL characters are refused (S3 takes
them; a directory tree cannot hold them safely), as is a key whose path collides with another
key's (`a` and `a/b`).

Counters (`Stats`): every request adds one to `storage["<METHOD> <status>"]`, where status 0
means the connection was cut before a complete response went out (an injected reset, or a
client that went away mid-body). `bytes_in` and `bytes_out` count object bytes only: PUT body
bytes read and GET body bytes sent; error documents are not counted.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
import os
import pathlib
import re
import secrets
import tempfile
import time
from collections.abc import AsyncIterable, Iterable, Mapping
from dataclasses import dataclass
from typing import IO, Literal
from urllib.parse import quote
from xml.sax.saxutils import escape

from aiohttp import hdrs, web

from ._config import FIVE_GB, Hostility
from ._faults import Clock, Fault, FaultInjector
from ._hostile import RETRIED_STATUSES, Hostile, compress, new_version
from ._stats import Stats

__all__ = ["CHUNK_SIZE", "ObjectInfo", "Storage"]

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20
"""Largest piece of a body held in memory at once, in either direction."""

MAX_KEY_BYTES = 1024
"""S3's limit on the UTF-8 length of a key."""

# Made-up temporary credentials in the shape STS issues ("ASIA..." key id, 40-character
# secret, long session token); they only ever sign URLs for this emulator.
_DEFAULT_ACCESS_KEY_ID = "ASIAEMULATOR7EXAMPLE"
_DEFAULT_SECRET_KEY = "emulator/secret/key/0123456789abcdefghijk"  # noqa: S105
_DEFAULT_SECURITY_TOKEN = "IQoJb3JpZ2luX2VjEEMaCWVtdWxhdG9yIkcwRQIhAP+session/token+emulator=="  # noqa: S105

# Bounded digits: longer numbers would trip int()'s digit limit; such ranges are ignored.
_RANGE_RE = re.compile(r"bytes=(\d{0,19})-(\d{0,19})")


@dataclass(frozen=True)
class ObjectInfo:
    """What S3 would tell about a stored object."""

    key: str
    size: int
    etag: str
    """Quoted hex MD5 of the bytes, as S3 gives it for single-PUT objects."""
    last_modified: float
    """Server clock (`Clock.now()`) when the object was stored."""


class _RangeNotSatisfiable(Exception):
    """A syntactically valid byte range that selects nothing of the object."""


@dataclass
class _Exchange:
    """Per-request bookkeeping: S3's ids for the response headers and the status to count."""

    method: str
    request_id: str
    host_id: str
    status: int = 0
    url: str | None = None
    """The URL as asked for, signature and all (what a message may quote)."""


class _TempObject:
    """A file under `incoming/` that receives a body and its MD5 before it is renamed into place."""

    def __init__(self, directory: pathlib.Path) -> None:
        fd, name = tempfile.mkstemp(dir=directory, prefix="upload-", suffix=".part")
        self.path = pathlib.Path(name)
        self._file: IO[bytes] = os.fdopen(fd, "wb")
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0
        self.published = False

    def _write_sync(self, pieces: list[bytes]) -> None:
        # Hashing here too keeps the event loop free; hashlib drops the GIL for large buffers.
        for piece in pieces:
            self._md5.update(piece)
            self._file.write(piece)

    async def write(self, pieces: list[bytes]) -> None:
        """Append `pieces` in one trip to the executor (one trip per piece would cost more)."""
        if not pieces:
            return
        await asyncio.get_running_loop().run_in_executor(None, self._write_sync, pieces)
        self.size += sum(len(piece) for piece in pieces)

    def write_soon(self, pieces: list[bytes]) -> asyncio.Future[None]:
        """Start appending `pieces` in the executor; await it before the next write."""
        self.size += sum(len(piece) for piece in pieces)
        return asyncio.get_running_loop().run_in_executor(None, self._write_sync, pieces)

    def digest(self) -> bytes:
        return self._md5.digest()

    def finish(self) -> None:
        self._file.close()

    def discard(self) -> None:
        """Remove the file unless it was renamed into place; safe to call more than once."""
        self._file.close()
        if not self.published:
            self.path.unlink(missing_ok=True)


def _key_problem(key: str) -> str | None:
    """Why `key` cannot be stored under the object root, or None when it can."""
    if not key:
        return "the key is empty"
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        return f"the key is longer than {MAX_KEY_BYTES} bytes"
    if "\x00" in key or "\\" in key:
        return "the key contains a NUL character or a backslash"
    if key.startswith("/"):
        return "the key is an absolute path"
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            return "the key has an empty, '.' or '..' segment"
        if len(segment.encode("utf-8", "surrogatepass")) > 255:
            return "a segment of the key is longer than 255 bytes"
    return None


def _parse_range(value: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range S3 would serve for a `Range` header, or None for the whole object.

    Like S3, anything but a single well-formed `bytes=` range (other units, several ranges,
    `last < first`) is ignored rather than refused.
    """
    if value is None:
        return None
    match = _RANGE_RE.fullmatch(value.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise _RangeNotSatisfiable
        return max(0, size - suffix), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise _RangeNotSatisfiable
    return start, min(end, size - 1)


def _etag_matches(header: str, etag: str) -> bool:
    bare = etag.strip('"')
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.strip('"') == bare:
            return True
    return False


def _iso8601(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


class Storage:
    """One emulated bucket on local disk, served at `/s3/<bucket>/<key>` with presigned URLs."""

    def __init__(
        self,
        root: pathlib.Path,
        *,
        clock: Clock,
        stats: Stats,
        faults: FaultInjector,
        max_object_size: int = FIVE_GB,
        bucket: str = "move-ugc-emulator",
        access_key_id: str = _DEFAULT_ACCESS_KEY_ID,
        secret_key: str = _DEFAULT_SECRET_KEY,
        security_token: str = _DEFAULT_SECURITY_TOKEN,
        hostile: Hostile | None = None,
    ) -> None:
        if max_object_size <= 0:
            raise ValueError("max_object_size must be positive")
        if not bucket or "/" in bucket:
            raise ValueError(f"invalid bucket name {bucket!r}")
        self.root = pathlib.Path(root)
        self.bucket = bucket
        self.max_object_size = max_object_size
        self.access_key_id = access_key_id
        self.security_token = security_token
        self._secret = secret_key.encode()
        self._clock = clock
        self._stats = stats
        self._faults = faults
        self._hostile = hostile or Hostile(Hostility(), 0, clock)
        self._objects = self.root / "objects"
        self._incoming = self.root / "incoming"
        self._objects.mkdir(parents=True, exist_ok=True)
        self._incoming.mkdir(parents=True, exist_ok=True)
        # Uploads cut short by an earlier process are never completed: drop them.
        for leftover in self._incoming.iterdir():
            if leftover.is_file():
                leftover.unlink(missing_ok=True)
        self._objects_resolved = self._objects.resolve()
        # Metadata of stored objects. It is changed only in the same synchronous step as the
        # rename that publishes an object, so readers on the event loop never see the two disagree.
        self._index: dict[str, ObjectInfo] = {}

    # -- URLs -------------------------------------------------------------------------------

    def presign(self, method: Literal["GET", "PUT"], key: str, *, base_url: str, ttl: float) -> str:
        """A URL that lets its holder `method` the object `key` until `ttl` seconds from now.

        Signed without Content-Type or Content-MD5, like the URLs Move hands out: a client must
        send neither header.
        """
        if method not in ("GET", "PUT"):
            raise ValueError(f"presigned URLs are for GET or PUT, not {method!r}")
        self._check_key(key)
        expires = str(int(self._clock.now() + ttl))
        quoted_key = quote(key, safe="/~")
        signature = self._signature(
            self._string_to_sign(method, "", "", expires, self.security_token, quoted_key)
        )
        query = "&".join(
            f"{name}={quote(value, safe='')}"
            for name, value in (
                ("AWSAccessKeyId", self.access_key_id),
                ("Signature", signature),
                ("x-amz-security-token", self.security_token),
                ("Expires", expires),
            )
        )
        return f"{base_url.rstrip('/')}/s3/{self.bucket}/{quoted_key}?{query}"

    def _string_to_sign(
        self,
        verb: str,
        content_md5: str,
        content_type: str,
        expires: str,
        token: str | None,
        quoted_key: str,
    ) -> str:
        # SigV2 lists x-amz-* values only when present; with temporary credentials it always is.
        amz = f"x-amz-security-token:{token}\n" if token is not None else ""
        return f"{verb}\n{content_md5}\n{content_type}\n{expires}\n{amz}/{self.bucket}/{quoted_key}"

    def _signature(self, string_to_sign: str) -> str:
        mac = hmac.new(self._secret, string_to_sign.encode("utf-8"), hashlib.sha1)
        return base64.b64encode(mac.digest()).decode("ascii")

    def routes(self) -> list[web.RouteDef]:
        """The one catch-all route; every method reaches the handler, which answers like S3."""
        return [
            web.route(
                "*",
                "/s3/{bucket}/{key:.+}",
                self._handle,
                expect_handler=self._defer_continue,
            )
        ]

    # -- Objects ----------------------------------------------------------------------------

    def path_of(self, key: str) -> pathlib.Path:
        """Where the bytes of `key` live (or would live). Raises ValueError for unusable keys."""
        self._check_key(key)
        path = self._objects / key
        # Segment rules already keep the path inside; resolving also catches symlinks planted
        # under the root.
        if not path.resolve().is_relative_to(self._objects_resolved):
            raise ValueError(f"key {key!r} leads outside the storage root")
        return path

    def info(self, key: str) -> ObjectInfo | None:
        """Size, ETag and time of the object `key`, or None when there is none."""
        try:
            path = self.path_of(key)
        except ValueError:
            return None
        known = self._index.get(key)
        if not path.is_file():
            self._index.pop(key, None)
            return None
        if known is None:
            # An object left by an earlier process over the same root: learn its ETag once
            # (synchronously; such leftovers are rare and this keeps `info` a plain function).
            md5 = hashlib.md5(usedforsecurity=False)
            with path.open("rb") as f:
                while block := f.read(CHUNK_SIZE):
                    md5.update(block)
            stat = path.stat()
            known = ObjectInfo(key, stat.st_size, f'"{md5.hexdigest()}"', stat.st_mtime)
            self._index[key] = known
        return known

    def exists(self, key: str) -> bool:
        return self.info(key) is not None

    def read_bytes(self, key: str) -> bytes:
        """The whole object in memory; meant for tests and small objects."""
        if self.info(key) is None:
            raise FileNotFoundError(f"no object {key!r} in bucket {self.bucket!r}")
        return self.path_of(key).read_bytes()

    async def write_object(
        self, key: str, chunks: AsyncIterable[bytes] | Iterable[bytes]
    ) -> ObjectInfo:
        """Store `chunks` as object `key`, streamed to disk; it appears whole or not at all."""
        self.path_of(key)
        temp = _TempObject(self._incoming)
        try:
            if isinstance(chunks, AsyncIterable):
                async for chunk in chunks:
                    await temp.write([bytes(chunk)])
            else:
                for chunk in chunks:
                    await temp.write([bytes(chunk)])
            temp.finish()
            return self._publish(key, temp)
        finally:
            temp.discard()

    def _check_key(self, key: str) -> None:
        problem = _key_problem(key)
        if problem is not None:
            raise ValueError(f"unusable object key {key!r}: {problem}")

    def _publish(self, key: str, temp: _TempObject) -> ObjectInfo:
        """Rename a complete upload into place and record it, in one step as seen from the loop."""
        path = self.path_of(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp.path, path)
        temp.published = True
        info = ObjectInfo(
            key=key,
            size=temp.size,
            etag=f'"{temp.digest().hex()}"',
            last_modified=self._clock.now(),
        )
        self._index[key] = info
        return info

    def _open(self, key: str) -> tuple[ObjectInfo, IO[bytes]] | None:
        # No await between looking up the metadata and opening the file: a PUT that replaces the
        # object can only land before both or after both, and the open file keeps the old bytes.
        info = self.info(key)
        if info is None:
            return None
        try:
            return info, self.path_of(key).open("rb", buffering=0)
        except (FileNotFoundError, IsADirectoryError):
            return None

    # -- HTTP -------------------------------------------------------------------------------

    @staticmethod
    async def _defer_continue(request: web.Request) -> None:
        # aiohttp would answer `Expect: 100-continue` before the handler runs; S3 checks the
        # request first, so a refused upload is refused before the client sends its body.
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        exchange = _Exchange(
            method=request.method,
            request_id=secrets.token_hex(8).upper(),
            host_id=base64.b64encode(secrets.token_bytes(48)).decode("ascii"),
            url=str(request.url),
        )
        try:
            return await self._serve(request, exchange)
        except (asyncio.CancelledError, ConnectionError):
            exchange.status = 0
            raise
        except Exception:
            exchange.status = 500
            raise
        finally:
            self._stats.storage[f"{exchange.method} {exchange.status}"] += 1

    async def _serve(self, request: web.Request, exchange: _Exchange) -> web.StreamResponse:
        route = "storage_put" if request.method == "PUT" else "storage_get"
        fault = self._faults.draw(route)
        if fault is not None:
            if fault.latency:
                await asyncio.sleep(fault.latency)
            if fault.kind is not None:
                self._stats.faults[f"{route} {fault.kind}"] += 1
            if fault.kind in ("503", "429"):
                # S3 has no 429: throttling is 503 SlowDown.
                return self._error(exchange, 503, "SlowDown", "Please reduce your request rate.")
            if fault.kind == "500":
                return self._error(
                    exchange,
                    500,
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                )
            if fault.kind == "reset" and request.method == "PUT":
                return await self._cut_upload(request, exchange, fault)
            if fault.kind == "expired":
                now = self._clock.now()
                return self._error(
                    exchange,
                    403,
                    "AccessDenied",
                    "Request has expired",
                    Expires=_iso8601(now - 1),
                    ServerTime=_iso8601(now),
                )
        reset = fault if fault is not None and fault.kind == "reset" else None

        bucket = request.match_info["bucket"]
        key = request.match_info["key"]
        if bucket != self.bucket:
            return self._error(
                exchange,
                404,
                "NoSuchBucket",
                "The specified bucket does not exist",
                BucketName=bucket,
                reset=reset,
                request=request,
            )
        refusal = self._authenticate(request, exchange, key)
        if refusal is not None:
            return self._cut(request, exchange) if reset else refusal
        problem = _key_problem(key)
        if problem is not None:
            return self._error(
                exchange,
                400,
                "InvalidArgument",
                f"The emulator cannot store this key: {problem}.",
                ArgumentName="key",
                reset=reset,
                request=request,
            )
        if request.method == "PUT":
            return await self._put(request, exchange, key)
        if request.method in ("GET", "HEAD"):
            return await self._get(request, exchange, key, reset)
        response = self._error(
            exchange,
            405,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
            Method=request.method,
            ResourceType="OBJECT",
            reset=reset,
            request=request,
        )
        response.headers[hdrs.ALLOW] = "GET, HEAD, PUT"
        return response

    def _authenticate(
        self, request: web.Request, exchange: _Exchange, key: str
    ) -> web.StreamResponse | None:
        """S3's checks of SigV2 query auth, in S3's order; None when the request may proceed."""
        query = request.rel_url.query
        access_key = query.get("AWSAccessKeyId")
        signature = query.get("Signature")
        expires = query.get("Expires")
        token = query.get("x-amz-security-token")
        if hdrs.AUTHORIZATION in request.headers and (signature is not None or access_key):
            return self._error(
                exchange,
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                "Signature query string parameter or the Authorization header should be specified",
                ArgumentName="Authorization",
            )
        if access_key is None and signature is None and expires is None:
            return self._error(exchange, 403, "AccessDenied", "Access Denied")
        if access_key is None or signature is None or expires is None:
            return self._error(
                exchange,
                403,
                "AccessDenied",
                "Query-string authentication requires the Signature, Expires and "
                "AWSAccessKeyId parameters",
            )
        try:
            expires_at = int(expires)
        except ValueError:
            return self._error(
                exchange,
                403,
                "AccessDenied",
                f"Invalid date (should be seconds since epoch): {expires}",
            )
        now = self._clock.now()
        if expires_at < now:
            return self._error(
                exchange,
                403,
                "AccessDenied",
                "Request has expired",
                Expires=_iso8601(expires_at),
                ServerTime=_iso8601(now),
            )
        if access_key != self.access_key_id:
            return self._error(
                exchange,
                403,
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
                AWSAccessKeyId=access_key,
            )
        string_to_sign = self._string_to_sign(
            request.method,
            request.headers.get(hdrs.CONTENT_MD5, ""),
            request.headers.get(hdrs.CONTENT_TYPE, ""),
            expires,
            token,
            quote(key, safe="/~"),
        )
        expected = self._signature(string_to_sign)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return self._error(
                exchange,
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method.",
                AWSAccessKeyId=access_key,
                StringToSign=string_to_sign,
                SignatureProvided=signature,
            )
        if token != self.security_token:
            # Only reachable with the secret in hand: the signature covers the token.
            return self._error(
                exchange,
                400,
                "InvalidToken",
                "The provided token is malformed or otherwise invalid.",
            )
        return None

    async def _put(self, request: web.Request, exchange: _Exchange, key: str) -> web.StreamResponse:
        if "chunked" in request.headers.get(hdrs.TRANSFER_ENCODING, "").lower():
            return self._error(
                exchange,
                501,
                "NotImplemented",
                "A header you provided implies functionality that is not implemented",
                Header="Transfer-Encoding",
            )
        length = request.content_length
        if length is None:
            return self._error(
                exchange,
                411,
                "MissingContentLength",
                "You must provide the Content-Length HTTP header.",
            )
        if length > self.max_object_size:
            return self._error(
                exchange,
                400,
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed size",
                ProposedSize=str(length),
                MaxSizeAllowed=str(self.max_object_size),
            )
        declared_md5 = request.headers.get(hdrs.CONTENT_MD5)
        expected_digest: bytes | None = None
        if declared_md5 is not None:
            try:
                expected_digest = base64.b64decode(declared_md5, validate=True)
            except binascii.Error:
                expected_digest = b""
            if len(expected_digest) != 16:
                return self._error(
                    exchange, 400, "InvalidDigest", "The Content-MD5 you specified was invalid."
                )
        try:
            path = self.path_of(key)
        except ValueError as exc:
            return self._error(exchange, 400, "InvalidArgument", str(exc), ArgumentName="key")
        if path.is_dir() or any(
            (self._objects / parent).is_file() for parent in path.relative_to(self._objects).parents
        ):
            return self._collision(exchange)

        await self._send_continue(request)
        temp = _TempObject(self._incoming)
        try:
            complete = await self._receive(request, temp, length)
            temp.finish()
            if not complete:
                # The body stopped short, so the client is gone: nobody is left to answer.
                return self._cut(request, exchange)
            if expected_digest is not None and not hmac.compare_digest(
                expected_digest, temp.digest()
            ):
                return self._error(
                    exchange,
                    400,
                    "BadDigest",
                    "The Content-MD5 you specified did not match what we received.",
                    ExpectedDigest=declared_md5 or "",
                    CalculatedDigest=base64.b64encode(temp.digest()).decode("ascii"),
                )
            try:
                info = self._publish(key, temp)
            except OSError:
                # Another upload created a colliding path while this body was arriving.
                return self._collision(exchange)
        finally:
            temp.discard()
        exchange.status = 200
        etag = self._hostile.served_etag(info.etag)
        return web.Response(status=200, headers=self._headers(exchange, {hdrs.ETAG: etag}))

    async def _receive(self, request: web.Request, temp: _TempObject, length: int) -> bool:
        """Copy the body into `temp` in bounded pieces; False when it ended short."""
        # Pieces are gathered up to CHUNK_SIZE and handed over as a list, not joined: copying
        # every byte once more would cost as much as hashing it.
        pending: list[bytes] = []
        pending_size = 0
        received = 0
        # One write in flight while the next pieces are read, so disk and socket overlap.
        writing: asyncio.Future[None] | None = None
        try:
            while True:
                try:
                    data = await request.content.readany()
                except Exception:
                    # Whatever broke the stream (peer gone, length not met), it is incomplete.
                    return False
                if not data:
                    break
                received += len(data)
                self._stats.bytes_in += len(data)
                pending.append(data)
                pending_size += len(data)
                if pending_size >= CHUNK_SIZE:
                    if writing is not None:
                        await writing
                    writing = temp.write_soon(pending)
                    pending, pending_size = [], 0
            if writing is not None:
                await writing
            await temp.write(pending)
            return received == length
        finally:
            if writing is not None and not writing.done():
                # The file is closed after this; keep the write's outcome from going unheard.
                writing.add_done_callback(lambda done: done.cancelled() or done.exception())
                await asyncio.wait([writing])

    async def _cut_upload(
        self, request: web.Request, exchange: _Exchange, fault: Fault
    ) -> web.StreamResponse:
        """An injected reset on PUT: take part of the body, then drop the connection."""
        target = int((request.content_length or 0) * fault.reset_fraction)
        await self._send_continue(request)
        taken = 0
        with contextlib.suppress(Exception):
            while taken < target:
                data = await request.content.readany()
                if not data:
                    break
                taken += len(data)
                self._stats.bytes_in += len(data)
        return self._cut(request, exchange)

    async def _get(
        self, request: web.Request, exchange: _Exchange, key: str, reset: Fault | None
    ) -> web.StreamResponse:
        range_header = request.headers.get(hdrs.RANGE)
        asked = _RANGE_RE.fullmatch((range_header or "").strip())
        if asked and asked.group(1) and self._hostile.replace_now(key, int(asked.group(1))):
            await self._replace(key)
        opened = self._open(key)
        if opened is None:
            return self._error(
                exchange,
                404,
                "NoSuchKey",
                "The specified key does not exist.",
                Key=key,
                reset=reset,
                request=request,
            )
        info, handle = opened
        try:
            etag = self._hostile.served_etag(info.etag)
            if_match = request.headers.get(hdrs.IF_MATCH)
            if self._hostile.config.ignore_if_match:
                if_match = None
            if if_match is not None and not _etag_matches(if_match, etag):
                return self._error(
                    exchange,
                    412,
                    "PreconditionFailed",
                    "At least one of the pre-conditions you specified did not hold",
                    Condition="If-Match",
                    reset=reset,
                    request=request,
                )
            try:
                byte_range = _parse_range(range_header, info.size)
            except _RangeNotSatisfiable:
                response = self._error(
                    exchange,
                    416,
                    "InvalidRange",
                    "The requested range is not satisfiable",
                    RangeRequested=range_header or "",
                    ActualObjectSize=str(info.size),
                    reset=reset,
                    request=request,
                )
                response.headers[hdrs.CONTENT_RANGE] = f"bytes */{info.size}"
                return response
            headers: dict[str, str] = {
                hdrs.ETAG: etag,
                hdrs.ACCEPT_RANGES: "bytes",
                hdrs.CONTENT_TYPE: "binary/octet-stream",
            }
            if byte_range is None:
                status, start, length = 200, 0, info.size
            else:
                status, start, length = 206, byte_range[0], byte_range[1] - byte_range[0] + 1
                headers[hdrs.CONTENT_RANGE] = f"bytes {byte_range[0]}-{byte_range[1]}/{info.size}"
            if reset is not None and (length == 0 or request.method == "HEAD"):
                return self._cut(request, exchange)
            coding = None
            if request.method == "GET" and reset is None and length:
                coding = self._hostile.coding_for(request.headers.get(hdrs.ACCEPT_ENCODING))
            if coding is not None:
                return await self._compressed(
                    request, exchange, handle, info, status, start, length, headers, coding
                )
            response = web.StreamResponse(status=status, headers=self._headers(exchange, headers))
            response.content_length = length
            response.last_modified = info.last_modified
            if reset is not None:
                response.force_close()
            await response.prepare(request)
            if request.method == "HEAD":
                exchange.status = status
                return response
            to_send = int(length * reset.reset_fraction) if reset is not None else length
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, handle.seek, start)
            sent = 0
            try:
                while sent < to_send:
                    data = await loop.run_in_executor(
                        None, handle.read, min(CHUNK_SIZE, to_send - sent)
                    )
                    if not data:
                        break
                    await response.write(data)
                    sent += len(data)
                    self._stats.bytes_out += len(data)
            except ConnectionError:
                exchange.status = 0
                return response
            if reset is not None:
                return self._cut(request, exchange, response)
            exchange.status = status
            return response
        finally:
            handle.close()

    async def _replace(self, key: str) -> None:
        """Store a new version of `key` (same size, other bytes): another upload landed."""
        try:
            path = self.path_of(key)
        except ValueError:
            return
        if self.info(key) is None:
            return
        data = await asyncio.to_thread(path.read_bytes)
        await self.write_object(key, [new_version(data)])

    async def _compressed(
        self,
        request: web.Request,
        exchange: _Exchange,
        handle: IO[bytes],
        info: ObjectInfo,
        status: int,
        start: int,
        length: int,
        headers: dict[str, str],
        coding: str,
    ) -> web.StreamResponse:
        """The body as a compressing proxy passes it on: whole, coded, its length the coded
        one (meant for the small objects of tests: the range is held in memory)."""

        def read() -> bytes:
            handle.seek(start)
            return handle.read(length)

        data = compress(await asyncio.to_thread(read), coding)
        self._stats.bytes_out += len(data)
        self._stats.faults[f"storage_get {coding}"] += 1
        headers = {**headers, hdrs.CONTENT_ENCODING: coding, hdrs.VARY: "Accept-Encoding"}
        exchange.status = status
        response = web.Response(status=status, body=data, headers=self._headers(exchange, headers))
        response.last_modified = info.last_modified
        return response

    # -- Responses --------------------------------------------------------------------------

    async def _send_continue(self, request: web.Request) -> None:
        """Answer `Expect: 100-continue` now that the request passed every check but the body."""
        if (
            request.version >= (1, 1)
            and request.headers.get(hdrs.EXPECT, "").lower() == "100-continue"
        ):
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            # The interim response is not part of the real response's output.
            request.writer.output_size = 0

    def _cut(
        self,
        request: web.Request,
        exchange: _Exchange,
        response: web.StreamResponse | None = None,
    ) -> web.StreamResponse:
        """Drop the connection; whatever was written so far is flushed first, nothing after."""
        exchange.status = 0
        transport = request.transport
        if transport is not None:
            transport.close()
        # aiohttp tries to finish this response, finds the transport closing and treats it as a
        # client disconnection: no further bytes, no error logged. The placeholder's 499 (nginx's
        # "client closed request") only ever shows in the access log.
        if response is None:
            response = web.Response(status=499)
            response.force_close()
        return response

    def _collision(self, exchange: _Exchange) -> web.StreamResponse:
        return self._error(
            exchange,
            400,
            "InvalidArgument",
            "The emulator cannot store this key: its path collides with another object's.",
            ArgumentName="key",
        )

    def _headers(self, exchange: _Exchange, extra: Mapping[str, str]) -> dict[str, str]:
        return {
            "x-amz-request-id": exchange.request_id,
            "x-amz-id-2": exchange.host_id,
            hdrs.SERVER: "AmazonS3",
            **extra,
        }

    def _error(
        self,
        exchange: _Exchange,
        status: int,
        code: str,
        message: str,
        *,
        reset: Fault | None = None,
        request: web.Request | None = None,
        **details: str,
    ) -> web.StreamResponse:
        """S3's XML error document; with an injected reset pending, a cut connection instead."""
        if reset is not None and request is not None:
            return self._cut(request, exchange)
        exchange.status = status
        message = self._hostile.echo(message, url=exchange.url)
        fields = [("Code", code), ("Message", message), *details.items()]
        fields += [("RequestId", exchange.request_id), ("HostId", exchange.host_id)]
        body = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields)
        document = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{body}</Error>'
        extra = {"Content-Type": "application/xml"}
        if status in RETRIED_STATUSES:
            extra |= self._hostile.retry_after()
        return web.Response(
            status=status,
            body=document.encode("utf-8"),
            headers=self._headers(exchange, extra),
        )
