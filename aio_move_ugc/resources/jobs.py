"""`ugc.jobs`: animation jobs for takes."""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _inputs as inputs
from .. import _validation as check
from .._exceptions import OutputMissingError
from ..pagination import AsyncPager
from ..transfers.config import Progress
from ..transfers.outputs import OutputKey, download_outputs, requested_outputs
from ..types._enums import OutputType, SortDirection
from ..types._models import ClipWindow, Job, JobOptions
from ..types.events import JobEvent
from ..watch import (
    JobWaiter,
    PollPolicy,
    Requested,
    Until,
    check_until,
    retrieve_jobs,
    wait_job,
    watch_jobs,
)
from ..watch import job_ids as job_ids_of
from ._base import Resource

if TYPE_CHECKING:
    from .._context import ClientContext

REMEMBERED_JOBS = 10_000
"""How many jobs' requested outputs a client remembers (the newest ones)."""


def check_timeout(timeout: float | None) -> None:
    if timeout is not None:
        check.positive_number(timeout, "timeout")


class Jobs(Resource):
    """`ugc.jobs`: create jobs for takes, read them, follow them, fetch their outputs.

    A job record does not say which outputs it was asked for, yet waiting for them needs to
    know: the client remembers it for the jobs it created; for others, pass `outputs=` (or
    `types=`), or the rule for unknown requests applies (see `watch`).
    """

    def __init__(self, ctx: ClientContext) -> None:
        """Built by the client (`ugc.jobs`) on its context `ctx`."""
        super().__init__(ctx)
        self._asked: dict[str, tuple[OutputType, ...]] = {}

    def _remember(self, job: Job, outputs: list[str] | None, take_type: str) -> Job:
        self._asked[job.id] = requested_outputs(outputs, take_type)
        while len(self._asked) > REMEMBERED_JOBS:
            del self._asked[next(iter(self._asked))]
        return job

    def _known(self, job_id: str, outputs: Iterable[OutputType | str] | None) -> Requested:
        """What the job was asked for, as given or remembered; None when unknown."""
        given = check.outputs(outputs) if outputs is not None else None
        if given:
            return tuple(OutputType(o) for o in given)
        return self._asked.get(job_id)

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
        """Start processing a singlecam take.

        Args:
            take_id: the take to process (`take-...`).
            name: a name for the job.
            metadata: any JSON-serialisable value kept with the job (`{}` when not given).
            options: processing options (`JobOptions` or a dict of its fields; fields newer
                than this SDK pass through).
            clip_window: only this part of the video (`start_time` < `end_time`, seconds).
            outputs: the `OutputType`s to produce; None asks for the API's defaults.
            expand: related records to include: `client`, `inputs`, `outputs`, `rig`, `take`.

        Returns:
            The new job (NOT_STARTED). The client remembers what it asked for, so `wait`,
            `watch` and `download_outputs` know when its outputs are all ready.

        Raises:
            InvalidInputError: a malformed id or option (nothing sent).
            NotFoundError: no such take. BadRequestError: the service refused the job.
            OutcomeUnknownError: the request may have been applied; look the job up with
                `jobs.list(take_id=...)` before creating it again.
        """
        asked = check.outputs(outputs)
        variables = {
            "takeId": check.identifier(take_id, "take"),
            "name": check.text(name, "name"),
            "metadata": check.create_metadata(metadata),
            "options": inputs.options(options),
            "clipWindow": inputs.clip_window(clip_window),
            "outputs": asked,
        }
        job = await self._run("CreateSingleCamJob", Job, variables, expand)
        return self._remember(job, asked, "SINGLE_CAM")

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
        """Start processing a multicam take.

        Args:
            take_id: the multicam take to process (`take-...`).
            number_of_actors: how many people to track (a positive whole number).
            options: processing options (`JobOptions` or a dict of its fields).
            outputs: the `OutputType`s to produce; None asks for the API's defaults.
            rig: the rig to animate (see `ugc.rigs.list()`); None: the API's, `move_mo`.
            name: a name for the job.
            clip_window: only this part of the videos (`start_time` < `end_time`, seconds).
            metadata: any JSON-serialisable value kept with the job (`{}` when not given).
            expand: related records to include: `client`, `inputs`, `outputs`, `rig`, `take`.

        Returns:
            The new job (NOT_STARTED).

        Raises:
            InvalidInputError: a malformed id or option (nothing sent).
            NotFoundError: no such take. BadRequestError: the service refused the job.
            OutcomeUnknownError: the request may have been applied; look it up first.
        """
        asked = check.outputs(outputs)
        variables = {
            "takeId": check.identifier(take_id, "take"),
            "numberOfActors": check.positive_number(
                number_of_actors, "number_of_actors", integer=True
            ),
            "options": inputs.options(options),
            "outputs": asked,
            "rig": check.text(rig, "rig", allow_empty=False),
            "name": check.text(name, "name"),
            "clipWindow": inputs.clip_window(clip_window),
            "metadata": check.create_metadata(metadata),
        }
        job = await self._run("CreateMultiCamJob", Job, variables, expand)
        return self._remember(job, asked, "MULTI_CAM")

    async def retrieve(self, id: str, *, expand: Iterable[str] | None = None) -> Job:
        """One job by `id` (`job-...`), as it is now; `expand` may name `client`, `inputs`,
        `outputs` (their download URLs), `rig` and `take`. Raises `NotFoundError` for an
        unknown job, `InvalidInputError` for a malformed id (nothing sent)."""
        variables = {"jobId": check.identifier(id, "job")}
        return await self._run("GetJob", Job, variables, expand)

    async def retrieve_many(self, ids: Iterable[str]) -> dict[str, Job]:
        """Many jobs as they are now, up to 50 per request (GraphQL aliases): ceil(N/50)
        requests for N ids, with their outputs (and download URLs once ready).

        ```python
        jobs = await ugc.jobs.retrieve_many(job_ids)
        unknown = set(job_ids) - set(jobs)
        ```
        Returns a dict from id to `Job`, in the order of `ids` (repeats once); ids the API does
        not know are left out. Raises `InvalidInputError` for a malformed id (nothing sent),
        and the API's error when it could not read one of the jobs (an error entry about that
        job alone: the others' answer is not enough to go on with).
        """
        return await retrieve_jobs(self._ctx, job_ids_of(ids))

    async def update(
        self,
        id: str,
        *,
        metadata: Any = None,
        name: str | None = None,
        expand: Iterable[str] | None = None,
    ) -> Job:
        """Change a job's `name` and/or `metadata` (a field left None is left as it is) and
        return it; `id` is the job's (`job-...`), `expand` as for `retrieve`. Raises
        `NotFoundError` for an unknown job."""
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
        """Jobs, newest first by default, as an `AsyncPager` (`await` it for one page,
        `async for` over it for every job).

        Args:
            limit: jobs per page (at least 1; the service decides its own ceiling).
            next_token: continue after a page already read (its `next_token`).
            sort_by: `DESC` (newest first, the default) or `ASC`, by creation time.
            take_id: only the jobs of this take.
            expand: related records to include: `client`, `inputs`, `outputs`, `rig`, `take`.

        Bad values raise `InvalidInputError` here, before anything is sent.
        """
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
        outputs: Iterable[OutputType | str] | None = None,
    ) -> AsyncGenerator[JobEvent, None]:
        """Typed events of the job `job_id`, only changes, until it ends (and its outputs
        have URLs).

        ```python
        async for event in ugc.jobs.watch(job.id):
            print(event.kind, event)
        ```
        Polls `interval` seconds apart at first (default 5), then less often as the job's
        state stays the same (up to `max_interval`, default 60): a 10-minute job costs fewer
        than 30 requests. `until="terminal"` stops at FINISHED/FAILED without waiting for
        outputs. With `raise_on_failure`, a failed job raises `JobFailedError`; after
        `timeout` seconds, `WatchTimeoutError` (`OutputsNotReadyError` when the job finished
        but outputs it was asked for still have no URL). `outputs` says what the job was asked
        for, when this client did not create it. Without it, such a job is ready once it lists
        every default output with a URL, or once every listed output has a URL and the list
        has stayed the same for 10 seconds and twice as long as it took to grow. A job whose
        settled list lacks an output it was asked for raises `OutputMissingError` at once,
        naming what it lists.

        Pacing counts from the start of the watch, queue included (a job starting does not
        make it ask more often): a job queued 5 minutes then running 10 costs at most 40
        requests. A job that cannot be read (an error the API reports about it alone) is
        asked again; after `max_failures` (5) failed looks in a row, or at once when the
        error is not transient, the watch raises it.
        """
        return self.watch_many(
            [check.identifier(job_id, "job")],
            interval=interval,
            max_interval=max_interval,
            until=until,
            timeout=timeout,
            raise_on_failure=raise_on_failure,
            outputs=outputs,
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
        outputs: Iterable[OutputType | str] | None = None,
    ) -> AsyncGenerator[JobEvent, None]:
        """Events of the jobs `job_ids` from one generator: up to 50 jobs per request
        (aliases), so following N jobs costs ceil(N/50) requests per round. Jobs leave the
        watch as they end (or are not found, with a `JobNotFound` event).

        `interval`, `max_interval`, `until`, `timeout` and `raise_on_failure` work as in
        `watch` (pacing from the time since the last state change; `WatchTimeoutError` at
        the deadline; `JobFailedError` on the first failure when `raise_on_failure`).
        `outputs` (what every one of the jobs was asked for) is needed only for jobs this
        client did not create; without it such a job is judged as `watch` says. Bad
        arguments raise `InvalidInputError` before anything is sent."""
        ids = job_ids_of(job_ids)
        wanted = {job_id: self._known(job_id, outputs) for job_id in ids}
        policy = PollPolicy.of(interval, max_interval)
        check_timeout(timeout)
        return watch_jobs(
            self._ctx,
            ids,
            until=check_until(until),
            policy=policy,
            timeout=timeout,
            raise_on_failure=check.flag(raise_on_failure, "raise_on_failure"),
            outputs=wanted,
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
        outputs: Iterable[OutputType | str] | None = None,
    ) -> Job:
        """The job `job_id` once it has ended (by default, `until="outputs_ready"`: FINISHED
        with a URL for every output it was asked for — `outputs`, remembered for jobs this
        client created; see `watch` for a job whose request is unknown; `until="terminal"`:
        as soon as it is FINISHED or FAILED). Polls from `interval` seconds up to
        `max_interval` as `watch` does.

        Raises `JobFailedError` when it fails (unless `raise_on_failure=False`),
        `WatchTimeoutError` after `timeout` seconds (`OutputsNotReadyError`, naming them,
        when only outputs were missing) and `NotFoundError` for an unknown job.
        """
        policy = PollPolicy.of(interval, max_interval)
        check_timeout(timeout)
        job_id = check.identifier(job_id, "job")
        until = check_until(until)
        raise_on_failure = check.flag(raise_on_failure, "raise_on_failure")
        wanted = self._known(job_id, outputs)
        return await wait_job(
            self._ctx,
            job_id,
            until=until,
            policy=policy,
            timeout=timeout,
            raise_on_failure=raise_on_failure,
            outputs=wanted,
        )

    def waiter(
        self, *, interval: float | None = None, max_interval: float | None = None
    ) -> JobWaiter:
        """A shared waiter: many tasks each wait for their own job (`await w.wait(job_id)`)
        and one loop (`await w.run()`, in a task of its own) serves them all, ceil(N/50)
        requests a round, paced as `watch` is: from `interval` seconds (default 5) up to
        `max_interval` (default 60). A wait without `outputs` on a job this client created
        waits for what it asked for. Bulk runs and the distributed worker use it.
        """
        policy = PollPolicy.of(interval, max_interval)
        return JobWaiter(self._ctx, policy, remembered=self._asked.get)

    async def download_outputs(
        self,
        job_id: str,
        dest_dir: str | os.PathLike[str],
        *,
        types: Iterable[OutputType | str] | None = None,
        interval: float | None = None,
        timeout: float | None = None,
        progress: Progress | None = None,
        outputs: Iterable[OutputType | str] | None = None,
    ) -> dict[OutputKey, Path]:
        """Wait for the outputs of the job `job_id` (polling from `interval` seconds, as
        `watch` does), then download them all at once into `dest_dir`; `progress(done,
        total)` is called with the bytes of all of them together.

        Names are `<job id>_<output type><suffix>` (e.g. `job-..._main_fbx.fbx`), built from
        the job id and the output type, never from what the server sends. `types` limits
        the download to some outputs (and is what is waited for); otherwise every output the
        job was asked for (`outputs`, remembered for jobs this client created, else as `watch`
        says) is waited for, and every listed output is downloaded — one whose type cannot
        be told under its label (an `OutputLabel` key, file `<job id>_<label>.<file type>`).
        Returns where each output landed. Raises `OutputsNotReadyError` when `timeout` passes
        with outputs still missing, and `OutputMissingError`, naming what the job lists, for a
        `types` entry the job does not have: as soon as its settled list (see `watch`) lacks it.
        """
        check.identifier(job_id, "job")
        wanted = check.outputs(types) if types is not None else None
        directory = check.directory(dest_dir, "dest_dir")
        policy = PollPolicy.of(interval, None)
        check_timeout(timeout)
        known = self._known(job_id, outputs)
        requested: Requested
        if wanted:
            absent = [o for o in wanted if known is not None and OutputType(o) not in known]
            if absent:
                asked = ", ".join(kind.value for kind in known or ())
                raise OutputMissingError(job_id, absent, detail=f"it was asked for: {asked}")
            requested = tuple(OutputType(o) for o in wanted)
        else:
            requested = known
        job = await wait_job(self._ctx, job_id, policy=policy, timeout=timeout, outputs=requested)
        return await download_outputs(
            self._ctx,
            job,
            directory,
            wanted,
            retrieve=lambda: self.retrieve(job_id, expand=["outputs"]),
            progress=progress,
            requested=requested,
        )
