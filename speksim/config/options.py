"""The options of one run, each declared once: type, default, unit, allowed values and a line of
description. `RunOptions` is built from these declarations, `speksim.config.rules` checks them,
the command line derives its flags from them, and `speksim describe` prints them.

Options are not part of the chip configuration: the same configuration can be run with another
slow clock or bin width.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Optional

#: The command line gives times in µs (like recordings); the library keeps ns (SPEC §0).
NS_PER_US = 1000


@dataclass(frozen=True)
class OptionSpec:
    """One declared run option. `lo`/`hi` bound numbers (None: unbounded), `choices` bounds
    strings; `optional` options may be None. `flag` is the command-line flag, and `flag_scale`
    the factor from the flag's unit to the option's (1000 for a flag in µs of an option in ns)."""

    name: str
    kind: type
    default: object
    unit: str
    description: str
    lo: Optional[float] = None
    hi: Optional[float] = None
    choices: tuple = ()
    optional: bool = False
    flag: str = ""
    flag_scale: int = 1

    @property
    def flag_unit(self) -> str:
        return "µs" if self.flag_scale == NS_PER_US else self.unit


def _option(default, kind, unit, description, *, lo=None, hi=None, choices=(), optional=False, flag_us=False):
    return field(default=default, metadata={"spec": dict(
        kind=kind, unit=unit, description=description, lo=lo, hi=hi, choices=tuple(choices), optional=optional,
        flag_us=flag_us)})


@dataclass(frozen=True)
class RunOptions:
    """Options of one run (see OPTIONS for units, ranges and descriptions)."""

    input_path: str = _option(
        "host", str, "", "where input events enter: written by the host (devkit replay, SPEC T1 host link) or "
        "from the on-chip sensor (sensor link)", choices=("host", "sensor"))
    slow_clock_hz: float = _option(
        1000.0, float, "Hz", "slow-clock rate for leak and readout (SPEC F4, F7); 0 turns the slow clock off",
        lo=0, hi=1e9)
    bin_ns: int = _option(
        1_000_000, int, "ns", "width of the time-series bins (busy, stall, FIFO occupancy, SynOps, drops)",
        lo=1, hi=10**15, flag_us=True)
    max_series_bins: int = _option(
        16_384, int, "bins", "most time-series bins a run keeps: a longer run doubles the bin width as often as "
        "needed (so memory does not grow with the recording's length); the width used is the result's bin_ns",
        lo=2, hi=2**26)
    end_ns: Optional[int] = _option(
        None, int, "ns", "stop the run at this simulated time whatever is still in flight (SPEC T12); "
        "none: run until the chip is idle", lo=0, hi=2**62, optional=True, flag_us=True)
    drain_ns: int = _option(
        1_000_000_000, int, "ns", "without end_ns, a chip still busy this long after the last input's timestamp "
        "is stopped there and the result says it was cut (SPEC T12)", lo=0, hi=2**62, flag_us=True)


def _specs() -> tuple[OptionSpec, ...]:
    out = []
    for f in fields(RunOptions):
        m = dict(f.metadata["spec"])
        flag_us = m.pop("flag_us")
        flag = "--" + (f.name[:-3] + "_us" if flag_us else f.name).replace("_", "-")
        out.append(OptionSpec(name=f.name, default=f.default, flag=flag,
                              flag_scale=NS_PER_US if flag_us else 1, **m))
    return tuple(out)


#: Every run option, in declaration order.
OPTIONS: tuple[OptionSpec, ...] = _specs()


def option_table() -> list[dict]:
    """Every run option with its default, unit, allowed values and description (for `describe`)."""
    rows = []
    for o in OPTIONS:
        if o.choices:
            allowed = " | ".join(o.choices)
        elif o.hi >= 1e12:
            allowed = f">= {o.lo:g}" + (" or none" if o.optional else "")
        else:
            allowed = f"{o.lo:g} .. {o.hi:,.0f}" + (" or none" if o.optional else "")
        rows.append(dict(name=o.name, default=o.default, unit=o.unit, allowed=allowed, flag=o.flag,
                         description=o.description))
    return rows


def check_options(options: RunOptions) -> list[tuple[str, str]]:
    """Every problem of `options` (values out of range or of the wrong type), each as a pair of
    messages: one naming the option (`RunOptions.bin_ns`), one naming its command-line flag in the
    flag's unit (`--bin-us`)."""
    problems = []
    for o in OPTIONS:
        v = getattr(options, o.name)
        if v is None and o.optional:
            continue
        if o.choices:
            if v not in o.choices:
                rule = f"is {v!r}; it must be one of {', '.join(o.choices)}"
                problems.append((f"RunOptions.{o.name} {rule}", f"{o.flag} {rule}"))
            continue
        ok_type = isinstance(v, (int, float)) and not isinstance(v, bool)
        if o.kind is int and ok_type and v != int(v):
            ok_type = False
        if not ok_type:
            what = f"must be a {'whole ' if o.kind is int else ''}number"
            problems.append((f"RunOptions.{o.name} is {v!r}; it {what} of {o.unit}",
                             f"{o.flag} is {v!r}; it {what} of {o.flag_unit}"))
        elif not o.lo <= v <= o.hi:
            s = o.flag_scale
            problems.append((f"RunOptions.{o.name} is {v:g} {o.unit}; it must be in [{o.lo:g}, {o.hi:g}] {o.unit}",
                             f"{o.flag} is {v / s:g} {o.flag_unit}; it must be in [{o.lo / s:g}, {o.hi / s:g}] "
                             f"{o.flag_unit}"))
    return problems


__all__ = ["RunOptions", "OptionSpec", "OPTIONS", "option_table", "check_options", "NS_PER_US"]
