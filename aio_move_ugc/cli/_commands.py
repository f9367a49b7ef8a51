"""The CLI's commands, written against the public API only."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import rich.box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .. import AsyncMoveUgc, OutputType, SourceFormat, SourceIn
from .._exceptions import InvalidInputError, JobFailedError
from ..distributed._cli import add_bulk_temporal_arguments, add_worker_parser
from ..transfers import check_upload_source
from ..types.events import JobEvent, JobFailed, JobProgressed, JobStateChanged, OutputsReady
from ._probe import add_probe_parser, cmd_probe
from ._progress import JobBars, StageBars, StepBar, TransferBars, human_bytes

if TYPE_CHECKING:
    from ..bulk import BulkResult
    from ..emulator import EmulatorConfig

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


class PipeConsole(Console):
    """A rich console that leaves a closed pipe (`| head`) to the command line's one handler
    (rich's own exits 1 at once)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


err = PipeConsole(stderr=True, highlight=False, soft_wrap=True)
"""Progress and messages; lines are not wrapped, so ids stay whole in logs."""


def _out(args: argparse.Namespace, payload: Any, text: str | None = None) -> None:
    """Result on stdout: JSON with --json, otherwise `text`."""
    if args.json:
        print(json.dumps(payload, default=str))
    elif text is not None:
        print(text)


def counted(count: int, word: str) -> str:
    """`1 file`, `2 files`: a count and its noun, in the plural when it is not one."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def print_rows(
    title: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[str]]
) -> None:
    """Rows on stdout as a table, never cutting what they hold.

    `columns` are (heading, justify); cells are rich markup. When the table is wider than the
    terminal (ids and paths are long), each row is written as a record instead: its first
    cell on a line, then one indented `heading  value` line per other cell. A border is never
    wrapped, and a value too long for a line is wrapped by the terminal, never cut.
    """
    console = PipeConsole(highlight=False, soft_wrap=True)
    for box in (rich.box.HEAVY_HEAD, rich.box.SIMPLE_HEAD):  # boxed; else lines between
        table = Table(title=title, title_justify="left", box=box)
        for heading, justify in columns:
            table.add_column(heading, justify=justify, no_wrap=True)  # type: ignore[arg-type]
        for row in rows:
            table.add_row(*row)
        # Measured on a console wide enough not to clamp it: the width that cuts nothing.
        if Console(width=1 << 16).measure(table).maximum <= console.width:
            console.print(table)
            return
    console.print(f"[italic]{escape(title)}[/]")
    labels = max(len(heading) for heading, _ in columns[1:]) if len(columns) > 1 else 0
    for row in rows:
        console.print(f"[bold]{row[0]}[/]" if row[0] else "-")
        for (heading, _), cell in zip(columns[1:], row[1:], strict=True):
            console.print(f"  {escape(heading.ljust(labels))}  {cell}")


def _client(args: argparse.Namespace, **kwargs: Any) -> AsyncMoveUgc:
    return AsyncMoveUgc(
        args.api_key, endpoint_url=args.endpoint_url, max_retries=args.max_retries, **kwargs
    )


def _outputs(values: list[OutputType] | None) -> list[OutputType] | None:
    return list(dict.fromkeys(values)) if values else None


def _output_type(text: str) -> OutputType:
    """An `--outputs` value: a usage error when it is no output type."""
    from .._validation import outputs as check_outputs

    try:
        (checked,) = check_outputs([text]) or [text]
    except InvalidInputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return OutputType(checked)


def _describe(event: JobEvent) -> str:
    if isinstance(event, JobStateChanged):
        return f"{event.job_id}: {event.previous or '…'} → {event.state}"
    if isinstance(event, JobProgressed):
        return f"{event.job_id}: {event.percentage}%"
    if isinstance(event, OutputsReady):
        return f"{event.job_id}: {counted(len(event.outputs), 'output')} ready to download"
    if isinstance(event, JobFailed):
        return f"{event.job_id}: FAILED{': ' + event.reason if event.reason else ''}"
    return f"{event.job_id}: {event.kind.replace('_', ' ')}"


# --------------------------------------------------------------------------- flows
async def _one_take(
    ugc: AsyncMoveUgc,
    args: argparse.Namespace,
    video: Path,
    out_dir: Path,
    outputs: list[OutputType] | None,
    *,
    interval: float,
) -> dict[str, Any]:
    """upload → take → job → watch → download, with progress on stderr."""
    quiet = args.json
    bars = TransferBars(err, enabled=not quiet)
    with bars:
        upload_bar = bars.add(f"upload {video.name}")
        file = await ugc.files.upload(video, progress=upload_bar)
    if not quiet:
        err.print(f"uploaded [bold]{escape(video.name)}[/] as {file.id}")
    take = await ugc.takes.create_singlecam(
        [
            SourceIn(
                device_label=args.device_label,
                file_id=file.id,
                format=SourceFormat(file.type or "mp4"),
            )
        ]
    )
    job = await ugc.jobs.create_singlecam(take.id, outputs=outputs)
    if not quiet:
        err.print(f"created take {take.id} and job {job.id}")
    async for event in ugc.jobs.watch(job.id, interval=interval, raise_on_failure=True):
        if not quiet:
            err.print("  " + escape(_describe(event)))
    with bars:
        download_bar = bars.add("download outputs")
        paths = await ugc.jobs.download_outputs(
            job.id, out_dir, interval=interval, progress=download_bar
        )
    return {
        "video": str(video),
        "file_id": file.id,
        "take_id": take.id,
        "job_id": job.id,
        "outputs": {kind.value: str(path) for kind, path in paths.items()},
    }


def _print_outputs(args: argparse.Namespace, result: dict[str, Any]) -> None:
    if args.json:
        _out(args, result)
        return
    print_rows(
        f"outputs of {result['job_id']}",
        [("output", "left"), ("file", "left"), ("size", "right")],
        [
            [kind, escape(path), human_bytes(os.path.getsize(path))]
            for kind, path in result["outputs"].items()
        ],
    )


# -------------------------------------------------------------------------- commands
def demo_config() -> EmulatorConfig:
    """Timings of the demo's emulator: a job of a few seconds, so its progress can be seen;
    and the smallest plan's budget (100 requests an hour), which the demo keeps within."""
    from ..emulator import EmulatorConfig

    return EmulatorConfig(
        job_queue_delay=0.5,
        job_duration=3.0,
        output_lag=1.0,
        hourly_request_budget=100,
    )


def make_sample_video(path: Path, size: int = 2 * 1024 * 1024) -> Path:
    """A stand-in video: an MP4 `ftyp` box followed by deterministic filler bytes."""
    header = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    block = bytes(range(256)) * 4096
    with open(path, "wb") as handle:
        handle.write(header)
        remaining = size - len(header)
        while remaining > 0:
            handle.write(block[:remaining])
            remaining -= len(block)
    return path


async def cmd_demo(args: argparse.Namespace) -> int:
    out_dir = Path(args.output)
    await anyio.Path(out_dir).mkdir(parents=True, exist_ok=True)
    from ..emulator import Emulator  # only the commands that serve it pay for its import

    async with Emulator(demo_config()) as emu:
        if not args.json:
            err.print(
                f"[bold]Move UGC demo[/] on the embedded emulator at {emu.endpoint_url} "
                "(local, no account or network needed)"
            )
        video = await anyio.to_thread.run_sync(make_sample_video, out_dir / "sample-dance.mp4")
        async with AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url) as ugc:
            result = await _one_take(
                ugc, args, video, out_dir, _outputs(args.outputs), interval=0.25
            )
        result["requests"] = emu.stats.graphql_requests
    _print_outputs(args, result)
    if not args.json:
        err.print(
            f"done: {counted(len(result['outputs']), 'output')} in {escape(str(out_dir))} "
            f"({result['requests']} API requests)"
        )
        err.print(
            "note: the emulator's outputs are sample files of their formats (one stock walk; "
            "the .blend is a placeholder); the hosted API returns your video's motion"
        )
    return 0


