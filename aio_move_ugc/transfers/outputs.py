"""A job's outputs: which `OutputType` each listed output is, whether every requested one is
ready, and downloading them all at once, each under a name we build, URLs refreshed together.

How the hosted service labels outputs was never observed (see docs/emulator-assumptions.md):
`MAIN_FBX`, `main_fbx` and `fbx` are all read. A label shared by several types (`mp4`, `json`,
`zip`) is told apart by the file's name or key and by what the job was asked for; an output
that still cannot be told apart is downloaded anyway, under its label, never dropped.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from .._concurrency import first_error
from .._exceptions import OutputMissingError, StorageError
from ..types._enums import OutputType
from ..types._models import AdditionalFile, Job
from .config import Progress
from .download import check_destination, download_url
from .naming import OUTPUT_SUFFIXES, label_filename, output_filename

if TYPE_CHECKING:
    from .._context import ClientContext

log = logging.getLogger("aio_move_ugc.outputs")

SINGLECAM_DEFAULT_OUTPUTS: tuple[OutputType, ...] = (
    OutputType.RENDER_VIDEO,
    OutputType.MAIN_FBX,
    OutputType.MAIN_USDC,
    OutputType.MAIN_USDZ,
    OutputType.MAIN_BLEND,
    OutputType.MOTION_DATA,
    OutputType.RENDER_OVERLAY_VIDEO,
)
"""What a singlecam job produces when no outputs are asked for (documented)."""
MULTICAM_DEFAULT_OUTPUTS: tuple[OutputType, ...] = SINGLECAM_DEFAULT_OUTPUTS[:-1]
"""What a multicam job produces when no outputs are asked for (documented)."""


class OutputLabel(str):
    """The key of a downloaded output no `OutputType` could be told for: its label as the
    service spelled it. `.value` is the label, as `OutputType.value` is the type's name."""

    __slots__ = ()

    @property
    def value(self) -> str:
        return str(self)


OutputKey = OutputType | OutputLabel
"""What `download_outputs` keys its answer by."""


def output_key(value: str) -> OutputKey:
    """The key a stored `.value` stands for: the `OutputType` of that name, else the label."""
    try:
        return OutputType(value)
    except ValueError:
        return OutputLabel(value)


def defaults_for(take_type: object) -> tuple[OutputType, ...]:
    """The outputs a job produces when none were asked for, by the type of its take."""
    if isinstance(take_type, str) and take_type.upper().replace("-", "_") == "MULTI_CAM":
        return MULTICAM_DEFAULT_OUTPUTS
    return SINGLECAM_DEFAULT_OUTPUTS


def requested_outputs(
    outputs: Iterable[OutputType | str] | None, take_type: str = "SINGLE_CAM"
) -> tuple[OutputType, ...]:
    """What a job was asked for: `outputs`, or the defaults of its take type when none."""
    chosen = tuple(dict.fromkeys(OutputType(o) for o in outputs or ()))
    return chosen or defaults_for(take_type)


# ------------------------------------------------------------------ telling outputs apart
def _words(text: object) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w] if isinstance(text, str) else []


def _extension_types() -> dict[str, frozenset[OutputType]]:
    table: dict[str, set[OutputType]] = {}
    for kind, suffix in OUTPUT_SUFFIXES.items():
        table.setdefault(suffix.rsplit(".", 1)[-1], set()).add(kind)
    return {ext: frozenset(kinds) for ext, kinds in table.items()}


EXTENSION_TYPES = _extension_types()
"""File extension → the output types whose file has it (`mp4` → both videos, `zip` → ALL_*)."""
_TYPE_WORDS = {kind: kind.value.lower().split("_") for kind in OutputType}


def _named_in(words: list[str]) -> OutputType | None:
    """The output type whose whole name appears, word by word, in `words` (longest first)."""
    best: OutputType | None = None
    for kind, name in _TYPE_WORDS.items():
        for start in range(len(words) - len(name) + 1):
            if words[start : start + len(name)] == name:
                if best is None or len(name) > len(_TYPE_WORDS[best]):
                    best = kind
                break
    return best


def _basename(key: object) -> str | None:
    return key.rsplit("/", 1)[-1] if isinstance(key, str) else None


