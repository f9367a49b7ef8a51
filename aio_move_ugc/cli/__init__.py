"""The `aio-move-ugc` command: demo, run, bulk, watch, download, jobs list, emulator.

Every failure prints one line to stderr and exits non-zero; never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import traceback
from collections.abc import Sequence

from .._exceptions import MoveUgcError
from ._commands import COMMANDS, add_arguments

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="aio-move-ugc",
        description="Turn videos into motion capture with the Move UGC API "
        "(or its local emulator).",
    )
    parser.add_argument("--api-key", help="API key (default: $MOVE_UGC_API_KEY)")
    parser.add_argument(
        "--endpoint-url",
        help="GraphQL endpoint (default: $MOVE_UGC_ENDPOINT_URL or the hosted API)",
    )
    parser.add_argument(
        "--max-retries",
        type=_non_negative_int,
        default=3,
        help="retries of a failed request (connection errors, 429, 5xx; default 3)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    parser.add_argument("-v", "--verbose", action="store_true", help="log requests to stderr")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    add_arguments(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:
        import logging

        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    command = COMMANDS[args.command]
    try:
        return asyncio.run(command(args))
    except KeyboardInterrupt:
        _fail("interrupted; what finished is kept (rerun to resume)")
        return EXIT_INTERRUPTED
    except MoveUgcError as exc:
        _fail(f"error: {exc}")
        return EXIT_FAILED
    except OSError as exc:
        _fail(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        return EXIT_FAILED
    except Exception as exc:
        # A defect, not a user error: still one line, the traceback only on request.
        if args.verbose:
            traceback.print_exc()
        _fail(f"error: unexpected {type(exc).__name__}: {exc} (-v shows the traceback)")
        return EXIT_FAILED


def _fail(message: str) -> None:
    """The one line a failure prints on stderr."""
    print(" ".join(message.split()), file=sys.stderr)
