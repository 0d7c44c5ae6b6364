"""Randomised differential tests (hypothesis, derandomized): small random chips within the
limits of Speck2f, random inputs; the reference and fast engines must agree on everything, and
on chains both must agree with the plain-numpy model of F1-F5 (naive.py).

Configurations are valid by construction (and `validate` filters the rest). Shapes stay small
and inputs few so that the ~460 cases run in well under a minute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from speksim.chip import Chip
from speksim.config import (ChipConfig, CnnLayerConfig, CnnLayerDestination, DvsDestination, DvsLayerConfig,
                            ReadoutConfig, RunOptions, Vec2, conv_out, validate)
from speksim.engine.compiled import DVS, EngineInput, compile_network
from speksim.errors import ConfigError, DeadlockError

from .naive import run_chain
from .scenarios import CHIP, first_difference

SETTINGS = dict(derandomize=True, deadline=None, database=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.data_too_large])


@dataclass
class Case:
    config: ChipConfig
    chip: Chip
    options: RunOptions
    inputs: EngineInput
    chain: list = None          # core ids in chain order, for the naive model

    def describe(self) -> str:
        used = self.config.used_cores()
        return f"cores {used}, {len(self.inputs)} inputs, options {self.options}"


def _engines() -> dict:
    """The engines to run: the reference, and the fast one once it exists."""
    from speksim.engine.reference import run_reference
    engines = {"reference": run_reference}
    try:
        from speksim.engine.fast import run_fast
        engines["fast"] = run_fast
    except ImportError:
        pass
    return engines


def _run_all(case: Case) -> dict:
    net = compile_network(case.config, case.chip, case.options)
    out = {}
    for name, run in _engines().items():
        try:
            out[name] = run(net, case.inputs, case.options)
        except DeadlockError as exc:
            out[name] = exc
    return out


def _assert_agree(case: Case):
    """Both engines agree (while the fast engine is missing, the reference must at least run)."""
    res = _run_all(case)
    if "fast" in res:
        diff = first_difference(res["reference"], res["fast"])
        assert diff is None, f"{case.describe()}: {diff}"
    return res["reference"]


# ----------------------------------------------------------------------------------------------
# Strategies
# ----------------------------------------------------------------------------------------------

def _chip(draw) -> Chip:
    """Speck2f, often with small buffers and sometimes with short, tie-prone timings."""
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
    if draw(st.integers(0, 9)) == 0:
        chip = chip.replace(state_overflow="wrap")
    return chip


def _geometry(draw, h_in: int, w_in: int):
    """(kernel, stride, padding) giving an output of at least 1x1."""
    k = draw(st.integers(1, min(5, max(h_in, w_in) + 2)))
    p = (draw(st.integers(0, min(2, k - 1))), draw(st.integers(0, min(2, k - 1))))
    s = (draw(st.sampled_from([1, 1, 2, 4])), draw(st.sampled_from([1, 1, 2])))
    if conv_out(h_in, k, s[0], p[0]) < 1 or conv_out(w_in, k, s[1], p[1]) < 1:
        return 1, (1, 1), (0, 0)
    return k, s, p


def _core(draw, rng, c_in, h_in, w_in, *, leak=False, monitor=None, small_weights=False) -> CnnLayerConfig:
    k, s, p = _geometry(draw, h_in, w_in)
    c_out = draw(st.integers(1, 4))
    lo, hi = (-1, 2) if small_weights else (-3, 5)
    w = rng.integers(lo, hi, (c_out, c_in, k, k)).astype(np.int8)
    th_hi = draw(st.integers(1, 8))
    th_lo = draw(st.sampled_from([-32768, -1, -5, -20]))
    h_out, w_out = conv_out(h_in, k, s[0], p[0]), conv_out(w_in, k, s[1], p[1])
    init = None
    if draw(st.integers(0, 4)) == 0:
        init = rng.integers(-3, th_hi, (c_out, h_out, w_out)).astype(np.int16)
    return CnnLayerConfig.conv(
        w, (h_in, w_in), stride=s, padding=p, threshold_high=th_hi, threshold_low=th_lo,
        return_to_zero=draw(st.booleans()),
        biases=rng.integers(-2, 4, c_out).astype(np.int16) if leak else None, leak_enable=leak,
        monitor_enable=draw(st.booleans()) if monitor is None else monitor,
        output_decimator_enable=draw(st.integers(0, 6)) == 0, output_decimator_interval=draw(st.integers(0, 2)),
        input_congestion_balancer_enable=draw(st.integers(0, 6)) == 0, neurons_initial_value=init)


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
    gaps = rng.integers(0, draw(st.sampled_from([50, 300, 2000])), n)
    t = np.cumsum(gaps).astype(np.int64)
    tgt, a, x, y = [], [], [], []
    for i in range(n):
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
    """Run options; with leak, a slow clock of `leak_period` ns (so ticks fall inside the run)."""
    return RunOptions(input_path="sensor" if sensor else "host",
                      slow_clock_hz=1e9 / leak_period if leak_period else 1000.0,
                      bin_ns=draw(st.sampled_from([1_000, 10_000, 1_000_000])),
                      end_ns=draw(st.sampled_from([None, None, 30_000])))


def _leak_period(draw, cfg: ChipConfig, chip: Chip) -> int:
    """A slow-clock period longer than every leak job (T5), else the chip would never be idle."""
    longest = max(chip.event_ns[k] + chip.leak_ns[k] * int(np.prod(
        [cfg.cnn_layers[k].dimensions.output_shape.feature_count, cfg.cnn_layers[k].dimensions.output_shape.size.x,
         cfg.cnn_layers[k].dimensions.output_shape.size.y])) for k in cfg.used_cores() if cfg.cnn_layers[k].leak_enable)
    return longest * draw(st.integers(2, 6))


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
        cfg.cnn_layers[k] = _core(draw, rng, c_in, h_in, w_in, leak=leak_any and (i == 0 or draw(st.booleans())))
    readout = draw(st.integers(0, 4)) == 0
    for i, k in enumerate(order):
        dests = []
        for _ in range(draw(st.integers(0, 2))):
            if readout and (i == n - 1 or draw(st.integers(0, 3)) == 0):
                dests.append(CnnLayerDestination(layer=12, enable=True))
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
    cfg.readout = ReadoutConfig(enable=readout)
    dvs = draw(st.integers(0, 4)) == 0
    if dvs:
        cfg.dvs_layer = _dvs(draw, cfg, order)
    opts = _options(draw, _leak_period(draw, cfg, chip) if leak_any else 0,
                    sensor=dvs and draw(st.integers(0, 3)) == 0)
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


@st.composite
def chain_cases(draw):
    """A chain of 1 to 9 cores, every core monitored, input into the first: what naive.py models."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    chip = _chip(draw)
    n = draw(st.integers(1, 9))
    order = [int(k) for k in rng.permutation(9)[:n]]
    cfg = ChipConfig()
    c_in, h_in, w_in = draw(st.integers(1, 3)), draw(st.integers(1, 8)), draw(st.integers(1, 8))
    prev = None
    for i, k in enumerate(order):
        layer = _core(draw, rng, c_in, h_in, w_in, monitor=True)
        layer.input_congestion_balancer_enable = False
        if prev is not None:
            d = _link(draw, cfg.cnn_layers[prev], layer, k)
            if d is None:
                order = order[:i]
                break
            cfg.cnn_layers[prev].destinations[0] = d
        cfg.cnn_layers[k] = layer
        prev = k
        so = layer.dimensions.output_shape
        # the next core's input: the pooled map at least, plus room for a feature shift
        c_in = so.feature_count + draw(st.integers(0, 1))
        h_in, w_in = so.size.y + draw(st.integers(0, 2)), so.size.x + draw(st.integers(0, 2))
    inputs = _spike_inputs(draw, rng, cfg, order[:1], n_max=25)
    return Case(cfg, chip, _options(draw), inputs, chain=order)


