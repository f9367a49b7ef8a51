"""Downloading a job's outputs: all at once, each under a name we build, URLs refreshed together."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from .._concurrency import first_error
from .._exceptions import InvalidInputError, StorageError
from ..types._models import AdditionalFile, Job, OutputType
from .config import Progress
from .download import check_destination, download_url
from .naming import output_filename

if TYPE_CHECKING:
    from .._context import ClientContext


def output_url(job: Job, kind: OutputType) -> str | None:
    """The download URL the job offers for one output type, if any yet."""
    for item in job.outputs or []:
        if item.output_type == kind and item.file.presigned_url:
            return item.file.presigned_url
    return None


class _Latest:
    """The newest answer about the job: one retrieve refreshes every output whose URL expired
    at about the same time, since a new answer is asked for only when the newest one still
    holds the URL that just failed."""

    def __init__(self, job: Job, retrieve: Callable[[], Awaitable[Job]]) -> None:
        self.job = job
        self._retrieve = retrieve
        self._lock = anyio.Lock()

    async def url_after(self, kind: OutputType, failed: str | None) -> str:
        async with self._lock:
            url = output_url(self.job, kind)
            if url is None or url == failed:
                self.job = await self._retrieve()
                url = output_url(self.job, kind)
        if url is None:
            raise StorageError(f"job {self.job.id} no longer offers a URL for {kind.value}")
        return url


class _Totals:
    """Adds up the progress of outputs moving at once into one `progress(done, total)`."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._each: dict[OutputType, tuple[int, int]] = {}

    def of(self, kind: OutputType) -> Progress | None:
        if self._progress is None:
            return None

        def update(done: int, total: int) -> None:
            self._each[kind] = (done, total)
            assert self._progress is not None
            self._progress(
                sum(d for d, _ in self._each.values()), sum(t for _, t in self._each.values())
            )

        return update


def choose_outputs(
    job: Job, types: Iterable[OutputType | str] | None
) -> dict[OutputType, AdditionalFile]:
    """The outputs of `job` to fetch: all of them, or those of `types` (each must be there)."""
    wanted = {OutputType(t) for t in types} if types is not None else None
    available: dict[OutputType, AdditionalFile] = {}
    for output in job.outputs or []:
        kind = output.output_type
        if kind is not None and (wanted is None or kind in wanted):
            available[kind] = output
    if wanted is not None and wanted - available.keys():
        missing = sorted(t.value for t in wanted - available.keys())
        raise InvalidInputError(f"job {job.id} has no output of type {', '.join(missing)}")
    return available


async def download_outputs(
    ctx: ClientContext,
    job: Job,
    dest_dir: Path,
    types: Iterable[OutputType | str] | None,
    *,
    retrieve: Callable[[], Awaitable[Job]],
    progress: Progress | None = None,
) -> dict[OutputType, Path]:
    """Download the outputs of a job whose outputs already have URLs, all at once, into
    `dest_dir`; `retrieve()` asks for the job again when URLs expire."""
    chosen = choose_outputs(job, types)
    targets = {kind: dest_dir / output_filename(job.id, kind) for kind in chosen}
    for target in targets.values():
        await anyio.to_thread.run_sync(check_destination, target)
    await anyio.Path(dest_dir).mkdir(parents=True, exist_ok=True)
    latest = _Latest(job, retrieve)
    totals = _Totals(progress)
    results: dict[OutputType, Path] = {}

    async def fetch(kind: OutputType, output: AdditionalFile) -> None:
        in_use = output.file.presigned_url

        async def refresh() -> str:
            nonlocal in_use
            in_use = await latest.url_after(kind, in_use)
            return in_use

        async with ctx.transfer_slots():
            results[kind] = await download_url(
                ctx, in_use or refresh, targets[kind], refresh=refresh, progress=totals.of(kind)
            )

    error: BaseException | None = None
    try:
        async with anyio.create_task_group() as group:
            for kind, output in chosen.items():
                group.start_soon(fetch, kind, output)
    except BaseExceptionGroup as group_error:
        error = first_error(group_error)
    if error is not None:
        raise error  # outside the handler: its own chain, not the group around it
    return {kind: results[kind] for kind in sorted(results, key=lambda k: k.value)}
