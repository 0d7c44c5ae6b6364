"""Named conformance scenarios: small chips whose behaviour follows from the chip model (docs/chip-model.md) by hand.

Each scenario names the SPEC rules it exercises. Where the result can be worked out by hand it
carries the expectation, computed in the scenario's code from the chip's parameters with the
SPEC formulas (never copied from an engine's output); the comments give the arithmetic.
Notation: LAT host_in_latency_ns, LINK host_in_ns, EV event_ns, SY synop_ns, LK leak_ns,
RT route_ns, HO host_out_ns, HL host_out_latency_ns. "s" is a service start, "T = s + EV" the
end of decoding, so SynOp j completes at T + (j+1)*SY (T3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Callable, Optional

import numpy as np

from speksim.chip import Chip, load_chip
from speksim.config import (ChipConfig, CnnLayerConfig, CnnLayerDestination, DvsDestination, DvsLayerConfig,
                            ReadoutConfig, RunOptions, Vec2)
from speksim.engine.compiled import DVS, EngineInput

CHIP = load_chip("speck2f")

#: Every rule of SPEC §2 and §3.
ALL_RULES = tuple(f"F{i}" for i in range(1, 9)) + tuple(f"T{i}" for i in range(13))

#: Rules no engine implements yet, so no scenario covers them.
NOT_YET_IMPLEMENTED = {
    "F7": "the readout's classes, averaging, threshold and pin events are not modelled yet: the "
          "readout block only serves (counts) the events sent to it (T11, scenario readout_counts)",
}

#: Parts of rules that are not implemented yet (the rest of the rule is covered).
PARTLY_IMPLEMENTED = {
    "T11": "the readout sends nothing to the host at slow-clock ticks yet (depends on F7)",
}


@dataclass
class Expected:
    """What a scenario's result must be; None / empty means "not checked by hand"."""

    outputs: Optional[list] = None          # rows (t_ns, layer, feature, x, y, root), emission order
    stats: dict = field(default_factory=dict)   # {(block, stat name): value}
    lag_ns: Optional[list] = None
    t_end_ns: Optional[int] = None
    states: dict = field(default_factory=dict)  # {core: int array [c_out, h_out, w_out]}
    deadlock_cycle: Optional[set] = None    # the run must raise DeadlockError naming these blocks
    series: dict = field(default_factory=dict)  # {(series name, block): {bin: value}} (other bins 0)
    cut: Optional[bool] = None              # T12: stopped at the drain limit with work left
    active: Optional[tuple] = None          # T12: blocks with pending work at the end, ascending
    unsent: Optional[int] = None            # T12: inputs the link never sent


@dataclass
class Scenario:
    name: str
    rules: tuple
    config: ChipConfig
    chip: Chip
    options: RunOptions
    inputs: EngineInput
    expected: Optional[Expected]            # None: the two engines are only compared
    doc: str = ""


_BUILDERS: list[Callable[[], list]] = []


def _scenarios(fn):
    _BUILDERS.append(fn)
    return fn


def all_scenarios() -> list[Scenario]:
    out = []
    for build in _BUILDERS:
        made = build()
        out.extend(made if isinstance(made, list) else [made])
    names = [s.name for s in out]
    assert len(names) == len(set(names)), "scenario names must be unique"
    return out


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------

def timing(chip: Chip, core: int = 0) -> SimpleNamespace:
    """The chip's timing parameters under short names (see the module docstring)."""
    return SimpleNamespace(LAT=chip.host_in_latency_ns, LINK=chip.host_in_ns, EV=chip.event_ns[core],
                           SY=chip.synop_ns[core], LK=chip.leak_ns[core], RT=chip.route_ns[core],
                           HO=chip.host_out_ns, HL=chip.host_out_latency_ns, DEV=chip.dvs_event_ns,
                           DRT=chip.dvs_route_ns, RO=chip.readout_event_ns, SLAT=chip.sensor_latency_ns,
                           SLINK=chip.sensor_ns)


def host_output(arrivals, chip: Chip) -> list:
    """T7: the host output serves events in FIFO order, HO each, from the later of the previous
    end and the event's arrival; the timestamp is the end plus HL. Returns the timestamps."""
    out, end = [], None
    for a in arrivals:
        end = (a if end is None else max(a, end)) + chip.host_out_ns
        out.append(end + chip.host_out_latency_ns)
    return out


def spike_in(*rows) -> EngineInput:
    """Host-written input events (t_ns, core, feature, x, y)."""
    a = np.array(rows, np.int64).reshape(-1, 5)
    return EngineInput(a[:, 0].copy(), a[:, 1].copy(), a[:, 2].copy(), a[:, 3].copy(), a[:, 4].copy())


def dvs_in(*rows) -> EngineInput:
    """Camera events (t_ns, x, y, p) for the DVS layer."""
    a = np.array(rows, np.int64).reshape(-1, 4)
    return EngineInput(a[:, 0].copy(), np.full(len(a), DVS, np.int64), a[:, 3].copy(), a[:, 1].copy(),
                       a[:, 2].copy())


def chip_config(layers: dict, dvs: Optional[DvsLayerConfig] = None, readout: bool = False) -> ChipConfig:
    cfg = ChipConfig()
    for k, layer in layers.items():
        cfg.cnn_layers[k] = layer
    if dvs is not None:
        cfg.dvs_layer = dvs
    if readout:
        cfg.readout = ReadoutConfig(enable=True)
    return cfg


def to(layer: int, pooling: int = 1, feature_shift: int = 0) -> CnnLayerDestination:
    """An enabled destination (F5.3)."""
    return CnnLayerDestination(layer=layer, enable=True, pooling=pooling, feature_shift=feature_shift)


