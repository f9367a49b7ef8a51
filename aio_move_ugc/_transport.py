"""POST GraphQL over aiohttp: one boundary where transport failures become our errors.

Each request carries `operationName`; answers are mapped to the error tree of `_exceptions`
by HTTP status and AppSync `errorType`; transient faults are retried by `_retry`; a mutation
that creates something is retried only when the request provably never reached the server
or the service refused it without acting on it (429, 503).
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from pydantic import SecretStr

from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    GraphQLResponseError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    ValidationError,
)
from ._graphql.operations import Operation
from ._ratelimit import RateBudget
from ._retry import RETRYABLE_STATUSES, RetryPolicy, call_with_retries

log = logging.getLogger("aio_move_ugc.transport")

USER_AGENT = "aio-move-ugc/0.1"
REQUEST_ID_HEADER = "x-amzn-RequestId"
THROTTLING_TYPES = frozenset(
    {"TooManyRequestsException", "ThrottlingException", "Throttled", "LimitExceededException"}
)
REFUSAL_STATUSES = frozenset({429, 503})
"""Statuses meaning the service refused the request without acting on it."""


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


@dataclass(frozen=True)
class Timeout:
    """Time limits of one API request, in seconds (None: no limit)."""

    connect: float | None = 10.0
    read: float | None = 30.0
    total: float | None = 60.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "total"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigurationError(f"Timeout.{name} must be a number of seconds or None")
            if not 0 < value < math.inf:
                raise ConfigurationError(f"Timeout.{name} must be positive and finite (or None)")

    def to_aiohttp(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(
            total=self.total, sock_connect=self.connect, sock_read=self.read
        )


class _NotSent(APIConnectionError):
    """The connection could not be made, so the request never left (safe to repeat anything)."""


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


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
) -> APIError | None:
    """The error an answer stands for, or None when it is a clean success."""
    errors = payload.get("errors") if isinstance(payload, dict) else None
    errors = [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
    data = payload.get("data") if isinstance(payload, dict) else None
    common: dict[str, Any] = {
        "status": status,
        "errors": errors,
        "data": data,
        "request_id": request_id,
        "operation_name": operation_name,
    }
    types = {e.get("errorType") for e in errors}
    message = _summary(errors) if errors else f"HTTP {status}"
    if status == 401 or "UnauthorizedException" in types:
        return AuthenticationError(message, **common)
    if status == 429 or types & THROTTLING_TYPES:
        return RateLimitError(message, retry_after=_retry_after(headers), **common)
    if status >= 400:
        return APIStatusError(message, **common)
    if not errors:
        if not isinstance(payload, dict) or "data" not in payload:
            return APIStatusError("the API answered without data or errors", **common)
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


def is_transient(exc: BaseException) -> bool:
    """Worth another try: no answer at all, or a status that says "try again later"."""
    if isinstance(exc, OutcomeUnknownError):
        return False
    if isinstance(exc, APIConnectionError):
        return True
    if isinstance(exc, RateLimitError):
        return True
    return isinstance(exc, APIStatusError) and exc.status in RETRYABLE_STATUSES


class GraphQLTransport:
    """Sends operations to one GraphQL endpoint over one aiohttp session (created lazily)."""

    def __init__(
        self,
        *,
        endpoint_url: str,
        api_key: SecretStr,
        timeout: Timeout,
        retry: RetryPolicy,
        budget: RateBudget | None,
        connection_limit: int = 100,
    ) -> None:
        self.endpoint_url = endpoint_url
        self._api_key = api_key
        self.timeout = timeout
        self.retry = retry
        self.budget = budget
        self._connection_limit = connection_limit
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"GraphQLTransport(endpoint_url={self.endpoint_url!r})"

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            # A retry of a request that was under way when the client closed must not
            # open a new session that nobody would close.
            raise ClientClosedError("the client was closed while this request was under way")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connection_limit),
                timeout=self.timeout.to_aiohttp(),
                headers={"User-Agent": USER_AGENT},
                raise_for_status=False,
                trust_env=False,
            )
        return self._session

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def execute(self, operation: Operation, variables: dict[str, Any] | None = None) -> Any:
        """Send `operation` and return its `data` (the root field's value when it has one)."""
        body = json.dumps(
            {
                "query": operation.document,
                "variables": variables or {},
                "operationName": operation.name,
            },
            separators=(",", ":"),
        ).encode()

        async def attempt() -> Any:
            try:
                return await self._send_once(operation, body)
            except (APIConnectionError, APIStatusError) as exc:
                if operation.creates and not isinstance(exc, _NotSent) and _ambiguous(exc):
                    raise OutcomeUnknownError(
                        f"{operation.name} may or may not have been applied ({exc})",
                        operation_name=operation.name,
                        lookup=lookup_hint(operation.creates, variables or {}),
                    ) from exc
                raise

        data = await call_with_retries(
            attempt, policy=self.retry, retryable=is_transient, what=operation.name
        )
        if operation.root:
            return data.get(operation.root) if isinstance(data, dict) else None
        return data

    async def _send_once(self, operation: Operation, body: bytes) -> Any:
        if self.budget is not None:
            await self.budget.acquire()
        session = self._get_session()
        headers = {
            "Authorization": self._api_key.get_secret_value(),
            "Content-Type": "application/json",
        }
        started = time.monotonic()
        name = operation.name
        try:
            self.requests_sent += 1
            async with session.post(self.endpoint_url, data=body, headers=headers) as response:
                status = response.status
                request_id = response.headers.get(REQUEST_ID_HEADER)
                raw = await response.read()
                response_headers = response.headers
        except aiohttp.ConnectionTimeoutError as exc:
            raise _NotSent(
                f"timed out connecting to the API for {name}", operation_name=name
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            raise _NotSent(
                f"could not connect to the API for {name}: {exc.os_error.strerror or 'refused'}",
                operation_name=name,
            ) from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise APITimeoutError(
                f"no answer from the API in time for {name}", operation_name=name
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise APIConnectionError(
                f"the connection broke during {name}: {type(exc).__name__}", operation_name=name
            ) from exc
        log.debug(
            "graphql %s -> %s in %.3fs (request_id=%s)",
            name,
            status,
            time.monotonic() - started,
            request_id,
        )
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
            if status < 400:
                raise APIStatusError(
                    "the API answered with something that is not JSON",
                    status=status,
                    request_id=request_id,
                    operation_name=name,
                ) from None
        error = error_from_answer(
            status, payload, headers=response_headers, request_id=request_id, operation_name=name
        )
        if error is not None:
            raise error
        assert isinstance(payload, dict)
        return payload.get("data")


def _ambiguous(exc: APIConnectionError | APIStatusError) -> bool:
    """True when the server may have applied the request although we saw a failure.

    A broken connection, a timeout, a 500 or a gateway error may come after the work was
    done; a 429 or 503 is the service refusing the request before acting on it.
    """
    if isinstance(exc, APIConnectionError):
        return True
    if exc.status in REFUSAL_STATUSES:
        return False
    return exc.status >= 500 or exc.status < 400
