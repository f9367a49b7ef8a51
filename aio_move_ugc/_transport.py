"""POST GraphQL over aiohttp: one boundary where transport failures become our errors.

Each request carries `operationName`; answers are mapped to the error tree of `_exceptions`
by HTTP status and AppSync `errorType`; transient faults are retried by `_retry`; a mutation
that creates something is retried only when the request provably never reached the server
or the service refused it without acting on it (429, 503).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import aiohttp
from multidict import CIMultiDict

from . import _validation as check
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BackendError,
    BadRequestError,
    ClientClosedError,
    GraphQLResponseError,
    InternalServerError,
    MoveUgcError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    UnexpectedResponseError,
    ValidationError,
)
from ._ratelimit import RequestBudget
from ._redact import Secret, key_fingerprint, scrub, scrub_text
from ._retry import Retrier, is_ambiguous_api, is_transient_api, retry_after_from
from ._schema.operations import Operation
from ._sessions import Closer, LoopSessions
from .observability import RequestEvent, RequestHook

log = logging.getLogger("aio_move_ugc.transport")

USER_AGENT = "aio-move-ugc/0.1"
REQUEST_ID_HEADER = "x-amzn-RequestId"
THROTTLING_TYPES = frozenset(
    {
        "TooManyRequestsException",
        "TooManyRequests",
        "ThrottlingException",
        "Throttling",
        "Throttled",
        "LimitExceededException",
        "LimitExceeded",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "ProvisionedThroughputExceeded",
        "SlowDown",
    }
)
"""AppSync's, API Gateway's, S3's and the data sources' names for "too many requests"."""
BACKEND_SOURCES = frozenset({"DynamoDB", "Lambda", "RDS", "OpenSearch", "HTTP", "EventBridge"})
"""Data sources AppSync names before an error type it passes on (`DynamoDB:...`)."""
BACKEND_FAULT_TYPES = frozenset(
    {
        "Unhandled",
        "ServiceException",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "EC2ThrottledException",
        "ResourceConflictException",
        "TransactionConflictException",
    }
)
"""Failures of a data source that another try may not meet (`Lambda:Unhandled`, ...)."""
THROTTLING_WORDS = ("rate exceeded", "too many requests", "slow down", "throttl")
"""Throttling said in words, where a gateway gives no error type."""


def _bare_type(error_type: object) -> object:
    """`ThrottlingException` of `DynamoDB:ThrottlingException`; anything else as it is."""
    if isinstance(error_type, str) and ":" in error_type:
        return error_type.rsplit(":", 1)[1]
    return error_type


def _backend_fault(errors: list[dict[str, Any]]) -> bool:
    for error in errors:
        error_type = error.get("errorType")
        if isinstance(error_type, str) and ":" in error_type:
            source, _, bare = error_type.partition(":")
            if source in BACKEND_SOURCES and bare in BACKEND_FAULT_TYPES:
                return True
    return False


def _says_throttled(status: int, errors: list[dict[str, Any]], text: str) -> bool:
    types = {_bare_type(e.get("errorType")) for e in errors}
    if status == 429 or types & THROTTLING_TYPES:
        return True
    if status not in (200, 400, 403, 503):
        return False
    said = " ".join([str(e.get("message", "")) for e in errors] + [text]).lower()
    return any(word in said for word in THROTTLING_WORDS) or "SlowDown" in text


def lookup_hint(kind: str, variables: dict[str, Any]) -> str:
    """What to look up, after a create of `kind` whose outcome is unknown, before trying again."""
    name = variables.get("name")
    named = f" named {name!r}" if name else ""
    if kind == "file":
        return "an unused file record does no harm, so creating another file is safe"
    if kind == "job":
        take_id = variables.get("takeId")
        return f"look for a job{named} with jobs.list(take_id={take_id!r}) before creating it again"
    listing = {"take": "takes.list()", "volume": "volumes.list()"}[kind]
    return f"look for a {kind}{named} with {listing} (newest first) before creating it again"


@dataclass(frozen=True, slots=True)
class RawAnswer:
    """One HTTP answer of the GraphQL endpoint as an `ApiTransport` hands it back."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@runtime_checkable
class ApiTransport(Protocol):
    """What carries the client's GraphQL requests, when it is not the client's own aiohttp
    session (`AsyncMoveUgc(transport=...)`).

    `post` sends one request and returns the answer as it came: any status, any body. A
    failure to reach the service is raised as `OSError` (`ConnectionError` and its kind:
    the request may have arrived) or `TimeoutError`; the client maps both, retries, budgets
    and reads the answer exactly as it does for answers off the wire. Storage transfers go
    to the presigned URLs over the client's own storage session either way.
    `aio_move_ugc.testing.InProcessTransport` answers from an emulator without a socket.
    """

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> RawAnswer:
        """Send `body` to `url` with `headers`; the answer's status, headers and bytes."""
        ...

    async def aclose(self) -> None:
        """Release what the transport holds (called by the client's `aclose()`)."""
        ...


