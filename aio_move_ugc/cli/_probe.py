"""The `probe` command: says what it will send, asks before spending a job, runs the probe and
writes its report (Markdown or JSON) and the emulator configuration that plays it."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

err = Console(stderr=True, highlight=False, soft_wrap=True)
EXIT_USAGE = 2
EXIT_DECLINED = 1


def _budget(text: str) -> int:
    from ..probe import MAX_BUDGET

    try:
        value = int(text) if len(text) <= 10 else -1
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text[:30]!r}") from None
    if not 1 <= value <= MAX_BUDGET:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_BUDGET}, not {text[:30]}")
    return value


def add_probe_parser(commands: Any) -> None:
    """Declare the `probe` sub-command."""
    probe = commands.add_parser(
        "probe",
        help="observe how the hosted API behaves where the emulator only assumes",
        description="Read, within a request budget, what docs/emulator-assumptions.md lists "
        "as never observed, and say which emulator variant plays it. By default it sends "
        "read-only queries and creates one file record it never uploads to (no credits); "
        "--with-job spends one job. The report holds no key, token, signed URL or id.",
    )
    probe.add_argument(
        "--budget",
        type=_budget,
        default=50,
        metavar="N",
        help="the most API requests to send (1-500)",
    )
    probe.add_argument(
        "--read-only", action="store_true", help="create nothing, not even a file record"
    )
    probe.add_argument(
        "--with-job",
        metavar="VIDEO",
        help="spend ONE job on this small video to see readiness, labels and timings "
        "(default: no job, no credits spent)",
    )
    probe.add_argument(
        "--yes", action="store_true", help="do not ask before spending the job of --with-job"
    )
    probe.add_argument(
        "--report",
        metavar="FILE",
        help="write the report to FILE: JSON when it ends in .json, else Markdown "
        "(default: on stdout only)",
    )
    probe.add_argument(
        "--emulator-config",
        metavar="FILE",
        help="write the emulator configuration that plays what was seen "
        "(for `aio-move-ugc emulator --config FILE`; default: not written)",
    )
    probe.set_defaults(command="probe")


def _confirm(video: Path) -> bool:
    size = video.stat().st_size
    err.print(
        f"--with-job uploads {escape(video.name)} ({size / 1e6:.1f} MB) and creates ONE JOB "
        "on it, which spends credits of your plan."
    )
    print("Continue? [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


async def cmd_probe(args: argparse.Namespace) -> int:
    from ..probe import check_arguments, plan, probe

    if args.with_job is not None and args.read_only:
        print(
            "aio-move-ugc probe: error: --with-job creates a file, a take and a job; "
            "it cannot be --read-only (see --help)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    video = check_arguments(budget=args.budget, read_only=args.read_only, with_job=args.with_job)
    if video is not None and not args.yes:
        if not sys.stdin.isatty():
            print(
                "aio-move-ugc probe: error: --with-job spends one job; with no terminal to "
                "ask on, confirm it with --yes (see --help)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        if not _confirm(video):
            err.print("not confirmed: nothing was sent")
            return EXIT_DECLINED
    steps = plan(budget=args.budget, read_only=args.read_only, video=video)
    err.print("probe: " + "; ".join(steps))
    report = await probe(
        args.api_key,
        endpoint_url=args.endpoint_url,
        budget=args.budget,
        read_only=args.read_only,
        with_job=video,
    )
    if args.report:
        path = Path(args.report)
        text = report.to_json() if path.suffix == ".json" else report.to_markdown()
        await asyncio.to_thread(path.write_text, text)
    if args.emulator_config:
        config = report.emulator_config().to_json()
        await asyncio.to_thread(Path(args.emulator_config).write_text, config)
    print(report.to_json() if args.json else report.to_markdown(), end="")
    err.print(
        f"probe: {report.requests} of {args.budget} requests sent"
        + (f"; stopped early: {escape(report.stopped)}" if report.stopped else "")
    )
    return 0
