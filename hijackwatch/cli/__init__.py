"""The ``hijackwatch`` command: each sub-command lives in its own module and registers itself.

Exit codes (documented in the README, relied on by cron and CI pipelines):
0 done; 1 done, but ``--fail-on-new`` found new hijacks; 2 bad usage or input
(missing seeds file, bad URL); 3 the database could not be used (unreachable, out
of date schema); 4 the crawl itself failed.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

EXIT_OK = 0
EXIT_NEW_HIJACKS = 1
EXIT_USAGE = 2
EXIT_DATABASE = 3
EXIT_CRAWL_FAILED = 4

# Modules providing ``register(subparsers)``; each sets ``func`` on its parser.
COMMAND_MODULES = (
    "hijackwatch.cli.crawl",  # crawl, demo
    "hijackwatch.cli.scan",  # scan, eval
    "hijackwatch.cli.db",  # report, db
)


class CommandError(Exception):
    """A failure with a one-line message for the user and an exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def int_between(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: out of range is a usage error (exit 2), not a crash later on."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f">= {low}" if high is None else f"between {low} and {high}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, not {value}")
        return value

    return parse


def stdout_console(**options: Any) -> Console:
    """A rich Console on stdout whose broken pipe ends the command like any other
    (rich's own handler exits 1: a reader that stopped early is no failure)."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return _Console(**options)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hijackwatch",
        description="Find SEO-hijacked pages on the sites you are responsible for.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a command module still being written
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CommandError as exc:
        print(f"hijackwatch {args.command}: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print(f"hijackwatch {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`report | head`): what it wanted it has; no traceback,
        # and none again when Python flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
