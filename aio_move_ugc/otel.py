"""OpenTelemetry spans of the client's GraphQL requests and file transfers
(the `otel` extra: `pip install -e '.[otel]'` in a checkout).

```python
from aio_move_ugc import AsyncMoveUgc
from aio_move_ugc import otel

async with AsyncMoveUgc(**otel.hooks()) as ugc:   # the global tracer provider
    ...
```

Each GraphQL request becomes one client span named `graphql <Operation>`, a child of whatever
span is current where the request was made, timed as the request was. Attributes: the operation
name, the HTTP status, the try number and retries before it, the service's request id and the
error class of a failed request.

Each file upload or download becomes one client span named `move_ugc.upload` or
`move_ugc.download` (the file's name is an attribute, not part of the span name, so span names
stay few), timed from the transfer's start to its end, with the file's name and size, the bytes
moved and resumed, the storage requests, retries and URL refreshes, the last HTTP status and
storage request id, and the error class of a failed transfer (its span status is ERROR).

Never the API key, the variables, a URL or a local path.

Only importing this module imports `opentelemetry`; the package itself never does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypedDict

from ._exceptions import ConfigurationError
from .observability import RequestEvent, TransferEvent

try:
    from opentelemetry import trace
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "aio_move_ugc.otel needs OpenTelemetry, the otel extra: "
        "pip install -e '.[otel]' in a checkout of aio-move-ugc"
    ) from exc

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

__all__ = ["TRACER_NAME", "Hooks", "hooks", "span_hook", "transfer_span_hook"]

TRACER_NAME = "aio_move_ugc"


def span_hook(
    tracer_provider: TracerProvider | None = None,
) -> Callable[[RequestEvent], None]:
    """An `on_request` hook that records a span per GraphQL request.

    Args:
        tracer_provider: where the spans go (default: OpenTelemetry's global provider).

    Returns:
        The hook, for `AsyncMoveUgc(on_request=...)`.

    Raises:
        ConfigurationError: `tracer_provider` is not a tracer provider.
    """
    tracer = _tracer(tracer_provider)

    def record(event: RequestEvent) -> None:
        attributes: dict[str, str | int] = {
            "graphql.operation.name": event.operation,
            "move_ugc.attempt": event.attempt,
            "move_ugc.retries": event.retries,
        }
        _record(tracer, f"graphql {event.operation}", attributes, event)

    return record


def transfer_span_hook(
    tracer_provider: TracerProvider | None = None,
) -> Callable[[TransferEvent], None]:
    """An `on_transfer` hook that records a span per file upload or download.

    The span is named `move_ugc.upload` or `move_ugc.download`; its attributes are
    `move_ugc.transfer.direction`, `move_ugc.file.name` (the local file's name only),
    `move_ugc.file.size`, `move_ugc.transfer.bytes`, `move_ugc.transfer.resumed_bytes`,
    `move_ugc.transfer.requests`, `move_ugc.retries`, `move_ugc.transfer.url_refreshes`,
    `http.response.status_code` and `move_ugc.request_id` (of the last storage answer) and
    `error.type`. A failed or cancelled transfer's span has the status ERROR.

    Args:
        tracer_provider: where the spans go (default: OpenTelemetry's global provider).

    Returns:
        The hook, for `AsyncMoveUgc(on_transfer=...)`.

    Raises:
        ConfigurationError: `tracer_provider` is not a tracer provider.
    """
    tracer = _tracer(tracer_provider)

    def record(event: TransferEvent) -> None:
        attributes: dict[str, str | int] = {
            "move_ugc.transfer.direction": event.direction,
            "move_ugc.file.name": event.name,
            "move_ugc.transfer.bytes": event.transferred,
            "move_ugc.transfer.resumed_bytes": event.resumed,
            "move_ugc.transfer.requests": event.requests,
            "move_ugc.retries": event.retries,
            "move_ugc.transfer.url_refreshes": event.url_refreshes,
        }
        if event.size is not None:
            attributes["move_ugc.file.size"] = event.size
        _record(tracer, f"move_ugc.{event.direction}", attributes, event)

    return record


def _record(
    tracer: trace.Tracer,
    name: str,
    attributes: dict[str, str | int],
    event: RequestEvent | TransferEvent,
) -> None:
    """One finished CLIENT span for `event`: its status, request id and error added to
    `attributes`, timed as the event was, ERROR when it failed."""
    if event.status is not None:
        attributes["http.response.status_code"] = event.status
    if event.request_id:
        attributes["move_ugc.request_id"] = event.request_id
    if event.error:
        attributes["error.type"] = event.error
    span = tracer.start_span(
        name, kind=trace.SpanKind.CLIENT, start_time=event.started_ns, attributes=attributes
    )
    if event.error:
        span.set_status(trace.Status(trace.StatusCode.ERROR, event.error))
    span.end(end_time=event.started_ns + int(event.duration * 1e9))


class Hooks(TypedDict):
    """The hooks `hooks()` gives, by the names `AsyncMoveUgc` takes them:
    `AsyncMoveUgc(**otel.hooks())`."""

    on_request: Callable[[RequestEvent], None]
    on_transfer: Callable[[TransferEvent], None]


def hooks(tracer_provider: TracerProvider | None = None) -> Hooks:
    """Both span hooks at once, spans of GraphQL requests and of file transfers:
    `AsyncMoveUgc(**otel.hooks(provider))`.

    Args:
        tracer_provider: where the spans go (default: OpenTelemetry's global provider).

    Returns:
        `{"on_request": span_hook(...), "on_transfer": transfer_span_hook(...)}`.

    Raises:
        ConfigurationError: `tracer_provider` is not a tracer provider.
    """
    return Hooks(
        on_request=span_hook(tracer_provider),
        on_transfer=transfer_span_hook(tracer_provider),
    )


def _tracer(tracer_provider: TracerProvider | None) -> trace.Tracer:
    if tracer_provider is not None and not hasattr(tracer_provider, "get_tracer"):
        raise ConfigurationError("tracer_provider must be an OpenTelemetry TracerProvider")
    return trace.get_tracer(TRACER_NAME, tracer_provider=tracer_provider)