@dataclass(frozen=True, slots=True)
class Decoded:
    """An answer a caller's `decode` read straight from its bytes."""

    value: Any


@dataclass(frozen=True)
class Timeout:
    """Time limits of one API request, in seconds (None: no limit).

    `connect` bounds making the connection, `read` each wait for data from it, `total` the
    whole request. Bad values raise `ConfigurationError`.
    """

    connect: float | None = 10.0
    read: float | None = 30.0
    total: float | None = 60.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "total"):
            value = getattr(self, name)
            if value is not None:
                check.seconds(value, f"Timeout.{name}")

    def to_aiohttp(self) -> aiohttp.ClientTimeout:
        """The same limits as an `aiohttp.ClientTimeout` (`sock_connect`, `sock_read`, `total`)."""
        return aiohttp.ClientTimeout(
            total=self.total, sock_connect=self.connect, sock_read=self.read
        )


def _summary(errors: list[dict[str, Any]]) -> str:
    messages = [str(e.get("message", "")).strip() for e in errors if isinstance(e, dict)]
    text = "; ".join(m for m in messages if m) or "the API answered with errors"
    return text if len(text) <= 500 else text[:497] + "..."


def error_from_answer(
    status: int,
    payload: Any,
    *,
    headers: Any = None,
    request_id: str | None = None,
    operation_name: str | None = None,
    text: str = "",
    secrets: tuple[str, ...] = (),
) -> APIError | None:
    """The error an answer stands for, or None when it is a clean success. `text` is the body
    when it was not JSON (a gateway's own answer). Everything kept from the answer is
    scrubbed first: `secrets` (the client's key) by value, signatures and tokens by shape."""
    errors = payload.get("errors") if isinstance(payload, dict) else None
    errors = [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
    # Kept on the error, so other records' presigned URLs in it lose their signatures.
    data = scrub(payload.get("data"), secrets=secrets) if isinstance(payload, dict) else None
    errors = scrub(errors, secrets=secrets)
    text = scrub_text(text, secrets)
    common: dict[str, Any] = {
        "status": status,
        "errors": errors,
        "data": data,
        "request_id": request_id,
        "operation_name": operation_name,
    }
    if not errors and isinstance(payload, dict) and isinstance(payload.get("message"), str):
        # A gateway's own JSON answer ({"message": "Rate exceeded"}) says what it is in words.
        text = text or payload["message"][:2048]
    types = {e.get("errorType") for e in errors}
    message = _summary(errors) if errors else f"HTTP {status}"
    if status == 401 or "UnauthorizedException" in types:
        return AuthenticationError(message, **common)
    if _says_throttled(status, errors, text):
        return RateLimitError(message, retry_after=retry_after_from(headers), **common)
    if status >= 400:
        error = (InternalServerError if status >= 500 else APIStatusError)(message, **common)
        error.retry_after = retry_after_from(headers)  # honoured when the status is retried
        return error
    if _backend_fault(errors):
        return BackendError(message, **common)
    if not errors:
        if not isinstance(payload, dict) or "data" not in payload:
            return UnexpectedResponseError("the API answered without data or errors", **common)
        return None
    if "MoveNotFoundError" in types:
        return NotFoundError(message, **common)
    if types <= {None, "ValidationError"} and all(
        e.get("errorType") == "ValidationError"
        or str(e.get("message", "")).startswith("Validation error")
        for e in errors
    ):
        return ValidationError(message, **common)
    if "BadRequestException" in types:
        return BadRequestError(message, **common)
    return GraphQLResponseError(message, **common)


class GraphQLTransport:
    """Sends operations to one GraphQL endpoint over one aiohttp session (created lazily)."""

    def __init__(
        self,
        *,
        endpoint_url: str,
        api_key: Secret,
        timeout: Timeout,
        retrier: Retrier,
        budget: RequestBudget | None,
        connection_limit: int = 100,
        closed: Callable[[], bool] = lambda: False,
        on_request: RequestHook | None = None,
        closer: Closer | None = None,
        wire: ApiTransport | None = None,
    ) -> None:
        self.endpoint_url = endpoint_url
        self._closer = closer or Closer()
        self._wire = wire
        self._api_key = api_key
        self.timeout = timeout
        # Given with each request, not to the session: clients of other timeouts can share
        # one session (`AsyncMoveUgc.with_options`).
        self._aiohttp_timeout = timeout.to_aiohttp()
        self.retrier = retrier
        self.budget = budget
        self.connection_limit = connection_limit
        self._closed = False
        self._client_closed = closed
        self.sessions = LoopSessions(self._new_session, closed=self.is_closed)
        self._owns_sessions = True
        self._owns_wire = True
        self.requests_sent = 0
        self.on_request = on_request

    def __repr__(self) -> str:
        return f"GraphQLTransport(endpoint_url={self.endpoint_url!r})"

    def account(self) -> str:
        """A one-way fingerprint of the API key (`key_fingerprint`): never the key."""
        return key_fingerprint(self._api_key.get_secret_value())

    def is_closed(self) -> bool:
        return self._closed or self._client_closed()

    def _new_session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.connection_limit),
            headers={"User-Agent": USER_AGENT},
            raise_for_status=False,
            trust_env=False,
        )

    @property
    def wire(self) -> ApiTransport | None:
        """What carries the requests instead of the aiohttp session, if anything."""
        return self._wire

    def share_sessions(self, other: GraphQLTransport) -> None:
        """Send over `other`'s sessions (it owns and closes them) when they are made the
        same way: the endpoint, key and timeout go with each request, the connection limit
        with the session."""
        if other.connection_limit == self.connection_limit:
            self.sessions = other.sessions
            self._owns_sessions = False
        if self._wire is not None and self._wire is other.wire:
            self._owns_wire = False

    async def aclose(self) -> None:
        self._closed = True
        if self._owns_sessions:
            await self.sessions.aclose()
        if self._wire is not None and self._owns_wire:
            await self._wire.aclose()

    async def execute(
        self,
        operation: Operation,
        variables: dict[str, Any] | None = None,
        *,
        decode: Callable[[bytes], Any] | None = None,
    ) -> Any:
        """Send `operation` and return its `data` (the root field's value when it has one).

        `decode(raw)` is offered a 200 answer's bytes first: when it returns something other
        than None (a model read straight from the bytes), that is the result; otherwise the
        answer is parsed and mapped as usual."""
        body = encode_request(operation, variables)

        tries = 0

        async def attempt() -> Any:
            nonlocal tries
            tries += 1
            try:
                return await self._send_once(operation, body, tries, decode)
            except (APIConnectionError, APIStatusError, UnexpectedResponseError) as exc:
                if operation.creates and exc_may_be_applied(exc):
                    raise OutcomeUnknownError(
                        f"{operation.name} may or may not have been applied ({exc})",
                        operation_name=operation.name,
                        lookup=lookup_hint(operation.creates, variables or {}),
                        status=exc.status,
                        request_id=exc.request_id,
                    ) from exc
                raise

        data = await self.retrier.call(attempt, retryable=is_transient_api, what=operation.name)
        if isinstance(data, Decoded):
            return data.value
        if operation.root:
            return data.get(operation.root) if isinstance(data, dict) else None
        return data

    def _connection_error(self, exc: BaseException, name: str) -> MoveUgcError:
        """The error a failure on the wire stands for."""
        if self._closed or self._client_closed():
            return ClientClosedError(f"the client was closed while {name} was under way")
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return APIConnectionError(
                f"timed out connecting to the API for {name}",
                operation_name=name,
                request_sent=False,
            )
        if isinstance(exc, aiohttp.ClientConnectorError):
            reason = exc.os_error.strerror or "refused"
            return APIConnectionError(
                f"could not connect to the API for {name}: {reason}",
                operation_name=name,
                request_sent=False,
            )
        if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
            return APITimeoutError(
                f"no answer from the API in time for {name}", operation_name=name
            )
        return APIConnectionError(
            f"the connection broke during {name}: {type(exc).__name__}", operation_name=name
        )

    async def _send_once(
        self,
        operation: Operation,
        body: bytes,
        attempt: int,
        decode: Callable[[bytes], Any] | None = None,
    ) -> Any:
        if self.budget is not None:
            async with self._closer.guard(f"{operation.name} waited for the request budget"):
                await self.budget.acquire()
        session = None if self._wire is not None else await self.sessions.get(operation.name)
        started_ns = time.time_ns()
        started = time.monotonic()
        status: int | None = None
        request_id: str | None = None
        failure: str | None = None
        try:
            # aclose() ends a request wherever it waits, with ClientClosedError.
            async with self._closer.guard(f"{operation.name} was under way"):
                data, status, request_id = await self._exchange(session, operation, body, decode)
            return data
        except BaseException as exc:
            failure = type(exc).__name__
            if isinstance(exc, APIError):
                status, request_id = exc.status, exc.request_id
            raise
        finally:
            self._report(
                RequestEvent(
                    operation=operation.name,
                    status=status,
                    duration=time.monotonic() - started,
                    request_id=request_id,
                    attempt=attempt,
                    error=failure,
                    started_ns=started_ns,
                )
            )

    def _report(self, event: RequestEvent) -> None:
        """Log one request and hand it to the hook; neither may break the request."""
        log.info(
            "%s try %d -> %s in %.0f ms (request id %s)%s",
            event.operation,
            event.attempt,
            event.status if event.status is not None else "no answer",
            event.duration * 1000,
            event.request_id or "none",
            f" {event.error}" if event.error else "",
        )
        if self.on_request is None:
            return
        try:
            self.on_request(event)
        except Exception as exc:  # a faulty hook costs its own output, not the request
            log.warning("on_request hook failed: %s", type(exc).__name__)

    async def _exchange(
        self,
        session: aiohttp.ClientSession | None,
        operation: Operation,
        body: bytes,
        decode: Callable[[bytes], Any] | None = None,
    ) -> tuple[Any, int, str | None]:
        """POST once: (data, status, request id), or the error the answer stands for."""
        headers = {
            "Authorization": self._api_key.get_secret_value(),
            "Content-Type": "application/json",
        }
        name = operation.name
        payload: Any
        error: MoveUgcError | None = None
        log.debug("sending %s (%d bytes)", name, len(body))
        response_headers: Mapping[str, str]
        try:
            self.requests_sent += 1
            if session is None:
                if self.is_closed():
                    raise ClientClosedError(f"the client was closed while {name} was under way")
                assert self._wire is not None
                answer = await self._wire.post(self.endpoint_url, body, headers)
                status, raw = answer.status, answer.body
                response_headers = CIMultiDict(answer.headers)
                request_id = response_headers.get(REQUEST_ID_HEADER)
            else:
                async with session.post(
                    self.endpoint_url, data=body, headers=headers, timeout=self._aiohttp_timeout
                ) as response:
                    status = response.status
                    request_id = response.headers.get(REQUEST_ID_HEADER)
                    raw = await response.read()
                    response_headers = response.headers
        except (aiohttp.ClientError, OSError, RuntimeError) as exc:
            if isinstance(exc, RuntimeError) and not self._client_closed():
                raise
            # The aiohttp exception is not chained: its request info holds the headers.
            error = self._connection_error(exc, name)
        if error is not None:
            raise error
        if status == 200 and raw:
            if decode is not None:
                value = decode(raw)
                if value is not None:
                    return Decoded(value), status, request_id
            try:
                payload = json.loads(raw)
            except ValueError:
                pass
            else:
                # A clean success (data, no errors) is most answers: nothing to map or scrub.
                if type(payload) is dict and "data" in payload and not payload.get("errors"):
                    return payload["data"], status, request_id
        text = ""
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
            text = raw[:2048].decode("utf-8", "replace")
            if status < 400:
                raise UnexpectedResponseError(
                    "the API answered with something that is not JSON",
                    status=status,
                    request_id=request_id,
                    operation_name=name,
                ) from None
        error = error_from_answer(
            status,
            payload,
            headers=response_headers,
            request_id=request_id,
            operation_name=name,
            text=text,
            secrets=(self._api_key.get_secret_value(),),
        )
        if error is not None:
            raise error
        assert isinstance(payload, dict)
        return payload.get("data"), status, request_id