@st.composite
def cycle_cases(draw):
    """2 or 3 cores in a loop with small buffers: amplifying (each event doubles, so the loop
    fills and deadlocks, T9) or damped (thresholds high enough that activity dies out)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(2, 3))
    order = [int(k) for k in rng.permutation(9)[:n]]
    chip = CHIP.replace(fifo_depth=draw(st.lists(st.integers(1, 3), min_size=9, max_size=9)),
                        out_depth=draw(st.lists(st.integers(1, 3), min_size=9, max_size=9)))
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


def _valid(case: Case) -> bool:
    try:
        validate(case.config, case.chip)
    except ConfigError:
        return False
    return True


# ----------------------------------------------------------------------------------------------
# Tests
# ----------------------------------------------------------------------------------------------

@settings(max_examples=300, **SETTINGS)
@given(dag_cases())
def test_random_dags_engines_agree(case):
    assume(_valid(case))
    _assert_agree(case)


@settings(max_examples=60, **SETTINGS)
@given(cycle_cases())
def test_random_cycles_engines_agree(case):
    assume(_valid(case))
    result = _assert_agree(case)
    if isinstance(result, DeadlockError):
        assert result.cycle and set(result.cycle) <= set(case.config.used_cores())


@settings(max_examples=100, **SETTINGS)
@given(chain_cases())
def test_random_chains_match_naive_model(case):
    """F1-F5 on chains: both engines' monitored events per core, in order, and final states
    equal the plain-numpy model's."""
    assume(_valid(case) and case.chain)
    inp = case.inputs
    events = list(zip(inp.a.tolist(), inp.x.tolist(), inp.y.tolist()))
    monitored, states = run_chain(case.config, case.chip, case.chain, events)
    net = compile_network(case.config, case.chip, case.options)
    for engine, run in _engines().items():
        res = run(net, inp, case.options)
        for k in case.chain:
            rows = res.outputs[res.outputs[:, 1] == k]
            got = [tuple(int(v) for v in r) for r in rows[:, 2:6]]
            assert got == monitored[k], (f"{engine}: core {k} of chain {case.chain}: monitored "
                                         f"{got[:8]}..., naive {monitored[k][:8]}...")
            assert np.array_equal(net.state_of(res.state, k), states[k]), f"{engine}: state of core {k}"


