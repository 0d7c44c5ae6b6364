"""Preflight: will a configuration (or an imported model) fit the chip, and keep up with a
recording?

    report = preflight(config, "speck2f", events)
    print(report.text())        # or report.to_dict() for a script

Memory: each used core's kernel, neuron and bias needs (SPEC §1) against the chip's tables.
Load, with a recording: each core's input events and SynOps, from SynSense's estimate
(input events/s x C_out x k_x x k_y / (s_x x s_y)) and exactly, from a functional pass: the
configuration run on a copy of the chip whose every time is 1 ns and whose FIFOs never fill, so
that each event is handled at (almost) its own timestamp and the counts per window are the load
the recording *offers*. A core's offered busy time per window, at its real speed, is
events x event_ns + SynOps x synop_ns; above the window's length the core cannot keep up there
and the chip will stall.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..blocks import BLOCK_NAMES
from ..chip import Chip, kernel_memory_words, load_chip, neuron_memory_words
from ..config.model import ChipConfig
from ..config.options import RunOptions
from ..errors import ConfigError

#: The window over which the offered load is counted, by default.
WINDOW_NS = 10_000_000

_FAST = dict(host_in_ns=1, host_in_latency_ns=1, sensor_ns=1, sensor_latency_ns=1, host_out_ns=1,
             host_out_latency_ns=0, host_out_fifo_depth=4096, dvs_event_ns=1, dvs_route_ns=1,
             dvs_fifo_depth=4096, dvs_out_depth=4096, readout_event_ns=1, readout_fifo_depth=4096,
             event_ns=1, synop_ns=1, leak_ns=1, route_ns=1, fifo_depth=4096, out_depth=4096)


@dataclass
class Preflight:
    """What `preflight` found. memory: one dict per used core (core, layer, kernel/neuron/bias
    need and have, short: the memories that do not suffice); load: one dict per used core, or
    None without a recording; problems: what a run would refuse; warnings; suggestions: concrete
    changes, most useful first."""

    chip: str
    memory: list
    problems: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    load: Optional[list] = None
    window_ns: int = WINDOW_NS
    duration_ns: int = 0
    suggestions: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the chip accepts the configuration and no core is ever over its capacity."""
        return not self.problems and not any(row["over_windows"] for row in self.load or [])

    def to_dict(self) -> dict:
        return {"chip": self.chip, "ok": self.ok, "problems": list(self.problems), "warnings": list(self.warnings),
                "memory": self.memory, "window_ns": int(self.window_ns), "duration_ns": int(self.duration_ns),
                "load": self.load, "suggestions": list(self.suggestions)}

    def memory_text(self) -> str:
        """The memory table alone."""
        out = [f"memory on {self.chip} (words needed / available per core):"]
        head = f"  {'core':>4}  {'layer':<18} {'kernel':>17} {'neuron':>17} {'bias':>11}  "
        out.append(head + "short")
        for r in self.memory:
            cells = [f"{r[k + '_need']:>7} / {r[k + '_have']:<7}" for k in ("kernel", "neuron")]
            cells.append(f"{r['bias_need']:>4} / {r['bias_have']:<4}")
            core = "-" if r["core"] is None else str(r["core"])
            out.append(f"  {core:>4}  {str(r['layer'])[:18]:<18} {cells[0]:>17} {cells[1]:>17} {cells[2]:>11}  "
                       f"{', '.join(r['short']) or '-'}")
        return "\n".join(out)

    def text(self) -> str:
        """The report as a person reads it: tables, then problems and suggestions."""
        out = [self.memory_text()]
        if self.load is not None:
            w = self.window_ns / 1e6
            out.append("")
            out.append(f"load offered by the recording ({self.duration_ns / 1e9:.3f} s, windows of {w:g} ms):")
            out.append(f"  {'core':>4}  {'events/s':>10} {'SynOps/s est.':>14} {'SynOps/s':>12} {'peak':>12} "
                       f"{'capacity':>12} {'peak busy':>9}  over capacity")
            for r in self.load:
                over = _windows_text(r["over_windows"])
                out.append(f"  {r['core']:>4}  {r['events_per_s']:>10.3g} {r['synops_per_s_formula']:>14.3g} "
                           f"{r['synops_per_s']:>12.3g} {r['peak_synops_per_s']:>12.3g} "
                           f"{r['capacity_synops_per_s']:>12.3g} "
                           f"{r['peak_busy_fraction']:>9.0%}  {over}")
        for title, items in (("problems", self.problems), ("warnings", self.warnings),
                             ("suggestions", self.suggestions)):
            if items:
                out.append("")
                out.append(f"{title}:")
                out.extend(f"  - {x}" for x in items)
        out.append("")
        out.append("verdict: " + ("fits and keeps up" if self.ok else
                                  "does not fit" if self.problems else "fits, but cannot keep up everywhere"))
        return "\n".join(out)


