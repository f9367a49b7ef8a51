"""Serve the emulator in its own process, with settings the command line has no flag for.

`python benchmarks/_serve.py --latency 0.05 --job-duration 2 ...` prints the two `export` lines
(as `python -m aio_move_ugc emulator` does), then serves until SIGTERM or SIGINT, or until
`--max-seconds` have passed (so a forgotten server never outlives the benchmark for long).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from aio_move_ugc.emulator import Emulator, EmulatorConfig, RouteFaults


async def serve(args: argparse.Namespace) -> None:
    faults = {"graphql": RouteFaults(latency=args.latency)} if args.latency > 0 else {}
    config = EmulatorConfig(
        seed=args.seed,
        job_queue_delay=args.queue_delay,
        job_duration=args.job_duration,
        output_lag=args.output_lag,
        output_size=args.output_size,
        faults=faults,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Emulator(config, host="127.0.0.1", port=args.port) as emu:
        for name, value in emu.environment().items():
            print(f"export {name}={value}")
        print(f"export EMULATOR_URL={emu.url}")
        sys.stdout.flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=args.max_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--queue-delay", type=float, default=0.2)
    parser.add_argument("--job-duration", type=float, default=1.0)
    parser.add_argument("--output-lag", type=float, default=0.3)
    parser.add_argument("--output-size", type=int, default=64 * 1024)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to /graphql")
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
