"""The `aio-move-ugc` command: demo, run, bulk, watch, download, jobs list, emulator, worker,
probe.

Every failure prints one line to stderr: usage errors (a bad flag or value) exit 2, other
failures 1, an interrupted command 130 after saying how to continue; never a traceback (but
with -v for a defect). The global flags are accepted before and after the subcommand.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from .._exceptions import APIStatusError, ConfigurationError, InvalidInputError, MoveUgcError
from ._commands import COMMANDS, add_arguments, resume_hint, whole_in

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
MAX_RETRIES_LIMIT = 20

FLAG_WORDS = {
    "dest_dir": "-o/--output",
    "api_key": "--api-key",
    "endpoint_url": "--endpoint-url",
    "max_retries": "--max-retries",
    "rate_limit": "--rate-limit",
    "concurrency": "--concurrency",
    "interval": "--interval",
    "timeout": "--timeout",
    "limit": "--limit",
    "next_token": "--next-token",
    "dest": "--output",
    "outputs": "--outputs",
    "device_label": "--device-label",
}
"""The library's argument names, and the flags the command line calls them by."""
NO_FLAG_ADVICE = re.compile(r";\s*pass (?!--)\w+=[^;]*")
"""A library message's advice to pass an argument the command line has no flag for (`; pass
type=...`): dropped, the rest of the message stands on its own."""
API_FLAGS = ("api_key", "endpoint_url", "max_retries")
"""The global flags of commands that call the API."""
API_FLAGS_OF = {
    "demo": (),
    "emulator": (),
    "worker": ("api_key", "endpoint_url"),
    "probe": ("api_key", "endpoint_url"),  # its requests are counted against --budget
}
"""Commands that use fewer of `API_FLAGS` (the demo and the emulator serve their own API):
those flags are not offered there, and given before the command they are usage errors."""
API_FLAG_DEFAULTS: dict[str, object] = {"api_key": None, "endpoint_url": None, "max_retries": 3}
EXIT_BROKEN_PIPE = 141
"""What a shell reports for a command whose reader went away (128 + SIGPIPE), as `yes | head`."""
ENDPOINT_404_HINT = (
    "; the endpoint answered 404: --endpoint-url must be the GraphQL endpoint itself, "
    "usually ending in /graphql"
)


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help, with each option's default said where its help does not say it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "default" not in text
            # `is`, not `in`: 0 and 0.0 equal False, yet are defaults worth saying.
            and not any(default is nothing for nothing in (None, False, argparse.SUPPRESS))
            and action.option_strings
            and action.nargs != 0
        ):
            text += " (default: %(default)s)"
        return text


VERBOSE_BELOW = "verbose_after_command"
"""Where a subcommand's parser hands the `-v` it counted up to the parser above it."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr, and `-v` counts wherever it is given.

    argparse parses a subcommand's arguments into a namespace of their own and copies it over
    the one above, so a count made after the subcommand would replace the count made before
    it. Each subcommand's parser hands its count up under `VERBOSE_BELOW` instead, and the
    top parser adds them: `-v run -v` is `-vv`.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.subcommand_actions: list[argparse.Action] = []
        self.is_subcommand = False
        """Set on the parsers of subcommands (their `-v` counts go up to the top parser)."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, rest = super().parse_known_args(args, namespace)
        found = vars(parsed)
        below = found.pop(VERBOSE_BELOW, 0)
        if self.is_subcommand:
            found[VERBOSE_BELOW] = below + found.pop("verbose", 0)
        elif "verbose" in found:
            found["verbose"] += below
        if not self.is_subcommand and "command" in found:
            self._finish_api_flags(found)
        return parsed, rest

    def _finish_api_flags(self, found: dict[str, Any]) -> None:
        """Refuse the API flags a command does not use (given before it), and give the ones
        it uses their defaults."""
        command = str(found["command"]).split("-")[0]
        uses = API_FLAGS_OF.get(command, API_FLAGS)
        for name in API_FLAGS:
            if name not in uses and name in found:
                flag = FLAG_WORDS[name]
                own = "" if uses else ", which serves its own API"
                self.error(f"{flag} does not apply to {command}{own}")
            if name in uses:
                found.setdefault(name, API_FLAG_DEFAULTS[name])

    def add_subparsers(self, **kwargs: Any) -> Any:
        action = super().add_subparsers(**kwargs)
        self.subcommand_actions.append(action)
        return action

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _max_retries(text: str) -> int:
    return whole_in(text, 0, MAX_RETRIES_LIMIT)


