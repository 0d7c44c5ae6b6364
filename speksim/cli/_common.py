"""What the subcommands share: exit codes, usage errors, progress display, run-option flags, chip
overrides (`--set`)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Optional

from .._text import rate_text
from ..config.options import OPTIONS, RunOptions

EXIT_OK, EXIT_OTHER, EXIT_CONFIG, EXIT_INPUT, EXIT_DEADLOCK, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
#: A check the user asked for failed (a `compare` threshold, a regression scenario that drifted).
EXIT_CHECK = 5


class UsageError(Exception):
    """Arguments that do not fit together (exit code 2)."""


def note(text: str) -> None:
    """A note for the user on stderr (never part of a command's output proper)."""
    print(f"speksim: note: {text}", file=sys.stderr)


def note_compiling(engine: str, quiet: bool) -> None:
    """Say so when this run has to compile the fast engine first (once per installation and numba
    version), so that a first run's time and rate are not taken for the simulator's speed."""
    if engine != "fast" or quiet:
        return
    from ..engine.fast import compiled
    if not compiled():
        note("compiling the fast engine for this machine first (once per installation and numba version; "
             "about 20-30 s)")


def warn(text: str) -> None:
    print(f"speksim: warning: {text}", file=sys.stderr)


# --------------------------------------------------------------------------------------------
# run options as flags (declared once, in speksim.config.options)
# --------------------------------------------------------------------------------------------

def add_option_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per run option, with its default, unit and description from the declaration."""
    g = parser.add_argument_group("run options (as in speksim.RunOptions; 'speksim describe' lists them)")
    for o in OPTIONS:
        default = o.default
        if default is not None and o.flag_scale > 1:
            default = default // o.flag_scale if isinstance(default, int) else default / o.flag_scale
        kind = int if o.kind is int else float if o.kind is float else str
        shown = "none" if default is None else f"{default:g}" if isinstance(default, float) else default
        unit = f" ({o.flag_unit})" if o.flag_unit else ""
        g.add_argument(o.flag, dest=f"opt_{o.name}", type=kind, default=default, metavar=None if o.choices else "N",
                       choices=o.choices or None, help=f"{o.description}{unit}; default: {shown}")


def options_from_args(args) -> RunOptions:
    """The RunOptions the flags ask for (unchecked: `speksim.config.validate` checks them)."""
    values = {}
    for o in OPTIONS:
        v = getattr(args, f"opt_{o.name}")
        if v is not None and o.flag_scale > 1:
            v = v * o.flag_scale
        values[o.name] = v
    return RunOptions(**values)


# --------------------------------------------------------------------------------------------
# chip overrides
# --------------------------------------------------------------------------------------------

def add_engine_flag(group) -> None:
    """--engine NAME[:ARG]: any registered engine (speksim.engine.base), the fast one by default."""
    from ..engine.base import engine_names
    names = engine_names()

    def engine(text: str) -> str:
        if text.partition(":")[0] not in names:
            raise argparse.ArgumentTypeError(f"unknown engine {text!r}; the engines are {', '.join(names)} "
                                             "(devkit:DEVICE runs on a connected devkit, with samna)")
        return text

    group.add_argument("--engine", type=engine, default="fast", metavar="NAME",
                       help="fast (numba, default), wave (the fast engine's results, faster on a chain of cores "
                            "with no ticks, decimator or balancer; simulates at the end), reference (SimPy: slow, "
                            "written to be read) or devkit:DEVICE (a connected speck2f, speck2e or dynapcnn devkit; "
                            "needs samna)")


def add_set_flag(parser: argparse.ArgumentParser) -> None:
    """`--set [core.K.]NAME=VALUE`, repeatable: what-if overrides of the chip's parameters."""
    parser.add_argument("--set", dest="set", action="append", default=[], metavar="[core.K.]NAME=VALUE",
                        help="override a chip parameter (repeatable): core.3.synop_ns=8 changes core 3, "
                             "fifo_depth=64 every core, host_out_ns=100; the run file records the overrides; "
                             "'speksim describe' lists the parameters")


def chip_from_args(args):
    """The chip of `--chip` with the `--set` overrides applied, in order."""
    from ..analysis.sweep import is_config_setting
    from ..chip import load_chip
    chip = load_chip(args.chip)
    overrides = list(getattr(args, "set", None) or [])
    for item in overrides:
        if is_config_setting(item):
            raise UsageError(f"--set {item}: that is a setting of the configuration, not of the chip; change it in "
                             "the configuration, or compare values with 'speksim sweep --grid "
                             f"{item.partition('=')[0]}=...'")
    return chip.with_overrides(overrides) if overrides else chip


# --------------------------------------------------------------------------------------------
# progress
# --------------------------------------------------------------------------------------------

class Progress:
    """Progress of a long run on stderr.

    On a terminal: one line redrawn at most 10 times a second, with a bar and an ETA when the
    fraction done is known. Piped into a log: a plain line every `log_every` seconds. Silent when
    disabled (`--quiet`).
    """

    def __init__(self, enabled: bool, stream=None, log_every: float = 5.0):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = 0.1 if self.tty else log_every
        self.t0 = time.perf_counter()
        self._last = self.t0
        self._width = 0

    def update(self, events: int, t_us: Optional[int], fraction: Optional[float] = None, force=False):
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self._last < self.every:
            return
        self._last = now
        elapsed = max(now - self.t0, 1e-9)
        parts = []
        if fraction is not None:
            f = min(max(fraction, 0.0), 1.0)
            fill = int(round(24 * f))
            parts.append(f"[{'#' * fill}{'-' * (24 - fill)}] {f:4.0%}" if self.tty else f"{f:4.0%}")
        parts.append(f"{events:,} events")
        parts.append(rate_text(events / elapsed))
        if t_us is not None:
            parts.append(f"input t = {t_us / 1e6:.3f} s")
        parts.append(f"{elapsed:.1f} s")
        if fraction is not None and 0.01 <= fraction < 1:
            parts.append(f"ETA {elapsed * (1 - fraction) / fraction:.0f} s")
        line = "  ".join(parts)
        if self.tty:
            pad = max(self._width - len(line), 0)
            self._width = len(line)
            self.stream.write("\r" + line + " " * pad)
        else:
            self.stream.write(f"speksim: {line}\n")
        self.stream.flush()

    def message(self, text: str):
        """A line of its own (e.g. 'writing the run file'), after the progress line."""
        if not self.enabled:
            return
        self.close()
        self.stream.write(f"speksim: {text}\n")
        self.stream.flush()

    def close(self):
        if self.enabled and self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0
