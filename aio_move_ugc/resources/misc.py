"""`ugc.client`, `ugc.webhooks`, `ugc.rigs`, `ugc.camera_settings`: the small resources."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import _validation as check
from .._answers import parse_items
from .._exceptions import InvalidInputError
from ..types._models import CameraSettings, Client, Rig, WebhookEndpoint
from ._base import Resource


class ClientInfo(Resource):
    """The account the API key belongs to."""

    async def retrieve(self) -> Client:
        """The account: its id, name, creation time, metadata and portal."""
        return await self._run("GetClient", Client)

    async def update(self, *, metadata: Any) -> Client:
        """Replace the account's `metadata` (any JSON-serialisable value, not None).

        Returns the updated account. Raises `InvalidInputError` (nothing sent) when `metadata`
        is None or cannot be encoded as JSON.
        """
        encoded = check.metadata(metadata)
        if encoded is None:
            raise InvalidInputError("metadata is required to update the client")
        return await self._run("UpdateClient", Client, {"metadata": encoded})


class Webhooks(Resource):
    """`ugc.webhooks`: the endpoints the service posts job events to."""

    async def upsert(
        self,
        events: Sequence[str],
        *,
        uid: str,
        url: str,
        description: str | None = None,
        secret: str | None = None,
        metadata: Any = None,
    ) -> WebhookEndpoint:
        """Create or update the endpoint `uid`; the secret is only returned on creation.

        Args:
            events: the event names to deliver, e.g. `ugc.job.state.completed` and
                `ugc.job.state.failed` (a non-empty list).
            uid: your identifier of the endpoint; upserting the same `uid` again updates it.
            url: the http(s) URL deliveries are posted to.
            description: a description of the endpoint.
            secret: the signing secret, `whsec_<base64>`; when None on creation, the
                service makes one.
            metadata: any JSON-serialisable value, kept with the endpoint.

        Returns:
            The endpoint; its `secret` is set only when this call created it.

        Raises:
            InvalidInputError: empty events, a secret without the `whsec_` prefix, or a bad
                uid, URL, description or metadata (nothing was sent).
        """
        if (
            isinstance(events, str)
            or not events
            or not all(isinstance(e, str) and e.strip() for e in events)
        ):
            raise InvalidInputError("events must be a non-empty list of event names")
        if secret is not None and (not isinstance(secret, str) or not secret.startswith("whsec_")):
            raise InvalidInputError("a webhook secret must start with 'whsec_'")
        variables = {
            "events": list(events),
            "uid": check.required_text(uid, "uid"),
            "url": check.http_url(url, "url"),
            "description": check.text(description, "description"),
            "secret": secret,
            "metadata": check.metadata(metadata),
        }
        return await self._run("UpsertWebhookEndpoint", WebhookEndpoint, variables)


class Rigs(Resource):
    """`ugc.rigs`: the rigs multicam jobs can animate."""

    async def list(self) -> list[Rig]:
        """Every available rig (its `name` is what `jobs.create_multicam(rig=...)` takes)."""
        page = await self._ctx.execute_named("ListRigs")
        return parse_items(Rig, page, "ListRigs")


class CameraSettingsResource(Resource):
    """`ugc.camera_settings`: the camera settings (lenses) the service knows."""

    async def list(self) -> list[CameraSettings]:
        """Every known camera setting; a `lens` from here goes in a multicam source's
        `camera_settings`."""
        page = await self._ctx.execute_named("ListCameraSettings")
        return parse_items(CameraSettings, page, "ListCameraSettings")
