"""AsyncMoveUgc: configuration, lifecycle, and the resources hanging off it."""

from __future__ import annotations

import dataclasses
import os
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING

from . import _validation as check
from ._clock import Clock, LoopClock
from ._context import ClientContext
from ._exceptions import ConfigurationError
from ._ratelimit import RateBudget
from ._redact import Secret
from ._retry import RetryPolicy
from ._transport import ApiTransport, Timeout
from .observability import RequestHook, TransferHook, log_from_env
from .transfers.config import TransferConfig

if TYPE_CHECKING:
    from .bulk import Bulk
    from .resources.files import Files
    from .resources.jobs import Jobs
    from .resources.misc import CameraSettingsResource, ClientInfo, Rigs, Webhooks
    from .resources.takes import Takes
    from .resources.volumes import Volumes

DEFAULT_ENDPOINT_URL = "https://api.move.ai/ugc/graphql"
API_KEY_ENV = "MOVE_UGC_API_KEY"
ENDPOINT_ENV = "MOVE_UGC_ENDPOINT_URL"


def _timeout(value: float | Timeout) -> Timeout:
    if isinstance(value, Timeout):
        return value
    return Timeout(total=check.seconds(value, "timeout"))


def _retry(retry: RetryPolicy | None, max_retries: int | None) -> RetryPolicy:
    if retry is not None:
        if not isinstance(retry, RetryPolicy):
            raise ConfigurationError("retry must be a RetryPolicy")
        return retry
    if max_retries is None:
        return RetryPolicy()
    return RetryPolicy(max_retries=check.count(max_retries, "max_retries"))


def _budget(rate_limit: int | RateBudget | None) -> RateBudget | None:
    if rate_limit is None or isinstance(rate_limit, RateBudget):
        return rate_limit
    return RateBudget(check.count(rate_limit, "rate_limit", minimum=1))


def _transfers(config: TransferConfig | None, max_retries: int | None) -> TransferConfig:
    if config is not None:
        if not isinstance(config, TransferConfig):
            raise ConfigurationError("transfer_config must be a TransferConfig")
        return config
    if max_retries is None:
        return TransferConfig()
    return dataclasses.replace(TransferConfig(), max_retries=max_retries)


