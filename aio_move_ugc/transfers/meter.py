"""What one file transfer cost on the wire, told once as it ends.

The upload and download layers make one `TransferMeter` per file; the storage wire counts the
requests and answers into it, the retrier the retries, the transfer its bytes and URL
refreshes. `end()` turns the count into a `TransferEvent`, logs it on the
`aio_move_ugc.transfers` logger (INFO) and hands it to the client's `on_transfer` hook.
"""

from __future__ import annotations

import logging
import time

from ..observability import TransferDirection, TransferEvent, TransferHook

log = logging.getLogger("aio_move_ugc.transfers")


class TransferMeter:
    """The running count of one file transfer (an upload or a download).

    Args:
        direction: `"upload"` or `"download"`.
        name: the local file's name (never a path or a URL: it ends up in logs and spans).
        size: the object's size when known up front (an upload's).
        hook: called with the `TransferEvent` when the transfer ends.
    """

    def __init__(
        self,
        direction: TransferDirection,
        name: str,
        *,
        size: int | None = None,
        hook: TransferHook | None = None,
    ) -> None:
        self.direction: TransferDirection = direction
        self.name = name
        self.size = size
        self.hook = hook
        self.transferred = 0
        self.resumed = 0
        self.requests = 0
        self.retries = 0
        self.url_refreshes = 0
        self.status: int | None = None
        self.request_id: str | None = None
        self.started_ns = time.time_ns()
        self._started = time.perf_counter()
        self._ended = False

    def sent(self) -> None:
        """One more storage request went out."""
        self.requests += 1

    def answered(self, status: int, request_id: str | None) -> None:
        """Storage answered a request with `status` (and its request id)."""
        self.status = status
        self.request_id = request_id

    def moved(self, count: int) -> None:
        """`count` more object bytes went over the wire."""
        self.transferred += count

    def retried(self, exc: BaseException) -> None:
        """A request failed transiently and is about to be sent again."""
        self.retries += 1

    def refreshed(self) -> None:
        """An expired URL was replaced by a fresh one."""
        self.url_refreshes += 1

    def end(self, error: BaseException | None) -> TransferEvent | None:
        """The transfer ended (with `error`, or None on success): log it, hand its event to
        the hook and return it. Only the first call counts; later ones return None. The
        hook raising is logged and otherwise ignored: it never breaks the transfer."""
        if self._ended:
            return None
        self._ended = True
        event = TransferEvent(
            direction=self.direction,
            name=self.name,
            size=self.size,
            transferred=self.transferred,
            resumed=self.resumed,
            duration=time.perf_counter() - self._started,
            started_ns=self.started_ns,
            requests=self.requests,
            retries=self.retries,
            url_refreshes=self.url_refreshes,
            status=self.status,
            request_id=self.request_id,
            error=type(error).__name__ if error is not None else None,
        )
        log.info("%s", event.summary())
        if self.hook is not None:
            try:
                self.hook(event)
            except Exception as exc:  # a faulty hook costs its own output, not the transfer
                log.warning("on_transfer hook failed: %s", type(exc).__name__)
        return event
