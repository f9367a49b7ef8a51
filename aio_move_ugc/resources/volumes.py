"""`ugc.volumes`: human volumes that calibrate multicam takes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .. import _validation as check
from .._exceptions import JobFailedError
from ..pagination import AsyncPager
from ..types._models import (
    AreaType,
    ClipWindow,
    HumanVolume,
    JobState,
    SortDirection,
    SourceIn,
    SyncMethodIn,
)
from ..watch import PollPolicy, watch_volumes
from ._base import Resource


class Volumes(Resource):
    async def create_human_volume(
        self,
        sources: Sequence[SourceIn | dict[str, Any]],
        *,
        human_height: float,
        area_type: AreaType | str,
        sync_method: SyncMethodIn | dict[str, Any] | None = None,
        metadata: Any = None,
        name: str | None = None,
        clip_window: ClipWindow | dict[str, Any] | None = None,
        expand: Iterable[str] | None = None,
    ) -> HumanVolume:
        """A volume from two or more cameras (each with a lens) filming a person of known height."""
        variables = {
            "sources": check.sources(sources, multicam=True),
            "humanHeight": check.positive_number(human_height, "human_height"),
            "areaType": check.enum_value(AreaType, area_type, "area type").value,
            "syncMethod": check.sync_method(sync_method),
            "metadata": check.create_metadata(metadata),
            "name": check.text(name, "name"),
            "clipWindow": check.clip_window(clip_window),
        }
        return await self._run("CreateVolumeWithHuman", HumanVolume, variables, expand)

    async def retrieve_human_volume(
        self,
        id: str,
        *,
        expand: Iterable[str] | None = None,
    ) -> HumanVolume:
        variables = {"id": check.identifier(id, "volume")}
        return await self._run("GetVolume", HumanVolume, variables, expand)

    def list(
        self,
        *,
        limit: int | None = None,
        next_token: str | None = None,
        sort_by: SortDirection | str = SortDirection.DESC,
        expand: Iterable[str] | None = None,
    ) -> AsyncPager[HumanVolume]:
        return self._pager(
            "ListVolumes",
            HumanVolume,
            limit=limit,
            next_token=next_token,
            sort_by=sort_by,
            expand=expand,
        )

    async def wait(
        self,
        volume_id: str,
        *,
        interval: float | None = None,
        max_interval: float | None = None,
        timeout: float | None = None,
    ) -> HumanVolume:
        """The volume once FINISHED.

        Polls as `jobs.wait` does (`interval` seconds at first, growing towards
        `max_interval`). Raises `JobFailedError` if it fails, `WatchTimeoutError` after
        `timeout` seconds, `NotFoundError` when there is no such volume.
        """
        ids = [check.identifier(volume_id, "volume")]
        policy = PollPolicy.of(interval, max_interval)
        last: HumanVolume | None = None
        async for event in watch_volumes(self._ctx, ids, policy=policy, timeout=timeout):
            last = event.volume
            if event.state in (JobState.FAILED, JobState.CANCELLED):
                raise JobFailedError(volume_id, str(event.state))
        assert last is not None
        return last
