"""The idempotent steps of a bulk input, shared by the local runner and the Temporal activities.

One definition each of: what an input is (`BulkItem`, `as_item`, `normalise_outputs`), which
files of a directory or glob are inputs (`discover`), an input's identity (`identity`, read by
`read_digests`), the marker that ties a take and a job to their input (`MARKER_KEY`, `marked`),
the lookups that find what a killed or unanswered create made (`find_take`, `find_job`), the
check that storage already holds a video (`stored_before`), and the creates themselves
(`create_take`, `create_job`), which look before they create again.

**Identity.** An input is the SHA-256 of its video's bytes together with the outputs it asks
for (`identity`): two videos that differ in one byte are two inputs, and so is one video asked
for other outputs; the file's name, place and timestamps play no part. Both bulk modes use
this one definition: a local journal's keys and a Temporal workflow's id are the same string.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import anyio

from . import _validation as check
from ._exceptions import ConfigurationError, InvalidInputError, MoveUgcError
from ._retry import create_with_lookup, find_eventually
from .transfers.upload import VIDEO_TYPES
from .types._enums import OutputType, SourceFormat
from .types._models import Job, SourceIn, Take

if TYPE_CHECKING:
    from ._clock import Clock
    from .resources.files import Files
    from .resources.jobs import Jobs
    from .resources.takes import Takes
    from .transfers.outputs import OutputKey

log = logging.getLogger("aio_move_ugc.bulk")

MARKER_KEY = "aio_move_ugc_input"
"""Metadata key that ties a file record, a take and a job to the input (its identity) they
were made for, in both bulk modes."""
IDENTITY_VERSION = 1
"""Changes whenever `identity` would give another value for the same input."""
LOOKUP_SLACK = 300.0
"""How far before an intent a record found by lookup may have been created (clock skew)."""
LOOKUP_WINDOW = 5.0
"""Seconds a create whose outcome is unknown is looked for before the input gives up with
`OutcomeUnknownError` (list queries can lag behind a write by a few seconds)."""
READ_SIZE = 1 << 20
"""Bytes hashed between two checks for cancellation (about a millisecond of work)."""


@dataclass(frozen=True)
class BulkItem:
    """One input of a bulk run: a video and how to process it.

    Bad values raise `ConfigurationError` here (the video itself is checked when the run
    reaches it: a missing or empty file fails that input alone).
    """

    path: Path
    device_label: str = "camera"
    name: str | None = None
    metadata: Any = None
    outputs: tuple[OutputType, ...] | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "path", check.path(self.path, "path"))
            check.text(self.device_label, "device_label", allow_empty=False)
            if self.device_label is None:
                raise InvalidInputError("device_label must be a string")
            check.text(self.name, "name")
            check.metadata(self.metadata)
            if self.outputs is not None:
                chosen = check.outputs(self.outputs) or []
                object.__setattr__(self, "outputs", tuple(OutputType(v) for v in chosen))
        except InvalidInputError as exc:
            raise ConfigurationError(f"BulkItem: {exc}") from None


@dataclass
class BulkResult:
    """What became of one input."""

    item: BulkItem
    ok: bool
    key: str = ""
    file_id: str | None = None
    take_id: str | None = None
    job_id: str | None = None
    outputs: dict[OutputKey, Path] = field(default_factory=dict)
    error: MoveUgcError | None = None
    skipped: bool = False
    """True when a previous run had already finished this input."""


# ------------------------------------------------------------------ inputs
def normalise_outputs(
    outputs: Sequence[OutputType | str] | None,
) -> tuple[OutputType, ...] | None:
    """The output types asked for, checked and without repeats (None: the API's defaults)."""
    values = check.outputs(outputs)
    return tuple(OutputType(v) for v in values) if values else None


def as_item(
    raw: str | os.PathLike[str] | BulkItem, default_outputs: tuple[OutputType, ...] | None
) -> BulkItem:
    """An input as a `BulkItem`, taking `default_outputs` when it names none."""
    if isinstance(raw, BulkItem):
        if raw.outputs is None and default_outputs is not None:
            return BulkItem(raw.path, raw.device_label, raw.name, raw.metadata, default_outputs)
        return raw
    if isinstance(raw, bool) or not isinstance(raw, str | os.PathLike):
        raise InvalidInputError(
            f"each input must be a path or a BulkItem, not {type(raw).__name__}"
        )
    return BulkItem(check.path(raw, "input"), outputs=default_outputs)


def discover(pattern: str) -> tuple[list[Path], list[Path]]:
    """A directory's videos, or the videos a glob matches, in a stable order; and the other
    files it matched (which are not inputs). Videos are the files whose suffix the API takes
    (`.mp4`, `.mov`, `.avi`, `.move`); `InvalidInputError` when there is none."""
    base = Path(pattern)
    if base.is_dir():
        matched = [p for p in base.iterdir() if p.is_file()]
    else:
        anchor = Path(base.anchor) if base.is_absolute() else Path()
        relative = str(base.relative_to(anchor)) if base.is_absolute() else pattern
        matched = [p for p in anchor.glob(relative) if p.is_file()]
    found = [p for p in matched if p.suffix.lower() in VIDEO_TYPES]
    others = [p for p in matched if p.suffix.lower() not in VIDEO_TYPES]
    if not found:
        kinds = ", ".join(VIDEO_TYPES)
        raise InvalidInputError(f"no videos ({kinds}) found at {pattern}")
    return sorted(found), sorted(others)


# ------------------------------------------------------------------ identity
@dataclass(frozen=True)
class Digests:
    """What one read of a video's bytes gives: the SHA-256 its identity is made of, and the
    MD5 the storage's ETag must show once it is uploaded."""

    content: str
    md5: str


def _digest(path: Path, stop: threading.Event) -> Digests | None:
    content = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(READ_SIZE):
            if stop.is_set():
                return None  # cancelled: the caller has gone
            content.update(chunk)
            md5.update(chunk)
    return Digests(content.hexdigest(), md5.hexdigest())


async def read_digests(path: Path) -> Digests:
    """Both digests of a video, read in a worker thread.

    Cancellation is prompt whatever the file's size: the caller returns at once, and the thread
    stops at its next chunk (a mebibyte) instead of reading the rest of the file."""
    stop = threading.Event()
    try:
        found = await anyio.to_thread.run_sync(_digest, path, stop, abandon_on_cancel=True)
    finally:
        stop.set()
    if found is None:  # pragma: no cover - only when cancelled, which raises first
        raise anyio.get_cancelled_exc_class()()
    return found


def identity(content: str, outputs: Sequence[OutputType | str] | None) -> str:
    """An input's identity: the SHA-256 of its bytes (`content`, hex) and of the outputs it
    asks for (None: the API's defaults), in a form that does not depend on their order."""
    chosen = sorted(OutputType(o).value for o in outputs) if outputs else None
    options = json.dumps({"v": IDENTITY_VERSION, "outputs": chosen}, sort_keys=True)
    return hashlib.sha256(f"{content}\x00{options}".encode()).hexdigest()


# ------------------------------------------------------------------ marker and lookups
def marked(metadata: Any, key: str) -> dict[str, Any]:
    """The metadata a take or job of input `key` carries: the caller's, plus the marker."""
    base = (
        metadata if isinstance(metadata, dict) else ({} if metadata is None else {"user": metadata})
    )
    return {**base, MARKER_KEY: key}


async def find_take(takes: Takes, key: str, *, since: float) -> str | None:
    """The take made for input `key`, found by its marker among the takes newer than `since`
    (epoch seconds), or None."""
    take: Take
    async for take in takes.list(limit=100):
        if isinstance(take.metadata, dict) and take.metadata.get(MARKER_KEY) == key:
            return take.id
        if take.created is not None and take.created.timestamp() < since:
            return None
    return None


async def find_job(jobs: Jobs, take_id: str, *, exclude: Sequence[str] = ()) -> str | None:
    """The live job of a take: every job of an input's take is that input's (the take is its
    alone), and the newest not in `exclude` (jobs that failed before) is the live one."""
    job: Job
    # Every page, not the first alone: a page may be empty while its cursor goes on (a filter
    # applied after the page limit), and a job missed here would be created a second time.
    async for job in jobs.list(take_id=take_id, limit=20):
        if job.id not in exclude:
            return job.id
    return None


async def stored_before(
    files: Files, file_id: str, *, path: Path, size: int, md5: str | None
) -> bool:
    """True when storage holds this very video (same size and MD5) for `file_id`: how a run
    killed between its upload and its record learns that the bytes arrived."""
    try:
        found = await files.probe(file_id)
    except MoveUgcError as exc:
        log.info("cannot tell whether %s was stored (%s); uploading again", path.name, exc)
        return False
    if found is None or found[0] != size or found[1] is None:
        return False
    if md5 is None:
        md5 = (await read_digests(path)).md5
    return found[1] == md5


# ------------------------------------------------------------------ creates
@dataclass(frozen=True)
class Lookup:
    """How creates look for what an unanswered try may have made."""

    clock: Clock
    window: float = LOOKUP_WINDOW
    """Seconds (of `clock`) to keep looking before giving up with `OutcomeUnknownError`."""


class TakeOptions(Protocol):
    """What a take is made with besides its video (a `BulkItem` has it)."""

    @property
    def device_label(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def metadata(self) -> Any: ...


class JobOptions(Protocol):
    """What a job is made with besides its take (a `BulkItem` has it)."""

    @property
    def outputs(self) -> Sequence[OutputType | str] | None: ...
    @property
    def name(self) -> str | None: ...
    @property
    def metadata(self) -> Any: ...


async def create_take(
    takes: Takes,
    key: str,
    options: TakeOptions,
    *,
    file_id: str,
    file_type: str,
    lookup: Lookup,
    since: Callable[[], float],
    before: Callable[[], Awaitable[object]] | None = None,
) -> str:
    """Create the take of input `key`, marked with its identity. When the create's outcome is
    unknown, the take is looked for (`find_take`, back to `since()`) over `lookup.window`; when
    it is still not found, `OutcomeUnknownError` is raised, never a second create."""
    source = SourceIn(
        device_label=options.device_label, file_id=file_id, format=SourceFormat(file_type)
    )
    metadata = marked(options.metadata, key)

    async def create() -> str:
        take = await takes.create_singlecam([source], name=options.name, metadata=metadata)
        return take.id

    return await create_with_lookup(
        create,
        lambda: find_take(takes, key, since=since()),
        before=before,
        window=lookup.window,
        clock=lookup.clock,
    )


async def create_job(
    jobs: Jobs,
    key: str,
    options: JobOptions,
    *,
    take_id: str,
    exclude: Sequence[str],
    lookup: Lookup,
    before: Callable[[], Awaitable[object]] | None = None,
) -> str:
    """Create the job of input `key` on its take, as `create_take` does (looked for with
    `find_job`, the jobs in `exclude` not counting)."""

    async def create() -> str:
        job = await jobs.create_singlecam(
            take_id,
            outputs=list(options.outputs) if options.outputs else None,
            name=options.name,
            metadata=marked(options.metadata, key),
        )
        return job.id

    return await create_with_lookup(
        create,
        lambda: find_job(jobs, take_id, exclude=exclude),
        before=before,
        window=lookup.window,
        clock=lookup.clock,
    )


async def look_again(find: Callable[[], Awaitable[str | None]], lookup: Lookup) -> str | None:
    """What an earlier, unanswered create made, looked for over `lookup.window` (one empty
    answer proves nothing while list queries lag behind writes)."""
    return await find_eventually(find, window=lookup.window, clock=lookup.clock)


def result_row(result: BulkResult) -> dict[str, Any]:
    """One input's result as `bulk --json` prints it, locally and on Temporal alike: one JSON
    object a line (paths as strings, the error as its message)."""
    return {
        "video": str(result.item.path),
        "ok": result.ok,
        "skipped": result.skipped,
        "key": result.key,
        "take_id": result.take_id,
        "job_id": result.job_id,
        "outputs": {k.value: str(p) for k, p in result.outputs.items()},
        "error": str(result.error) if result.error else None,
    }
