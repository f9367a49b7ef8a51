"""A worker that kills itself (SIGKILL) at the steps named, each step once across the workers
sharing a ledger directory: the hooks the activities offer, injected by the test process.

`python -m tests.distributed.crashing_worker STEPS LEDGER WORKER_ARGS...` where STEPS is a
comma-separated list of `StepHook` points and WORKER_ARGS those of `aio-move-ugc worker`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from aio_move_ugc.distributed._cli import build_parser, cmd_worker


def power_cut(steps: set[str], ledger: Path) -> object:
    def at(point: str) -> None:
        if point not in steps:
            return
        try:  # the first worker to reach the step claims it
            os.close(os.open(ledger / point, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            return
        os.kill(os.getpid(), signal.SIGKILL)

    return at


def main() -> None:
    steps, ledger, *argv = sys.argv[1:]
    args = build_parser().parse_args(argv)
    hook = power_cut(set(steps.split(",")), Path(ledger))
    code = asyncio.run(cmd_worker(args, hooks=hook))  # type: ignore[arg-type]
    sys.stdout.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
