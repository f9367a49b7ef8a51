"""A local stand-in for the hosted Move UGC API: GraphQL, S3-style storage, jobs, webhooks, faults.

It imports nothing from the SDK above it, so it can stand in for the hosted service for any
client: this SDK, the official sync SDK, curl.
"""

from ._config import FIVE_GB, EmulatorConfig, RouteFaults
from ._server import Emulator
from ._stats import Stats
from ._webhooks import sign as sign_webhook

__all__ = ["FIVE_GB", "Emulator", "EmulatorConfig", "RouteFaults", "Stats", "sign_webhook"]