def _windows_text(windows, most=3) -> str:
    if not windows:
        return "-"
    parts = [f"{a / 1e9:.3f}-{b / 1e9:.3f} s" for a, b in windows[:most]]
    more = f" (+{len(windows) - most} more)" if len(windows) > most else ""
    return ", ".join(parts) + more


def memory_rows(config: ChipConfig, chip: Chip) -> list:
    """Per used core: its layer's name (from `config.model` when an importer made it), the
    kernel, neuron and bias words it needs and the core has, and which of them are short."""
    names = {}
    for layer in (config.model or {}).get("layers", []):
        names[layer.get("core")] = layer.get("name")
    rows = []
    for k in config.used_cores():
        layer = config.cnn_layers[k]
        d = layer.dimensions
        c_in, c_out = d.input_shape.feature_count, d.output_shape.feature_count
        need = {"kernel": kernel_memory_words(c_in, c_out, d.kernel_size),
                "neuron": neuron_memory_words(c_out, d.output_shape.size.y, d.output_shape.size.x),
                "bias": c_out if layer.leak_enable else 0}
        have = {"kernel": chip.kernel_words[k], "neuron": chip.neuron_words[k], "bias": chip.bias_words[k]}
        row = {"core": k, "layer": names.get(k, f"core {k}")}
        for kind in ("kernel", "neuron", "bias"):
            row[f"{kind}_need"], row[f"{kind}_have"] = int(need[kind]), int(have[kind])
        row["short"] = [kind for kind in ("kernel", "neuron", "bias") if need[kind] > have[kind]]
        rows.append(row)
    return rows


def preflight(config: ChipConfig, chip="speck2f", events=None, *, options: Optional[RunOptions] = None,
              window_ns: int = WINDOW_NS, progress=None) -> Preflight:
    """Check `config` on `chip`, and with `events` (DVS_EVENT or SPIKE_EVENT, µs; an array or an
    iterable of chunks) the load they offer each core. Never raises for a configuration the chip
    refuses: the problems are in the report."""
    chip = chip if isinstance(chip, Chip) else load_chip(chip)
    options = options or RunOptions()
    report = Preflight(chip=chip.name, memory=memory_rows(config, chip), window_ns=int(window_ns))
    try:
        report.warnings = list(_validate(config, chip, options))
    except ConfigError as exc:
        report.problems = list(exc.problems)
    for row in report.memory:
        for kind in row["short"]:
            report.suggestions.append(_memory_hint(row, kind, chip))
    if events is not None and not report.problems:
        report.load, report.duration_ns = _load(config, chip, events, options, int(window_ns), progress)
        report.suggestions.extend(_load_hints(config, report.load))
    return report


def _validate(config, chip, options):
    from ..config.rules import validate
    return validate(config, chip, options)


def _memory_hint(row, kind, chip) -> str:
    have = max(getattr(chip, f"{kind}_words"))
    fits = [k for k, v in enumerate(getattr(chip, f"{kind}_words")) if v >= row[f"{kind}_need"]]
    where = f"move it to core {', '.join(map(str, fits))}" if fits else f"the largest core has {have}"
    return (f"core {row['core']} ({row['layer']}): {kind} memory needs {row[f'{kind}_need']} words, the core has "
            f"{row[f'{kind}_have']}: {where}" + ("" if fits else "; make the layer smaller"))


class _Nowhere:
    """A Simulation sink that drops what it is given: a functional pass needs the statistics and
    series, and with a sink the outputs are not gathered per chunk (however many a chunk gives)."""

    def inputs(self, t_ns, lag_ns):
        pass

    def outputs(self, events):
        pass


