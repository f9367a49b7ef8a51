"""Settings of presigned-URL transfers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .. import _validation as check
from .._retry import RetryPolicy

Progress = Callable[[int, int], object]
"""Called as `progress(bytes_done, bytes_total)` as a transfer advances."""

MiB = 1 << 20


@dataclass(frozen=True)
class TransferConfig:
    """Knobs of presigned-URL transfers; bad values raise `ConfigurationError` at once.

    The defaults were measured on loopback (512 MiB from nginx, one stream, medians of five):
    2 MiB chunks with a large read buffer move bytes about 2.5 times faster than 64 KiB chunks,
    1.2 times faster than 1 MiB chunks (downloads; uploads, bound by their MD5, 1.05 times),
    and no slower than 4 MiB chunks.
    """

    chunk_size: int = 2 * MiB
    """Bytes read from or written to disk (and the socket) at a time."""
    read_bufsize: int = 4 * MiB
    """aiohttp's read buffer for storage responses."""
    part_size: int = 16 * MiB
    """Size of the ranged parts of a download; objects up to this size arrive in one stream.
    May be smaller than `chunk_size`: a read never goes past the end of its part."""
    parts_in_flight: int = 4
    """Ranged parts of one download fetched at once."""
    max_concurrent_transfers: int = 8
    """Files moving at once per client (uploads and downloads together)."""
    connect_timeout: float = 10.0
    """Seconds to wait for a connection to storage."""
    stall_timeout: float = 60.0
    """A transfer that receives or sends nothing for this long is abandoned (and retried)."""
    max_retries: int = 5
    """Tries again of one transfer step against the same URL."""
    retry_base_delay: float = 0.25
    retry_max_delay: float = 8.0
    max_url_refreshes: int = 3
    """Fresh URLs asked for in a row, without progress in between, before giving up."""
    connection_limit: int = 64
    """Connections open at once to storage hosts."""
    fsync: bool = True
    """Downloads reach the disk (fsync) before they are renamed into place, so a crash never
    leaves a complete-looking file with missing bytes. Off: faster where the disk is slower
    than the network and durability does not matter (scratch space)."""

    def __post_init__(self) -> None:
        check.count(self.chunk_size, "chunk_size", minimum=1024)
        check.count(self.read_bufsize, "read_bufsize", minimum=1024)
        check.count(self.part_size, "part_size", minimum=1024)
        check.count(self.parts_in_flight, "parts_in_flight", minimum=1)
        check.count(self.max_concurrent_transfers, "max_concurrent_transfers", minimum=1)
        check.seconds(self.connect_timeout, "connect_timeout")
        check.seconds(self.stall_timeout, "stall_timeout")
        check.count(self.max_retries, "max_retries")
        check.seconds(self.retry_base_delay, "retry_base_delay", allow_zero=True)
        check.seconds(self.retry_max_delay, "retry_max_delay", allow_zero=True)
        check.count(self.max_url_refreshes, "max_url_refreshes")
        check.count(self.connection_limit, "connection_limit", minimum=1)
        check.flag(self.fsync, "fsync")

    def retry_policy(self) -> RetryPolicy:
        """Retries of one transfer step against the same URL."""
        return RetryPolicy(
            max_retries=self.max_retries,
            base_delay=self.retry_base_delay,
            max_delay=self.retry_max_delay,
        )