def resume_hint(args: argparse.Namespace) -> str:
    """What to type to continue an interrupted command."""
    if args.command == "run":
        again = shlex.join(["aio-move-ugc", "run", args.video, "-o", args.output])
        return f"run `{again}` again to continue the same take and job"
    if args.command == "bulk" and not getattr(args, "temporal", None):
        again = shlex.join(["aio-move-ugc", "bulk", args.inputs, "-o", args.output, "--resume"])
        return f"run `{again}` to continue; finished inputs are not repeated"
    return "what finished is kept"


RUN_STEPS = ("uploaded", "job_created", "outputs_ready", "downloaded")
RUN_STEP_WORDS = {
    "uploaded": "take and job",
    "job_created": "processing",
    "outputs_ready": "downloading outputs",
    "downloaded": "done",
}
"""What `run` does after each step, as its progress bar says."""


async def cmd_run(args: argparse.Namespace) -> int:
    """One video through bulk's journaled run: a rerun after an interruption continues the
    same upload, take and job instead of making new ones."""
    from ..bulk import JOURNAL_NAME, BulkItem

    video, size, _ = check_upload_source(args.video, None)
    from .._validation import directory

    out_dir = directory(args.output, "-o/--output")  # before anything is uploaded
    outputs = _outputs(args.outputs)
    item = BulkItem(video, device_label=args.device_label, outputs=tuple(outputs or ()) or None)
    started = time.monotonic()
    with StepBar(err, len(RUN_STEPS), f"upload {video.name}", enabled=not args.json) as bar:

        def on_stage(_: object, stage: str) -> None:
            if stage == "uploaded":
                elapsed = max(time.monotonic() - started, 1e-6)
                bar.note(
                    f"uploaded {video.name}: {human_bytes(size)} at {human_bytes(size / elapsed)}/s"
                )
            bar.step(RUN_STEP_WORDS.get(stage, stage))

        async with _client(args) as ugc:
            async for result in ugc.bulk.run(
                [item],
                dest=out_dir,
                journal=out_dir / JOURNAL_NAME,
                interval=args.interval,
                on_stage=on_stage,
                on_progress=lambda _, done, total: bar.upload(done, total),
            ):
                if result.error is not None:
                    raise result.error
                summary = {
                    "video": str(video),
                    "file_id": result.file_id,
                    "take_id": result.take_id,
                    "job_id": result.job_id,
                    "outputs": {k.value: str(p) for k, p in result.outputs.items()},
                    "resumed": result.skipped,
                }
    if not args.json:
        err.print(f"take {summary['take_id']}, job {summary['job_id']}")
    _print_outputs(args, summary)
    return 0


