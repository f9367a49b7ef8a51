"""Webhook deliveries: Standard Webhooks (Svix) verification and a receiver of job events, with
adapters for aiohttp and ASGI apps.

The service posts a delivery when a job starts, completes or fails, signed the Standard Webhooks
way (`svix-id`, `svix-timestamp`, `svix-signature` headers; HMAC-SHA256 over
`"{id}.{timestamp}.{body}"` with the `whsec_` secret). `verify()` checks one delivery;
`parse_event()` turns a verified body into the same typed events `ugc.jobs.watch` yields
(`source="webhook"`). `WebhookReceiver.accept(body, headers)` is the one core that verifies,
drops repeats, parses and queues, and says what to answer; thin adapters put it behind an
aiohttp route (`routes()`, `app()`, or its own server) or in an ASGI app (`asgi_app()`, no
framework needed; `asgi_route()` for Starlette and FastAPI). The events come out of
`async for event in receiver.events()`.

```python
async with AsyncMoveUgc() as ugc, WebhookReceiver(host="0.0.0.0", port=8080) as receiver:
    await receiver.register(ugc, uid="my-app", url="https://example.com/hooks/move-ugc")
    async for event in receiver.events():
        if isinstance(event, JobFinished):
            await ugc.jobs.download_outputs(event.job_id, "out/")
```

What webhooks can see, and what they cannot:

- Event names come in two spellings, `ugc.job.state.<kind>` (documented) and
  `job.state.<kind>` (also seen); both are understood everywhere. `register()` subscribes to
  the documented `ugc.job.state.completed` and `ugc.job.state.failed` unless told otherwise.
- State changes only: started (`JobStateChanged` to RUNNING), completed (`JobFinished`) and
  failed (`JobFailed`). No progress percentage (`JobProgressed` only comes from polling) and
  no output readiness: outputs may still lack download URLs when the completed event arrives,
  so follow it with `ugc.jobs.wait(job_id)` or `ugc.jobs.download_outputs(...)`, which wait
  for the URLs (`OutputsReady` only comes from polling).
- Deliveries can arrive late (the sender retries for a while when the receiver fails), twice
  (a retry of a delivery that did arrive) and out of order (a completed event before its
  started event). The receiver drops repeats of an `svix-id` it has seen recently; ordering
  is up to the consumer: treat each event as "this happened at `event.at`", not as the
  next step of a sequence.
- A delivery that fails verification, whatever is wrong with it (headers, signature, time,
  body), is answered 400 and never reaches the consumer; a missed delivery is never
  noticed by a receiver. Whoever must not miss a result polls as well (`ugc.jobs.wait`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pydantic
from aiohttp import web

from ._exceptions import ConfigurationError, WebhookVerificationError
from .types._enums import JobState
from .types._models import Job
from .types.events import JobEvent, JobFailed, JobFinished, JobStateChanged

if TYPE_CHECKING:
    from ._client import AsyncMoveUgc

__all__ = [
    "DEFAULT_EVENTS",
    "EVENT_COMPLETED",
    "EVENT_FAILED",
    "EVENT_PREFIXES",
    "EVENT_STARTED",
    "MAX_BODY_SIZE",
    "ASGIApp",
    "WebhookReceiver",
    "WebhookReply",
    "event_kind",
    "parse_event",
    "verify",
]

log = logging.getLogger("aio_move_ugc.webhooks")

EVENT_PREFIXES = ("ugc.job.state.", "job.state.")
"""The two spellings of job event names seen in the published material, documented one first."""
EVENT_STARTED = "ugc.job.state.started"
EVENT_COMPLETED = "ugc.job.state.completed"
EVENT_FAILED = "ugc.job.state.failed"
DEFAULT_EVENTS = (EVENT_COMPLETED, EVENT_FAILED)
"""What `WebhookReceiver.register` subscribes to by default: the documented end-of-job events."""
_KINDS = ("started", "completed", "failed")

MAX_BODY_SIZE = 1024 * 1024
"""Deliveries larger than this (1 MiB) are refused before anything else is looked at."""
DEFAULT_TOLERANCE = 300.0
"""Seconds a delivery's timestamp may be off from the receiver's clock (the standard's 5 min)."""

_SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every secret, not a secret
_HEADER_PREFIXES = ("svix-", "webhook-")
_MAX_TIMESTAMP_DIGITS = 12
"""Seconds since the epoch have 10 digits until 2286; longer values are not times at all (and a
few thousand digits would overflow Python's integer parsing)."""


class _MalformedDelivery(WebhookVerificationError):
    """The delivery is not shaped like one (missing headers, not JSON): answered 400, not 401."""


def _key_from_secret(secret: str) -> bytes:
    """The HMAC key: the base64 after `whsec_`. Messages never quote the secret."""
    if not isinstance(secret, str):
        raise ConfigurationError("a webhook secret must be a string such as 'whsec_...'")
    encoded = secret.removeprefix(_SECRET_PREFIX).strip()
    try:
        # Unpadded base64 is accepted, as the Standard Webhooks libraries do.
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(
            "malformed webhook secret: expected 'whsec_' followed by base64"
        ) from None
    if not key:
        raise ConfigurationError("malformed webhook secret: the key after 'whsec_' is empty")
    return key


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """`svix-<name>` or `webhook-<name>`, whatever the case of the header names."""
    wanted = {prefix + name for prefix in _HEADER_PREFIXES}
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() in wanted and value:
            if not isinstance(value, str):
                raise _MalformedDelivery(f"header {key[:40]!r} is not text")
            return value
    return None


def _wire_bytes(text: str, what: str) -> bytes:
    """`text` as the bytes that were sent (aiohttp keeps undecodable header bytes escaped)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise _MalformedDelivery(f"{what} holds characters that cannot be encoded") from None


def _signature(key: bytes, msg_id: bytes, timestamp: str, body: bytes) -> bytes:
    content = msg_id + f".{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(key, content, hashlib.sha256).digest())


def verify(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
    max_size: int = MAX_BODY_SIZE,
) -> dict[str, Any]:
    """Check one delivery and return its JSON body.

    `headers` are the delivery's HTTP headers (`svix-*` or `webhook-*`, any case); `payload`
    the raw body exactly as received. Raises `WebhookVerificationError` when the body is too
    large, a header is missing or malformed, the timestamp is more than `tolerance` seconds
    from `now` (default: the system clock), no `v1` signature matches, or the body is not a
    JSON object; `ConfigurationError` when `secret` is not `whsec_<base64>`. Messages never
    hold the secret or signature values. A body over `max_size` bytes (default 1 MiB) is
    refused before anything else is looked at.
    """
    if isinstance(payload, str):
        body = _wire_bytes(payload, "the body")
    elif isinstance(payload, bytes | bytearray | memoryview):
        body = bytes(payload)
    else:
        raise _MalformedDelivery("the body must be bytes or text")
    if len(body) > max_size:
        raise _MalformedDelivery(f"body of {len(body)} bytes exceeds the limit of {max_size}")
    key = _key_from_secret(secret)
    msg_id = _header(headers, "id")
    timestamp = _header(headers, "timestamp")
    signatures = _header(headers, "signature")
    missing = [
        name
        for name, value in (("id", msg_id), ("timestamp", timestamp), ("signature", signatures))
        if value is None
    ]
    if missing or msg_id is None or timestamp is None or signatures is None:
        names = ", ".join(f"svix-{name}" for name in missing)
        raise _MalformedDelivery(f"missing header(s) {names}")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > _MAX_TIMESTAMP_DIGITS:
        raise _MalformedDelivery("malformed svix-timestamp: expected whole seconds since the epoch")
    current = time.time() if now is None else now
    offset = int(timestamp) - current
    if offset < -tolerance:
        raise WebhookVerificationError(
            f"timestamp too old: {-offset:.0f} s in the past (tolerance {tolerance:g} s)"
        )
    if offset > tolerance:
        raise WebhookVerificationError(
            f"timestamp too new: {offset:.0f} s in the future (tolerance {tolerance:g} s)"
        )
    expected = _signature(key, _wire_bytes(msg_id, "svix-id"), timestamp, body)
    matched = False
    for entry in signatures.split(" "):
        version, sep, value = entry.partition(",")
        if sep and version == "v1":
            # Compared in base64 form, so a non-canonical encoding of the right digest fails too.
            matched |= hmac.compare_digest(expected, value.encode("utf-8", "replace"))
        # Other versions (v1a asymmetric, future ones) are skipped, as the standard says.
    if not matched:
        raise WebhookVerificationError("no v1 signature matches the body and the secret")
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        # ValueError covers bad UTF-8 and integers too long to read; RecursionError, nesting
        # deeper than the parser goes.
        raise _MalformedDelivery("the body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise _MalformedDelivery("the body is not a JSON object")
    return parsed


def event_kind(name: Any) -> str | None:
    """`started`, `completed` or `failed` from `ugc.job.state.<x>` or `job.state.<x>`.

    None for anything else (other events, other types).
    """
    if not isinstance(name, str):
        return None
    for prefix in EVENT_PREFIXES:
        kind = name.removeprefix(prefix)
        if kind != name and kind in _KINDS:
            return kind
    return None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _job_model(raw: dict[str, Any]) -> Job | None:
    """A `Job` from the delivery's job body; fields that do not fit the model are left out.

    Deliveries name outputs by type only (no files), so `outputs` rarely fits; such fields
    are dropped rather than losing the whole job.
    """
    data = dict(raw)
    for _ in range(3):
        try:
            return Job.model_validate(data)
        except pydantic.ValidationError as exc:
            bad = {error["loc"][0] for error in exc.errors() if error["loc"]}
            bad.discard("id")
            if not bad & data.keys():
                return None
            for name in bad:
                data.pop(str(name), None)
    return None


def _failure_reason(job: dict[str, Any], detail: dict[str, Any]) -> str | None:
    for source in (job, detail):
        for name in ("reason", "failureReason", "failure_reason", "error", "message"):
            value = source.get(name)
            if isinstance(value, dict):
                value = value.get("message")
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def parse_event(body: Mapping[str, Any], *, received_at: datetime | None = None) -> JobEvent | None:
    """The typed event of a verified delivery, or None for an event this SDK does not know.

    completed → `JobFinished`, failed → `JobFailed`, started → `JobStateChanged` to RUNNING,
    all with `source="webhook"`. `event.at` is the delivery's own timestamp when it has one,
    else `received_at` (default: now); `event.job` is the job as the delivery described it
    (no output URLs), or None when it did not fit the model.
    """
    name = body.get("event_name")
    kind = event_kind(name)
    if kind is None:
        log.info("ignoring webhook event %r", name if isinstance(name, str) else type(name))
        return None
    detail = body.get("detail")
    attributes = detail.get("event_attributes") if isinstance(detail, dict) else None
    raw_job = attributes.get("job") if isinstance(attributes, dict) else None
    job_id = raw_job.get("id") if isinstance(raw_job, dict) else None
    if not isinstance(raw_job, dict) or not isinstance(job_id, str) or not job_id:
        log.warning("ignoring webhook event %s without a job id", name)
        return None
    at = _parse_time(body.get("timestamp")) or received_at or datetime.now(UTC)
    job = _job_model(raw_job)
    common: dict[str, Any] = {"job_id": job_id, "job": job, "at": at, "source": "webhook"}
    if kind == "completed":
        return JobFinished(**common)
    if kind == "failed":
        state = job.current_state if job else None
        if state not in (JobState.FAILED, JobState.CANCELLED):
            state = JobState.FAILED
        reason = _failure_reason(raw_job, detail if isinstance(detail, dict) else {})
        return JobFailed(**common, state=state, reason=reason)
    return JobStateChanged(**common, state=JobState.RUNNING)


@dataclass(frozen=True)
class WebhookReply:
    """What to answer a delivery: `status` (204 accepted or repeated, 400 refused, 413 too
    large, 503 not ready or busy), a short `text` and extra `headers` (`Retry-After`)."""

    status: int
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)


_CLOSED = WebhookReply(503, "receiver closed")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
"""An ASGI 3 application, spelled out so that no framework is imported."""


class _ASGIWebhook:
    """The ASGI adapter of a `WebhookReceiver`: read the request (no further than the size
    cap), hand it to `accept`, write the reply."""

    def __init__(self, receiver: WebhookReceiver) -> None:
        self.receiver = receiver

    def __repr__(self) -> str:
        return f"<ASGI app of {self.receiver!r}>"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # served on its own: nothing to start or stop
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        receiver = self.receiver
        if scope.get("method") != "POST":
            await _reply(send, WebhookReply(405, "POST only", {"Allow": "POST"}))
            return
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope.get("headers", ()):
            # As aiohttp reads them: UTF-8, undecodable bytes kept (verify() needs the bytes).
            name = raw_name.decode("latin-1").lower()
            headers.setdefault(name, raw_value.decode("utf-8", "surrogateescape"))
        if receiver.is_closed:
            await _reply(send, _CLOSED)
            return
        try:
            body = await _read_capped(receive, headers, receiver.max_body_size)
        except _Disconnected:
            return  # nobody to answer
        reply = receiver.refuse_too_large() if body is None else receiver.accept(body, headers)
        await _reply(send, reply)


class _Disconnected(Exception):
    """The client went away before its body arrived."""


async def _read_capped(receive: Receive, headers: Mapping[str, str], cap: int) -> bytes | None:
    """The request body; None when it is (or announces to be) longer than `cap`."""
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) > cap:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _reply(send: Send, reply: WebhookReply) -> None:
    body = reply.text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8")] if body else []
    headers += [
        (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers.items()
    ]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _RecentIds:
    """The last `size` delivery ids seen, oldest forgotten first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, msg_id: str) -> bool:
        if msg_id in self._ids:
            self._ids.move_to_end(msg_id)
            return True
        return False

    def add(self, msg_id: str) -> None:
        self._ids[msg_id] = None
        self._ids.move_to_end(msg_id)
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)