class AsyncMoveUgc:
    """The asyncio client of the Move UGC API.

    ```python
    async with AsyncMoveUgc() as ugc:          # MOVE_UGC_API_KEY, MOVE_UGC_ENDPOINT_URL
        job = await ugc.jobs.retrieve("job-...")
    ```

    Args:
        api_key: the API key (default: the `MOVE_UGC_API_KEY` environment variable).
        endpoint_url: the GraphQL endpoint (default: `MOVE_UGC_ENDPOINT_URL`, else the hosted
            service's).
        timeout: seconds one API request may take in all, or a `Timeout` with separate limits.
        max_retries: tries again of a failed request, for API calls and storage transfers
            alike (default 3 for the API, 5 for transfers); `retry` and `transfer_config`
            override it for their side.
        retry: the full retry policy of API calls.
        rate_limit: the plan's requests per hour, or a `RateBudget`: every request and every
            polling loop of this client keeps within it.
        connection_limit: connections open at once to the API.
        transfer_config: settings of uploads and downloads.
        clock: what polling waits on (default: the event loop's clock); tests pass one that
            moves simulated time.
        on_request: called with a `RequestEvent` after every GraphQL request (operation,
            HTTP status, duration, request id, try number, error class); for metrics and
            tracing (`aio_move_ugc.otel.span_hook()` makes OpenTelemetry spans of them).
            An exception it raises is logged and otherwise ignored.
        on_transfer: called with a `TransferEvent` as each file upload or download ends
            (done, failed or cancelled): the file's name, size, bytes moved, duration,
            storage requests, retries, URL refreshes, last HTTP status, error class;
            `aio_move_ugc.otel.transfer_span_hook()` makes spans of them. An exception it
            raises is logged and otherwise ignored.
        transport: what carries the GraphQL requests instead of the client's own aiohttp
            session, e.g. `aio_move_ugc.testing.InProcessTransport(emulator)` for tests where
            the wire is not the point (retries, budget and error mapping work as ever).

    `MOVE_UGC_LOG=info` (or `debug`, `1`, `warning`...) in the environment makes the client log
    every request and every finished transfer to stderr (one handler on the `aio_move_ugc`
    logger, installed once).

    Bad values raise `ConfigurationError` here, before anything is sent. One client owns one
    aiohttp session for the API and one for storage (so the API key never reaches the
    storage host), each made on first use inside the running loop; a client used from a new
    event loop (a second `asyncio.run`) makes new ones there. `aclose()` (or leaving
    `async with`) closes both; a closed client stays closed. aiohttp needs asyncio: the
    client runs under asyncio and under anyio's asyncio backend, not under trio.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        endpoint_url: str | None = None,
        timeout: float | Timeout = Timeout(),
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        rate_limit: int | RateBudget | None = None,
        connection_limit: int = 100,
        transfer_config: TransferConfig | None = None,
        clock: Clock | None = None,
        on_request: RequestHook | None = None,
        on_transfer: TransferHook | None = None,
        transport: ApiTransport | None = None,
    ) -> None:
        try:
            log_from_env()
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        if on_request is not None and not callable(on_request):
            raise ConfigurationError("on_request must be a callable taking a RequestEvent")
        if on_transfer is not None and not callable(on_transfer):
            raise ConfigurationError("on_transfer must be a callable taking a TransferEvent")
        if transport is not None and not isinstance(transport, ApiTransport):
            raise ConfigurationError("transport must be an ApiTransport (async post and aclose)")
        key = check.api_key(api_key if api_key is not None else os.environ.get(API_KEY_ENV))
        url = check.endpoint_url(
            endpoint_url
            if endpoint_url is not None
            else os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT_URL
        )
        if max_retries is not None:
            check.count(max_retries, "max_retries")
        self.endpoint_url = url
        self.timeout = _timeout(timeout)
        self.retry = _retry(retry, max_retries)
        self.rate_budget = _budget(rate_limit)
        self.transfer_config = _transfers(transfer_config, max_retries)
        self._ctx = ClientContext(
            endpoint_url=url,
            api_key=Secret(key),
            timeout=self.timeout,
            retry=self.retry,
            rate_budget=self.rate_budget,
            connection_limit=check.count(connection_limit, "connection_limit", minimum=1),
            transfer_config=self.transfer_config,
            clock=clock or LoopClock(),
            on_request=on_request,
            on_transfer=on_transfer,
            wire=transport,
        )

    def __repr__(self) -> str:
        state = "closed" if self._ctx.is_closed() else "open"
        return f"AsyncMoveUgc(endpoint_url={self.endpoint_url!r}, api_key=**********, {state})"

    # ------------------------------------------------------------ lifecycle
    @property
    def is_closed(self) -> bool:
        """True once `aclose()` was called."""
        return self._ctx.is_closed()

    async def aclose(self) -> None:
        """Close the client's sessions; transfers still under way end with `ClientClosedError`.
        Safe to call more than once."""
        if not self._ctx.is_closed():
            await self._ctx.aclose()

    async def __aenter__(self) -> AsyncMoveUgc:
        self._ctx.ensure_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def requests_sent(self) -> int:
        """GraphQL requests this client has sent (retries included)."""
        return self._ctx.transport.requests_sent

    # ------------------------------------------------------------ resources
    # Each resource's module (and the pydantic models it validates with) loads on first use:
    # importing the package stays as cheap as importing aiohttp.
    @cached_property
    def bulk(self) -> Bulk:
        """Many takes at once: `async for result in ugc.bulk.run(videos, dest="out/")`."""
        from .bulk import Bulk  # imported on first use: most users never run bulk

        return Bulk(self._ctx, files=self.files, takes=self.takes, jobs=self.jobs)

    @cached_property
    def files(self) -> Files:
        """File records, uploads and downloads."""
        from .resources.files import Files

        return Files(self._ctx)

    @cached_property
    def takes(self) -> Takes:
        """Singlecam and multicam takes."""
        from .resources.takes import Takes

        return Takes(self._ctx)

    @cached_property
    def jobs(self) -> Jobs:
        """Jobs: create, read, watch, wait, download outputs."""
        from .resources.jobs import Jobs

        return Jobs(self._ctx)

    @cached_property
    def volumes(self) -> Volumes:
        """Human volumes for multicam takes."""
        from .resources.volumes import Volumes

        return Volumes(self._ctx)

    @cached_property
    def client(self) -> ClientInfo:
        """The account the API key belongs to."""
        from .resources.misc import ClientInfo

        return ClientInfo(self._ctx)

    @cached_property
    def webhooks(self) -> Webhooks:
        """Webhook endpoints."""
        from .resources.misc import Webhooks

        return Webhooks(self._ctx)

    @cached_property
    def rigs(self) -> Rigs:
        """The rigs multicam jobs can use."""
        from .resources.misc import Rigs

        return Rigs(self._ctx)

    @cached_property
    def camera_settings(self) -> CameraSettingsResource:
        """The camera settings (lenses) multicam sources can name."""
        from .resources.misc import CameraSettingsResource

        return CameraSettingsResource(self._ctx)
