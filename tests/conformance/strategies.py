"""Hypothesis strategies for the randomised conformance tests: small random chips within the
limits of Speck2f, and inputs for them.

The cases draw where bugs hide: positive threshold_low, leaks that land exactly on the
threshold, leak_can_fire, two destinations with their own pooling and feature shift,
decimators, balancers, instants where every sender meets, a readout in every mode, with and
without the Speck2e/2f erratum. Configurations are valid by
construction (`valid` filters the rest); shapes stay small and inputs few so that each case runs
in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from hypothesis import HealthCheck, assume
from hypothesis import strategies as st

from speksim.chip import Chip
from speksim.config import (ChipConfig, CnnLayerConfig, CnnLayerDestination, DvsDestination, DvsLayerConfig,
                            ReadoutConfig, RunOptions, Vec2, conv_out, validate)
from speksim.engine.compiled import DVS, EngineInput, tick_period_ns
from speksim.errors import ConfigError

from .naive import TICK, ModelResult, busy_bound_ns, run_model
from .scenarios import CHIP

#: Settings of every randomised test; shrinking and reporting follow the profile loaded in
#: tests/conftest.py (by default no shrinking: a failing case is reported as drawn, at once).
SETTINGS = dict(derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.data_too_large])


@dataclass
class Case:
    config: ChipConfig
    chip: Chip
    options: RunOptions
    inputs: EngineInput
    model: Optional[ModelResult] = None     # naive.py's prediction, for trees

    def describe(self) -> str:
        dests = {k: [(d.layer, d.pooling, d.feature_shift) for d in self.config.cnn_layers[k].destinations
                     if d.enable] for k in self.config.used_cores()}
        return (f"cores and their destinations (layer, pooling, feature_shift) {dests}, "
                f"{len(self.inputs)} inputs, options {self.options}")

    def _repr_pretty_(self, p, cycle):
        """How hypothesis prints a falsifying case: a summary (the blob it prints replays it)."""
        p.text(f"Case({self.describe()})")


def valid(case: Case) -> bool:
    """Whether `validate` accepts the case's configuration."""
    try:
        validate(case.config, case.chip)
    except ConfigError:
        return False
    return True


# ----------------------------------------------------------------------------------------------
# Strategies
# ----------------------------------------------------------------------------------------------

def _chip(draw) -> Chip:
    """Speck2f, often with small buffers and sometimes with short, tie-prone timings (in lockstep:
    every duration the same, so that senders meet at the same nanosecond, SPEC T0)."""
    chip = CHIP
    if draw(st.booleans()):
        chip = chip.replace(
            fifo_depth=draw(st.lists(st.integers(1, 4), min_size=9, max_size=9)),
            out_depth=draw(st.lists(st.integers(1, 4), min_size=9, max_size=9)),
            dvs_fifo_depth=draw(st.integers(1, 4)), dvs_out_depth=draw(st.integers(1, 4)),
            host_out_fifo_depth=draw(st.integers(1, 8)), readout_fifo_depth=draw(st.integers(1, 4)))
    if draw(st.integers(0, 9)) < 3:
        chip = chip.replace(
            event_ns=draw(st.sampled_from([1, 20, 83])), synop_ns=draw(st.sampled_from([1, 10, 20])),
            leak_ns=draw(st.sampled_from([1, 20])), route_ns=draw(st.sampled_from([1, 10, 20, 40])),
            host_in_ns=draw(st.sampled_from([1, 20, 80])), host_in_latency_ns=draw(st.sampled_from([1, 40, 640])),
            host_out_ns=draw(st.sampled_from([1, 10, 80])), dvs_event_ns=draw(st.sampled_from([1, 20])),
            dvs_route_ns=draw(st.sampled_from([1, 40])), readout_event_ns=draw(st.sampled_from([1, 20])))
    elif draw(st.integers(0, 6)) == 0:
        chip = _lockstep(chip, draw(st.sampled_from([1, 10])))
    if draw(st.integers(0, 9)) == 0:
        chip = chip.replace(state_overflow="wrap")
    return chip


