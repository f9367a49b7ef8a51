"""`aio-move-ugc worker --temporal HOST:PORT` and `aio-move-ugc bulk --temporal HOST:PORT`.

This module imports nothing of Temporal until a command runs, so the command line can list
these commands (and say what to install) without the `temporal` extra. `add_worker_parser`
and `add_bulk_temporal_arguments` hook into the main parser; `main()` runs the two commands
on their own (`python -m aio_move_ugc.distributed._cli ...`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._exceptions import InvalidInputError, MoveUgcError

if TYPE_CHECKING:
    from ._activities import StepHook

CONNECT_RETRIES = 20
"""Tries again to reach Temporal when a worker starts (about a minute at most, with jitter)."""

IGNORED_WITH_TEMPORAL = {
    "rate_limit": ("--rate-limit", "the workers' --rate-limit sets the cluster's budget"),
    "concurrency": ("--concurrency", "the workers' --max-transfers bound their transfers"),
    "resume": ("--resume", "submitting again attaches to the inputs' runs by itself"),
    "journal": ("--journal", "the cluster keeps each input's state"),
}
"""Flags of the local `bulk` that mean nothing to a distributed run: refused, not ignored.
(`--interval` is honoured: it paces the progress queries.)"""
TEMPORAL_API_KEY_ENV = "TEMPORAL_API_KEY"
"""Where the Temporal Cloud API key is read from (never from the command line: it would show
in process listings)."""


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"expected 0 to 1000, got {value}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _temporal_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--temporal",
        metavar="HOST:PORT",
        required=required,
        help="Temporal frontend address (a dev server, a cluster or Temporal Cloud)"
        + ("" if required else "; the run is spread over its workers (default: run here)"),
    )
    parser.add_argument("--namespace", default="default", help="Temporal namespace")
    parser.add_argument("--task-queue", default="move-ugc", help="shared task queue name")
    parser.add_argument(
        "--tls",
        action="store_true",
        help=f"connect with TLS (on by default when ${TEMPORAL_API_KEY_ENV} is set)",
    )


def add_worker_parser(commands: Any) -> argparse.ArgumentParser:
    """Add `worker` to the command line's subcommands."""
    worker: argparse.ArgumentParser = commands.add_parser(
        "worker",
        help="serve distributed bulk runs (Temporal)",
        description="Serve `bulk --temporal` runs on this machine until interrupted: upload "
        "the videos it holds, follow jobs, download outputs that land here. Needs the "
        "temporal extra.",
    )
    _temporal_arguments(worker, required=True)
    worker.add_argument(
        "--host",
        default=socket.gethostname(),
        help="this machine's name: the files it holds are uploaded from here (default: hostname)",
    )
    worker.add_argument(
        "--rate-limit",
        type=_positive_int,
        default=None,
        metavar="N",
        help="requests per window for the whole cluster, every worker of the key alike "
        "(default: no limit)",
    )
    worker.add_argument(
        "--window", type=_positive, default=3600.0, metavar="SECONDS", help="budget window"
    )
    worker.add_argument(
        "--lease", type=_positive, default=30.0, metavar="SECONDS", help="permit lifetime"
    )
    worker.add_argument(
        "--budget-batch", type=_positive_int, default=1, metavar="N", help="permits per ask"
    )
    worker.add_argument(
        "--poll-interval",
        type=_positive,
        default=5.0,
        metavar="SECONDS",
        help="first wait between status checks of the jobs",
    )
    worker.add_argument(
        "--poll-max-interval",
        type=_positive,
        default=60.0,
        metavar="SECONDS",
        help="longest wait between status checks, which grow while nothing changes",
    )
    worker.add_argument(
        "--max-transfers",
        type=_positive_int,
        default=8,
        metavar="N",
        help="uploads and downloads at once on this machine",
    )
    worker.add_argument(
        "--chunk-size",
        type=_positive_int,
        default=None,
        metavar="BYTES",
        help="transfer chunk size (default: the SDK's)",
    )
    worker.add_argument(
        "--state-dir",
        default=None,
        metavar="DIR",
        help="where this host remembers its uploads (default: $XDG_CACHE_HOME/aio-move-ugc, "
        "else ~/.cache/aio-move-ugc)",
    )
    worker.add_argument(
        "--connect-retries",
        type=_count,
        default=CONNECT_RETRIES,
        metavar="N",
        help="tries again to reach Temporal at start, up to 5 s apart (a worker started while "
        f"the server restarts waits for it; 0: give up at once; default: {CONNECT_RETRIES})",
    )
    worker.set_defaults(command="worker")
    return worker


