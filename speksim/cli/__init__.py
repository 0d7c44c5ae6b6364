"""The `speksim` command.

    speksim run recording.aedat4 --config net.json --fit crop -o run.h5 --plots plots/
    speksim run recording.aedat4 --model net.nir
    speksim check net.json|net.nir|net.pt|net.py:make_model [--recording FILE] [--json]
    speksim describe [CHIP] [--json]
    speksim info FILE
    speksim plot run.h5 [--out DIR]
    speksim demo [--out DIR]
    speksim stalls run.h5 [--recording recording.aedat4] [--json]
    speksim report run.h5 [--recording recording.aedat4] -o report.html
    speksim sweep recording.aedat4 --config net.json --grid core.2.synop_ns=10,15,20 [--jobs N]
    speksim batch 'recordings/*.aedat4' --config net.json -o runs/ [--jobs N]

The command line only parses and reports: every subcommand calls the library, which raises
typed errors and never prints. This module turns an error into one line on stderr
(`speksim: error: ...`, with indented details) and an exit code: 2 for chip, configuration, model
and argument errors, 3 for input errors (recordings, events, run files), 4 for a deadlock, 5 when a
check asked for failed (a `compare` threshold, a drifted regression scenario), 1 for anything else,
130 when interrupted. `--debug` (before or after the subcommand) adds the
traceback. One module per group of subcommands (`run`, `inspect`, `demo`, `stalls`, `report`, `sweep`,
`batch`, `compare`, `calibrate`, `bench`); each has `add(sub, common)` to add its parsers.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from .._version import __version__
from ..errors import (ChipFileError, ConfigError, DeadlockError, EventError, ModelError, ReaderError, RunFileError,
                      SpeksimError)
from . import batch, bench, calibrate, compare, demo, inspect, report, run, stalls, sweep
from ._common import EXIT_CONFIG, EXIT_DEADLOCK, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_OK, EXIT_OTHER, UsageError

_GROUPS = (run, inspect, demo, stalls, report, sweep, batch, compare, calibrate, bench)


def main(argv=None) -> int:
    """Run the `speksim` command with `argv` (default: sys.argv[1:]); returns the exit code."""
    argv = [str(a) for a in (sys.argv[1:] if argv is None else argv)]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or an argparse usage error (already printed)
        return exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else EXIT_CONFIG)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_CONFIG
    debug = bool(getattr(args, "debug", False) or getattr(args, "debug_global", False))
    try:
        return int(args.func(args, argv) or EXIT_OK)
    except KeyboardInterrupt:
        print("speksim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader of our output went away (`speksim describe | head`): not an error
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_OK
    except Exception as exc:  # every error becomes one line and an exit code
        return report_error(exc, debug)


def exit_code(exc: BaseException) -> int:
    """The exit code of an error (see the module docstring)."""
    if isinstance(exc, DeadlockError):
        return EXIT_DEADLOCK
    if isinstance(exc, (ChipFileError, ConfigError, ModelError, UsageError)):
        return EXIT_CONFIG
    if isinstance(exc, (EventError, ReaderError, RunFileError)):
        return EXIT_INPUT
    return EXIT_OTHER


def error_text(exc: BaseException) -> str:
    """An error's message for the command line (its `cli` wording when it has one)."""
    if isinstance(exc, OSError) and not isinstance(exc, SpeksimError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    if isinstance(exc, SpeksimError):
        return exc.cli or str(exc)
    if isinstance(exc, UsageError):
        return str(exc)
    return f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)"


def report_error(exc: BaseException, debug: bool) -> int:
    if debug:
        traceback.print_exc(file=sys.stderr)
    lines = error_text(exc).strip().splitlines() or [type(exc).__name__]
    print(f"speksim: error: {lines[0]}", file=sys.stderr)
    for line in lines[1:]:
        print(line if line.startswith("  ") else f"  {line}", file=sys.stderr)
    return exit_code(exc)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback of an error")
    p = argparse.ArgumentParser(
        prog="speksim",
        description="Event-driven, cycle-approximate simulator of SynSense Speck / DYNAP-CNN chips.",
        epilog="Exit codes: 0 ok, 1 other error, 2 chip/configuration/argument error, 3 input error, "
               "4 deadlock, 5 check failed, 130 interrupted.")
    p.add_argument("--debug", dest="debug_global", action="store_true", help="show the full traceback of an error")
    p.set_defaults(func=None)
    p.add_argument("--version", action="version", version=f"speksim {__version__}")
    sub = p.add_subparsers(title="commands", metavar="COMMAND")
    for group in _GROUPS:
        group.add(sub, common)
    return p


__all__ = ["main", "build_parser", "exit_code", "error_text", "report_error", "UsageError"]