async def cmd_bulk(args: argparse.Namespace) -> int:
    if getattr(args, "temporal", None):
        from ..distributed._cli import cmd_bulk_temporal

        return await cmd_bulk_temporal(args)
    from ..bulk import JOURNAL_NAME, STAGES, discover

    videos, others = await anyio.to_thread.run_sync(discover, args.inputs)
    if others and not args.json:
        names = ", ".join(p.name for p in others[:3]) + (", ..." if len(others) > 3 else "")
        err.print(
            f"note: skipped {counted(len(others), 'file')} that "
            f"{'is not a video' if len(others) == 1 else 'are not videos'} ({escape(names)})"
        )
    out_dir = Path(args.output)
    journal = Path(args.journal) if args.journal else out_dir / JOURNAL_NAME
    if await anyio.Path(journal).exists() and not args.resume:
        raise InvalidInputError(
            f"{journal} holds an earlier run; pass --resume to continue it or remove it"
        )
    results = []
    rows: list[dict[str, Any]] = []
    with StageBars(err, STAGES, total=len(videos), enabled=not args.json) as bars:
        async with _client(args, rate_limit=args.rate_limit) as ugc:
            async for result in ugc.bulk.run(
                videos,
                dest=out_dir,
                outputs=_outputs(args.outputs),
                concurrency=args.concurrency or 8,
                journal=journal,
                interval=args.interval,
                retry_failed=args.retry_failed,
                on_stage=lambda item, stage: bars.advance(stage),
            ):
                results.append(result)
                rows.append(bulk_row(result))
                if not result.ok:
                    bars.advance("failed")
                if args.json:  # as each input ends, as `bulk --temporal` prints them
                    print(json.dumps(rows[-1]), flush=True)
    failed = sum(1 for r in results if not r.ok)
    if args.json:
        summary = {"inputs": len(results), "failed": failed}
        print(json.dumps({"summary": {**summary, "skipped_files": [str(p) for p in others]}}))
    else:
        print_rows(
            f"bulk: {len(results) - failed}/{len(results)} done",
            [("video", "left"), ("job", "left"), ("outputs", "right"), ("status", "left")],
            [
                [
                    escape(Path(str(row["video"])).name),
                    str(row["job_id"] or ""),
                    str(len(row["outputs"])),
                    "skipped (done before)"
                    if row["skipped"]
                    else ("ok" if row["ok"] else f"[red]failed: {escape(str(row['error']))}[/]"),
                ]
                for row in rows
            ],
        )
    if failed:
        jobs_failed = any(isinstance(r.error, JobFailedError) for r in results)
        again = (
            " (--resume --retry-failed runs the failed jobs again)"
            if jobs_failed and not args.retry_failed
            else ""
        )
        print(f"error: {failed} of {counted(len(results), 'input')} failed{again}", file=sys.stderr)
    return 1 if failed else 0


