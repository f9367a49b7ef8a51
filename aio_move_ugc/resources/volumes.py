"""`ugc.volumes`: human volumes that calibrate multicam takes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .. import _inputs as inputs
from .. import _validation as check
from .._exceptions import JobFailedError
from ..pagination import AsyncPager
from ..types._enums import AreaType, JobState, SortDirection
from ..types._models import ClipWindow, HumanVolume, SourceIn, SyncMethodIn
from ..watch import PollPolicy, known_state, watch_volumes
from ._base import Resource


class Volumes(Resource):
    """`ugc.volumes`: human volumes, the calibration of cameras that multicam takes need."""

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
        """A volume from two or more cameras (each with a lens) filming a person of known height.

        Args:
            sources: two or more video sources, each with `camera_settings` (a lens);
                `SourceIn` models or dicts of their fields.
            human_height: the filmed person's height, a positive number (e.g. 1.78).
            area_type: the size of the capture area, `NORMAL` or `LARGE` (any case).
            sync_method: how the videos are synced (a clap window or timecodes), a
                `SyncMethodIn` or a dict of its fields.
            metadata: any JSON-serialisable value, kept with the volume.
            name: a name for the volume.
            clip_window: the part of the videos to use, a `ClipWindow` (seconds,
                `0 <= start_time < end_time`) or a dict of its fields.
            expand: related objects to include in the answer: `client`, `sources`,
                `outputs`, `clipWindow`.

        Returns:
            The new volume; `wait` follows it until FINISHED.

        Raises:
            InvalidInputError: fewer than two video sources, a source without a lens, a
                malformed file id, a bad height, area type, sync method, clip window, name,
                metadata or expand word (nothing was sent).
            BadRequestError: the API refused the volume (e.g. a source file not uploaded).
        """
        variables = {
            "sources": inputs.sources(sources, multicam=True),
            "humanHeight": check.positive_number(human_height, "human_height"),
            "areaType": check.enum_value(AreaType, area_type, "area type").value,
            "syncMethod": inputs.sync_method(sync_method),
            "metadata": check.create_metadata(metadata),
            "name": check.text(name, "name"),
            "clipWindow": inputs.clip_window(clip_window),
        }
        return await self._run("CreateVolumeWithHuman", HumanVolume, variables, expand)

    async def retrieve_human_volume(
        self,
        id: str,
        *,
        expand: Iterable[str] | None = None,
    ) -> HumanVolume:
        """A volume by id.

        Args:
            id: the volume's id (`volume-<uuid>`).
            expand: related objects to include: `client`, `sources`, `outputs`, `clipWindow`.

        Raises:
            InvalidInputError: a malformed id or an unknown expand word (nothing was sent).
            NotFoundError: no such volume.
        """
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
        """Volumes, newest first by default: `await` for one page or `async for` over all.

        Nothing is sent until the pager is awaited or iterated.

        Args:
            limit: items per page, 1 to 100 (default: the API's page size).
            next_token: the `next_token` of a page already read, to continue after it.
            sort_by: order by creation time, `DESC` (newest first) or `ASC`, in any case.
            expand: related objects to include in each volume: `client`, `sources`,
                `outputs`, `clipWindow`.

        Raises:
            InvalidInputError: a bad limit, sort direction or expand word (raised here, at
                the call).
        """
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
        """The volume `volume_id` once FINISHED.

        Polls as `jobs.wait` does (`interval` seconds at first, default 5, growing towards
        `max_interval`, default 60). Raises `JobFailedError` if it fails (or is cancelled),
        `WatchTimeoutError` after `timeout` seconds, `NotFoundError` when there is no such
        volume, `InvalidInputError` for a malformed id or bad intervals, and the API's error
        when the volume cannot be read (`max_failures` looks in a row, or at once when the
        error is not transient).
        """
        ids = [check.identifier(volume_id, "volume")]
        policy = PollPolicy.of(interval, max_interval)
        last: HumanVolume | None = None
        async for event in watch_volumes(self._ctx, ids, policy=policy, timeout=timeout):
            last = event.volume
            if known_state(event.state) in (JobState.FAILED, JobState.CANCELLED):
                raise JobFailedError(volume_id, str(event.state))
        assert last is not None
        return last
