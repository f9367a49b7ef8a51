"""OpenTelemetry spans of the client's GraphQL requests (`pip install 'aio-move-ugc[otel]'`).

```python
from aio_move_ugc import AsyncMoveUgc
from aio_move_ugc.otel import span_hook

async with AsyncMoveUgc(on_request=span_hook()) as ugc:   # the global tracer provider
    ...
```

Each GraphQL request becomes one client span named `graphql <Operation>`, a child of whatever
span is current where the request was made, timed as the request was. Attributes: the operation
name, the HTTP status, the try number and retries before it, the service's request id and the
error class of a failed request. Never the API key, the variables, or a URL.

Only importing this module imports `opentelemetry`; the package itself never does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ._exceptions import ConfigurationError
from .observability import RequestEvent

try:
    from opentelemetry import trace
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "aio_move_ugc.otel needs OpenTelemetry: pip install 'aio-move-ugc[otel]'"
    ) from exc

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

__all__ = ["TRACER_NAME", "span_hook"]

TRACER_NAME = "aio_move_ugc"


def span_hook(
    tracer_provider: TracerProvider | None = None,
) -> Callable[[RequestEvent], None]:
    """An `on_request` hook that records a span per GraphQL request.

    `tracer_provider` defaults to OpenTelemetry's global one.
    """
    if tracer_provider is not None and not hasattr(tracer_provider, "get_tracer"):
        raise ConfigurationError("tracer_provider must be an OpenTelemetry TracerProvider")
    tracer = trace.get_tracer(TRACER_NAME, tracer_provider=tracer_provider)

    def record(event: RequestEvent) -> None:
        attributes: dict[str, str | int] = {
            "graphql.operation.name": event.operation,
            "move_ugc.attempt": event.attempt,
            "move_ugc.retries": event.retries,
        }
        if event.status is not None:
            attributes["http.response.status_code"] = event.status
        if event.request_id:
            attributes["move_ugc.request_id"] = event.request_id
        if event.error:
            attributes["error.type"] = event.error
        span = tracer.start_span(
            f"graphql {event.operation}",
            kind=trace.SpanKind.CLIENT,
            start_time=event.started_ns,
            attributes=attributes,
        )
        if event.error:
            span.set_status(trace.Status(trace.StatusCode.ERROR, event.error))
        span.end(end_time=event.started_ns + int(event.duration * 1e9))

    return record
