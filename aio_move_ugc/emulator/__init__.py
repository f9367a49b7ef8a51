"""A local stand-in for the hosted Move UGC API: GraphQL, S3-style storage, jobs, webhooks, faults.

It imports nothing from the SDK above it but the schema and the error raised for bad settings,
so it can stand in for the hosted service for any client: this SDK, the official sync SDK, curl.
The hosted service's unobserved behaviours are played as
`Variants` (named ones in `VARIANTS`), the world around it as `Hostility`;
the rules it invents are listed in `INVENTED_LIMITS`.
"""

from ._config import (
    BACKEND_FAULT_TYPES,
    BACKEND_THROTTLE_TYPES,
    FIVE_GB,
    THROTTLE_ERROR_TYPES,
    VARIANTS,
    EmulatorConfig,
    Hostility,
    MissingMetadata,
    OutputLabels,
    Readiness,
    RecordFault,
    RouteFaults,
    Throttling,
    Variants,
)
from ._limits import INVENTED_LIMITS, InventedLimit
from ._server import Emulator
from ._stats import Stats
from ._webhooks import sign as sign_webhook

__all__ = [
    "BACKEND_FAULT_TYPES",
    "BACKEND_THROTTLE_TYPES",
    "FIVE_GB",
    "INVENTED_LIMITS",
    "THROTTLE_ERROR_TYPES",
    "VARIANTS",
    "Emulator",
    "EmulatorConfig",
    "Hostility",
    "InventedLimit",
    "MissingMetadata",
    "OutputLabels",
    "Readiness",
    "RecordFault",
    "RouteFaults",
    "Stats",
    "Throttling",
    "Variants",
    "sign_webhook",
]