def add_bulk_temporal_arguments(bulk: argparse.ArgumentParser) -> None:
    """Add `--temporal` and its companions to the existing `bulk` command."""
    _temporal_arguments(bulk, required=False)
    bulk.add_argument(
        "--host",
        default=None,
        help="with --temporal: the machine that holds the videos (default: hostname)",
    )
    bulk.add_argument(
        "--dest-host", default=None, help="with --temporal: where outputs land (default: --host)"
    )
    bulk.add_argument(
        "--retry-failed",
        action="store_true",
        help="run the inputs whose job failed again (a new job each; default: report them)",
    )
    bulk.add_argument(
        "--no-wait",
        action="store_true",
        help="with --temporal: submit and return; the cluster carries on",
    )
    bulk.add_argument("--heartbeat", type=_positive, default=30.0, help=argparse.SUPPRESS)
    bulk.add_argument("--api-call-timeout", type=_positive, default=120.0, help=argparse.SUPPRESS)
    bulk.add_argument("--retry-initial", type=_positive, default=1.0, help=argparse.SUPPRESS)
    bulk.add_argument("--retry-max", type=_positive, default=60.0, help=argparse.SUPPRESS)


def refused_with_temporal(args: argparse.Namespace) -> str | None:
    """The usage error of a `bulk --temporal` given a flag only the local run uses, or None."""
    for name, (flag, why) in IGNORED_WITH_TEMPORAL.items():
        if getattr(args, name, None) not in (None, False):
            return f"{flag} does not apply with --temporal ({why})"
    return None


def _quiet_runtime() -> Any:
    """A Temporal runtime whose own log lines go to Python logging (stderr), never to stdout,
    where `--json` writes JSON lines only."""
    from temporalio.runtime import (
        LogForwardingConfig,
        LoggingConfig,
        Runtime,
        TelemetryConfig,
        TelemetryFilter,
    )

    forwarding = LogForwardingConfig(logger=logging.getLogger("temporalio.core"))
    filters = TelemetryFilter(core_level="WARN", other_level="ERROR")
    telemetry = TelemetryConfig(logging=LoggingConfig(filter=filters, forwarding=forwarding))
    return Runtime(telemetry=telemetry)


class TemporalUnreachableError(MoveUgcError):
    """The Temporal server did not answer (not there, restarting, or refusing)."""


async def _connect(args: argparse.Namespace, *, retries: int = 0) -> Any:
    """A Temporal client; `retries` more tries (up to 5 s apart, with jitter) when the server
    does not answer."""
    from temporalio.client import Client

    from .._retry import Retrier, RetryPolicy

    address = args.temporal
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise InvalidInputError(f"--temporal must be HOST:PORT, got {address!r}")
    api_key = os.environ.get(TEMPORAL_API_KEY_ENV) or None
    runtime = _quiet_runtime()

    async def attempt() -> Any:
        try:
            return await Client.connect(
                address,
                namespace=args.namespace,
                api_key=api_key,
                tls=bool(args.tls or api_key),
                runtime=runtime,
            )
        except RuntimeError as exc:
            message = str(exc)
            if api_key:
                message = message.replace(api_key, "**********")
            raise TemporalUnreachableError(
                f"cannot reach Temporal at {address}: {message}"
            ) from None

    said = False

    def waiting(exc: BaseException) -> None:
        nonlocal said
        if not said:
            said = True
            print(f"Temporal at {address} does not answer yet; trying again", file=sys.stderr)

    retrier = Retrier(RetryPolicy(max_retries=retries, base_delay=0.5, max_delay=5.0))
    return await retrier.call(
        attempt,
        retryable=lambda exc: isinstance(exc, TemporalUnreachableError),
        what=f"connecting to Temporal at {address}",
        on_retry=waiting,
    )


async def cmd_worker(args: argparse.Namespace, hooks: StepHook | None = None) -> int:
    """Run a worker until SIGINT or SIGTERM; in-flight steps are retried elsewhere. `hooks` is
    given to `run_worker` (tests stop the worker at a step with it)."""
    from ..transfers import TransferConfig
    from . import WorkerConfig, run_worker

    transfer = TransferConfig(max_concurrent_transfers=args.max_transfers)
    if args.chunk_size is not None:
        transfer = TransferConfig(
            max_concurrent_transfers=args.max_transfers,
            chunk_size=args.chunk_size,
            part_size=max(args.chunk_size, transfer.part_size),
        )
    config = WorkerConfig(
        host=args.host,
        task_queue=args.task_queue,
        rate_limit=args.rate_limit,
        window=args.window,
        lease=args.lease,
        budget_batch=args.budget_batch,
        poll_interval=args.poll_interval,
        poll_max_interval=max(args.poll_max_interval, args.poll_interval),
        max_concurrent_transfers=args.max_transfers,
        transfer_config=transfer,
        state_dir=Path(args.state_dir) if args.state_dir else None,
    )
    temporal = await _connect(args, retries=args.connect_retries)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(
        f"worker {config.host} serving {config.task_queue} at {args.temporal}",
        file=sys.stderr,
        flush=True,
    )
    await run_worker(
        temporal,
        config,
        api_key=args.api_key,
        endpoint_url=args.endpoint_url,
        stop=stop,
        hooks=hooks,
    )
    return 0


