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
        return await self._run("GetClient", Client)

    async def update(self, *, metadata: Any) -> Client:
        encoded = check.metadata(metadata)
        if encoded is None:
            raise InvalidInputError("metadata is required to update the client")
        return await self._run("UpdateClient", Client, {"metadata": encoded})


class Webhooks(Resource):
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
        """Create or update the endpoint `uid`; the secret is only returned on creation."""
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
    async def list(self) -> list[Rig]:
        page = await self._ctx.execute_named("ListRigs")
        return parse_items(Rig, page, "ListRigs")


class CameraSettingsResource(Resource):
    async def list(self) -> list[CameraSettings]:
        page = await self._ctx.execute_named("ListCameraSettings")
        return parse_items(CameraSettings, page, "ListCameraSettings")