def output_candidates(output: AdditionalFile) -> frozenset[OutputType]:
    """The output types `output` may be, from its label (`key`, `format`), its file's name,
    key and type; empty when nothing points at any."""
    for label in (output.key, output.format):
        words = _words(label)
        if words:
            exact = _named_in(words)
            if exact is not None and len(_TYPE_WORDS[exact]) == len(words):
                return frozenset({exact})
    extension: frozenset[OutputType] | None = None
    for hint in (output.key, output.format, output.file.type):
        words = _words(hint)
        if len(words) == 1 and words[0] in EXTENSION_TYPES:
            extension = EXTENSION_TYPES[words[0]]
            break
    file_key = (output.file.model_extra or {}).get("key")
    names = [_words(output.file.name), _words(_basename(file_key))]
    for words in names:
        named = _named_in(words)
        if named is not None and (extension is None or named in extension):
            return frozenset({named})
    if extension is None:
        for words in names:
            if words and words[-1] in EXTENSION_TYPES:
                extension = EXTENSION_TYPES[words[-1]]
                break
    if extension is None:
        return frozenset()
    if len(extension) > 1:
        # A word of a type's name in the file's name (`overlay`, `sync`, `fbx` of fbx.zip).
        said = {w for words in names for w in words}
        scores = {kind: len(said & set(_TYPE_WORDS[kind])) for kind in extension}
        top = max(scores.values())
        if top:
            extension = frozenset(k for k, s in scores.items() if s == top)
    return extension


def match_outputs(
    outputs: Sequence[AdditionalFile], requested: Sequence[OutputType] | None
) -> tuple[dict[OutputType, AdditionalFile], list[AdditionalFile]]:
    """Each output's type where it can be told, and the outputs where it cannot.

    An output that may be several types is narrowed down to those not yet taken by another
    output, and then to those that were requested; it is matched when one is left.
    """
    matched: dict[OutputType, AdditionalFile] = {}
    pending: list[tuple[AdditionalFile, frozenset[OutputType]]] = []
    for output in outputs:
        candidates = output_candidates(output)
        if len(candidates) == 1 and next(iter(candidates)) not in matched:
            matched[next(iter(candidates))] = output
        else:
            pending.append((output, candidates))
    wanted = frozenset(requested or ())
    progress = True
    while pending and progress:
        progress = False
        for entry in list(pending):
            output, candidates = entry
            left = candidates - matched.keys()
            if len(left) > 1 and left & wanted:
                left = left & wanted
            if len(left) == 1:
                matched[next(iter(left))] = output
                pending.remove(entry)
                progress = True
    return matched, [output for output, _ in pending]


def missing_outputs(job: Job, requested: Sequence[OutputType]) -> list[OutputType]:
    """The requested outputs `job` does not yet list with a download URL (in request order).

    An output that could not be told apart stands for one of the missing types it may be.
    """
    ready = [o for o in job.outputs or [] if o.file.presigned_url]
    matched, unmatched = match_outputs(ready, requested)
    missing = [kind for kind in requested if kind not in matched]
    for output in unmatched:
        could_be = output_candidates(output)
        for kind in missing:
            if kind in could_be:
                missing.remove(kind)
                break
    return missing


def outputs_ready(job: Job, requested: Sequence[OutputType] | None) -> bool:
    """Whether every requested output of a FINISHED job is listed with a URL; when what was
    asked for is unknown (`None`), whether every default output of a singlecam job is (the
    polling engine has a further rule for that case, which needs time)."""
    return not missing_outputs(job, SINGLECAM_DEFAULT_OUTPUTS if requested is None else requested)


# ------------------------------------------------------------------ downloading
def label_of(output: AdditionalFile) -> str:
    """A short, path-free name for an output: the words of its label or file type."""
    for text in (output.key, output.format, output.file.type):
        words = _words(_basename(text))
        if words:
            return "_".join(words)[:60]
    return "output"


def choose_outputs(
    job: Job,
    types: Iterable[OutputType | str] | None,
    requested: Sequence[OutputType] | None = None,
) -> dict[OutputKey, AdditionalFile]:
    """The outputs of `job` to fetch, by key: those of `types` (each must be listed, else
    `OutputMissingError` names the missing ones), or all of them — an output whose type
    cannot be told is keyed by its label (`OutputLabel`), never left out."""
    wanted = tuple(dict.fromkeys(OutputType(t) for t in types)) if types is not None else None
    matched, unmatched = match_outputs(job.outputs or [], wanted or requested)
    if wanted is not None:
        missing = [kind for kind in wanted if kind not in matched]
        if missing:
            listed = ", ".join(sorted({label_of(o) for o in job.outputs or []})) or "none"
            raise OutputMissingError(job.id, missing, detail=f"it lists: {listed}")
        return {kind: matched[kind] for kind in wanted}
    chosen: dict[OutputKey, AdditionalFile] = {kind: matched[kind] for kind in matched}
    taken = {output.file.id for output in matched.values()}
    for output in unmatched:
        if output.file.id in taken:
            continue  # the same file listed twice: fetched once
        taken.add(output.file.id)
        label = label_of(output)
        key, n = OutputLabel(label), 1
        while key in chosen:
            n += 1
            key = OutputLabel(f"{label}-{n}")
        log.warning(
            "job %s lists an output of unknown type %r; downloaded as %s", job.id, label, key
        )
        chosen[key] = output
    return chosen


