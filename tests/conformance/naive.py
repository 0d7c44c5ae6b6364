"""A slow, obviously correct model of SPEC F1-F5, F7 and F8, in plain Python, for trees of cores.

No time, no numba, no engine code: the model reads the configuration itself (PyTorch weight
layout, the destinations as configured) and applies F1 (input space), F2 (scatter order), F3
(SynOp, with the threshold_low clamp after the spike and reset), F4 (leak, with and without
`leak_can_fire`), F5 (decimator, monitor, each destination's own pooling and feature shift) and
F7 (the readout's classes, counts per tick, moving average, and what it reports at each tick).

Why trees: a core whose events all come from one sender (the input link, or one core's output
stage, which may address it through both destinations) receives them in the order they were
sent (SPEC T0, T2), so everything it computes is independent of timing. With two senders the
interleaving, and so the states and spikes, depend on the engine's timing; `run_model` refuses
such graphs.

The input is a list of *phases*, each run to completion before the next starts: a list of input
events, or `TICK`, one slow-clock tick. In a tick every leaking core runs its leak job first and
then serves what its sender produced in the same phase (SPEC T5: a leak job is served before any
waiting event, and an idle core starts it at the tick, before anything its sender produces
because of the tick can reach it). The readout's tick comes before both: it reports the spikes
of the phases since the last tick. The test that uses the model must place the phases far
enough apart in time that the chip is idle between them (see `busy_bound_ns`); the readout then
never finds its last tick's events unsent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from speksim.chip import Chip
from speksim.config import ChipConfig

TICK = "tick"

#: The per-core statistics the model predicts (names of `speksim.engine.compiled.STAT_NAMES`).
MODEL_STATS = ("events_in", "served", "dropped_out_of_range", "synops", "spikes", "decimated", "copies",
               "leak_jobs")

INPUT = -1          # the sender of events written by the host


def _overflow(v: int, wrap: bool) -> int:
    """SPEC §0: sat16, or two's-complement wrap with the chip switch."""
    if wrap:
        return (v + 32768) % 65536 - 32768
    return min(max(v, -32768), 32767)


@dataclass
class ModelResult:
    """monitored[core]: the (feature, x, y, root) its monitor sends, in order (F5.2; root -1 for
    what descends from a leak spike); states[core]: final neuron states, int64 [c_out, h_out,
    w_out]; stats[core]: {name in MODEL_STATS: count}; readout_events: events sent to the readout;
    readout_dropped: those no class reads; readout: what the readout sends the host at each tick,
    in order, as (class, kind, average) with kind 0 a ReadoutValue and 1 a pin event."""

    monitored: dict = field(default_factory=dict)
    states: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)
    readout_events: int = 0
    readout_dropped: int = 0
    readout: list = field(default_factory=list)


# F7's readout modes: (columns, rows, features) of the 16 neurons it reads, by readout_configuration_sel
_MODES = {0: (2, 2, 4), 1: (2, 4, 2), 2: (4, 4, 1), 3: (1, 1, 16)}