def bulk_row(result: BulkResult) -> dict[str, Any]:
    """One input's result as `bulk --json` prints it (see `_steps.result_row`)."""
    from .._steps import result_row  # with bulk: loaded by the commands that print results

    return result_row(result)


URL_FIELDS = frozenset({"presigned_url", "presignedUrl", "thumbnail_url", "thumbnailUrl", "url"})


def _without_urls(value: Any) -> Any:
    """A copy without presigned URLs: their signatures are credentials, not output."""
    if isinstance(value, dict):
        return {k: _without_urls(v) for k, v in value.items() if k not in URL_FIELDS}
    if isinstance(value, list):
        return [_without_urls(v) for v in value]
    return value


async def cmd_watch(args: argparse.Namespace) -> int:
    failed = 0
    with JobBars(err, enabled=not args.json) as bars:
        async with _client(args) as ugc:
            async for event in ugc.jobs.watch_many(
                args.job_ids,
                interval=args.interval,
                until=args.until,
                outputs=_outputs(args.outputs),
            ):
                if isinstance(event, JobFailed) or event.kind == "not_found":
                    failed += 1
                if args.json:
                    print(json.dumps(_without_urls(event.model_dump(mode="json", exclude={"job"}))))
                elif isinstance(event, JobProgressed) and bars.active:
                    bars.update(event.job_id, event.percentage)
                elif bars.active:
                    bars.note(event.job_id, _describe(event))
                    if isinstance(event, OutputsReady | JobFailed):
                        bars.finish(event.job_id)
                else:
                    print(_describe(event))
    if failed:
        were = "was" if len(args.job_ids) == 1 else "were"
        print(
            f"error: {failed} of {counted(len(args.job_ids), 'job')} failed or {were} not found",
            file=sys.stderr,
        )
    return 1 if failed else 0


async def cmd_download(args: argparse.Namespace) -> int:
    async with _client(args) as ugc:
        bars = TransferBars(err, enabled=not args.json)
        with bars:
            bar = bars.add(f"download {args.job_id}")
            paths = await ugc.jobs.download_outputs(
                args.job_id,
                args.output,
                types=_outputs(args.outputs),
                interval=args.interval,
                timeout=args.timeout,
                progress=bar,
            )
    _print_outputs(
        args, {"job_id": args.job_id, "outputs": {k.value: str(p) for k, p in paths.items()}}
    )
    return 0


async def cmd_jobs_list(args: argparse.Namespace) -> int:
    async with _client(args) as ugc:
        pager = ugc.jobs.list(limit=args.limit, take_id=args.take_id, next_token=args.next_token)
        if args.all:
            jobs = [job async for job in pager]
            next_token = None
        else:
            page = await pager
            jobs, next_token = list(page.items), page.next_token
    rows = [
        {
            "id": job.id,
            "state": str(job.current_state),
            "created": job.created.isoformat() if job.created else None,
            "name": job.name,
        }
        for job in jobs
    ]
    if args.json:
        _out(args, {"items": rows, "next_token": next_token})
        return 0
    # To the second, in UTC, as the heading says; the name only when a job has one.
    created = [
        job.created.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if job.created else ""
        for job in jobs
    ]
    named = any(row["name"] for row in rows)
    print_rows(
        f"jobs ({len(rows)})",
        [("id", "left"), ("state", "left"), ("created (UTC)", "left")]
        + ([("name", "left")] if named else []),
        [
            [escape(str(row["id"])), escape(str(row["state"])), when]
            + ([escape(str(row["name"] or ""))] if named else [])
            for row, when in zip(rows, created, strict=True)
        ],
    )
    if next_token:
        err.print(f"more: --next-token {escape(shlex.quote(next_token))} (or --all)")
    return 0