@pytest.mark.parametrize("seed", range(3))
def test_naive_model_on_a_fixed_chain(seed):
    """The naive model against the engines on a fixed 3-core chain with pooling and shifts."""
    rng = np.random.default_rng(seed)
    cfg = ChipConfig()
    cfg.cnn_layers[4] = CnnLayerConfig.conv(rng.integers(-2, 4, (3, 2, 3, 3)).astype(np.int8), (8, 8), padding=1,
                                            threshold_high=3, monitor_enable=True,
                                            destinations=[CnnLayerDestination(layer=1, enable=True, pooling=2,
                                                                              feature_shift=1)])
    cfg.cnn_layers[1] = CnnLayerConfig.conv(rng.integers(-1, 4, (2, 4, 2, 2)).astype(np.int8), (4, 4), stride=2,
                                            threshold_high=2, return_to_zero=True, monitor_enable=True,
                                            output_decimator_enable=True,
                                            destinations=[CnnLayerDestination(layer=7, enable=True)])
    cfg.cnn_layers[7] = CnnLayerConfig.conv(rng.integers(0, 3, (1, 2, 1, 1)).astype(np.int8), (2, 2),
                                            threshold_high=2, monitor_enable=True)
    validate(cfg, CHIP)
    n = 200
    inp = EngineInput(np.cumsum(rng.integers(0, 300, n)).astype(np.int64), np.full(n, 4, np.int64),
                      rng.integers(0, 2, n), rng.integers(0, 8, n), rng.integers(0, 8, n))
    monitored, states = run_chain(cfg, CHIP, [4, 1, 7], list(zip(inp.a.tolist(), inp.x.tolist(), inp.y.tolist())))
    assert all(monitored[k] for k in (4, 1, 7))
    net = compile_network(cfg, CHIP, RunOptions())
    for engine, run in _engines().items():
        res = run(net, inp, RunOptions())
        for k in (4, 1, 7):
            got = [tuple(int(v) for v in r) for r in res.outputs[res.outputs[:, 1] == k][:, 2:6]]
            assert got == monitored[k], (engine, k)
            assert np.array_equal(net.state_of(res.state, k), states[k]), (engine, k)