def _readout(draw, enable: bool) -> ReadoutConfig:
    """Readout settings (F7): any mode, often a window of one tick (a few spikes then show), a low
    threshold (so pins happen), either monitor."""
    monitor = draw(st.integers(0, 3))
    return ReadoutConfig(enable=enable, readout_configuration_sel=draw(st.integers(0, 3)),
                         threshold=draw(st.sampled_from([0, 0, 1, 3])),
                         low_pass_filter_disable=draw(st.integers(0, 2)) > 0,
                         low_pass_filter32_not16=draw(st.booleans()),
                         monitor_enable=monitor & 1 == 1, readout_pin_monitor_enable=monitor >= 2)


def _to_readout(draw, chip: Chip) -> CnnLayerDestination:
    """A destination to the readout: pooling and shift move spikes between its classes (F5, F7),
    shifts by multiples of 4 reach the classes the erratum leaves."""
    shift = draw(st.sampled_from([0, 0, 0, 4, 8, 12, 1, 2, 14]))
    return CnnLayerDestination(layer=chip.readout_layer, enable=True, pooling=draw(st.sampled_from([1, 2, 4, 4])),
                               feature_shift=shift)


def _geometry(draw, h_in: int, w_in: int):
    """(kernel, stride, padding) giving an output of at least 1x1."""
    k = draw(st.integers(1, min(5, max(h_in, w_in) + 2)))
    p = (draw(st.integers(0, min(2, k - 1))), draw(st.integers(0, min(2, k - 1))))
    s = (draw(st.sampled_from([1, 1, 2, 4])), draw(st.sampled_from([1, 1, 2])))
    if conv_out(h_in, k, s[0], p[0]) < 1 or conv_out(w_in, k, s[1], p[1]) < 1:
        return 1, (1, 1), (0, 0)
    return k, s, p


def _thresholds(draw):
    """(threshold_high, threshold_low), threshold_low often positive (F3 clamps after the reset)."""
    th_hi = draw(st.integers(1, 8))
    th_lo = draw(st.sampled_from([-32768, -1, -5, -20, 1, 2, th_hi - 1]))
    if th_lo >= th_hi or th_lo == 0:        # validate: threshold_low < threshold_high, and not 0
        th_lo = -1
    return th_hi, th_lo


def _biases(draw, rng, c_out, th_hi, th_lo, finite):
    """Leak biases, often landing a neuron exactly on threshold_high (F4 fires at it): th_hi from
    0, th_hi - th_lo from a neuron clamped at a positive threshold_low, 1 from one below.

    `finite`: biases <= 0 only, for a leak that can fire in a run whose slow-clock period is not
    planned for it. A positive bias that can fire fires again every few ticks, and once a tick's
    spikes keep the chip busy into the next tick the run never ends; with biases <= 0 a tick
    fires only neurons that inputs or the initial state left at or above the threshold."""
    if finite:
        return np.array([draw(st.sampled_from([0, -1, -2])) for _ in range(c_out)], np.int16)
    if draw(st.integers(0, 3)) == 0:
        return rng.integers(-2, 4, c_out).astype(np.int16)
    exact = [th_hi, th_hi - max(th_lo, 0), 1]
    return np.array([draw(st.sampled_from(exact + [-1, 2])) for _ in range(c_out)], np.int16)


def _core(draw, rng, c_in, h_in, w_in, *, leak=False, finite_leak=False, monitor=None, small_weights=False,
          balancer=True) -> CnnLayerConfig:
    k, s, p = _geometry(draw, h_in, w_in)
    c_out = draw(st.integers(1, 4))
    lo, hi = (-1, 2) if small_weights else (-3, 5)
    w = rng.integers(lo, hi, (c_out, c_in, k, k)).astype(np.int8)
    th_hi, th_lo = _thresholds(draw)
    h_out, w_out = conv_out(h_in, k, s[0], p[0]), conv_out(w_in, k, s[1], p[1])
    init = None
    if draw(st.integers(0, 4)) == 0:
        # some neurons at or above the threshold: a leak of bias b fires those at th_hi - b
        init = rng.integers(-3, 2 * th_hi + 1, (c_out, h_out, w_out)).astype(np.int16)
    return CnnLayerConfig.conv(
        w, (h_in, w_in), stride=s, padding=p, threshold_high=th_hi, threshold_low=th_lo,
        return_to_zero=draw(st.booleans()),
        biases=_biases(draw, rng, c_out, th_hi, th_lo, finite_leak) if leak else None, leak_enable=leak,
        monitor_enable=draw(st.booleans()) if monitor is None else monitor,
        output_decimator_enable=draw(st.integers(0, 6)) == 0, output_decimator_interval=draw(st.integers(0, 2)),
        input_congestion_balancer_enable=balancer and draw(st.integers(0, 6)) == 0, neurons_initial_value=init)


