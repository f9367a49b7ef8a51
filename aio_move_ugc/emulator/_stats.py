"""Counters of what the emulator served: GraphQL operations, storage requests, bytes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Stats:
    """Live counters; tests and benchmarks read them in-process or at `/_emulator/stats`."""

    graphql_requests: int = 0
    operations: Counter[str] = field(default_factory=Counter)
    """Requests per GraphQL operation name (`<anonymous>` when the document names none)."""
    root_fields: Counter[str] = field(default_factory=Counter)
    """Resolved root fields (`getJob`, `createFile`...), counted once per alias."""
    storage: Counter[str] = field(default_factory=Counter)
    """Storage requests per `"<METHOD> <status>"`, e.g. `"GET 206"`."""
    bytes_in: int = 0
    bytes_out: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    """Injected faults per `"<route> <kind>"`."""
    webhook_attempts: int = 0
    webhook_deliveries: int = 0
    connections: int = 0

    def storage_count(self, method: str, status: int | None = None) -> int:
        """Storage requests with this method (and status, when given)."""
        prefix = f"{method.upper()} "
        return sum(
            n
            for key, n in self.storage.items()
            if key.startswith(prefix) and (status is None or key == f"{prefix}{status}")
        )

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy of every counter."""
        return {
            "graphql_requests": self.graphql_requests,
            "operations": dict(self.operations),
            "root_fields": dict(self.root_fields),
            "storage": dict(self.storage),
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "faults": dict(self.faults),
            "webhook_attempts": self.webhook_attempts,
            "webhook_deliveries": self.webhook_deliveries,
            "connections": self.connections,
        }

    def reset(self) -> None:
        """Zero every counter (handy between phases of a benchmark)."""
        fresh = Stats()
        for name in fresh.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))