_COMPACT = json.JSONEncoder(separators=(",", ":"))
"""One encoder for every request's variables (`json.dumps` with arguments builds one per call)."""
_REQUEST_ENDS: dict[tuple[str, str], tuple[bytes, bytes]] = {}
"""The encoded parts of each operation's request body around its variables (the document is
the bulk of a body)."""


def encode_request(operation: Operation, variables: dict[str, Any] | None) -> bytes:
    """The JSON body of a request for `operation`: the same bytes as `json.dumps` of
    `{"query", "variables", "operationName"}` with compact separators, the document and the
    name encoded once per operation, the variables on every call."""
    key = (operation.name, operation.document)
    ends = _REQUEST_ENDS.get(key)
    if ends is None:
        query = json.dumps(operation.document)
        name = json.dumps(operation.name)
        ends = (f'{{"query":{query},"variables":'.encode(), f',"operationName":{name}}}'.encode())
        if len(_REQUEST_ENDS) < 1024:  # documents vary with `expand`: a bounded cache
            _REQUEST_ENDS[key] = ends
    middle = _COMPACT.encode(variables or {}).encode()
    return ends[0] + middle + ends[1]


def exc_may_be_applied(exc: APIConnectionError | APIStatusError | UnexpectedResponseError) -> bool:
    """A failure after which the server may have applied the request: not when the request
    provably never left (the connection could not be made); always when an answer came that
    could not be read."""
    if isinstance(exc, APIConnectionError) and not exc.request_sent:
        return False
    if isinstance(exc, UnexpectedResponseError):
        return True
    return is_ambiguous_api(exc)
