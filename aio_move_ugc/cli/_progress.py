"""Progress bars for transfers (rich), fed by the SDK's `progress(done, total)` callbacks."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
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