async def _follow(bulk: Any, submissions: list[Any], interval: float, out: Any) -> None:
    """Say on stderr each input's step as it changes (queried every `interval` seconds)."""
    seen: dict[str, str] = {}
    while True:
        for submission in submissions:
            stage = await bulk.stage(submission)
            if stage is not None and seen.get(submission.workflow_id) != stage:
                seen[submission.workflow_id] = stage
                print(f"{submission.item.path}: {stage}", file=out, flush=True)
        await asyncio.sleep(interval)


async def cmd_bulk_temporal(args: argparse.Namespace) -> int:
    """Submit every video to the cluster and print one result per input as each finishes."""
    from ..bulk import discover
    from . import DistributedBulk, Timing

    problem = refused_with_temporal(args)
    if problem is not None:
        raise InvalidInputError(problem)
    videos, others = await asyncio.to_thread(discover, args.inputs)
    if others and not args.json:
        names = ", ".join(p.name for p in others[:3]) + (", ..." if len(others) > 3 else "")
        print(f"note: skipped {len(others)} files that are not videos ({names})", file=sys.stderr)
    timing = Timing(
        heartbeat=args.heartbeat,
        api_call=args.api_call_timeout,
        retry_initial=args.retry_initial,
        retry_max=max(args.retry_max, args.retry_initial),
    )
    temporal = await _connect(args)
    bulk = DistributedBulk(temporal, task_queue=args.task_queue, timing=timing)
    host = args.host or socket.gethostname()
    submissions = await bulk.submit(
        videos,
        host=host,
        dest=args.output,
        dest_host=args.dest_host,
        outputs=args.outputs or None,
        retry_failed=args.retry_failed,
    )
    if args.no_wait:
        rows = [
            {"video": str(s.item.path), "workflow_id": s.workflow_id, "started": s.started}
            for s in submissions
        ]
        if args.json:
            print(json.dumps({"submitted": rows}))
        else:
            for row in rows:
                state = "started" if row["started"] else "already known"
                print(f"{row['video']}: {row['workflow_id']} ({state})")
        return 0
    failed = 0
    interval = getattr(args, "interval", None) or 5.0
    follower = None
    if not args.json:
        pending = [s for s in submissions if not s.finished_before]
        follower = asyncio.ensure_future(_follow(bulk, pending, interval, sys.stderr))
    from .._steps import result_row as bulk_row

    try:
        async for result in bulk.results(submissions):
            failed += not result.ok
            row = bulk_row(result)
            if args.json:
                print(json.dumps(row), flush=True)
            else:
                status = "ok" if result.ok else f"failed: {row['error']}"
                if result.skipped:
                    status = "skipped (done before)"
                print(f"{row['video']}: {status}", flush=True)
    finally:
        if follower is not None:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
    if failed:
        print(f"error: {failed} of {len(submissions)} inputs failed", file=sys.stderr)
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    """The two commands with the main command line's global options."""
    parser = argparse.ArgumentParser(prog="aio-move-ugc")
    parser.add_argument("--api-key", help="API key (default: $MOVE_UGC_API_KEY)")
    parser.add_argument("--endpoint-url", help="GraphQL endpoint (default: $MOVE_UGC_ENDPOINT_URL)")
    parser.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    add_worker_parser(commands)
    bulk = commands.add_parser("bulk", help="process every video of a directory or glob")
    bulk.add_argument("inputs", metavar="DIR_OR_GLOB")
    bulk.add_argument("-o", "--output", required=True, help="directory for the outputs")
    bulk.add_argument("--outputs", nargs="+", metavar="TYPE", help="output types (default: all)")
    add_bulk_temporal_arguments(bulk)
    bulk.set_defaults(command="bulk")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `worker` or `bulk --temporal`; one line on stderr on failure, never a traceback."""
    args = build_parser().parse_args(argv)
    if args.command == "bulk" and not args.temporal:
        print("error: bulk here needs --temporal HOST:PORT", file=sys.stderr)
        return 2
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(name)s: %(message)s")
    command = cmd_worker if args.command == "worker" else cmd_bulk_temporal
    try:
        return asyncio.run(command(args))
    except KeyboardInterrupt:
        return 130
    except MoveUgcError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Temporal's runtime may crash while the interpreter tears down; the work is done.
    os._exit(code)
