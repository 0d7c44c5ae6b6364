"""What a neuron and a spike do, worked out by hand, through `speksim.simulate` on both engines.

Both engines call the same kernels and read the same compiled network, so comparing them cannot
see a mistake in those; these cases pin the result itself. Each one is small enough to follow
docs/chip-model.md on paper: the comments give the arithmetic, and every time is computed from
the chip's own parameters (named as in tests/conformance/scenarios/base.py: LAT
host_in_latency_ns, EV event_ns, SY synop_ns, LK leak_ns, RT route_ns, HO host_out_ns, HL
host_out_latency_ns). The plain-Python
model of tests/conformance/naive.py must reach the same addresses and states, which checks the
model against the same hand computation.
"""

from __future__ import annotations

import numpy as np
import pytest

from speksim import SPIKE_EVENT, ChipConfig, CnnLayerConfig, CnnLayerDestination, RunOptions, load_chip, simulate

from conformance.naive import TICK, run_model
from conformance.scenarios import host_output, timing

CHIP = load_chip("speck2f")
ENGINES = ("fast", "reference")
P = timing(CHIP)
LAT, EV, SY, LK, RT, HO, HL = P.LAT, P.EV, P.SY, P.LK, P.RT, P.HO, P.HL


def one_input(core: int, feature: int, x: int, y: int) -> np.ndarray:
    """One spike event at t = 0 µs."""
    ev = np.zeros(1, SPIKE_EVENT)
    ev[0] = (0, core, feature, x, y)
    return ev


def rows(result) -> list:
    """The output events as (t_ns, layer, feature, x, y, root) tuples, in host-output order."""
    return [tuple(int(r[n]) for n in ("t_ns", "layer", "feature", "x", "y", "root")) for r in result.outputs]


def model_says(config, chip, phases, monitored, states):
    """The naive model reaches the same monitored addresses (feature, x, y, root) and states."""
    m = run_model(config, chip, phases)
    assert m.monitored == monitored
    for k, want in states.items():
        assert m.states[k].tolist() == want


# ----------------------------------------------------------------------------------------------
# F4: a leak that brings a neuron exactly to threshold_high
# ----------------------------------------------------------------------------------------------

def leak_core() -> ChipConfig:
    """Core 0: one neuron (1x1 map), bias 3, threshold_high 3, leak on, monitored."""
    cfg = ChipConfig()
    cfg.cnn_layers[0] = CnnLayerConfig.conv(np.zeros((1, 1, 1, 1), np.int8), (1, 1), threshold_high=3,
                                            threshold_low=-1, biases=np.array([3], np.int16), leak_enable=True,
                                            monitor_enable=True)
    return cfg


# slow clock 100 kHz: one tick, at 1e9 / 100e3 = 10,000 ns (F4); the next, at 20,000, is after end_ns
ONE_TICK = RunOptions(slow_clock_hz=100_000, end_ns=15_000)
TICK_NS = 10_000


@pytest.mark.parametrize("engine", ENGINES)
def test_a_leak_that_reaches_the_threshold_fires(engine):
    """F4 with leak_can_fire, F3's `>=`: the tick's leak job starts at once on the idle core
    (T5), its only neuron goes 0 + 3 = 3 >= 3 at step 1 (s + EV + LK), fires, and is reset to
    3 - 3 = 0 (subtract). The monitor copy goes at once (T4), reaches the host output RT later,
    which serves it in HO and stamps it HL later (T7): 10,000 + 83 + 20 + 40 + 80 + 637 = 10,860
    ns on speck2f. The spike descends from no input: root -1."""
    chip = CHIP.replace(leak_can_fire=True)
    t_out = TICK_NS + EV + LK + RT + HO + HL
    assert t_out == 10_860
    res = simulate(leak_core(), np.zeros(0, SPIKE_EVENT), chip, ONE_TICK, engine=engine)
    assert rows(res) == [(t_out, 0, 0, 0, 0, -1)]
    assert res.states[0].tolist() == [[[0]]]
    model_says(leak_core(), chip, [[], TICK], {0: [(0, 0, 0, -1)]}, {0: [[[0]]]})


@pytest.mark.parametrize("engine", ENGINES)
def test_a_leak_that_cannot_fire_leaves_the_neuron_at_the_threshold(engine):
    """F4 default (leak_can_fire false): the same tick brings the neuron to 3 and nothing fires;
    it stays at threshold_high until an input's SynOp (F3) fires it."""
    res = simulate(leak_core(), np.zeros(0, SPIKE_EVENT), CHIP, ONE_TICK, engine=engine)
    assert rows(res) == []
    assert res.states[0].tolist() == [[[3]]]
    model_says(leak_core(), CHIP, [[], TICK], {0: []}, {0: [[[3]]]})


@pytest.mark.parametrize("engine", ENGINES)
def test_a_leak_clamps_after_its_spike(engine):
    """F4 then F3's clamp, threshold_high 3, threshold_low 1, leak_can_fire, biases [3, -1]:
    feature 0 goes 0 + 3 = 3 >= 3, fires, resets to 0, is clamped up to 1; feature 1 goes
    0 - 1 = -1, clamped up to 1. Only feature 0 fires, at step 1 (F4 order: feature first)."""
    chip = CHIP.replace(leak_can_fire=True)
    cfg = ChipConfig()
    cfg.cnn_layers[0] = CnnLayerConfig.conv(np.zeros((2, 1, 1, 1), np.int8), (1, 1), threshold_high=3,
                                            threshold_low=1, biases=np.array([3, -1], np.int16), leak_enable=True,
                                            monitor_enable=True)
    res = simulate(cfg, np.zeros(0, SPIKE_EVENT), chip, ONE_TICK, engine=engine)
    assert rows(res) == [(TICK_NS + EV + LK + RT + HO + HL, 0, 0, 0, 0, -1)]
    assert res.states[0].tolist() == [[[1]], [[1]]]
    model_says(cfg, chip, [[], TICK], {0: [(0, 0, 0, -1)]}, {0: [[[1]], [[1]]]})


