"""Webhook delivery: job events signed per Standard Webhooks, retried while the receiver fails.

Event names come in two families in the published material: `ugc.job.state.<kind>` (the
documented one) and `job.state.<kind>` (also seen). An endpoint receives an event when it
subscribed to it in either spelling, and the delivery's `event_name` is the spelling it
subscribed to (the `ugc.` one when it subscribed to both, or to everything with an empty list).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp

from ._state import (
    OUTPUT_FILE_TYPES,
    IdFactory,
    JobRecord,
    State,
    WebhookEndpointRecord,
    iso,
    output_label,
    shown_metadata,
)

if TYPE_CHECKING:
    from ._config import EmulatorConfig
    from ._faults import Clock
    from ._stats import Stats

log = logging.getLogger("aio_move_ugc.emulator.webhooks")

EVENT_PREFIXES = ("ugc.job.state.", "job.state.")
"""The two spellings of a job event's name, the documented one first."""
EVENT_STARTED = "ugc.job.state.started"
EVENT_COMPLETED = "ugc.job.state.completed"
EVENT_FAILED = "ugc.job.state.failed"


def event_name_for(endpoint: WebhookEndpointRecord, kind: str) -> str | None:
    """The name under which `endpoint` gets a job's `kind` event, or None when not subscribed."""
    if not endpoint.events:
        return EVENT_PREFIXES[0] + kind
    for prefix in EVENT_PREFIXES:
        if prefix + kind in endpoint.events:
            return prefix + kind
    return None


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` over `"{id}.{timestamp}.{body}"` with the `whsec_` key."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def message_id(*parts: str) -> str:
    """A Svix-style message id fixed by what the message is about (job, event, endpoint).

    Deliveries fire on timers; drawing their ids from the seeded id stream would shift every id
    handed out after them and make runs with the same seed differ.
    """
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()[:15]
    return "msg_" + base64.b32encode(digest).decode().lower()


class WebhookDispatcher:
    """Follows each job's timeline and posts its state events to the subscribed endpoints."""

    def __init__(
        self,
        *,
        state: State,
        config: EmulatorConfig,
        clock: Clock,
        stats: Stats,
        ids: IdFactory,
        job_view: Callable[[JobRecord], dict[str, Any]],
    ) -> None:
        self._state = state
        self._config = config
        self._clock = clock
        self._stats = stats
        self._ids = ids
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self.delivered: list[dict[str, Any]] = []
        """Every successful delivery: url, headers and body (for tests)."""

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def job_created(self, job: JobRecord) -> None:
        self._spawn(self._follow(job))

    async def _sleep_until(self, when: float) -> None:
        delay = when - self._clock.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _follow(self, job: JobRecord) -> None:
        await self._sleep_until(job.timeline.starts_at)
        self._emit("started", job, "RUNNING")
        await self._sleep_until(job.timeline.ends_at)
        if job.timeline.fails:
            self._emit("failed", job, "FAILED")
        else:
            self._emit("completed", job, "FINISHED")

    def _emit(self, kind: str, job: JobRecord, state: str) -> None:
        now = iso(self._clock.now())  # one moment for the event, whatever its spelling
        for endpoint in list(self._state.webhooks.values()):
            event = event_name_for(endpoint, kind)
            if event is None:
                continue
            body = self._body(event, job, state, now)
            # Named after the documented spelling whatever is sent: ids stay those of before.
            msg_id = message_id(job.id, EVENT_PREFIXES[0] + kind, endpoint.uid)
            self._spawn(self._deliver(endpoint.url, endpoint.secret, msg_id, body))

    def _body(self, event: str, job: JobRecord, state: str, timestamp: str) -> bytes:
        take = self._state.takes.get(job.take_id)
        mode = self._config.variants.missing_metadata
        labels = self._config.variants.output_labels
        payload = {
            "event_name": event,
            "timestamp": timestamp,
            "detail": {
                "client_id": self._state.client.id,
                "event_attributes": {
                    "job": {
                        "id": job.id,
                        "name": job.name,
                        "metadata": shown_metadata(mode, "job", job.metadata),
                        "created": iso(job.created),
                        "state": state,
                        "progress": {
                            "state": state,
                            "percentageComplete": 100 if state == "FINISHED" else 0,
                        },
                        "outputs": [
                            output_label(labels, t, OUTPUT_FILE_TYPES.get(t, "bin"))
                            for t in job.outputs
                        ],
                    },
                    "take": {
                        "id": job.take_id,
                        "name": take.name if take else None,
                        "metadata": shown_metadata(mode, "take", take.metadata if take else None),
                    },
                },
            },
        }
        return json.dumps(payload, separators=(",", ":")).encode()

    async def _deliver(self, url: str, secret: str, msg_id: str, body: bytes) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._config.webhook_timeout)
            )
        delays = (0.0, *self._config.webhook_retry_delays)
        for attempt, delay in enumerate(delays):
            if delay:
                await asyncio.sleep(delay)
            timestamp = int(self._clock.now())
            headers = {
                "content-type": "application/json",
                "svix-id": msg_id,
                "svix-timestamp": str(timestamp),
                "svix-signature": sign(secret, msg_id, timestamp, body),
            }
            self._stats.webhook_attempts += 1
            try:
                async with self._session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    if 200 <= resp.status < 300:
                        self._stats.webhook_deliveries += 1
                        self.delivered.append({"url": url, "headers": headers, "body": body})
                        return
                    log.info(
                        "webhook %s answered %s (attempt %d)", msg_id, resp.status, attempt + 1
                    )
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                log.info(
                    "webhook %s failed: %s (attempt %d)", msg_id, type(exc).__name__, attempt + 1
                )
        log.warning("webhook %s given up after %d attempts", msg_id, len(delays))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
