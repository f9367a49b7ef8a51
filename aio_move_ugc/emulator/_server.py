"""The emulator's aiohttp server: `/graphql` as AppSync answers it, S3-style storage, stats."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import tempfile
import uuid
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from inspect import isawaitable
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    execute,
    get_operation_ast,
    parse,
    validate,
)

from .._exceptions import ConfigurationError
from .._schema import load_schema
from ._api import Api, AppSyncError
from ._config import EmulatorConfig, RecordFault, RouteFaults, Variants
from ._faults import Clock, FaultInjector
from ._hostile import Hostile
from ._state import ClientRecord, IdFactory, State
from ._stats import Stats
from ._storage import Storage
from ._webhooks import WebhookDispatcher

log = logging.getLogger("aio_move_ugc.emulator")

UNAUTHORIZED = {
    "errorType": "UnauthorizedException",
    "message": "You are not authorized to make this call.",
}
THROTTLED_MESSAGE = "Rate limit exceeded"
INTERNAL = {"errorType": "InternalFailure", "message": "An internal failure occurred."}
UNAVAILABLE = {"errorType": "ServiceUnavailableException", "message": "Service unavailable."}
FAULT_BODIES = {"500": (500, INTERNAL), "503": (503, UNAVAILABLE)}
GATEWAY_THROTTLED = {"message": "Rate exceeded"}
"""What an AWS gateway in front of a service answers when it sheds load (no GraphQL errors)."""


def throttled_answer(
    variants: Variants,
    retry_after: int,
    *,
    hostile: Hostile | None = None,
    message: str = THROTTLED_MESSAGE,
) -> tuple[int, Any, dict[str, str]]:
    """Status, body and headers of a throttled request, as `variants.throttling` plays it
    (Retry-After in the form `hostile` draws, seconds without it)."""
    error = {"errorType": variants.throttle_type, "message": message}
    if variants.throttling == "appsync200":
        return 200, {"data": None, "errors": [error]}, {}
    if variants.throttling == "http400":
        return 400, {"errors": [error]}, {}
    after = (
        hostile.retry_after(retry_after)
        if hostile is not None
        else {"Retry-After": str(retry_after)}
    )
    if variants.throttling == "gateway503":
        return 503, GATEWAY_THROTTLED, after
    return 429, {"errors": [error]}, after


def _json_response(
    status: int, payload: Any, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(payload).encode(),
        content_type="application/json",
        headers=headers,
    )


@dataclass(frozen=True)
class GraphQLAnswer:
    """One answer of the GraphQL route, as bytes: what the HTTP route sends, and what an
    in-process transport hands the client."""

    status: int
    headers: dict[str, str]
    body: bytes
    cut_at: int | None = None
    """For a reset fault: how many bytes of `body` get through before the connection drops."""


def _answer(status: int, payload: Any, headers: dict[str, str]) -> GraphQLAnswer:
    return GraphQLAnswer(status, headers, json.dumps(payload).encode())


def _install_aws_scalars() -> None:
    """AWSJSON inputs must be strings holding valid JSON, as AppSync requires."""
    schema = load_schema()
    aws_json = schema.type_map["AWSJSON"]

    def parse_json_value(value: Any) -> str:
        if not isinstance(value, str):
            raise TypeError("AWSJSON values must be JSON strings")
        json.loads(value)
        return value

    aws_json.parse_value = parse_json_value  # type: ignore[attr-defined]


def _locations(error: GraphQLError) -> list[dict[str, Any]]:
    return [
        {"line": loc.line, "column": loc.column, "sourceName": None}
        for loc in error.locations or []
    ]


def appsync_error(error: GraphQLError) -> dict[str, Any]:
    """One error entry as AppSync writes it."""
    entry: dict[str, Any] = {
        "path": error.path,
        "data": None,
        "locations": _locations(error),
        "message": error.message,
    }
    original = error.original_error
    if isinstance(original, AppSyncError):
        entry["errorType"] = original.error_type
        entry["errorInfo"] = original.error_info
        entry["message"] = original.message
    elif original is not None:
        log.error("resolver failed", exc_info=original)
        entry["errorType"] = INTERNAL["errorType"]
        entry["errorInfo"] = None
        entry["message"] = INTERNAL["message"]
    return entry


@functools.lru_cache(maxsize=256)
def _checked_document(query: str) -> tuple[DocumentNode | None, tuple[GraphQLError, ...]]:
    """The parsed document (None if it does not parse) and its validation errors.

    Clients send the same few documents over and over (polling, the sync SDK's introspection
    before every call); parsing and validating each again held the event loop for tens of
    milliseconds per request.
    """
    try:
        document = parse(query)
    except GraphQLError as exc:
        return None, (exc,)
    return document, tuple(validate(load_schema(), document))


def _introspection_only(operation: OperationDefinitionNode) -> bool:
    return all(
        isinstance(s, FieldNode) and s.name.value.startswith("__")
        for s in operation.selection_set.selections
    )


@functools.lru_cache(maxsize=32)
def _introspection(query: str, operation_name: str | None, variables: str) -> dict[str, Any]:
    """The answer to a query that only asks about the schema, which never changes.

    The sync SDK introspects before every call; executing the full introspection query each
    time held the event loop for a fifth of a second on a busy machine.
    """
    result = execute(
        load_schema(),
        parse(query),
        variable_values=json.loads(variables),
        operation_name=operation_name,
    )
    assert not isawaitable(result)  # introspection resolvers are synchronous
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [validation_error(e) for e in result.errors]
    return payload


def validation_error(error: GraphQLError) -> dict[str, Any]:
    """A document or variable problem: no errorType, message prefixed as AppSync does.

    Built on its own rather than from `appsync_error`: a variable that fails coercion carries
    the scalar's exception as `original_error`, and it is the client's mistake, not a failure
    of a resolver (no `InternalFailure`, nothing logged).
    """
    return {
        "path": error.path,
        "locations": _locations(error),
        "message": f"Validation error: {error.message}",
    }


class Emulator:
    """The local Move UGC API: `async with Emulator() as emu:`, then use `emu.endpoint_url`.

    All randomness (ids, job failures, faults) comes from `config.seed` (without one, ids are
    this emulator's own and the rest is drawn as with seed 0); all times from the
    emulator's clock, which tests move with `advance()`.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        root: Path | None = None,
        **overrides: Any,
    ) -> None:
        base = config or EmulatorConfig()
        self.config = replace(base, **overrides) if overrides else base
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigurationError(f"port must be 0 (any free port) to 65535, got {port!r}")
        self.host = host
        self.port = port
        self._root = root
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._lost: dict[str, int] = {}
        """Answers to cut, by operation name (`lose_answers`)."""
        self.clock = Clock()
        self.stats = Stats()
        fates = self.config.seed or 0  # without a seed, fates still repeat: tests rely on it
        self.faults = FaultInjector(self.config.seed, self.config.faults)
        self._rng = random.Random(fates)
        self.ids = IdFactory(self.config.seed)
        self.hostile = Hostile(self.config.hostility, fates, self.clock)
        self.state = State(
            client=ClientRecord(
                id=self.ids.new("client"), name=self.config.client_name, created=self.clock.now()
            )
        )
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._budget: deque[float] = deque()
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self.storage: Storage
        self.api: Api
        self.webhooks: WebhookDispatcher

    # ------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:54321`."""
        if self._url is None:
            raise RuntimeError("the emulator is not running; use `async with Emulator()`")
        return self._url

    @property
    def endpoint_url(self) -> str:
        """The GraphQL endpoint (what `MOVE_UGC_ENDPOINT_URL` should hold)."""
        return f"{self.url}/graphql"

    @property
    def api_key(self) -> str:
        return self.config.api_key

    @property
    def root(self) -> Path:
        """Directory that holds the stored objects."""
        return self.storage.root

    async def start(self) -> Emulator:
        if self._runner is not None:
            return self
        _install_aws_scalars()
        if self._root is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="move-ugc-emulator-")
            root = Path(self._tmp.name)
        else:
            root = self._root
            root.mkdir(parents=True, exist_ok=True)
        self.storage = Storage(
            root,
            clock=self.clock,
            stats=self.stats,
            faults=self.faults,
            max_object_size=self.config.max_object_size,
            hostile=self.hostile,
        )
        self.api = Api(
            state=self.state,
            storage=self.storage,
            config=self.config,
            clock=self.clock,
            stats=self.stats,
            ids=self.ids,
            rng=self._rng,
            base_url=lambda: self.url,
            on_job_created=lambda job: self.webhooks.job_created(job),
        )
        self.webhooks = WebhookDispatcher(
            state=self.state,
            config=self.config,
            clock=self.clock,
            stats=self.stats,
            ids=self.ids,
            job_view=self.api.job_view,
        )
        app = web.Application(middlewares=[self._count_connections])
        app.router.add_route("*", "/graphql", self._schema)
        app.router.add_get("/_emulator/stats", self._stats_route)
        app.router.add_get("/share/{code}", self._share)
        app.router.add_routes(self.storage.routes())
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        bound_port = self._runner.addresses[0][1] if self._runner.addresses else self.port
        self.port = bound_port
        self._url = f"http://{self.host}:{bound_port}"
        return self

    async def stop(self) -> None:
        if self._runner is None:
            return
        await self.webhooks.close()
        await self._runner.cleanup()
        self._runner = None
        if self._tmp is not None:
            await asyncio.to_thread(self._tmp.cleanup)  # big objects take a while to delete
            self._tmp = None

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --------------------------------------------------------------- knobs
    def set_faults(self, route: str, faults: RouteFaults | None) -> None:
        """Inject (or with None, stop) faults on "graphql", "storage_put" or "storage_get"."""
        self.faults.set(route, faults)

    def fail_record(self, record_id: str, fault: RecordFault | None = None) -> None:
        """Make reads of one job or volume fail as a resolver fault does on AppSync (HTTP 200,
        an error whose `path` leads to it, null data there), or with `fault=None` heal it.

        ```python
        emu.fail_record(job_id, RecordFault(error_type="Lambda:Unhandled", times=2))
        emu.fail_record(job_id, RecordFault(field="outputs"))   # an error inside the job
        ```
        """
        if fault is None:
            self.api.record_faults.pop(record_id, None)
            return
        if not isinstance(fault, RecordFault):
            raise ConfigurationError("fault must be a RecordFault or None")
        self.api.record_faults[record_id] = fault

    def set_failure_rate(self, rate: float) -> None:
        """Change the share of new jobs that end FAILED (jobs already made keep their fate)."""
        self.config = replace(self.config, failure_rate=rate)
        self.api.config = self.config

    def set_list_lag(self, seconds: float) -> None:
        """Change `list_lag`: how long new records stay out of list queries."""
        self.config = replace(self.config, list_lag=seconds)
        self.api.config = self.config

    def advance(self, seconds: float) -> None:
        """Move the server clock forward: URLs expire, jobs progress."""
        self.clock.advance(seconds)

    def lose_answers(self, operation: str, count: int = 1) -> None:
        """Carry out the next `count` requests of `operation` (e.g. "CreateSingleCamTake") and
        then cut the connection in the middle of their answers: the client cannot tell whether
        they were applied (the case a create's lookup is for)."""
        if not isinstance(operation, str) or not operation:
            raise ConfigurationError("operation must be the name of a GraphQL operation")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ConfigurationError(f"count must be a whole number >= 0, got {count!r}")
        self._lost[operation] = count

    def environment(self) -> dict[str, str]:
        """Variables that point a client (ours or the sync SDK) at this emulator."""
        return {"MOVE_UGC_API_KEY": self.api_key, "MOVE_UGC_ENDPOINT_URL": self.endpoint_url}

    # ------------------------------------------------------------- routes
    @web.middleware
    async def _count_connections(self, request: web.Request, handler: Any) -> web.StreamResponse:
        # aiohttp's RequestHandler has __slots__ and no weak references; the transport has both.
        transport = request.transport
        if transport is not None and transport not in self._connections:
            self._connections.add(transport)
            self.stats.connections += 1
        response: web.StreamResponse = await handler(request)
        return response

    async def _stats_route(self, request: web.Request) -> web.Response:
        return _json_response(200, self.stats.snapshot())

    async def _share(self, request: web.Request) -> web.Response:
        share = self.state.share_codes.get(request.match_info["code"])
        if share is None or share.expires < self.clock.now():
            return _json_response(404, {"message": "Share code not found or expired."})
        rec = self.state.files[share.file_id]
        url = self.storage.presign("GET", rec.key, base_url=self.url, ttl=self.config.url_ttl)
        raise web.HTTPFound(url)

    def _over_budget(self) -> float | None:
        """Seconds until the next request fits in the hourly budget, or None when it fits now."""
        budget = self.config.hourly_request_budget
        if budget is None:
            return None
        now = self.clock.monotonic()
        while self._budget and self._budget[0] <= now - 3600.0:
            self._budget.popleft()
        if len(self._budget) >= budget:
            return max(1.0, self._budget[0] + 3600.0 - now)
        self._budget.append(now)
        return None

    async def _schema(self, request: web.Request) -> web.StreamResponse:
        answer = await self.answer_graphql(request.method, request.headers, request.read)
        if answer.cut_at is not None:
            return await self._cut(request, answer)
        return web.Response(status=answer.status, body=answer.body, headers=answer.headers)

    async def answer_graphql(
        self,
        method: str,
        headers: Mapping[str, str],
        read_body: Callable[[], Awaitable[bytes]],
    ) -> GraphQLAnswer:
        """What `/graphql` answers to one request, without a socket: faults, the key, the
        request budget, then the operation. The HTTP route and in-process transports
        (`aio_move_ugc.testing.InProcessTransport`) both answer through here."""
        request_id = str(uuid.uuid4())
        reply = {"x-amzn-RequestId": request_id, "Content-Type": "application/json"}
        self.stats.graphql_requests += 1
        if method != "POST":
            return _answer(
                400,
                {"errors": [{"errorType": "BadRequestException", "message": "Use POST."}]},
                reply,
            )
        hostile = self.hostile
        sent_key = headers.get("Authorization")
        fault = self.faults.draw("graphql")
        if fault is not None:
            if fault.latency:
                await asyncio.sleep(fault.latency)
            if fault.kind == "429":
                self.stats.faults["graphql 429"] += 1
                status, answer, extra = throttled_answer(
                    self.config.variants,
                    int(hostile.config.retry_after_seconds + 0.999),
                    hostile=hostile,
                    message=hostile.echo(THROTTLED_MESSAGE, key=sent_key),
                )
                return _answer(status, answer, reply | extra)
            if fault.kind in FAULT_BODIES:
                self.stats.faults[f"graphql {fault.kind}"] += 1
                status, body = FAULT_BODIES[fault.kind]
                body = body | {"message": hostile.echo(body["message"], key=sent_key)}
                return _answer(status, {"errors": [body]}, reply | hostile.retry_after())
        if sent_key != self.config.api_key:
            error = UNAUTHORIZED | {"message": hostile.echo(UNAUTHORIZED["message"], key=sent_key)}
            return _answer(401, {"errors": [error]}, reply)
        wait = self._over_budget()
        if wait is not None:
            self.stats.faults["graphql budget"] += 1
            status, answer, extra = throttled_answer(
                self.config.variants, int(wait + 0.999), hostile=hostile
            )
            return _answer(status, answer, reply | extra)
        backend = hostile.backend_error(sent_key)
        if backend is not None:
            self.stats.faults["graphql backend"] += 1
            return _answer(200, backend, reply)
        try:
            raw = await read_body()
            self.stats.bytes_in += len(raw)
            body = json.loads(raw)
            if not isinstance(body, dict) or not isinstance(body.get("query"), str):
                raise ValueError("the body must be a JSON object with a query string")
            variables = body.get("variables")
            if variables is not None and not isinstance(variables, dict):
                raise ValueError("variables must be a JSON object")
            operation_name = body.get("operationName")
            if operation_name is not None and not isinstance(operation_name, str):
                raise ValueError("operationName must be a string")
        except ValueError as exc:
            return _answer(
                400,
                {"errors": [{"errorType": "MalformedHttpRequestException", "message": str(exc)}]},
                reply,
            )
        payload = await self._run(body["query"], variables, operation_name)
        if not body["query"].lstrip().startswith("mutation"):
            payload = hostile.pages(payload, variables)
            payload = hostile.partial(payload, sent_key)
        data = json.dumps(payload).encode()
        self.stats.bytes_out += len(data)
        if fault is not None and fault.kind == "reset":
            self.stats.faults["graphql reset"] += 1
            return GraphQLAnswer(200, reply, data, cut_at=int(len(data) * fault.reset_fraction))
        if self._lost.get(operation_name or ""):
            self._lost[operation_name or ""] -= 1
            self.stats.faults["graphql lost answer"] += 1
            return GraphQLAnswer(200, reply, data, cut_at=len(data) // 2)
        return GraphQLAnswer(200, reply, data)

    async def _cut(self, request: web.Request, answer: GraphQLAnswer) -> web.StreamResponse:
        """Send part of an answer that was fully executed, then drop the connection."""
        response = web.StreamResponse(headers=answer.headers)
        response.content_length = len(answer.body)
        await response.prepare(request)
        await response.write(answer.body[: answer.cut_at])
        if request.transport is not None:
            request.transport.close()
        return response

    async def _run(
        self, query: str, variables: dict[str, Any] | None, operation_name: str | None
    ) -> dict[str, Any]:
        schema = load_schema()
        document, problems = _checked_document(query)
        if document is None:
            self.stats.operations["<invalid>"] += 1
            return {"data": None, "errors": [validation_error(e) for e in problems]}
        operation = get_operation_ast(document, operation_name)
        name = operation.name.value if operation and operation.name else "<anonymous>"
        self.stats.operations[operation_name or name] += 1
        if problems:
            return {"data": None, "errors": [validation_error(e) for e in problems]}
        if operation is not None and _introspection_only(operation):
            return _introspection(query, operation_name, json.dumps(variables, sort_keys=True))
        if operation is not None:
            self._count_root_fields(operation)
        result = execute(
            schema,
            document,
            root_value=self.api,
            variable_values=variables,
            operation_name=operation_name,
        )
        if isawaitable(result):
            result = await result
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            if result.data is None and all(e.path is None for e in result.errors):
                payload["errors"] = [validation_error(e) for e in result.errors]
            else:
                payload["errors"] = [appsync_error(e) for e in result.errors]
        return payload

    def _count_root_fields(self, operation: OperationDefinitionNode) -> None:
        for selection in operation.selection_set.selections:
            if isinstance(selection, FieldNode) and not selection.name.value.startswith("__"):
                self.stats.root_fields[selection.name.value] += 1
