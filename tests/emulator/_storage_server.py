"""A stand-alone emulated storage server, run in its own process so tests can watch its memory.

Run from the repository root:

    python -m tests.emulator._storage_server ROOT KEY [KEY ...]

Once listening on 127.0.0.1 (port chosen by the system) it prints one JSON line,
`{"pid": ..., "port": ..., "urls": {KEY: {"PUT": url, "GET": url}, ...}}`, and serves until its
standard input is closed or it receives SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import signal
import sys

from aiohttp import web

from aio_move_ugc.emulator._faults import Clock, FaultInjector
from aio_move_ugc.emulator._stats import Stats
from aio_move_ugc.emulator._storage import Storage


async def serve(root: pathlib.Path, keys: list[str]) -> None:
    storage = Storage(root, clock=Clock(), stats=Stats(), faults=FaultInjector(0, {}))
    app = web.Application()
    app.add_routes(storage.routes())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        base_url = f"http://127.0.0.1:{port}"
        urls = {
            key: {
                method: storage.presign(method, key, base_url=base_url, ttl=3600)
                for method in ("PUT", "GET")
            }
            for key in keys
        }
        print(json.dumps({"pid": os.getpid(), "port": port, "urls": urls}))
        sys.stdout.flush()

        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        # A closed stdin means the parent is done (or gone): stop then too.
        stdin = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin
        )
        try:
            watch = asyncio.ensure_future(stdin.read())
            watch.add_done_callback(lambda _: stop.set())
            await stop.wait()
            watch.cancel()
        finally:
            transport.close()
    finally:
        await runner.cleanup()


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(f"usage: {sys.argv[0]} ROOT KEY [KEY ...]")
    asyncio.run(serve(pathlib.Path(sys.argv[1]), sys.argv[2:]))


if __name__ == "__main__":
    main()