def output_url(job: Job, file_id: str, kind: OutputKey) -> str | None:
    """The download URL the job offers for one output (found by its file's id, else by its
    type), if any yet."""
    for item in job.outputs or []:
        if item.file.id == file_id:
            return item.file.presigned_url
    if isinstance(kind, OutputType):
        matched, _ = match_outputs(job.outputs or [], None)
        if kind in matched:
            return matched[kind].file.presigned_url
    return None


class _Latest:
    """The newest answer about the job: one retrieve refreshes every output whose URL expired
    at about the same time, since a new answer is asked for only when the newest one still
    holds the URL that just failed."""

    def __init__(self, job: Job, retrieve: Callable[[], Awaitable[Job]]) -> None:
        self.job = job
        self._retrieve = retrieve
        self._lock = anyio.Lock()

    async def url_after(self, file_id: str, kind: OutputKey, failed: str | None) -> str:
        async with self._lock:
            url = output_url(self.job, file_id, kind)
            if url is None or url == failed:
                self.job = await self._retrieve()
                url = output_url(self.job, file_id, kind)
        if url is None:
            raise StorageError(f"job {self.job.id} no longer offers a URL for {kind.value}")
        return url


class _Totals:
    """Adds up the progress of outputs moving at once into one `progress(done, total)`."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._each: dict[OutputKey, tuple[int, int]] = {}

    def of(self, kind: OutputKey) -> Progress | None:
        if self._progress is None:
            return None

        def update(done: int, total: int) -> None:
            self._each[kind] = (done, total)
            assert self._progress is not None
            self._progress(
                sum(d for d, _ in self._each.values()), sum(t for _, t in self._each.values())
            )

        return update


def distinct_targets(dest_dir: Path, names: dict[OutputKey, str]) -> dict[OutputKey, Path]:
    """One path per output, no two alike even on a file system that ignores case: a name
    already taken (two files of one type, labels that differ only in case) gets `-2`, `-3`...
    before its suffix, in the order the outputs come."""
    taken: set[str] = set()
    targets: dict[OutputKey, Path] = {}
    for kind, name in names.items():
        stem, dot, suffix = name.partition(".")
        candidate, n = name, 1
        while candidate.casefold() in taken:
            n += 1
            candidate = f"{stem}-{n}{dot}{suffix}"
        taken.add(candidate.casefold())
        targets[kind] = dest_dir / candidate
    return targets


def _target(job: Job, kind: OutputKey, output: AdditionalFile) -> str:
    if isinstance(kind, OutputType):
        return output_filename(job.id, kind)
    return label_filename(job.id, kind, output.file.type)


async def download_outputs(
    ctx: ClientContext,
    job: Job,
    dest_dir: Path,
    types: Iterable[OutputType | str] | None,
    *,
    retrieve: Callable[[], Awaitable[Job]],
    progress: Progress | None = None,
    requested: Sequence[OutputType] | None = None,
) -> dict[OutputKey, Path]:
    """Download the outputs of a job whose outputs already have URLs, all at once, into
    `dest_dir`; `retrieve()` asks for the job again when URLs expire. `requested` (what the
    job was asked for) helps tell apart outputs that share a label."""
    chosen = choose_outputs(job, types, requested)
    targets = distinct_targets(
        dest_dir, {kind: _target(job, kind, output) for kind, output in chosen.items()}
    )
    for target in targets.values():
        await anyio.to_thread.run_sync(check_destination, target)
    await anyio.Path(dest_dir).mkdir(parents=True, exist_ok=True)
    latest = _Latest(job, retrieve)
    totals = _Totals(progress)
    results: dict[OutputKey, Path] = {}

    async def fetch(kind: OutputKey, output: AdditionalFile) -> None:
        in_use = output.file.presigned_url

        async def refresh() -> str:
            nonlocal in_use
            in_use = await latest.url_after(output.file.id, kind, in_use)
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