def _link(draw, src: CnnLayerConfig, dst: CnnLayerConfig, layer: int):
    """A destination from src to core `layer` (dst) that validate accepts, or None."""
    so, di = src.dimensions.output_shape, dst.dimensions.input_shape
    if so.feature_count > di.feature_count:
        return None
    pools = [q for q in (1, 2, 4) if -(-so.size.y // q) <= di.size.y and -(-so.size.x // q) <= di.size.x]
    if not pools:
        return None
    shift = draw(st.integers(0, di.feature_count - so.feature_count))
    return CnnLayerDestination(layer=layer, enable=True, pooling=draw(st.sampled_from(pools)), feature_shift=shift)


def _spike_inputs(draw, rng, config: ChipConfig, targets, n_max=40, dvs=False):
    n = draw(st.integers(1, n_max))
    gaps = rng.integers(0, draw(st.sampled_from([1, 50, 300, 2000])), n)     # 1: all at once
    t = np.cumsum(gaps).astype(np.int64)
    tgt, a, x, y = [], [], [], []
    for _ in range(n):
        if dvs and rng.integers(0, 3):
            tgt.append(DVS)
            a.append(int(rng.integers(0, 2)))
            x.append(int(rng.integers(0, 40)))
            y.append(int(rng.integers(0, 40)))
            continue
        k = int(targets[rng.integers(0, len(targets))])
        shp = config.cnn_layers[k].dimensions.input_shape
        bad = rng.integers(0, 20) == 0        # sometimes outside the input space (F1)
        tgt.append(k)
        a.append(int(rng.integers(0, shp.feature_count + bad)))
        x.append(int(rng.integers(0, shp.size.x + bad)))
        y.append(int(rng.integers(0, shp.size.y)))
    return EngineInput(t, np.array(tgt, np.int64), np.array(a, np.int64), np.array(x, np.int64), np.array(y, np.int64))


def _options(draw, leak_period: int = 0, sensor: bool = False) -> RunOptions:
    """Run options; with leak or a readout, a slow clock of `leak_period` ns (so ticks fall inside
    the run)."""
    return RunOptions(input_path="sensor" if sensor else "host",
                      slow_clock_hz=1e9 / leak_period if leak_period else 1000.0,
                      bin_ns=draw(st.sampled_from([1_000, 10_000, 1_000_000])),
                      # few bins: the series of a longer run are summed into doubled widths (the same
                      # rule in both engines, also when the fast engine is fed in chunks)
                      max_series_bins=draw(st.sampled_from([16_384, 16_384, 3, 8])),
                      end_ns=draw(st.sampled_from([None, None, 30_000])))


def _leak_period(draw, cfg: ChipConfig, chip: Chip) -> int:
    """A slow-clock period longer than every leak job (T5), else the chip would never be idle."""
    longest = max(chip.event_ns[k] + chip.leak_ns[k] * int(np.prod(
        [cfg.cnn_layers[k].dimensions.output_shape.feature_count, cfg.cnn_layers[k].dimensions.output_shape.size.x,
         cfg.cnn_layers[k].dimensions.output_shape.size.y])) for k in cfg.used_cores() if cfg.cnn_layers[k].leak_enable)
    return longest * draw(st.integers(2, 6))


def _lockstep(chip: Chip, d: int, **more) -> Chip:
    """Every duration `d` ns and no host-output latency: many things happen at the same instants."""
    return chip.replace(event_ns=d, synop_ns=d, leak_ns=d, route_ns=d, host_in_ns=d, host_in_latency_ns=d,
                        host_out_ns=d, host_out_latency_ns=0, dvs_event_ns=d, dvs_route_ns=d, readout_event_ns=d,
                        sensor_ns=d, sensor_latency_ns=d, **more)


@st.composite
def dag_cases(draw):
    """1 to 9 cores in a random feed-forward graph: fan-out, merges, pooling, shifts, both
    resets, decimators, balancers, leak, the readout, the DVS layer."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    chip = _chip(draw)
    if draw(st.integers(0, 4)) == 0:
        chip = chip.replace(leak_can_fire=True)
    n = draw(st.integers(1, 9))
    order = [int(k) for k in rng.permutation(9)[:n]]
    leak_any = draw(st.integers(0, 3)) == 0
    cfg = ChipConfig()
    for i, k in enumerate(order):
        c_in, h_in, w_in = draw(st.integers(1, 4)), draw(st.integers(1, 8)), draw(st.integers(1, 8))
        cfg.cnn_layers[k] = _core(draw, rng, c_in, h_in, w_in, leak=leak_any and (i == 0 or draw(st.booleans())),
                                  finite_leak=chip.leak_can_fire)
    readout = draw(st.integers(0, 4)) == 0
    if readout and draw(st.booleans()):
        chip = chip.replace(readout_errata=False)
    for i, k in enumerate(order):
        dests = []
        for _ in range(draw(st.integers(0, 2))):
            if readout and (i == n - 1 or draw(st.integers(0, 3)) == 0):
                dests.append(_to_readout(draw, chip))
                continue
            later = order[i + 1:]
            if not later:
                break
            j = later[draw(st.integers(0, len(later) - 1))]
            d = _link(draw, cfg.cnn_layers[k], cfg.cnn_layers[j], j)
            if d is not None:
                dests.append(d)
        for slot, d in enumerate(dests):
            cfg.cnn_layers[k].destinations[slot] = d
        if not dests:
            cfg.cnn_layers[k].monitor_enable = True
    cfg.readout = _readout(draw, readout)
    dvs = draw(st.integers(0, 4)) == 0
    if dvs:
        cfg.dvs_layer = _dvs(draw, cfg, order)
    # a readout's ticks come often enough to meet the cores' copies at the host output (T0, T11);
    # each period outlasts the two events a tick sends, so ticks alone never keep the chip busy
    period = (_leak_period(draw, cfg, chip) if leak_any
              else draw(st.sampled_from([500, 3_000, 20_000])) if readout else 0)
    opts = _options(draw, period, sensor=dvs and draw(st.integers(0, 3)) == 0)
    inputs = _spike_inputs(draw, rng, cfg, order, dvs=dvs)
    return Case(cfg, chip, opts, inputs)


def _dvs(draw, cfg: ChipConfig, order) -> DvsLayerConfig:
    """A DVS layer whose cropped, pooled, mirrored map fits its destination cores (F6)."""
    dests = order[:draw(st.integers(0, min(2, len(order))))]
    merge = draw(st.booleans()) or any(cfg.cnn_layers[k].dimensions.input_shape.feature_count < 2 for k in dests)
    diag = draw(st.booleans())
    fit_x = min([cfg.cnn_layers[k].dimensions.input_shape.size.y if diag else
                 cfg.cnn_layers[k].dimensions.input_shape.size.x for k in dests] or [8])
    fit_y = min([cfg.cnn_layers[k].dimensions.input_shape.size.x if diag else
                 cfg.cnn_layers[k].dimensions.input_shape.size.y for k in dests] or [8])
    ox, oy = draw(st.integers(0, 10)), draw(st.integers(0, 10))
    d = DvsLayerConfig(merge=merge, on_channel=draw(st.booleans()), off_channel=draw(st.booleans()),
                       pooling=Vec2(draw(st.sampled_from([1, 2])), draw(st.sampled_from([1, 2]))),
                       origin=Vec2(ox, oy), cut=Vec2(ox + draw(st.integers(1, fit_x)) - 1,
                                                     oy + draw(st.integers(1, fit_y)) - 1),
                       mirror=Vec2(int(draw(st.booleans())), int(draw(st.booleans()))), mirror_diagonal=diag,
                       monitor_enable=draw(st.booleans()) or not dests)
    for i, k in enumerate(dests):
        d.destinations[i] = DvsDestination(layer=k, enable=True)
    return d


def timed_phases(config: ChipConfig, chip: Chip, bursts: list, bin_ns: int, end: bool):
    """Times for a run of `bursts` (burst j: [(core, feature, x, y, offset_ns)], offsets
    ascending) one slow-clock period apart, that the model can predict: (options, inputs, model).

    The model's phases are burst 0, then per later burst a tick and the burst. The period comes
    from the model's own counts: burst j's inputs start `busy` after the tick at j * period (by
    then the leak jobs and what they fired are over, see `busy_bound_ns`), and their work ends
    within `busy` after the last of them, before the next tick. With `end`, the run goes on to
    just before the tick after the last burst (so trailing ticks with no input are simulated)."""
    phases = []
    for j, burst in enumerate(bursts):
        if j:
            phases.append(TICK)
        phases.append([ev[:4] for ev in burst])
    model = run_model(config, chip, phases)
    busy = busy_bound_ns(model, chip, sum(len(b) for b in bursts))
    spread = max([ev[4] for b in bursts for ev in b] or [0])
    period = 2 * busy + spread + 2
    rows = [(j * period + (busy + 1 if j else 0) + ev[4],) + tuple(ev[:4]) for j, b in enumerate(bursts) for ev in b]
    a = np.array(rows, np.int64).reshape(-1, 5)
    inputs = EngineInput(*(np.ascontiguousarray(a[:, i]) for i in range(5)))
    options = RunOptions(slow_clock_hz=1e9 / period, bin_ns=bin_ns, end_ns=len(bursts) * period - 1 if end else None)
    assert tick_period_ns(options.slow_clock_hz) == period
    return options, inputs, model


@st.composite
def tree_cases(draw):
    """1 to 9 cores in a forest, each core fed by a single sender (the input link, or one core
    through one or both of its destinations), so that naive.py can predict the run: fan-out with
    each destination's own pooling and feature shift, the readout, positive threshold_low,
    leaks (firing or not) over up to three slow-clock ticks, the readout's reports at those ticks,
    decimators, both resets."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    chip = _chip(draw)
    if draw(st.booleans()):
        chip = chip.replace(leak_can_fire=True)
    ids = [int(k) for k in rng.permutation(9)[:draw(st.integers(1, 9))]]
    leak_any = draw(st.integers(0, 2)) > 0
    readout = draw(st.integers(0, 3)) == 0
    if readout and draw(st.booleans()):
        chip = chip.replace(readout_errata=False)
    cfg = ChipConfig()
    cfg.readout = _readout(draw, readout)
    free, roots = [], []            # destination slots (core, slot) not used yet; cores fed by the host
    for k in ids:
        parent = None
        if free and draw(st.integers(0, 4)):
            parent, slot = free.pop(draw(st.integers(0, len(free) - 1)))
            src = cfg.cnn_layers[parent].dimensions.output_shape
            # an input as large as the pooled map (SPEC §1) or a little larger, and room for a shift
            pool = draw(st.sampled_from([q for q in (1, 2, 4) if -(-max(src.size.x, src.size.y) // q) <= 16]))
            c_in = src.feature_count + draw(st.integers(0, 2))
            h_in = -(-src.size.y // pool) + draw(st.integers(0, 1))
            w_in = -(-src.size.x // pool) + draw(st.integers(0, 1))
        else:
            c_in, h_in, w_in = draw(st.integers(1, 3)), draw(st.integers(1, 8)), draw(st.integers(1, 8))
            roots.append(k)
        layer = _core(draw, rng, c_in, h_in, w_in, leak=leak_any and draw(st.booleans()),
                      monitor=draw(st.integers(0, 3)) > 0, balancer=False)
        cfg.cnn_layers[k] = layer
        if parent is not None:
            shift = draw(st.integers(0, c_in - src.feature_count))
            cfg.cnn_layers[parent].destinations[slot] = CnnLayerDestination(layer=k, enable=True, pooling=pool,
                                                                            feature_shift=shift)
            if (parent, 1 - slot) in free and draw(st.integers(0, 4)) == 0:
                # the other destination to the same core: still one sender, copies in F5.3 order
                d = _link(draw, cfg.cnn_layers[parent], layer, k)
                if d is not None:
                    free.remove((parent, 1 - slot))
                    cfg.cnn_layers[parent].destinations[1 - slot] = d
        free += [(k, 0), (k, 1)]
    fed = draw(st.integers(0, len(free) - 1))      # an enabled readout gets at least this slot
    for i, (k, slot) in enumerate(free):
        if readout and (i == fed or draw(st.integers(0, 2)) == 0):
            cfg.cnn_layers[k].destinations[slot] = _to_readout(draw, chip)
    assume(valid(Case(cfg, chip, RunOptions(), None)))
    bursts = []
    n_bursts = draw(st.integers(2, 4)) if readout else draw(st.integers(1, 4)) if leak_any else draw(st.integers(1, 2))
    for j in range(n_bursts):
        gap = draw(st.sampled_from([1, 50, 300, 2000]))
        burst, t = [], 0
        for _ in range(draw(st.integers(1, 20)) if j == 0 else draw(st.sampled_from([0, 0, 3, 10]))):
            k = roots[int(rng.integers(0, len(roots)))]
            shp = cfg.cnn_layers[k].dimensions.input_shape
            bad = int(rng.integers(0, 20) == 0)        # sometimes outside the input space (F1)
            burst.append((k, int(rng.integers(0, shp.feature_count + bad)), int(rng.integers(0, shp.size.x + bad)),
                          int(rng.integers(0, shp.size.y)), t))
            t += int(rng.integers(0, gap))
        bursts.append(burst)
    # a tick with no input after it counts only up to end_ns (T12): the model's ticks all do with it
    opts, inputs, model = timed_phases(cfg, chip, bursts, draw(st.sampled_from([1_000, 10_000, 1_000_000])),
                                       end=leak_any or readout or draw(st.booleans()))
    return Case(cfg, chip, opts, inputs, model)


@st.composite
def crowded_cases(draw):
    """2 to 4 small cores in a feed-forward graph where everything happens at the same few
    nanoseconds: lockstep timings, one- or two-slot FIFOs, balancers on half the cores, inputs
    all at once to any core, sometimes a readout ticking every few nanoseconds. Here arbitration
    (T0), balancer drops (T6), the readout's tick events (T11) and chunk boundaries (T8) meet."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    d = draw(st.sampled_from([1, 10]))
    chip = _lockstep(CHIP, d, fifo_depth=draw(st.lists(st.integers(1, 2), min_size=9, max_size=9)),
                     out_depth=draw(st.lists(st.integers(1, 2), min_size=9, max_size=9)),
                     host_out_fifo_depth=draw(st.integers(1, 4)))
    order = [int(k) for k in rng.permutation(9)[:draw(st.integers(2, 4))]]
    cfg = ChipConfig()
    for k in order:
        layer = _core(draw, rng, draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2)),
                      small_weights=True, balancer=False)
        layer.input_congestion_balancer_enable = draw(st.booleans())
        if draw(st.booleans()):         # every SynOp fires: as busy as the chip gets
            layer.weights = np.ones_like(layer.weights)
            layer.threshold_high, layer.threshold_low = 1, -1
        cfg.cnn_layers[k] = layer
    for i, k in enumerate(order):
        later = order[i + 1:]
        for slot in range(draw(st.integers(0, 2)) if later else 0):
            j = later[draw(st.integers(0, len(later) - 1))]
            link = _link(draw, cfg.cnn_layers[k], cfg.cnn_layers[j], j)
            if link is not None:
                cfg.cnn_layers[k].destinations[slot] = link
        if not any(dest.enable for dest in cfg.cnn_layers[k].destinations):
            cfg.cnn_layers[k].monitor_enable = True
    slow_clock_hz = 1000.0
    if draw(st.integers(0, 2)) == 0:
        # the last core feeds a readout that reports every few durations too: its tick events meet
        # the cores' copies at the host output (T0, T11), and behind a full one they are lost; a
        # period longer than the 3 durations a tick's two events take keeps ticks alone from
        # keeping the chip busy
        cfg.cnn_layers[order[-1]].destinations[0] = CnnLayerDestination(layer=chip.readout_layer, enable=True)
        cfg.readout = ReadoutConfig(enable=True, readout_configuration_sel=3, low_pass_filter_disable=True,
                                    monitor_enable=True, readout_pin_monitor_enable=True)
        slow_clock_hz = 1e9 / (d * draw(st.sampled_from([4, 5, 7])))
    n = draw(st.integers(1, 30))
    t = np.cumsum(rng.integers(0, draw(st.sampled_from([1, 2, 3 * d])), n)).astype(np.int64)
    tgt = np.array([order[int(i)] for i in rng.integers(0, len(order), n)], np.int64)
    shapes = [cfg.cnn_layers[k].dimensions.input_shape for k in tgt]
    a = np.array([rng.integers(0, shp.feature_count) for shp in shapes], np.int64)
    x = np.array([rng.integers(0, shp.size.x) for shp in shapes], np.int64)
    y = np.array([rng.integers(0, shp.size.y) for shp in shapes], np.int64)
    return Case(cfg, chip, RunOptions(slow_clock_hz=slow_clock_hz, bin_ns=draw(st.sampled_from([10, 1_000_000]))),
                EngineInput(t, tgt, a, x, y))


@st.composite
def cycle_cases(draw):
    """2 or 3 cores in a loop with small buffers: amplifying (each event doubles, so the loop
    fills and deadlocks, T9) or damped (thresholds high enough that activity dies out)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(2, 3))
    order = [int(k) for k in rng.permutation(9)[:n]]
    # per-core routing times differ, so the stages of a deadlocking loop find their FIFOs full at
    # different times (T9: the last such try is the deadlock's time)
    chip = CHIP.replace(fifo_depth=draw(st.lists(st.integers(1, 3), min_size=9, max_size=9)),
                        out_depth=draw(st.lists(st.integers(1, 3), min_size=9, max_size=9)),
                        route_ns=draw(st.lists(st.integers(1, 120), min_size=9, max_size=9)))
    amplify = draw(st.booleans())
    cfg = ChipConfig()
    for i, k in enumerate(order):
        c_in = 1 if i == 0 else 2
        c_out = 2 if (i == 0 or i < n - 1) else 1
        if amplify:
            w, th = np.ones((c_out, c_in, 1, 1), np.int8), 1
        else:
            # F3 with subtract reset: a neuron gets at most max(w) per event, so a core spikes at
            # most (c_out * max(w) / th) times per event in the long run; th >= 4 * c_out * max(w)
            # makes the loop's gain <= 1/4 and the run finite
            w = rng.integers(0, 3, (c_out, c_in, 1, 1)).astype(np.int8)
            th = 4 * c_out * max(1, int(w.max()))
        cfg.cnn_layers[k] = CnnLayerConfig.conv(
            w, (1, 1), threshold_high=th, threshold_low=-1, monitor_enable=draw(st.booleans()),
            input_congestion_balancer_enable=not amplify and draw(st.integers(0, 3)) == 0)
    for i, k in enumerate(order):
        nxt = order[(i + 1) % n]
        cfg.cnn_layers[k].destinations[0] = CnnLayerDestination(layer=nxt, enable=True)
    n_in = draw(st.integers(1, 4 if amplify else 30))
    t = np.cumsum(rng.integers(0, 500, n_in)).astype(np.int64)
    inputs = EngineInput(t, np.full(n_in, order[0], np.int64), np.zeros(n_in, np.int64),
                         np.zeros(n_in, np.int64), np.zeros(n_in, np.int64))
    return Case(cfg, chip, RunOptions(bin_ns=draw(st.sampled_from([1_000, 1_000_000]))), inputs)



@st.composite
def chain_cases(draw):
    """1 to 5 cores in a line on random places, each sending to the next (pooled, shifted), the
    last monitored: the networks the wave engine covers (no ticks, decimator or balancer), on
    the same tie-prone chips and with the same inputs as the other cases, run until it drains or
    cut at a short drain limit, with series bins from 50 ns to 1 ms."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    chip = _chip(draw)
    n = draw(st.integers(1, 5))
    order = draw(st.permutations(list(range(9))))[:n]
    cfg = ChipConfig()
    c_in, h, w = draw(st.integers(1, 3)), draw(st.integers(2, 8)), draw(st.integers(2, 8))
    layers = []
    for i in range(n):
        layer = _core(draw, rng, c_in, h, w, monitor=(i == n - 1), balancer=False)
        layer.output_decimator_enable = False
        layers.append(layer)
        out = layer.dimensions.output_shape
        pool = draw(st.sampled_from([1, 2]))
        c_in, h, w = out.feature_count + draw(st.integers(0, 2)), -(-out.size.y // pool), -(-out.size.x // pool)
    for i, core in enumerate(order):
        layer = layers[i]
        layer.destinations = [CnnLayerDestination(), CnnLayerDestination()]
        if i + 1 < n:
            link = _link(draw, layer, layers[i + 1], order[i + 1])
            assume(link is not None)
            layer.destinations[0] = link
        cfg.cnn_layers[core] = layer
    inputs = _spike_inputs(draw, rng, cfg, [order[0]], n_max=draw(st.sampled_from([20, 80, 300])))
    options = RunOptions(bin_ns=draw(st.sampled_from([50, 100, 1000, 1_000_000])),
                         max_series_bins=draw(st.sampled_from([4, 64, 16384])),
                         drain_ns=draw(st.sampled_from([5000, 1_000_000_000])))
    return Case(cfg, chip, options, inputs)