def functional_pass(config, chip, events, options, bin_ns, progress=None, initial_states=None):
    """The Result of `config` run on a copy of `chip` whose every time is 1 ns and whose FIFOs
    never fill (see the module docstring), in bins of `bin_ns`. `events`: an array or an
    iterable of chunks; `initial_states` as for `Simulation`."""
    from ..simulation import Simulation
    fast = chip.replace(reason="preflight functional pass", **_FAST)
    opts = dataclasses.replace(options, bin_ns=bin_ns, end_ns=None)
    sim = Simulation(config, fast, opts, progress=progress, keep_outputs=False, initial_states=initial_states,
                     sink=_Nowhere())
    for chunk in ([events] if isinstance(events, np.ndarray) else events):
        sim.feed(chunk)
    return sim.finish()


def offered_busy_ns(result, chip, core):
    """int64 [n_bins]: the time `core` of `chip` would spend per bin serving what the functional
    pass `result` gave it: events x event_ns + SynOps x synop_ns."""
    synops = result.series["synops"][:, core].astype(np.int64)
    # in the functional pass an event takes event_ns = 1 and a SynOp synop_ns = 1: what the
    # core was busy with beyond its SynOps (and stalls, which never happen there) is its events
    ev = np.maximum(result.series["busy_ns"][:, core] - result.series["stall_ns"][:, core] - synops, 0)
    return ev * chip.event_ns[core] + synops * chip.synop_ns[core]


def _load(config, chip, events, options, window_ns, progress):
    result = functional_pass(config, chip, events, options, window_ns, progress)
    bin_ns = int(result.bin_ns)
    series = result.series
    n_bins = len(series["synops"])
    duration = max(int(result.t_end_ns), 1)
    rows = []
    for k in config.used_cores():
        layer = config.cnn_layers[k]
        d = layer.dimensions
        synops = series["synops"][:, k].astype(np.int64)
        offered = offered_busy_ns(result, chip, k)
        over = _runs(offered > bin_ns, bin_ns, n_bins)
        stats = result.core_stats(k)
        events_in = int(stats["events_in"])
        formula = (events_in / (duration / 1e9)) * d.output_shape.feature_count * d.kernel_size ** 2 / (
            d.stride.x * d.stride.y)
        rows.append({
            "core": k, "block": BLOCK_NAMES[k], "events_in": events_in, "synops": int(stats["synops"]),
            "events_per_s": events_in / (duration / 1e9),
            "synops_per_s_formula": float(formula),
            "synops_per_s": int(stats["synops"]) / (duration / 1e9),
            "peak_synops_per_s": float(synops.max(initial=0)) / (bin_ns / 1e9),
            "capacity_synops_per_s": 1e9 / chip.synop_ns[k],
            "peak_busy_fraction": float(offered.max(initial=0)) / bin_ns,
            "over_windows": over,
        })
    return rows, duration


def _runs(mask, bin_ns, n_bins):
    """[(t0_ns, t1_ns)] of the runs of True in `mask`, one bin = bin_ns."""
    out = []
    i = 0
    while i < n_bins:
        if mask[i]:
            j = i
            while j + 1 < n_bins and mask[j + 1]:
                j += 1
            out.append((int(i * bin_ns), int((j + 1) * bin_ns)))
            i = j + 1
        else:
            i += 1
    return out


def _load_hints(config, load) -> list:
    hints = []
    for r in sorted(load, key=lambda r: -r["peak_busy_fraction"]):
        if not r["over_windows"]:
            continue
        k = r["core"]
        factor = r["peak_busy_fraction"]
        d = config.cnn_layers[k].dimensions
        senders = [s for s in config.used_cores() for dest in config.cnn_layers[s].destinations
                   if dest.enable and dest.layer == k]
        fed_by_dvs = any(dest.enable and dest.layer == k for dest in config.dvs_layer.destinations)
        ways = []
        if fed_by_dvs:
            # DVS pooling only remaps addresses (F6): every event still arrives; a crop drops some
            ways.append("crop the camera input to the region that matters (dvs_layer origin/cut): fewer events "
                        "reach it")
        for s in senders:
            ways.append(f"enable core {s}'s output decimator (interval code 0 passes 1 spike in 2)")
        ways.append(f"use stride 2 in core {k}'s layer (4x fewer SynOps per event; retrain)")
        ways.append(f"fewer output channels in core {k}'s layer ({d.output_shape.feature_count} now; SynOps scale "
                    "with them; retrain)")
        hints.append(f"core {k} is offered up to {factor:.1f}x what it can serve in {len(r['over_windows'])} "
                     f"window(s): cut its load by {factor:.1f}x or more: " + "; or ".join(ways))
    return hints