EMULATOR_VARIANT_AXES = {
    "output_labels": ("type", "lower", "extension"),
    "readiness": ("null_urls", "one_by_one", "all_at_once"),
    "throttling": ("http429", "appsync200", "http400", "gateway503"),
    "missing_metadata": ("mixed", "null", "empty_json"),
}
"""The values of each of the emulator's variant axes, as flags offer them (the emulator itself
is only imported when it runs; a test holds these equal to its own)."""
EMULATOR_AXIS_HELP = {
    "output_labels": "how a job's outputs are labelled",
    "readiness": "how outputs not yet downloadable show",
    "throttling": "how a request over the budget is refused",
    "missing_metadata": "how metadata never set reads",
}


def emulator_config(args: argparse.Namespace) -> EmulatorConfig:
    """The emulator's settings from the `emulator` command's flags.

    `--variant` picks a named variant; the per-axis flags then change single axes of it.
    Raises `ConfigurationError` when the combination makes no sense.
    """
    from dataclasses import replace

    from ..emulator import VARIANTS, EmulatorConfig

    axes = {axis: getattr(args, axis) for axis in (*EMULATOR_VARIANT_AXES, "throttle_error_type")}
    chosen = {axis: value for axis, value in axes.items() if value is not None}
    flags = {
        "seed": "seed",
        "job_queue_delay": "queue_delay",
        "job_duration": "job_duration",
        "output_lag": "output_lag",
        "failure_rate": "failure_rate",
        "hourly_request_budget": "rate_limit",
    }
    settings = {name: getattr(args, dest) for name, dest in flags.items()}
    config_file = getattr(args, "config", None)
    if config_file is None:
        variants = VARIANTS[args.variant]
        base = EmulatorConfig()
    else:
        base = EmulatorConfig.from_json(Path(config_file).read_bytes())
        # The file's settings stand unless a flag says otherwise.
        defaults = args.emulator_flag_defaults
        settings = {k: v for k, v in settings.items() if v != defaults[flags[k]]}
        variants = base.variants if args.variant == "default" else VARIANTS[args.variant]
    if chosen:
        variants = replace(variants, **chosen)
    return replace(base, variants=variants, **settings)


async def cmd_emulator(args: argparse.Namespace) -> int:
    from ..emulator import Emulator

    try:
        config = emulator_config(args)
    except InvalidInputError as exc:
        # A combination of valid flags that does not go together: a usage error as well.
        print(f"aio-move-ugc emulator: error: {exc} (see --help)", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Emulator(config, host=args.host, port=args.port) as emu:
        env = emu.environment()
        if args.json:
            _out(args, env)
        else:
            for name, value in env.items():
                print(f"export {name}={value}")
            err.print(
                f"emulator listening on {emu.url} (stats: {emu.url}/_emulator/stats; "
                f"variant: {escape(config.variants.describe())})"
            )
        sys.stdout.flush()
        await stop.wait()
    return 0


async def cmd_worker(args: argparse.Namespace) -> int:
    from ..distributed._cli import cmd_worker as run_worker

    return await run_worker(args)


COMMANDS: dict[str, Command] = {
    "demo": cmd_demo,
    "run": cmd_run,
    "bulk": cmd_bulk,
    "watch": cmd_watch,
    "download": cmd_download,
    "jobs-list": cmd_jobs_list,
    "emulator": cmd_emulator,
    "worker": cmd_worker,
    "probe": cmd_probe,
}


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text[:30]!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError("must be a positive, finite number of seconds")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text[:30]!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def whole_in(text: str, low: int, high: int) -> int:
    """A whole number from `low` to `high`, or a usage error saying so."""
    value = _whole(text)
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be from {low} to {high}, not {value}")
    return value


def _concurrency(text: str) -> int:
    return whole_in(text, 1, MAX_CONCURRENCY)


def _page_size(text: str) -> int:
    # No ceiling: the API sets none it states; the service returns what it will.
    return _count(text)


MAX_CONCURRENCY = 256
OUTPUTS_HELP = "output types to produce, any of: " + ", ".join(t.value for t in OutputType)
SECONDS = "SECONDS"


def _outputs_flag(parser: argparse.ArgumentParser, what: str = "produce") -> None:
    parser.add_argument(
        "--outputs",
        nargs="+",
        type=_output_type,
        metavar="TYPE",
        help=OUTPUTS_HELP.replace("produce", what) + " (default: all the job's)",
    )


def _interval_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--interval",
        type=_positive,
        default=5.0,
        metavar=SECONDS,
        help="first wait between status checks, in seconds; it grows while nothing changes",
    )