class _Readout:
    """The readout block: the neuron each class reads, its counts and its moving window."""

    def __init__(self, config: ChipConfig, chip: Chip):
        ro = config.readout
        fed = any(d.enable and d.layer == chip.readout_layer
                  for k in config.used_cores() for d in config.cnn_layers[k].destinations)
        self.reports = bool(ro.enable and fed)
        self.monitor, self.pins = bool(ro.monitor_enable), bool(ro.readout_pin_monitor_enable)
        self.threshold = int(ro.threshold)
        self.window = 1 if ro.low_pass_filter_disable else 32 if ro.low_pass_filter32_not16 else 16
        # class i reads neuron i - 1, numbered feature fastest, then x, then y; with the erratum the
        # neuron of feature f is wired to feature 4 f
        cols, _, feats = _MODES[ro.readout_configuration_sel]
        self.reader = {}
        for cls in range(1, 16):
            rest, f = divmod(cls - 1, feats)
            y, x = divmod(rest, cols)
            self.reader[(4 * f if chip.readout_errata else f, x, y)] = cls
        self.count = [0] * 16
        self.history = []       # the count vectors of the ticks so far

    def receive(self, f: int, x: int, y: int, res: "ModelResult"):
        res.readout_events += 1
        cls = self.reader.get((f, x, y))
        if cls is None:
            res.readout_dropped += 1
        else:
            self.count[cls] = min(self.count[cls] + 1, 65535)       # 16-bit, saturating

    def tick(self, res: "ModelResult"):
        self.history.append(self.count)
        self.count = [0] * 16
        if not self.reports:
            return
        recent = self.history[-self.window:]
        avg = [sum(h[c] for h in recent) // self.window for c in range(16)]    # earlier ticks: 0
        best = max(range(1, 16), key=lambda c: (avg[c], -c))
        if avg[best] == 0:
            best = 0                                                # the idle class
        if self.monitor:
            res.readout.append((best, 0, avg[best]))
        if self.pins and avg[best] > self.threshold:
            res.readout.append((best, 1, avg[best]))


class _Core:
    """One configured core: its parameters as plain ints, its state and its decimator count."""

    def __init__(self, k: int, config: ChipConfig, chip: Chip):
        layer = config.cnn_layers[k]
        d = layer.dimensions
        self.k = k
        self.c_in, self.h_in, self.w_in = (d.input_shape.feature_count, d.input_shape.size.y,
                                           d.input_shape.size.x)
        self.c_out, self.h_out, self.w_out = (d.output_shape.feature_count, d.output_shape.size.y,
                                              d.output_shape.size.x)
        self.ks, self.sy, self.sx = d.kernel_size, d.stride.y, d.stride.x
        self.py, self.px = d.padding.y, d.padding.x
        self.w = np.asarray(layer.weights, np.int64)
        self.v = (np.zeros((self.c_out, self.h_out, self.w_out), np.int64) if layer.neurons_initial_value is None
                  else np.asarray(layer.neurons_initial_value, np.int64).copy())
        b = layer.biases
        self.bias = [0] * self.c_out if b is None or np.size(b) == 0 else [int(x) for x in np.asarray(b)]
        self.th_hi, self.th_lo = int(layer.threshold_high), int(layer.threshold_low)
        self.rtz = bool(layer.return_to_zero)
        self.leak = bool(layer.leak_enable)
        self.n_dec = (chip.decimator_ratios[layer.output_decimator_interval]
                      if layer.output_decimator_enable else 0)
        self.count = 0
        self.monitor = bool(layer.monitor_enable)
        # (target core or None for the readout, pooling, feature shift), in F5.3 order
        self.dests = [(None if dest.layer == chip.readout_layer else int(dest.layer), int(dest.pooling),
                       int(dest.feature_shift)) for dest in layer.destinations if dest.enable]
        self.stats = dict.fromkeys(MODEL_STATS, 0)

    def update(self, f: int, y: int, x: int, add: int, wrap: bool, can_fire: bool) -> bool:
        """F3 (and F4): add, spike and reset at or above threshold_high, then the lower clamp."""
        val = _overflow(int(self.v[f, y, x]) + add, wrap)
        spike = can_fire and val >= self.th_hi
        if spike:
            val = 0 if self.rtz else val - self.th_hi
        self.v[f, y, x] = max(val, self.th_lo)
        return spike

    def serve(self, c: int, x: int, y: int, wrap: bool):
        """F1, F2, F3 for one event; yields the (f, ox, oy) of its spikes in SynOp order."""
        self.stats["events_in"] += 1
        self.stats["served"] += 1
        if not (0 <= c < self.c_in and 0 <= x < self.w_in and 0 <= y < self.h_in):
            self.stats["dropped_out_of_range"] += 1
            return
        for ky in range(self.ks):
            for kx in range(self.ks):
                ny, nx = y + self.py - ky, x + self.px - kx
                if ny < 0 or nx < 0 or ny % self.sy or nx % self.sx:
                    continue
                oy, ox = ny // self.sy, nx // self.sx
                if oy >= self.h_out or ox >= self.w_out:
                    continue
                for f in range(self.c_out):
                    self.stats["synops"] += 1
                    if self.update(f, oy, ox, int(self.w[f, c, ky, kx]), wrap, True):
                        yield f, ox, oy

    def leak_job(self, wrap: bool, can_fire: bool):
        """F4: bias[f] into every neuron in (f, y, x) order; yields spikes when they can fire."""
        self.stats["leak_jobs"] += 1
        for f in range(self.c_out):
            for y in range(self.h_out):
                for x in range(self.w_out):
                    if self.update(f, y, x, self.bias[f], wrap, can_fire):
                        yield f, x, y


def senders(config: ChipConfig, chip: Chip, input_cores) -> dict:
    """{core: set of senders}: INPUT for the cores in `input_cores`, else the cores whose enabled
    destinations name it."""
    out = {k: set() for k in config.used_cores()}
    for k in input_cores:
        out.setdefault(int(k), set()).add(INPUT)
    for k in config.used_cores():
        for dest in config.cnn_layers[k].destinations:
            if dest.enable and dest.layer != chip.readout_layer:
                out.setdefault(int(dest.layer), set()).add(k)
    return out


def _topological(config, chip, input_cores):
    frm = senders(config, chip, input_cores)
    if any(len(s) > 1 for s in frm.values()):
        return None
    order, placed = [], set()
    while len(order) < len(frm):
        ready = [k for k in sorted(frm) if k not in placed and frm[k] <= placed | {INPUT}]
        if not ready:
            return None         # a cycle: its cores wait for each other
        order.extend(ready)
        placed.update(ready)
    return order


def run_model(config: ChipConfig, chip: Chip, phases: list) -> ModelResult:
    """Run `phases` (lists of input events (core, feature, x, y), or TICK) through the configured
    cores. Input events are numbered (their root) 0, 1, ... across all phases, in order."""
    input_cores = {int(ev[0]) for ph in phases if ph is not TICK for ev in ph}
    order = _topological(config, chip, input_cores)
    if order is None:
        raise ValueError("the model needs every core to have a single sender and no cycle (a tree of cores)")
    wrap = chip.state_overflow == "wrap"
    can_fire = bool(chip.leak_can_fire)
    cores = {k: _Core(k, config, chip) for k in order}
    readout = _Readout(config, chip)
    res = ModelResult(monitored={k: [] for k in order})
    root = 0
    for phase in phases:
        inbox = {k: [] for k in order}
        if phase is TICK:
            readout.tick(res)
        else:
            for k, c, x, y in phase:
                inbox[int(k)].append((int(c), int(x), int(y), root))
                root += 1
        for k in order:         # a sender before its receivers
            core = cores[k]
            if phase is TICK and core.leak:
                for f, x, y in core.leak_job(wrap, can_fire):
                    _output(core, f, x, y, -1, inbox, readout, res)
            for c, x, y, r in inbox[k]:
                for f, ox, oy in core.serve(c, x, y, wrap):
                    _output(core, f, ox, oy, r, inbox, readout, res)
    for k, core in cores.items():
        res.states[k] = core.v
        res.stats[k] = core.stats
    return res


def _output(core: _Core, f: int, x: int, y: int, root: int, inbox: dict, readout: _Readout, res: ModelResult):
    """F5 for one spike of `core`."""
    core.stats["spikes"] += 1
    if core.n_dec:                                   # F5.1: only the N-th, 2N-th, ... go on
        core.count += 1
        if core.count % core.n_dec:
            core.stats["decimated"] += 1
            return
    if core.monitor:                                 # F5.2: the raw address
        res.monitored[core.k].append((f, x, y, root))
        core.stats["copies"] += 1
    for target, pool, shift in core.dests:           # F5.3: destination 0, then 1
        core.stats["copies"] += 1
        if target is None:
            readout.receive(f + shift, x // pool, y // pool, res)
        else:
            inbox[target].append((f + shift, x // pool, y // pool, root))


def busy_bound_ns(res: ModelResult, chip: Chip, n_inputs: int) -> int:
    """An upper bound on how long the chip stays busy in any one phase of a run the model
    predicted: the sum of every service, transfer and latency of the whole run. Until the chip is
    idle some of these is in progress (a waiting sender waits for a FIFO whose owner serves, or
    whose head is in flight), so no phase lasts longer than all of them end to end."""
    total = n_inputs * (chip.host_in_ns + chip.host_in_latency_ns)
    for k, s in res.stats.items():
        neurons = res.states[k].size
        total += (s["events_in"] * chip.event_ns[k] + s["synops"] * chip.synop_ns[k]
                  + s["leak_jobs"] * (chip.event_ns[k] + neurons * chip.leak_ns[k])
                  + s["copies"] * 2 * chip.route_ns[k])
    n_host = sum(len(m) for m in res.monitored.values()) + len(res.readout)
    total += (n_host * (chip.host_out_ns + chip.host_out_latency_ns)
              + (res.readout_events + len(res.readout)) * chip.readout_event_ns)
    return int(total)
