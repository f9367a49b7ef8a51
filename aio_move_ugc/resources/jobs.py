"""`ugc.jobs`: animation jobs for takes."""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Iterable
from pathlib import Path
from typing import Any

from .. import _validation as check
from ..pagination import AsyncPager
from ..transfers.config import Progress
from ..transfers.outputs import download_outputs
from ..types._models import ClipWindow, Job, JobOptions, OutputType, SortDirection
from ..types.events import JobEvent
from ..watch import PollPolicy, Until, check_until, wait_job, watch_jobs
from ..watch import job_ids as job_ids_of
from ._base import Resource


def check_timeout(timeout: float | None) -> None:
    if timeout is not None:
        check.positive_number(timeout, "timeout")


class Jobs(Resource):
    """`ugc.jobs`: create jobs for takes, read them, follow them, fetch their outputs."""

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
        interval: float | None = None,
        max_interval: float | None = None,
        until: Until = "outputs_ready",
        timeout: float | None = None,
        raise_on_failure: bool = False,
    ) -> AsyncGenerator[JobEvent, None]:
        """Typed events of one job, only changes, until it ends (and its outputs have URLs).

        ```python
        async for event in ugc.jobs.watch(job.id):
            print(event.kind, event)
        ```
        Polls `interval` seconds apart at first (default 5), then less often as the job's
        state stays the same (up to `max_interval`, default 60): a 10-minute job costs fewer
        than 30 requests. `until="terminal"` stops at FINISHED/FAILED without waiting for
        outputs. With `raise_on_failure`, a failed job raises `JobFailedError`; after
        `timeout` seconds, `WatchTimeoutError`.
        """
        return self.watch_many(
            [check.identifier(job_id, "job")],
            interval=interval,
            max_interval=max_interval,
            until=until,
            timeout=timeout,
            raise_on_failure=raise_on_failure,
        )

    def watch_many(
        self,
        job_ids: Iterable[str],
        *,
        interval: float | None = None,
        max_interval: float | None = None,
        until: Until = "outputs_ready",
        timeout: float | None = None,
        raise_on_failure: bool = False,
    ) -> AsyncGenerator[JobEvent, None]:
        """Events of many jobs from one generator: up to 50 jobs per request (aliases), so
        following N jobs costs ceil(N/50) requests per round. Jobs leave the watch as they
        end (or are not found); the pacing and failure rules are those of `watch`."""
        ids = job_ids_of(job_ids)
        policy = PollPolicy.of(interval, max_interval)
        check_timeout(timeout)
        return watch_jobs(
            self._ctx,
            ids,
            until=check_until(until),
            policy=policy,
            timeout=timeout,
            raise_on_failure=check.flag(raise_on_failure, "raise_on_failure"),
        )

    async def wait(
        self,
        job_id: str,
        *,
        interval: float | None = None,
        max_interval: float | None = None,
        until: Until = "outputs_ready",
        timeout: float | None = None,
        raise_on_failure: bool = True,
    ) -> Job:
        """The job once it has ended (by default: FINISHED with every output's URL).

        Raises `JobFailedError` when it fails (unless `raise_on_failure=False`),
        `WatchTimeoutError` after `timeout` seconds and `NotFoundError` for an unknown job.
        """
        policy = PollPolicy.of(interval, max_interval)
        check_timeout(timeout)
        return await wait_job(
            self._ctx,
            check.identifier(job_id, "job"),
            until=check_until(until),
            policy=policy,
            timeout=timeout,
            raise_on_failure=check.flag(raise_on_failure, "raise_on_failure"),
        )

    async def download_outputs(
        self,
        job_id: str,
        dest_dir: str | os.PathLike[str],
        *,
        types: Iterable[OutputType | str] | None = None,
        interval: float | None = None,
        timeout: float | None = None,
        progress: Progress | None = None,
    ) -> dict[OutputType, Path]:
        """Wait for the job's outputs, then download them all at once into `dest_dir`.

        Names are `<job id>_<output type><suffix>` (e.g. `job-..._main_fbx.fbx`), built from
        the job id and the output type, never from what the server sends. `types` limits
        the download to some outputs. Returns where each output landed. Calling it twice at
        once for one job (a webhook delivered twice) downloads once: both get the result.
        """
        check.identifier(job_id, "job")
        wanted = check.outputs(types) if types is not None else None
        directory = check.directory(dest_dir, "dest_dir")
        policy = PollPolicy.of(interval, None)
        check_timeout(timeout)
        job = await wait_job(self._ctx, job_id, policy=policy, timeout=timeout)
        return await download_outputs(
            self._ctx,
            job,
            directory,
            wanted,
            retrieve=lambda: self.retrieve(job_id, expand=["outputs"]),
            progress=progress,
        )
