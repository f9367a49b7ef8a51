"""`ugc.jobs`: animation jobs for takes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import _validation as check
from ..pagination import AsyncPager
from ..types._models import ClipWindow, Job, JobOptions, OutputType, SortDirection
from ._base import Resource


class Jobs(Resource):
    async def create_singlecam(
        self,
        take_id: str,
        *,
        name: str | None = None,
        metadata: Any = None,
        options: JobOptions | dict[str, Any] | None = None,
        clip_window: ClipWindow | dict[str, Any] | None = None,
        outputs: Iterable[OutputType | str] | None = None,
        expand: Iterable[str] | None = None,
    ) -> Job:
        """Start processing a singlecam take; `outputs=None` asks for the default outputs."""
        variables = {
            "takeId": check.identifier(take_id, "take"),
            "name": check.text(name, "name"),
            "metadata": check.metadata(metadata),
            "options": check.options(options),
            "clipWindow": check.clip_window(clip_window),
            "outputs": check.outputs(outputs),
        }
        return await self._run("CreateSingleCamJob", Job, variables, expand)

    async def create_multicam(
        self,
        take_id: str,
        *,
        number_of_actors: int = 1,
        options: JobOptions | dict[str, Any] | None = None,
        outputs: Iterable[OutputType | str] | None = None,
        rig: str | None = None,
        name: str | None = None,
        clip_window: ClipWindow | dict[str, Any] | None = None,
        metadata: Any = None,
        expand: Iterable[str] | None = None,
    ) -> Job:
        """Start processing a multicam take (default rig: the API's, `move_mo`)."""
        variables = {
            "takeId": check.identifier(take_id, "take"),
            "numberOfActors": check.positive_number(
                number_of_actors, "number_of_actors", integer=True
            ),
            "options": check.options(options),
            "outputs": check.outputs(outputs),
            "rig": check.text(rig, "rig", allow_empty=False),
            "name": check.text(name, "name"),
            "clipWindow": check.clip_window(clip_window),
            "metadata": check.metadata(metadata),
        }
        return await self._run("CreateMultiCamJob", Job, variables, expand)

    async def retrieve(self, id: str, *, expand: Iterable[str] | None = None) -> Job:  # noqa: A002
        variables = {"jobId": check.identifier(id, "job")}
        return await self._run("GetJob", Job, variables, expand)

    async def update(
        self,
        id: str,  # noqa: A002
        *,
        metadata: Any = None,
        name: str | None = None,
        expand: Iterable[str] | None = None,
    ) -> Job:
        variables = {
            "id": check.identifier(id, "job"),
            "metadata": check.metadata(metadata),
            "name": check.text(name, "name"),
        }
        return await self._run("UpdateJob", Job, variables, expand)

    def list(
        self,
        *,
        limit: int | None = None,
        next_token: str | None = None,
        sort_by: SortDirection | str = SortDirection.DESC,
        take_id: str | None = None,
        expand: Iterable[str] | None = None,
    ) -> AsyncPager[Job]:
        """Jobs, newest first by default, optionally of one take."""
        extra = {"takeId": check.identifier(take_id, "take")} if take_id is not None else None
        return self._pager(
            "ListJobs",
            Job,
            limit=limit,
            next_token=next_token,
            sort_by=sort_by,
            expand=expand,
            extra=extra,
        )