def add_arguments(commands: Any) -> None:
    """Declare every sub-command and its options."""
    demo = commands.add_parser(
        "demo",
        help="run the whole flow on the embedded emulator (no account or network needed)",
        description="Upload a generated sample video to an embedded emulator, process it and "
        "download the outputs: the whole flow, offline. The outputs are placeholders.",
    )
    demo.add_argument(
        "-o", "--output", default="move-ugc-demo", help="directory for the sample and the outputs"
    )
    _outputs_flag(demo)
    demo.add_argument("--device-label", default="demo-phone", help="the camera's label")
    demo.set_defaults(command="demo")

    run = commands.add_parser(
        "run",
        help="upload one video, process it, download the outputs",
        description="Upload one video, create a take and a job, follow it and download its "
        "outputs. Interrupted, the same command continues the same take and job (a journal "
        "in the output directory remembers them).",
    )
    run.add_argument("video", help="the video file (.mp4, .mov, .avi)")
    run.add_argument("-o", "--output", required=True, help="directory for the outputs")
    _outputs_flag(run)
    run.add_argument("--device-label", default="camera", help="the camera's label")
    _interval_flag(run)
    run.set_defaults(command="run")

    bulk = commands.add_parser(
        "bulk",
        help="process every video of a directory or glob",
        description="Process many videos at once. Files that are not videos are skipped. A "
        "journal in the output directory makes the run resumable (--resume); "
        "--retry-failed runs the inputs whose job failed again.",
    )
    bulk.add_argument(
        "inputs",
        metavar="DIR_OR_GLOB",
        help="a directory (its videos) or a quoted glob such as 'clips/*.mp4'",
    )
    bulk.add_argument("-o", "--output", required=True, help="directory for the outputs")
    _outputs_flag(bulk)
    bulk.add_argument(
        "--concurrency",
        type=_concurrency,
        default=None,
        metavar="N",
        help=f"videos uploaded and created at once (1-{MAX_CONCURRENCY}; default: 8)",
    )
    bulk.add_argument("--resume", action="store_true", help="continue the run in the journal")
    bulk.add_argument(
        "--journal", metavar="FILE", help="journal file (default: OUTPUT/.move-ugc-journal.jsonl)"
    )
    _interval_flag(bulk)
    bulk.add_argument(
        "--rate-limit",
        type=_count,
        default=None,
        metavar="N",
        help="API requests per hour to keep within (your plan's; default: no limit)",
    )
    add_bulk_temporal_arguments(bulk)
    bulk.set_defaults(command="bulk")
    add_worker_parser(commands)

    watch = commands.add_parser(
        "watch",
        help="follow jobs until their outputs are ready",
        description="Follow jobs with a progress bar each (one JSON event per line with "
        "--json). Exits 1 when any of them failed or was not found.",
    )
    watch.add_argument("job_ids", nargs="+", metavar="JOB_ID", help="ids of the jobs, job-...")
    _interval_flag(watch)
    watch.add_argument(
        "--until",
        choices=("outputs_ready", "terminal"),
        default="outputs_ready",
        help="stop when every output can be downloaded, or as soon as the job ends "
        "(finished or failed)",
    )
    watch.add_argument(
        "--outputs",
        nargs="+",
        metavar="TYPE",
        help="the output types the jobs were asked for, to wait for exactly those (default: "
        "a job's own list of outputs, once it has stopped changing)",
    )
    watch.set_defaults(command="watch")

    download = commands.add_parser(
        "download",
        help="download a job's outputs",
        description="Download a job's outputs into a directory, waiting until they are ready "
        "(a job still running is followed first).",
    )
    download.add_argument("job_id", help="the job's id, job-...")
    download.add_argument("-o", "--output", required=True, help="directory for the outputs")
    _outputs_flag(download, "download")
    _interval_flag(download)
    download.add_argument(
        "--timeout",
        type=_positive,
        default=None,
        metavar=SECONDS,
        help="give up waiting for the outputs after this many seconds (default: no limit)",
    )
    download.set_defaults(command="download")

    jobs = commands.add_parser(
        "jobs", help="list jobs", description="Jobs of this API key: `jobs list`."
    )
    jobs_commands = jobs.add_subparsers(dest="jobs_command", metavar="ACTION")
    jobs_commands.required = True
    listing = jobs_commands.add_parser(
        "list",
        help="list jobs, newest first",
        description="List this API key's jobs, newest first, a page at a time (--all: every "
        "page). A table, or one JSON document with --json.",
    )
    listing.add_argument(
        "--limit",
        type=_page_size,
        default=20,
        metavar="N",
        help="jobs per page (the service may return fewer)",
    )
    listing.add_argument(
        "--take-id", metavar="TAKE_ID", help="only the jobs of this take (default: every job)"
    )
    listing.add_argument(
        "--next-token",
        metavar="TOKEN",
        help="continue after the page that printed this token (default: the first page)",
    )
    listing.add_argument(
        "--all", action="store_true", help="every job, page after page (--limit per request)"
    )
    listing.set_defaults(command="jobs-list")

    add_emulator_arguments(commands)
    add_probe_parser(commands)


