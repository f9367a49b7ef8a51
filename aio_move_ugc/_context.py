"""The narrow surface every layer above the client receives instead of the client itself.

Resources, the polling engine, transfers and bulk get a `ClientContext`: run an operation,
the storage wire, the transfer slots, the configuration and the rate budget. Nothing else of
the client is reachable from them, and the context imports none of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import anyio

from ._clock import Clock
from ._exceptions import ClientClosedError
from ._ratelimit import RequestBudget
from ._redact import Secret, scrub
from ._retry import Retrier, RetryPolicy
from ._schema.operations import Operation, operation
from ._sessions import Closer, ClosingClock
from ._transport import ApiTransport, GraphQLTransport, Timeout
from .observability import RequestHook, TransferHook
from .transfers.config import TransferConfig
from .transfers.storage import StorageWire


class ClientContext:
    """What one `AsyncMoveUgc` shares with its resources, watchers, transfers and bulk runs."""

    def __init__(
        self,
        *,
        endpoint_url: str,
        api_key: Secret,
        timeout: Timeout,
        retry: RetryPolicy,
        rate_budget: RequestBudget | None,
        connection_limit: int,
        transfer_config: TransferConfig,
        clock: Clock,
        on_request: RequestHook | None = None,
        on_transfer: TransferHook | None = None,
        wire: ApiTransport | None = None,
    ) -> None:
        self.closer = Closer()
        self._api_key = api_key
        # Every wait of the SDK (back-off, polling pace) sleeps on this clock: aclose() wakes
        # them all with ClientClosedError instead of letting them sleep on.
        self.clock = ClosingClock(clock, self.closer)
        self.on_transfer = on_transfer
        """Called with a `TransferEvent` as each file transfer ends (see `transfers.meter`)."""
        self.retry = retry
        self.rate_budget = rate_budget
        self.transfer_config = transfer_config
        self.transport = GraphQLTransport(
            endpoint_url=endpoint_url,
            api_key=api_key,
            timeout=timeout,
            retrier=Retrier(retry, sleep=self.clock.sleep),
            budget=rate_budget,
            connection_limit=connection_limit,
            closed=self.is_closed,
            on_request=on_request,
            closer=self.closer,
            wire=wire,
        )
        self.storage = StorageWire(transfer_config, closed=self.is_closed)
        self.storage_retrier = Retrier(transfer_config.retry_policy(), sleep=self.clock.sleep)
        self._slots: dict[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = {}
        self._closed = False
        self._parent_closed: Callable[[], bool] = lambda: False

    # ------------------------------------------------------------ lifecycle
    def is_closed(self) -> bool:
        return self._closed or self._parent_closed()

    def ensure_open(self) -> None:
        if self.is_closed():
            raise ClientClosedError("this AsyncMoveUgc client is closed; create a new one")

    async def aclose(self) -> None:
        self._closed = True
        self.closer.close()
        await self.transport.aclose()
        await self.storage.aclose()

    def share_connections(self, parent: ClientContext) -> None:
        """Use `parent`'s connection pools where they fit (a client made by
        `with_options`): `parent` keeps owning them, and this context counts as closed
        once `parent` is."""
        self.transport.share_sessions(parent.transport)
        self.storage.share_sessions(parent.storage)
        self._parent_closed = parent.is_closed

    # ------------------------------------------------------------ requests
    def scrub(self, value: Any) -> Any:
        """`value`, read from an answer by a caller's own decoder, with every string scrubbed
        as the transport scrubs the answers it maps: the client's key by value, signatures,
        credentials and tokens by shape. For what goes into an error, a log or an event."""
        return scrub(value, secrets=(self._api_key.get_secret_value(),))

    async def execute(
        self,
        op: Operation,
        variables: dict[str, Any] | None = None,
        *,
        decode: Callable[[bytes], Any] | None = None,
    ) -> Any:
        """Send one GraphQL operation (retried, budgeted) and return its data; `decode(raw)`
        may read a clean answer straight from its bytes (its result is returned when not
        None)."""
        self.ensure_open()
        return await self.transport.execute(op, variables, decode=decode)

    async def execute_named(self, name: str, variables: dict[str, Any] | None = None) -> Any:
        return await self.execute(operation(name), variables)

    def transfer_slots(self) -> anyio.CapacityLimiter:
        """The bound on files moving at once through this client (uploads and downloads),
        one per event loop: a limiter belongs to the loop it was made in."""
        self.ensure_open()
        loop = asyncio.get_running_loop()
        slots = self._slots.get(loop)
        if slots is None:
            # Limiters of loops that have ended are dropped with them.
            self._slots = {k: v for k, v in self._slots.items() if not k.is_closed()}
            slots = anyio.CapacityLimiter(self.transfer_config.max_concurrent_transfers)
            self._slots[loop] = slots
        return slots
