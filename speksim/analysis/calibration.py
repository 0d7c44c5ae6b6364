"""What a timing calibration fits (`Param`, `default_params`, `parse_params`) and what it found
(`Calibration`: the table a user reads and the chip file it writes).
`speksim.analysis.calibrate` does the fitting.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from .._files import atomic_path
from ..blocks import N_CORES
from ..chip import PARAMETERS, Chip, builtin_chips, close_names
from ..errors import ChipFileError

#: The parameters calibration fits: times (ns) and FIFO depths (slots).
TIMES = ("event_ns", "synop_ns", "route_ns", "leak_ns", "host_in_ns", "host_in_latency_ns", "sensor_ns",
          "sensor_latency_ns", "host_out_ns", "host_out_latency_ns", "dvs_event_ns", "dvs_route_ns",
          "readout_event_ns")
DEPTHS = ("fifo_depth", "out_depth", "host_out_fifo_depth", "dvs_fifo_depth", "dvs_out_depth",
           "readout_fifo_depth")
SPECS = {p.name: p for p in PARAMETERS}


@dataclass(frozen=True)
class Param:
    """One fitted quantity: a chip parameter (`core` None: every core of a per-core one)."""

    name: str
    core: Optional[int] = None

    @property
    def key(self) -> str:
        return self.name if self.core is None else f"core.{self.core}.{self.name}"

    @property
    def depth(self) -> bool:
        return self.name in DEPTHS

    def value(self, chip: Chip, cores: Sequence[int]) -> int:
        """Its value on `chip`; a per-core one fitted for every core: that of the first core in use."""
        v = getattr(chip, self.name)
        if SPECS[self.name].kind != "percore":
            return int(v)
        return int(v[self.core if self.core is not None else (cores[0] if cores else 0)])



@dataclass
class Calibration:
    """What `calibrate` found. Times in ns, depths in slots.

    fitted: {parameter key: fitted value} for every parameter the captures fix (alone, or in a
    combination fitted with its base ratio kept); base: {key: the base chip's value} for every
    parameter tried; sigma: {key: one standard deviation of the fitted value from the µs flooring};
    ranges: {key: [low, high]} the values that fit the captured µs as well, the others fixed;
    residual: {"before": figures, "after": figures}, each with n (pairs matched), rms_ns,
    median_abs_ns, max_abs_ns, within_us (share of pairs whose simulated time falls in the
    capture's µs), unmatched_capture, unmatched_sim; unidentified: {key: why the captures cannot
    fix it alone}; combinations: [{"parameters", "coefficients", "base", "fitted"}] the sums only
    identified together; per_capture: {name: residual figures after}.
    """

    base_chip: Chip
    base_ref: Optional[str]
    fitted: dict
    base: dict
    sigma: dict
    ranges: dict
    residual: dict
    unidentified: dict
    combinations: list
    per_capture: dict
    captures: list
    simulations: int
    seconds: float
    warnings: list = field(default_factory=list)

    def chip(self) -> Chip:
        """The base chip with the fitted values (in memory)."""
        values = {Param(name, core): v for (core, name), v in ((split_key(k), v) for k, v in self.fitted.items())}
        return apply_values(self.base_chip, values, reason="fitted to devkit captures")

    def to_dict(self) -> dict:
        """Everything above, JSON-ready (figures that do not exist, e.g. without a pair, are None)."""
        return _no_nan({
            "base_chip": self.base_chip.name, "captures": list(self.captures), "fitted": dict(self.fitted),
            "base": dict(self.base), "sigma": {k: round(v, 3) for k, v in self.sigma.items()},
            "ranges": dict(self.ranges), "residual": self.residual, "unidentified": dict(self.unidentified),
            "combinations": self.combinations, "per_capture": self.per_capture, "simulations": self.simulations,
            "seconds": round(self.seconds, 3), "warnings": list(self.warnings)})

    def text(self, warnings: bool = True) -> str:
        """The table of parameters (base, fitted, change, uncertainty, identified or why not) and
        the residual before and after; with the warnings at the end unless `warnings=False`."""
        rows = [("parameter", "base", "fitted", "change", "± (1σ)", "identified")]
        for key in self.base:
            b = self.base[key]
            f = self.fitted.get(key)
            change = "" if f is None or b == 0 else f"{100.0 * (f - b) / b:+.1f}%"
            sig = f"{self.sigma[key]:.1f}" if key in self.sigma else ""
            rows.append((key, str(b), "" if f is None else str(f), change, sig,
                         self.unidentified.get(key, "yes")))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r[:5], widths)))
                 + "  " + r[5] for r in rows]
        b, a = self.residual["before"], self.residual["after"]
        lines.append("")
        lines.append(f"residual over {a['n']} matched output events (simulated minus captured time; a devkit's "
                     "whole µs taken at its middle, +500 ns):")
        for label, r in (("base chip", b), ("fitted", a)):
            lines.append(f"  {label:<9}  rms {r['rms_ns']:>10.1f} ns  median |r| {r['median_abs_ns']:>10.1f} ns  "
                         f"max |r| {r['max_abs_ns']:>10.1f} ns  in the capture's µs {r['within_us']:6.1%}")
        if a["unmatched_capture"] or a["unmatched_sim"]:
            lines.append(f"  not matched (not fitted): {a['unmatched_capture']} capture events, "
                         f"{a['unmatched_sim']} simulated events")
        lines.append(f"{self.simulations} simulations, {self.seconds:.1f} s")
        lines += [f"warning: {w}" for w in self.warnings] if warnings else []
        return "\n".join(lines)

    # ----- the chip file --------------------------------------------------------------------
    def chip_toml(self, name: Optional[str] = None, captures: Optional[Sequence[str]] = None,
                  date: str = "", extends: Optional[str] = None) -> str:
        """A chip file (TOML) that `extends` the base chip and sets the fitted values, each with
        source "fit" and a reason naming the captures, the date and the residual. `extends`: how
        to name the base (default: its built-in name, or the path it was loaded from)."""
        extends = extends or self.base_ref
        if extends is None:
            raise ChipFileError(f"the base chip {self.base_chip.name!r} was given as a Chip that is no built-in chip: "
                                "give calibrate() its name or chip file path, or pass extends= to chip_toml()")
        names = ", ".join(captures if captures is not None else self.captures)
        a, b = self.residual["after"], self.residual["before"]
        why = (f"fitted to {names}{f' on {date}' if date else ''}: rms residual {a['rms_ns']:.0f} ns over {a['n']} "
               f"events (base chip: {b['rms_ns']:.0f} ns)")
        lines = [f"# {self.base_chip.name} timing fitted by speksim calibrate: {why}."]
        skipped = {k: v for k, v in self.unidentified.items() if k not in self.fitted}
        if skipped:
            lines.append("# Not fitted (left as the base chip has them), because the captures cannot identify them:")
            lines += [f"#   {k}: {v}" for k, v in skipped.items()]
        lines += [f"name = {_toml_str(name or f'{self.base_chip.name}-fitted')}", f"extends = {_toml_str(extends)}",
                  f"description = {_toml_str(f'{self.base_chip.description} (timing fitted to {names})')}"]
        by_section: dict = {}
        percore: dict = {}
        for key, value in self.fitted.items():
            core, pname = split_key(key)
            spec = SPECS[pname]
            # a value written although not identified alone (a combination's term) says so
            reason = why + (f"; {self.unidentified[key]}" if key in self.unidentified else "")
            if core is None:
                by_section.setdefault(spec.section, []).append((pname, value, reason))
            else:
                percore.setdefault(pname, {})[core] = (value, reason)
        for pname, cores in percore.items():
            # one key per parameter: the cores fitted one by one go into one per-core list
            values = list(getattr(self.base_chip, pname))
            for core, (value, _) in cores.items():
                values[core] = value
            reason = "; ".join(dict.fromkeys(r for _, r in cores.values()))
            listed = ", ".join(f"core {c}" for c in sorted(cores))
            by_section.setdefault(SPECS[pname].section, []).append((pname, values, f"{listed}: {reason}"))
        for section in ("timing", "timing.core"):
            if section not in by_section:
                continue
            lines += ["", f"[{section}]"]
            for pname, value, reason in by_section[section]:
                v = "[" + ", ".join(str(int(x)) for x in value) + "]" if isinstance(value, list) else str(int(value))
                lines.append(f'{pname} = {{ value = {v}, source = "fit", reason = {_toml_str(reason)} }}')
        return "\n".join(lines) + "\n"

    def write_chip(self, path, name: Optional[str] = None, captures: Optional[Sequence[str]] = None,
                   date: str = "") -> Path:
        """Write `chip_toml(...)` to `path`; a base chip file is named by its path relative to
        `path`'s folder, so the pair can be moved together."""
        path = Path(path)
        extends = self.base_ref
        if extends is not None and extends not in builtin_chips():
            base = Path(extends).resolve()
            try:
                extends = os.path.relpath(base, path.resolve().parent)
            except ValueError:      # another drive (Windows)
                extends = str(base)
            extends = Path(extends).as_posix()
        text = self.chip_toml(name=name, captures=captures, date=date, extends=extends)
        with atomic_path(path) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
        return path


def _no_nan(obj):
    if isinstance(obj, dict):
        return {k: _no_nan(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_no_nan(v) for v in obj]
    return None if isinstance(obj, float) and math.isnan(obj) else obj


def _toml_str(s: str) -> str:
    # a JSON string is a valid TOML basic string (same escapes)
    return json.dumps(str(s), ensure_ascii=False)


def split_key(key: str) -> tuple:
    parts = key.split(".")
    return (int(parts[1]), parts[2]) if parts[0] == "core" else (None, key)


def combination_text(c: dict) -> str:
    terms = []
    for p, k in zip(c["parameters"], c["coefficients"]):
        terms.append(p if abs(k - 1) < 0.05 else f"{k:.3g}·{p}")
    return (f"only {' + '.join(terms)} is identified (fitted: {c['fitted']:.0f} ns, base {c['base']:.0f} ns); "
            "its terms keep the base chip's ratio")



def apply_values(chip: Chip, values: dict, reason: str = "calibration candidate") -> Chip:
    kw = {}
    for p, v in values.items():
        if p.core is None:
            kw[p.name] = int(v)
        else:
            kw.setdefault(p.name, {})[p.core] = int(v)
    return chip.replace(reason=reason, **kw) if kw else chip



# ----- which parameters ---------------------------------------------------------------------
def default_params(cases) -> list:
    """Every timing parameter the captures can constrain, in declaration order."""
    host = any(c.options.input_path == "host" for c in cases)
    sensor = any(c.options.input_path == "sensor" for c in cases)
    dvs = any(c.kind == "dvs" for c in cases)
    readout = any(c.config.readout.enable for c in cases)
    leak = any(c.options.slow_clock_hz > 0 and any(c.config.cnn_layers[k].leak_enable for k in c.config.used_cores())
               for c in cases)
    used = {"leak_ns": leak, "host_in_ns": host, "host_in_latency_ns": host, "sensor_ns": sensor,
            "sensor_latency_ns": sensor, "dvs_event_ns": dvs, "dvs_route_ns": dvs, "dvs_fifo_depth": dvs,
            "dvs_out_depth": dvs, "readout_event_ns": readout, "readout_fifo_depth": readout}
    return [Param(n) for n in TIMES + DEPTHS if used.get(n, True)]


def parse_params(parameters) -> list:
    """`[core.K.]NAME` texts as Params; ChipFileError (worded for `--param` on the command line)
    for a name that is no timing parameter, a core that does not exist, or a parameter asked for
    every core and for single cores."""
    def bad(text, why):
        raise ChipFileError(f"parameter {text!r}: {why}", cli=f"--param {text}: {why}")
    out = []
    for text in parameters:
        core, name = None, str(text).strip()
        parts = name.split(".")
        if parts[0] == "core":
            if len(parts) != 3 or not parts[1].isdigit():
                bad(text, "write core.K.NAME with K a core number, e.g. core.3.synop_ns")
            core, name = int(parts[1]), parts[2]
        if name not in TIMES + DEPTHS:
            near = close_names(name, TIMES + DEPTHS)
            hint = f"did you mean {', '.join(near)}? " if near else ""
            bad(text, f"{hint}calibrate fits the timing parameters {', '.join(TIMES + DEPTHS)}")
        if core is not None and SPECS[name].kind != "percore":
            bad(text, f"{name} is not a per-core parameter; give it as {name}")
        if core is not None and not 0 <= core < N_CORES:
            bad(text, f"core {core} does not exist (cores are 0..{N_CORES - 1})")
        if any(p.name == name and (p.core is None) != (core is None) for p in out):
            bad(text, f"{name} is asked for every core and for single cores; give one or the other")
        out.append(Param(name, core))
    return list(dict.fromkeys(out))


__all__ = ["Calibration", "Param", "default_params", "parse_params", "TIMES", "DEPTHS", "SPECS", "apply_values",
           "split_key", "combination_text"]