def _port(text: str) -> int:
    value = _whole(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535, not {value}")
    return value


def _whole(text: str) -> int:
    try:
        if len(text) > 30:
            raise ValueError(text)
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text[:30]!r}") from None


def _non_negative_whole(text: str) -> int:
    value = _whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _at_least_one(text: str) -> int:
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, not {text[:30]!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {text[:30]!r}")
    return value


def _seconds(text: str) -> float:
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative number of seconds, not {value}")
    return value


def _probability(text: str) -> float:
    value = _finite(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be within [0, 1], not {value}")
    return value


def _variant_name(text: str) -> str:
    from ..emulator import VARIANTS  # imported only when the flag is given

    if text not in VARIANTS:
        raise argparse.ArgumentTypeError(
            f"unknown variant {text[:40]!r}; known: {', '.join(VARIANTS)}"
        )
    return text


def add_emulator_arguments(commands: Any) -> None:
    """The `emulator` sub-command: every value checked by its flag, before anything starts."""
    emulator = commands.add_parser(
        "emulator",
        help="run the local emulator of the API",
        description="Serve the local emulator of the API until interrupted, and print the "
        "environment variables that point the SDK and this command line at it.",
    )
    emulator.add_argument("--host", default="127.0.0.1", help="address to listen on")
    emulator.add_argument(
        "--port", type=_port, default=8765, help="port to listen on (0: any free port)"
    )
    emulator.add_argument(
        "--seed",
        type=_non_negative_whole,
        default=None,
        metavar="N",
        help="repeat a run: the same requests get the same ids, faults and failures "
        "(default: ids of this emulator's own, never issued by another)",
    )
    emulator.add_argument(
        "--queue-delay",
        type=_seconds,
        default=2.0,
        metavar="SECONDS",
        help="time a new job waits before it runs",
    )
    emulator.add_argument(
        "--job-duration",
        type=_seconds,
        default=20.0,
        metavar="SECONDS",
        help="time a job runs (its percentage rises evenly)",
    )
    emulator.add_argument(
        "--output-lag",
        type=_seconds,
        default=5.0,
        metavar="SECONDS",
        help="time after FINISHED until every output can be downloaded",
    )
    emulator.add_argument(
        "--failure-rate",
        type=_probability,
        default=0.0,
        metavar="RATE",
        help="share of jobs that fail (0-1)",
    )
    emulator.add_argument(
        "--rate-limit",
        type=_at_least_one,
        default=None,
        metavar="N",
        help="requests per API key and rolling hour; more are throttled (default: no limit)",
    )
    emulator.add_argument(
        "--variant",
        type=_variant_name,
        default="default",
        metavar="NAME",
        help="a named variant of the hosted service's unobserved behaviours "
        "(see docs/emulator-assumptions.md; an unknown name lists the known ones); "
        "the flags below change single axes of it",
    )
    for axis, values in EMULATOR_VARIANT_AXES.items():
        emulator.add_argument(
            f"--{axis.replace('_', '-')}",
            choices=values,
            default=None,
            help=f"{EMULATOR_AXIS_HELP[axis]} (default: as --variant says)",
        )
    emulator.add_argument(
        "--throttle-error-type",
        default=None,
        metavar="TYPE",
        help="errorType of throttled answers, e.g. ThrottlingException, LimitExceeded "
        "(default: as --variant says)",
    )
    emulator.add_argument(
        "--config",
        metavar="FILE",
        help="start from the settings in FILE (as `probe --emulator-config` writes them); "
        "flags given with a value other than their default change them",
    )
    emulator.set_defaults(
        command="emulator",
        emulator_flag_defaults={
            dest: emulator.get_default(dest)
            for dest in (
                *("seed", "queue_delay", "job_duration"),
                *("output_lag", "failure_rate", "rate_limit"),
            )
        },
    )
