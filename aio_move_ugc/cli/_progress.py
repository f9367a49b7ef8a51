"""Progress bars for transfers (rich), fed by the SDK's `progress(done, total)` callbacks."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from ..transfers import Progress as ProgressCallback


def human_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


class Bars:
    """What every display here shares: a rich `Progress` drawn only on a terminal (and when
    enabled), started on entering `with` and stopped on leaving it. Subclasses give the
    columns and, in `_begin`, the tasks shown from the start."""

    def __init__(self, console: Console, *, enabled: bool = True) -> None:
        self._console = console
        self._enabled = enabled and console.is_terminal
        self._progress: Progress | None = None

    @property
    def active(self) -> bool:
        """True while the bars are drawn."""
        return self._progress is not None

    def _columns(self) -> tuple[ProgressColumn, ...]:
        raise NotImplementedError

    def _begin(self, progress: Progress) -> None:
        """Add the tasks shown from the start (none by default)."""

    def __enter__(self) -> Self:
        if self._enabled:
            progress = Progress(*self._columns(), console=self._console)
            self._begin(progress)
            progress.start()
            self._progress = progress
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

    def _print(self, text: str) -> None:
        """A line printed above the bars, kept when they move on."""
        if self._progress is not None:
            self._progress.console.print(escape(text), highlight=False)


class TransferBars(Bars):
    """`with bars: cb = bars.add("upload x")` gives a callback that moves one bar."""

    def _columns(self) -> tuple[ProgressColumn, ...]:
        return (
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )

    def add(self, description: str) -> ProgressCallback | None:
        progress = self._progress
        if progress is None:
            return None
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total or None)

        return update


class StageBars(Bars):
    """One bar per stage of a bulk run, each counting inputs that passed it."""

    def __init__(
        self, console: Console, stages: tuple[str, ...], *, total: int, enabled: bool = True
    ) -> None:
        super().__init__(console, enabled=enabled)
        self._stages = stages
        self._total = total
        self._tasks: dict[str, TaskID] = {}
        self.counts: dict[str, int] = dict.fromkeys((*stages, "failed"), 0)

    def _columns(self) -> tuple[ProgressColumn, ...]:
        return (TextColumn("{task.description:>14}"), BarColumn(), MofNCompleteColumn())

    def _begin(self, progress: Progress) -> None:
        for stage in (*self._stages, "failed"):
            label = stage.replace("_", " ")
            self._tasks[stage] = progress.add_task(label, total=self._total)

    def advance(self, stage: str) -> None:
        self.counts[stage] = self.counts.get(stage, 0) + 1
        if self._progress is not None and stage in self._tasks:
            self._progress.advance(self._tasks[stage])


class BytesOrElapsed(ProgressColumn):
    """For a task that moves bytes (field `transfer=True`): bytes done of the total and the
    live speed (rich's moving estimate over the last samples); for any other, the time
    elapsed."""

    def __init__(self) -> None:
        super().__init__()
        self._elapsed = TimeElapsedColumn()

    def render(self, task: Task) -> Text:
        if not task.fields.get("transfer"):
            return self._elapsed.render(task)
        done = f"{human_bytes(task.completed)}/{human_bytes(task.total or 0)}"
        speed = task.finished_speed or task.speed
        rate = f"{human_bytes(speed)}/s" if speed else "?/s"
        return Text(f"{done} {rate}", style="progress.download")


class StepBar(Bars):
    """One bar over the steps of a single take, with its percentage and what happens now.

    While the upload goes, `upload(done, total)` shows it in place of the steps: its
    percentage, the bytes sent and the live speed. The first `step()` after it puts the
    steps back.
    """

    def __init__(
        self, console: Console, steps: int, description: str, *, enabled: bool = True
    ) -> None:
        super().__init__(console, enabled=enabled)
        self._steps = steps
        self._description = description
        self._task: TaskID | None = None
        self._upload: TaskID | None = None
        self._percent = -1

    def _columns(self) -> tuple[ProgressColumn, ...]:
        return (
            BarColumn(),
            TaskProgressColumn(),
            BytesOrElapsed(),
            TextColumn("{task.description}"),
        )

    def _begin(self, progress: Progress) -> None:
        self._task = progress.add_task(escape(self._description), total=self._steps)

    def note(self, text: str) -> None:
        """A line printed above the bar, kept when the bar moves on."""
        self._print(text)

    def upload(self, done: int, total: int) -> None:
        """Bytes of the upload sent so far (`done` of `total`); the bar shows them, redrawn
        at once whenever the whole percentage changes."""
        progress = self._progress
        if progress is None or self._task is None:
            return
        if self._upload is None:
            progress.update(self._task, visible=False)
            self._upload = progress.add_task(
                escape(self._description), total=total or None, transfer=True
            )
        percent = done * 100 // total if total else 100
        progress.update(
            self._upload,
            completed=done,
            total=total or None,
            refresh=percent != self._percent,
        )
        self._percent = percent

    def step(self, description: str) -> None:
        """One step done; `description` says what comes next."""
        progress = self._progress
        if progress is None or self._task is None:
            return
        if self._upload is not None:
            progress.remove_task(self._upload)
            self._upload = None
        progress.update(self._task, advance=1, description=escape(description), visible=True)


class JobBars(Bars):
    """One bar per job followed, moved by its percentage; notes print above the bars."""

    def __init__(self, console: Console, *, enabled: bool = True) -> None:
        super().__init__(console, enabled=enabled)
        self._tasks: dict[str, TaskID] = {}

    def _columns(self) -> tuple[ProgressColumn, ...]:
        return (
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
        )

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
        self._print(text)

    def finish(self, job_id: str) -> None:
        task = self._task(job_id)
        if self._progress is not None and task is not None:
            self._progress.update(task, completed=100)