def eye(c_out: int, c_in: int, k: int = 1) -> np.ndarray:
    """1x1 (or centre-only) weights passing input channel c to output channel c with weight 1."""
    w = np.zeros((c_out, c_in, k, k), np.int8)
    for c in range(min(c_out, c_in)):
        w[c, c, k // 2, k // 2] = 1
    return w


def ones(c_out: int, c_in: int, k: int = 1, value: int = 1) -> np.ndarray:
    return np.full((c_out, c_in, k, k), value, np.int8)


def conv(weights, size, **kw) -> CnnLayerConfig:
    """A core; `threshold_low` defaults to -1 (0 is forbidden, SPEC §1)."""
    kw.setdefault("threshold_low", -1)
    return CnnLayerConfig.conv(np.asarray(weights, np.int8), size, **kw)


def dvs_layer(**kw) -> DvsLayerConfig:
    dests = kw.pop("destinations", [])
    d = DvsLayerConfig(**kw)
    for i, layer in enumerate(dests):
        d.destinations[i] = DvsDestination(layer=layer, enable=True)
    return d


OPTS = RunOptions()


# ----------------------------------------------------------------------------------------------
# T10: the calibration anchor
# ----------------------------------------------------------------------------------------------

def _anchor_chain(n: int) -> ChipConfig:
    """SPEC T10: n cores, 1->1 channel, 3x3 kernel, stride 1, padding 1, 16x16, threshold_high 1,
    only the kernel centre = 1, only the last core monitored."""
    w = np.zeros((1, 1, 3, 3), np.int8)
    w[0, 0, 1, 1] = 1
    return chip_config({k: conv(w, (16, 16), padding=1, destinations=[to(k + 1)] if k < n - 1 else [],
                                monitor_enable=k == n - 1) for k in range(n)})


@_scenarios
def t10_anchors():
    out = []
    for n, published in ((1, 1580), (9, 3360)):
        p = timing(CHIP)
        # centre weight = SynOp 5 of 9 in F2 order: the spike completes at s + EV + 5*SY; its copy
        # starts then and arrives RT later, where the next core starts at once (T0, T3, T4)
        t_spike_last = p.LAT + n * (p.EV + 5 * p.SY + p.RT) - p.RT
        t_out = host_output([t_spike_last + p.RT], CHIP)[0]
        assert t_out == p.LAT + n * (p.EV + 5 * p.SY + p.RT) + p.HO + p.HL      # the SPEC T10 formula
        assert abs(t_out - published) <= 0.05 * published                      # within 5 % of [doc]
        stats = {(k, "synops"): 9 for k in range(n)}
        stats.update({(k, "busy_ns"): p.EV + 9 * p.SY for k in range(n)})
        out.append(Scenario(
            f"t10_anchor_{n}_core{'s' if n > 1 else ''}", ("T10", "T1", "T3", "T4", "T7", "F2", "F3", "F5"),
            _anchor_chain(n), CHIP, OPTS, spike_in((0, 0, 0, 8, 8)),
            Expected(outputs=[(t_out, n - 1, 0, 8, 8, 0)], lag_ns=[p.LAT], stats=stats),
            f"published latency {published} ns"))
    return out


# ----------------------------------------------------------------------------------------------
# F1-F3: what a core computes
# ----------------------------------------------------------------------------------------------

@_scenarios
def scatter_order():
    """F2: SynOps in (ky, kx) row-major order, output features inner; every SynOp fires (weights
    1, threshold 1) so the monitored spikes show the order. RT = 10 < SY so the stage never holds
    a spike back; the host output (HO each) sets the output times."""
    chip = CHIP.replace(route_ns=10)
    p = timing(chip)
    cfg = chip_config({0: conv(ones(2, 1, 3), (5, 5), padding=1, monitor_enable=True)})
    rows, arrivals = [], []
    # event 0 at (2, 2): all 9 offsets valid (18 SynOps); event 1 at (0, 0) at 10 us: ky, kx in {0, 1}
    for t_in, (x, y), root in ((0, (2, 2), 0), (10_000, (0, 0), 1)):
        s = t_in + p.LAT
        j = 0
        for ky in range(3):
            for kx in range(3):
                oy, ox = y + 1 - ky, x + 1 - kx
                if not (0 <= oy < 5 and 0 <= ox < 5):
                    continue
                for f in range(2):
                    arrivals.append(s + p.EV + (j + 1) * p.SY + p.RT)
                    rows.append([None, 0, f, ox, oy, root])
                    j += 1
    for row, t in zip(rows, host_output(arrivals, chip)):
        row[0] = t
    exp = Expected(outputs=[tuple(r) for r in rows],
                   stats={(0, "synops"): 18 + 8, (0, "spikes"): 26, (0, "busy_ns"): 2 * p.EV + 26 * p.SY})
    return Scenario("scatter_order", ("F2", "F3", "T3", "T7"), cfg, chip, OPTS,
                    spike_in((0, 0, 0, 2, 2), (10_000, 0, 0, 0, 0)), exp)


@_scenarios
def scatter_stride_padding():
    """F2 validity with stride 2 and padding 1 (6x6 input, 3x3 kernel -> 3x3 output)."""
    p = timing(CHIP)
    cfg = chip_config({0: conv(ones(1, 1, 3), (6, 6), stride=2, padding=1, monitor_enable=True)})
    # event (x=3, y=2): ny = 3 - ky is even only for ky = 1 (oy = 1); nx = 4 - kx even for kx = 0
    # (ox = 2) and kx = 2 (ox = 1): SynOps j=0 -> (1, 2), j=1 -> (1, 1). Spikes at T+SY, T+2SY;
    # the stage copies the first at once and the second when free again (RT > SY).
    T = p.LAT + p.EV
    c0 = T + p.SY
    c1 = max(T + 2 * p.SY, c0 + p.RT)
    # event (x=0, y=0) at 5 us: only ky = kx = 1 is valid -> neuron (0, 0)
    T2 = 5_000 + p.LAT + p.EV
    outs = host_output([c0 + p.RT, c1 + p.RT, T2 + p.SY + p.RT], CHIP)
    exp = Expected(outputs=[(outs[0], 0, 0, 2, 1, 0), (outs[1], 0, 0, 1, 1, 0), (outs[2], 0, 0, 0, 0, 1)],
                   stats={(0, "synops"): 3, (0, "busy_ns"): 2 * p.EV + 3 * p.SY})
    return Scenario("scatter_stride_padding", ("F2", "T3", "T4"), cfg, CHIP, OPTS,
                    spike_in((0, 0, 0, 3, 2), (5_000, 0, 0, 0, 0)), exp)


@_scenarios
def out_of_range_input():
    """F1: events outside the input space are served like events without a valid offset (EV)
    and counted; the valid one after them is processed."""
    p = timing(CHIP)
    cfg = chip_config({0: conv(ones(1, 1), (4, 4), monitor_enable=True)})
    inp = spike_in((0, 0, 1, 0, 0),     # feature 1 >= C_in
                   (0, 0, 0, 4, 0),     # x = 4 >= W_in
                   (0, 0, 0, 2, 3))     # valid
    # the link starts them at 0, LINK, 2*LINK (T1); they are available LAT later
    s0 = p.LAT
    s1 = max(s0 + p.EV, p.LINK + p.LAT)
    s2 = max(s1 + p.EV, 2 * p.LINK + p.LAT)
    t_out = host_output([s2 + p.EV + p.SY + p.RT], CHIP)[0]
    exp = Expected(outputs=[(t_out, 0, 0, 2, 3, 2)],
                   stats={(0, "dropped_out_of_range"): 2, (0, "served"): 3, (0, "synops"): 1,
                          (0, "busy_ns"): 3 * p.EV + p.SY},
                   series={("dropped", 0): {s0 // OPTS.bin_ns: 2}})
    return Scenario("out_of_range_input", ("F1", "T3"), cfg, CHIP, OPTS, inp, exp)


def _single_neuron(name, rules, weights, n_inputs, fires, final, chip=CHIP, **kw):
    """One 1x1 core on a 1x1 map fed n_inputs events 1 us apart (no timing interaction).
    `fires` lists the inputs that make a spike, as i (feature 0) or (i, feature); `final` the
    final state per feature."""
    p = timing(chip)
    cfg = chip_config({0: conv(weights, (1, 1), monitor_enable=True, **kw)})
    rows = []
    for fire in fires:
        i, f = fire if isinstance(fire, tuple) else (fire, 0)
        # T3: SynOp f of the event completes at s + EV + (f+1)*SY
        rows.append((host_output([i * 1000 + p.LAT + p.EV + (f + 1) * p.SY + p.RT], chip)[0], 0, f, 0, 0, i))
    inp = spike_in(*[(i * 1000, 0, 0, 0, 0) for i in range(n_inputs)])
    exp = Expected(outputs=rows, states={0: np.array(final, np.int64).reshape(-1, 1, 1)})
    return Scenario(name, rules, cfg, chip, OPTS, inp, exp)


@_scenarios
def neuron_updates():
    return [
        # F3 subtract (default), threshold 5, +3 per input: 3; 6 fires -> 1; 4; 7 fires -> 2;
        # 5 fires (at exactly the threshold) -> 0
        _single_neuron("reset_subtract", ("F3",), ones(1, 1, value=3), 5, [1, 3, 4], [0], threshold_high=5),
        # F3 return_to_zero: 3, 0*, 3, 0*, 3
        _single_neuron("reset_to_zero", ("F3",), ones(1, 1, value=3), 5, [1, 3], [3], threshold_high=5,
                       return_to_zero=True),
        # F3 threshold_low: -5, -10 -> -7, -12 -> -7
        _single_neuron("threshold_low_clamp", ("F3",), ones(1, 1, value=-5), 3, [], [-7], threshold_high=5,
                       threshold_low=-7),
        # F3 + SPEC §0 sat16, F8 initial state: f0 = 32700 + 100 saturates to 32767 >= 32700, fires,
        # 32767 - 32700 = 67; f1 = -32700 - 100 saturates to -32768 (threshold_low -32768)
        _single_neuron("saturation", ("F3", "F8"), np.array([[[[100]]], [[[-100]]]]), 1, [(0, 0)], [67, -32768],
                       threshold_high=32700, threshold_low=-32768,
                       neurons_initial_value=np.array([32700, -32700], np.int16).reshape(2, 1, 1)),
        # state_overflow = "wrap": f0 = 32800 wraps to -32736 (no spike); f1 = -32800 wraps to
        # 32736 >= 32700, fires (SynOp 1), 32736 - 32700 = 36
        _single_neuron("wrap", ("F3", "F8"), np.array([[[[100]]], [[[-100]]]]), 1, [(0, 1)], [-32736, 36],
                       chip=CHIP.replace(state_overflow="wrap"), threshold_high=32700, threshold_low=-32768,
                       neurons_initial_value=np.array([32700, -32700], np.int16).reshape(2, 1, 1)),
    ]


@_scenarios
def initial_state():
    """F8: neurons start from neurons_initial_value: the neuron at (1, 1) starts at 4 and fires
    on its first +1 (threshold 5); (0, 0) starts at 0 and does not."""
    p = timing(CHIP)
    init = np.zeros((1, 3, 3), np.int16)
    init[0, 1, 1] = 4
    cfg = chip_config({0: conv(ones(1, 1), (3, 3), threshold_high=5, monitor_enable=True,
                               neurons_initial_value=init)})
    t_out = host_output([1000 + p.LAT + p.EV + p.SY + p.RT], CHIP)[0]
    final = init.astype(np.int64).copy()
    final[0, 0, 0] = 1
    final[0, 1, 1] = 0
    exp = Expected(outputs=[(t_out, 0, 0, 1, 1, 1)], states={0: final})
    return Scenario("initial_state", ("F8", "F3"), cfg, CHIP, OPTS, spike_in((0, 0, 0, 0, 0), (1000, 0, 0, 1, 1)),
                    exp)


# ----------------------------------------------------------------------------------------------
# F5: the output path
# ----------------------------------------------------------------------------------------------

@_scenarios
def decimators():
    """F5.1 for every interval code: of 2N spikes only the N-th and 2N-th go on."""
    out = []
    p = timing(CHIP)
    for code, n in enumerate(CHIP.decimator_ratios):
        cfg = chip_config({0: conv(ones(1, 1), (1, 1), monitor_enable=True, output_decimator_enable=True,
                                   output_decimator_interval=code)})
        m = 2 * n
        gap = 200       # > EV + SY and > LINK: every input is served alone
        inp = spike_in(*[(i * gap, 0, 0, 0, 0) for i in range(m)])
        rows = [(host_output([i * gap + p.LAT + p.EV + p.SY + p.RT], CHIP)[0], 0, 0, 0, 0, i) for i in (n - 1, m - 1)]
        exp = Expected(outputs=rows, stats={(0, "spikes"): m, (0, "decimated"): m - 2, (0, "copies"): 2})
        out.append(Scenario(f"decimator_code_{code}", ("F5",), cfg, CHIP, OPTS, inp, exp, f"1 of {n} spikes"))
    return out


@_scenarios
def feature_shift():
    """F5.3: core 0's features 0, 1 arrive at core 1 as 2, 3 (feature_shift 2)."""
    p = timing(CHIP)
    cfg = chip_config({0: conv(ones(2, 1), (2, 2), destinations=[to(1, 1, 2)]),
                       1: conv(eye(4, 4), (2, 2), monitor_enable=True)})
    T = p.LAT + p.EV
    copy_a, copy_b = T + p.SY, T + p.SY + p.RT       # f0 at T+SY; f1 (T+2SY) waits for the stage
    # core 1: event (2, 1, 0) from copy_a; 4 SynOps (C_out 4), feature 2 fires at SynOp 2
    s_a = copy_a + p.RT
    spike_a = s_a + p.EV + 3 * p.SY
    s_b = max(s_a + p.EV + 4 * p.SY, copy_b + p.RT)
    spike_b = s_b + p.EV + 4 * p.SY                  # feature 3 = SynOp 3
    outs = host_output([spike_a + p.RT, spike_b + p.RT], CHIP)
    exp = Expected(outputs=[(outs[0], 1, 2, 1, 0, 0), (outs[1], 1, 3, 1, 0, 0)])
    return Scenario("feature_shift", ("F5", "T4"), cfg, CHIP, OPTS, spike_in((0, 0, 0, 1, 0)), exp)


@_scenarios
def two_destinations_pooling():
    """F5.3, T4: destination 0 pools by 2, destination 1 by 4; copies one RT apart."""
    p = timing(CHIP)
    cfg = chip_config({0: conv(ones(1, 1), (8, 8), destinations=[to(1, 2), to(2, 4)]),
                       1: conv(eye(1, 1), (4, 4), monitor_enable=True),
                       2: conv(eye(1, 1), (2, 2), monitor_enable=True)})
    spike = p.LAT + p.EV + p.SY
    s1 = spike + p.RT                 # (7, 5) // 2 = (3, 2) at core 1
    s2 = spike + 2 * p.RT             # (7, 5) // 4 = (1, 1) at core 2: second copy
    arr = [s1 + p.EV + p.SY + p.RT, s2 + p.EV + p.SY + p.RT]
    outs = host_output(arr, CHIP)
    exp = Expected(outputs=[(outs[0], 1, 0, 3, 2, 0), (outs[1], 2, 0, 1, 1, 0)],
                   stats={(0, "copies"): 2, (1, "events_in"): 1, (2, "events_in"): 1})
    return Scenario("two_destinations_pooling", ("F5", "T4"), cfg, CHIP, OPTS, spike_in((0, 0, 0, 7, 5)), exp)


@_scenarios
def monitor_then_destination():
    """F5.2/F5.3 order: the monitor copy (raw address) first, then the pooled destination copy."""
    p = timing(CHIP)
    cfg = chip_config({0: conv(ones(1, 1), (8, 8), monitor_enable=True, destinations=[to(1, 2)]),
                       1: conv(eye(1, 1), (4, 4), monitor_enable=True)})
    spike = p.LAT + p.EV + p.SY
    s1 = spike + p.RT + p.RT          # destination copy starts when the monitor copy's RT is over
    outs = host_output([spike + p.RT, s1 + p.EV + p.SY + p.RT], CHIP)
    exp = Expected(outputs=[(outs[0], 0, 0, 5, 3, 0), (outs[1], 1, 0, 2, 1, 0)])
    return Scenario("monitor_then_destination", ("F5", "T4", "T7"), cfg, CHIP, OPTS, spike_in((0, 0, 0, 5, 3)),
                    exp)


@_scenarios
def merge_two_cores():
    """Two cores feed one (merge): its FIFO serves in transfer-start order (T2)."""
    p = timing(CHIP)
    cfg = chip_config({0: conv(ones(1, 1), (4, 4), destinations=[to(2, 1, 0)]),
                       1: conv(ones(1, 1), (4, 4), destinations=[to(2, 1, 1)]),
                       2: conv(eye(2, 2), (4, 4), monitor_enable=True)})
    inp = spike_in((0, 0, 0, 1, 2), (0, 1, 0, 3, 0))
    a = p.LAT + p.EV + p.SY + p.RT                 # core 0's copy arrives at core 2
    b = p.LINK + p.LAT + p.EV + p.SY + p.RT        # core 1's (its input started LINK later)
    s_a = a                                        # core 2: 2 SynOps per event
    spike_a = s_a + p.EV + p.SY                    # feature 0 = SynOp 0
    s_b = max(s_a + p.EV + 2 * p.SY, b)
    spike_b = s_b + p.EV + 2 * p.SY                # feature 1 = SynOp 1
    outs = host_output([spike_a + p.RT, spike_b + p.RT], CHIP)
    exp = Expected(outputs=[(outs[0], 2, 0, 1, 2, 0), (outs[1], 2, 1, 3, 0, 1)], stats={(2, "events_in"): 2})
    return Scenario("merge_two_cores", ("F5", "T2", "T3"), cfg, CHIP, OPTS, inp, exp)


# ----------------------------------------------------------------------------------------------
# T0-T4: credits, FIFOs, service, output stage
# ----------------------------------------------------------------------------------------------

@_scenarios
def same_ns_arbitration():
    """T0: cores 0 and 1 finish a spike in the same nanosecond, both for core 2 whose FIFO has one
    slot. Core 0 (rank 2) goes first although core 1's input came first; core 1's copy starts
    when core 2 starts serving (the freed slot is free at that very nanosecond)."""
    chip = CHIP.replace(fifo_depth={2: 1})
    p = timing(chip)
    w1 = np.zeros((1, 1, 3, 3), np.int8)
    w1[0, 0, 1, 1] = 1
    cfg = chip_config({0: conv(ones(1, 1), (3, 3), destinations=[to(2)]),
                       1: conv(w1, (3, 3), padding=1, destinations=[to(2)]),
                       2: conv(eye(1, 1), (3, 3), monitor_enable=True)})
    inp = spike_in((0, 1, 0, 1, 1), (0, 0, 0, 0, 0))    # input 0 -> core 1, input 1 -> core 0
    spike1 = p.LAT + p.EV + 5 * p.SY                     # core 1: centre = SynOp 4
    spike0 = p.LINK + p.LAT + p.EV + p.SY                # core 0: started LINK later, SynOp 0
    assert spike0 == spike1                              # the same nanosecond
    s_a = spike0 + p.RT                                  # core 2 serves core 0's event ...
    copy1 = s_a                                          # ... and so frees the slot for core 1
    spike_a = s_a + p.EV + p.SY
    s_b = max(spike_a, copy1 + p.RT)
    spike_b = s_b + p.EV + p.SY
    outs = host_output([spike_a + p.RT, spike_b + p.RT], chip)
    exp = Expected(outputs=[(outs[0], 2, 0, 0, 0, 1), (outs[1], 2, 0, 1, 1, 0)],
                   stats={(2, "fifo_max"): 1, (2, "fifo_area"): (s_a - spike0) + (s_b - copy1)})
    return Scenario("same_ns_arbitration", ("T0", "T2", "T4"), cfg, chip, OPTS, inp, exp)


@_scenarios
def backpressure_tiny_fifo():
    """T0/T1/T2: a one-slot FIFO holds the input link: input i starts only when core 0 starts
    serving input i-1, so s_i = i * LAT and the input lag is (i+1) * LAT."""
    chip = CHIP.replace(fifo_depth={0: 1})
    p = timing(chip)
    cfg = chip_config({0: conv(ones(1, 1), (1, 1), monitor_enable=True)})
    n = 4
    inp = spike_in(*[(0, 0, 0, 0, 0)] * n)
    starts = [i * p.LAT for i in range(n)]               # link starts (T1 + T0)
    serve = [s + p.LAT for s in starts]                  # core 0 starts (frees the slot)
    outs = host_output([s + p.EV + p.SY + p.RT for s in serve], chip)
    exp = Expected(outputs=[(outs[i], 0, 0, 0, 0, i) for i in range(n)],
                   lag_ns=[s + p.LAT for s in starts],
                   stats={(0, "fifo_max"): 1, (0, "fifo_area"): n * p.LAT, (0, "busy_ns"): n * (p.EV + p.SY)})
    return Scenario("backpressure_tiny_fifo", ("T0", "T1", "T2"), cfg, chip, OPTS, inp, exp)


@_scenarios
def fifo_service_order():
    """T2/T3: three events wait in core 0's FIFO and are served in order, each at the later of
    the previous end and its arrival; fifo_area = sum of each event's wait from transfer start."""
    p = timing(CHIP)
    w = np.zeros((1, 1, 3, 3), np.int8)
    w[0, 0, 1, 1] = 1
    cfg = chip_config({0: conv(w, (5, 5), padding=1, monitor_enable=True)})
    inp = spike_in((0, 0, 0, 2, 2), (0, 0, 0, 2, 2), (0, 0, 0, 2, 2))
    job = p.EV + 9 * p.SY
    starts, s = [], None
    for i in range(3):
        avail = i * p.LINK + p.LAT
        s = avail if s is None else max(s + job, avail)
        starts.append(s)
    outs = host_output([s + p.EV + 5 * p.SY + p.RT for s in starts], CHIP)
    exp = Expected(outputs=[(outs[i], 0, 0, 2, 2, i) for i in range(3)],
                   stats={(0, "fifo_max"): 3, (0, "fifo_area"): sum(starts[i] - i * p.LINK for i in range(3)),
                          (0, "busy_ns"): 3 * job, (0, "served"): 3},
                   t_end_ns=max(starts[-1] + job, outs[-1] - p.HL))
    return Scenario("fifo_service_order", ("T2", "T3"), cfg, CHIP, OPTS, inp, exp)


@_scenarios
def output_queue_stall():
    """T4: one-spike output queue and RT = 100: a spike that finds the queue full stalls the core
    and shifts every later SynOp; a second queued event starts when the stalled job ends (T3)."""
    chip = CHIP.replace(route_ns={0: 100}, out_depth={0: 1})
    p = timing(chip)
    cfg = chip_config({0: conv(ones(3, 1), (1, 1), monitor_enable=True)})
    inp = spike_in((0, 0, 0, 0, 0), (0, 0, 0, 0, 0))
    RT = p.RT
    # job 0 (s = LAT): SynOps complete at T+SY, T+2SY, T+3SY, T = LAT + EV
    T = p.LAT + p.EV
    copy0 = T + p.SY                     # spike 0 enters, copied at once; the stage is busy until copy0 + RT
    enter1 = T + 2 * p.SY                # spike 1 enters the empty queue
    copy1 = copy0 + RT                   # spike 1 leaves when copied ...
    stall_a = copy1 - (T + 3 * p.SY)     # ... so spike 2 (due T+3SY) waits until then
    end0 = T + 3 * p.SY + stall_a        # = copy1, when spike 2 enters
    copy2 = copy1 + RT
    # job 1 starts at end0 (its event has been waiting): SynOps at T1 + SY, + 2SY, + 3SY (+ stalls)
    T1 = end0 + p.EV
    enter_a = T1 + p.SY                  # spike 2 left at copy2 <= enter_a: queue empty
    assert copy2 <= enter_a and enter1 < copy1
    copy_a = copy2 + RT                  # the stage is busy with spike 2's copy until then
    stall_b = copy_a - (T1 + 2 * p.SY)   # spike b waits for spike a to leave
    copy_b = copy_a + RT
    stall_c = copy_b - (T1 + 3 * p.SY + stall_b)
    end1 = T1 + 3 * p.SY + stall_b + stall_c
    copy_c = copy_b + RT
    copies = [copy0, copy1, copy2, copy_a, copy_b, copy_c]
    outs = host_output([c + RT for c in copies], chip)
    rows = [(outs[i], 0, i % 3, 0, 0, i // 3) for i in range(6)]
    exp = Expected(outputs=rows,
                   stats={(0, "stall_ns"): stall_a + stall_b + stall_c, (0, "busy_ns"): (end0 - p.LAT) + (end1 - end0),
                          (0, "out_max"): 1, (0, "copies"): 6},
                   series={("stall_ns", 0): {0: stall_a + stall_b + stall_c}})
    assert (stall_a, stall_b, stall_c) == (60, 77, 80)   # with the Speck2f EV, SY
    return Scenario("output_queue_stall", ("T4", "T3"), cfg, chip, OPTS, inp, exp)


@_scenarios
def host_output_backpressure():
    """T7/T0: a one-slot host-output FIFO holds core 0's stage (RT = 10 < HO), which holds its
    one-spike output queue, which stalls the core (T4)."""
    chip = CHIP.replace(route_ns={0: 10}, out_depth={0: 1}, host_out_fifo_depth=1)
    p = timing(chip)
    cfg = chip_config({0: conv(ones(4, 1), (1, 1), monitor_enable=True)})
    T = p.LAT + p.EV
    c0 = T + p.SY                        # host output serves it from c0 + RT to c0 + RT + HO
    c1 = T + 2 * p.SY                    # the host FIFO slot was freed at c0 + RT: free
    h0_end = c0 + p.RT + p.HO            # the host starts c1's event then, freeing its slot
    c2 = h0_end                          # spike 2 (T+3SY) entered, its copy waits for that slot
    stall = c2 - (T + 4 * p.SY)          # spike 3 waits in the SynOp until spike 2 leaves
    h1_end = h0_end + p.HO
    c3 = h1_end                          # and its copy waits for the next slot
    assert c1 >= c0 + p.RT and T + 3 * p.SY >= c1 + p.RT and stall == 30
    outs = host_output([c0 + p.RT, c1 + p.RT, c2 + p.RT, c3 + p.RT], chip)
    exp = Expected(outputs=[(outs[i], 0, i, 0, 0, 0) for i in range(4)],
                   stats={(0, "stall_ns"): stall, (0, "busy_ns"): p.EV + 4 * p.SY + stall, (11, "fifo_max"): 1})
    return Scenario("host_output_backpressure", ("T7", "T0", "T4"), cfg, chip, OPTS, spike_in((0, 0, 0, 0, 0)), exp)


# ----------------------------------------------------------------------------------------------
# T1, T6: input link and congestion balancer
# ----------------------------------------------------------------------------------------------

@_scenarios
def input_lag():
    """T1: inputs closer than LINK are spaced by it; lag = s_i + LAT - t_i."""
    p = timing(CHIP)
    cfg = chip_config({0: conv(ones(1, 1), (1, 1), threshold_high=100)})
    ts = [0, 10, 20, 1000]
    starts, prev = [], None
    for t in ts:
        prev = t if prev is None else max(t, prev + p.LINK)
        starts.append(prev)
    serve, end = [], 0
    for s in starts:
        end = max(end, s + p.LAT) + p.EV + p.SY
        serve.append(end)
    exp = Expected(outputs=[], lag_ns=[s + p.LAT - t for s, t in zip(starts, ts)], t_end_ns=serve[-1],
                   stats={(0, "busy_ns"): 4 * (p.EV + p.SY)})
    assert exp.lag_ns == [640, 710, 780, 640]
    return Scenario("input_lag", ("T1",), cfg, CHIP, OPTS, spike_in(*[(t, 0, 0, 0, 0) for t in ts]), exp)


@_scenarios
def no_input():
    """End of a run (docs/chip-model.md): with no input the run ends at 0, or at end_ns if given."""
    cfg = chip_config({0: conv(ones(1, 1), (1, 1), monitor_enable=True)})
    return [Scenario("no_input", ("T1",), cfg, CHIP, OPTS, spike_in(), Expected(outputs=[], lag_ns=[], t_end_ns=0)),
            Scenario("no_input_until_end_ns", ("T1",), cfg, CHIP, RunOptions(bin_ns=1000, end_ns=5000), spike_in(),
                     Expected(outputs=[], lag_ns=[], t_end_ns=5000, series={("busy_ns", 0): {5: 0}}))]


@_scenarios
def balancer_input_link():
    """T6 at the input link: core 0's one-slot FIFO is taken; inputs 1 and 2 are dropped at once
    (lag -1) and do not count as the link's previous start; input 3 goes when the slot is free."""
    chip = CHIP.replace(fifo_depth={0: 1})
    p = timing(chip)
    cfg = chip_config({0: conv(ones(1, 1), (1, 1), monitor_enable=True, input_congestion_balancer_enable=True)})
    inp = spike_in((0, 0, 0, 0, 0), (0, 0, 0, 0, 0), (0, 0, 0, 0, 0), (700, 0, 0, 0, 0))
    # input 0 starts at 0 (slot until LAT); 1 and 2 are due at LINK, find the FIFO full: dropped;
    # input 3: max(700, 0 + LINK) = 700 > LAT, the slot is free again
    outs = host_output([p.LAT + p.EV + p.SY + p.RT, 700 + p.LAT + p.EV + p.SY + p.RT], chip)
    exp = Expected(outputs=[(outs[0], 0, 0, 0, 0, 0), (outs[1], 0, 0, 0, 0, 3)],
                   lag_ns=[p.LAT, -1, -1, p.LAT],
                   stats={(0, "congestion_dropped"): 2, (0, "events_in"): 2},
                   series={("dropped", 0): {0: 2}})
    return Scenario("balancer_input_link", ("T6", "T1"), cfg, chip, OPTS, inp, exp)


@_scenarios
def balancer_output_stage():
    """T6 at an output stage: core 1 (balancer, one-slot FIFO) is busy, so core 0's third copy is
    dropped and costs the stage no time."""
    chip = CHIP.replace(fifo_depth={1: 1})
    p = timing(chip)
    cfg = chip_config({0: conv(ones(3, 1), (1, 1), destinations=[to(1)]),
                       1: conv(eye(3, 3), (1, 1), monitor_enable=True, input_congestion_balancer_enable=True)})
    T = p.LAT + p.EV
    c0 = T + p.SY                 # -> core 1 at c0 + RT, served at once (3 SynOps)
    s_a = c0 + p.RT
    c1 = c0 + p.RT                # the slot was freed at s_a = c1: copy 1 goes
    c2 = c1 + p.RT                # core 1 still serves a, copy 1 holds the slot: dropped
    assert s_a + p.EV + 3 * p.SY > c2
    spike_a = s_a + p.EV + p.SY                       # feature 0 = SynOp 0
    s_b = max(s_a + p.EV + 3 * p.SY, c1 + p.RT)
    spike_b = s_b + p.EV + 2 * p.SY                   # feature 1 = SynOp 1
    outs = host_output([spike_a + p.RT, spike_b + p.RT], chip)
    exp = Expected(outputs=[(outs[0], 1, 0, 0, 0, 0), (outs[1], 1, 1, 0, 0, 0)],
                   stats={(1, "congestion_dropped"): 1, (0, "copies"): 2, (1, "events_in"): 2},
                   series={("dropped", 1): {c2 // OPTS.bin_ns: 1}})
    return Scenario("balancer_output_stage", ("T6", "T4"), cfg, chip, OPTS, spike_in((0, 0, 0, 0, 0)), exp)


@_scenarios
def balancer_drop_then_next_input():
    """T6 + T1 + T0: a dropped input costs the link no time and is not its previous start, so the
    next input starts in the same nanosecond and, by rank (link 0 < core 1's stage 3), takes core
    0's only slot before core 1's spike. T8: fed in chunks, the dropped input may end a chunk; the
    next chunk's first input must still compete in that nanosecond (the chunked runs of every
    scenario check it). Every duration is 10 ns and HL = 0, so the instants are easy to follow."""
    chip = CHIP.replace(event_ns=10, synop_ns=10, route_ns=10, host_in_ns=10, host_in_latency_ns=10,
                        host_out_ns=10, host_out_latency_ns=0, fifo_depth={0: 1, 2: 1})
    p = timing(chip)
    cfg = chip_config({0: conv(ones(1, 1), (1, 1), monitor_enable=True),
                       1: conv(ones(1, 1), (1, 1), destinations=[to(0)]),
                       2: conv(np.zeros((3, 1, 1, 1), np.int8), (1, 1), input_congestion_balancer_enable=True)})
    inp = spike_in((0, 1, 0, 0, 0), (0, 2, 0, 0, 0), (0, 2, 0, 0, 0), (0, 2, 0, 0, 0), (0, 0, 0, 0, 0))
    # link starts (T1): input 0 (core 1) at 0; input 1 (core 2) at LINK, served from LINK + LAT;
    # input 2 (core 2) at 2 LINK = LINK + LAT, when core 2 frees its slot by starting input 1
    s = [0, p.LINK, 2 * p.LINK]
    assert s[2] == s[1] + p.LAT
    core2_busy = s[1] + p.LAT + p.EV + 3 * p.SY     # input 2 holds core 2's only slot until then
    # input 3 (core 2) at 3 LINK finds that slot taken: dropped (T6); input 4 (core 0) is due at
    # max(0, s[2] + LINK) = 3 LINK too, and core 1's spike completes in that same nanosecond
    t_drop = 3 * p.LINK
    spike1 = s[0] + p.LAT + p.EV + p.SY
    assert t_drop < core2_busy and spike1 == t_drop
    s4 = t_drop                                     # the link (rank 0) takes core 0's slot
    a4 = s4 + p.LAT                                 # core 0 serves input 4, freeing the slot ...
    copy1 = a4                                      # ... for core 1's copy
    spike_a = a4 + p.EV + p.SY
    s_b = max(a4 + p.EV + p.SY, copy1 + p.RT)       # core 0 serves core 1's event after input 4
    spike_b = s_b + p.EV + p.SY
    outs = host_output([spike_a + p.RT, spike_b + p.RT], chip)
    exp = Expected(outputs=[(outs[0], 0, 0, 0, 0, 4), (outs[1], 0, 0, 0, 0, 0)],
                   lag_ns=[s[0] + p.LAT, s[1] + p.LAT, s[2] + p.LAT, -1, s4 + p.LAT],
                   stats={(2, "congestion_dropped"): 1, (0, "events_in"): 2, (0, "fifo_max"): 1})
    assert exp.lag_ns == [10, 20, 30, -1, 40] and outs == [80, 100]
    return Scenario("balancer_drop_then_next_input", ("T6", "T1", "T0", "T8"), cfg, chip, OPTS, inp, exp)


@_scenarios
def balancer_drop_then_next_copy():
    """T6 + T0: core 0's copy to core 1 (balancer, full) is dropped and its next copy, to core 2,
    is tried at once, within core 0's turn (docs/chip-model.md: "tries its next copy at once"), so it
    takes core 2's only slot before core 3 (rank 5), whose spike completes in the same ns."""
    chip = CHIP.replace(fifo_depth={1: 1, 2: 1})
    p = timing(chip)
    w3 = np.zeros((4, 1, 3, 3), np.int8)
    w3[3, 0, 2, 2] = 1                       # SynOp 35 of 36: offset (2, 2), feature 3
    cfg = chip_config({
        0: conv(ones(1, 1), (3, 3), destinations=[to(1), to(2)]),
        1: conv(np.zeros((64, 1, 1, 1), np.int8), (3, 3), input_congestion_balancer_enable=True),
        2: conv(eye(4, 4), (3, 3), monitor_enable=True),
        3: conv(w3, (3, 3), padding=1, destinations=[to(2)])})
    inp = spike_in((0, 1, 0, 0, 0), (0, 3, 0, 1, 1), (700, 1, 0, 0, 0), (700, 0, 0, 2, 1))
    s_link = [0, p.LINK, 700, 700 + p.LINK]             # T1: 700 >= 2*LINK; input 3 waits LINK
    core1_job = p.EV + 64 * p.SY                         # keeps input 2 in core 1's FIFO ...
    spike3 = s_link[1] + p.LAT + p.EV + 36 * p.SY        # core 3: SynOp 35
    spike0 = s_link[3] + p.LAT + p.EV + p.SY             # core 0: SynOp 0
    assert spike0 == spike3 and s_link[2] < p.LAT + core1_job and spike0 < p.LAT + core1_job   # ... until then
    s_a = spike0 + p.RT                                  # core 2 serves core 0's copy, freeing the slot
    spike_a = s_a + p.EV + p.SY                          # feature 0 = SynOp 0 of 4
    s_b = max(s_a + p.EV + 4 * p.SY, s_a + p.RT)         # core 3's copy started at s_a
    spike_b = s_b + p.EV + 4 * p.SY                      # feature 3 = SynOp 3
    outs = host_output([spike_a + p.RT, spike_b + p.RT], chip)
    exp = Expected(outputs=[(outs[0], 2, 0, 2, 1, 3), (outs[1], 2, 3, 0, 0, 1)],
                   stats={(1, "congestion_dropped"): 1, (0, "copies"): 1, (2, "events_in"): 2})
    return Scenario("balancer_drop_then_next_copy", ("T6", "T0", "T4"), cfg, chip, OPTS, inp, exp)


# ----------------------------------------------------------------------------------------------
# F4, T5: leak
# ----------------------------------------------------------------------------------------------

@_scenarios
def leak_without_firing():
    """F4/T5: two ticks (period 10 us, end_ns 25 us) add the biases; with leak_can_fire false a
    neuron above threshold does not spike; threshold_low clamps feature 1."""
    p = timing(CHIP)
    init = np.zeros((2, 2, 2), np.int16)
    init[0] = [[1, 2], [-1, 0]]
    cfg = chip_config({0: conv(ones(2, 1), (2, 2), threshold_high=3, threshold_low=-7, leak_enable=True,
                               biases=np.array([2, -5], np.int16), neurons_initial_value=init)})
    opts = RunOptions(slow_clock_hz=100_000, end_ns=25_000)
    period = 10_000
    job = p.EV + 8 * p.LK                      # 8 neurons
    final = init.astype(np.int64)
    final[0] += 4                              # two ticks of +2, no spike
    final[1] = -7                              # 0, -5, -10 -> -7
    exp = Expected(outputs=[], t_end_ns=25_000, states={0: final},
                   stats={(0, "leak_jobs"): 2, (0, "busy_ns"): 2 * job, (0, "spikes"): 0},
                   series={("busy_ns", 0): {0: 2 * job}})
    assert period + job < 2 * period
    return Scenario("leak_without_firing", ("F4", "T5", "F8"), cfg, CHIP, opts, spike_in(), exp)


@_scenarios
def leak_can_fire():
    """F4/T5 with leak_can_fire: the second tick brings every neuron to 4 >= 3; spikes complete
    at s + EV + (i+1)*LK in (f, y, x) order and carry root -1."""
    chip = CHIP.replace(leak_can_fire=True)
    p = timing(chip)
    cfg = chip_config({0: conv(ones(1, 1), (2, 2), threshold_high=3, leak_enable=True,
                               biases=np.array([2], np.int16), monitor_enable=True)})
    opts = RunOptions(slow_clock_hz=100_000, end_ns=25_000)
    s = 20_000
    copies, free = [], 0
    for i in range(4):                         # the stage copies each when it is free again
        c = max(s + p.EV + (i + 1) * p.LK, free)
        copies.append(c)
        free = c + p.RT
    outs = host_output([c + p.RT for c in copies], chip)
    rows = [(outs[i], 0, 0, i % 2, i // 2, -1) for i in range(4)]
    exp = Expected(outputs=rows, t_end_ns=25_000, states={0: np.ones((1, 2, 2), np.int64)},
                   stats={(0, "leak_jobs"): 2, (0, "spikes"): 4})
    return Scenario("leak_can_fire", ("F4", "T5", "F5"), cfg, chip, opts, spike_in(), exp)


@_scenarios
def leak_tick_merge():
    """T5: ticks every 500 ns while a long event job (SY = 200 on core 0) runs: the first one
    queues a leak job, the next six find it still waiting (merged); the leak job goes before
    nothing else and runs when the event job ends; the run ends when the chip is idle."""
    chip = CHIP.replace(synop_ns={0: 200})
    p = timing(chip)
    cfg = chip_config({0: conv(ones(16, 1), (1, 1), threshold_high=100, leak_enable=True,
                               biases=np.ones(16, np.int16))})
    opts = RunOptions(slow_clock_hz=2_000_000)          # period 500 ns
    period = 500
    leak = p.EV + 16 * p.LK                             # 16 neurons
    event = p.EV + 16 * p.SY
    l1 = period                                          # idle at the first tick
    e = max(l1 + leak, p.LAT)                            # the input waits for the leak job
    l2 = e + event                                       # pending since tick 2
    merged = [t for t in range(2 * period, l2, period) if t > 2 * period]
    l3_tick = next(t for t in range(period, 10 * event, period) if t > l2)
    assert l3_tick < l2 + leak                           # ... finds L2 in service: a new job
    l3 = l2 + leak
    t_end = l3 + leak
    assert (e, l2, len(merged), t_end) == (903, 4186, 6, 4992)
    exp = Expected(outputs=[], t_end_ns=t_end, states={0: np.full((16, 1, 1), 4, np.int64)},
                   stats={(0, "leak_jobs"): 3, (0, "leak_ticks_merged"): len(merged),
                          (0, "busy_ns"): 3 * leak + event})
    return Scenario("leak_tick_merge", ("T5", "F4"), cfg, chip, opts, spike_in((0, 0, 0, 0, 0)), exp)


# ----------------------------------------------------------------------------------------------
# F6, T11: the DVS layer, sensor path, readout
# ----------------------------------------------------------------------------------------------

def _dvs_scenario(name, rules, dvs, events, mapped, chip=CHIP, opts=OPTS, core=None):
    """DVS layer monitored (layer 13); `mapped[i]` is event i's (feature, x, y) or None (dropped).
    A core must be in use for the configuration to be valid; by default core 0, unconnected."""
    p = timing(chip)
    cfg = chip_config({0: core or conv(ones(1, 1), (1, 1))}, dvs=dvs)
    sensor = opts.input_path == "sensor"
    link, lat = (p.SLINK, p.SLAT) if sensor else (p.LINK, p.LAT)
    copies, end, free, prev = [], 0, 0, None
    for (t, _x, _y, _p), m in zip(events, mapped):
        start = t if prev is None else max(t, prev + link)      # T1 (no back-pressure here)
        prev = start
        s = max(end, start + lat)
        end = s + p.DEV                                          # T11
        if m is not None:
            c = max(end, free)
            copies.append((c, m))
            free = c + p.DRT
    outs = host_output([c + p.DRT for c, _ in copies], chip)
    root = [i for i, m in enumerate(mapped) if m is not None]
    rows = [(o, chip.dvs_layer_id, *m, r) for o, (_, m), r in zip(outs, copies, root)]
    n_drop = sum(m is None for m in mapped)
    exp = Expected(outputs=rows, stats={(DVS, "dvs_filtered"): n_drop, (DVS, "spikes"): len(rows),
                                        (DVS, "served"): len(events)})
    return Scenario(name, rules, cfg, chip, opts, dvs_in(*events), exp)


@_scenarios
def dvs_layer_mapping():
    out = []
    # F6 polarity: OFF events dropped, ON events keep feature 1 (no merge)
    out.append(_dvs_scenario("dvs_polarity", ("F6", "T11"),
                             dvs_layer(off_channel=False, cut=Vec2(15, 15), monitor_enable=True),
                             [(0, 3, 4, 1), (0, 5, 6, 0), (0, 7, 8, 1)], [(1, 3, 4), None, (1, 7, 8)]))
    # F6 merge then pooling 2 x 4: feature 0, (9, 13) -> (4, 3)
    out.append(_dvs_scenario("dvs_merge_pooling", ("F6",),
                             dvs_layer(merge=True, pooling=Vec2(2, 4), cut=Vec2(15, 15), monitor_enable=True),
                             [(0, 9, 13, 0), (0, 9, 13, 1), (0, 31, 63, 1)], [(0, 4, 3), (0, 4, 3), (0, 15, 15)]))
    # F6 crop: origin (10, 20), cut (25, 30) inclusive, then subtract the origin
    out.append(_dvs_scenario("dvs_crop", ("F6",),
                             dvs_layer(origin=Vec2(10, 20), cut=Vec2(25, 30), monitor_enable=True),
                             [(0, 9, 25, 1), (0, 10, 20, 1), (0, 25, 30, 0), (0, 26, 25, 1), (0, 12, 31, 0)],
                             [None, (1, 0, 0), (0, 15, 10), None, None]))
    # F6 order pool -> crop -> mirror -> diagonal: (9, 11) // 2 = (4, 5); - origin (2, 3) = (2, 2);
    # mirror x: 9 - 2 - 2 = 5, mirror y: 7 - 3 - 2 = 2; diagonal: (2, 5)
    out.append(_dvs_scenario("dvs_mirror_diagonal", ("F6",),
                             dvs_layer(pooling=Vec2(2, 2), origin=Vec2(2, 3), cut=Vec2(9, 7), mirror=Vec2(1, 1),
                                       mirror_diagonal=True, monitor_enable=True),
                             [(0, 9, 11, 1), (0, 4, 6, 0)], [(1, 2, 5), (0, 4, 7)]))
    # second event: (4, 6) // 2 = (2, 3); - (2, 3) = (0, 0); mirror: (7, 4); diagonal: (4, 7)
    # T1 sensor path: sensor_ns spacing, sensor_latency_ns; the DVS stage (DRT) paces the copies
    out.append(_dvs_scenario("dvs_sensor_path", ("T1", "T11", "F6"),
                             dvs_layer(cut=Vec2(15, 15), monitor_enable=True),
                             [(0, 1, 1, 1), (5, 2, 2, 0), (10, 3, 3, 1)], [(1, 1, 1), (0, 2, 2), (1, 3, 3)],
                             opts=RunOptions(input_path="sensor")))
    # pass_sensor_events = False: on-chip pixel events do not enter the layer; they are dropped
    # like filtered events (the chip model does not say; both engines count them in dvs_filtered)
    out.append(_dvs_scenario("dvs_sensor_not_passed", ("F6", "T11"),
                             dvs_layer(cut=Vec2(15, 15), monitor_enable=True, pass_sensor_events=False),
                             [(0, 1, 1, 1), (5, 2, 2, 0)], [None, None], opts=RunOptions(input_path="sensor")))
    return out


@_scenarios
def dvs_to_core():
    """F6 + F5 order at the DVS stage: monitor copy (layer 13) first, then the copy to core 0
    (no pooling or shift on DVS destinations); core 0 passes feature 1 through (SynOp 1)."""
    p = timing(CHIP)
    cfg = chip_config({0: conv(eye(2, 2), (8, 8), monitor_enable=True)},
                      dvs=dvs_layer(cut=Vec2(7, 7), monitor_enable=True, destinations=[0]))
    s = p.LAT
    ready = s + p.DEV
    core_s = ready + p.DRT + p.DRT          # second copy, after the monitor copy's DRT
    spike = core_s + p.EV + 2 * p.SY
    outs = host_output([ready + p.DRT, spike + p.RT], CHIP)
    exp = Expected(outputs=[(outs[0], 13, 1, 3, 2, 0), (outs[1], 0, 1, 3, 2, 0)],
                   stats={(DVS, "copies"): 2, (0, "events_in"): 1})
    return Scenario("dvs_to_core", ("F6", "F5", "T11", "T4"), cfg, CHIP, OPTS, dvs_in((0, 3, 2, 1)), exp)


@_scenarios
def readout_counts():
    """T11: the readout serves the events sent to layer 12, one per readout_event_ns (it only
    counts them for now: F7 is not implemented)."""
    p = timing(CHIP)
    cfg = chip_config({0: conv(ones(3, 1), (1, 1), destinations=[to(12)])}, readout=True)
    T = p.LAT + p.EV
    copies = [T + p.SY + i * p.RT for i in range(3)]      # RT > SY: the stage sets the pace
    starts, end = [], 0
    for c in copies:
        end = max(end, c + p.RT) + p.RO
        starts.append(end - p.RO)
    exp = Expected(outputs=[], t_end_ns=end,
                   stats={(10, "events_in"): 3, (10, "served"): 3, (10, "busy_ns"): 3 * p.RO})
    return Scenario("readout_counts", ("T11", "F5"), cfg, CHIP, OPTS, spike_in((0, 0, 0, 0, 0)), exp)


# ----------------------------------------------------------------------------------------------
# T8, T9, reporting
# ----------------------------------------------------------------------------------------------

@_scenarios
def deadlock_cycle():
    """T9: cores 0 -> 1 -> 0 with one-slot FIFOs and queues; every event of core 0 makes two
    spikes, so the loop fills and deadlocks."""
    chip = CHIP.replace(fifo_depth={0: 1, 1: 1}, out_depth={0: 1, 1: 1})
    cfg = chip_config({0: conv(ones(2, 1), (1, 1), destinations=[to(1)]),
                       1: conv(ones(1, 2), (1, 1), destinations=[to(0)])})
    return Scenario("deadlock_cycle", ("T9",), cfg, chip, OPTS, spike_in((0, 0, 0, 0, 0)),
                    Expected(deadlock_cycle={0, 1}))


@_scenarios
def determinism():
    """T8: a busy chip (merge, fan-out, back-pressure, decimator, both resets) run twice and on
    both engines gives the same bytes (the test runs it twice)."""
    chip = CHIP.replace(fifo_depth=2, out_depth=2, host_out_fifo_depth=4)
    rng = np.random.default_rng(8)
    w = lambda o, i, k: rng.integers(-2, 4, (o, i, k, k)).astype(np.int8)  # noqa: E731
    cfg = chip_config({
        0: conv(w(2, 2, 3), (8, 8), padding=1, threshold_high=3, destinations=[to(1, 1), to(2, 2)],
                monitor_enable=True),
        1: conv(w(2, 2, 3), (8, 8), padding=1, threshold_high=4, return_to_zero=True, destinations=[to(3, 2, 0)]),
        2: conv(w(2, 2, 1), (4, 4), threshold_high=2, destinations=[to(3, 1, 2)], output_decimator_enable=True),
        3: conv(w(3, 4, 3), (4, 4), padding=1, threshold_high=3, monitor_enable=True),
    })
    n = 300
    t = np.cumsum(rng.integers(0, 400, n))
    rows = [(int(t[i]), 0, int(rng.integers(0, 2)), int(rng.integers(0, 8)), int(rng.integers(0, 8)))
            for i in range(n)]
    return Scenario("determinism", ("T8",), cfg, chip, RunOptions(bin_ns=50_000), spike_in(*rows), None)


@_scenarios
def series_bins():
    """SPEC §4 series with bin_ns = 100 on the one-core anchor: busy [LAT, LAT + EV + 9SY) spread
    over bins, the input's FIFO wait [0, LAT), SynOps in the bin of the service start."""
    p = timing(CHIP)
    s, end = p.LAT, p.LAT + p.EV + 9 * p.SY                  # 640 .. 903
    copy = s + p.EV + 5 * p.SY                               # monitor copy start 823
    h = copy + p.RT                                          # host output 863 .. 943
    w = 100

    def spread(t0, t1):
        return {b: min(t1, (b + 1) * w) - max(t0, b * w) for b in range(t0 // w, (t1 - 1) // w + 1)}

    exp = Expected(t_end_ns=h + p.HO, series={
        ("busy_ns", 0): spread(s, end), ("fifo_area", 0): spread(0, s), ("synops", 0): {s // w: 9},
        ("busy_ns", 11): spread(h, h + p.HO), ("fifo_area", 11): spread(copy, h)})
    assert exp.series[("busy_ns", 0)] == {6: 60, 7: 100, 8: 100, 9: 3}
    return Scenario("series_bins", ("T3", "T2", "T7"), _anchor_chain(1), CHIP, RunOptions(bin_ns=w),
                    spike_in((0, 0, 0, 8, 8)), exp)


# ----------------------------------------------------------------------------------------------
# T12: the end of a run
# ----------------------------------------------------------------------------------------------

def _through_queue(s, base, step, n, depth, rt, enter, copy, stalls):
    """T3/T4 for a job started at s whose n items (SynOps, or neurons of a leak job) all fire,
    through an output queue of `depth` spikes and a stage that makes one copy per rt, never held
    back by its target. Spike m (counted over the run) completes at s + base + (j+1)*step plus the
    job's stalls; it enters the queue then unless spike m - depth has not left yet (it leaves when
    its copy starts), and then the job stalls until it has. Appends to enter, copy and stalls
    (intervals); returns the job's end."""
    delay = 0
    for j in range(n):
        t = s + base + (j + 1) * step + delay
        m = len(enter)
        if m >= depth and copy[m - depth] > t:
            stalls.append((t, copy[m - depth]))
            delay += copy[m - depth] - t
            t = copy[m - depth]
        enter.append(t)
        copy.append(t if m == 0 else max(t, copy[-1] + rt))
    return s + base + n * step + delay


def _clipped(intervals, end):
    """Total length of the intervals (t0, t1) up to `end` (T12: the run stops there)."""
    return sum(min(t1, end) - t0 for t0, t1 in intervals if t0 <= end)


@_scenarios
def end_ns_cuts_a_busy_chain():
    """T12 with end_ns: the run stops at end_ns with core 0 stalled (T4) on a full output queue
    and an input in its FIFO, an event in flight to core 1 and one in service there, and outputs
    on their way to the host; all of it is pending, no output after end_ns is reported, the busy
    and stall times end at end_ns, and an input after end_ns is never sent (lag -1).
    Core 0 (RT 200) makes 3 spikes per event faster than its stage copies them to core 1."""
    chip = CHIP.replace(route_ns={0: 200})
    p, p1 = timing(chip, 0), timing(chip, 1)
    depth = chip.out_depth[0]
    cfg = chip_config({0: conv(ones(3, 1), (1, 1), destinations=[to(1)]),
                       1: conv(ones(1, 3), (1, 1), monitor_enable=True)})
    n, end_ns = 8, 3000
    inp = spike_in(*[(0, 0, 0, 0, 0)] * n, (5000, 0, 0, 0, 0))
    sent = [i * p.LINK for i in range(n)]             # T1; core 0's FIFO (16) never fills
    enter, copy, stalls, jobs, end = [], [], [], [], 0
    for i in range(n):
        s = max(sent[i] + p.LAT, end)                 # T3: FIFO order
        end = _through_queue(s, p.EV, p.SY, 3, depth, p.RT, enter, copy, stalls)
        jobs.append((s, end))
    # core 1 serves each copy when it arrives (one SynOp, EV + SY < RT apart) and sends its monitor
    # copy at once; the host output serves them in order (T7)
    core1 = [c + p.RT for c in copy]
    assert all(b - a > p1.EV + p1.SY for a, b in zip(core1, core1[1:]))
    to_host = [a + p1.EV + p1.SY for a in core1]
    outs = host_output([h + p1.RT for h in to_host], chip)
    rows = [(t, 1, 0, 0, 0, m // 3) for m, t in enumerate(outs) if t <= end_ns]
    # T12: what each block holds at the end of instant end_ns
    pending0 = (sum(1 for i in range(n) if sent[i] <= end_ns < jobs[i][0])          # FIFO
                + sum(1 for s, e in jobs if s <= end_ns < e)                        # in service
                + sum(1 for m in range(len(enter)) if enter[m] <= end_ns < copy[m]))   # output queue
    pending1 = (sum(1 for c, a in zip(copy, core1) if c <= end_ns < a)
                + sum(1 for a in core1 if a <= end_ns < a + p1.EV + p1.SY))
    pending_host = sum(1 for h in to_host if h <= end_ns) - len(rows)
    assert (pending0, pending1, pending_host) == (1 + 1 + depth, 2, 4)
    assert any(t0 <= end_ns < t1 for t0, t1 in stalls)     # core 0 is stalled at the end
    exp = Expected(outputs=rows, t_end_ns=end_ns, lag_ns=[s + p.LAT for s in sent] + [-1],
                   cut=False, active=(0, 1, 11), unsent=1,
                   stats={(0, "pending"): pending0, (1, "pending"): pending1, (11, "pending"): pending_host,
                          (0, "busy_ns"): _clipped(jobs, end_ns), (0, "stall_ns"): _clipped(stalls, end_ns),
                          (1, "busy_ns"): _clipped([(a, a + p1.EV + p1.SY) for a in core1], end_ns),
                          (0, "copies"): sum(c <= end_ns for c in copy),
                          (0, "served"): sum(s <= end_ns for s, _ in jobs)},
                   series={("stall_ns", 0): {0: _clipped(stalls, end_ns)}})
    return Scenario("end_ns_cuts_a_busy_chain", ("T12", "T4", "T3", "T7", "T1"), cfg, chip,
                    RunOptions(end_ns=end_ns), inp, exp)


@_scenarios
def end_ns_during_a_leak_job():
    """T12 + T5: end_ns falls inside the second tick's leak job: the core is busy from the tick to
    end_ns and the job is pending. Its neuron updates are all made (docs/chip-model.md: functional work
    happens at service start), so the states show both ticks."""
    p = timing(CHIP)
    init = np.zeros((2, 2, 2), np.int16)
    init[0] = [[1, 2], [-1, 0]]
    cfg = chip_config({0: conv(ones(2, 1), (2, 2), threshold_high=3, threshold_low=-7, leak_enable=True,
                               biases=np.array([2, -5], np.int16), neurons_initial_value=init)})
    period = 10_000
    job = p.EV + 8 * p.LK                      # 8 neurons
    end_ns = 2 * period + job // 2
    final = init.astype(np.int64)
    final[0] += 4                              # two ticks of +2 (no spike: leak_can_fire is false)
    final[1] = -7                              # 0, -5, -10 -> threshold_low
    busy = job + (end_ns - 2 * period)
    exp = Expected(outputs=[], t_end_ns=end_ns, states={0: final}, cut=False, active=(0,), unsent=0,
                   stats={(0, "leak_jobs"): 2, (0, "busy_ns"): busy, (0, "pending"): 1},
                   series={("busy_ns", 0): {0: busy}})
    return Scenario("end_ns_during_a_leak_job", ("T12", "T5", "F4"), cfg, CHIP,
                    RunOptions(slow_clock_hz=100_000, end_ns=end_ns), spike_in(), exp)


def _endless_leak(name, n_in=1, **stop):
    """T12: with leak_can_fire, 16 neurons that all fire at every tick and a stage of RT = 200
    behind a one-spike queue, a leak job lasts 16 RT = 3200 ns, longer than the slow-clock period
    (2000 ns): a tick always finds a job in service, so another always waits (T5), and the chip
    never goes idle. The first input, at 1 us, is served before the first tick, and the host
    output is still busy with its output then, so the ticks count (T12). Later inputs (one per us)
    are never served, since a leak job always goes first (T5): they fill core 0's FIFO, then hold
    the link back (T0). The run stops at end_ns, or drain_ns after the last input's timestamp."""
    chip = CHIP.replace(leak_can_fire=True, route_ns={0: 200}, out_depth={0: 1})
    p = timing(chip)
    cfg = chip_config({0: conv(ones(1, 1), (4, 4), threshold_high=1, leak_enable=True,
                               biases=np.array([1], np.int16), monitor_enable=True)})
    t_in, period, n = 1000, 2000, 16
    inputs = [(t_in * (i + 1), 0, 0, 1, 1) for i in range(n_in)]
    opts = RunOptions(slow_clock_hz=1e9 / period, **stop)
    t_stop = opts.end_ns if opts.end_ns is not None else inputs[-1][0] + opts.drain_ns
    depth = chip.out_depth[0]
    # inputs 1.. are sent on time (LINK < 1 us) while core 0's FIFO has a slot, then the link waits
    sent = 1 + min(n_in - 1, chip.fifo_depth[0], sum(1 for t, *_ in inputs[1:] if t <= t_stop))
    enter, copy, stalls = [], [], []
    s_in = t_in + p.LAT
    end_in = _through_queue(s_in, p.EV, p.SY, 1, depth, p.RT, enter, copy, stalls)   # the input fires (F3)
    first_out = host_output([copy[0] + p.RT], chip)[0]
    assert end_in < period < first_out - p.HL               # core 0 idle, host output busy at the first tick
    # T5: the first tick's job starts at once; each later one starts when the previous ends, taken
    # by the first tick in (start, end] (a tick at a job's end comes before the server's turn);
    # the other ticks of that span find it waiting (merged)
    jobs, s, merged = [], period, 0
    while s <= t_stop:
        end = _through_queue(s, p.EV, p.LK, n, depth, p.RT, enter, copy, stalls)
        jobs.append((s, end))
        ticks = [t for t in range(period, t_stop + 1, period) if s < t <= end]
        assert ticks or end > t_stop               # a job always waits when one ends
        merged += max(0, len(ticks) - 1)
        s = end
    s_last = jobs[-1][0]
    leak_waiting = any(s_last < t <= t_stop for t in range(period, t_stop + 1, period))
    outs = host_output([c + p.RT for c in copy], chip)
    addr = [(1, 1, 0)] + [(i % 4, i // 4, -1) for i in range(n)] * len(jobs)    # F4 order (f, y, x)
    rows = [(t, 0, 0, x, y, root) for t, (x, y, root) in zip(outs, addr) if t <= t_stop]
    pending0 = ((sent - 1) + 1 + int(leak_waiting)          # FIFO, the job in service, a waiting job
                + sum(1 for m in range(len(enter)) if enter[m] <= t_stop < copy[m]))
    pending_host = sum(1 for c in copy if c <= t_stop) - len(rows)
    exp = Expected(outputs=rows, lag_ns=[p.LAT] * sent + [-1] * (n_in - sent), t_end_ns=t_stop,
                   cut=opts.end_ns is None, active=(0, 11), unsent=n_in - sent,
                   states={0: np.zeros((1, 4, 4), np.int64)},
                   stats={(0, "leak_jobs"): len(jobs), (0, "leak_ticks_merged"): merged, (0, "served"): 1,
                          (0, "events_in"): sent,
                          (0, "busy_ns"): (end_in - s_in) + _clipped(jobs, t_stop),
                          (0, "stall_ns"): _clipped(stalls, t_stop), (0, "pending"): pending0,
                          (11, "pending"): pending_host})
    assert len(jobs) > 2 and pending_host > 0
    return Scenario(name, ("T12", "T5", "T4", "F4"), cfg, chip, opts, spike_in(*inputs), exp)


@_scenarios
def endless_leak():
    # 20.5 us: the sixth job is in service, and the tick at 18 us left a seventh waiting
    out = [_endless_leak("endless_leak_cut_by_drain_ns", drain_ns=19_500),
           _endless_leak("endless_leak_stopped_by_end_ns", end_ns=20_500),
           # 24 inputs: 16 fill the FIFO, 7 are never sent; the cut is 4 us after the last one
           _endless_leak("endless_leak_holds_the_link", n_in=24, drain_ns=4000)]
    e = out[0].expected
    assert (e.stats[(0, "leak_jobs")], e.stats[(0, "leak_ticks_merged")], e.stats[(0, "pending")]) == (6, 3, 3)
    assert out[2].expected.unsent == 7
    return out


@_scenarios
def drain_limit_at_the_end():
    """T12 without end_ns: a run that ends by itself at the drain limit is not cut (nothing is
    left, and its output, timed HL after its last instant, is reported); with the limit 1 ns
    earlier the host output is still serving that output: the run is cut there and the output,
    which would come after the end, is pending. The one-core anchor chain (T10)."""
    p = timing(CHIP)
    copy = p.LAT + p.EV + 5 * p.SY                 # the monitor copy; core 0 ends at LAT + EV + 9 SY
    t_idle = copy + p.RT + p.HO                    # the host output ends its service: the last instant
    assert t_idle > p.LAT + p.EV + 9 * p.SY
    out = host_output([copy + p.RT], CHIP)[0]
    return [
        Scenario("drain_limit_at_the_natural_end", ("T12", "T7"), _anchor_chain(1), CHIP,
                 RunOptions(drain_ns=t_idle), spike_in((0, 0, 0, 8, 8)),
                 Expected(outputs=[(out, 0, 0, 8, 8, 0)], t_end_ns=t_idle, cut=False, active=(), unsent=0,
                          stats={(11, "pending"): 0, (11, "busy_ns"): p.HO})),
        Scenario("drain_limit_1ns_before_the_end", ("T12", "T7"), _anchor_chain(1), CHIP,
                 RunOptions(drain_ns=t_idle - 1), spike_in((0, 0, 0, 8, 8)),
                 Expected(outputs=[], t_end_ns=t_idle - 1, cut=True, active=(11,), unsent=0,
                          stats={(11, "pending"): 1, (11, "busy_ns"): p.HO - 1})),
    ]


# ----------------------------------------------------------------------------------------------
# Running a scenario, comparing results
# ----------------------------------------------------------------------------------------------

ENGINES = ("reference", "fast")


def compile_scenario(scenario: Scenario):
    from speksim.engine.compiled import compile_network
    return compile_network(scenario.config, scenario.chip, scenario.options)


def engine_function(name: str):
    """The engine's `run(net, inputs, options) -> RawResult`; skips the test while the fast
    engine does not exist yet."""
    if name == "reference":
        from speksim.engine.reference import run_reference
        return run_reference
    if name == "fast":
        import pytest
        try:
            from speksim.engine.fast import run_fast
        except ImportError as exc:         # importorskip, for a module that exists but is not ready
            pytest.skip(f"the fast engine (speksim.engine.fast.run_fast) is not available yet: {exc}")
        return run_fast
    raise ValueError(f"unknown engine {name!r}; use one of {ENGINES}")


def run_engine(name: str, scenario: Scenario):
    """Run `scenario` on engine `name` ("reference" or "fast"): a RawResult, or the
    DeadlockError it raised (returned, not raised, so that both engines can be compared)."""
    from speksim.errors import DeadlockError
    run = engine_function(name)
    net = compile_scenario(scenario)
    try:
        return run(net, scenario.inputs, scenario.options)
    except DeadlockError as exc:
        return exc


def run_fast_in_chunks(net, inputs: EngineInput, options: RunOptions, sizes):
    """The fast engine fed `inputs` in chunks of the given sizes (an iterable, 0 allowed: an empty
    chunk), through `FastEngine.feed`, then finished with an empty final chunk: a RawResult, or the
    DeadlockError it raised."""
    from speksim.engine.fast import FastEngine
    from speksim.errors import DeadlockError
    eng = FastEngine(net, options)
    outs, lags, i, n = [], [], 0, len(inputs)
    try:
        for size in sizes:
            if i >= n:
                break
            rows, lag = eng.feed(inputs.slice(i, min(n, i + size)), final=False)
            outs.append(rows)
            lags.append(lag)
            i = min(n, i + size)
        rows, lag = eng.feed(inputs.slice(i, n), final=True)
    except DeadlockError as exc:
        return exc
    return eng.result(np.concatenate(outs + [rows]), np.concatenate(lags + [lag]))


def byte_difference(a, b) -> Optional[str]:
    """The first field in which two runs of one engine differ to the byte (SPEC T8), or None."""
    from speksim.errors import DeadlockError
    if isinstance(a, DeadlockError) or isinstance(b, DeadlockError):
        if type(a) is not type(b) or str(a) != str(b) or a.t_ns != b.t_ns or a.cycle != b.cycle:
            return f"deadlocks differ: {a!r} / {b!r}"
        return None
    for name in ("outputs", "stats", "lag_ns", "series", "state"):
        x, y = np.asarray(getattr(a, name)), np.asarray(getattr(b, name))
        if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
            return f"{name} differ: {x.dtype}{x.shape} / {y.dtype}{y.shape}"
    for name in ("t_end_ns", "cut", "active", "unsent"):
        if getattr(a, name, None) != getattr(b, name, None):
            return f"{name} differs: {getattr(a, name, None)} / {getattr(b, name, None)}"
    return None


def _row(a) -> str:
    return "(t_ns, layer, feature, x, y, root) = " + str(tuple(int(v) for v in a))


def first_difference(a, b, names=("reference", "fast")) -> Optional[str]:
    """A sentence naming the first difference between two engine results, or None if equal."""
    from speksim.engine.compiled import N_BLOCKS, SERIES_NAMES, STAT_NAMES
    from speksim.errors import DeadlockError
    from speksim.blocks import block_label as block_name
    na, nb = names
    if isinstance(a, DeadlockError) or isinstance(b, DeadlockError):
        if not (isinstance(a, DeadlockError) and isinstance(b, DeadlockError)):
            which = na if isinstance(a, DeadlockError) else nb
            return f"only {which} deadlocked: {a if which == na else b}"
        if a.t_ns != b.t_ns or a.cycle != b.cycle:
            return f"deadlocks differ: {na} at {a.t_ns} ns cycle {a.cycle}, {nb} at {b.t_ns} ns cycle {b.cycle}"
        if str(a) != str(b):     # one message, word for word, whichever engine found the deadlock
            return f"deadlock messages differ:\n{na}: {a}\n{nb}: {b}"
        return None
    oa, ob = np.asarray(a.outputs), np.asarray(b.outputs)
    m = min(len(oa), len(ob))
    diff = np.flatnonzero((oa[:m] != ob[:m]).any(axis=1)) if m else []
    if len(diff):
        i = int(diff[0])
        return f"output event {i} differs: {na} {_row(oa[i])}, {nb} {_row(ob[i])}"
    if len(oa) != len(ob):
        longer, n = (na, oa) if len(oa) > len(ob) else (nb, ob)
        return (f"{na} has {len(oa)} output events, {nb} {len(ob)}; the first extra one ({longer}, index {m}): "
                f"{_row(n[m])}")
    for blk in range(N_BLOCKS):
        for col, stat in enumerate(STAT_NAMES):
            if a.stats[blk, col] != b.stats[blk, col]:
                return (f"statistic {stat} of {block_name(blk)} (block {blk}): {na} {a.stats[blk, col]}, "
                        f"{nb} {b.stats[blk, col]}")
    for name in ("t_end_ns", "cut", "active", "unsent"):
        if getattr(a, name) != getattr(b, name):
            return f"{name}: {na} {getattr(a, name)}, {nb} {getattr(b, name)}"
    la, lb = np.asarray(a.lag_ns), np.asarray(b.lag_ns)
    if la.shape != lb.shape or not np.array_equal(la, lb):
        i = int(np.flatnonzero(la != lb)[0]) if la.shape == lb.shape else None
        return (f"input lag of input {i}: {na} {la[i]}, {nb} {lb[i]}" if i is not None
                else f"lag_ns lengths: {na} {la.shape}, {nb} {lb.shape}")
    if a.series.shape != b.series.shape:
        return f"series shapes: {na} {a.series.shape}, {nb} {b.series.shape}"
    d = np.argwhere(a.series != b.series)
    if len(d):
        s, bn, blk = (int(v) for v in d[0])
        return (f"series {SERIES_NAMES[s]} of {block_name(blk)}, bin {bn}: {na} {a.series[s, bn, blk]}, "
                f"{nb} {b.series[s, bn, blk]}")
    if a.state.dtype != b.state.dtype or a.state.shape != b.state.shape:
        return f"final neuron state arrays: {na} {a.state.dtype} {a.state.shape}, {nb} {b.state.dtype} {b.state.shape}"
    if not np.array_equal(a.state, b.state):
        i = int(np.flatnonzero(a.state != b.state)[0])
        return f"final neuron state differs at flat index {i}: {na} {a.state[i]}, {nb} {b.state[i]}"
    return None


def check_expected(result, scenario: Scenario, engine: str) -> list:
    """Every way `result` differs from the scenario's hand-computed expectation (sentences)."""
    from speksim.engine.compiled import SERIES_NAMES, STAT_NAMES
    from speksim.errors import DeadlockError
    from speksim.blocks import block_label as block_name
    exp = scenario.expected
    where = f"scenario {scenario.name} on the {engine} engine"
    if exp.deadlock_cycle is not None:
        if not isinstance(result, DeadlockError):
            return [f"{where}: expected a DeadlockError naming {sorted(exp.deadlock_cycle)}, the run finished"]
        if set(result.cycle) != set(exp.deadlock_cycle):
            return [f"{where}: the deadlock names {result.cycle}, expected {sorted(exp.deadlock_cycle)}"]
        return []
    if isinstance(result, DeadlockError):
        return [f"{where}: unexpected deadlock: {result}"]
    problems = []
    if exp.outputs is not None:
        got = [tuple(int(v) for v in row) for row in result.outputs]
        want = [tuple(int(v) for v in row) for row in exp.outputs]
        if got != want:
            i = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))
            problems.append(f"{where}: output event {i}: got {got[i] if i < len(got) else 'nothing'}, expected "
                            f"{want[i] if i < len(want) else 'nothing'} (rows (t_ns, layer, feature, x, y, root); "
                            f"{len(got)} events, expected {len(want)})")
    for (blk, stat), value in exp.stats.items():
        got = int(result.stats[blk, STAT_NAMES.index(stat)])
        if got != value:
            problems.append(f"{where}: {stat} of {block_name(blk)} is {got}, expected {value}")
    if exp.lag_ns is not None and list(result.lag_ns) != list(exp.lag_ns):
        problems.append(f"{where}: lag_ns {list(result.lag_ns)}, expected {list(exp.lag_ns)}")
    for name in ("t_end_ns", "cut", "active", "unsent"):
        want = getattr(exp, name)
        if want is not None and getattr(result, name) != want:
            problems.append(f"{where}: {name} {getattr(result, name)}, expected {want}")
    if exp.states:
        net = compile_scenario(scenario)
        for k, want in exp.states.items():
            got = net.state_of(result.state, k)
            if not np.array_equal(got, np.asarray(want)):
                problems.append(f"{where}: final state of core {k} is {got.tolist()}, "
                                f"expected {np.asarray(want).tolist()}")
    for (name, blk), bins in exp.series.items():
        col = result.series[SERIES_NAMES.index(name), :, blk]
        want = np.zeros_like(col)
        for b, v in bins.items():
            if b >= len(want):
                problems.append(f"{where}: series {name} of {block_name(blk)} has {len(want)} bins, expected bin {b}")
                break
            want[b] = v
        else:
            if not np.array_equal(col, want):
                problems.append(f"{where}: series {name} of {block_name(blk)} is {col.tolist()}, "
                                f"expected {want.tolist()}")
    return problems
