"""Asyncio-native SDK for the Move AI UGC API.

```python
from aio_move_ugc import AsyncMoveUgc

async with AsyncMoveUgc() as ugc:
    job = await ugc.jobs.retrieve("job-...")
```
"""

from ._client import AsyncMoveUgc
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
    IntegrityError,
    InvalidInputError,
    JobFailedError,
    MoveUgcError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    StorageError,
    URLExpiredError,
    ValidationError,
    WatchTimeoutError,
    WebhookVerificationError,
)
from ._ratelimit import RateBudget
from ._retry import RetryPolicy
from ._transport import Timeout
from .pagination import AsyncPager
from .types import (
    AdditionalFile,
    AreaType,
    CameraSettings,
    Client,
    ClipWindow,
    File,
    HumanVolume,
    Job,
    JobOptions,
    JobProgress,
    JobState,
    OutputType,
    Page,
    Rig,
    ShareCode,
    SortDirection,
    Source,
    SourceFormat,
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
from .webhooks import WebhookReceiver
from .webhooks import verify as verify_webhook

__version__ = "0.1.0"

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AdditionalFile",
    "AreaType",
    "AsyncMoveUgc",
    "AsyncPager",
    "AuthenticationError",
    "BadRequestError",
    "CameraSettings",
    "Client",
    "ClientClosedError",
    "ClipWindow",
    "ConfigurationError",
    "File",
    "GraphQLResponseError",
    "HumanVolume",
    "IntegrityError",
    "InvalidInputError",
    "Job",
    "JobEvent",
    "JobFailed",
    "JobFailedError",
    "JobFinished",
    "JobNotFound",
    "JobOptions",
    "JobProgress",
    "JobProgressed",
    "JobState",
    "JobStateChanged",
    "MoveUgcError",
    "NotFoundError",
    "OutcomeUnknownError",
    "OutputType",
    "OutputsReady",
    "Page",
    "RateBudget",
    "RateLimitError",
    "RetryPolicy",
    "Rig",
    "ShareCode",
    "SortDirection",
    "Source",
    "SourceFormat",
    "SourceIn",
    "StorageError",
    "SyncMethodIn",
    "Take",
    "Timeout",
    "URLExpiredError",
    "ValidationError",
    "VolumeStateChanged",
    "WatchTimeoutError",
    "WebhookEndpoint",
    "WebhookReceiver",
    "WebhookVerificationError",
    "__version__",
    "verify_webhook",
]