class WebhookReceiver:
    """Verifies deliveries, drops repeats and hands typed job events to `events()`.

    Serve it on its own (`async with WebhookReceiver(secret, port=8080) as receiver:`, then
    `receiver.url`), mount `receiver.routes()` in an aiohttp application of yours, or
    `receiver.asgi_route()` (`asgi_app()`) in an ASGI one (FastAPI, Starlette). Each
    accepted delivery is answered 204 at once and its event queued (at most `queue_size`;
    when the consumer falls that far behind, deliveries get 503 and the sender retries later).
    Deliveries that fail verification get 400 (whatever failed: headers, signature, time or
    body) and never reach the consumer; a repeated `svix-id` among the last `dedupe_size` gets
    204 and is not delivered again.

    Args:
        secret: the endpoint's signing secret, `whsec_<base64>`; None until `register` adopts
            the one the API returns (deliveries get 503 meanwhile).
        path: the URL path deliveries are posted to; must start with `/`.
        host: the address the receiver's own server listens on.
        port: its port (0: any free port; see `url`).
        tolerance: seconds a delivery's timestamp may be off from this machine's clock.
        max_body_size: deliveries larger than this many bytes are answered 413.
        queue_size: accepted events waiting for the consumer, at most.
        dedupe_size: recent delivery ids remembered to drop repeats.

    Bad values raise `ConfigurationError`.
    """

    def __init__(
        self,
        secret: str | None = None,
        *,
        path: str = "/webhooks/move-ugc",
        host: str = "127.0.0.1",
        port: int = 0,
        tolerance: float = DEFAULT_TOLERANCE,
        max_body_size: int = MAX_BODY_SIZE,
        queue_size: int = 10_000,
        dedupe_size: int = 10_000,
    ) -> None:
        if secret is not None:
            _key_from_secret(secret)
        if not path.startswith("/"):
            raise ConfigurationError("the receiver's path must start with '/'")
        if not (tolerance > 0 and math.isfinite(tolerance)):
            raise ConfigurationError("tolerance must be a positive number of seconds")
        if max_body_size < 1 or queue_size < 1 or dedupe_size < 1:
            raise ConfigurationError("max_body_size, queue_size and dedupe_size must be positive")
        self._secret = secret
        self.path = path
        self.host = host
        self.port = port
        self.tolerance = tolerance
        self.max_body_size = max_body_size
        self._queue_size = queue_size
        self._pending: deque[JobEvent] = deque()
        self._wakeup = asyncio.Event()
        self._seen = _RecentIds(dedupe_size)
        self._closed = False
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self.received = 0
        """Deliveries accepted and queued (repeats and rejected ones not counted)."""
        self.rejected = 0
        """Deliveries refused (verification failed, too large, no secret yet)."""
        self.duplicates = 0
        """Deliveries acknowledged but not queued because their id was seen before."""

    def __repr__(self) -> str:
        where = self._url or self.path
        return f"WebhookReceiver({where!r}, secret={'set' if self._secret else 'unset'})"

    @property
    def has_secret(self) -> bool:
        """Whether the receiver has a secret to verify deliveries with."""
        return self._secret is not None

    @property
    def is_closed(self) -> bool:
        """True once `aclose()` was called: deliveries get 503, `events()` ends."""
        return self._closed

    @property
    def url(self) -> str:
        """Where the receiver's own server listens, e.g. `http://127.0.0.1:54321/webhooks/...`."""
        if self._url is None:
            raise RuntimeError("the receiver is not serving; use `async with WebhookReceiver()`")
        return self._url

    # ------------------------------------------------------------ the core
    def accept(self, body: bytes, headers: Mapping[str, str]) -> WebhookReply:
        """Verify one delivery, drop a repeat, queue its event: the answer to send back.

        `body` is the raw body as received (a body longer than `max_body_size` is refused
        with 413: an adapter may stop reading one byte past the cap); `headers` its HTTP
        headers, any case. Every adapter (aiohttp, ASGI) is this call around reading the
        request and writing the reply; a framework of your own can use it the same way.
        """
        if self._closed:
            return _CLOSED
        if len(body) > self.max_body_size:
            return self.refuse_too_large()
        secret = self._secret
        if secret is None:
            self.rejected += 1
            log.warning("webhook delivery refused: the receiver has no secret yet")
            return WebhookReply(503, "receiver not configured")
        try:
            payload = verify(
                body, headers, secret, tolerance=self.tolerance, max_size=self.max_body_size
            )
        except WebhookVerificationError as exc:
            # 400 for every kind of failure, as Standard Webhooks senders expect: nothing tells
            # a prober which part of its forgery was wrong.
            self.rejected += 1
            log.warning("webhook delivery rejected: %s", exc)
            return WebhookReply(400, "webhook verification failed")
        msg_id = _header(headers, "id")
        assert msg_id is not None  # verify() checked it
        if msg_id in self._seen:
            self.duplicates += 1
            log.debug("webhook delivery %s repeated; not delivered again", msg_id)
            return WebhookReply(204)
        event = parse_event(payload, received_at=datetime.now(UTC))
        if event is not None:
            if len(self._pending) >= self._queue_size:
                log.warning("webhook queue full (%d); asking the sender to retry", self._queue_size)
                return WebhookReply(503, "busy", {"Retry-After": "5"})
            self._pending.append(event)
            self._wakeup.set()
            self.received += 1
        self._seen.add(msg_id)
        return WebhookReply(204)

    # ------------------------------------------------------------ aiohttp
    def routes(self) -> list[web.RouteDef]:
        """The POST route, to add to an aiohttp application: `app.add_routes(r.routes())`."""
        return [web.post(self.path, self._handle)]

    def app(self) -> web.Application:
        """A small aiohttp application serving only the receiver's route."""
        application = web.Application(client_max_size=self.max_body_size)
        application.add_routes(self.routes())
        return application

    def refuse_too_large(self) -> WebhookReply:
        """Count and answer a delivery whose body an adapter found over `max_body_size`
        (without reading all of it)."""
        self.rejected += 1
        return WebhookReply(413, "body too large")

    async def _read_body(self, request: web.Request) -> bytes | None:
        """The body, or None when it is (or announces to be) over the size cap."""
        if request.content_length is not None and request.content_length > self.max_body_size:
            return None
        chunks: list[bytes] = []
        size = 0
        while chunk := await request.content.read(64 * 1024):
            size += len(chunk)
            if size > self.max_body_size:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def _handle(self, request: web.Request) -> web.Response:
        if self._closed:
            reply = _CLOSED
        else:
            body = await self._read_body(request)
            reply = self.refuse_too_large() if body is None else self.accept(body, request.headers)
        if reply.status == 204:
            return web.Response(status=204)
        return web.Response(status=reply.status, text=reply.text, headers=reply.headers)

    # ------------------------------------------------------------ ASGI
    def asgi_app(self) -> ASGIApp:
        """The receiver as a plain ASGI application: POSTs are deliveries (whatever the path:
        the host framework routes), other methods get 405. No framework is needed.

        ```python
        app.add_route(receiver.path, receiver.asgi_app(), methods=["POST"])  # Starlette
        ```
        """
        return _ASGIWebhook(self)

    def asgi_route(self) -> Any:
        """A Starlette `Route` of `path` to `asgi_app()`, for Starlette and FastAPI apps:
        `app.router.routes.append(receiver.asgi_route())`. Needs Starlette (the `asgi` extra),
        imported only here."""
        from starlette.routing import Route

        return Route(self.path, self.asgi_app(), methods=["POST"])

    # ------------------------------------------------------------ consuming
    async def events(self) -> AsyncIterator[JobEvent]:
        """Each accepted delivery's event, in arrival order, until the receiver is closed.

        Events already accepted when it closes are still yielded (their deliveries were
        acknowledged, so nobody would send them again).
        """
        while True:
            while self._pending:
                yield self._pending.popleft()
            if self._closed:
                return
            self._wakeup.clear()
            await self._wakeup.wait()

    # ------------------------------------------------------------ registering
    async def register(
        self,
        ugc: AsyncMoveUgc,
        *,
        uid: str,
        events: Sequence[str] = DEFAULT_EVENTS,
        url: str | None = None,
        description: str | None = None,
        metadata: Any = None,
    ) -> None:
        """Upsert the endpoint `uid` pointing at this receiver (or at `url`, e.g. behind a proxy).

        `events` defaults to the documented `ugc.job.state.completed` and
        `ugc.job.state.failed`; names of either spelling (`job.state.<kind>` too) are understood
        when they arrive. Add `EVENT_STARTED` to hear when jobs start.

        The receiver's secret, when it has one, is sent along; a secret the API returns on
        creation is adopted. Raises `ConfigurationError` when neither side has a secret (an
        existing endpoint whose secret the API no longer shows). `description` and `metadata`
        (any JSON-serialisable value) are stored with the endpoint. `url` defaults to the
        receiver's own `url`, which needs it serving (`RuntimeError` otherwise).
        """
        endpoint = await ugc.webhooks.upsert(
            list(events),
            uid=uid,
            url=url or self.url,
            description=description,
            secret=self._secret,
            metadata=metadata,
        )
        if endpoint.secret:
            _key_from_secret(endpoint.secret)
            self._secret = endpoint.secret
        elif self._secret is None:
            raise ConfigurationError(
                f"webhook endpoint {uid!r} already exists and the API only shows its secret on "
                "creation; pass that secret to WebhookReceiver"
            )

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> WebhookReceiver:
        """Serve the route on `host:port` (port 0: any free port; see `url`)."""
        if self._closed:
            raise RuntimeError("this WebhookReceiver is closed; create a new one")
        if self._runner is not None:
            return self
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0] if runner.addresses else (self.host, self.port)
        self.port = address[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._url = f"http://{host}:{self.port}{self.path}"
        return self

    async def aclose(self) -> None:
        """Stop serving (when it serves) and end `events()` once the queue is drained."""
        self._closed = True
        self._wakeup.set()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> WebhookReceiver:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