def _add_global_flags(
    parser: argparse.ArgumentParser, *, suppress: bool, api: Sequence[str] = API_FLAGS
) -> None:
    """The flags every command accepts (of `API_FLAGS`, those in `api`). On subcommands
    (`suppress`) they have no default of their own, so a flag given before the subcommand is
    not undone by its absence after: a value given on both sides is the one after (`--json`
    is on when given on either), and `-v` counts on both sides (`-v run -v` is `-vv`). The
    API flags have no default on the top parser either: `finish_api_flags` sets them once
    the command is known."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    if "api_key" in api:
        parser.add_argument(
            "--api-key", default=argparse.SUPPRESS, help="API key (default: $MOVE_UGC_API_KEY)"
        )
    if "endpoint_url" in api:
        parser.add_argument(
            "--endpoint-url",
            default=argparse.SUPPRESS,
            metavar="URL",
            help="GraphQL endpoint, ending in /graphql "
            "(default: $MOVE_UGC_ENDPOINT_URL, else the hosted API)",
        )
    if "max_retries" in api:
        parser.add_argument(
            "--max-retries",
            type=_max_retries,
            default=argparse.SUPPRESS,
            metavar="N",
            help="retries of a failed request: connection errors, 429, 5xx "
            f"(0-{MAX_RETRIES_LIMIT}; default: 3 for API requests, 5 for transfers)",
        )
    parser.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="machine-readable output on stdout: JSON, one object a line where results come "
        "one by one (watch, bulk); no tables, no progress",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=default(0),
        help="log every API request (operation, status, duration, request id, retries) and "
        "every finished upload or download (bytes, duration, speed, requests) to stderr; "
        "-vv adds debug detail; counts before and after the command add up",
    )


def _add_globals_to_subcommands(parser: argparse.ArgumentParser) -> None:
    for action in getattr(parser, "subcommand_actions", []):
        for name, sub in (action.choices or {}).items():
            _add_global_flags(sub, suppress=True, api=API_FLAGS_OF.get(name, API_FLAGS))
            if isinstance(sub, _Parser):
                sub.is_subcommand = True
            _add_globals_to_subcommands(sub)


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = _Parser(
        prog="aio-move-ugc",
        description="Turn videos into motion capture with the Move UGC API "
        "(or its local emulator). Global flags may come before or after the command.",
        epilog="Try it without an account: aio-move-ugc demo",
    )
    parser.add_argument("--version", action="version", version=f"aio-move-ugc {__version__}")
    _add_global_flags(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    add_arguments(commands)
    _add_globals_to_subcommands(parser)
    return parser


def in_cli_words(message: str) -> str:
    """A library message in the command line's words: flags instead of argument names."""
    for name, flag in FLAG_WORDS.items():
        message = re.sub(rf"\b{name}=\.\.\.", flag, message)
        # An argument's name, not the same word in a sentence ("the job's outputs").
        named = rf"(?<![-\w]){name}\b" if "_" in name else rf"(?:^{name}\b|\b{name}(?= must\b))"
        message = re.sub(named, flag, message)
    return NO_FLAG_ADVICE.sub("", message)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # help, a table or JSON cut short by `| head`
        return _reader_gone()


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "bulk" and getattr(args, "temporal", None):
        from ..distributed._cli import refused_with_temporal

        problem = refused_with_temporal(args)
        if problem is not None:
            parser.error(problem)
    if args.verbose:
        import logging

        from ..observability import install_stderr_logging

        install_stderr_logging(logging.DEBUG if args.verbose > 1 else logging.INFO)
    command = COMMANDS[args.command]
    try:
        return asyncio.run(command(args))
    except KeyboardInterrupt:
        _fail(f"interrupted; {resume_hint(args)}")
        return EXIT_INTERRUPTED
    except (ConfigurationError, InvalidInputError) as exc:
        _fail(f"error: {in_cli_words(str(exc))}")
        return EXIT_FAILED
    except APIStatusError as exc:
        _fail(f"error: {exc}{ENDPOINT_404_HINT if exc.status == 404 else ''}")
        return EXIT_FAILED
    except MoveUgcError as exc:
        _fail(f"error: {exc}")
        return EXIT_FAILED
    except BrokenPipeError:
        raise  # not a failure to report: `main` exits quietly
    except OSError as exc:
        _fail(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        return EXIT_FAILED
    except Exception as exc:
        # A defect, not a user error: still one line, the traceback only on request.
        if args.verbose:
            traceback.print_exc()
        _fail(f"error: unexpected {type(exc).__name__}: {exc} (-v shows the traceback)")
        return EXIT_FAILED


def _reader_gone() -> int:
    """`aio-move-ugc ... | head`: the reader closed the pipe. Nothing to say (nobody reads
    it); stdout is pointed at /dev/null so that the interpreter's last flush stays quiet."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        os.dup2(devnull, stream.fileno())
    os.close(devnull)
    return EXIT_BROKEN_PIPE


def _fail(message: str) -> None:
    """The one line a failure prints on stderr."""
    print(" ".join(message.split()), file=sys.stderr)
