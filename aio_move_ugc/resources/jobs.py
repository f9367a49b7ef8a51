"""`ugc.jobs`: animation jobs for takes."""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Iterable
from pathlib import Path
from typing import Any

import anyio

from .. import _validation as check
from .._concurrency import first_error
from .._exceptions import InvalidInputError, StorageError
from ..pagination import AsyncPager
from ..transfers import Progress, download_url, output_filename
from ..types._models import AdditionalFile, ClipWindow, Job, JobOptions, OutputType, SortDirection
from ..types.events import JobEvent
from ..watch import PollPolicy, Until, wait_job, watch_jobs
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

    async def retrieve(self, id: str, *, expand: Iterable[str] | None = None) -> Job:
        variables = {"jobId": check.identifier(id, "job")}
        return await self._run("GetJob", Job, variables, expand)

    async def update(
        self,
        id: str,
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

    def watch(
        self,
        job_id: str,
        *,
        interval: float = 2.0,
        max_interval: float = 30.0,
        until: Until = "outputs_ready",
        timeout: float | None = None,
        raise_on_failure: bool = False,
    ) -> AsyncGenerator[JobEvent, None]:
        """Typed events of one job, only changes, until it ends (and its outputs have URLs).

        ```python
        async for event in ugc.jobs.watch(job.id):
            print(event.kind, event)
        ```
        Polls `interval` seconds apart at first, slower (up to `max_interval`) while nothing
        changes. `until="terminal"` stops at FINISHED/FAILED without waiting for outputs.
        """
        check.identifier(job_id, "job")
        return watch_jobs(
            self._client,
            [job_id],
            until=until,
            policy=PollPolicy(interval=interval, max_interval=max_interval),
            timeout=timeout,
            raise_on_failure=raise_on_failure,
        )

    def watch_many(
        self,
        job_ids: Iterable[str],
        *,
        interval: float = 2.0,
        max_interval: float = 30.0,
        until: Until = "outputs_ready",
        timeout: float | None = None,
        raise_on_failure: bool = False,
    ) -> AsyncGenerator[JobEvent, None]:
        """Events of many jobs from one generator: up to 50 jobs per request (aliases)."""
        return watch_jobs(
            self._client,
            job_ids,
            until=until,
            policy=PollPolicy(interval=interval, max_interval=max_interval),
            timeout=timeout,
            raise_on_failure=raise_on_failure,
        )

    async def wait(
        self,
        job_id: str,
        *,
        interval: float = 2.0,
        max_interval: float = 30.0,
        until: Until = "outputs_ready",
        timeout: float | None = None,
        raise_on_failure: bool = True,
    ) -> Job:
        """The job once it has ended (by default: FINISHED with every output's URL).

        Raises `JobFailedError` when it fails (unless `raise_on_failure=False`) and
        `WatchTimeoutError` after `timeout` seconds.
        """
        return await wait_job(
            self._client,
            check.identifier(job_id, "job"),
            until=until,
            policy=PollPolicy(interval=interval, max_interval=max_interval),
            timeout=timeout,
            raise_on_failure=raise_on_failure,
        )

    async def download_outputs(
        self,
        job_id: str,
        dest_dir: str | os.PathLike[str],
        *,
        types: Iterable[OutputType | str] | None = None,
        interval: float = 2.0,
        timeout: float | None = None,
        progress: Progress | None = None,
    ) -> dict[OutputType, Path]:
        """Wait for the job's outputs, then download them all at once into `dest_dir`.

        Names are `<job id>_<output type><suffix>` (e.g. `job-..._main_fbx.fbx`), built from
        the job id and the output type, never from what the server sends. `types` limits
        the download to some outputs. Returns where each output landed.
        """
        check.identifier(job_id, "job")
        wanted = check.outputs(types) if types is not None else None
        job = await self.wait(job_id, interval=interval, timeout=timeout)
        return await self._download_ready_outputs(job, dest_dir, wanted, progress=progress)

    async def _download_ready_outputs(
        self,
        job: Job,
        dest_dir: str | os.PathLike[str],
        types: Iterable[OutputType | str] | None,
        *,
        progress: Progress | None = None,
    ) -> dict[OutputType, Path]:
        """Download the outputs of a job whose outputs already have URLs."""
        job_id = job.id
        wanted = {OutputType(t) for t in types} if types is not None else None
        directory = Path(dest_dir)
        available: dict[OutputType, AdditionalFile] = {}
        for output in job.outputs or []:
            kind = output.output_type
            if kind is not None and (wanted is None or kind in wanted):
                available[kind] = output
        if wanted is not None and wanted - available.keys():
            missing = sorted(t.value for t in wanted - available.keys())
            raise InvalidInputError(f"job {job_id} has no output of type {', '.join(missing)}")
        await anyio.Path(directory).mkdir(parents=True, exist_ok=True)
        results: dict[OutputType, Path] = {}
        totals: dict[OutputType, tuple[int, int]] = {}

        def report(kind: OutputType) -> Progress | None:
            if progress is None:
                return None

            def update(done: int, total: int) -> None:
                totals[kind] = (done, total)
                progress(sum(d for d, _ in totals.values()), sum(t for _, t in totals.values()))

            return update

        latest: list[Job] = [job]
        refreshing = anyio.Lock()

        async def fetch(kind: OutputType, output: AdditionalFile) -> None:
            in_use: list[str | None] = [output.file.presigned_url]

            async def refresh() -> str:
                # One retrieve refreshes every output whose URL expired at about the same
                # time: ask again only when the newest answer holds the URL that just failed.
                async with refreshing:
                    url = _output_url(latest[0], kind)
                    if url is None or url == in_use[0]:
                        latest[0] = await self.retrieve(job_id, expand=["outputs"])
                        url = _output_url(latest[0], kind)
                if url is None:
                    raise StorageError(f"job {job_id} no longer offers a URL for {kind.value}")
                in_use[0] = url
                return url

            url = output.file.presigned_url
            assert url is not None
            async with self._client._transfer_slots():
                results[kind] = await download_url(
                    self._client._storage_session(),
                    url,
                    directory / output_filename(job_id, kind),
                    config=self._client.transfer_config,
                    refresh=refresh,
                    progress=report(kind),
                )

        try:
            async with anyio.create_task_group() as group:
                for kind, output in available.items():
                    group.start_soon(fetch, kind, output)
        except BaseExceptionGroup as group_error:
            error = first_error(group_error)
            raise error from error.__cause__
        return {kind: results[kind] for kind in sorted(results, key=lambda k: k.value)}


def _output_url(job: Job, kind: OutputType) -> str | None:
    for item in job.outputs or []:
        if item.output_type == kind and item.file.presigned_url:
            return item.file.presigned_url
    return None
