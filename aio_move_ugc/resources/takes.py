"""`ugc.takes`: singlecam and multicam takes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .. import _inputs as inputs
from .. import _validation as check
from ..pagination import AsyncPager
from ..types._enums import SortDirection
from ..types._models import SourceIn, SyncMethodIn, Take
from ._base import Resource


class Takes(Resource):
    """`ugc.takes`: takes, the videos (one camera or several) that jobs animate."""

    async def create_singlecam(
        self,
        sources: Sequence[SourceIn | dict[str, Any]],
        *,
        name: str | None = None,
        metadata: Any = None,
        expand: Iterable[str] | None = None,
    ) -> Take:
        """A take from one video source (plus an optional MOVE source of the same device).

        Args:
            sources: exactly one video source (a `SourceFormat` other than MOVE), plus at
                most one MOVE source with the video's `device_label`; `SourceIn` models or
                dicts of their fields.
            name: a name for the take.
            metadata: any JSON-serialisable value, kept with the take.
            expand: related objects to include in the answer: `client`, `sources`, `volume`.

        Returns:
            The new take.

        Raises:
            InvalidInputError: sources of the wrong number or kind, a malformed file id, or
                a bad name, metadata or expand word (nothing was sent).
            BadRequestError: the API refused the take (e.g. a source file not uploaded).
        """
        variables = {
            "sources": inputs.sources(sources, multicam=False),
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
        """A take from several synced cameras, calibrated by a FINISHED volume.

        Args:
            sources: two or more video sources, each with `camera_settings` (a lens);
                `SourceIn` models or dicts of their fields.
            volume_id: the FINISHED volume (`volume-<uuid>`) that calibrates these cameras.
            name: a name for the take.
            sync_method: how the videos are synced (a clap window or timecodes), a
                `SyncMethodIn` or a dict of its fields.
            metadata: any JSON-serialisable value, kept with the take.
            expand: related objects to include in the answer: `client`, `sources`, `volume`.

        Returns:
            The new take.

        Raises:
            InvalidInputError: fewer than two video sources, a source without a lens, a
                malformed id, or a bad name, sync method, metadata or expand word (nothing
                was sent).
            NotFoundError: no such volume.
            BadRequestError: the API refused the take (e.g. the volume is not FINISHED).
        """
        variables = {
            "sources": inputs.sources(sources, multicam=True),
            "volumeId": check.identifier(volume_id, "volume"),
            "name": check.text(name, "name"),
            "syncMethod": inputs.sync_method(sync_method),
            "metadata": check.create_metadata(metadata),
        }
        return await self._run("CreateMultiCamTake", Take, variables, expand)

    async def retrieve(self, id: str, *, expand: Iterable[str] | None = None) -> Take:
        """A take by id.

        Args:
            id: the take's id (`take-<uuid>`).
            expand: related objects to include: `client`, `sources` (with the video file),
                `volume`.

        Raises:
            InvalidInputError: a malformed id or an unknown expand word (nothing was sent).
            NotFoundError: no such take.
        """
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
        """Change a take's name or metadata; what is None is left as it is.

        Args:
            id: the take's id (`take-<uuid>`).
            name: the new name.
            metadata: the new metadata, any JSON-serialisable value.
            expand: related objects to include in the answer: `client`, `sources`, `volume`.

        Returns:
            The updated take.

        Raises:
            InvalidInputError: a malformed id, name, metadata or expand word (nothing was sent).
            NotFoundError: no such take.
        """
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
        """Takes, newest first by default: `await` for one page or `async for` over all.

        Nothing is sent until the pager is awaited or iterated.

        Args:
            limit: items per page (at least 1; the service decides its own ceiling).
            next_token: the `next_token` of a page already read, to continue after it.
            sort_by: order by creation time, `DESC` (newest first) or `ASC`, in any case.
            expand: related objects to include in each take: `client`, `sources`, `volume`.

        Raises:
            InvalidInputError: a bad limit, sort direction or expand word (raised here, at
                the call).
        """
        return self._pager(
            "ListTakes", Take, limit=limit, next_token=next_token, sort_by=sort_by, expand=expand
        )
