"""Asyncio-native SDK for the Move AI UGC API.

```python
from aio_move_ugc import AsyncMoveUgc

async with AsyncMoveUgc() as ugc:
    job = await ugc.jobs.retrieve("job-...")
```

Layers (data flows down, never back up; no module uses another's
underscore names; what most programs never need loads on first use):

    cli/            command line: demo, run, bulk, watch, download, jobs, emulator, worker
    distributed/    optional extra: bulk across machines on Temporal
    bulk            many takes on one machine: staged, bounded, journaled, resumable
    webhooks        verification, one delivery core, aiohttp and ASGI adapters
    resources/      one class per API object, one GraphQL operation per method
    watch           the one polling engine and the generators on it
    transfers/      uploads, resumable downloads, outputs, safe names; the storage boundary
    _context        the narrow surface the layers above receive from the client
    _transport      the one boundary of the GraphQL wire
    _retry          every retry decision and loop
    types/ _schema/ _exceptions   models and events; schema and documents; the error tree
    _client         AsyncMoveUgc: configuration, lifecycle, resources built on first use
    emulator/       the local stand-in for the hosted API; imports nothing of the SDK
                    but the schema
    testing         pytest plugin and helpers: the emulator and a client as fixtures
"""

from typing import TYPE_CHECKING

from ._client import AsyncMoveUgc
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BackendError,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    DiskError,
    GraphQLResponseError,
    IntegrityError,
    InternalServerError,
    InvalidInputError,
    JobFailedError,
    JobNotFoundError,
    MoveUgcError,
    NotFoundError,
    OutcomeUnknownError,
    OutputMissingError,
    OutputsNotReadyError,
    RateLimitError,
    StorageConnectionError,
    StorageError,
    UnexpectedResponseError,
    URLExpiredError,
    ValidationError,
    VolumeFailedError,
    VolumeNotFoundError,
    WatchTimeoutError,
    WebhookVerificationError,
)
from ._lazy import lazy_exports
from ._ratelimit import RateBudget, RequestBudget
from ._retry import RetryPolicy
from ._transport import ApiTransport, RawAnswer, Timeout
from .transfers.config import TransferConfig
from .types import (
    AreaType,
    JobState,
    OutputType,
    SortDirection,
    SourceFormat,
)

if TYPE_CHECKING:
    from .bulk import BulkItem, BulkResult
    from .pagination import AsyncPager
    from .transfers.outputs import OutputLabel
    from .types import (
        AdditionalFile,
        CameraSettings,
        Client,
        ClipWindow,
        File,
        HumanVolume,
        Job,
        JobOptions,
        JobProgress,
        Page,
        Rig,
        ShareCode,
        Source,
        SourceIn,
        SyncMethodIn,
        Take,
        WebhookEndpoint,
    )
    from .types.events import (
        JobEvent,
        JobFailed,
        JobFinished,
        JobNotFound,
        JobProgressed,
        JobStateChanged,
        OutputsReady,
        VolumeStateChanged,
    )
    from .watch import PollPolicy
    from .webhooks import WebhookReceiver
    from .webhooks import verify as verify_webhook

__getattr__ = lazy_exports(
    __name__,
    {
        "AdditionalFile": ".types",
        "CameraSettings": ".types",
        "Client": ".types",
        "ClipWindow": ".types",
        "File": ".types",
        "HumanVolume": ".types",
        "Job": ".types",
        "JobOptions": ".types",
        "JobProgress": ".types",
        "Page": ".types",
        "Rig": ".types",
        "ShareCode": ".types",
        "Source": ".types",
        "SourceIn": ".types",
        "SyncMethodIn": ".types",
        "Take": ".types",
        "WebhookEndpoint": ".types",
        "JobEvent": ".types.events",
        "JobFailed": ".types.events",
        "JobFinished": ".types.events",
        "JobNotFound": ".types.events",
        "JobProgressed": ".types.events",
        "JobStateChanged": ".types.events",
        "OutputsReady": ".types.events",
        "VolumeStateChanged": ".types.events",
        "AsyncPager": ".pagination",
        "OutputLabel": ".transfers.outputs",
        "PollPolicy": ".watch",
        "BulkItem": ".bulk",
        "BulkResult": ".bulk",
        "WebhookReceiver": ".webhooks",
        "verify_webhook": ".webhooks:verify",
    },
    globals(),
)
"""Names that load on first use: the models (pydantic classes take most of an import's time),
the events, the pager, and what most programs never need (bulk, webhooks). `import aio_move_ugc`
costs little more than importing aiohttp."""


__version__ = "0.1.0"

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AdditionalFile",
    "ApiTransport",
    "AreaType",
    "AsyncMoveUgc",
    "AsyncPager",
    "AuthenticationError",
    "BackendError",
    "BadRequestError",
    "BulkItem",
    "BulkResult",
    "CameraSettings",
    "Client",
    "ClientClosedError",
    "ClipWindow",
    "ConfigurationError",
    "DiskError",
    "File",
    "GraphQLResponseError",
    "HumanVolume",
    "IntegrityError",
    "InternalServerError",
    "InvalidInputError",
    "Job",
    "JobEvent",
    "JobFailed",
    "JobFailedError",
    "JobFinished",
    "JobNotFound",
    "JobNotFoundError",
    "JobOptions",
    "JobProgress",
    "JobProgressed",
    "JobState",
    "JobStateChanged",
    "MoveUgcError",
    "NotFoundError",
    "OutcomeUnknownError",
    "OutputLabel",
    "OutputMissingError",
    "OutputType",
    "OutputsNotReadyError",
    "OutputsReady",
    "Page",
    "PollPolicy",
    "RateBudget",
    "RateLimitError",
    "RawAnswer",
    "RequestBudget",
    "RetryPolicy",
    "Rig",
    "ShareCode",
    "SortDirection",
    "Source",
    "SourceFormat",
    "SourceIn",
    "StorageConnectionError",
    "StorageError",
    "SyncMethodIn",
    "Take",
    "Timeout",
    "TransferConfig",
    "URLExpiredError",
    "UnexpectedResponseError",
    "ValidationError",
    "VolumeFailedError",
    "VolumeNotFoundError",
    "VolumeStateChanged",
    "WatchTimeoutError",
    "WebhookEndpoint",
    "WebhookReceiver",
    "WebhookVerificationError",
    "__version__",
    "verify_webhook",
]
