"""`ugc.takes`: singlecam and multicam takes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .. import _validation as check
from ..pagination import AsyncPager
from ..types._models import SortDirection, SourceIn, SyncMethodIn, Take
from ._base import Resource


class Takes(Resource):
    async def create_singlecam(
        self,
        sources: Sequence[SourceIn | dict[str, Any]],
        *,
        name: str | None = None,
        metadata: Any = None,
        expand: Iterable[str] | None = None,
    ) -> Take:
        """A take from one video source (plus an optional MOVE source of the same device)."""
        variables = {
            "sources": check.sources(sources, multicam=False),
            "name": check.text(name, "name"),
            "metadata": check.create_metadata(metadata),
        }
        return await self._run("CreateSingleCamTake", Take, variables, expand)

    async def create_multicam(
        self,
        sources: Sequence[SourceIn | dict[str, Any]],
        *,
        volume_id: str,
        name: str | None = None,
        sync_method: SyncMethodIn | dict[str, Any] | None = None,
        metadata: Any = None,
        expand: Iterable[str] | None = None,
    ) -> Take:
        """A take from several synced cameras, calibrated by a FINISHED volume."""
        variables = {
            "sources": check.sources(sources, multicam=True),
            "volumeId": check.identifier(volume_id, "volume"),
            "name": check.text(name, "name"),
            "syncMethod": check.sync_method(sync_method),
            "metadata": check.create_metadata(metadata),
        }
        return await self._run("CreateMultiCamTake", Take, variables, expand)

    async def retrieve(self, id: str, *, expand: Iterable[str] | None = None) -> Take:
        variables = {"takeId": check.identifier(id, "take")}
        return await self._run("GetTake", Take, variables, expand)

    async def update(
        self,
        id: str,
        *,
        name: str | None = None,
        metadata: Any = None,
        expand: Iterable[str] | None = None,
    ) -> Take:
        variables = {
            "id": check.identifier(id, "take"),
            "name": check.text(name, "name"),
            "metadata": check.metadata(metadata),
        }
        return await self._run("UpdateTake", Take, variables, expand)

    def list(
        self,
        *,
        limit: int | None = None,
        next_token: str | None = None,
        sort_by: SortDirection | str = SortDirection.DESC,
        expand: Iterable[str] | None = None,
    ) -> AsyncPager[Take]:
        """Takes, newest first by default: `await` for one page or `async for` over all."""
        return self._pager(
            "ListTakes", Take, limit=limit, next_token=next_token, sort_by=sort_by, expand=expand
        )
