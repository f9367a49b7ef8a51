"""Settings of the emulator: timings of the job simulator, storage limits, faults, budgets, and
the variants of the hosted service's unobserved behaviours it plays."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, get_args

from .._exceptions import ConfigurationError

FIVE_GB = 5 * 1000**3
"""S3's limit for a single PUT (5 GB, decimal)."""

OutputLabels = Literal["type", "lower", "extension"]
Readiness = Literal["null_urls", "one_by_one", "all_at_once"]
Throttling = Literal["http429", "appsync200", "http400", "gateway503"]
MissingMetadata = Literal["mixed", "null", "empty_json"]

CONFIG_FORMAT = "aio-move-ugc/emulator-config"
CONFIG_VERSION = 1
"""What `EmulatorConfig.to_json()` writes as `format` and `version`; `from_json()` reads this
version only (a file of another version is refused, not guessed at)."""

THROTTLE_ERROR_TYPES = (
    "TooManyRequestsException",
    "ThrottlingException",
    "Throttling",
    "TooManyRequests",
    "LimitExceededException",
    "LimitExceeded",
)
"""The `errorType` spellings a throttled answer may carry in the GraphQL-shaped variants."""


def _check_rate(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{name} must be a number, got {type(value).__name__}")
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ConfigurationError(f"{name} must be within [0, 1], got {value!r}")
    return float(value)


def _check_seconds(name: str, value: object, *, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        wanted = "positive" if positive else "non-negative"
        raise ConfigurationError(f"{name} must be a finite, {wanted} number, got {value!r}")


def _check_int(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{name} must be a whole number, got {type(value).__name__}")
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, got {value}")


@dataclass(frozen=True)
class Variants:
    """How the emulator plays the behaviours of the hosted service that were never observed.

    One field per unknown; the defaults are what the emulator always did, which the official
    sync SDK works with. Named combinations are in `VARIANTS`.
    """

    output_labels: OutputLabels = "type"
    """How a job's outputs are labelled in `format` and `key`: "type" (`MAIN_FBX` in both),
    "lower" (`main_fbx` in both) or "extension" (`fbx` in both; outputs of one extension,
    such as RENDER_VIDEO and RENDER_OVERLAY_VIDEO, then share their label)."""
    readiness: Readiness = "null_urls"
    """How outputs become ready after FINISHED: "null_urls" (all listed at once, with
    `presignedUrl: null` until `output_lag` has passed), "one_by_one" (listed one at a time,
    each with its URL, the i-th of n after `output_lag * i / n`) or "all_at_once" (no outputs
    listed until all are ready, after `output_lag`)."""
    throttling: Throttling = "http429"
    """How a throttled request (an injected 429 fault or the hourly budget) is answered:
    "http429" (HTTP 429, Retry-After, GraphQL error), "appsync200" (HTTP 200, `data: null` and a
    GraphQL error), "http400" (HTTP 400 and a GraphQL error) or "gateway503" (HTTP 503,
    Retry-After and a gateway's `{"message": "Rate exceeded"}`, no GraphQL errors)."""
    throttle_error_type: str | None = None
    """The `errorType` of throttled GraphQL-shaped answers; None: `TooManyRequestsException`
    for "http429", `ThrottlingException` for "appsync200" and "http400"."""
    missing_metadata: MissingMetadata = "mixed"
    """What `metadata` reads as when none was given: "mixed" (`"{}"` for jobs, generated
    output files and the account, `null` for uploaded files, takes, volumes and webhook
    endpoints), "null" (null for every record) or "empty_json" (`"{}"` for every record)."""

    def __post_init__(self) -> None:
        for name, allowed in (
            ("output_labels", get_args(OutputLabels)),
            ("readiness", get_args(Readiness)),
            ("throttling", get_args(Throttling)),
            ("missing_metadata", get_args(MissingMetadata)),
        ):
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigurationError(
                    f"{name} must be one of {', '.join(allowed)}; got {value!r:.40}"
                )
        error_type = self.throttle_error_type
        if error_type is not None:
            if self.throttling == "gateway503":
                raise ConfigurationError(
                    "throttle_error_type does not apply to gateway503 (no GraphQL errors)"
                )
            if error_type not in THROTTLE_ERROR_TYPES:
                raise ConfigurationError(
                    f"throttle_error_type must be one of {', '.join(THROTTLE_ERROR_TYPES)}; "
                    f"got {error_type!r:.40}"
                )

    @property
    def throttle_type(self) -> str:
        """The errorType a throttled GraphQL-shaped answer carries."""
        if self.throttle_error_type is not None:
            return self.throttle_error_type
        return "TooManyRequestsException" if self.throttling == "http429" else "ThrottlingException"

    def describe(self) -> str:
        """`axis=value` for every field that differs from the default (or "default")."""
        default = Variants()
        changed = [
            f"{f.name}={getattr(self, f.name)}"
            for f in fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        ]
        return ", ".join(changed) or "default"


VARIANTS: dict[str, Variants] = {
    "default": Variants(),
    "labels-lower": Variants(output_labels="lower"),
    "labels-extension": Variants(output_labels="extension"),
    "readiness-one-by-one": Variants(readiness="one_by_one"),
    "readiness-all-at-once": Variants(readiness="all_at_once"),
    "throttle-appsync200": Variants(throttling="appsync200"),
    "throttle-appsync200-limit-exceeded": Variants(
        throttling="appsync200", throttle_error_type="LimitExceeded"
    ),
    "throttle-http400": Variants(throttling="http400"),
    "throttle-http400-too-many-requests": Variants(
        throttling="http400", throttle_error_type="TooManyRequests"
    ),
    "throttle-gateway503": Variants(throttling="gateway503"),
    "metadata-null": Variants(missing_metadata="null"),
    "metadata-empty-json": Variants(missing_metadata="empty_json"),
    "all-unlike-default": Variants(
        output_labels="extension",
        readiness="one_by_one",
        throttling="appsync200",
        throttle_error_type="Throttling",
        missing_metadata="null",
    ),
}
"""Named variants, for a parametrized fixture and `aio-move-ugc emulator --variant NAME`: the
default, each axis's other values on their own, and one with every axis away from its default."""


RetryAfterForm = Literal["seconds", "http_date", "mixed", "none"]
EtagStyle = Literal["md5", "multipart", "opaque"]
ProxyEncoding = Literal["none", "honest", "forced"]

BACKEND_THROTTLE_TYPES = (
    "DynamoDB:ProvisionedThroughputExceededException",
    "DynamoDB:ThrottlingException",
    "DynamoDB:RequestLimitExceeded",
    "Lambda:TooManyRequestsException",
)
"""`errorType`s AppSync passes on when a data source behind it sheds load."""
BACKEND_FAULT_TYPES = (
    "Lambda:Unhandled",
    "Lambda:ServiceException",
    "DynamoDB:InternalServerError",
    "DynamoDB:ServiceUnavailable",
)
"""`errorType`s AppSync passes on when a data source behind it fails (an unhandled exception
in a Lambda resolver, an internal error of DynamoDB)."""
PROXY_CODINGS = ("gzip", "deflate", "br")
"""The codings a compressing proxy may add (br only when the brotli package is installed)."""


@dataclass(frozen=True)
class Hostility:
    """Fault classes of the world around the service: what gateways, data sources, proxies,
    stores and the service's own messages may do that the service's happy path never does.

    Every rate is a probability in [0, 1] drawn per request from one generator seeded by
    `EmulatorConfig.seed`; the defaults switch everything off.
    """

    retry_after: RetryAfterForm = "seconds"
    """How every retried status (429, 500, 502, 503, 504) of the API and of storage says when to
    come back: "seconds" (`Retry-After: 2`), "http_date" (`Retry-After: <IMF date>`, with a
    `Date` header of the emulator's clock to measure it against), "mixed" (either, drawn per
    answer) or "none" (no header at all)."""
    retry_after_seconds: float = 1.0
    """The wait `Retry-After` asks for (whole seconds when given as a date)."""
    backend_error_rate: float = 0.0
    """Share of GraphQL requests answered HTTP 200 with `data: null` and one error of a data
    source (`BACKEND_THROTTLE_TYPES` and `BACKEND_FAULT_TYPES`), before anything is executed:
    nothing was applied."""
    partial_error_rate: float = 0.0
    """Share of successful query answers that carry an error as well as their data (HTTP 200,
    `data` and `errors` both set, as AppSync answers when one field's resolver failed): the
    failed field of the root record is null, the error is a `BACKEND_FAULT_TYPES` one."""
    echo_secrets_rate: float = 0.0
    """Share of error answers (API and storage alike) whose message quotes, mid-sentence, the
    API key the request carried or the full presigned URL it was sent to."""
    etag_style: EtagStyle = "md5"
    """The ETags storage gives: "md5" (quoted hex MD5, as S3 does for one PUT), "multipart"
    (`"<hex>-3"`, as S3 does for multipart uploads: not an MD5 of the bytes) or "opaque" (a
    quoted token that is no digest at all). `If-Match` compares with the ETag given."""
    ignore_if_match: bool = False
    """Storage serves a GET whatever its `If-Match` says, as some stores and caches do."""
    replace_rate: float = 0.0
    """Share of ranged GETs not starting at byte 0 that find the object replaced by a new
    version of the same size (new bytes, new ETag) just before they are served; each object
    is replaced at most once."""
    proxy_encoding: ProxyEncoding = "none"
    """A proxy in front of storage compressing GET bodies: "honest" (only with a coding the
    request's `Accept-Encoding` lists, as CDNs do), "forced" (whatever was asked) or "none"."""
    empty_page_rate: float = 0.0
    """Share of list pages answered with no items and a cursor that goes on (a filter applied
    after the page limit, as DynamoDB does); following the cursor loses nothing."""
    repeat_cursor_rate: float = 0.0
    """Share of list pages (after the first) whose `after` cursor repeats the one asked with."""
    odd_cursor_rate: float = 0.0
    """Share of list pages whose non-null cursor is of another JSON type (a number, an object,
    a list)."""

    twin_output_rate: float = 0.0
    """Share of jobs that list a second file of their first output's type, its label the same
    label in the other case (`MAIN_FBX` and `main_fbx`): two outputs a careless client would
    save under one name."""

    def __post_init__(self) -> None:
        if self.retry_after not in get_args(RetryAfterForm):
            raise ConfigurationError(
                f"retry_after must be one of {', '.join(get_args(RetryAfterForm))}"
            )
        if self.etag_style not in get_args(EtagStyle):
            raise ConfigurationError(f"etag_style must be one of {', '.join(get_args(EtagStyle))}")
        if self.proxy_encoding not in get_args(ProxyEncoding):
            raise ConfigurationError(
                f"proxy_encoding must be one of {', '.join(get_args(ProxyEncoding))}"
            )
        if not isinstance(self.ignore_if_match, bool):
            raise ConfigurationError("ignore_if_match must be True or False")
        _check_seconds("retry_after_seconds", self.retry_after_seconds)
        for name in (
            "backend_error_rate",
            "partial_error_rate",
            "echo_secrets_rate",
            "replace_rate",
            "empty_page_rate",
            "repeat_cursor_rate",
            "odd_cursor_rate",
            "twin_output_rate",
        ):
            _check_rate(name, getattr(self, name))


@dataclass(frozen=True)
class RouteFaults:
    """Fault rates for one route class ("graphql", "storage_put", "storage_get").

    Each request on the route draws once from the route's own seeded generator, so the n-th
    request on a route meets the same fate in every run with the same seed.
    """

    rate_429: float = 0.0
    """Probability that a request is throttled: on "graphql" answered as `Variants.throttling`
    says, on storage as S3 throttles (503 SlowDown)."""
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
        total = 0.0
        for name in ("rate_429", "rate_500", "rate_503", "reset_rate", "expire_rate"):
            total += _check_rate(name, getattr(self, name))
        if total > 1.0:
            raise ConfigurationError("the fault rates of one route add up to more than 1")
        _check_seconds("latency", self.latency)


@dataclass(frozen=True)
class RecordFault:
    """A resolver fault on one record (a job or a volume), answered as AppSync answers one:
    HTTP 200, an `errors` entry whose `path` leads to it, and null data at that path.

    `field` None fails the record's own resolver (path `[alias]`; `getJob` returns `Job!`, so
    the whole `data` is null, as GraphQL's null propagation wants); a field name (`outputs`,
    `progress`...) fails that field inside it (path `[alias, field]`). `error_type` is the
    AppSync `errorType` (e.g. `Lambda:Unhandled`, `DynamoDB:ProvisionedThroughputExceededException`,
    `ThrottlingException`, or `BadRequestException` for one that is not transient). `times`:
    how many answers carry the fault before it heals (None: until cleared).
    """

    field: str | None = None
    error_type: str = "Lambda:Unhandled"
    message: str = "An internal failure occurred in the resolver."
    times: int | None = None

    def __post_init__(self) -> None:
        if self.field is not None and (not isinstance(self.field, str) or not self.field):
            raise ConfigurationError("field must be None or a field name")
        if not isinstance(self.error_type, str) or not self.error_type:
            raise ConfigurationError("error_type must be a non-empty string")
        if self.times is not None:
            _check_int("times", self.times, minimum=1)


ROUTES = ("graphql", "storage_put", "storage_get")


def check_route_faults(route: str, faults: RouteFaults | None) -> None:
    """Refuse faults that make no sense on a route (expired URLs exist only on storage)."""
    if route not in ROUTES:
        raise ConfigurationError(f"unknown route {route!r}; known: {ROUTES}")
    if faults is not None and not isinstance(faults, RouteFaults):
        raise ConfigurationError(f"faults of {route} must be a RouteFaults or None")
    if route == "graphql" and faults is not None and faults.expire_rate:
        raise ConfigurationError("expire_rate applies to the storage routes only")


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything that shapes the emulator's behaviour. Times are in seconds of real time.

    Bad values raise `ConfigurationError` (a `ValueError`) at construction.
    """

    seed: int | None = None
    """Makes the run repeat: the same requests get the same ids, faults and job failures.
    Without one, every emulator issues ids of its own (two runs never share an id), while
    faults and failures are drawn as with seed 0."""
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
    """After FINISHED, the time until every output can be downloaded (how the wait shows
    depends on `variants.readiness`)."""
    output_size: int | None = None
    """None (the default): each output is a small, valid file of its format, all of a job's
    outputs carrying one skeleton and one motion (see docs/guides/outputs.md). A number: each
    output is exactly that many bytes of seeded noise after a one-line header, for benchmarks
    and transfer tests that need outputs of a chosen size (streamed, any size)."""
    volume_duration: float = 0.5
    """Time from createVolumeWithHuman until the volume is FINISHED."""
    # Storage.
    url_ttl: float = 3600.0
    """Lifetime of presigned URLs."""
    max_object_size: int = FIVE_GB
    # Budgets and faults.
    hourly_request_budget: int | None = None
    """When set, GraphQL requests beyond this many per key and rolling hour are throttled."""
    faults: dict[str, RouteFaults] = field(default_factory=dict)
    list_lag: float = 0.0
    """Seconds (of the emulator's clock) before a new take, job or volume shows in list queries
    (`listTakes`, `listJobs`, `listVolumes`), as an index that is only eventually consistent
    lags behind a write; reading a record by its id shows it at once."""
    # Webhooks.
    webhook_retry_delays: tuple[float, ...] = (0.05, 0.2, 0.5, 1.0)
    """Delays between delivery attempts when the receiver fails."""
    webhook_timeout: float = 5.0
    # The hosted service's unknowns.
    variants: Variants = field(default_factory=Variants)
    """Which plausible form each unobserved behaviour takes (see `VARIANTS`)."""
    hostility: Hostility = field(default_factory=Hostility)
    """What gateways, data sources, proxies and stores around the service do (all off by
    default; see `Hostility`)."""

    def __post_init__(self) -> None:
        if self.seed is not None:
            _check_int("seed", self.seed, minimum=0)
        if not isinstance(self.api_key, str) or len(self.api_key) < 12:
            raise ConfigurationError("api_key must be a string of at least 12 characters")
        if not isinstance(self.faults, dict):
            raise ConfigurationError("faults must be a dict of route name to RouteFaults")
        unknown = set(self.faults) - set(ROUTES)
        if unknown:
            raise ConfigurationError(f"unknown fault routes {sorted(unknown)}; known: {ROUTES}")
        for route, faults in self.faults.items():
            check_route_faults(route, faults)
        _check_rate("failure_rate", self.failure_rate)
        for name in (
            "job_queue_delay",
            "job_duration",
            "output_lag",
            "volume_duration",
            "list_lag",
        ):
            _check_seconds(name, getattr(self, name))
        _check_seconds("url_ttl", self.url_ttl, positive=True)
        _check_seconds("webhook_timeout", self.webhook_timeout, positive=True)
        for delay in self.webhook_retry_delays:
            _check_seconds("webhook_retry_delays", delay)
        if self.output_size is not None:
            _check_int("output_size", self.output_size, minimum=0)
        _check_int("max_object_size", self.max_object_size, minimum=1)
        if self.hourly_request_budget is not None:
            _check_int("hourly_request_budget", self.hourly_request_budget, minimum=1)
        if not isinstance(self.variants, Variants):
            raise ConfigurationError("variants must be a Variants value (see VARIANTS)")
        if not isinstance(self.hostility, Hostility):
            raise ConfigurationError("hostility must be a Hostility value")

    # ------------------------------------------------------------ files
    def to_dict(self) -> dict[str, Any]:
        """Every setting as plain JSON values, with the `format` and `version` of the file."""
        values = asdict(self)
        values["webhook_retry_delays"] = list(self.webhook_retry_delays)
        return {"format": CONFIG_FORMAT, "version": CONFIG_VERSION, **values}

    def to_json(self) -> str:
        """The settings as JSON text, read back by `from_json()` into an equal configuration."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, values: object) -> EmulatorConfig:
        """The configuration `to_dict()` wrote. Settings it lacks keep their defaults; an
        unknown setting, another format or version, or a bad value raises
        `ConfigurationError` naming it."""
        if not isinstance(values, dict):
            raise ConfigurationError("an emulator configuration must be a JSON object")
        data = dict(values)
        if data.pop("format", None) != CONFIG_FORMAT:
            raise ConfigurationError(
                f"not an emulator configuration: its format must be {CONFIG_FORMAT!r}"
            )
        version = data.pop("version", None)
        if version != CONFIG_VERSION:
            raise ConfigurationError(
                f"emulator configuration version {version!r:.20} is not supported "
                f"(this version of aio-move-ugc reads version {CONFIG_VERSION})"
            )
        _refuse_unknown("emulator configuration", data, cls)
        if "variants" in data:
            data["variants"] = _section(Variants, "variants", data["variants"])
        if "hostility" in data:
            data["hostility"] = _section(Hostility, "hostility", data["hostility"])
        if "faults" in data:
            faults = data["faults"]
            if not isinstance(faults, dict):
                raise ConfigurationError("faults must map route names to fault rates")
            data["faults"] = {
                route: _section(RouteFaults, f"faults.{route}", value)
                for route, value in faults.items()
            }
        if "webhook_retry_delays" in data:
            delays = data["webhook_retry_delays"]
            if not isinstance(delays, list):
                raise ConfigurationError("webhook_retry_delays must be a list of seconds")
            data["webhook_retry_delays"] = tuple(delays)
        return cls(**data)

    @classmethod
    def from_json(cls, text: str | bytes) -> EmulatorConfig:
        """The configuration `to_json()` wrote (see `from_dict()` for what is refused)."""
        try:
            values = json.loads(text)
        except ValueError as exc:
            raise ConfigurationError(f"the emulator configuration is not JSON: {exc}") from None
        return cls.from_dict(values)


def _refuse_unknown(what: str, values: dict[str, Any], kind: type) -> None:
    known = {f.name for f in fields(kind)}
    unknown = sorted(str(k) for k in values if k not in known)
    if unknown:
        raise ConfigurationError(
            f"unknown setting(s) in the {what}: {', '.join(unknown)[:200]}; "
            f"known: {', '.join(sorted(known))}"
        )


def _section(kind: type[Any], name: str, values: object) -> Any:
    """One nested dataclass (`variants`, a route's faults) from its JSON object."""
    if not isinstance(values, dict):
        raise ConfigurationError(f"{name} must be a JSON object")
    _refuse_unknown(name, values, kind)
    return kind(**values)
