"""AsyncMoveUgc: configuration, the sessions it owns, and the resources hanging off it."""

from __future__ import annotations

import math
import os
from functools import cached_property
from types import TracebackType
from typing import Any

import aiohttp
import anyio
from pydantic import SecretStr

from . import _validation as check
from ._exceptions import ClientClosedError, ConfigurationError
from ._graphql.operations import Operation, operation
from ._ratelimit import RateBudget
from ._retry import RetryPolicy
from ._transport import GraphQLTransport, Timeout
from .bulk import Bulk
from .resources.files import Files
from .resources.jobs import Jobs
from .resources.misc import CameraSettingsResource, ClientInfo, Rigs, Webhooks
from .resources.takes import Takes
from .resources.volumes import Volumes
from .transfers import TransferConfig
from .transfers._common import new_storage_session

DEFAULT_ENDPOINT_URL = "https://api.move.ai/ugc/graphql"
API_KEY_ENV = "MOVE_UGC_API_KEY"
ENDPOINT_ENV = "MOVE_UGC_ENDPOINT_URL"


class AsyncMoveUgc:
    """The asyncio client of the Move UGC API.

    ```python
    async with AsyncMoveUgc() as ugc:          # MOVE_UGC_API_KEY, MOVE_UGC_ENDPOINT_URL
        job = await ugc.jobs.retrieve("job-...")
    ```

    One client owns one aiohttp session for the API (created on first use, inside the running
    loop); storage transfers get a session of their own so the API key never reaches the
    storage host. `aclose()` (or leaving `async with`) closes both; a closed client stays
    closed. aiohttp needs asyncio: the client runs under asyncio and under anyio's asyncio
    backend, not under trio.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        endpoint_url: str | None = None,
        timeout: float | Timeout = Timeout(),
        max_retries: int = 3,
        retry: RetryPolicy | None = None,
        rate_limit: int | RateBudget | None = None,
        connection_limit: int = 100,
        transfer_config: TransferConfig | None = None,
    ) -> None:
        key = check.api_key(api_key if api_key is not None else os.environ.get(API_KEY_ENV))
        url = check.endpoint_url(
            endpoint_url
            if endpoint_url is not None
            else os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT_URL
        )
        if not isinstance(timeout, Timeout):
            if (
                isinstance(timeout, bool)
                or not isinstance(timeout, int | float)
                or not (math.isfinite(timeout) and timeout > 0)
            ):
                raise ConfigurationError("timeout must be positive seconds or a Timeout")
            timeout = Timeout(total=float(timeout))
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigurationError("retry must be a RetryPolicy")
        if retry is None:
            if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
                raise ConfigurationError("max_retries must be a non-negative integer")
            retry = RetryPolicy(max_retries=max_retries)
        budget: RateBudget | None
        if isinstance(rate_limit, bool) or not isinstance(rate_limit, int | RateBudget | None):
            raise ConfigurationError("rate_limit must be requests per hour or a RateBudget")
        if isinstance(rate_limit, int):
            if rate_limit < 1:
                raise ConfigurationError("rate_limit must be at least 1 request per hour")
            budget = RateBudget(rate_limit)
        else:
            budget = rate_limit
        if (
            isinstance(connection_limit, bool)
            or not isinstance(connection_limit, int)
            or connection_limit < 1
        ):
            raise ConfigurationError("connection_limit must be an integer of at least 1")
        self._api_key = SecretStr(key)
        self.endpoint_url = url
        self.timeout = timeout
        self.retry = retry
        self.rate_budget = budget
        self._transport = GraphQLTransport(
            endpoint_url=url,
            api_key=self._api_key,
            timeout=timeout,
            retry=retry,
            budget=budget,
            connection_limit=connection_limit,
        )
        self.transfer_config = transfer_config or TransferConfig()
        self._storage: aiohttp.ClientSession | None = None
        self._transfer_limiter: anyio.CapacityLimiter | None = None
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"AsyncMoveUgc(endpoint_url={self.endpoint_url!r}, api_key=**********, {state})"

    # ------------------------------------------------------------ lifecycle
    @property
    def is_closed(self) -> bool:
        return self._closed

    async def aclose(self) -> None:
        """Close the client's sessions. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        await self._transport.aclose()
        if self._storage is not None:
            storage, self._storage = self._storage, None
            await storage.close()

    async def __aenter__(self) -> AsyncMoveUgc:
        self._ensure_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _ensure_open(self) -> None:
        if self._closed:
            raise ClientClosedError("this AsyncMoveUgc client is closed; create a new one")

    # ------------------------------------------------------------ requests
    @property
    def requests_sent(self) -> int:
        """GraphQL requests this client has sent (retries included)."""
        return self._transport.requests_sent

    async def _execute(self, op: Operation, variables: dict[str, Any] | None = None) -> Any:
        self._ensure_open()
        return await self._transport.execute(op, variables)

    def _storage_session(self) -> aiohttp.ClientSession:
        """The session for presigned storage URLs: separate, so the API key never goes there."""
        self._ensure_open()
        if self._storage is None:
            self._storage = new_storage_session(self.transfer_config)
        return self._storage

    def _transfer_slots(self) -> anyio.CapacityLimiter:
        """Shared bound on the files moving at once through this client."""
        if self._transfer_limiter is None:
            self._transfer_limiter = anyio.CapacityLimiter(
                self.transfer_config.max_concurrent_transfers
            )
        return self._transfer_limiter

    async def _execute_named(self, name: str, variables: dict[str, Any] | None = None) -> Any:
        return await self._execute(operation(name), variables)

    # ------------------------------------------------------------ resources
    @cached_property
    def bulk(self) -> Bulk:
        """Many takes at once: `async for result in ugc.bulk.run(videos, dest="out/")`."""
        return Bulk(self)

    @cached_property
    def files(self) -> Files:
        return Files(self)

    @cached_property
    def takes(self) -> Takes:
        return Takes(self)

    @cached_property
    def jobs(self) -> Jobs:
        return Jobs(self)

    @cached_property
    def volumes(self) -> Volumes:
        return Volumes(self)

    @cached_property
    def client(self) -> ClientInfo:
        return ClientInfo(self)

    @cached_property
    def webhooks(self) -> Webhooks:
        return Webhooks(self)

    @cached_property
    def rigs(self) -> Rigs:
        return Rigs(self)

    @cached_property
    def camera_settings(self) -> CameraSettingsResource:
        return CameraSettingsResource(self)
