"""Progress bars for transfers (rich), fed by the SDK's `progress(done, total)` callbacks."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from ..transfers import Progress as ProgressCallback


def human_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


class TransferBars:
    """`with bars: cb = bars.add("upload x")` gives a callback that moves one bar."""

    def __init__(self, console: Console, *, enabled: bool = True) -> None:
        self._console = console
        self._enabled = enabled and console.is_terminal
        self._progress: Progress | None = None

    def __enter__(self) -> TransferBars:
        if self._enabled:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                DownloadColumn(binary_units=True),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self._console,
                transient=False,
            )
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def add(self, description: str) -> ProgressCallback | None:
        progress = self._progress
        if progress is None:
            return None
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total or None)

        return update


class StageBars:
    """One bar per stage of a bulk run, each counting inputs that passed it."""

    def __init__(
        self, console: Console, stages: tuple[str, ...], *, total: int, enabled: bool = True
    ) -> None:
        self._console = console
        self._stages = stages
        self._total = total
        self._enabled = enabled and console.is_terminal
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self.counts: dict[str, int] = dict.fromkeys((*stages, "failed"), 0)

    def __enter__(self) -> StageBars:
        if self._enabled:
            self._progress = Progress(
                TextColumn("{task.description:>14}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=self._console,
            )
            for stage in (*self._stages, "failed"):
                label = stage.replace("_", " ")
                self._tasks[stage] = self._progress.add_task(label, total=self._total)
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def advance(self, stage: str) -> None:
        self.counts[stage] = self.counts.get(stage, 0) + 1
        if self._progress is not None and stage in self._tasks:
            self._progress.advance(self._tasks[stage])


class StepBar:
    """One bar over the steps of a single take, with its percentage and what happens now."""

    def __init__(
        self, console: Console, steps: int, description: str, *, enabled: bool = True
    ) -> None:
        self._console = console
        self._steps = steps
        self._description = description
        self._enabled = enabled and console.is_terminal
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> StepBar:
        if self._enabled:
            self._progress = Progress(
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=self._console,
            )
            self._task = self._progress.add_task(self._description, total=self._steps)
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def note(self, text: str) -> None:
        """A line printed above the bar, kept when the bar moves on."""
        if self._progress is not None:
            self._progress.console.print(escape(text), highlight=False)

    def step(self, description: str) -> None:
        """One step done; `description` says what comes next."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=1, description=escape(description))


class JobBars:
    """One bar per job followed, moved by its percentage; notes print above the bars."""

    def __init__(self, console: Console, *, enabled: bool = True) -> None:
        self._console = console
        self._enabled = enabled and console.is_terminal
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    @property
    def active(self) -> bool:
        return self._progress is not None

    def __enter__(self) -> JobBars:
        if self._enabled:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                console=self._console,
            )
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def _task(self, job_id: str) -> TaskID | None:
        if self._progress is None:
            return None
        if job_id not in self._tasks:
            self._tasks[job_id] = self._progress.add_task(job_id, total=100)
        return self._tasks[job_id]

    def update(self, job_id: str, percentage: float) -> None:
        task = self._task(job_id)
        if self._progress is not None and task is not None:
            self._progress.update(task, completed=percentage)

    def note(self, job_id: str, text: str) -> None:
        self._task(job_id)
        if self._progress is not None:
            self._progress.console.print(escape(text), highlight=False)

    def finish(self, job_id: str) -> None:
        task = self._task(job_id)
        if self._progress is not None and task is not None:
            self._progress.update(task, completed=100)