# ----------------------------------------------------------------------------------------------
# F3: a positive threshold_low clamps after the spike and the reset
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("return_to_zero", [False, True])
def test_threshold_low_clamps_after_the_spike_and_reset(engine, return_to_zero):
    """F3, threshold_high 5, threshold_low 2, weight 6, one input at (0, 0) of a 1x2 map: the
    neuron goes 0 + 6 = 6 >= 5, fires, resets to 6 - 5 = 1 (subtract) or 0 (return_to_zero),
    and only then is clamped up to 2. (Clamping first would keep 6, fire and end at 1.) The
    other neuron gets no SynOp and keeps its initial 0, below threshold_low: the clamp is part
    of an update, not of the state. Output: the input link's latency, decode, one SynOp, one
    route, the host output: 640 + 83 + 20 + 40 + 80 + 637 = 1,500 ns on speck2f."""
    cfg = ChipConfig()
    cfg.cnn_layers[0] = CnnLayerConfig.conv(np.full((1, 1, 1, 1), 6, np.int8), (1, 2), threshold_high=5,
                                            threshold_low=2, return_to_zero=return_to_zero, monitor_enable=True)
    t_out = LAT + EV + SY + RT + HO + HL
    assert t_out == 1_500
    res = simulate(cfg, one_input(0, 0, 0, 0), CHIP, RunOptions(), engine=engine)
    assert rows(res) == [(t_out, 0, 0, 0, 0, 0)]
    assert res.states[0].tolist() == [[[2, 0]]]
    model_says(cfg, CHIP, [[(0, 0, 0, 0)]], {0: [(0, 0, 0, 0)]}, {0: [[[2, 0]]]})


# ----------------------------------------------------------------------------------------------
# F5: each destination applies its own pooling and feature shift
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("pool0, shift0, pool1, shift1", [(1, 0, 1, 1), (2, 1, 4, 0), (4, 1, 2, 1)])
def test_each_destination_pools_and_shifts_on_its_own(engine, pool0, shift0, pool1, shift1):
    """F5.3, T4: core 0 (1x1 kernel, weight 1, threshold 1, on a 4x4 map) sends to core 1
    through destination 0 and to core 2 through destination 1. Cores 1 and 2 pass feature c to
    feature c (2 channels, 1x1 kernel, 4x4 map) and are monitored.

    One input at (x 3, y 2): core 0 serves it when it arrives (LAT) and fires at c0 = LAT + EV
    + SY. The stage copies to core 1 at c0 and to core 2 at c0 + RT (one copy at a time); each
    arrives RT after it starts. Core d receives feature shift_d at (3 // pool_d, 2 // pool_d);
    its SynOp f (f = 0, 1) completes at its start + EV + (f + 1) * SY, so feature shift_d fires
    at SynOp shift_d. Its monitor copy reaches the host output RT later. With shifts 0 and 1 on
    speck2f: core 1 fires at 743 + 40 + 83 + 20 = 886, core 2 at 743 + 80 + 83 + 40 = 946."""
    cfg = ChipConfig()
    cfg.cnn_layers[0] = CnnLayerConfig.conv(np.ones((1, 1, 1, 1), np.int8), (4, 4), threshold_high=1,
                                            threshold_low=-1, destinations=[
                                                CnnLayerDestination(layer=1, enable=True, pooling=pool0,
                                                                    feature_shift=shift0),
                                                CnnLayerDestination(layer=2, enable=True, pooling=pool1,
                                                                    feature_shift=shift1)])
    for k in (1, 2):
        cfg.cnn_layers[k] = CnnLayerConfig.conv(np.eye(2, dtype=np.int8).reshape(2, 2, 1, 1), (4, 4),
                                                threshold_high=1, threshold_low=-1, monitor_enable=True)
    c0 = LAT + EV + SY
    spike1 = c0 + RT + EV + (shift0 + 1) * SY
    spike2 = c0 + 2 * RT + EV + (shift1 + 1) * SY
    if (shift0, shift1) == (0, 1):
        assert (spike1, spike2) == (886, 946)   # the docstring's arithmetic
    arrive1, arrive2 = spike1 + RT, spike2 + RT
    assert arrive1 < arrive2                # so the host output serves core 1's first (T7)
    out1, out2 = host_output([arrive1, arrive2], CHIP)
    addr1 = (shift0, 3 // pool0, 2 // pool0)
    addr2 = (shift1, 3 // pool1, 2 // pool1)
    res = simulate(cfg, one_input(0, 0, 3, 2), CHIP, RunOptions(), engine=engine)
    assert rows(res) == [(out1, 1) + addr1 + (0,), (out2, 2) + addr2 + (0,)]
    model_says(cfg, CHIP, [[(0, 0, 3, 2)]], {0: [], 1: [addr1 + (0,)], 2: [addr2 + (0,)]}, {})
