"""Settings of the emulator: timings of the job simulator, storage limits, faults, budgets."""

from __future__ import annotations

from dataclasses import dataclass, field

FIVE_GB = 5 * 1000**3
"""S3's limit for a single PUT (5 GB, decimal)."""


@dataclass(frozen=True)
class RouteFaults:
    """Fault rates for one route class ("graphql", "storage_put", "storage_get").

    Each request on the route draws once from the route's own seeded generator, so the n-th
    request on a route meets the same fate in every run with the same seed.
    """

    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_503: float = 0.0
    reset_rate: float = 0.0
    """Probability that the connection is cut in the middle of the body."""
    expire_rate: float = 0.0
    """Storage routes only: probability that a request is refused as if its presigned URL had
    expired (403 AccessDenied "Request has expired"), whatever the clock says."""
    latency: float = 0.0
    """Seconds added before the request is answered."""

    def __post_init__(self) -> None:
        for name in ("rate_429", "rate_500", "rate_503", "reset_rate", "expire_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value!r}")
        total = self.rate_429 + self.rate_500 + self.rate_503 + self.reset_rate + self.expire_rate
        if total > 1.0:
            raise ValueError("the fault rates of one route add up to more than 1")
        if self.latency < 0:
            raise ValueError("latency must not be negative")


ROUTES = ("graphql", "storage_put", "storage_get")


def check_route_faults(route: str, faults: RouteFaults | None) -> None:
    """Refuse faults that make no sense on a route (expired URLs exist only on storage)."""
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}; known: {ROUTES}")
    if route == "graphql" and faults is not None and faults.expire_rate:
        raise ValueError("expire_rate applies to the storage routes only")


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything that shapes the emulator's behaviour. Times are in seconds of real time."""

    seed: int = 0
    api_key: str = "emulator-api-key-0123456789"
    client_name: str = "Emulator client"
    # Job simulator.
    job_queue_delay: float = 0.2
    """Time a new job spends in NOT_STARTED."""
    job_duration: float = 1.0
    """Time a job spends RUNNING (percentageComplete rises linearly)."""
    failure_rate: float = 0.0
    """Probability that a job ends FAILED instead of FINISHED (drawn from the seed)."""
    output_lag: float = 0.3
    """After FINISHED, outputs keep `presignedUrl: null` for this long."""
    output_size: int = 64 * 1024
    """Bytes of each generated output file."""
    volume_duration: float = 0.5
    """Time from createVolumeWithHuman until the volume is FINISHED."""
    # Storage.
    url_ttl: float = 3600.0
    """Lifetime of presigned URLs."""
    max_object_size: int = FIVE_GB
    # Budgets and faults.
    hourly_request_budget: int | None = None
    """When set, GraphQL requests beyond this many per key and rolling hour get 429."""
    faults: dict[str, RouteFaults] = field(default_factory=dict)
    # Webhooks.
    webhook_retry_delays: tuple[float, ...] = (0.05, 0.2, 0.5, 1.0)
    """Delays between delivery attempts when the receiver fails."""
    webhook_timeout: float = 5.0

    def __post_init__(self) -> None:
        unknown = set(self.faults) - set(ROUTES)
        if unknown:
            raise ValueError(f"unknown fault routes {sorted(unknown)}; known: {ROUTES}")
        check_route_faults("graphql", self.faults.get("graphql"))
        if not 0.0 <= self.failure_rate <= 1.0:
            raise ValueError("failure_rate must be within [0, 1]")
        if len(self.api_key) < 12:
            raise ValueError("api_key must have at least 12 characters")
        for name in ("job_queue_delay", "job_duration", "output_lag", "volume_duration"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.output_size < 0 or self.max_object_size <= 0 or self.url_ttl <= 0:
            raise ValueError("output_size, max_object_size and url_ttl must be positive")
