"""What the client tells about its requests: the per-request event, and logging switched on from
the environment.

- `RequestEvent`: handed to `AsyncMoveUgc(on_request=...)` after every GraphQL request (each try
  of a retried operation is one request). It holds the operation's name, the HTTP status, the
  duration, the request id and the try number; never the API key, the variables or any URL.
- `TransferEvent`: handed to `AsyncMoveUgc(on_transfer=...)` once per file uploaded or
  downloaded, as the transfer ends (done, failed or cancelled): the local file's name, the
  bytes, the storage requests, retries and URL refreshes it took; never a URL or a path.
- `MOVE_UGC_LOG=info|debug|warning|...`: read by `log_from_env()`, which `AsyncMoveUgc()`
  calls; it puts one stderr handler on the `aio_move_ugc` logger. Importing the package
  configures no logging.

This module imports nothing of the package, so any layer may use it.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TextIO

LOG_ENV = "MOVE_UGC_LOG"
LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}
"""The level names `MOVE_UGC_LOG` accepts (any case), as `logging` spells them; the numbers
`logging` gives them (10 to 50) are accepted too."""
LOG_ON = frozenset({"1", "true", "yes", "on"})
"""Switches that mean "log": at INFO, where every request and transfer shows."""
LOG_OFF = frozenset({"", "0", "false", "no", "off", "none"})
"""Values that mean "no logging" (as unset: no handler is installed)."""
LOGGER_NAME = "aio_move_ugc"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass(frozen=True)
class RequestEvent:
    """One GraphQL request as it ended.

    Attributes:
        operation: the operation's name (`GetJob`, `CreateFile`, ...).
        status: the HTTP status of the answer; None when no answer came (connection lost,
            timed out, cancelled).
        duration: seconds from sending to the end of the answer (or the failure).
        request_id: the service's `x-amzn-RequestId` for this request, when it answered with one.
        attempt: 1 for the first try of the operation, 2 for its first retry, and so on.
        error: the class name of the error this request ended with (`RateLimitError`,
            `APIConnectionError`, `CancelledError`, ...); None on success.
        started_ns: when the request was sent, in nanoseconds since the epoch (for tracers that
            record spans after the fact).
    """

    operation: str
    status: int | None
    duration: float
    request_id: str | None
    attempt: int
    error: str | None
    started_ns: int

    @property
    def retries(self) -> int:
        """Tries of this operation before this one."""
        return self.attempt - 1

    @property
    def ok(self) -> bool:
        """True when the request succeeded (`error` is None)."""
        return self.error is None


RequestHook = Callable[[RequestEvent], object]
"""What `on_request` accepts: called (synchronously, in the requesting task) after each request."""

TransferDirection = Literal["upload", "download"]
"""Which way a transfer moved its bytes."""


@dataclass(frozen=True)
class TransferEvent:
    """One file transfer (an upload or a download) as it ended: done, failed or cancelled.

    One event covers the whole transfer, every try and every URL refresh included. A download
    joined by a second call to the same destination is one transfer, one event.

    Attributes:
        direction: `"upload"` or `"download"`.
        name: the local file's name (`take.mp4`, `job-....fbx`): never its directory, never a
            URL.
        size: bytes of the object; None when the transfer failed before it was known.
        transferred: object bytes that moved over the wire in this transfer, bytes of tries
            that failed and were sent again included; bytes a download found on disk from an
            earlier try are not (they are `resumed`).
        resumed: bytes of a download already on disk when it started (0 for uploads).
        duration: seconds from the start of the transfer to its end.
        started_ns: when the transfer started, in nanoseconds since the epoch (for tracers
            that record spans after the fact).
        requests: storage requests sent (every try and every part).
        retries: storage requests sent again after a transient failure.
        url_refreshes: expired presigned URLs replaced by fresh ones on the way.
        status: the HTTP status of the last answer from storage; None when none came.
        request_id: the storage's request id (`x-amz-request-id`) of that last answer.
        error: the class name of the error the transfer ended with (`StorageError`,
            `IntegrityError`, `CancelledError`, ...); None on success.
    """

    direction: TransferDirection
    name: str
    size: int | None
    transferred: int
    resumed: int
    duration: float
    started_ns: int
    requests: int
    retries: int
    url_refreshes: int
    status: int | None
    request_id: str | None
    error: str | None

    @property
    def ok(self) -> bool:
        """True when the transfer succeeded (`error` is None)."""
        return self.error is None

    @property
    def bytes_per_second(self) -> float:
        """`transferred` over `duration` (0.0 for a transfer that took no measurable time)."""
        return self.transferred / self.duration if self.duration > 0 else 0.0

    def summary(self) -> str:
        """The event as one log line: name, bytes, duration, speed, requests, retries (and the
        error class of a transfer that failed)."""
        if self.error is None:
            head = f"{'uploaded' if self.direction == 'upload' else 'downloaded'} {self.name}"
        else:
            head = f"{self.direction} of {self.name} failed ({self.error})"
        text = (
            f"{head}: {self.transferred} bytes in {self.duration:.2f}s "
            f"({self.bytes_per_second / 1e6:.1f} MB/s), {_count(self.requests, 'request')}, "
            f"{_count(self.retries, 'retry', 'retries')}"
        )
        if self.url_refreshes:
            text += f", {_count(self.url_refreshes, 'URL refresh', 'URL refreshes')}"
        if self.resumed:
            text += f", {self.resumed} bytes resumed"
        return text


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else (many or one + 's')}"


TransferHook = Callable[[TransferEvent], object]
"""What `on_transfer` accepts: called (synchronously, in the transferring task) as each file
transfer ends."""


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler writing to whatever `sys.stderr` is at the time of each record (progress bars
    swap it while they draw)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def install_stderr_logging(level: int) -> logging.Handler:
    """Log the package's records of `level` and above to stderr. Installs one handler at most;
    called again, it only changes the level."""
    logger = logging.getLogger(LOGGER_NAME)
    handler = next((h for h in logger.handlers if isinstance(h, _CurrentStderr)), None)
    if handler is None:
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(handler)
    handler.setLevel(level)
    logger.setLevel(level)
    return handler


def log_level_from_env(environ: dict[str, str] | None = None) -> int | None:
    """The level `MOVE_UGC_LOG` asks for, None when unset, empty or switched off (`0`, `off`,
    `false`...).

    A level's name in any case (`info`, `WARN`, `debug`...), its number (`20`), or a switch
    that means "on" (`1`, `true`, `yes`: INFO). Raises `ValueError` for anything else (the
    client turns it into `ConfigurationError`).
    """
    raw = (os.environ if environ is None else environ).get(LOG_ENV, "").strip().lower()
    if raw in LOG_OFF:
        return None
    if raw in LOG_ON:
        return logging.INFO
    if raw in LOG_LEVELS:
        return LOG_LEVELS[raw]
    if raw.isdigit() and int(raw) in LOG_LEVELS.values():
        return int(raw)
    raise ValueError(
        f"{LOG_ENV} must be a level (debug, info, warning, error, critical), "
        f"1 or 0, not {raw[:20]!r}"
    )


def log_from_env() -> None:
    """Install the stderr handler when `MOVE_UGC_LOG` is set; nothing otherwise."""
    level = log_level_from_env()
    if level is not None:
        install_stderr_logging(level)
